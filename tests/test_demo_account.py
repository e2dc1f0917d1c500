"""The embedded demo account (checker.demo) and the moto seeding helpers (checker.moto_seed).

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

from checker import demo_scenario as sc
from checker import moto_seed
from checker.demo import DemoAccount, demo_account

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


# --- 2. lifecycle ------------------------------------------------------------------------


def test_import_does_not_load_moto() -> None:
    import subprocess
    import sys

    code = ("import sys, checker.demo, checker.moto_seed, checker.demo_scenario; "
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


class TestScenario:
    def test_cluster(self, acct: DemoAccount) -> None:
        ecs = _aws(acct, "ecs")
        cluster = ecs.describe_clusters(clusters=[acct.cluster])["clusters"][0]
        assert cluster["status"] == "ACTIVE"
        assert cluster["registeredContainerInstancesCount"] == sc.INSTANCE_COUNT
        assert cluster["activeServicesCount"] == len(sc.SERVICES)
        assert cluster["runningTasksCount"] == sum(len(s.running) for s in sc.SERVICES)
        assert cluster["pendingTasksCount"] == sum(len(s.pending) for s in sc.SERVICES)
        assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]

    def test_seven_services(self, acct: DemoAccount) -> None:
        arns = _aws(acct, "ecs").list_services(cluster=acct.cluster)["serviceArns"]
        assert sorted(a.rsplit("/", 1)[-1] for a in arns) == sorted(SERVICES)
        assert len(arns) == 7

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
                assert task["startedAt"] < task["stoppingAt"] < task["stoppedAt"] < now
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
        azs = set()
        for inst in got["containerInstances"]:
            attrs = {a["name"]: a.get("value") for a in inst["attributes"]}
            azs.add(attrs["ecs.availability-zone"])
            assert attrs["ecs.instance-type"] == "m5.large"
            res = {r["name"]: r["integerValue"] for r in inst["registeredResources"]}
            left = {r["name"]: r["integerValue"] for r in inst["remainingResources"]}
            assert (res["CPU"], res["MEMORY"]) == (2048, 7680)
            assert left["MEMORY"] == 7680 - reserved[inst["containerInstanceArn"]]
            assert 0 <= left["CPU"] < 2048
            assert inst["agentConnected"] and inst["versionInfo"]["agentVersion"] != "1.0.0"
        assert azs == set(sc.AZS)

    def test_tasks_spread_over_azs(self, acct: DemoAccount,
                                   tasks: dict[str, list[dict[str, Any]]]) -> None:
        ec2 = _aws(acct, "ec2")
        cidrs = {s["SubnetId"]: s["CidrBlock"] for s in ec2.describe_subnets()["Subnets"]}
        for name, spec in SERVICES.items():
            running = [t for t in tasks[name] if t["lastStatus"] == "RUNNING"]
            if len(running) > 1:
                assert len({t["availabilityZone"] for t in running}) > 1, name
            for task in running if spec.launch_type == "FARGATE" else ():
                details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
                subnet = ipaddress.ip_network(cidrs[details["subnetId"]])
                assert ipaddress.ip_address(details["privateIPv4Address"]) in subnet

    def test_network_has_working_egress(self, acct: DemoAccount) -> None:
        ec2 = _aws(acct, "ec2")
        vpc = next(v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == sc.VPC_CIDR)
        attr = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
        assert attr["EnableDnsHostnames"]["Value"] is True
        nats = ec2.describe_nat_gateways()["NatGateways"]
        assert len(nats) == 3 and {n["State"] for n in nats} == {"available"}
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
        for group in elbv2.describe_target_groups()["TargetGroups"]:
            name = group["TargetGroupName"].removeprefix("prod-")
            health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
            states = [d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]]
            assert states == ["healthy"] * len(SERVICES[name].running), name

    def test_memory_metrics_tell_leak_from_undersized(self, acct: DemoAccount) -> None:
        cw = _aws(acct, "cloudwatch")
        now = dt.datetime.now(dt.UTC)

        def series(service: str, stat: str) -> list[float]:
            query = {"Id": "m", "MetricStat": {"Period": 300, "Stat": stat, "Metric": {
                "Namespace": "AWS/ECS", "MetricName": "MemoryUtilization", "Dimensions": [
                    {"Name": "ClusterName", "Value": "prod"},
                    {"Name": "ServiceName", "Value": service}]}}}
            got = cw.get_metric_data(MetricDataQueries=[query], StartTime=now - dt.timedelta(
                hours=8), EndTime=now, ScanBy="TimestampAscending")
            return list(got["MetricDataResults"][0]["Values"])

        leak = series("checkout", "Average")
        assert len(leak) > 80 and leak[-15] - leak[0] > 40  # climbs for hours before the kills
        assert max(series("checkout", "Maximum")) >= 99
        search = series("search", "Average")
        assert max(search[:-6]) - min(search[:-6]) < 10  # flat until the new tasks die
        assert max(series("search", "Maximum")[-4:]) >= 99

    def test_session_is_pinned_to_the_demo(self, acct: DemoAccount) -> None:
        session = acct.session()
        assert session.region_name == REGION
        credentials = session.get_credentials()
        assert credentials is not None and credentials.access_key == "ecsdoctor-demo"
        sts = session.client("sts", endpoint_url="https://sts.amazonaws.com")
        assert sts.get_caller_identity()["Account"] == ACCOUNT  # answered by moto, not AWS
