"""The logs and alarms collectors (checker/collect/logs.py, alarms.py): moto's CloudWatch
Logs and CloudWatch for the reads (real put_log_events → real GetLogEvents, real
put_metric_alarm → real DescribeAlarms), ECS items from the shape-validated builders so a
task can carry the stop codes and exit codes moto never sets (MOTO.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from checker.collect import Scope, alarms, collect, logs
from checker.collect.aws import Context
from tests import builders as b
from tests.collect.support import REGION, Calls, build_account, denied

NOW = dt.datetime.now(dt.UTC)
SECRET = "AKIAABCDEFGHIJKLMNOP"


@pytest.fixture
def session(aws: None) -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)


def _ctx(session: boto3.session.Session, resources: dict[str, list[dict[str, Any]]],
         lines: int = 50) -> Iterator[Context]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield Context(scope=Scope(clusters=("prod",), log_lines=lines), region=REGION,
                      pool=pool, session=session, resources=resources)


def _put(group: str, stream: str, messages: list[str]) -> None:
    api = boto3.client("logs", region_name=REGION)
    with contextlib.suppress(api.exceptions.ResourceAlreadyExistsException):
        api.create_log_group(logGroupName=group)
    api.create_log_stream(logGroupName=group, logStreamName=stream)
    start = int((NOW - dt.timedelta(minutes=30)).timestamp() * 1000)
    api.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": start + i * 1000, "message": m} for i, m in enumerate(messages)])


def _stream(task: dict[str, Any], container: str) -> str:
    return f"{container}/{container}/{task['taskArn'].rsplit('/', 1)[-1]}"


def _crash(service: str, minutes_ago: float) -> dict[str, Any]:
    return b.task(service, status="STOPPED", stopped=b.ago(minutes=minutes_ago),
                  stop_code="EssentialContainerExited",
                  reason="Essential container in task exited",
                  containers=[b.container(service, 1)])


def _account(*extra_tasks: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """`app` crash-loops (three crashes), `web` is healthy (a scale-in stop, running)."""
    crashes = [_crash("app", m) for m in (5, 10, 15, 20)]
    healthy = [b.task("web"), b.task("web", status="STOPPED", stopped=b.ago(minutes=3),
                                      stop_code="ServiceSchedulerInitiated",
                                      reason="Scaling activity initiated by (deployment x)",
                                      containers=[b.container("web", 143)])]
    return {"clusters": [b.cluster()], "services": [b.service("app"), b.service("web")],
            "tasks": [*crashes, *healthy, *extra_tasks],
            "task_definitions": [b.task_definition("app"), b.task_definition("web")]}


def test_reads_the_last_lines_of_the_newest_failing_tasks_only(session: Any) -> None:
    res = _account()
    crashes = [t for t in res["tasks"] if t["group"] == "service:app"]
    for task in crashes:
        _put("/ecs/app", _stream(task, "app"), [f"line {i}" for i in range(80)]
             + ["Traceback (most recent call last):", f"KeyError: 'x' key={SECRET}"])
    calls = Calls(session)
    for ctx in _ctx(session, res, lines=10):
        logs.collect_logs(ctx)
        items = ctx.resources["log_events"]
    assert calls.actions.count("logs:GetLogEvents") == logs.STOPPED_PER_SERVICE == len(items)
    newest = sorted(crashes, key=lambda t: t["stoppedAt"], reverse=True)[:3]
    assert {i["taskArn"] for i in items} == {t["taskArn"] for t in newest}
    one = items[0]
    assert (one["logGroupName"], one["containerName"], one["reason"]) == (
        "/ecs/app", "app", "exited 1")
    assert one["logStreamName"].startswith("app/app/")
    messages = [e["message"] for e in one["events"]]
    assert len(messages) == 10 and messages[-2] == "Traceback (most recent call last):"
    assert SECRET not in messages[-1] and "***REDACTED" in messages[-1]
    assert all(isinstance(e["timestamp"], int) for e in one["events"])


def test_zero_lines_reads_nothing(session: Any) -> None:
    calls = Calls(session)
    for ctx in _ctx(session, _account(), lines=0):
        logs.collect_logs(ctx)
        assert "log_events" not in ctx.resources
    assert calls.actions == []


def test_other_drivers_and_missing_streams_say_why(session: Any) -> None:
    res = _account()
    res["task_definitions"] = [b.task_definition("app", containers=[b.container_def(
        "app", memory=512, logConfiguration={"logDriver": "awsfirelens", "options": {}})]),
        b.task_definition("web")]
    extra = _crash("web", 1)  # awslogs, but no stream
    res["tasks"].append(extra)
    _put("/ecs/web", "unrelated", ["x"])
    for ctx in _ctx(session, res):
        logs.collect_logs(ctx)
        items = {i["taskArn"]: i for i in ctx.resources["log_events"]}
        errors = ctx.recorder.errors()
    app = [i for i in items.values() if i["containerName"] == "app"]
    assert app and all("awsfirelens driver" in i["unavailable"] for i in app)
    assert items[extra["taskArn"]]["events"] == []
    assert "no log stream" in items[extra["taskArn"]]["unavailable"]
    assert errors == []  # a missing stream is no failed collection


def test_a_slow_service_gets_one_running_task_read(session: Any) -> None:
    tg = "targetgroup/web/0123456789abcdef"
    res = _account()
    res["services"][1] = b.service("web", loadBalancers=[{
        "targetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:123456789012:{tg}",
        "containerName": "web", "containerPort": 80}])
    running = next(t for t in res["tasks"] if t["lastStatus"] == "RUNNING")
    _put("/ecs/web", _stream(running, "web"), ["upstream timed out: db.internal:5432"])
    stamps = [(NOW - dt.timedelta(minutes=m)).isoformat() for m in (3, 2, 1)]
    for ctx in _ctx(session, res):
        ctx.metrics = [{"namespace": "AWS/ApplicationELB", "name": "TargetResponseTime",
                        "dimensions": {"TargetGroup": tg, "LoadBalancer": "app/web/1"},
                        "stat": "Average", "period": 60, "timestamps": stamps,
                        "values": [0.2, 2.5, 3.1]}]
        logs.collect_logs(ctx)
        item = next(i for i in ctx.resources["log_events"] if i["taskArn"] == running["taskArn"])
    assert item["reason"] == "running: slow responses"
    assert item["events"][0]["message"] == "upstream timed out: db.internal:5432"


def test_the_scan_budget_leaves_services_out_with_a_warning(session: Any) -> None:
    res = _account()
    for ctx in _ctx(session, res):
        logs.read_logs(ctx, NOW, budget=2)  # app needs 3 calls
        assert ctx.resources["log_events"] == []
        (warning,) = ctx.recorder.errors()
    assert (warning["code"], warning["level"], warning["count"]) == ("Truncated", "warning", 1)


def test_a_denied_read_is_recorded(session: Any) -> None:
    res = _account()
    _put("/ecs/app", "x", ["x"])
    session.events.register("before-call.cloudwatch-logs.GetLogEvents",
                            denied("GetLogEvents"))
    for ctx in _ctx(session, res):
        logs.collect_logs(ctx)
        errors = ctx.recorder.errors()
    assert {e["operation"] for e in errors} == {"logs:GetLogEvents"}
    assert {e["collection"] for e in errors} == {"log_events"}


# -- alarms -------------------------------------------------------------------------------

def _alarm(name: str, dims: dict[str, str], metric: str = "CPUUtilization",
           namespace: str = "AWS/ECS") -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName=name, Namespace=namespace, MetricName=metric, Statistic="Average",
        Period=60, EvaluationPeriods=1, Threshold=80, ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()])


def test_alarms_on_scanned_resources_only(session: Any) -> None:
    _alarm("prod-app-cpu", {"ClusterName": "prod", "ServiceName": "app"})
    _alarm("other-app-cpu", {"ClusterName": "staging", "ServiceName": "app"})
    _alarm("tg-5xx", {"TargetGroup": "targetgroup/web/1", "LoadBalancer": "app/web/2"},
           "HTTPCode_Target_5XX_Count", "AWS/ApplicationELB")
    _alarm("billing", {"Currency": "USD"}, "EstimatedCharges", "AWS/Billing")
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName="prod-app-cpu", StateValue="ALARM", StateReason="Threshold crossed")
    res = _account()
    res["target_groups"] = [{"TargetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:"
                                               "123456789012:targetgroup/web/1"}]
    for ctx in _ctx(session, res):
        alarms.collect_alarms(ctx)
        kept = {a["AlarmName"]: a for a in ctx.resources["alarms"]}
    assert set(kept) == {"prod-app-cpu", "tg-5xx"}
    assert kept["prod-app-cpu"]["StateValue"] == "ALARM"


def test_alarm_budget_and_denial(session: Any) -> None:
    for i in range(3):
        _alarm(f"a{i}", {"ClusterName": "prod", "ServiceName": "app"})
    for ctx in _ctx(session, _account()):
        alarms.read_alarms(ctx, budget=1)
        assert len(ctx.resources["alarms"]) == 3  # one page holds them
        assert ctx.recorder.errors() == []
    session.events.register("before-call.cloudwatch.DescribeAlarms", denied("DescribeAlarms"))
    for ctx in _ctx(session, _account()):
        alarms.collect_alarms(ctx)
        assert "alarms" not in ctx.resources
        assert [e["operation"] for e in ctx.recorder.errors()] == ["cloudwatch:DescribeAlarms"]


def test_a_scan_with_logs_calls_get_log_events(session: Any) -> None:
    """The whole collect: the moto account's `web` lost a task to a failed health check, and
    its definition has no logConfiguration: one item, no call, the reason stated."""
    build_account()
    calls = Calls(session)
    bundle = collect(session, Scope(clusters=("prod",), log_lines=50))
    items = bundle["resources"]["log_events"]
    assert [i["reason"] for i in items] == ["failed health checks"]
    assert "no logConfiguration" in items[0]["unavailable"]
    assert "cloudwatch:DescribeAlarms" in calls.actions
    assert "logs:GetLogEvents" not in calls.actions
    assert bundle["resources"]["alarms"] == []


@pytest.mark.parametrize(("errors", "requests", "read"), [(50, 1000, True), (2, 1000, False),
                                                          (4, 10, False)])
def test_a_service_serving_errors_gets_one_running_task_read(
        session: Any, errors: float, requests: float, read: bool) -> None:
    """5xx count only from MIN_ERRORS and ERROR_RATE of the requests: a stray error in a
    healthy service is no reason to spend a call."""
    tg = "targetgroup/web/0123456789abcdef"
    res = _account()
    res["services"][1] = b.service("web", loadBalancers=[{
        "targetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:123456789012:{tg}",
        "containerName": "web", "containerPort": 80}])
    stamps = [(NOW - dt.timedelta(minutes=1)).isoformat()]
    dims = {"TargetGroup": tg, "LoadBalancer": "app/web/1"}
    for ctx in _ctx(session, res):
        ctx.metrics = [{"namespace": "AWS/ApplicationELB", "name": name, "dimensions": dims,
                        "stat": "Sum", "period": 60, "timestamps": stamps, "values": [value]}
                       for name, value in (("HTTPCode_Target_5XX_Count", errors),
                                           ("RequestCount", requests))]
        logs.collect_logs(ctx)
        reasons = {i["reason"] for i in ctx.resources["log_events"]}
    assert ("running: 5xx responses" in reasons) is read


def test_scan_reads_50_lines_by_default_and_0_turns_logs_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from checker import bundle as bundle_mod
    from checker.cli import main
    from checker.cli import scan as cli_scan

    seen: list[Scope] = []

    def fake_scan(scope: Scope, **_: Any) -> dict[str, Any]:
        seen.append(scope)
        return bundle_mod.new_bundle(account="123456789012", region=REGION,
                                     scope={"clusters": ["prod"]})

    monkeypatch.setattr(cli_scan, "run_scan", fake_scan)
    assert main(["scan", "--cluster", "prod", "-f", "json"]) == 0
    assert main(["scan", "--cluster", "prod", "-f", "json", "--log-lines", "0"]) == 0
    assert main(["scan", "--cluster", "prod", "-f", "json", "--log-lines", "-1"]) == 2
    assert [s.log_lines for s in seen] == [50, 0]
