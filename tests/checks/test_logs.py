"""The log checks (checks/logs.py), the signature table (checks/data/log_signatures.yaml)
and the alarm checks (checks/alarms.py), through the real engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from checks.lib import log_signatures as ls
from checks.lib.knowledge import table
from tests import builders as b
from tests import builders_gate as bg
from tests.checks.harness import run_check, statuses

APP = b.service_arn("prod", "app")
WEB = b.service_arn("prod", "web")
T0 = int(dt.datetime(2026, 11, 20, 9, 40, tzinfo=dt.UTC).timestamp() * 1000)


def _stream(task: dict[str, Any], lines: list[str], service: str = APP,
            **extra: Any) -> dict[str, Any]:
    name = task["group"].removeprefix("service:")
    tid = task["taskArn"].rsplit("/", 1)[-1]
    return {"logGroupName": f"/ecs/{name}", "logStreamName": f"{name}/{name}/{tid}",
            "taskArn": task["taskArn"], "containerName": name, "serviceArn": service,
            "reason": "exited 1",
            "events": [{"timestamp": T0 + i * 1000, "message": m, "ingestionTime": T0 + i * 1000}
                       for i, m in enumerate(lines)], **extra}


def _bundle(*lines: str, unavailable: str | None = None, **extra: Any) -> dict[str, Any]:
    crash = b.crash_task("app")
    stream = _stream(crash, list(lines))
    if unavailable is not None:
        stream.update(events=[], unavailable=unavailable)
    out = b.ecs_bundle([b.service("app"), b.service("web")], [crash, b.task("web")])
    out["resources"]["log_events"] = [stream]
    out["resources"].update(extra)
    return out


START = ["Starting app 2.4.1", "listening on :8080"]
ROWS = [
    ("log-exec-format-error", ["exec /usr/local/bin/server: exec format error"], "fail"),
    ("log-exec-format-error", START, "pass"),
    ("log-no-space-left", ["OSError: [Errno 28] No space left on device: '/tmp/cache'"], "fail"),
    ("log-no-space-left", START, "pass"),
    ("log-access-denied", [
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the "
        "GetObject operation: User: arn:aws:sts::123456789012:assumed-role/app-task/abc is not "
        "authorized to perform: s3:GetObject on resource: arn:aws:s3:::reports/x"], "fail"),
    ("log-access-denied", START, "pass"),
    ("log-dependency-unreachable", ["dial tcp 10.0.3.7:5432: i/o timeout"], "fail"),
    ("log-dependency-unreachable", ["Error: getaddrinfo ENOTFOUND db.internal"], "fail"),
    ("log-dependency-unreachable", START, "pass"),
    ("log-app-errors", ["Traceback (most recent call last):", '  File "app.py", line 3',
                        "ModuleNotFoundError: No module named 'psycopg2'"], "fail"),
    ("log-app-errors", ["panic: runtime error: index out of range [3] with length 3"], "fail"),
    ("log-app-errors", START, "pass"),
    ("container-logs-read", START, "pass"),
]


@pytest.mark.parametrize(("check_id", "lines", "expected"), ROWS)
def test_log_checks(check_id: str, lines: list[str], expected: str) -> None:
    assert statuses(check_id, _bundle(*lines)) == {APP: expected}


def test_lines_that_cannot_be_read_are_unknown_or_lost() -> None:
    firelens = _bundle(unavailable="container app logs with the awsfirelens driver; ...")
    assert statuses("container-logs-read", firelens) == {APP: "unknown"}
    assert statuses("log-app-errors", firelens) == {APP: "skipped"}
    lost = _bundle(unavailable="container app has no logConfiguration: its output is not kept")
    assert statuses("container-logs-read", lost) == {APP: "fail"}


def test_no_log_events_collected_is_unknown_not_pass() -> None:
    bundle = b.ecs_bundle([b.service("app")], [b.crash_task("app")])
    (finding,) = run_check("log-app-errors", bundle)
    assert finding.status.value == "unknown" and "log_events" in finding.message


def test_evidence_quotes_the_line_with_its_time_and_captures() -> None:
    (f,) = run_check("log-access-denied", _bundle(*ROWS[4][1]))
    assert f.data["action"] == "s3:GetObject" and f.data["actions"] == ["s3:GetObject"]
    assert f.data["principal"] == "arn:aws:sts::123456789012:assumed-role/app-task/abc"
    assert "2026-11-20 09:40:00Z app: botocore.exceptions.ClientError" in f.message
    assert len(f.data["line"]) <= ls.QUOTE and f.data["line"].endswith("…")
    (dep,) = run_check("log-dependency-unreachable", _bundle(*ROWS[6][1]))
    assert (dep.data["host"], dep.data["port"], dep.data["kind"]) == (
        "10.0.3.7", "5432", "connection-timeout")
    assert dep.data["hosts"] == ["10.0.3.7:5432"]
    (app,) = run_check("log-app-errors", _bundle(*ROWS[9][1]))
    assert app.data["exception"] == "ModuleNotFoundError"
    assert "No module named 'psycopg2'" in app.message
    assert app.data["kinds"] == ["exception", "traceback"]


def test_exec_format_error_names_the_architecture_the_task_ran_on() -> None:
    bundle = _bundle("exec /app/server: exec format error")
    bundle["resources"]["task_definitions"][0]["runtimePlatform"] = {
        "cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    (f,) = run_check("log-exec-format-error", bundle)
    assert (f.data["architecture"], f.data["architecture_from"]) == (
        "ARM64", "task definition runtimePlatform")
    (g,) = run_check("log-exec-format-error", _bundle("exec /app/server: exec format error"))
    assert g.data["architecture"] == "X86_64" and "Fargate default" in g.message


EXEC = "exec /app/server: exec format error"


def _with_image(*platforms: tuple[str, str], **extra: Any) -> dict[str, Any]:
    """app's crash log says exec format error; ECR holds its image (app:1.4.2, the builders'
    default) as an index of `platforms` (a single-platform manifest when none)."""
    return _bundle(EXEC, ecr_images=[bg.image("app", "1.4.2")],
                   ecr_manifests=[bg.manifest("app", "1.4.2", *platforms)], **extra)


def test_exec_format_error_with_an_image_for_another_cpu_is_a_mismatch() -> None:
    (f,) = run_check("log-exec-format-error", _with_image(("linux", "arm64")))
    assert (f.status.value, f.data["image_arch"], f.data["image_platforms"]) == (
        "fail", "mismatch", "linux/arm64")
    assert "image app:1.4.2 is linux/arm64 only, the task runs on linux/amd64" in f.message
    assert f.data["image"].endswith("/app:1.4.2")


def test_exec_format_error_with_an_image_for_the_tasks_cpu_is_not_the_cpu() -> None:
    (f,) = run_check("log-exec-format-error", _with_image(("linux", "amd64"),
                                                         ("linux", "arm64")))
    assert (f.status.value, f.data["image_arch"]) == ("fail", "match")
    assert "the CPU is not the cause" in f.message and "#! line" in f.message
    arm = _with_image(("linux", "arm64"))
    arm["resources"]["task_definitions"][0]["runtimePlatform"] = {"cpuArchitecture": "ARM64"}
    (g,) = run_check("log-exec-format-error", arm)
    assert g.data["image_arch"] == "match"


@pytest.mark.parametrize(("change", "why"), [
    ("hub", "not in a private ECR registry"),
    ("single", "single-platform image"),
    ("absent", "ecr_images: not collected"),
    ("denied", "needs permission ecr:BatchGetImage"),
    ("gone", "ECR has no image app:1.4.2"),
    ("budget", "budget of images ran out"),
])
def test_exec_format_error_whose_image_cannot_be_read_says_why(change: str, why: str) -> None:
    bundle = _with_image(("linux", "arm64"))
    res = bundle["resources"]
    if change == "hub":
        res["task_definitions"][0]["containerDefinitions"][0]["image"] = "nginx:1.27"
    elif change == "single":
        res["ecr_manifests"] = [bg.manifest("app", "1.4.2")]
    elif change == "absent":
        del res["ecr_images"], res["ecr_manifests"]
    elif change == "denied":
        del res["ecr_manifests"]
        bundle["errors"] = [{"collection": "ecr_manifests", "operation": "ecr:BatchGetImage",
                             "code": "AccessDeniedException", "message": "not authorized"}]
    else:
        res["ecr_images"], res["ecr_manifests"] = [], []
        if change == "budget":
            bundle["errors"] = [{"collection": "ecr_images", "operation": "ecr:DescribeImages",
                                 "code": "Truncated", "level": "warning", "count": 1,
                                 "message": "1 image(s) not read"}]
    (f,) = run_check("log-exec-format-error", bundle)
    assert (f.status.value, f.data["image_arch"]) == ("fail", "unknown")
    assert why in f.data["image_why"] and why in f.message


# -- the table ------------------------------------------------------------------------------
def test_every_signature_has_a_source_and_is_linear() -> None:
    rows = table("log_signatures")["signatures"]
    assert len(ls.signatures()) == len(rows) and all(r["source"].startswith("https://")
                                                     for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


@pytest.mark.parametrize("pattern", [r"(a+)+b", r"x.*y", r"(?:ab{0,9}){0,9}", r"\d+"])
def test_the_loader_refuses_backtracking_patterns(pattern: str) -> None:
    with pytest.raises(ValueError, match="repeat"):
        ls.linear(pattern, "test")


@pytest.mark.parametrize(("line", "kind"), [
    ("Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space", "out-of-memory"),
    ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
     "out-of-memory"),
    ("MemoryError", "out-of-memory"),
    ("fatal error: runtime: out of memory", "out-of-memory"),
    ("Error: listen EADDRINUSE: address already in use :::8080", "address-in-use"),
    ("x509: certificate signed by unknown authority", "tls"),
    ("Error: connect ECONNREFUSED 10.0.1.9:6379", "connection-refused"),
    ("dial tcp: lookup db.internal on 10.0.0.2:53: no such host", "no-such-host"),
    ("(node:1) UnhandledPromiseRejectionWarning: Error: boom", "unhandled-exception"),
    ("write /data/x: no space left on device", "no-space-left"),
])
def test_signatures_classify_runtime_messages(line: str, kind: str) -> None:
    sig = ls.classify(line)
    assert sig is not None and sig.kind == kind


def test_a_match_past_the_searched_part_of_a_line_is_not_seen() -> None:
    """Work is bounded by MAX_LINE, not by the line: a hostile 100 kB line costs the same
    as a 4 kB one."""
    assert ls.classify("x" * ls.MAX_LINE + " exec format error") is None
    assert ls.classify("x" * (ls.MAX_LINE - 40) + " exec format error") is not None


# -- alarms ---------------------------------------------------------------------------------
def _alarm(name: str, state: str, metric: str, **dims: str) -> dict[str, Any]:
    return b.shaped("cloudwatch", "MetricAlarm", {
        "AlarmName": name, "AlarmArn": f"arn:aws:cloudwatch:{b.REGION}:{b.ACCOUNT}:alarm:{name}",
        "StateValue": state, "StateReason": "Threshold Crossed: 3 datapoints were greater",
        "StateTransitionedTimestamp": b.ago(minutes=12), "MetricName": metric,
        "Namespace": "AWS/ECS", "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]})


def _alarm_bundle(*alarms: dict[str, Any]) -> dict[str, Any]:
    out = b.ecs_bundle([b.service("app"), b.service("web")], [])
    out["resources"]["alarms"] = list(alarms)
    return out


def test_alarm_in_alarm_state_is_a_symptom_on_its_service() -> None:
    firing = _alarm("app-cpu", "ALARM", "CPUUtilization", ClusterName="prod", ServiceName="app")
    calm = _alarm("web-cpu", "OK", "CPUUtilization", ClusterName="prod", ServiceName="web")
    found = {f.data["alarm"]: f for f in run_check("alarm-in-alarm-state",
                                                   _alarm_bundle(firing, calm))}
    assert found["app-cpu"].status.value == "fail" and found["app-cpu"].service == APP
    assert found["app-cpu"].data["since"] == firing["StateTransitionedTimestamp"]
    assert found["web-cpu"].status.value == "pass" and found["web-cpu"].service == WEB


def test_service_no_alarms_names_what_is_missing() -> None:
    alarms = [_alarm(f"app-{m}", "OK", m, ClusterName="prod", ServiceName="app")
              for m in ("CPUUtilization", "MemoryUtilization")]
    assert statuses("service-no-alarms", _alarm_bundle(*alarms)) == {APP: "pass", WEB: "fail"}
    (web,) = [f for f in run_check("service-no-alarms", _alarm_bundle(*alarms))
              if f.service == WEB]
    assert web.data["missing"] == ["CPU", "memory"]  # no load balancer: 5xx/hosts not asked
