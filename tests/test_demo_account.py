"""The embedded demo account (checker.demo.run) and the moto seeding helpers
(checker.demo.moto_seed).

Three parts, in this order on purpose:

1. each seed helper in-process under the conftest ``aws`` fixture (mock_aws);
2. the demo account's lifecycle: a hostile environment in, nothing changed and nothing left
   running out, also when the body raises;
3. the scenario, read through real boto3 clients over HTTP, as the collectors read it.

Part 3 shares one demo account, class-scoped so that it is closed before anything else in the
process uses moto: moto's backends are process-global and ``mock_aws`` resets them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from checker.demo import moto_seed
from checker.demo import scenario as sc
from checker.demo.run import DemoAccount, demo_account

REGION, ACCOUNT = "us-east-1", "123456789012"
SERVICES = {s.name: s for s in sc.SERVICES}


# --- 1. seed helpers, in-process ---------------------------------------------------------


def _client(name: str) -> Any:
    return boto3.client(name, region_name=REGION)


def _ecs_task(network_mode: str = "bridge") -> tuple[Any, str]:
    """A cluster, a service and one Fargate task (bridge mode: no ENI, no EC2 backend)."""
    ecs = _client("ecs")
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="app", networkMode=network_mode, containerDefinitions=[
        {"name": "app", "image": "app:1", "memory": 512},
        {"name": "envoy", "image": "envoy:1", "memoryReservation": 64, "essential": False}])
    ecs.create_service(cluster="c", serviceName="app", taskDefinition="app", desiredCount=1)
    task = ecs.run_task(cluster="c", taskDefinition="app", launchType="FARGATE",
                        group="service:app")["tasks"][0]
    return ecs, task["taskArn"]


def test_freeze_and_unfreeze(aws: None) -> None:
    ecs, arn = _ecs_task()
    assert moto_seed.tasks_frozen()  # the aws fixture froze it
    for _ in range(3):
        assert ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"
    moto_seed.unfreeze_tasks()
    moto_seed.unfreeze_tasks()  # idempotent
    assert not moto_seed.tasks_frozen()
    statuses = [ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]["lastStatus"]
                for _ in range(3)]
    assert statuses != ["RUNNING"] * 3  # moto's own progression is back
    moto_seed.freeze_tasks_running()
    assert moto_seed.tasks_frozen()


def test_stop_task_with(aws: None) -> None:
    ecs, arn = _ecs_task()
    started = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
    stopped = started + dt.timedelta(hours=8)
    moto_seed.stop_task_with(
        arn, stop_code="EssentialContainerExited", stopped_reason=sc.ESSENTIAL_EXITED,
        started_at=started, stopped_at=stopped,
        containers=[{"name": "app", "exit_code": 137, "reason": sc.OOM},
                    {"name": "envoy", "exit_code": 0}])
    task = ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]
    assert (task["lastStatus"], task["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert (task["stopCode"], task["stoppedReason"]) == ("EssentialContainerExited",
                                                         sc.ESSENTIAL_EXITED)
    assert (task["startedAt"], task["stoppedAt"]) == (started, stopped)
    assert task["startedAt"] < task["stoppingAt"] < task["stoppedAt"]
    containers = {c["name"]: c for c in task["containers"]}
    assert containers["app"]["exitCode"] == 137
    assert containers["app"]["reason"] == sc.OOM
    assert containers["app"]["memory"] == "512"
    assert (containers["envoy"]["exitCode"], containers["envoy"]["memoryReservation"]) == (0, "64")
    assert "reason" not in containers["envoy"]
    assert {c["taskArn"] for c in task["containers"]} == {arn}  # moto puts the td ARN there
    assert arn in _client("ecs").list_tasks(cluster="c", desiredStatus="STOPPED")["taskArns"]
    with pytest.raises(KeyError, match="sidecar"):
        moto_seed.stop_task_with(arn, stop_code="x", stopped_reason="x",
                                 containers=[{"name": "sidecar"}])


def test_enrich_task(aws: None) -> None:
    ecs, arn = _ecs_task()
    at = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
    moto_seed.enrich_task(arn, started_at=at, availability_zone="us-east-1b", cpu="256",
                          memory="512", health_status="HEALTHY",
                          containers=[{"name": "app", "health_status": "HEALTHY"},
                                      {"name": "envoy"}])
    task = ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]
    assert (task["startedAt"], task["availabilityZone"], task["cpu"], task["memory"],
            task["healthStatus"]) == (at, "us-east-1b", "256", "512", "HEALTHY")
    assert [(c["name"], c["lastStatus"], "exitCode" in c) for c in task["containers"]] == [
        ("app", "RUNNING", False), ("envoy", "RUNNING", False)]  # no exit code while running
    moto_seed.enrich_task(arn, last_status="PENDING", containers=[{"name": "app"}])
    task = ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == task["containers"][0]["lastStatus"] == "PENDING"


def test_add_service_event_keeps_newest_first(aws: None) -> None:
    ecs, _ = _ecs_task()
    t0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    moto_seed.add_service_event("c", "app", "second", when=t0 + dt.timedelta(minutes=5))
    moto_seed.add_service_event("c", "app", "first", when=t0)
    moto_seed.add_service_event("c", "app", "third", when=t0 + dt.timedelta(minutes=9))
    events = ecs.describe_services(cluster="c", services=["app"])["services"][0]["events"]
    assert [e["message"] for e in events] == ["third", "second", "first"]
    assert len({e["id"] for e in events}) == 3


def test_set_service_and_cluster_fields(aws: None) -> None:
    ecs, _ = _ecs_task()
    breaker = {"deploymentCircuitBreaker": {"enable": True, "rollback": False},
               "maximumPercent": 200, "minimumHealthyPercent": 100}
    moto_seed.set_service_fields(
        "c", "app", running_count=0, pending_count=0, deployment_configuration=breaker,
        health_check_grace_period_seconds=60,
        deployment={"rolloutState": "FAILED", "rolloutStateReason": sc.CIRCUIT_BREAKER,
                    "failedTasks": 6})
    svc = ecs.describe_services(cluster="c", services=["app"])["services"][0]
    assert (svc["runningCount"], svc["pendingCount"], svc["desiredCount"]) == (0, 0, 1)
    assert svc["deploymentConfiguration"] == breaker
    assert svc["healthCheckGracePeriodSeconds"] == 60
    primary = svc["deployments"][0]
    assert (primary["rolloutState"], primary["rolloutStateReason"], primary["failedTasks"]) == (
        "FAILED", sc.CIRCUIT_BREAKER, 6)
    moto_seed.set_cluster_fields("c", active_services_count=1, running_tasks_count=0)
    cluster = ecs.describe_clusters(clusters=["c"])["clusters"][0]
    assert (cluster["activeServicesCount"], cluster["runningTasksCount"]) == (1, 0)


def test_set_container_instance_resources(aws: None) -> None:
    ec2, ecs = _client("ec2"), _client("ecs")
    ecs.create_cluster(clusterName="c")
    image = ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": ["al2023-ami-ecs-hvm-*-x86_64"]}])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                 InstanceType="m5.large")["Instances"][0]["InstanceId"]
    ci = ecs.register_container_instance(cluster="c", instanceIdentityDocument=json.dumps(
        {"instanceId": instance}))["containerInstance"]["containerInstanceArn"]
    moto_seed.set_container_instance_resources(
        "c", ci, cpu=2048, memory=7680, remaining_cpu=512, remaining_memory=1024,
        attributes={"ecs.awsvpc-trunk-id": "eni-0123"}, running_tasks_count=3,
        version_info={"agentVersion": "1.107.0", "agentHash": "x", "dockerVersion": "25"})
    got = ecs.describe_container_instances(cluster="c", containerInstances=[ci])
    inst = got["containerInstances"][0]

    def resources(key: str) -> dict[str, int]:
        return {r["name"]: r["integerValue"] for r in inst[key] if r["name"] in ("CPU", "MEMORY")}

    assert resources("registeredResources") == {"CPU": 2048, "MEMORY": 7680}
    assert resources("remainingResources") == {"CPU": 512, "MEMORY": 1024}
    assert {"name": "ecs.awsvpc-trunk-id", "value": "eni-0123"} in inst["attributes"]
    assert (inst["runningTasksCount"], inst["versionInfo"]["agentVersion"]) == (3, "1.107.0")


def test_set_task_eni_address(aws: None) -> None:
    ec2, ecs = _client("ec2"), _client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.32.0/19")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="t", Description="t", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="app", networkMode="awsvpc", containerDefinitions=[
        {"name": "app", "image": "app:1", "memory": 512}])
    arn = ecs.run_task(cluster="c", taskDefinition="app", launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {
                           "subnets": [subnet], "securityGroups": [sg]}},  # moto needs the SG
                       )["tasks"][0]["taskArn"]
    moto_seed.set_task_eni_address(arn, "10.0.32.40")
    task = ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert details["privateIPv4Address"] == "10.0.32.40"
    assert details["privateDnsName"] == "ip-10-0-32-40.ec2.internal"
    eni = ec2.describe_network_interfaces(
        NetworkInterfaceIds=[details["networkInterfaceId"]])["NetworkInterfaces"][0]
    assert (eni["PrivateIpAddress"], eni["RequesterManaged"]) == ("10.0.32.40", True)
    assert eni["Description"].startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:attachment/")


@pytest.fixture
def patched() -> Iterator[None]:
    """moto's classes patched for the test, and put back after it."""
    moto_seed.install_patches()
    yield
    moto_seed.uninstall_patches()
    moto_seed.reset_overrides()


def test_stop_task_that_never_started(aws: None) -> None:
    ecs, arn = _ecs_task()
    reason = sc.PULL_TIMEOUT.format(registry="r", repository="app", digest="sha256:0")
    moto_seed.stop_task_with(arn, stop_code="TaskFailedToStart", stopped_reason=reason,
                             containers=[{"name": "app", "reason": reason}, {"name": "envoy"}],
                             never_started=True)
    task = ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]
    assert (task["lastStatus"], task["stopCode"]) == ("STOPPED", "TaskFailedToStart")
    assert "startedAt" not in task and task["stoppingAt"] < task["stoppedAt"]
    assert [("exitCode" in c, c.get("reason")) for c in task["containers"]] == [
        (False, reason), (False, None)]


def test_vpc_helpers_blackhole_and_nat(aws: None, patched: None) -> None:
    ec2 = _client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    moto_seed.install_patches()  # again: idempotent
    routes = ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]
    assert {r["State"] for r in routes} == {"active"}  # patched, but nothing overridden yet
    moto_seed.blackhole_route(rt)
    states = {r.get("DestinationCidrBlock"): r["State"] for r in
              ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]}
    assert states == {"10.0.0.0/16": "active", "0.0.0.0/0": "blackhole"}
    with pytest.raises(KeyError):
        moto_seed.blackhole_route(rt, "192.168.0.0/16")
    moto_seed.set_nat_state(nat, "failed", failure_code="Gateway.NotAttached",
                            failure_message="Network vpc-x has no Internet gateway attached")
    got = ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]
    assert (got["State"], got["FailureCode"]) == ("failed", "Gateway.NotAttached")
    created = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    deleted = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    ec2.delete_nat_gateway(NatGatewayId=nat)
    moto_seed.set_nat_state(nat, "deleted", created_at=created, delete_time=deleted)
    got = ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]
    assert (got["State"], got["CreateTime"], got["DeleteTime"]) == ("deleted", created, deleted)
    moto_seed.uninstall_patches()
    routes = ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]
    assert {r["State"] for r in routes} == {"active"}  # moto's own property is back


def test_credit_specs_and_target_health(aws: None, patched: None) -> None:
    ec2, elbv2 = _client("ec2"), _client("elbv2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    burst, plain = (ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=t)
                    ["Instances"][0]["InstanceId"] for t in ("t3.medium", "m5.large"))
    moto_seed.patch_credit_specs()  # already in: idempotent
    moto_seed.patch_target_health()
    try:
        specs = ec2.describe_instance_credit_specifications(InstanceIds=[burst, plain])
        modes = {s["InstanceId"]: s["CpuCredits"] for s in specs["InstanceCreditSpecifications"]}
        assert modes == {burst: "unlimited", plain: "standard"}  # the AWS defaults
        moto_seed.CREDIT_MODE[burst] = "standard"
        specs = ec2.describe_instance_credit_specifications(InstanceIds=[burst])
        assert specs["InstanceCreditSpecifications"][0]["CpuCredits"] == "standard"

        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        tg = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc,
                                       TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.5"}, {"Id": "10.0.0.6"}])
        moto_seed.TARGET_HEALTH[(tg, "10.0.0.5")] = (
            "unhealthy", "Target.ResponseCodeMismatch",
            "Health checks failed with these codes: [502]")
        health = {d["Target"]["Id"]: d["TargetHealth"] for d in
                  elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}
        assert health["10.0.0.5"]["State"] == "unhealthy"
        assert health["10.0.0.5"]["Reason"] == "Target.ResponseCodeMismatch"
        assert health["10.0.0.6"]["State"] == "healthy"
    finally:
        moto_seed.reset_overrides()
    assert not moto_seed.CREDIT_MODE and not moto_seed.TARGET_HEALTH


def test_indexed_metric_data_answers_as_moto_does(aws: None) -> None:
    """patch_metric_data must only be faster: same values and timestamps as moto's own
    GetMetricData, for every statistic, with and without dimensions, both scan orders."""
    from moto.cloudwatch.models import CloudWatchBackend

    cw = _client("cloudwatch")
    t0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    # moto matches dimensions in the order they were put: "b" (unsorted) never matches
    for ns, name, dims in (("AWS/ECS", "CPUUtilization", {"ClusterName": "c", "ServiceName": "a"}),
                           ("AWS/ECS", "CPUUtilization", {"ServiceName": "b", "ClusterName": "c"}),
                           ("Other", "CPUUtilization", {"ClusterName": "c", "ServiceName": "a"}),
                           ("AWS/EC2", "CPUCreditBalance", {"InstanceId": "i-1"})):
        cw.put_metric_data(Namespace=ns, MetricData=[
            {"MetricName": name, "Timestamp": t0 + dt.timedelta(minutes=m), "Unit": "Percent",
             "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
             "StatisticValues": {"SampleCount": 5.0, "Sum": 5.0 * m, "Minimum": m - 1.0,
                                 "Maximum": m + 1.0}} for m in range(0, 180, 5)])
    queries = [{"Id": f"q{i}", "MetricStat": {"Period": period, "Stat": stat, "Metric": {
        "Namespace": ns, "MetricName": name, "Dimensions": dims}}}
        for i, (ns, name, dims, period, stat) in enumerate(
            (ns, name, dims, period, stat)
            for ns, name, dims in (
                ("AWS/ECS", "CPUUtilization", [{"Name": "ClusterName", "Value": "c"},
                                               {"Name": "ServiceName", "Value": "a"}]),
                ("AWS/ECS", "CPUUtilization", [{"Name": "ServiceName", "Value": "b"},
                                               {"Name": "ClusterName", "Value": "c"}]),
                ("AWS/EC2", "CPUCreditBalance", [{"Name": "InstanceId", "Value": "i-1"}]),
                ("AWS/EC2", "CPUCreditBalance", []))
            for period in (60, 300, 900)
            for stat in ("Average", "Maximum", "Minimum", "Sum", "SampleCount"))]
    from moto.cloudwatch.models import cloudwatch_backends

    moto_seed.uninstall_patches()  # moto's own first
    cloudwatch = cloudwatch_backends[ACCOUNT][REGION]
    start = (t0 - dt.timedelta(minutes=7)).replace(tzinfo=None)
    end = (t0 + dt.timedelta(hours=2)).replace(tzinfo=None)
    own = [CloudWatchBackend.get_metric_data(cloudwatch, queries, start, end, order)
           for order in ("TimestampAscending", "TimestampDescending")]
    moto_seed.patch_metric_data()
    try:
        assert [cloudwatch.get_metric_data(queries, start, end, order)
                for order in ("TimestampAscending", "TimestampDescending")] == own
        assert any(r["values"] for r in own[0])
    finally:
        moto_seed.uninstall_patches()


# --- 2. lifecycle ------------------------------------------------------------------------


def test_import_does_not_load_moto() -> None:
    import subprocess
    import sys

    code = ("import sys, checker.demo.run, checker.demo.moto_seed, checker.demo.scenario, "
            "checker.demo.build, checker.demo.metrics, checker.demo.moto_patches; "
            "print(any(m == 'moto' or m.startswith('moto.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/moto-api/", timeout=2)
    except urllib.error.HTTPError:
        return True  # it answered, if unhappily
    except OSError:
        return False
    return True


def test_lifecycle_needs_nothing_from_the_environment_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No credentials, a profile that does not exist, an endpoint and proxies that lead
    nowhere: the demo must not care, must not change os.environ, and must clean up on exit
    even when the body raises."""
    from moto.ecs.models import ecs_backends
    from moto.moto_api import state_manager

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "ecsdoctor-no-such-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    before = dict(os.environ)

    seen: dict[str, Any] = {}
    with pytest.raises(ZeroDivisionError), demo_account() as acct:
        seen["url"] = acct.endpoint_url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", acct.endpoint_url)
        assert (acct.region, acct.cluster) == (REGION, "prod")
        assert dict(os.environ) == before
        assert moto_seed.tasks_frozen()
        # no endpoint_url given: the session still only talks to the demo account
        ecs = acct.session().client("ecs")
        assert ecs.list_clusters()["clusterArns"] == [
            f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"]
        with pytest.raises(RuntimeError, match="already open"), demo_account():
            pass
        seen["body"] = True
        1 / 0  # noqa: B018 - the body fails; teardown must still happen

    assert seen.get("body")
    assert dict(os.environ) == before
    assert not _answers(seen["url"])
    assert not moto_seed.tasks_frozen()
    assert state_manager.get_transition("ecs::task") == {"progression": "manual", "times": 1}
    assert "prod" not in ecs_backends[ACCOUNT][REGION].clusters  # moto state reset


# --- 3. the scenario, over HTTP --------------------------------------------------------------


@pytest.fixture(scope="class")
def acct() -> Iterator[DemoAccount]:
    with demo_account() as account:
        yield account


def _aws(acct: DemoAccount, service: str) -> Any:
    """A plain boto3 client, as the collectors make it (credentials from the conftest env)."""
    return boto3.client(service, region_name=acct.region, endpoint_url=acct.endpoint_url)


@pytest.fixture(scope="class")
def tasks(acct: DemoAccount) -> dict[str, list[dict[str, Any]]]:
    """Every task by service name, described once."""
    ecs = acct.session().client("ecs", endpoint_url=acct.endpoint_url)
    arns = ecs.list_tasks(cluster=acct.cluster)["taskArns"]  # moto: all statuses
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for task in ecs.describe_tasks(cluster=acct.cluster, tasks=arns)["tasks"]:
        by_service[task["group"].removeprefix("service:")].append(task)
    return by_service


@pytest.fixture(scope="class")
def services(acct: DemoAccount) -> dict[str, dict[str, Any]]:
    ecs = acct.session().client("ecs", endpoint_url=acct.endpoint_url)
    got = ecs.describe_services(cluster=acct.cluster, services=list(SERVICES))["services"]
    return {s["serviceName"]: s for s in got}


def _minutes(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 60.0


def _series(acct: DemoAccount, namespace: str, name: str, dims: dict[str, str], stat: str,
            period: int = 60, hours: float = 3) -> list[tuple[dt.datetime, float]]:
    """(timestamp, value) of one series over the last ``hours``, oldest first, asked the way
    the collector asks (dimensions in name order)."""
    now = dt.datetime.now(dt.UTC)
    query = {"Id": "m", "MetricStat": {"Period": period, "Stat": stat, "Metric": {
        "Namespace": namespace, "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())]}}}
    got = _aws(acct, "cloudwatch").get_metric_data(
        MetricDataQueries=[query], StartTime=now - dt.timedelta(hours=hours), EndTime=now,
        ScanBy="TimestampAscending")["MetricDataResults"][0]
    return list(zip(got["Timestamps"], got["Values"], strict=True))


class TestScenario:
    def test_cluster(self, acct: DemoAccount) -> None:
        ecs = _aws(acct, "ecs")
        cluster = ecs.describe_clusters(clusters=[acct.cluster])["clusters"][0]
        assert cluster["status"] == "ACTIVE"
        assert cluster["registeredContainerInstancesCount"] == sum(
            len(group.zones) for group in sc.CAPACITY.values()) == sc.INSTANCE_COUNT + 1
        assert cluster["activeServicesCount"] == len(sc.SERVICES)
        assert cluster["runningTasksCount"] == sum(len(s.running) for s in sc.SERVICES)
        assert cluster["pendingTasksCount"] == sum(len(s.pending) for s in sc.SERVICES)
        assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
        assert set(cluster["capacityProviders"]) == {"FARGATE", "FARGATE_SPOT", *sc.CAPACITY}

    def test_ten_services(self, acct: DemoAccount) -> None:
        arns = _aws(acct, "ecs").list_services(cluster=acct.cluster)["serviceArns"]
        assert sorted(a.rsplit("/", 1)[-1] for a in arns) == sorted(SERVICES)
        assert len(arns) == 10

    @pytest.mark.parametrize("name", list(SERVICES))
    def test_service_counts(self, name: str, services: dict[str, dict[str, Any]],
                            tasks: dict[str, list[dict[str, Any]]]) -> None:
        spec, svc = SERVICES[name], services[name]
        assert (svc["launchType"], svc["desiredCount"], svc["runningCount"],
                svc["pendingCount"]) == (spec.launch_type, spec.desired, len(spec.running),
                                         len(spec.pending))
        statuses = Counter(t["lastStatus"] for t in tasks[name])
        assert statuses == Counter({"RUNNING": len(spec.running), "PENDING": len(spec.pending),
                                    "STOPPED": len(spec.stopped)}) - Counter()
        primary = svc["deployments"][0]
        assert primary["rolloutState"] == (spec.rollout[0] if spec.rollout else "COMPLETED")
        assert {t["startedBy"] for t in tasks[name]} == {primary["id"]}

    def test_stopped_tasks(self, tasks: dict[str, list[dict[str, Any]]]) -> None:
        now = dt.datetime.now(dt.UTC)
        for name, spec in SERVICES.items():
            stopped = [t for t in tasks[name] if t["lastStatus"] == "STOPPED"]
            assert len(stopped) == len(spec.stopped), name
            for task in stopped:
                assert task["desiredStatus"] == "STOPPED"
                began = task.get("startedAt", task["createdAt"])  # none: never started
                assert began < task["stoppingAt"] < task["stoppedAt"] < now
                assert _minutes(now - task["stoppedAt"]) < 60, "ECS shows stopped tasks ~1 h"
                assert task["stopCode"] and task["stoppedReason"]

    @pytest.mark.parametrize(("name", "code", "reason", "uptime"), [
        ("checkout", 137, sc.OOM, (5 * 60, 9 * 60)),
        ("search", 137, sc.OOM, (2, 6)),
        ("orders-worker", 1, None, (10 / 60, 40 / 60)),
    ])
    def test_incident_exits(self, name: str, code: int, reason: str | None,
                            uptime: tuple[float, float],
                            tasks: dict[str, list[dict[str, Any]]]) -> None:
        stopped = [t for t in tasks[name] if t["lastStatus"] == "STOPPED"]
        assert len(stopped) == {"checkout": 4, "search": 3, "orders-worker": 6}[name]
        for task in stopped:
            assert (task["stopCode"], task["stoppedReason"]) == (
                "EssentialContainerExited", "Essential container in task exited")
            (container,) = task["containers"]
            assert (container["exitCode"], container.get("reason")) == (code, reason)
            assert container["lastStatus"] == "STOPPED"
            ran = _minutes(task["stoppedAt"] - task["startedAt"])
            assert uptime[0] <= ran <= uptime[1], (name, ran)

    def test_scale_in_is_noise(self, services: dict[str, dict[str, Any]],
                               tasks: dict[str, list[dict[str, Any]]]) -> None:
        (task,) = [t for t in tasks["web"] if t["lastStatus"] == "STOPPED"]
        deployment = services["web"]["deployments"][0]["id"]
        assert task["stopCode"] == "ServiceSchedulerInitiated"
        assert task["stoppedReason"] == f"Scaling activity initiated by (deployment {deployment})"
        assert {c["name"]: c["exitCode"] for c in task["containers"]} == {
            "web": 143, "xray-daemon": 0}
        assert all("reason" not in c for c in task["containers"])

    def test_running_tasks_are_frozen_and_complete(
        self, acct: DemoAccount, tasks: dict[str, list[dict[str, Any]]]
    ) -> None:
        ecs = _aws(acct, "ecs")
        running = [t["taskArn"] for ts in tasks.values() for t in ts
                   if t["lastStatus"] != "STOPPED"]
        first, second = (ecs.describe_tasks(cluster=acct.cluster, tasks=running)["tasks"]
                         for _ in range(2))
        assert [t["lastStatus"] for t in first] == [t["lastStatus"] for t in second]
        assert {t["lastStatus"] for t in second} == {"RUNNING", "PENDING"}
        for task in second:
            spec = SERVICES[task["group"].removeprefix("service:")]
            assert [c["name"] for c in task["containers"]] == [c.name for c in spec.containers]
            assert all("exitCode" not in c for c in task["containers"])  # moto says 0
            assert task["availabilityZone"] in sc.AZS
            assert task["launchType"] == spec.launch_type

    def test_events(self, services: dict[str, dict[str, Any]],
                    tasks: dict[str, list[dict[str, Any]]]) -> None:
        for name, svc in services.items():
            times = [e["createdAt"] for e in svc["events"]]
            assert times == sorted(times, reverse=True), f"{name}: newest first"
        checkout = [e["message"] for e in services["checkout"]["events"]]
        pending = next(t for t in tasks["checkout"] if t["lastStatus"] == "PENDING")
        task_id = pending["taskArn"].rsplit("/", 1)[-1]
        assert checkout[0] == f"(service checkout) has started 1 tasks: (task {task_id})."
        assert "(service checkout) has reached a steady state." in checkout
        assert not any("unable" in m for m in checkout)  # truthful: no start failures
        orders = [e["message"] for e in services["orders-worker"]["events"]]
        assert orders[0] == "(service orders-worker) deployment failed: tasks failed to start."
        assert ("(service orders-worker) is unable to consistently start tasks successfully. "
                "For more information, see the Troubleshooting section.") in orders
        assert sum("has started 2 tasks" in m for m in orders) == 3
        primary = services["orders-worker"]["deployments"][0]
        assert (primary["rolloutStateReason"], primary["failedTasks"]) == (sc.CIRCUIT_BREAKER, 6)
        breaker = services["orders-worker"]["deploymentConfiguration"]["deploymentCircuitBreaker"]
        assert breaker == {"enable": True, "rollback": False}
        assert services["web"]["events"][0]["message"] == (
            "(service web) has reached a steady state.")

    def test_messages_use_real_ecs_wording(self, shared_dir: Path) -> None:
        corpus = (shared_dir / "corpus/messages/ecs-messages.tsv").read_text()
        for message in (sc.STEADY, sc.UNABLE_TO_START, sc.DEPLOYMENT_FAILED):
            core = message.format(service="x").removeprefix("(service x) ").split(". For")[0]
            assert core.rstrip(".") in corpus, message
        for phrase in (sc.CIRCUIT_BREAKER, sc.ESSENTIAL_EXITED, sc.OOM,
                       sc.SCALE_IN.split(" (")[0]):
            assert phrase in corpus, phrase

    def test_task_definitions(self, acct: DemoAccount) -> None:
        ecs = _aws(acct, "ecs")
        for name in SERVICES:
            td = ecs.describe_task_definition(taskDefinition=name)["taskDefinition"]
            for c in td["containerDefinitions"]:
                assert c.get("memory") or c.get("memoryReservation"), (name, c["name"])
                for env in c["environment"]:
                    assert not re.search(r"PASSWORD|SECRET|TOKEN|KEY", env["name"]), env
        checkout = ecs.describe_task_definition(taskDefinition="checkout")["taskDefinition"]
        (c,) = checkout["containerDefinitions"]
        assert ({"name": "JAVA_OPTS", "value": "-Xmx768m"} in c["environment"], c["memory"],
                checkout["networkMode"]) == (True, 1024, "bridge")
        assert c["logConfiguration"]["logDriver"] == "awslogs"
        search = ecs.describe_task_definition(taskDefinition="search")["taskDefinition"]
        assert (search["cpu"], search["memory"], search["requiresCompatibilities"]) == (
            "512", "1024", ["FARGATE"])
        assert {"name": "NODE_OPTIONS", "value": "--max-old-space-size=1536"} in (
            search["containerDefinitions"][0]["environment"])
        (reports,) = ecs.describe_task_definition(
            taskDefinition="reports")["taskDefinition"]["containerDefinitions"]
        assert "memory" not in reports and reports["memoryReservation"] == 1024

    def test_container_instances(self, acct: DemoAccount,
                                 tasks: dict[str, list[dict[str, Any]]]) -> None:
        ecs = _aws(acct, "ecs")
        arns = ecs.list_container_instances(cluster=acct.cluster)["containerInstanceArns"]
        got = ecs.describe_container_instances(cluster=acct.cluster, containerInstances=arns)
        reserved: Counter[str] = Counter()
        for task in (t for ts in tasks.values() for t in ts if t["lastStatus"] != "STOPPED"):
            if "containerInstanceArn" in task:
                spec = SERVICES[task["group"].removeprefix("service:")]
                reserved[task["containerInstanceArn"]] += sum(
                    c.memory_reservation or c.memory or 0 for c in spec.containers)
        azs, types = set(), Counter[str]()
        for inst in got["containerInstances"]:
            attrs = {a["name"]: a.get("value") for a in inst["attributes"]}
            azs.add(attrs["ecs.availability-zone"])
            types[attrs["ecs.instance-type"]] += 1
            res = {r["name"]: r["integerValue"] for r in inst["registeredResources"]}
            left = {r["name"]: r["integerValue"] for r in inst["remainingResources"]}
            assert (res["CPU"], res["MEMORY"]) == (2048, 7680)
            assert left["MEMORY"] == 7680 - reserved[inst["containerInstanceArn"]]
            assert 0 <= left["CPU"] < 2048
            assert inst["agentConnected"] and inst["versionInfo"]["agentVersion"] != "1.0.0"
        assert azs == set(sc.AZS)
        assert types == Counter({"m5.large": 3, "t3.large": 1})

    def test_tasks_spread_over_azs(self, acct: DemoAccount,
                                   tasks: dict[str, list[dict[str, Any]]]) -> None:
        ec2 = _aws(acct, "ec2")
        cidrs = {s["SubnetId"]: s["CidrBlock"] for s in ec2.describe_subnets()["Subnets"]}
        for name, spec in SERVICES.items():
            running = [t for t in tasks[name] if t["lastStatus"] == "RUNNING"]
            if len(running) > 1 and len(sc.zones_of(spec)) > 1:  # billing-batch: one host
                assert len({t["availabilityZone"] for t in running}) > 1, name
            for task in tasks[name] if spec.launch_type == "FARGATE" else ():
                details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
                subnet = ipaddress.ip_network(cidrs[details["subnetId"]])
                assert ipaddress.ip_address(details["privateIPv4Address"]) in subnet

    def test_network_has_working_egress(self, acct: DemoAccount) -> None:
        ec2 = _aws(acct, "ec2")
        vpc = next(v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == sc.VPC_CIDR)
        attr = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
        assert attr["EnableDnsHostnames"]["Value"] is True
        nats = ec2.describe_nat_gateways()["NatGateways"]
        assert Counter(n["State"] for n in nats) == Counter({"available": 3, "deleted": 1})
        private = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]
                   if s["CidrBlock"] in sc.PRIVATE_CIDRS]
        for subnet in private:
            (table,) = ec2.describe_route_tables(Filters=[
                {"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]
            default = next(r for r in table["Routes"]
                           if r.get("DestinationCidrBlock") == "0.0.0.0/0")
            assert default["NatGatewayId"].startswith("nat-") and default["State"] == "active"

    def test_load_balancer_targets(self, acct: DemoAccount) -> None:
        elbv2 = _aws(acct, "elbv2")
        groups = elbv2.describe_target_groups()["TargetGroups"]
        assert sorted(g["TargetGroupName"] for g in groups) == sorted(
            f"prod-{s.name}" for s in sc.SERVICES if s.balancer)
        for group in groups:
            spec = SERVICES[group["TargetGroupName"].removeprefix("prod-")]
            health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
            got = [tuple(d["TargetHealth"].get(k) for k in ("State", "Reason", "Description"))
                   for d in health["TargetHealthDescriptions"]]
            want = spec.target_health or ("healthy", None, None)
            assert got == [want] * len(spec.running), spec.name

    def test_memory_metrics_tell_leak_from_undersized(self, acct: DemoAccount) -> None:
        def series(service: str, stat: str) -> list[float]:
            dims = {"ClusterName": "prod", "ServiceName": service}
            return [v for _, v in _series(acct, "AWS/ECS", "MemoryUtilization", dims, stat,
                                          300, 8)]

        leak = series("checkout", "Average")
        assert len(leak) > 80 and leak[-15] - leak[0] > 40  # climbs for hours before the kills
        assert max(series("checkout", "Maximum")) >= 99
        search = series("search", "Average")
        assert max(search[:-6]) - min(search[:-6]) < 10  # flat until the new tasks die
        assert max(series("search", "Maximum")[-4:]) >= 99

    def test_payments_subnets_route_to_a_deleted_nat(self, acct: DemoAccount,
                                                     services: dict[str, dict[str, Any]]) -> None:
        ec2 = _aws(acct, "ec2")
        config = services["payments"]["networkConfiguration"]["awsvpcConfiguration"]
        subnets = ec2.describe_subnets(SubnetIds=config["subnets"])["Subnets"]
        assert sorted(s["CidrBlock"] for s in subnets) == sorted(sc.PAYMENTS_CIDRS)
        (table,) = ec2.describe_route_tables(Filters=[
            {"Name": "association.subnet-id", "Values": config["subnets"]}])["RouteTables"]
        default = next(r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0")
        assert default["State"] == "blackhole"
        (nat,) = ec2.describe_nat_gateways(NatGatewayIds=[default["NatGatewayId"]])["NatGateways"]
        deleted = _minutes(dt.datetime.now(dt.UTC) - nat["DeleteTime"])
        assert nat["State"] == "deleted" and 54 < deleted < 57
        assert nat["CreateTime"] < nat["DeleteTime"]
        # nothing else gets the image in: no S3 gateway on that table, endpoints closed to it
        endpoints = ec2.describe_vpc_endpoints()["VpcEndpoints"]
        s3 = next(e for e in endpoints if e["ServiceName"].endswith(".s3"))
        assert table["RouteTableId"] not in s3["RouteTableIds"]
        ecr = next(e for e in endpoints if e["ServiceName"].endswith(".ecr.dkr"))
        (group,) = ec2.describe_security_groups(
            GroupIds=[g["GroupId"] for g in ecr["Groups"]])["SecurityGroups"]
        admitted = {r["CidrIp"] for p in group["IpPermissions"] for r in p["IpRanges"]}
        assert admitted == set(sc.PRIVATE_CIDRS)
        assert not any(ipaddress.ip_network(c).overlaps(ipaddress.ip_network(a))
                       for c in sc.PAYMENTS_CIDRS for a in admitted)
        # the other AZs' NAT gateways keep working
        for shared in sc.PRIVATE_CIDRS:
            (subnet,) = ec2.describe_subnets(Filters=[
                {"Name": "cidr-block", "Values": [shared]}])["Subnets"]
            (rt,) = ec2.describe_route_tables(Filters=[
                {"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}])["RouteTables"]
            route = next(r for r in rt["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0")
            assert route["State"] == "active" and route["NatGatewayId"] != nat["NatGatewayId"]

    def test_payments_tasks_never_pull_their_image(
            self, services: dict[str, dict[str, Any]],
            tasks: dict[str, list[dict[str, Any]]]) -> None:
        stopped = [t for t in tasks["payments"] if t["lastStatus"] == "STOPPED"]
        assert len(stopped) == 10 and len(tasks["payments"]) == 10
        image = sc.PAYMENTS_IMAGE
        for task in stopped:
            assert task["stopCode"] == "TaskFailedToStart" and "startedAt" not in task
            (container,) = task["containers"]
            reason = container["reason"]
            assert "exitCode" not in container and "imageDigest" not in container
            assert reason.startswith("CannotPullContainerError: ref pull has been retried 5 ")
            assert reason.endswith("dial tcp 52.216.0.1:443: i/o timeout")
            assert f"/v2/payments/manifests/{sc.image_digest(image)}" in reason
            assert task["stoppedReason"] == reason[:255]  # ECS cuts it, the container's is whole
            assert 2.0 < _minutes(task["stoppedAt"] - task["createdAt"]) < 3.0
        svc = services["payments"]
        assert (svc["runningCount"], svc["pendingCount"], svc["desiredCount"]) == (0, 0, 2)
        assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"]["enable"] is False
        assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
        messages = [e["message"] for e in svc["events"]]
        assert sc.UNABLE_TO_START.format(service="payments") in messages
        assert sum(m.startswith("(service payments) has started 2 tasks") for m in messages) == 5

    def test_notifications_group_does_not_admit_the_alb(
            self, acct: DemoAccount, services: dict[str, dict[str, Any]]) -> None:
        ec2, elbv2 = _aws(acct, "ec2"), _aws(acct, "elbv2")
        svc = services["notifications"]
        (lb_entry,) = svc["loadBalancers"]
        assert lb_entry["containerPort"] == 8080
        (groups,) = [svc["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"]]
        (alb,) = elbv2.describe_load_balancers()["LoadBalancers"]
        rules = [(p["FromPort"], p["ToPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]])
                 for g in ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"]
                 for p in g["IpPermissions"]]
        assert rules == [(80, 80, alb["SecurityGroups"])]
        # the shared task group admits every other Fargate service on its own port
        for name in ("web", "search", "auth"):
            other = services[name]["networkConfiguration"]["awsvpcConfiguration"]
            assert other["securityGroups"] != groups

    def test_notifications_tasks_killed_by_elb_health_checks(
            self, services: dict[str, dict[str, Any]],
            tasks: dict[str, list[dict[str, Any]]]) -> None:
        svc = services["notifications"]
        target_group = svc["loadBalancers"][0]["targetGroupArn"]
        stopped = [t for t in tasks["notifications"] if t["lastStatus"] == "STOPPED"]
        assert len(stopped) == 10
        replacements = 0
        for task in stopped:
            assert task["stopCode"] == "ServiceSchedulerInitiated"
            assert task["stoppedReason"] == (
                f"Task failed ELB health checks in (target-group {target_group})")
            ran = _minutes(task["stoppedAt"] - task["startedAt"])
            replacements += 2.5 < ran < 3.5
            assert task["containers"][0]["exitCode"] == 143
        assert replacements == 8  # and the two that ran for three days before the change
        running = [t for t in tasks["notifications"] if t["lastStatus"] == "RUNNING"]
        assert len(running) == 2 and {t["healthStatus"] for t in running} == {"HEALTHY"}
        events = [e["message"] for e in svc["events"]]
        unhealthy = [m for m in events if "is unhealthy in (target-group" in m]
        assert len(unhealthy) == 10
        assert all(m.endswith("due to (reason Request timed out).") and "(port 8080)" in m
                   and target_group in m for m in unhealthy)
        assert sum("has stopped 1 running tasks" in m for m in events) == 10

    def test_billing_host_runs_out_of_credits(self, acct: DemoAccount,
                                              tasks: dict[str, list[dict[str, Any]]]) -> None:
        ec2, ecs = _aws(acct, "ec2"), _aws(acct, "ecs")
        running = [t for t in tasks["billing-batch"] if t["lastStatus"] == "RUNNING"]
        (host_arn,) = {t["containerInstanceArn"] for t in running}
        (host,) = ecs.describe_container_instances(cluster=acct.cluster,
                                                   containerInstances=[host_arn])[
            "containerInstances"]
        instance = host["ec2InstanceId"]
        (svc,) = ecs.describe_services(cluster=acct.cluster, services=["billing-batch"])[
            "services"]
        assert svc["placementConstraints"] == [
            {"type": "memberOf", "expression": "attribute:ecs.instance-type == t3.large"}]
        (reservation,) = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
        assert reservation["Instances"][0]["InstanceType"] == "t3.large"
        (spec,) = ec2.describe_instance_credit_specifications(
            InstanceIds=[instance])["InstanceCreditSpecifications"]
        assert spec["CpuCredits"] == "standard"
        dims = {"InstanceId": instance}
        balance = _series(acct, "AWS/EC2", "CPUCreditBalance", dims, "Minimum", 300, 8)
        cpu = dict(_series(acct, "AWS/EC2", "CPUUtilization", dims, "Average", 300, 8))
        empty = [t for t, v in balance if v <= 1.0]
        assert empty and _minutes(balance[-1][0] - empty[0]) > 60  # out for over an hour
        # the 5-minute bucket that straddles the moment it ran out is a mix: skip it
        settled = [(t, v) for t, v in balance if _minutes(t - empty[0]) >= 10]
        assert settled and all(v <= 1.0 for _, v in settled)
        assert max(v for t, v in balance if t < empty[0]) > 100  # full before the run
        peak = max((p for p in balance if p[0] < empty[0]), key=lambda p: p[1])
        drain = [v for t, v in balance if peak[0] <= t <= empty[0]]
        assert drain == sorted(drain, reverse=True)  # from its peak, down in about 2 h
        assert 90 < _minutes(empty[0] - peak[0]) < 150
        assert all(abs(cpu[t] - 30.0) < 1.0 for t, _ in settled)
        assert max(cpu[t] for t, _ in balance if t < empty[0]) > 80

    def test_nat_metrics_are_healthy(self, acct: DemoAccount) -> None:
        ec2 = _aws(acct, "ec2")
        nats = [n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"]
                if n["State"] == "available"]
        assert len(nats) == 3
        for nat in nats:
            dims = {"NatGatewayId": nat}

            def total(name: str, dims: dict[str, str] = dims) -> float:
                return sum(v for _, v in _series(acct, "AWS/NATGateway", name, dims, "Sum"))

            active = _series(acct, "AWS/NATGateway", "ActiveConnectionCount", dims, "Maximum")
            assert len(active) > 30 and 100 < max(v for _, v in active) < 1000
            assert total("ErrorPortAllocation") == total("PacketsDropCount") == 0
            attempts = total("ConnectionAttemptCount")
            assert attempts > 10_000 and total("ConnectionEstablishedCount") / attempts > 0.99
            assert total("PacketsOutToSource") > total("PacketsOutToDestination") > 1e6

    def test_target_group_metrics(self, acct: DemoAccount,
                                  services: dict[str, dict[str, Any]]) -> None:
        elbv2 = _aws(acct, "elbv2")
        (alb,) = elbv2.describe_load_balancers()["LoadBalancers"]
        lb_dim = alb["LoadBalancerArn"].split(":loadbalancer/")[1]
        for name, spec in SERVICES.items():
            if not spec.balancer:
                continue
            tg = services[name]["loadBalancers"][0]["targetGroupArn"]
            dims = {"LoadBalancer": lb_dim, "TargetGroup": tg.rsplit(":", 1)[1]}

            def get(metric: str, stat: str, dims: dict[str, str] = dims) -> list[float]:
                return [v for _, v in _series(acct, "AWS/ApplicationELB", metric, dims, stat)]

            requests, errors = get("RequestCount", "Sum"), get("HTTPCode_Target_5XX_Count", "Sum")
            assert len(requests) > 30 and sum(errors) / sum(requests) < 0.001, name
            latency = get("TargetResponseTime", "Average")
            assert min(latency) > 0.03 and max(latency) < 0.2, name
            healthy, unhealthy = (get(m, "Maximum") for m in (
                "HealthyHostCount", "UnHealthyHostCount"))
            if spec.target_health is None:
                # the last 5 minutes' Maximum may still count a task killed in them
                assert len(spec.running) <= healthy[-1] <= max(spec.desired, len(spec.running))
                assert set(unhealthy) == {0.0}, name
            else:  # unhealthy since the change: no response, so no response time either
                assert (healthy[-1], unhealthy[-1]) == (0.0, 2.0)
                assert len(latency) <= len(requests) - 2

    def test_session_is_pinned_to_the_demo(self, acct: DemoAccount) -> None:
        session = acct.session()
        assert session.region_name == REGION
        credentials = session.get_credentials()
        assert credentials is not None and credentials.access_key == "ecsdoctor-demo"
        sts = session.client("sts", endpoint_url="https://sts.amazonaws.com")
        assert sts.get_caller_identity()["Account"] == ACCOUNT  # answered by moto, not AWS
