"""The scheduled audit (checker.audit.handler) end to end against moto: one account with an
OOM incident, the real collectors and engine, and every sink read back through its own API.

moto 5.2 does not implement securityhub:BatchUpdateFindings; :class:`WorkflowUpdates` answers
it on moto's stored findings through botocore's ``before-call`` hook (the Stubber-style fault
injection DESIGN.md allows for what moto cannot do). Everything else is moto's public API.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from checker.audit.handler import SINK_RESERVE, handler, run, scan_deadline, scope_key
from checker.audit.sinks import SUBJECT_MAX, Audit, Config, html_key, s3_keys, subject
from checker.collect import DEFAULT_TIMEOUT
from checker.demo import moto_seed
from checker.errors import InputError
from checker.model import Diagnosis, Report, Severity

REGION, ACCOUNT = "us-east-1", "123456789012"
BUCKET, NAMESPACE = "audit-reports", "ECSDoctorTest"
OOM = "OutOfMemoryError: Container killed due to memory usage"
REPO = Path(__file__).resolve().parent.parent


def _client(name: str) -> Any:
    return boto3.client(name, region_name=REGION)


def build_incident(cluster: str = "prod") -> None:
    """Service web: 3 of 4 tasks OOM-killed (memory-undersized), circuit breaker off."""
    ecs = _client("ecs")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "nginx:1", "memory": 256}])
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition="web", desiredCount=2,
                       launchType="FARGATE")
    tasks = ecs.run_task(cluster=cluster, taskDefinition="web", count=4, launchType="FARGATE",
                         group="service:web", startedBy="ecs-svc/1")["tasks"]
    for task in tasks[:3]:
        moto_seed.stop_task_with(task["taskArn"], stop_code="EssentialContainerExited",
                                 stopped_reason="Essential container in task exited",
                                 containers=[{"name": "web", "exit_code": 137, "reason": OOM}])


def circuit_breaker(on: bool, cluster: str = "prod") -> None:
    _client("ecs").update_service(cluster=cluster, service="web", deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": on, "rollback": on}})


@pytest.fixture
def sinks(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """S3 bucket, SNS topic (an SQS queue subscribed to read it back), Security Hub on."""
    _client("s3").create_bucket(Bucket=BUCKET)
    sns, sqs = _client("sns"), _client("sqs")
    topic = sns.create_topic(Name="ecsdoctor")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    _client("securityhub").enable_security_hub()
    env = {"ECSDOCTOR_S3_BUCKET": BUCKET, "ECSDOCTOR_S3_PREFIX": "audits",
           "ECSDOCTOR_SNS_TOPIC_ARN": topic, "ECSDOCTOR_SECURITY_HUB": "1",
           "ECSDOCTOR_METRICS_NAMESPACE": NAMESPACE}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {**env, "queue": queue}


class WorkflowUpdates:
    """BatchUpdateFindings for moto: sets Workflow on the stored findings, records calls."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.calls: list[dict[str, Any]] = []
        op = "securityhub.BatchUpdateFindings"
        session.events.register(f"before-parameter-build.{op}", self._params)
        session.events.register(f"before-call.{op}", self._answer)

    def _params(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(copy.deepcopy(params))

    def _answer(self, **_: Any) -> tuple[Any, dict[str, Any]]:
        from moto.securityhub.models import securityhub_backends

        params = self.calls[-1]
        stored = {f.id: f for f in securityhub_backends[ACCOUNT][REGION].findings}
        for ident in params["FindingIdentifiers"]:
            stored[ident["Id"]].data["Workflow"] = dict(params["Workflow"])
        return SimpleNamespace(status_code=200, headers={}), {
            "ProcessedFindings": params["FindingIdentifiers"], "UnprocessedFindings": []}


def _session() -> tuple[boto3.session.Session, WorkflowUpdates]:
    session = boto3.session.Session(region_name=REGION)
    return session, WorkflowUpdates(session)


def _findings() -> dict[str, dict[str, Any]]:
    pages = _client("securityhub").get_paginator("get_findings").paginate()
    found = [f for page in pages for f in page["Findings"]]
    assert len(found) == len({f["Id"] for f in found}), "duplicate finding ids"
    return {f["Id"]: f for f in found}


def _messages(queue: str) -> list[dict[str, Any]]:
    received = _client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in received.get("Messages", [])]


def _metric(name: str, **dims: str) -> float | None:
    now = dt.datetime.now(dt.UTC)
    dimensions = [{"Name": "Account", "Value": ACCOUNT}, {"Name": "Region", "Value": REGION}]
    dimensions += [{"Name": k, "Value": v} for k, v in dims.items()]
    points = _client("cloudwatch").get_metric_statistics(
        Namespace=NAMESPACE, MetricName=name, Dimensions=dimensions,
        StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
        Period=60, Statistics=["Maximum"])["Datapoints"]
    return max((p["Maximum"] for p in points), default=None)


def test_handler_end_to_end(sinks: dict[str, str]) -> None:
    build_incident()
    summary = handler({"clusters": ["prod"]}, None)
    assert summary["status"] == "ok", summary["errors"]
    assert summary["diagnoses_by_severity"]["high"] >= 1
    assert json.loads(json.dumps(summary)) == summary  # a Lambda result must be JSON
    s3 = summary["sinks"]["s3"]
    assert s3["report_key"].startswith(f"audits/{ACCOUNT}/{REGION}/")
    body = _client("s3").get_object(Bucket=BUCKET, Key=s3["report_key"])
    report = json.loads(body["Body"].read())
    assert body["ContentType"] == "application/json"
    assert report["format"] == "ecsdoctor-report"
    assert "memory-undersized" in [d["id"] for d in report["diagnoses"]]
    assert len(report["diagnoses"]) == summary["diagnoses"]
    markdown = _client("s3").get_object(Bucket=BUCKET, Key=s3["summary_key"])["Body"].read()
    assert markdown.decode().startswith("# ecsdoctor report")
    page = _client("s3").get_object(Bucket=BUCKET, Key=s3["html_key"])
    assert s3["html_key"] == s3["report_key"].removesuffix(".json") + ".html"  # beside it
    assert page["ContentType"] == "text/html; charset=utf-8"
    html = page["Body"].read().decode()
    assert html.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in html
    assert all(f'id="d{d["rank"]}"' in html for d in report["diagnoses"])

    (note,) = _messages(sinks["queue"])
    assert len(note["Subject"]) <= SUBJECT_MAX and note["Subject"].isascii()
    assert f"highest {summary['highest_severity']}" in note["Subject"]
    assert "memory-undersized" in note["Message"] and s3["report_key"] in note["Message"]
    assert s3["html_key"] in note["Message"]
    assert note["MessageAttributes"]["severity"]["Value"] in {"critical", "high"}

    findings = _findings()
    assert summary["sinks"]["securityhub"]["imported"] == len(findings) > 0
    generators = Counter(f["GeneratorId"] for f in findings.values())
    assert generators["ecsdoctor/diagnosis/memory-undersized"] == 1
    assert generators["ecsdoctor/check/stopped-task-oom"] == 1
    assert {f["ProductFields"]["ecsdoctor/ScopeKey"] for f in findings.values()} == {"prod"}

    for severity, count in summary["diagnoses_by_severity"].items():
        assert _metric("Diagnoses", Severity=severity) == count
    assert _metric("FailingFindings", Severity="critical") == \
        summary["failing_by_severity"]["critical"]
    assert _metric("CollectionErrors") == 0.0
    assert _metric("SinkErrors") == 0.0


def test_a_second_run_updates_archives_and_reopens(
        sinks: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    build_incident()
    session, workflow = _session()
    first = run({}, os.environ, session=session)
    before = _findings()
    breaker = [i for i, f in before.items()
               if f["GeneratorId"] == "ecsdoctor/check/service-circuit-breaker-off"]
    assert len(breaker) == 1 and first["scope_key"] == "all"

    circuit_breaker(True)
    monkeypatch.setattr("checker.pipeline.now_iso", lambda: "2099-01-01T00:00:00+00:00")
    second = run({}, os.environ, session=session)
    after = _findings()
    assert second["status"] == "ok", second["errors"]
    assert set(after) == set(before), "same ids, nothing duplicated"
    assert second["sinks"]["securityhub"] | {"imported": 0} == {
        "product_arn": first["sinks"]["securityhub"]["product_arn"], "imported": 0,
        "archived": 1, "resolved": 1, "failed": 0}
    resolved = after[breaker[0]]
    assert resolved["RecordState"] == "ARCHIVED" and resolved["Workflow"]["Status"] == "RESOLVED"
    assert workflow.calls == [{"FindingIdentifiers": [
        {"Id": breaker[0], "ProductArn": resolved["ProductArn"]}],
        "Workflow": {"Status": "RESOLVED"}}]
    still = [f for i, f in after.items() if i != breaker[0]]
    assert {f["RecordState"] for f in still} == {"ACTIVE"}
    assert {f["UpdatedAt"] for f in still} == {"2099-01-01T00:00:00.000Z"}
    assert all(f["CreatedAt"] == before[f["Id"]]["CreatedAt"] for f in still), "first seen kept"
    assert second["sinks"]["s3"]["report_key"] != first["sinks"]["s3"]["report_key"]

    circuit_breaker(False)  # the problem is back: the same finding, active again
    third = run({}, os.environ, session=session)
    assert third["sinks"]["securityhub"]["archived"] == 0
    assert _findings()[breaker[0]]["RecordState"] == "ACTIVE"
    assert len(_findings()) == len(before)


def test_a_failing_sink_does_not_stop_the_others(
        sinks: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    build_incident()
    monkeypatch.setenv("ECSDOCTOR_SNS_TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such")
    summary = handler({}, None)
    assert summary["status"] == "sink-errors"
    assert [e["sink"] for e in summary["errors"]] == ["sns"]
    assert "NotFound" in summary["errors"][0]["error"]
    assert set(summary["sinks"]) == {"s3", "securityhub", "metrics"}
    assert _findings() and _metric("SinkErrors") == 1.0


def test_a_bad_setting_fails_only_its_sink(sinks: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    build_incident()
    monkeypatch.setenv("ECSDOCTOR_NOTIFY_SEVERITY", "urgent")
    monkeypatch.setenv("ECSDOCTOR_SECURITY_HUB", "no")
    summary = handler({}, None)
    assert summary["errors"] == [{"sink": "sns", "error": (
        "ValueError: ECSDOCTOR_NOTIFY_SEVERITY='urgent': expected one of critical, high, "
        "medium, low, info")}]
    assert set(summary["sinks"]) == {"s3", "metrics"}


def test_nothing_at_the_threshold_sends_nothing(sinks: dict[str, str]) -> None:
    _client("ecs").create_cluster(clusterName="quiet")
    summary = handler({"clusters": "quiet"}, None)
    assert summary["sinks"]["sns"] == {"published": False, "reason": "nothing at or above high"}
    assert _messages(sinks["queue"]) == []
    assert summary["sinks"]["securityhub"]["imported"] == 0
    assert _metric("Diagnoses", Severity="high") == 0.0


def test_without_sinks_it_only_scans(aws: None) -> None:
    build_incident()
    summary = run({}, {"ECSDOCTOR_METRICS_NAMESPACE": "off"},
                  session=boto3.session.Session(region_name=REGION))
    assert summary["sinks"] == {} and summary["errors"] == []
    assert summary["diagnoses"] >= 1


@pytest.mark.parametrize(("event", "env", "clusters", "key"), [
    ({"clusters": ["prod"]}, {"ECSDOCTOR_CLUSTERS": "staging"}, ["prod"], "prod"),
    ({"clusters": "staging, prod"}, {}, ["prod", "staging"], "prod,staging"),
    ({}, {"ECSDOCTOR_CLUSTERS": "staging"}, ["staging"], "staging"),
    ({"detail-type": "Scheduled Event", "region": REGION}, {}, ["prod", "staging"], "all"),
])
def test_which_clusters(aws: None, event: dict[str, Any], env: dict[str, str],
                        clusters: list[str], key: str) -> None:
    for name in ("prod", "staging"):
        _client("ecs").create_cluster(clusterName=name)
    summary = run(event, {"ECSDOCTOR_METRICS_NAMESPACE": "off", **env},
                  session=boto3.session.Session(region_name=REGION))
    assert sorted(c.rsplit("/", 1)[-1] for c in summary["clusters"]) == clusters
    assert summary["scope_key"] == key


def test_scope_key_names_are_sorted_and_bounded() -> None:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"
    assert scope_key(("staging", arn)) == "prod,staging"
    assert scope_key(tuple(f"cluster-{i:03}" for i in range(40))).startswith("sha256:")


def test_no_cluster_in_the_region(aws: None) -> None:
    summary = run({}, {}, session=boto3.session.Session(region_name=REGION))
    assert summary == {"status": "no-clusters", "region": REGION, "clusters": [], "errors": []}


@pytest.mark.parametrize("event", [{"clusters": ["nope"]}, {"clusters": 3}])
def test_a_scan_that_cannot_start_fails_the_invocation(aws: None,
                                                       event: dict[str, Any]) -> None:
    _client("ecs").create_cluster(clusterName="prod")
    with pytest.raises(InputError):
        handler(event, None)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, Config()),
    ({"ECSDOCTOR_CLUSTERS": " a,b ,,a", "ECSDOCTOR_S3_BUCKET": "bkt",
      "ECSDOCTOR_S3_PREFIX": "/x/y/", "ECSDOCTOR_SECURITY_HUB": "TRUE",
      "ECSDOCTOR_NOTIFY_SEVERITY": "Critical", "ECSDOCTOR_METRICS_NAMESPACE": "Ops"},
     Config(clusters=("a", "b"), s3_bucket="bkt", s3_prefix="x/y", security_hub=True,
            notify_severity="critical", metrics_namespace="Ops")),
    ({"ECSDOCTOR_S3_BUCKET": "", "ECSDOCTOR_SECURITY_HUB": "0",
      "ECSDOCTOR_METRICS_NAMESPACE": "off"}, Config(metrics_namespace=None)),
    ({"ECSDOCTOR_METRICS_NAMESPACE": ""}, Config(metrics_namespace=None)),
])
def test_config_from_env(env: dict[str, str], expected: Config) -> None:
    assert Config.from_env(env) == expected


def _audit(title: str = "Memory limit too low", account: str = ACCOUNT) -> Audit:
    diagnosis = Diagnosis("memory-undersized", title, "memory-oom", Severity.HIGH, 0.8, 5.6,
                          (f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web",), "s", (), (),
                          (), rank=1)
    report = Report(generated_at="2026-11-20T10:05:09+00:00", account=account, region=REGION,
                    scope={"clusters": ["prod"]}, diagnoses=(diagnosis,), findings=())
    return Audit(report, "{}", "# r", "prod", REGION)


@pytest.mark.parametrize("title", ["Memory limit too low", "Mémoire → trop basse " * 10])
def test_subject_is_short_ascii_one_line(title: str) -> None:
    text = subject(_audit(title), 1, 0)
    assert len(text) <= SUBJECT_MAX and text.isascii() and "\n" not in text
    assert text.startswith(f"ecsdoctor {ACCOUNT}/{REGION}: 1 diagnosis, highest high")


def test_s3_keys() -> None:
    assert s3_keys("audits", _audit()) == (
        f"audits/{ACCOUNT}/{REGION}/2026-11-20/100509Z-report.json",
        f"audits/{ACCOUNT}/{REGION}/2026-11-20/100509Z-summary.md")
    assert s3_keys("", _audit())[0].startswith(f"{ACCOUNT}/")
    assert html_key("audits", _audit()) == (
        f"audits/{ACCOUNT}/{REGION}/2026-11-20/100509Z-report.html")


LAMBDA_IMPORTS = """
import resource, sys
import checker.audit.handler
loaded = sorted(m for m in ("rich", "typer", "moto") if m in sys.modules)
assert not loaded, f"the Lambda path imports {loaded}"
"""

LAMBDA_RUN = LAMBDA_IMPORTS + """
def peak_mib():
    # VmHWM of this process; ru_maxrss would carry over the forking parent's peak
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
before = set(sys.modules)
import boto3
from moto import mock_aws
from moto.moto_api import state_manager
with mock_aws():
    state_manager.set_transition(model_name="ecs::task",
                                 transition={"progression": "manual", "times": 10**9})
    boto3.client("ecs", region_name="us-east-1").create_cluster(clusterName="prod")
    base = peak_mib()
    summary = checker.audit.handler.handler({}, None)
after = {m for m in set(sys.modules) - before if not m.startswith(("moto", "flask", "werkzeug"))}
assert summary["status"] == "ok", summary
loaded = sorted(m for m in after if m.split(".")[0] in ("rich", "typer"))
assert not loaded, f"a handler run imports {loaded}"
print(base, peak_mib())
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECSDOCTOR_")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_lambda_path_imports_no_cli_libraries() -> None:
    done = _python(LAMBDA_IMPORTS)
    assert done.returncode == 0, done.stderr


def test_a_handler_run_stays_small() -> None:
    """No rich/typer during a run either; peak RSS far under the function's 512 MB even
    with moto's ~200 MiB in the same process (docs/audit.md has the numbers without it)."""
    done = _python(LAMBDA_RUN)
    assert done.returncode == 0, done.stderr
    before, peak = (int(n) for n in done.stdout.split()[-2:])
    assert peak < 400 and peak - before < 100, f"peak RSS {peak} MiB ({before} before the run)"


class LambdaContext:
    """The part of the Lambda runtime's ``context`` the handler reads: the time left."""

    def __init__(self, remaining_s: float) -> None:
        self._end = time.monotonic() + remaining_s

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self._end - time.monotonic()) * 1000)


INVOCATION_S = 30.0  # the scan gets half: less than twice SINK_RESERVE is left


def test_a_silent_describe_services_still_leaves_time_for_every_sink(
        sinks: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """DescribeServices never answers (moto's backend held until the test ends): the scan
    stops at the invocation's remaining time less the reserve, the report says what was not
    read, and S3, SNS, Security Hub and metrics all run on it before the invocation ends."""
    from moto.ecs.models import EC2ContainerServiceBackend

    build_incident()
    release = threading.Event()
    original = EC2ContainerServiceBackend.describe_services

    def silent(self: Any, *args: Any, **kwargs: Any) -> Any:
        release.wait(120)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EC2ContainerServiceBackend, "describe_services", silent)
    start = time.monotonic()
    try:
        summary = handler({"clusters": ["prod"]}, LambdaContext(INVOCATION_S))
    finally:
        release.set()
    took = time.monotonic() - start
    assert INVOCATION_S / 2 - 0.5 <= took < INVOCATION_S, took
    assert summary["status"] == "ok", summary["errors"]
    assert set(summary["sinks"]) == {"s3", "sns", "securityhub", "metrics"}
    report = json.loads(_client("s3").get_object(
        Bucket=BUCKET, Key=summary["sinks"]["s3"]["report_key"])["Body"].read())
    cut = [e for e in report["errors"] if e["collection"] == "services"]
    assert [(e["operation"], e["code"]) for e in cut] == [("ecs:DescribeServices",
                                                            "ScanTimeout")]
    assert cut[0]["message"] == ("not read within the scan's 15 s time limit "
                                 "(the Lambda invocation's remaining time)")
    assert _metric("CollectionErrors") == summary["collection_errors"] >= 1
    # SNS ran, and found nothing at or above its threshold in what was read
    assert summary["sinks"]["sns"]["published"] is False


@pytest.mark.parametrize(("remaining_s", "scan_s"), [
    (900.0, 900.0 - SINK_RESERVE),  # Lambda's longest timeout
    (300.0, 300.0 - SINK_RESERVE),  # the template's
    (100.0, 50.0),  # less than twice the reserve: half
    (0.5, 0.25),
])
def test_the_scan_deadline_is_the_invocations_remaining_time_less_the_reserve(
        remaining_s: float, scan_s: float) -> None:
    deadline = scan_deadline(LambdaContext(remaining_s))
    assert deadline.seconds == pytest.approx(scan_s, abs=0.05)
    assert deadline.origin == "the Lambda invocation's remaining time"


def test_without_a_context_the_scan_gets_the_cli_default() -> None:
    assert scan_deadline(None).seconds == DEFAULT_TIMEOUT
