"""Collectors run side by side (checker.collect.run_collectors): each starts once the ones
whose collections it reads (checker.collect.AFTER) have finished, the independent ones at
the same time, and the bundle is the same whichever finishes first."""

from __future__ import annotations

import functools
import json
import random
import threading
import time
from typing import Any

import boto3
import pytest

import checker.collect
from checker.collect import AFTER, Context, collect, ecs
from checker.collect.aws import DaemonPool
from checker.errors import InputError
from tests.collect.support import PROD, REGION, build_lb_account


def _jittered_session(seed: int) -> boto3.session.Session:
    """A session whose every call waits a random 0–20 ms first: the collectors finish in
    another order each time."""
    session = boto3.session.Session(region_name=REGION)
    rng, lock = random.Random(seed), threading.Lock()

    def delay(**_: Any) -> None:
        with lock:
            pause = rng.random() * 0.02
        time.sleep(pause)

    session.events.register("before-call.*.*", delay)
    return session


def test_the_bundle_does_not_depend_on_which_collector_finishes_first(aws: None) -> None:
    build_lb_account()
    bundles = []
    for seed in (1, 2, 3):
        bundle = collect(_jittered_session(seed), PROD)
        del bundle["collected_at"]
        bundles.append(json.dumps(bundle))
    assert bundles[0] == bundles[1] == bundles[2]
    assert json.loads(bundles[0])["resources"]["target_groups"], "the account was read"


def test_a_collector_starts_once_what_it_reads_is_stored(
        aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    build_lb_account()
    spans: dict[str, tuple[float, float]] = {}

    def timed(collector: Any) -> Any:
        @functools.wraps(collector)
        def run(ctx: Context) -> None:
            start = time.monotonic()
            collector(ctx)
            time.sleep(0.5)  # every collector takes a while: overlaps are certain
            spans[run.__name__] = (start, time.monotonic())
        return run

    monkeypatch.setattr(checker.collect, "COLLECTORS",
                        tuple(timed(c) for c in checker.collect.COLLECTORS))
    collect(boto3.session.Session(region_name=REGION), PROD)
    assert set(spans) == {c.__name__ for c in checker.collect.COLLECTORS}
    for name, needs in AFTER.items():
        for need in needs:
            assert spans[need][1] <= spans[name][0], (need, name)
    # independent ones overlap: the scaling targets are read while EC2 waits for the ELBs
    assert spans["collect_autoscaling"][0] < spans["collect_ec2"][0]
    assert spans["collect_task_roles"][0] < spans["collect_ec2"][1]
    # a collector AFTER does not name waits for every one listed before it
    names = [c.__name__ for c in checker.collect.COLLECTORS]
    for i, name in enumerate(names):
        if name not in AFTER:
            assert all(spans[n][1] <= spans[name][0] for n in names[:i]), name


def test_an_error_is_raised_and_what_reads_the_failed_collector_does_not_run(
        aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    build_lb_account()
    ran: list[str] = []

    def collect_elbv2(ctx: Context) -> None:
        raise InputError("elbv2: no such thing")

    def collect_ec2(ctx: Context) -> None:  # reads elbv2's collections (AFTER)
        ran.append("ec2")

    def collect_autoscaling(ctx: Context) -> None:  # reads only ECS's
        time.sleep(0.2)
        ran.append("autoscaling")

    def collect_later(ctx: Context) -> None:  # not in AFTER: after every collector above
        ran.append("later")

    monkeypatch.setattr(checker.collect, "COLLECTORS", (
        ecs.collect_ecs, collect_elbv2, collect_ec2, collect_autoscaling, collect_later))
    with pytest.raises(InputError, match="elbv2: no such thing"):
        collect(boto3.session.Session(region_name=REGION), PROD)
    assert ran == ["autoscaling"]


def test_a_collector_after_does_not_know_is_waited_for_by_the_later_ones(
        aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # a new collector (or a test's) may store what a later one reads: until AFTER names
    # it, the collectors after it wait for it
    build_lb_account()
    events: list[str] = []

    def store_extra(ctx: Context) -> None:
        time.sleep(0.3)
        events.append("extra stored")

    def collect_autoscaling(ctx: Context) -> None:  # AFTER: only ECS's
        events.append("autoscaling started")

    monkeypatch.setattr(checker.collect, "COLLECTORS",
                        (ecs.collect_ecs, store_extra, collect_autoscaling))
    collect(boto3.session.Session(region_name=REGION), PROD)
    assert events == ["extra stored", "autoscaling started"]


def test_the_pool_serves_its_submitters_in_turn() -> None:
    # collectors submit from their own threads: 200 task-definition reads queued first
    # must not hold up a later collector's two calls until they are all done
    pool = DaemonPool(1)
    gate, submitted, finish, done = (threading.Event(), threading.Event(), threading.Event(),
                                     [])
    held = pool.submit(gate.wait)  # the one worker is busy while both lines fill

    def submitter(name: str, jobs: int) -> None:  # alive until the end: its own line
        futures = [pool.submit(done.append, name) for _ in range(jobs)]
        submitted.set()
        finish.wait(5)
        for future in futures:
            future.result(timeout=5)

    first = threading.Thread(target=submitter, args=("a", 3))
    first.start()
    assert submitted.wait(5)
    second = threading.Thread(target=submitter, args=("b", 1))
    second.start()
    deadline = time.monotonic() + 5
    while len(pool._lines) < 2 and time.monotonic() < deadline:  # a's line and b's
        time.sleep(0.01)
    gate.set()
    held.result(timeout=5)
    while len(done) < 4 and time.monotonic() < deadline + 5:
        time.sleep(0.01)
    finish.set()
    first.join()
    second.join()
    pool.shutdown(wait=True)
    assert done == ["a", "b", "a", "a"]
