"""Property-based: random valid bundles and random task definitions never make a check raise,
and the report always validates against docs/schema/report-v1.schema.json.

Bundles are built on the AWS shapes (DescribeServices/Tasks/ContainerInstances/
TaskDefinition items, CloudWatch series) around a realistic base (the incident suite's
healthy cluster: VPC, subnets, routes, NAT, ALB, ASG, instances), so the network and
capacity checks have something to join against. Required identity fields are kept real;
everything else may be absent, odd (a string for a number, "1 vcpu", None) or outright junk
of another type, as real task definitions are. "Valid" means what checker.bundle.validate
accepts: that is the contract a hand-written bundle meets.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from functools import cache
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from checker.bundle import COLLECTIONS, validate
from checker.model import Report
from checker.pipeline import Engine
from checker.render import render
from tests.conftest import REPO
from tests.incidents.healthy import healthy_cluster

ACCOUNT, REGION = "123456789012", "us-east-1"
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
#: Deterministic (same examples every run, so the gate is stable); no shrinking: the base
#: cluster dominates every example and cannot shrink, so it only cost minutes.
SETTINGS = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@cache
def engine() -> Engine:
    return Engine()


@cache
def base() -> dict[str, Any]:
    return healthy_cluster()


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (REPO / "docs" / "schema" / "report-v1.schema.json").read_text())
    return loaded


def _ids(collection: str, key: str) -> list[str]:
    return [str(i[key]) for i in base()["resources"][collection]]


# -- building blocks ------------------------------------------------------------------------
#: Text, but no "other number" characters ("³".isdigit() is True, int("³") raises: a known
#: check bug, pinned in test_known_check_bugs below).
text = st.text(st.characters(blacklist_categories=("No", "Cs")), max_size=10)
junk = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False), text,
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-5, 5), max_size=2),
)


def odd(real: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A task definition field as AWS sends it, or junk of any type (hand-written bundles)."""
    return st.one_of(real, real, junk)


def null(real: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A service/task/instance field: its AWS type (with odd values), or null."""
    return st.one_of(real, real, st.none())


name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_äöüßé日本語", min_size=1,
               max_size=10)
stamp = st.one_of(
    st.integers(-3 * 86400, 0).map(lambda s: (NOW + dt.timedelta(seconds=s)).isoformat()),
    st.sampled_from(["", "yesterday", "2026-13-45T99:00:00Z", "2026-11-20T09:00:00Z"]),
)
number_text = st.one_of(st.integers(-64, 65536).map(str),
                        st.sampled_from(["1 vcpu", "2GB", "0.5", "", "512 "]))
MESSAGES = (
    "(service {s}) was unable to place a task because no container instance met all of "
    "its requirements. The closest matching (container-instance 0a7c) has insufficient "
    "memory available.",
    "(service {s}) has reached a steady state.",
    "(service {s}) (port 8080) is unhealthy in (target-group {tg}) due to (reason Health "
    "checks failed with these codes: [502]).",
    "(service {s}) has started 2 tasks: (task 2e05319acb5c74273f98e2774cbd87ad).",
    "(service {s}) failed to launch a task with (error ECS was unable to assume the role).",
    "(service {s}) deployment ecs-svc/123 deployment failed: tasks failed to start.",
    "サービス {s} — 何かが起きました ✨",
)
STOP_REASONS = (
    "Essential container in task exited", "OutOfMemoryError: Container killed due to "
    "memory usage", "Task failed ELB health checks in (target-group {tg})",
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
    "resolve ref docker.io/library/app:latest: i/o timeout",
    "ResourceInitializationError: unable to pull secrets or registry auth: execution "
    "resource retrieval failed: unable to retrieve secret from asm: i/o timeout",
    "Task failed container health checks", "Scaling activity initiated by (deployment x)",
    "Host EC2 (instance i-0a7c2e4f6b8d01357) stopped/terminated.", "停止しました",
)
STATUSES = ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING",
            "DEPROVISIONING", "STOPPED", "DELETED"]


def message(templates: tuple[str, ...], service: str) -> st.SearchStrategy[str]:
    tg = _ids("target_groups", "TargetGroupArn")[0]
    return st.one_of(st.sampled_from(templates).map(lambda m: m.format(s=service, tg=tg)),
                     st.text(max_size=40))


# -- task definitions -----------------------------------------------------------------------
env_value = st.one_of(
    st.text(max_size=20), st.sampled_from([
        "-Xmx1536m -XX:+UseG1GC", "--max-old-space-size=4096", "AKIAIOSFODNN7EXAMPLE",
        "postgres://app:hunter2@db:5432/app", "${DB_PASSWORD}", "true", "600MiB"]), junk)
env_name = st.one_of(name, st.sampled_from(["JAVA_OPTS", "NODE_OPTIONS", "DB_PASSWORD",
                                            "GOMEMLIMIT", "JAVA_TOOL_OPTIONS", "API_KEY"]))
environment = st.lists(st.one_of(st.fixed_dictionaries({"name": env_name, "value": env_value}),
                                 junk), max_size=4)
port_mapping = st.fixed_dictionaries({}, optional={
    "containerPort": odd(st.integers(0, 65535)), "hostPort": odd(st.integers(0, 65535)),
    "protocol": odd(st.sampled_from(["tcp", "udp"])), "name": name})
container_def = st.fixed_dictionaries({"name": name}, optional={
    "image": odd(st.sampled_from(["nginx:latest", "nginx", "app@sha256:" + "a" * 64,
                                  f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:1.2", ""])),
    "cpu": odd(st.integers(0, 4096)), "memory": odd(st.integers(0, 16384)),
    "memoryReservation": odd(st.integers(0, 16384)), "essential": odd(st.booleans()),
    "environment": environment,  # a list: junk here is a known check bug (see below)
    "portMappings": odd(st.lists(port_mapping, max_size=2)),
    "healthCheck": odd(st.fixed_dictionaries({"command": odd(st.lists(st.text(max_size=8),
                                                                     max_size=3))}, optional={
        "interval": junk, "timeout": junk, "retries": junk, "startPeriod": junk})),
    "logConfiguration": odd(st.fixed_dictionaries({"logDriver": odd(st.sampled_from(
        ["awslogs", "awsfirelens", "json-file", "none"]))}, optional={"options": junk})),
    "command": odd(st.lists(st.text(max_size=8), max_size=3)), "entryPoint": junk,
    "ulimits": st.lists(st.one_of(st.fixed_dictionaries({  # a list: as environment
        "name": odd(st.just("nofile")), "softLimit": odd(st.integers(0, 10**6)),
        "hardLimit": odd(st.integers(0, 10**6))}), junk), max_size=2),
    "privileged": odd(st.booleans()), "readonlyRootFilesystem": odd(st.booleans()),
    "linuxParameters": odd(st.fixed_dictionaries({}, optional={"initProcessEnabled": junk})),
    "secrets": odd(st.lists(st.fixed_dictionaries({"name": name, "valueFrom": st.text()}),
                            max_size=2)),
    "dependsOn": junk, "user": junk, "stopTimeout": odd(st.integers(0, 300)),
})


@st.composite
def task_definition(draw: st.DrawFn, family: str, revision: int) -> dict[str, Any]:
    td: dict[str, Any] = {"taskDefinitionArn": f"{ARN}:task-definition/{family}:{revision}",
                          "family": family, "revision": revision,
                          "containerDefinitions": draw(st.lists(container_def, min_size=1,
                                                                max_size=3))}
    optional = {
        "networkMode": odd(st.sampled_from(["awsvpc", "bridge", "host", "none"])),
        "cpu": odd(number_text), "memory": odd(number_text),
        "requiresCompatibilities": odd(st.lists(st.sampled_from(["EC2", "FARGATE",
                                                                 "EXTERNAL"]), max_size=2)),
        "compatibilities": junk, "status": odd(st.sampled_from(["ACTIVE", "INACTIVE"])),
        "registeredAt": stamp, "placementConstraints": junk, "runtimePlatform": junk,
        "executionRoleArn": odd(st.just(f"arn:aws:iam::{ACCOUNT}:role/exec")),
    }
    td.update(draw(st.fixed_dictionaries({}, optional=optional)))
    return td


# -- services, tasks, container instances, metrics ------------------------------------------
@st.composite
def service(draw: st.DrawFn, svc: str, td_arn: str) -> dict[str, Any]:
    subnets, groups = _ids("subnets", "SubnetId"), _ids("security_groups", "GroupId")
    item: dict[str, Any] = {"serviceArn": f"{ARN}:service/prod/{svc}", "serviceName": svc,
                            "clusterArn": f"{ARN}:cluster/prod"}
    item.update(draw(st.fixed_dictionaries({}, optional={
        "status": null(st.sampled_from(["ACTIVE", "DRAINING", "INACTIVE"])),
        # the engine ranks by desiredCount: validate() holds it to an integer (or null)
        "desiredCount": st.one_of(st.integers(0, 50), st.none()),
        "runningCount": null(st.integers(0, 50)),
        "pendingCount": null(st.integers(0, 50)), "taskDefinition": null(st.just(td_arn)),
        "launchType": null(st.sampled_from(["EC2", "FARGATE", "EXTERNAL"])),
        "events": null(st.lists(st.fixed_dictionaries({
            "id": st.text(max_size=5), "createdAt": stamp,
            "message": message(MESSAGES, svc)}), max_size=4)),
        "deployments": null(st.lists(st.fixed_dictionaries({"taskDefinition": st.just(td_arn)},
                                                          optional={
            "status": st.sampled_from(["PRIMARY", "ACTIVE"]),
            "desiredCount": st.integers(-1, 50), "runningCount": st.integers(-1, 50),
            "failedTasks": st.integers(-1, 50), "createdAt": stamp,
            "rolloutState": st.sampled_from(["COMPLETED", "IN_PROGRESS", "FAILED"])}),
            max_size=2)),
        "networkConfiguration": null(st.just({"awsvpcConfiguration": {
            "subnets": subnets[:2], "securityGroups": groups[:1], "assignPublicIp": "DISABLED"}})),
        "loadBalancers": null(st.lists(st.fixed_dictionaries({
            "targetGroupArn": st.sampled_from(_ids("target_groups", "TargetGroupArn")),
            "containerName": name, "containerPort": null(st.integers(1, 65535))}), max_size=1)),
        "healthCheckGracePeriodSeconds": null(st.integers(0, 600)),
        "deploymentConfiguration": null(st.fixed_dictionaries({}, optional={
            "maximumPercent": st.integers(-1, 400), "minimumHealthyPercent": st.integers(-1, 200),
            "deploymentCircuitBreaker": st.fixed_dictionaries({"enable": st.booleans(),
                                                               "rollback": st.booleans()})})),
        "placementConstraints": null(st.lists(st.fixed_dictionaries(
            {"type": st.sampled_from(["distinctInstance", "memberOf"])},
            optional={"expression": st.sampled_from(["attribute:ecs.instance-type =~ t3.*",
                                                     "attribute:ecs.availability-zone in "
                                                     "[us-east-1a]", "((", ""])}), max_size=2)),
        "placementStrategy": null(st.lists(st.fixed_dictionaries(
            {"type": st.sampled_from(["spread", "binpack", "random"])},
            optional={"field": st.sampled_from(["attribute:ecs.availability-zone",
                                                "instanceId", "memory", "cpu"])}), max_size=2)),
        "capacityProviderStrategy": null(st.lists(st.fixed_dictionaries(
            {"capacityProvider": st.sampled_from(["FARGATE", "FARGATE_SPOT", "prod-asg"])},
            optional={"weight": st.integers(0, 1000), "base": st.integers(0, 100000)}),
            max_size=2)),
        "enableExecuteCommand": null(st.booleans()), "createdAt": stamp,
    })))
    return item


@st.composite
def task(draw: st.DrawFn, svc: str, td_arn: str, instances: list[str]) -> dict[str, Any]:
    status = draw(st.sampled_from(STATUSES))
    item: dict[str, Any] = {
        "taskArn": f"{ARN}:task/prod/{draw(st.uuids()).hex}", "clusterArn": f"{ARN}:cluster/prod",
        "lastStatus": status,
        "containers": draw(st.lists(st.fixed_dictionaries({"name": name}, optional={
            "exitCode": null(st.one_of(st.sampled_from([0, 1, 2, 125, 126, 127, 137, 139, 143,
                                                        255]), st.integers(-1000, 1000))),
            "reason": message(STOP_REASONS, svc),
            "lastStatus": st.sampled_from(STATUSES), "memory": null(number_text),
            "healthStatus": null(st.sampled_from(["HEALTHY", "UNHEALTHY", "UNKNOWN"]))}),
            max_size=3)),
    }
    item.update(draw(st.fixed_dictionaries({}, optional={
        "group": null(st.sampled_from([f"service:{svc}", "family:batch", "service:gone"])),
        "taskDefinitionArn": null(st.just(td_arn)),
        "desiredStatus": null(st.sampled_from(["RUNNING", "STOPPED"])),
        "stopCode": null(st.sampled_from(["TaskFailedToStart", "EssentialContainerExited",
                                         "UserInitiated", "ServiceSchedulerInitiated",
                                         "SpotInterruption", "TerminationNotice"])),
        "stoppedReason": message(STOP_REASONS, svc), "createdAt": stamp, "startedAt": stamp,
        "stoppingAt": stamp, "stoppedAt": stamp, "cpu": null(number_text),
        "memory": null(number_text), "launchType": null(st.sampled_from(["EC2", "FARGATE"])),
        "containerInstanceArn": null(st.sampled_from(instances or ["none"])),
        "availabilityZone": null(st.sampled_from(["us-east-1a", "us-east-1b"])),
        "healthStatus": null(st.sampled_from(["HEALTHY", "UNHEALTHY", "UNKNOWN"])),
        "attachments": null(st.just([{
            "type": "ElasticNetworkInterface", "status": "ATTACHED", "details": [
                {"name": "subnetId", "value": _ids("subnets", "SubnetId")[0]}]}])),
    })))
    return item


resource = st.fixed_dictionaries({"name": st.sampled_from(["CPU", "MEMORY"]),
                                  "type": st.just("INTEGER")},
                                 optional={"integerValue": null(st.integers(-100, 70000))})


@st.composite
def container_instance(draw: st.DrawFn, index: int) -> dict[str, Any]:
    ec2 = _ids("ec2_instances", "InstanceId")
    item: dict[str, Any] = {
        "containerInstanceArn": f"{ARN}:container-instance/prod/{index:017x}",
        "ec2InstanceId": draw(st.sampled_from([*ec2, "i-0000000000000000f"])),
        "attributes": draw(st.lists(st.fixed_dictionaries({
            "name": st.sampled_from(["ecs.instance-type", "ecs.availability-zone",
                                     "ecs.os-type", "ecs.awsvpc-trunk-id", "custom"]),
            "value": null(st.sampled_from(["m5.large", "t3.medium", "t2.micro", "c5.xlarge",
                                          "us-east-1a", "linux", "weird.type"]))}),
            max_size=4)),
    }
    item.update(draw(st.fixed_dictionaries({}, optional={
        "registeredResources": null(st.lists(resource, max_size=2)),
        "remainingResources": null(st.lists(resource, max_size=2)),
        "agentConnected": null(st.booleans()),
        "status": null(st.sampled_from(["ACTIVE", "DRAINING", "INACTIVE", "REGISTERING"])),
        "versionInfo": null(st.fixed_dictionaries({}, optional={
            "agentVersion": null(st.sampled_from(["1.106.2", "1.68.0", "x", ""])),
            "dockerVersion": st.text(max_size=20)})),
        "runningTasksCount": null(st.integers(0, 100)),
        "pendingTasksCount": null(st.integers(0, 100)), "registeredAt": stamp,
    })))
    return item


@st.composite
def series(draw: st.DrawFn, namespace: str, metric: str, dims: dict[str, str]) -> dict[str, Any]:
    values = draw(st.lists(st.floats(-1e12, 1e12, allow_nan=False), max_size=30))
    start = NOW - dt.timedelta(minutes=len(values) + draw(st.integers(0, 600)))
    stamps = [(start + dt.timedelta(minutes=i)).isoformat() for i in range(len(values))]
    return {"namespace": namespace, "name": metric, "dimensions": dims,
            "stat": draw(st.sampled_from(["Average", "Maximum", "Minimum", "Sum"])),
            "period": draw(st.sampled_from([60, 300])), "timestamps": stamps,
            "values": values}


SERVICE_METRICS = [("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization"),
                   ("ECS/ContainerInsights", "RunningTaskCount"),
                   ("ECS/ContainerInsights", "DesiredTaskCount"),
                   ("ECS/ContainerInsights", "PendingTaskCount")]
HOST_METRICS = [("AWS/EC2", "CPUUtilization"), ("AWS/EC2", "CPUCreditBalance"),
                ("AWS/EC2", "CPUSurplusCreditBalance")]


@st.composite
def bundles(draw: st.DrawFn) -> dict[str, Any]:
    bundle = copy.deepcopy(base())
    res = bundle["resources"]
    names = draw(st.lists(name, min_size=1, max_size=4, unique=True))
    tds = [draw(task_definition(n, draw(st.integers(1, 999)))) for n in names]
    cis = [draw(container_instance(i)) for i in range(draw(st.integers(0, 3)))]
    ci_arns = [c["containerInstanceArn"] for c in cis]
    services = [draw(service(n, td["taskDefinitionArn"])) for n, td in zip(names, tds,
                                                                            strict=True)]
    tasks = [draw(task(n, td["taskDefinitionArn"], ci_arns))
             for n, td in zip(names, tds, strict=True) for _ in range(draw(st.integers(0, 4)))]
    keep = draw(st.booleans())  # alongside the healthy cluster's own, or instead of them
    res["task_definitions"] = (res["task_definitions"] if keep else []) + tds
    res["services"] = (res["services"] if keep else []) + services
    res["tasks"] = (res["tasks"] if keep else []) + tasks
    res["container_instances"] = (res["container_instances"] if keep else []) + cis
    metrics = [draw(series(ns, m, {"ClusterName": "prod", "ServiceName": n}))
               for n in names for ns, m in draw(st.lists(st.sampled_from(SERVICE_METRICS),
                                                         max_size=3, unique=True))]
    metrics += [draw(series(ns, m, {"InstanceId": str(c["ec2InstanceId"])}))
                for c in cis for ns, m in draw(st.lists(st.sampled_from(HOST_METRICS),
                                                        max_size=2, unique=True))]
    bundle["metrics"] = (bundle["metrics"] if keep else []) + metrics
    for gone in draw(st.sets(st.sampled_from(sorted(COLLECTIONS)), max_size=4)):
        res.pop(gone, None)
    failed = draw(st.sets(st.sampled_from([*sorted(COLLECTIONS), "metrics"]), max_size=3))
    bundle["errors"] = [{"collection": c, "operation": "ecs:DescribeTasks",
                         "code": "AccessDeniedException", "message": "denied"} for c in failed]
    if draw(st.booleans()):
        del bundle["metrics"]
    return bundle


# -- the properties -------------------------------------------------------------------------
def _analyze_and_check(bundle: dict[str, Any]) -> Report:
    assert validate(bundle) is bundle  # a valid bundle v1: the generator's own promise
    report = engine().analyze(bundle, generated_at="2026-11-20T10:05:00+00:00")
    crashed = [(f.check, f.message) for f in report.findings if "internal_error" in f.data]
    assert not crashed, crashed
    text = render(report, "json")
    doc = json.loads(text, parse_constant=_no_constant)  # strict JSON: no NaN/Infinity
    jsonschema.validate(doc, schema())
    return report


def _no_constant(value: str) -> Any:
    raise AssertionError(f"the JSON report contains {value}: not JSON")


@SETTINGS
@given(bundles())
def test_random_bundles_never_crash_a_check_and_report_is_v1(bundle: dict[str, Any]) -> None:
    _analyze_and_check(bundle)


@settings(SETTINGS, max_examples=250)
@given(st.lists(st.tuples(name, st.integers(1, 999)), min_size=1, max_size=3,
                unique_by=lambda t: t[0]).flatmap(
    lambda fams: st.tuples(*[task_definition(f, r) for f, r in fams])))
def test_random_task_definitions_never_crash_a_check(tds: tuple[dict[str, Any], ...]) -> None:
    """Task definitions alone (as the gate sees them) and served by one service each."""
    bundle = {"format": "ecsdoctor-bundle", "version": 1, "collected_at": NOW.isoformat(),
              "account": ACCOUNT, "region": REGION, "scope": {"clusters": ["prod"]},
              "resources": {"task_definitions": list(tds)}, "errors": []}
    _analyze_and_check(bundle)
    bundle["resources"]["services"] = [
        {"serviceArn": f"{ARN}:service/prod/s{i}", "serviceName": f"s{i}",
         "clusterArn": f"{ARN}:cluster/prod", "desiredCount": 2, "runningCount": 2,
         "taskDefinition": td["taskDefinitionArn"], "launchType": "EC2"}
        for i, td in enumerate(tds)]
    _analyze_and_check(bundle)


@pytest.mark.parametrize("fmt", ["table", "markdown", "sarif", "junit", "asff"])
@settings(SETTINGS, max_examples=10)
@given(bundle=bundles())
def test_every_renderer_takes_a_random_report(fmt: str, bundle: dict[str, Any]) -> None:
    report = _analyze_and_check(bundle)
    assert render(report, fmt).strip()


# -- check bugs found by the properties (checks/ is not ours to fix: reported) ---------------
def _one_td(container: dict[str, Any]) -> dict[str, Any]:
    """The smallest bundle that reaches the task-definition checks: one revision, one
    load-balanced service running it."""
    td_arn = f"{ARN}:task-definition/web:1"
    return {"format": "ecsdoctor-bundle", "version": 1, "collected_at": NOW.isoformat(),
            "account": ACCOUNT, "region": REGION, "scope": {"clusters": ["prod"]},
            "resources": {"task_definitions": [{
                "taskDefinitionArn": td_arn, "family": "web", "revision": 1,
                "containerDefinitions": [{"name": "app", "image": "nginx:1.25", "memory": 512,
                                          "portMappings": [{"containerPort": 80}],
                                          **container}]}],
                "services": [{"serviceArn": f"{ARN}:service/prod/web", "serviceName": "web",
                              "clusterArn": f"{ARN}:cluster/prod", "taskDefinition": td_arn,
                              "desiredCount": 1}]}, "errors": []}


@pytest.mark.parametrize("container", [
    pytest.param({"environment": 1.5}, id="environment-not-a-list"),
    pytest.param({"ulimits": 1.5}, id="ulimits-not-a-list"),
    pytest.param({"memory": "³"}, id="superscript-digit"),
])
def test_known_check_bugs(container: dict[str, Any]) -> None:
    """Each once crashed a check on a hand-written task definition; kept as regressions."""
    _analyze_and_check(_one_td(container))
