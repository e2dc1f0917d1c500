"""Every scan finishes: the scan's time limit (``--timeout``), Ctrl-C, and the page cap.

A silent endpoint is moto's server holding one operation unanswered
(tests/collect/silent_moto.py), reached over real HTTP by the real clients; an endless
``nextToken`` is moto's ListServices answer with a fresh token added (a ``before-call``
hook, the Stubber-style injection for what moto cannot do).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from checker.audit.handler import list_clusters
from checker.collect import Deadline, Scope, collect
from checker.collect.aws import MAX_PAGES, PAGE_LIMIT, TIMED_OUT, Context, ScanTimeout
from checker.errors import InputError
from tests.collect.silent_moto import CLUSTER, REGION, SilentMoto, silent_moto
from tests.collect.support import Calls
from tests.conftest import REPO

#: Long enough that, on a loaded 2-core machine, the calls before DescribeServices are made
#: well within it.
LIMIT_S = 10.0
#: What a cut scan may take beyond its limit: the collectors after the deadline fail fast,
#: without a call. Measured 0.1–0.2 s.
MARGIN_S = 2.0
#: Python start-up, imports and the analysis around a CLI scan: 3 s on an idle machine,
#: up to 15 s measured with the machine's two cores shared by eight test runs.
CLI_OVERHEAD_S = 30.0


@pytest.fixture
def silent_describe_services() -> Iterator[SilentMoto]:
    with silent_moto({"DescribeServices"}) as server:
        yield server


def _codes(bundle: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """collection → {(operation, code)} of bundle.errors."""
    out: dict[str, set[tuple[str, str]]] = {}
    for e in bundle["errors"]:
        out.setdefault(e["collection"], set()).add((e["operation"], e["code"]))
    return out


def test_a_silent_describe_services_is_cut_at_the_time_limit(
        silent_describe_services: SilentMoto) -> None:
    session = boto3.session.Session(region_name=REGION)
    start = time.monotonic()
    bundle = collect(session, Scope(clusters=(CLUSTER,)), deadline=Deadline(LIMIT_S),
                     endpoint_url=silent_describe_services.url)
    took = time.monotonic() - start
    assert silent_describe_services.held >= 1, "DescribeServices was sent and held"
    assert LIMIT_S - 0.5 <= took < LIMIT_S + MARGIN_S, took

    errors = _codes(bundle)
    assert ("ecs:DescribeServices", TIMED_OUT) in errors["services"]
    (message,) = {e["message"] for e in bundle["errors"] if e["collection"] == "services"}
    assert message == f"not read within the scan's {LIMIT_S:g} s time limit (--timeout)"
    # what was read before the limit is kept, and is not called failed
    assert [c["clusterName"] for c in bundle["resources"]["clusters"]] == [CLUSTER]
    assert len(bundle["resources"]["tasks"]) == 1
    assert "clusters" not in errors and "tasks" not in errors
    # what came after the limit was never sent, and says so
    for later in ("subnets", "metrics"):
        assert {code for _, code in errors[later]} == {TIMED_OUT}, later
    # one entry per collection and operation, not one per refused batch
    keys = [(e["collection"], e["operation"], e["code"]) for e in bundle["errors"]]
    assert len(keys) == len(set(keys)), keys


def test_a_collector_that_calls_from_the_scans_thread_is_cut_too() -> None:
    """DescribeAlarms is made by its collector itself, not through ctx.gather: the scan
    runs that collector on its pool, so it is cut at the limit like any other call."""
    with silent_moto({"DescribeAlarms"}) as server:
        session = boto3.session.Session(region_name=REGION)
        start = time.monotonic()
        bundle = collect(session, Scope(clusters=(CLUSTER,)), deadline=Deadline(LIMIT_S),
                         endpoint_url=server.url)
        took = time.monotonic() - start
        assert server.held >= 1
    assert took < LIMIT_S + MARGIN_S, took
    errors = _codes(bundle)
    assert errors["alarms"] == {("cloudwatch:DescribeAlarms", TIMED_OUT)}
    assert "services" not in errors and len(bundle["resources"]["services"]) == 1


#: How late an attempt begun before the limit may reach the test server (its own transit).
SEND_S = 0.5


def test_no_retry_is_sent_after_the_time_limit() -> None:
    """DescribeServices always throttled: botocore's adaptive retries back off (up to 20 s
    a wait, 10 retries); none of them may reach the endpoint once the limit has passed,
    not even from the thread the scan stopped waiting for."""
    limit = 6.0
    with silent_moto((), throttled={"DescribeServices"}) as server:
        session = boto3.session.Session(region_name=REGION)
        start = time.monotonic()
        bundle = collect(session, Scope(clusters=(CLUSTER,)), deadline=Deadline(limit),
                         endpoint_url=server.url)
        assert time.monotonic() - start < limit + MARGIN_S
        time.sleep(limit)  # the abandoned call's next backoff would end in here
        attempts = [t - start for t in server.throttled]
    assert len(attempts) >= 2, "throttled, then retried within the limit"
    # an attempt that started before the limit reaches the server a little after it on a
    # busy machine; without the deadline hooks a retry arrived 5.5 s past the limit
    assert max(attempts) < limit + SEND_S, attempts
    assert ("ecs:DescribeServices", TIMED_OUT) in _codes(bundle)["services"]


def _wait_past(deadline: Deadline) -> Any:
    """A ``before-send`` handler that waits until ``deadline`` has passed, to be registered
    on the event as botocore's adaptive retries register their wait for a token (a handler
    of a more specific event, ``before-send.ecs``, would run before every generic one)."""
    def wait(**_: Any) -> None:
        time.sleep((deadline.remaining() or 0.0) + 0.1)
    return wait


def test_the_deadline_is_checked_after_every_wait_before_a_send() -> None:
    """Adaptive retries wait for a token inside ``before-send``: an attempt that passed the
    check before that wait left a second after the limit (a CI run saw one at 6.98 s of a
    6 s limit). The check comes after every other ``before-send`` handler."""
    with silent_moto((), throttled={"DescribeServices"}) as server:
        session = boto3.session.Session(region_name=REGION)
        deadline = Deadline(1.0)
        session.events.register("before-send", _wait_past(deadline))
        with ThreadPoolExecutor(max_workers=1) as pool:
            ctx = Context(scope=Scope(clusters=(CLUSTER,)), region=REGION, pool=pool,
                          session=session, endpoint_url=server.url, deadline=deadline)
            with pytest.raises(ScanTimeout):
                ctx.client("ecs").describe_services(cluster=CLUSTER, services=["web"])
        assert server.throttled == [], "an attempt reached the endpoint after the limit"


def test_the_audits_cluster_listing_checks_after_every_wait_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with silent_moto((), throttled={"ListClusters"}) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        session = boto3.session.Session(region_name=REGION)
        deadline = Deadline(1.0, origin="the invocation's remaining time")
        session.events.register("before-send", _wait_past(deadline))
        with pytest.raises(InputError, match=r"^ecs:ListClusters: not read within"):
            list_clusters(session, deadline)
        assert server.throttled == []


def test_cli_scan_with_a_silent_endpoint_reports_what_was_read(
        silent_describe_services: SilentMoto, tmp_path: Any) -> None:
    out = tmp_path / "report.json"
    start = time.monotonic()
    with _cli(silent_describe_services.url, "--timeout", "10s", "-f", "json", "-o",
              str(out)) as proc:
        _, stderr = proc.communicate(timeout=120)
    took = time.monotonic() - start
    assert proc.returncode == 0, stderr
    assert silent_describe_services.held >= 1
    assert 10 <= took < 10 + CLI_OVERHEAD_S, took
    assert "time limit (--timeout) ran out; not read: " in stderr
    assert "services" in stderr.split("not read: ", 1)[1]
    report = json.loads(out.read_text())
    assert {"collection": "services", "operation": "ecs:DescribeServices", "code": TIMED_OUT,
            "message": "not read within the scan's 10 s time limit (--timeout)"} \
        in report["errors"]


def test_first_ctrl_c_exits_130_within_two_seconds_with_one_line(
        silent_describe_services: SilentMoto) -> None:
    with _cli(silent_describe_services.url, "-f", "json") as proc:  # default limit: 5 min
        silent_describe_services.wait_until_holding()
        time.sleep(0.5)  # inside the wait for DescribeServices
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    assert proc.returncode == 130, stderr
    assert took < 2.0, took
    assert stdout == ""
    assert [line for line in stderr.splitlines() if line.strip()] == \
        ["ecsdoctor: interrupted"], stderr


def test_a_second_ctrl_c_exits_at_once() -> None:
    """After the first Ctrl-C the way out may still take time (here: 30 s of it); the second
    ends the process there and then."""
    script = textwrap.dedent("""
        import os, signal, sys, time
        from rich.console import Console
        from checker.cli.scan import interruptible
        from checker.collect import Deadline
        deadline = Deadline(60)
        try:
            with interruptible(deadline, Console(stderr=True)):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(30)
        except KeyboardInterrupt:
            print("first", deadline.expired, flush=True)
            time.sleep(30)
        print("not cut short", flush=True)
    """)
    with subprocess.Popen([sys.executable, "-c", script], cwd=REPO, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "first True"  # cancelled by the first
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        took = time.monotonic() - sent
    assert proc.returncode == 130
    assert took < 2.0, took
    assert "not cut short" not in rest


def test_a_scan_that_is_not_interrupted_gives_ctrl_c_back() -> None:
    from checker.cli.scan import interruptible

    before = signal.getsignal(signal.SIGINT)
    with interruptible(Deadline(60), Console(stderr=True)):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def _cli(endpoint: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECSDOCTOR_")}
    env["AWS_ENDPOINT_URL"] = endpoint
    return subprocess.Popen(
        [sys.executable, "-m", "checker.cli", "scan", "--cluster", CLUSTER, "--history", "0",
         *args], cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class EndlessTokens:
    """moto's ListServices answer with a fresh ``nextToken`` on every page."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.pages = 0
        session.events.register("after-call.ecs.ListServices", self._token)

    def _token(self, parsed: dict[str, Any], **_: Any) -> None:
        self.pages += 1
        parsed["nextToken"] = uuid.uuid4().hex


def test_a_listing_that_never_ends_stops_at_the_page_cap(aws: None) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "nginx:1.27", "memory": 256}])
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition="web",
                       desiredCount=1)
    session = boto3.session.Session(region_name=REGION)
    endless, calls = EndlessTokens(session), Calls(session)
    bundle = collect(session, Scope(clusters=(CLUSTER,)))
    assert calls.count()["ecs:ListServices"] == endless.pages == MAX_PAGES
    assert _codes(bundle)["services"] == {("ecs:ListServices", PAGE_LIMIT)}
    (entry,) = [e for e in bundle["errors"] if e["collection"] == "services"]
    assert f"stopped after {MAX_PAGES} pages" in entry["message"]
    # moto answers each page with the service again: the pages read are kept
    assert [s["serviceName"] for s in bundle["resources"]["services"]] == ["web"]
    assert "tasks" in bundle["resources"] and "tasks" not in _codes(bundle)


def test_a_policy_simulation_that_never_ends_stops_at_the_page_cap() -> None:
    """The gate's SimulatePrincipalPolicy pages on ``Marker``: moto has no such operation,
    so a Stubber hands out a new Marker on every page; a 501st call would find no answer."""
    from checker.collect import refs

    iam = boto3.client("iam", region_name=REGION)
    stub = Stubber(iam)
    for n in range(MAX_PAGES):
        stub.add_response("simulate_principal_policy", {
            "EvaluationResults": [{"EvalActionName": "logs:PutLogEvents",
                                   "EvalResourceName": "*", "EvalDecision": "allowed"}],
            "IsTruncated": True, "Marker": f"marker-{n}"})
    probe = refs.Probe(session=None, region=REGION, account="123456789012")
    ask = {"PolicySourceArn": "arn:aws:iam::123456789012:role/web-exec",
           "ActionNames": ["logs:PutLogEvents"]}
    with stub:
        answer = probe.ask("policy_simulations", "iam:SimulatePrincipalPolicy",
                           refs._simulate, iam, ask)
        stub.assert_no_pending_responses()
    assert answer is None
    (entry,) = probe.recorder.errors()
    assert (entry["collection"], entry["code"]) == ("policy_simulations", PAGE_LIMIT)
    assert f"stopped after {MAX_PAGES} pages" in entry["message"]


@pytest.mark.parametrize("value", ["soon", "0", "0s", "-5m", "25h", "5d"])
def test_a_bad_timeout_is_one_line_and_exit_2(value: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from checker.cli import main

    assert main(["scan", "--cluster", CLUSTER, f"--timeout={value}"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"ecsdoctor: error: --timeout '{value}': expected a time limit")


@pytest.mark.parametrize(("value", "seconds"), [("90", 90.0), ("90s", 90.0), ("5m", 300.0),
                                                ("1.5m", 90.0), ("1h", 3600.0)])
def test_timeout_values(value: str, seconds: float) -> None:
    from checker.cli.scan import parse_timeout

    assert parse_timeout(value) == seconds
