"""The history collector (checker/collect/history.py): moto's CloudWatch Logs for the reads
(real put_log_events → real FilterLogEvents; moto honours startTime/endTime, limit and
nextToken, MOTO.md), botocore hooks for a denial, Stubber for the page budget (moto would
need 10,000 events a page to page at all)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from checker.bundle import validate
from checker.collect import Scope, collect, history
from checker.collect.aws import DEFAULT_HISTORY, HISTORY_LOG_GROUP
from checker.demo import moto_history
from checker.demo.moto_history import ecs_event, put_ecs_events
from checker.facts import Facts
from tests.collect.support import ACCOUNT, REGION, Calls, denied, serial_context

ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
HISTORY = Scope(clusters=("prod",), history=DEFAULT_HISTORY)
SECRET = "AKIAABCDEFGHIJKLMNOP"


def task_change(task: str, status: str, version: int, when: dt.datetime,
                cluster: str = "prod", group: str = "service:web") -> dict[str, Any]:
    detail = {"taskArn": f"{ARN}:task/{cluster}/{task}", "clusterArn": f"{ARN}:cluster/{cluster}",
              "lastStatus": status, "desiredStatus": "STOPPED", "version": version,
              "group": group, "stoppedReason": "Essential container in task exited",
              "containers": [{"name": "web", "exitCode": 137, "reason": "OutOfMemoryError"}],
              "overrides": {"containerOverrides": [{"name": "web", "environment": [
                  {"name": "AWS_ACCESS_KEY_ID", "value": SECRET}]}]}}
    return ecs_event("ECS Task State Change", detail, when=when,
                     resources=[detail["taskArn"]])


def deployment(service: str, when: dt.datetime, cluster: str = "prod") -> dict[str, Any]:
    return ecs_event("ECS Deployment State Change",
                     {"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_COMPLETED",
                      "deploymentId": "ecs-svc/1", "reason": "completed"},
                     when=when, resources=[f"{ARN}:service/{cluster}/{service}"])


@pytest.fixture
def ecs_account(aws: None) -> Iterator[dict[str, Any]]:
    """Clusters `prod` (services web, api) and `other`; CloudTrail answers, with no event
    (moto has no LookupEvents: checker.demo.moto_history adds it)."""
    moto_history.patch_lookup_events()
    ecs = boto3.client("ecs", region_name=REGION)
    for cluster in ("prod", "other"):
        ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "nginx:1", "memory": 128}])
    for name in ("web", "api"):
        ecs.create_service(cluster="prod", serviceName=name, taskDefinition="web",
                           desiredCount=1)
    try:
        yield {"logs": boto3.client("logs", region_name=REGION)}
    finally:
        moto_history.unpatch_lookup_events()


def test_events_of_every_type_in_scope_are_kept_deduplicated_and_redacted(
    ecs_account: dict[str, Any], session: boto3.session.Session, calls: Calls,
) -> None:
    now = dt.datetime.now(dt.UTC)
    hours = [now - dt.timedelta(hours=h) for h in range(30)]
    instance = ecs_event("ECS Container Instance State Change",
                         {"clusterArn": f"{ARN}:cluster/prod", "status": "ACTIVE",
                          "agentConnected": False}, when=hours[3],
                         resources=[f"{ARN}:container-instance/prod/1a2b"])
    action = ecs_event("ECS Service Action",
                       {"clusterArn": f"{ARN}:cluster/prod", "eventType": "WARN",
                        "eventName": "SERVICE_TASK_PLACEMENT_FAILURE", "reason": "RESOURCE:CPU"},
                       when=hours[2], resources=[f"{ARN}:service/prod/api"])
    put_ecs_events(ecs_account["logs"], HISTORY_LOG_GROUP, [
        task_change("t1", "RUNNING", 2, hours[9]),   # then STOPPED: one item, version 3
        task_change("t1", "STOPPED", 3, hours[8]),
        task_change("t2", "STOPPED", 5, hours[20]),  # 20 h ago: in the 24 h window
        task_change("t3", "STOPPED", 5, hours[27]),  # 27 h ago: outside it
        task_change("t9", "STOPPED", 2, hours[1], cluster="other"),
        deployment("web", hours[5]), deployment("web", hours[4], cluster="other"),
        instance, action,
    ])
    bundle = validate(collect(session, HISTORY))
    res = bundle["resources"]

    assert [t["taskArn"].rsplit("/", 1)[1] for t in res["task_history"]] == ["t1", "t2"]
    first = res["task_history"][0]
    assert (first["lastStatus"], first["version"]) == ("STOPPED", 3)
    env = first["overrides"]["containerOverrides"][0]["environment"]
    assert SECRET not in json.dumps(bundle) and env[0]["value"] != SECRET
    assert [e["detail-type"] for e in res["ecs_events"]] == [  # in time order
        "ECS Deployment State Change", "ECS Container Instance State Change",
        "ECS Service Action"]
    assert res["ecs_events"][0]["resources"] == [f"{ARN}:service/prod/web"]
    assert bundle["errors"] == []
    # five slices (1 + 2 + 4 + 8 + 9 h), one page each: moto fits them in one
    assert calls.count()["logs:FilterLogEvents"] == 5
    sent = [p for a, p in calls.params if a == "logs:FilterLogEvents"]
    assert all(p["logGroupName"] == HISTORY_LOG_GROUP and p["limit"] == 10_000 for p in sent)
    assert Facts(bundle).has("task_history") and Facts(bundle).has("ecs_events")


def test_named_services_keep_their_own_tasks_and_events(
    ecs_account: dict[str, Any], session: boto3.session.Session,
) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    put_ecs_events(ecs_account["logs"], HISTORY_LOG_GROUP, [
        task_change("w1", "STOPPED", 3, now), task_change("a1", "STOPPED", 3, now,
                                                          group="service:api"),
        deployment("web", now), deployment("api", now)])
    scope = Scope(clusters=("prod",), services=("web",), history=DEFAULT_HISTORY)
    res = collect(session, scope)["resources"]
    assert [t["taskArn"].rsplit("/", 1)[1] for t in res["task_history"]] == ["w1"]
    assert [e["resources"] for e in res["ecs_events"]] == [[f"{ARN}:service/prod/web"]]


def test_lines_that_are_not_ecs_events_are_counted_and_skipped(
    ecs_account: dict[str, Any], session: boto3.session.Session,
) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    put_ecs_events(ecs_account["logs"], HISTORY_LOG_GROUP, [
        task_change("t1", "STOPPED", 3, now), "not json {", json.dumps(["a", "list"]),
        json.dumps({"source": "aws.ec2", "detail-type": "EC2 Instance State-change",
                    "detail": {}})])
    bundle = collect(session, HISTORY)
    assert len(bundle["resources"]["task_history"]) == 1
    assert bundle["resources"]["ecs_events"] == []
    warnings = {e["collection"]: e for e in bundle["errors"]}
    assert set(warnings) == {"task_history", "ecs_events"}
    for entry in warnings.values():
        assert (entry["code"], entry["level"], entry["count"]) == ("SkippedLines", "warning", 3)
        assert "1 not JSON, 2 not an aws.ecs event" in entry["message"]
    assert Facts(bundle).has("task_history")  # a warning: the collection is still read


def test_no_log_group_leaves_history_absent_with_the_command_that_creates_it(
    ecs_account: dict[str, Any], session: boto3.session.Session,
) -> None:
    bundle = collect(session, HISTORY)
    assert "task_history" not in bundle["resources"]
    assert "ecs_events" not in bundle["resources"]
    errors = [e for e in bundle["errors"] if e["operation"] == "logs:FilterLogEvents"]
    assert {e["collection"] for e in errors} == {"task_history", "ecs_events"}
    command = ("aws cloudformation deploy --template-file deploy/history.yaml "
               f"--stack-name ecsdoctor-history --region {REGION}")
    for entry in errors:
        assert entry["code"] == "ResourceNotFoundException"
        assert entry["message"].endswith(command)
    facts = Facts(bundle)
    assert not facts.has("task_history") and facts.has("services")
    # a check that needs history is `unknown` with the command that sets it up
    reason = facts.missing_reason("task_history")
    assert reason is not None and reason.endswith(f"set it up with: {command}")


def test_a_custom_group_name_is_read_and_named_in_the_command(
    ecs_account: dict[str, Any], session: boto3.session.Session,
) -> None:
    scope = Scope(clusters=("prod",), history=DEFAULT_HISTORY, history_log_group="/ops/ecs")
    (entry, _) = [e for e in collect(session, scope)["errors"]
                  if e["operation"] == "logs:FilterLogEvents"]
    assert "no history log group /ops/ecs" in entry["message"]
    assert entry["message"].endswith("--parameter-overrides LogGroupName=/ops/ecs")


def test_access_denied_is_an_error_and_the_scan_goes_on(
    ecs_account: dict[str, Any], session: boto3.session.Session,
) -> None:
    session.events.register("before-call.cloudwatch-logs.FilterLogEvents",
                            denied("logs:FilterLogEvents"))
    bundle = collect(session, HISTORY)
    assert "task_history" not in bundle["resources"]
    codes = {(e["collection"], e["code"]) for e in bundle["errors"]
             if e["operation"] == "logs:FilterLogEvents"}
    assert codes == {("task_history", "AccessDeniedException"),
                     ("ecs_events", "AccessDeniedException")}
    assert len(bundle["resources"]["services"]) == 2  # the rest of the scan is there


def test_history_zero_reads_nothing(ecs_account: dict[str, Any],
                                    session: boto3.session.Session, calls: Calls) -> None:
    bundle = collect(session, Scope(clusters=("prod",)))
    assert "task_history" not in bundle["resources"] and bundle["errors"] == []
    assert not {"logs:FilterLogEvents", "cloudtrail:LookupEvents"} & set(calls.actions)


# -- the window and the page budget (Stubber) ----------------------------------------------

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def test_the_window_is_read_newest_first_in_doubling_slices() -> None:
    cuts = history.slices(NOW - dt.timedelta(hours=24), NOW)
    assert [(NOW - hi, hi - lo) for lo, hi in cuts] == [
        (dt.timedelta(hours=h), dt.timedelta(hours=n))
        for h, n in ((0, 1), (1, 2), (3, 4), (7, 8), (15, 9))]
    assert history.slices(NOW - dt.timedelta(minutes=30), NOW) == [
        (NOW - dt.timedelta(minutes=30), NOW)]


def _page(token: str | None, *events: dict[str, Any]) -> dict[str, Any]:
    page: dict[str, Any] = {"events": [
        {"logStreamName": "s", "timestamp": 1, "message": json.dumps(e), "eventId": str(i)}
        for i, e in enumerate(events)]}
    if token:
        page["nextToken"] = token
    return page


def test_the_page_budget_keeps_the_newest_hours_and_says_from_when() -> None:
    """Budget 3: the last hour in two pages, then the first page of the hour before; the
    warning says the window is complete for the last hour only."""
    logs = boto3.session.Session(region_name=REGION).client("logs")
    when = NOW - dt.timedelta(minutes=30)
    with Stubber(logs) as stub, serial_context({"logs": logs}) as ctx:
        ctx.scope = HISTORY
        ctx.resources["clusters"] = [{"clusterName": "prod", "clusterArn": f"{ARN}:cluster/prod"}]
        ms = history.millis
        first = {"logGroupName": HISTORY_LOG_GROUP, "limit": 10_000,
                 "startTime": ms(NOW - dt.timedelta(hours=1)), "endTime": ms(NOW)}
        stub.add_response("filter_log_events", _page("a", task_change("t1", "STOPPED", 1, when)),
                          first)
        stub.add_response("filter_log_events", _page(None, task_change("t2", "STOPPED", 1, when)),
                          {**first, "nextToken": "a"})
        stub.add_response("filter_log_events", _page("b", deployment("web", when)), {
            **first, "startTime": ms(NOW - dt.timedelta(hours=3)),
            "endTime": ms(NOW - dt.timedelta(hours=1)) - 1})
        history.read_history(ctx, NOW, budget=3)
        stub.assert_no_pending_responses()
    assert len(ctx.resources["task_history"]) == 2 and len(ctx.resources["ecs_events"]) == 1
    warnings = ctx.recorder.errors()
    assert {(w["collection"], w["code"], w["level"]) for w in warnings} == {
        ("task_history", "Truncated", "warning"), ("ecs_events", "Truncated", "warning")}
    assert "budget of 3 FilterLogEvents pages" in warnings[0]["message"]
    assert "complete for the last 1 h 00 min (since 2026-11-20T08:00:00+00:00)" \
        in warnings[0]["message"]


def test_the_default_budget_is_25_pages() -> None:
    assert history.PAGE_BUDGET == 25
    read_history = history.read_history
    assert read_history.__defaults__ == (25,)


def test_scan_reads_24_hours_of_history_by_default_and_0_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from checker import bundle as bundle_mod
    from checker.cli import main
    from checker.cli import scan as cli_scan
    from checker.cli.app import parse_history
    from checker.errors import InputError

    assert parse_history("0") == dt.timedelta(0) == parse_history("0h")
    assert parse_history("24h") == DEFAULT_HISTORY and parse_history("7d").days == 7
    with pytest.raises(InputError, match="--history 'soon'"):
        parse_history("soon")
    seen: list[Scope] = []

    def fake_scan(scope: Scope, **_: Any) -> dict[str, Any]:
        seen.append(scope)
        return bundle_mod.new_bundle(account=ACCOUNT, region=REGION,
                                     scope={"clusters": ["prod"]})

    monkeypatch.setattr(cli_scan, "run_scan", fake_scan)
    assert main(["scan", "--cluster", "prod", "-f", "json"]) == 0
    assert main(["scan", "--cluster", "prod", "-f", "json", "--history", "0",
                 "--history-log-group", "/ops/ecs"]) == 0
    assert [(s.history, s.history_log_group) for s in seen] == [
        (DEFAULT_HISTORY, HISTORY_LOG_GROUP), (dt.timedelta(0), "/ops/ecs")]


def test_the_audit_reads_the_group_its_template_names() -> None:
    from checker.audit.handler import scan_scope
    from checker.audit.sinks import Config

    named = scan_scope(("prod",), Config.from_env({"ECSDOCTOR_HISTORY_LOG_GROUP": "/g"}))
    assert (named.history, named.history_log_group) == (DEFAULT_HISTORY, "/g")
    assert scan_scope(("prod",), Config.from_env({"ECSDOCTOR_HISTORY_LOG_GROUP": " "})
                      ).history == dt.timedelta(0)
