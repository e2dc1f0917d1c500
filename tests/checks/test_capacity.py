from __future__ import annotations

from typing import Any

import pytest

from tests import builders as b
from tests import builders_hosts as h
from tests.checks.harness import run_check, statuses

WEB = b.service_arn("prod", "web")
API = b.service_arn("prod", "api")


def _web_td(cpu: int = 1024, memory: int = 2048, **extra: Any) -> dict[str, Any]:
    return b.task_definition("web", containers=[b.container_def("web", cpu=cpu, memory=memory)],
                             **extra)


def _bundle(instances: list[dict[str, Any]], *, desired: int = 3, running: int = 1,
            tasks: list[dict[str, Any]] | None = None, td: dict[str, Any] | None = None,
            **collections: Any) -> dict[str, Any]:
    svc = h.ec2_service("web", desired=desired, running=running)
    return h.hosts_bundle(instances, [svc], tasks, [td or _web_td()], **collections)


# -- pending-tasks-insufficient-capacity ------------------------------------------------------
@pytest.mark.parametrize(("instances", "desired", "running", "tasks", "expected", "kind"), [
    # two tasks need 1024 CPU each; 512 free per instance, 1024 in total: real shortage
    ([h.container_instance("i-01", cpu_free=512, mem_free=4096),
      h.container_instance("i-02", cpu_free=512, mem_free=4096)], 3, 1, [], "fail", "shortage"),
    # 2048 MiB needed; 1024 free on each of two instances: enough in total, split up
    ([h.container_instance("i-01", mem_free=1024), h.container_instance("i-02", mem_free=1024)],
     2, 1, [], "fail", "fragmentation"),
    # CPU on one instance, memory on the other: neither alone is short, together they are
    ([h.container_instance("i-01", cpu_free=2048, mem_free=0),
      h.container_instance("i-02", cpu_free=0, mem_free=4096)], 2, 1, [], "fail",
     "fragmentation"),
    # only instance has a disconnected agent: nowhere to place
    ([h.container_instance("i-01", connected=False)], 2, 1, [], "fail", "no-instances"),
    # one waiting task fits on a roomy instance
    ([h.container_instance("i-01")], 2, 1, [], "pass", "ok"),
    # nothing waiting: the PENDING task is already placed (its resources are already taken)
    ([h.container_instance("i-01", cpu_free=0, mem_free=0)], 2, 1,
     [h.placed_task("web", "i-01", status="PENDING")], "pass", "ok"),
    ([h.container_instance("i-01", cpu_free=0, mem_free=0)], 2, 2, [], "pass", "ok"),
])
def test_pending_tasks_insufficient_capacity(instances: list[dict[str, Any]], desired: int,
                                             running: int, tasks: list[dict[str, Any]],
                                             expected: str, kind: str) -> None:
    bundle = _bundle(instances, desired=desired, running=running, tasks=tasks)
    (f,) = run_check("pending-tasks-insufficient-capacity", bundle)
    assert (f.status.value, f.data["kind"], f.service) == (expected, kind, WEB)
    if expected == "fail":
        assert f.message.startswith("service prod/web: ")
        assert "need 1024 CPU units / 2048 MiB each (task def web:1)" in f.message
        assert f.data["affected_tasks"] == f.data["waiting"] - f.data["room"]


def test_capacity_message_names_the_short_resource_and_numbers() -> None:
    bundle = _bundle([h.container_instance("i-01", mem_free=1024),
                      h.container_instance("i-02", mem_free=1024)], desired=2, running=1)
    (f,) = run_check("pending-tasks-insufficient-capacity", bundle)
    assert ("memory short (fragmentation): 2048 MiB needed per task, largest free 1024 on one "
            "instance, 2048 free cluster-wide") in f.message
    assert f.data["short"] == ["memory"]


def test_capacity_task_level_size_wins_and_odd_sizes_do_not_crash() -> None:
    td = b.task_definition("web", containers=[b.container_def("web", memoryReservation=128)],
                           cpu="1 vcpu", memory="4 GB")
    bundle = _bundle([h.container_instance("i-01", mem_free=2048)], desired=2, running=1, td=td)
    (f,) = run_check("pending-tasks-insufficient-capacity", bundle)
    assert (f.status.value, f.data["need_cpu"], f.data["need_memory"]) == ("fail", 1024, 4096)


@pytest.mark.parametrize(("launch", "expected"), [("FARGATE", "skipped"), ("EC2", "fail")])
def test_capacity_only_judges_ec2_services(launch: str, expected: str) -> None:
    svc = b.service("web", desired=2, running=1, launchType=launch)
    bundle = h.hosts_bundle([h.container_instance("i-01", mem_free=0)], [svc], [], [_web_td()])
    assert {f.status.value for f in run_check("pending-tasks-insufficient-capacity", bundle)} \
        == {expected}


def test_capacity_unknown_without_task_definition() -> None:
    bundle = _bundle([h.container_instance("i-01")], td=b.task_definition("other"))
    assert statuses("pending-tasks-insufficient-capacity", bundle)[WEB] == "unknown"


def test_standalone_task_waiting_for_capacity_provider_is_demand() -> None:
    waiting = h.placed_task("batch", None, status="PROVISIONING", group="family:batch",
                            family="batch")
    bundle = h.hosts_bundle([h.container_instance("i-01", mem_free=100)], [], [waiting],
                            [b.task_definition("batch")])
    (f,) = run_check("pending-tasks-insufficient-capacity", bundle)
    assert (f.status.value, f.resource, f.service) == ("fail", waiting["taskArn"], None)


# -- static-host-port-taken ------------------------------------------------------------------
def _port_td(host_port: int) -> dict[str, Any]:
    return b.task_definition("web", networkMode="bridge", containers=[b.container_def(
        "web", memory=256, portMappings=[{"containerPort": 8080, "hostPort": host_port}])])


@pytest.mark.parametrize(("ports_1", "ports_2", "expected"), [
    ((80,), (80,), "fail"),     # port 80 held on both instances, one task waits
    ((80,), (), "pass"),        # one instance still has it free
])
def test_static_host_port_taken(ports_1: tuple[int, ...], ports_2: tuple[int, ...],
                                expected: str) -> None:
    bundle = _bundle([h.container_instance("i-01", ports=ports_1),
                      h.container_instance("i-02", ports=ports_2)], desired=3, running=2,
                     td=_port_td(80))
    (f,) = run_check("static-host-port-taken", bundle)
    assert (f.status.value, f.service) == (expected, WEB)
    assert "static host port 80/tcp (task def web:1) in use on" in f.message
    if expected == "fail":
        assert f.data["taken_on"] == ["i-01", "i-02"] and f.data["affected_tasks"] == 1


def test_dynamic_host_ports_are_not_judged() -> None:
    bundle = _bundle([h.container_instance("i-01", ports=(80,))], td=_port_td(0))
    assert {f.status.value for f in run_check("static-host-port-taken", bundle)} == {"skipped"}


# -- cluster-reservation-high ----------------------------------------------------------------
@pytest.mark.parametrize(("cpu_free", "mem_free", "expected"), [
    (100, 4096, "fail"),    # CPU 95% reserved
    (1024, 300, "fail"),    # memory 96% reserved
    (1024, 4096, "pass"),
])
def test_cluster_reservation_high(cpu_free: int, mem_free: int, expected: str) -> None:
    bundle = _bundle([h.container_instance("i-01", cpu_free=cpu_free, mem_free=mem_free)])
    (f,) = run_check("cluster-reservation-high", bundle)
    assert f.status.value == expected
    assert f.message.startswith("cluster prod: CPU ")
    assert f.data["instances"][0]["instance"] == "i-01"
    assert f.data["instances"][0]["ports_used"] == [22, 2375, 2376, 51678, 51679]


def test_cluster_reservation_skipped_without_usable_instances() -> None:
    bundle = _bundle([h.container_instance("i-01", status="DRAINING")])
    assert {f.status.value for f in run_check("cluster-reservation-high", bundle)} == {"skipped"}


# -- capacity-provider-no-managed-scaling ----------------------------------------------------
@pytest.mark.parametrize(("provider", "expected"), [
    (h.capacity_provider(managed=False), "fail"),
    (h.capacity_provider(managed=True), "pass"),
    (h.capacity_provider("FARGATE", asg=False), "skipped"),
])
def test_capacity_provider_no_managed_scaling(provider: dict[str, Any], expected: str) -> None:
    (f,) = run_check("capacity-provider-no-managed-scaling",
                     b.bundle(capacity_providers=[provider]))
    assert f.status.value == expected


# -- instance-eni-slots / awsvpc-tasks-no-eni-slot --------------------------------------------
def _eni_bundle(*, on_host: int, running: int, trunk_id: str | None = None,
                types: list[dict[str, Any]] | None = None, trunking: str = "disabled",
                **collections: Any) -> dict[str, Any]:
    td = b.task_definition("api", networkMode="awsvpc",
                           containers=[b.container_def("api", memory=256)])
    svc = h.ec2_service("api", desired=3, running=running)
    tasks = [h.placed_task("api", "i-01", awsvpc=True) for _ in range(on_host)]
    return h.hosts_bundle(
        [h.container_instance("i-01", trunk_id=trunk_id)], [svc], tasks, [td],
        instance_types=[h.instance_type("m5.large", max_eni=3)] if types is None else types,
        account_settings=[h.setting("awsvpcTrunking", trunking)], **collections)


@pytest.mark.parametrize(("on_host", "trunk_id", "expected"), [
    (2, None, "fail"),          # 2 of 2 slots (3 ENIs − 1 primary)
    (1, None, "pass"),
    (2, "eni-0trunk", "pass"),  # trunked m5.large: 10 slots
])
def test_instance_eni_slots(on_host: int, trunk_id: str | None, expected: str) -> None:
    (f,) = run_check("instance-eni-slots", _eni_bundle(on_host=on_host, running=on_host,
                                                       trunk_id=trunk_id))
    assert f.status.value == expected
    assert f.resource == h.ci_arn("i-01")


def test_eni_message_matches_the_brief() -> None:
    (f,) = run_check("instance-eni-slots", _eni_bundle(on_host=2, running=2))
    assert f.message == (
        "container instance i-01 (m5.large, prod): 2 of 2 awsvpc ENI slots used "
        "(MaximumNetworkInterfaces 3 − 1 primary), trunking off (awsvpcTrunking disabled; "
        "m5.large would take 10 with it); 1 awsvpc task(s) waiting in prod")
    assert (f.data["limit"], f.data["used"], f.data["free"], f.severity.value) == (2, 2, 0,
                                                                                   "medium")


def test_eni_trunking_enabled_but_instance_predates_it() -> None:
    (f,) = run_check("instance-eni-slots", _eni_bundle(on_host=2, running=2,
                                                       trunking="enabled"))
    assert "although awsvpcTrunking enabled: the instance predates the opt-in" in f.message


def test_eni_limit_falls_back_to_the_doc_table_else_unknown() -> None:
    (f,) = run_check("instance-eni-slots", _eni_bundle(on_host=0, running=0, types=[]))
    assert (f.status.value, f.data["limit"]) == ("pass", 2)
    assert "doc limit 2 for m5.large" in f.message
    bundle = _eni_bundle(on_host=0, running=0, types=[])
    bundle["resources"]["container_instances"] = [h.container_instance(
        "i-01", instance_type="x9.large")]
    (f,) = run_check("instance-eni-slots", bundle)
    assert f.status.value == "unknown"


def test_eni_note_for_types_without_trunking() -> None:
    bundle = _eni_bundle(on_host=0, running=0, types=[h.instance_type("t3.medium")])
    bundle["resources"]["container_instances"] = [h.container_instance(
        "i-01", instance_type="t3.medium")]
    (f,) = run_check("instance-eni-slots", bundle)
    assert "t3.medium does not support trunking" in f.message


@pytest.mark.parametrize(("on_host", "running", "trunk_id", "expected"), [
    (2, 2, None, "fail"),         # one waiting, no slot left
    (2, 2, "eni-0trunk", "pass"),  # trunking leaves 8 slots
    (1, 1, None, "fail"),         # two waiting, one slot: only one can be placed
    (1, 2, None, "pass"),         # one waiting, one slot
])
def test_awsvpc_tasks_no_eni_slot(on_host: int, running: int, trunk_id: str | None,
                                  expected: str) -> None:
    bundle = _eni_bundle(on_host=on_host, running=running, trunk_id=trunk_id)
    (f,) = run_check("awsvpc-tasks-no-eni-slot", bundle)
    assert (f.status.value, f.service) == (expected, API)
    if expected == "fail":
        assert "ENIs, not CPU or memory, block placement" in f.message


def test_awsvpc_no_eni_slot_unknown_without_instance_types() -> None:
    bundle = _eni_bundle(on_host=2, running=2)
    del bundle["resources"]["instance_types"]
    assert {f.status.value for f in run_check("awsvpc-tasks-no-eni-slot", bundle)} == {"unknown"}


def test_odd_values_do_not_crash_the_host_checks() -> None:
    """Hand-written bundles carry strings for numbers, nulls and junk where objects belong."""
    from checker.facts import Facts
    from checker.graph import run
    from tests.checks.harness import REGISTRY

    ci = h.container_instance("i-01", instance_type="t3.medium")
    ci.update(versionInfo="1.2", runningTasksCount="x", pendingTasksCount=None,
              remainingResources=[{"name": "CPU", "integerValue": "512"},
                                  {"name": "PORTS", "stringSetValue": ["80", "x", None]}])
    del ci["registeredResources"]
    odd = h.container_instance("i-02")
    odd.update(status=None, agentConnected=None, attributes=None)
    td = {"taskDefinitionArn": b.td_arn("web", 1), "family": "web", "cpu": "1 vcpu",
          "memory": "lots", "networkMode": None, "taskRoleArn": None,
          "containerDefinitions": ["junk", {"name": "web", "memory": "x", "cpu": None,
                                            "linuxParameters": "yes", "portMappings": [
                                                None, {"hostPort": "80"}, "8080"]}]}
    task = {"taskArn": "t1", "group": "service:web", "lastStatus": "RUNNING",
            "containerInstanceArn": ci["containerInstanceArn"], "taskDefinitionArn": td[
                "taskDefinitionArn"], "containers": ["junk", {"name": "web", "managedAgents":
                                                            "no"}], "attachments": None}
    svc = {"serviceArn": WEB, "serviceName": "web", "clusterArn": b.cluster_arn("prod"),
           "desiredCount": "3", "runningCount": None, "launchType": "EC2",
           "taskDefinition": td["taskDefinitionArn"], "enableExecuteCommand": "true",
           "platformVersion": 1.4}
    bundle = b.bundle(
        clusters=[b.cluster()], services=[svc], tasks=[task], task_definitions=[td],
        container_instances=[ci, odd], instance_types=[{"InstanceType": "t3.medium",
                                                         "NetworkInfo": "x"}],
        ec2_instances=[{"InstanceId": "i-01", "LaunchTime": "yesterday", "EnaSupport": "no"}],
        credit_specifications=[{"InstanceId": "i-01"}],
        capacity_providers=[{"name": "cp", "autoScalingGroupProvider": {"managedScaling": "on"}}],
        account_settings=[{"name": "awsvpcTrunking"}])
    ids = {s.id for s in REGISTRY if s.area in ("capacity", "instances", "ecs_exec")}
    crashed = [f"{f.check}: {f.message}" for f in run(REGISTRY, Facts(bundle))
               if f.check in ids and "internal_error" in f.data]
    assert not crashed


@pytest.mark.parametrize(("extra", "kind"), [
    ({"placementConstraints": [{"type": "distinctInstance"}]}, "one-per-instance"),
    ({"schedulingStrategy": "DAEMON"}, "one-per-instance"),
    ({}, "ok"),    # without the constraint the third copy fits next to the others
])
def test_capacity_one_copy_per_instance(extra: dict[str, Any], kind: str) -> None:
    svc = h.ec2_service("web", desired=3, running=2, **extra)
    tasks = [h.placed_task("web", "i-01"), h.placed_task("web", "i-02")]
    bundle = h.hosts_bundle([h.container_instance("i-01"), h.container_instance("i-02")],
                            [svc], tasks, [_web_td()])
    (f,) = run_check("pending-tasks-insufficient-capacity", bundle)
    assert f.data["kind"] == kind
    if kind != "ok":
        assert "already runs one copy" in f.message


@pytest.mark.parametrize(("clusters", "expected"), [(["prod"], "pass"),
                                                     (["prod", "batch"], "unknown")])
def test_old_format_instance_arns(clusters: list[str], expected: str) -> None:
    ci = h.container_instance("i-01")
    ci["containerInstanceArn"] = f"arn:aws:ecs:{b.REGION}:{b.ACCOUNT}:container-instance/0aaa"
    bundle = _bundle([ci], desired=2, running=1)
    bundle["resources"]["clusters"] = [b.cluster(c) for c in clusters]
    bundle["scope"] = {"clusters": clusters}
    assert statuses("pending-tasks-insufficient-capacity", bundle)[WEB] == expected


def test_eni_slots_without_services() -> None:
    bundle = _eni_bundle(on_host=2, running=2)
    del bundle["resources"]["services"]
    (f,) = run_check("instance-eni-slots", bundle)
    assert (f.status.value, f.data["waiting_awsvpc"]) == ("fail", 0)
