"""The stopped-task checks with `task_history` (issue 11): tasks ECS has forgotten still
count, once each (the API's item winning), and the findings say how far back they reach
and when the first stop was. Without history, nothing changes."""

from __future__ import annotations

from typing import Any

from tests import builders as b
from tests import builders_history as h
from tests.checks.harness import run_check

WEB = b.service_arn("prod", "web")


def _old(task: dict[str, Any], minutes: float) -> dict[str, Any]:
    """`task` as if it had stopped `minutes` ago (its uptime kept)."""
    import datetime as dt

    from checker.facts import parse_time

    started, stopped = parse_time(task["startedAt"]), parse_time(task["stoppedAt"])
    assert started and stopped
    end = b.NOW - dt.timedelta(minutes=minutes)
    return {**task, "stoppedAt": end.isoformat(), "startedAt": (end - (stopped - started))
            .isoformat()}


def _bundle(api: list[dict[str, Any]], history: list[dict[str, Any]] | None,
            desired: int = 2, running: int = 2) -> dict[str, Any]:
    bundle = b.ecs_bundle([b.service("web", desired=desired, running=running)], api)
    if history is not None:
        bundle["resources"]["task_history"] = [e for t in history for e in h.history_entries(t)]
    return bundle


def test_oom_kills_only_in_history_are_a_leak_even_when_the_last_hour_is_clean() -> None:
    ooms = [_old(b.oom_task("web", 175), m) for m in (540, 360, 180)]
    bundle = _bundle([b.task("web")], ooms)
    (oom,) = run_check("stopped-task-oom", bundle)
    assert oom.status.value == "fail" and oom.data["count"] == 3
    assert "3 of 3 stopped tasks OOM-killed in the last 9h" in oom.message
    assert "first 01:00 UTC, 9h00m ago" in oom.message
    assert oom.data["first_at"] == "2026-11-20T01:00:00+00:00"
    assert oom.data["last_at"] == "2026-11-20T07:00:00+00:00"
    assert oom.data["window"] == "in the last 9h"
    (leak,) = run_check("oom-after-long-uptime", bundle)
    assert leak.status.value == "fail"


def test_a_crash_loop_reports_its_full_count_and_first_occurrence() -> None:
    api = [b.crash_task("web") for _ in range(2)]
    history = [_old(b.crash_task("web"), m) for m in (300, 240, 200, 150, 90)]
    (f,) = run_check("stopped-task-app-exit", _bundle(api, history, running=0))
    assert f.status.value == "fail" and f.data["count"] == 7
    assert "in 7 of 7 stopped tasks (last 5h, with task history)" in f.message
    assert "first 05:00 UTC, 5h00m ago" in f.message


def test_pull_failures_report_their_full_count_and_first_occurrence() -> None:
    reason = ("CannotPullContainerError: pull image manifest has been retried 5 time(s): "
              "failed to resolve ref ghcr.io/acme/web:1: dial tcp 140.82.112.34:443: i/o timeout")

    def pull(minutes: float) -> dict[str, Any]:
        return b.task("web", status="STOPPED", stopped=b.ago(minutes=minutes),
                      started=None, stop_code="TaskFailedToStart", reason=reason,
                      containers=[b.container("web", reason=reason)])
    (f,) = run_check("stopped-task-image-pull",
                     _bundle([pull(10)], [pull(m) for m in (200, 120)], running=1))
    assert f.status.value == "fail" and f.data["count"] == 3
    assert "3 of 3 stopped tasks (last 4h, with task history) could not pull" in f.message
    assert "first 06:40 UTC" in f.message


def test_a_task_in_both_the_api_and_the_history_counts_once_the_api_winning() -> None:
    task = b.oom_task("web", 30)
    stale = {**task, "stoppedReason": "stale history copy"}
    (f,) = run_check("stopped-task-oom", _bundle([task], [stale]))
    assert f.data["count"] == 1
    assert "~the last hour" in f.message  # the history added nothing the API lacks


def test_without_history_the_checks_say_what_they_always_said() -> None:
    api = [b.crash_task("web") for _ in range(3)]
    (without,) = run_check("stopped-task-app-exit", _bundle(api, None))
    (empty,) = run_check("stopped-task-app-exit", _bundle(api, []))
    assert without.message == empty.message
    assert "(~last hour); each ran" in without.message
    assert "first_at" not in without.data and "first" not in without.message.split("ran")[1]


def test_a_night_of_crashes_lists_only_the_newest_tasks_and_uptimes() -> None:
    history = [_old(b.crash_task("web"), 30 + m * 5) for m in range(150)]
    (f,) = run_check("stopped-task-app-exit", _bundle([], history, running=0))
    assert f.data["count"] == 150
    assert len(f.data["tasks"]) == len(f.data["uptimes_s"]) == 100
    newest = {t["taskArn"].rsplit("/", 1)[1] for t in history[:100]}
    assert set(f.data["tasks"]) == newest
