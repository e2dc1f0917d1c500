"""The load-balancer side of a service: its target groups, load balancers, the ports the
load balancer must reach on the targets, and the security groups on those targets.

Target type `ip` (awsvpc) sends to the task's own address on the container port; target
type `instance` (bridge/host) sends to the container instance on the host port, which for
bridge mode without a hostPort is a dynamic port from the kernel's ephemeral range.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-considerations.html
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, awsvpc_config, objs, strs
from checker.model import Result, skipped, unknown
from checks.lib.knowledge import table
from checks.lib.network.rules import Ports, port_text
from checks.lib.network.topology import (
    Topology,
    live_tasks,
    network_mode,
    service_text,
    task_definition_of,
)
from checks.lib.values import int_or_none


def dynamic_host_ports() -> Ports:
    lo, hi = table("network_ports")["dynamic_host_ports"]
    return int(lo), int(hi)


@dataclass(frozen=True)
class LbPath:
    """One (service, target group, load balancer) the service's tasks receive traffic on."""

    service: Item
    target_group: Item
    lb: Item
    ports: tuple[Ports, ...]
    what: str  # "container port 8080", "dynamic host ports 32768-60999"
    proto: str

    @property
    def lb_name(self) -> str:
        return str(self.lb.get("LoadBalancerName") or self.lb.get("LoadBalancerArn"))

    @property
    def tg_arn(self) -> str:
        return str(self.target_group.get("TargetGroupArn"))

    @property
    def lb_groups(self) -> frozenset[str]:
        return frozenset(strs(self.lb.get("SecurityGroups")))


def _host_port(facts: Facts, svc: Item, container: str, port: int) -> int | None:
    td = task_definition_of(facts, svc) or {}
    for ctr in objs(td.get("containerDefinitions")):
        if ctr.get("name") != container:
            continue
        for pm in objs(ctr.get("portMappings")):
            if int_or_none(pm.get("containerPort")) == port:
                return int_or_none(pm.get("hostPort")) or 0
    return None


def target_ports(facts: Facts, svc: Item, entry: Item, tg: Item) -> tuple[list[Ports], str]:
    """The ports the load balancer connects to (traffic port, and a numeric health-check
    port when it differs), described for a message."""
    port = int_or_none(entry.get("containerPort")) or int_or_none(tg.get("Port")) or 0
    mode = network_mode(facts, svc)
    ports: list[Ports] = [(port, port)]
    what = f"container port {port}"
    if mode == "bridge" and tg.get("TargetType", "instance") == "instance":
        host = _host_port(facts, svc, str(entry.get("containerName", "")), port)
        if host:
            ports, what = [(host, host)], f"host port {host} (container port {port})"
        else:
            ports = [dynamic_host_ports()]
            what = f"dynamic host ports {port_text(ports)} (container port {port})"
    health = int_or_none(tg.get("HealthCheckPort"))
    if health and all(not lo <= health <= hi for lo, hi in ports):
        ports.append((health, health))
        what += f" and health-check port {health}"
    return ports, what


def _proto(tg: Item) -> str:
    return "udp" if str(tg.get("Protocol", "")).upper() == "UDP" else "tcp"


@dataclass(frozen=True)
class Gap:
    """Why a service's load-balancer entry gives nothing to evaluate; `missing` when data
    is absent (→ unknown) rather than nothing applying (→ skipped)."""

    text: str
    missing: bool = True


def gap_result(tg_arn: str, svc: Item, gap: Gap) -> Result:
    """The result for a load-balancer entry with nothing to evaluate."""
    arn = str(svc.get("serviceArn"))
    make = unknown if gap.missing else skipped
    return make(tg_arn, f"{service_text(svc)}: {gap.text}", service=arn)


def path_data(facts: Facts, path: LbPath, **extra: Any) -> dict[str, Any]:
    """The data every result about one load-balancer path carries."""
    return {"target_group": path.tg_arn, "load_balancer": path.lb.get("LoadBalancerArn"),
            "ports": [list(p) for p in path.ports],
            "affected_tasks": len(live_tasks(facts, path.service)), **extra}


def lb_paths(facts: Facts, svc: Item) -> Iterator[tuple[str, LbPath | Gap]]:
    """(target group ARN, path) per load balancer behind each of the service's target
    groups, or a Gap saying why there is nothing to evaluate."""
    for entry in objs(svc.get("loadBalancers")):
        arn = str(entry.get("targetGroupArn") or "")
        if not arn:
            yield (str(entry.get("loadBalancerName", "?")),
                   Gap("Classic Load Balancer (no target group): not evaluated", False))
            continue
        tg = facts.lookup("target_groups", "TargetGroupArn", arn)
        if tg is None:
            yield arn, Gap(f"target group {arn} is not in the bundle")
            continue
        lbs = [lb for a in strs(tg.get("LoadBalancerArns"))
               if (lb := facts.lookup("load_balancers", "LoadBalancerArn", a))]
        if not lbs:
            yield arn, Gap(f"target group {tg.get('TargetGroupName', arn)} has no load balancer",
                           False)
            continue
        ports, what = target_ports(facts, svc, entry, tg)
        for lb in sorted(lbs, key=lambda x: str(x.get("LoadBalancerArn"))):
            yield arn, LbPath(svc, tg, lb, tuple(ports), what, _proto(tg))


def target_security_groups(facts: Facts, svc: Item, topo: Topology) -> tuple[list[str], str | None]:
    """Security groups on the ENIs the load balancer connects to: the task ENI (awsvpc),
    else the container instances' ENIs."""
    if network_mode(facts, svc) == "awsvpc":
        groups = strs(awsvpc_config(svc).get("securityGroups"))
        return groups, None if groups else "the service's awsvpc configuration names no group"
    hosts = [o for o in topo.origins if o.pulls]
    if not hosts:
        return [], topo.pulls_unknown or "no container instance known"
    return sorted({g for o in hosts for g in o.groups}), None


def target_subnets(facts: Facts, svc: Item, topo: Topology) -> list[str]:
    awsvpc = network_mode(facts, svc) == "awsvpc"
    return sorted({o.subnet_id for o in topo.origins if (o.via.startswith("task")) == awsvpc})


def lb_subnets(lb: Item) -> list[tuple[str, str]]:
    """(SubnetId, ZoneName) for each zone the load balancer is enabled in."""
    return [(str(z.get("SubnetId", "")), str(z.get("ZoneName", "")))
            for z in objs(lb.get("AvailabilityZones"))]
