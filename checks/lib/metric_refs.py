"""Which CloudWatch series belong to which resource, and which services sit behind what.

The metric checks judge services, but the numbers live under other names: a target group
is `TargetGroup=targetgroup/name/id` with `LoadBalancer=app/name/id`, a NAT gateway is only
linked to a service through the route table of the service's subnets, a burstable host is
linked to a service through the tasks placed on it. This module does those joins once,
from the bundle alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checker.bundle import METRICS
from checker.facts import Facts, Item, arn_name, dig, obj, objs
from checks.lib.knowledge import table
from checks.lib.series import Series, Sustained, parse
from checks.lib.values import int_or_none

#: Dimensions that split one resource's metric further (per-AZ copies of ELB metrics).
_SPLIT_DIMS = frozenset({"AvailabilityZone"})


def find(facts: Facts, namespace: str, name: str, dims: Mapping[str, str],
         stats: tuple[str, ...]) -> Series | None:
    """The first of `stats` with datapoints for exactly `dims`; an empty series when the
    metric was asked for and had none (no traffic, nothing running); None when the bundle
    does not hold the metric at all."""
    empty: Series | None = None
    for stat in stats:
        for raw in facts.metric(namespace, name, dims, stat):
            got = parsed(facts, raw)
            if len(got):
                return got
            empty = empty or got
    return empty


def parsed(facts: Facts, raw: Mapping[str, Any]) -> Series:
    """`parse(raw)`, once per analysis: several checks read the same series (a service's
    CPU feeds saturation, scaling and rollout checks), and parsing its timestamps is most
    of their cost."""
    return facts.memo_of(raw, "metrics_refs.series", lambda: parse(raw))


def find_under(facts: Facts, namespace: str, name: str, must: Mapping[str, str],
               stats: tuple[str, ...]) -> Series | None:
    """Like `find`, but any series whose dimensions include `must` (minus per-AZ copies):
    a hand-written bundle may name a target group without its load balancer."""
    if not facts.has(METRICS) or not must:
        return find(facts, namespace, name, must, stats)  # raises MissingFacts
    first = next(iter(must.items()))
    dims_seen: list[dict[str, str]] = []
    for dims in _by_dimension(facts).get((namespace, name, *first), []):
        if (all(dims.get(k) == v for k, v in must.items())
                and not _SPLIT_DIMS & set(dims) and dims not in dims_seen):
            dims_seen.append(dims)
    for dims in dims_seen:
        got = find(facts, namespace, name, dims, stats)
        if got is not None and len(got):
            return got
    return find(facts, namespace, name, dims_seen[0], stats) if dims_seen else None


def _by_dimension(facts: Facts) -> dict[tuple[str, str, str, str], list[dict[str, str]]]:
    """The dimensions of every series, under (namespace, name, dimension, value) for each of
    its dimensions, in bundle order: `find_under` runs for every idle target group (an
    idle ALB publishes nothing), and scanning all series each time is quadratic."""
    def build() -> dict[tuple[str, str, str, str], list[dict[str, str]]]:
        out: dict[tuple[str, str, str, str], list[dict[str, str]]] = {}
        for raw in facts.bundle.get(METRICS, []) or []:
            namespace, name = raw.get("namespace"), raw.get("name")
            if not (isinstance(namespace, str) and isinstance(name, str)):
                continue  # never equal to the names asked for
            dims = {str(k): str(v) for k, v in dict(raw.get("dimensions") or {}).items()}
            for key, value in dims.items():
                out.setdefault((namespace, name, key, value), []).append(dims)
        return out

    return facts.memo(("metrics_refs", "by_dimension"), build)


def thresholds(section: str) -> Mapping[str, Any]:
    """One section of checks/data/metric_thresholds.yaml (`sustained`, `cpu_credits`, ...)."""
    out: Mapping[str, Any] = table("metric_thresholds")[section]
    return out


def holds(s: Sustained) -> bool:
    """Sustained in the sense of metric_thresholds.yaml `sustained:`."""
    cfg = thresholds("sustained")
    return s.holds(float(cfg["min_fraction"]), float(cfg["min_run_minutes"]) * 60)


def min_data_s() -> float:
    """Below this much data (seconds with a datapoint) no verdict is given."""
    return float(thresholds("sustained")["min_data_minutes"]) * 60


# -- ECS services --------------------------------------------------------------------------
def service_dims(svc: Item) -> dict[str, str]:
    return {"ClusterName": arn_name(str(svc.get("clusterArn", ""))),
            "ServiceName": str(svc.get("serviceName") or arn_name(str(svc.get("serviceArn"))))}


def sorted_services(facts: Facts) -> list[Item]:
    return sorted(facts.services, key=lambda s: str(s.get("serviceArn")))


def running_count(svc: Item) -> int:
    return int_or_none(svc.get("runningCount")) or 0


def desired_count(svc: Item) -> int:
    return int_or_none(svc.get("desiredCount")) or 0


# -- load balancers ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TargetGroupRef:
    arn: str
    dim: str  # targetgroup/name/id
    load_balancers: tuple[str, ...]  # app/name/id
    protocol: str | None

    @property
    def is_network(self) -> bool:
        """TCP/UDP/TLS target groups belong to Network Load Balancers (AWS/NetworkELB)."""
        return self.protocol in ("TCP", "UDP", "TLS", "TCP_UDP")


def _resource_part(arn: str) -> str:
    return arn.split(":", 5)[5] if arn.count(":") >= 5 else arn


def target_groups_of(facts: Facts, svc: Item) -> list[TargetGroupRef]:
    """The service's target groups, worked out once per service (the CPU, latency, 5xx and
    health checks each ask)."""
    return list(facts.memo_of(svc, "metric_refs.target_groups",
                              lambda: tuple(_target_groups_of(facts, svc))))


def _target_groups_of(facts: Facts, svc: Item) -> list[TargetGroupRef]:
    arns = sorted({str(lb["targetGroupArn"]) for lb in objs(svc.get("loadBalancers"))
                   if lb.get("targetGroupArn")})
    out: list[TargetGroupRef] = []
    for arn in arns:
        tg = facts.lookup("target_groups", "TargetGroupArn", arn) if facts.has(
            "target_groups") else None
        lbs = tuple(_resource_part(str(a)).removeprefix("loadbalancer/")
                    for a in obj(tg).get("LoadBalancerArns") or [])
        out.append(TargetGroupRef(arn, _resource_part(arn), lbs, obj(tg).get("Protocol")))
    return out


def elb_series(facts: Facts, tg: TargetGroupRef, name: str,
               stats: tuple[str, ...]) -> Series | None:
    """AWS/ApplicationELB `name` of the target group, under any of its load balancers; once
    per (target group, metric, stats) and analysis: the CPU check's context and the
    latency and 5xx checks ask for the same series, and an idle target group's (none in
    the bundle) takes a lookup under every load balancer and a search by dimension."""
    return facts.memo(("metric_refs.elb", tg, name, stats),
                      lambda: _elb_series(facts, tg, name, stats))


def _elb_series(facts: Facts, tg: TargetGroupRef, name: str,
                stats: tuple[str, ...]) -> Series | None:
    empty: Series | None = None
    for lb in tg.load_balancers:
        got = find(facts, "AWS/ApplicationELB", name, {"TargetGroup": tg.dim, "LoadBalancer": lb},
                   stats)
        if got is not None and len(got):
            return got
        empty = empty or got
    return find_under(facts, "AWS/ApplicationELB", name, {"TargetGroup": tg.dim}, stats) or empty


# -- EC2 hosts -----------------------------------------------------------------------------
def tasks_by_instance(facts: Facts) -> dict[str, dict[str, list[Item]]]:
    """container instance ARN → service ARN → its RUNNING tasks there."""
    out: dict[str, dict[str, list[Item]]] = defaultdict(lambda: defaultdict(list))
    if not (facts.has("tasks") and facts.has("services")):
        return {}
    for task in facts.tasks:
        svc = facts.service_of_task(task)
        ci = task.get("containerInstanceArn")
        if svc is not None and ci and task.get("lastStatus") == "RUNNING":
            out[str(ci)][str(svc["serviceArn"])].append(task)
    return out


# -- NAT gateways --------------------------------------------------------------------------
def nat_addresses(nat: Item) -> int:
    """Usable IPv4 addresses; each adds 55,000 connections per destination."""
    bad = {"failed", "disassociating", "unassigning"}
    good = [a for a in objs(nat.get("NatGatewayAddresses")) if a.get("Status") not in bad]
    return max(1, len(good))


def _service_subnets(facts: Facts, svc: Item) -> set[str]:
    """awsvpc subnets of the service (and its deployments); for bridge/host services the
    subnets of the instances running its tasks."""
    out: set[str] = set()
    configs = [svc.get("networkConfiguration")] + [
        d.get("networkConfiguration") for d in objs(svc.get("deployments"))]
    for conf in configs:
        out.update(str(s) for s in dig(conf, "awsvpcConfiguration", "subnets") or [])
    if out or not all(facts.has(c) for c in ("tasks", "container_instances", "ec2_instances")):
        return out
    for task in facts.tasks_of_service(svc, "RUNNING"):
        ci = facts.container_instance(task.get("containerInstanceArn"))
        inst = facts.ec2_instance_of(ci) if ci else None
        if inst and inst.get("SubnetId"):
            out.add(str(inst["SubnetId"]))
    return out


def _route_table(facts: Facts, subnet: str) -> Item | None:
    """Explicit association first, else the main table of the subnet's VPC."""
    tables = facts.items("route_tables")
    for rt in tables:
        if any(a.get("SubnetId") == subnet for a in objs(rt.get("Associations"))):
            return rt
    sub = facts.lookup("subnets", "SubnetId", subnet) if facts.has("subnets") else None
    vpc = obj(sub).get("VpcId")
    for rt in tables:
        if rt.get("VpcId") == vpc and any(a.get("Main") for a in objs(rt.get("Associations"))):
            return rt
    return None


def _default_nat(rt: Item) -> str | None:
    for route in objs(rt.get("Routes")):
        if route.get("DestinationCidrBlock") == "0.0.0.0/0" and route.get("NatGatewayId"):
            return str(route["NatGatewayId"]) if route.get("State") != "blackhole" else None
    return None


def services_behind_nats(facts: Facts) -> dict[str, list[tuple[Item, list[str]]]]:
    """NAT gateway id → [(service, its subnets routed through that NAT)]; empty when the
    route tables or services were not collected (the NAT is then judged on its own)."""
    if not (facts.has("route_tables") and facts.has("services")):
        return {}
    out: dict[str, list[tuple[Item, list[str]]]] = defaultdict(list)
    for svc in sorted_services(facts):
        by_nat: dict[str, list[str]] = defaultdict(list)
        for subnet in sorted(_service_subnets(facts, svc)):
            table = _route_table(facts, subnet)
            nat = _default_nat(table) if table else None
            if nat:
                by_nat[nat].append(subnet)
        for nat, subnets in by_nat.items():
            out[nat].append((svc, subnets))
    return out


def nats(facts: Facts) -> Iterator[Item]:
    yield from sorted((n for n in facts.items("nat_gateways") if n.get("NatGatewayId")),
                      key=lambda n: str(n["NatGatewayId"]))


def data_of(**values: Any) -> dict[str, Any]:
    """Drop None entries so a finding's data holds what was measured only."""
    return {k: v for k, v in values.items() if v is not None}
