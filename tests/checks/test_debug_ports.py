"""debug-port-exposed (checks/network/debug_ports.py): Go pprof and other debug ports
reachable through a load balancer or on a public IP open to the world."""

from __future__ import annotations

from typing import Any

from tests import builders as b
from tests import builders_network as n
from tests.checks.harness import run_check

WEB = b.service_arn("prod", "web")
API = b.service_arn("prod", "api")
PPROF_TG = f"{n.ELB}:targetgroup/prod-web-debug/93e2d6bc24d8a067"
PORTS = [{"containerPort": 8080, "protocol": "tcp"}, {"containerPort": 6060, "protocol": "tcp"}]


def _world() -> n.World:
    """The healthy layout, the web container also serving net/http/pprof on 6060."""
    world = n.World()
    td = n.web_task_definition()
    td["containerDefinitions"][0]["portMappings"] = PORTS
    world.task_definitions = [td]
    return world


def _run(world: n.World, **extra: list[dict[str, Any]]) -> Any:
    findings = run_check("debug-port-exposed", world.bundle(**extra))
    (f,) = [f for f in findings if f.status.value != "skipped"]
    return f


def _behind_lb(world: n.World, scheme: str = "internet-facing") -> None:
    world.target_groups.append(n.target_group(6060, arn=PPROF_TG))
    world.load_balancers[0]["Scheme"] = scheme
    world.services[0]["loadBalancers"].append(
        {"targetGroupArn": PPROF_TG, "containerName": "web", "containerPort": 6060})


def _public(world: n.World) -> None:
    world.services = [n.web_service(public_ip="ENABLED", subnets=n.PUBLIC)]
    world.tasks = [n.eni_task("web", n.PUBLIC[0], n.AZS[0], "10.0.101.10")]


def test_pprof_reachable_only_inside_the_vpc_passes() -> None:
    f = _run(_world())
    assert (f.status.value, f.service) == ("pass", WEB), f.message
    assert f.data["ports"] == ["web:6060 (Go pprof (net/http/pprof))"]


def test_pprof_behind_an_internet_facing_load_balancer_fails_high() -> None:
    world = _world()
    _behind_lb(world)
    f = _run(world)
    assert (f.status.value, f.severity.value) == ("fail", "high"), f.message
    assert "internet-facing load balancer prod-public forwards to web:6060" in f.message


def test_pprof_behind_an_internal_load_balancer_fails_medium() -> None:
    world = _world()
    _behind_lb(world, "internal")
    f = _run(world)
    assert (f.status.value, f.severity.value) == ("fail", "medium"), f.message


def test_pprof_on_a_public_ip_open_to_the_world_fails_high() -> None:
    world = _world()
    _public(world)
    world.sg(n.TASK_SG)["IpPermissions"].append(n.rule("tcp", 6000, 6100, cidrs=("0.0.0.0/0",)))
    f = _run(world)
    assert (f.status.value, f.severity.value) == ("fail", "high"), f.message
    assert "has a public IP" in f.message and "tcp/6060 from 0.0.0.0/0" in f.message


def test_pprof_on_a_public_ip_open_to_ipv6_anywhere_fails() -> None:
    world = _world()
    _public(world)
    world.sg(n.TASK_SG)["IpPermissions"].append(n.rule("tcp", 6060, ipv6=("::/0",)))
    assert _run(world).status.value == "fail"


def test_pprof_on_a_public_ip_that_admits_only_the_lb_passes() -> None:
    world = _world()
    _public(world)
    assert _run(world).status.value == "pass"


def test_bridge_pprof_on_a_public_host_with_the_dynamic_range_open_fails() -> None:
    world, extra = n.bridge_world()
    world.task_definitions[-1]["containerDefinitions"][0]["portMappings"].append(
        {"containerPort": 6060, "protocol": "tcp"})           # dynamic host port
    world.sg(n.HOST_SG)["IpPermissions"].append(
        n.rule("tcp", 32768, 60999, cidrs=("0.0.0.0/0",)))
    extra["ec2_instances"] = [n.ec2_instance("i-0abc00000000000a1", n.PUBLIC[0],
                                             public_ip="54.1.2.3")]
    f = _run(world, **extra)
    assert (f.status.value, f.service) == ("fail", API), f.message
    assert "container instance i-0abc00000000000a1" in f.message


def test_bridge_without_host_data_is_unknown() -> None:
    world, _ = n.bridge_world()
    world.task_definitions[-1]["containerDefinitions"][0]["portMappings"].append(
        {"containerPort": 6060, "protocol": "tcp"})
    f = _run(world)
    assert f.status.value == "unknown" and "container_instances" in f.message


def test_no_debug_port_is_skipped() -> None:
    findings = run_check("debug-port-exposed", n.World().bundle())
    assert [f.status.value for f in findings] == ["skipped"]


def test_a_target_group_not_in_the_bundle_still_counts_as_forwarding() -> None:
    world = _world()
    _behind_lb(world)
    world.target_groups = world.target_groups[:1]  # the pprof group was not read
    f = _run(world)
    assert (f.status.value, f.severity.value) == ("fail", "medium"), f.message
    assert "is not in the bundle" in f.message
