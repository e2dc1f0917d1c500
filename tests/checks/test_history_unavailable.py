"""`history-unavailable`: a scan that could not read the past says so as a finding, with
the command that sets the history log group up; a bundle without history is skipped, one
with history passes with its count."""

from __future__ import annotations

from typing import Any

from checker.collect.history import NO_GROUP, setup_command
from tests import builders as b
from tests import builders_history as h
from tests.checks.harness import run_check

CHECK = "history-unavailable"


def _bundle(**resources: list[dict[str, Any]]) -> dict[str, Any]:
    bundle = b.ecs_bundle([b.service("web")], [b.task("web")])
    bundle["resources"].update(resources)
    return bundle


def _by_source(bundle: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {f.data["source"]: (f.status.value, f.message) for f in run_check(CHECK, bundle)}


def test_no_history_log_group_is_unknown_with_the_setup_command() -> None:
    bundle = _bundle(cloudtrail_events=[])
    setup = setup_command("us-east-1", "/ecsdoctor/ecs-events")
    bundle["errors"] = [{"collection": c, "operation": "logs:FilterLogEvents", "code": NO_GROUP,
                         "message": "no history log group", "setup": setup}
                        for c in ("task_history", "ecs_events")]
    found = _by_source(bundle)
    status, message = found["history log group"]
    assert status == "unknown"
    assert f"set it up with: {setup}" in message
    assert found["CloudTrail"] == ("pass", "CloudTrail read: 0 events")
    (finding,) = [f for f in run_check(CHECK, bundle) if f.status.value == "unknown"]
    assert finding.data["setup"] == setup


def test_cloudtrail_denied_is_unknown_naming_the_permission() -> None:
    bundle = _bundle(task_history=[], ecs_events=[])
    bundle["errors"] = [{"collection": "cloudtrail_events", "operation": "cloudtrail:LookupEvents",
                         "code": "AccessDeniedException", "message": "not authorized"}]
    status, message = _by_source(bundle)["CloudTrail"]
    assert status == "unknown" and "needs permission cloudtrail:LookupEvents" in message


def test_a_bundle_without_history_is_skipped_not_failed() -> None:
    found = _by_source(_bundle())
    assert {s for s, _ in found.values()} == {"skipped"}
    assert "--history 24h" in found["history log group"][1]


def test_history_read_passes_with_its_count() -> None:
    stops = [e for t in (b.oom_task("web", 175),) for e in h.history_entries(t)]
    found = _by_source(_bundle(task_history=stops, ecs_events=[], cloudtrail_events=[]))
    status, message = found["history log group"]
    assert status == "pass" and message == f"history log group read: {len(stops)} events"


def _stopped_minutes_ago(minutes: float) -> dict[str, Any]:
    import datetime as dt

    task = b.oom_task("web", 175)
    end = b.NOW - dt.timedelta(minutes=minutes)
    return {**task, "stoppedAt": end.isoformat(),
            "startedAt": (end - dt.timedelta(minutes=175)).isoformat()}


def test_a_group_that_received_none_of_the_last_hours_stops_fails() -> None:
    """The rule is gone or cannot write: the group is read, and empty of every stop ECS
    still shows."""
    bundle = b.ecs_bundle([b.service("web")], [b.task("web"), _stopped_minutes_ago(20)])
    bundle["resources"].update(task_history=[], ecs_events=[], cloudtrail_events=[])
    status, message = _by_source(bundle)["history log group"]
    assert status == "fail" and "not being fed" in message and "1 task stopped" in message


def test_the_same_stop_in_the_group_passes_and_a_fresh_one_may_still_be_on_its_way() -> None:
    old, fresh = _stopped_minutes_ago(20), _stopped_minutes_ago(2)
    fed = b.ecs_bundle([b.service("web")], [old, fresh])
    fed["resources"].update(task_history=h.history_entries(old), ecs_events=[],
                            cloudtrail_events=[])
    assert _by_source(fed)["history log group"][0] == "pass"
    lagging = b.ecs_bundle([b.service("web")], [fresh])
    lagging["resources"].update(task_history=[], ecs_events=[], cloudtrail_events=[])
    assert _by_source(lagging)["history log group"][0] == "pass"
