"""Where a service's traffic leaves from, and what it must reach before its containers run.

An *origin* is a subnet that some of a service's traffic starts in, with the security
groups on that ENI. On Fargate everything (image pull, secrets, awslogs, the application)
leaves through the task's own ENI. On the EC2 launch type the ECS agent and Docker on the
container instance pull images, fetch secrets and ship awslogs, so those leave through the
*instance's* ENI, while an awsvpc task's own ENI carries only application traffic.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from checker.facts import Facts, Item
from checks._net_rules import dicts, obj, strs
from checks.lib.knowledge import table

LIVE = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING")
_ECR = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_TEMPLATE = ("{{", "${", "<", "%(")


def active_services(facts: Facts) -> list[Item]:
    return sorted((s for s in facts.services if s.get("status", "ACTIVE") != "INACTIVE"),
                  key=lambda s: str(s.get("serviceArn")))


def live_tasks(facts: Facts, svc: Item) -> list[Item]:
    return [t for t in facts.tasks_of_service(svc) if t.get("lastStatus") in LIVE]


def eni_detail(task: Item, name: str) -> str | None:
    for att in dicts(task.get("attachments")):
        if att.get("type") not in ("ElasticNetworkInterface", "eni"):
            continue
        for detail in dicts(att.get("details")):
            if detail.get("name") == name and detail.get("value"):
                return str(detail["value"])
    return None


def is_fargate(svc: Item, tasks: list[Item] | None = None) -> bool:
    """Fargate by launch type, else by capacity provider (FARGATE, FARGATE_SPOT), else by
    what its tasks ran on (a service left to the cluster's default strategy)."""
    if svc.get("launchType"):
        return svc.get("launchType") == "FARGATE"
    providers = [str(s.get("capacityProvider", "")) for s in
                 dicts(svc.get("capacityProviderStrategy"))]
    if providers:
        return all(p.startswith("FARGATE") for p in providers)
    kinds = {t.get("launchType") for t in tasks or []}
    return kinds == {"FARGATE"}


def task_definition_of(facts: Facts, svc: Item) -> Item | None:
    arn = svc.get("taskDefinition")
    if not isinstance(arn, str) or not facts.has("task_definitions"):
        return None
    return facts.task_definition(arn)


def awsvpc_config(svc: Item) -> Item:
    return obj(obj(svc.get("networkConfiguration")).get("awsvpcConfiguration"))


def fargate(facts: Facts, svc: Item) -> bool:
    return is_fargate(svc, live_tasks(facts, svc) if facts.has("tasks") else None)


def network_mode(facts: Facts, svc: Item) -> str:
    """Fargate is always awsvpc; an EC2 task definition without networkMode is bridge."""
    if fargate(facts, svc):
        return "awsvpc"
    td = task_definition_of(facts, svc)
    mode = (td or {}).get("networkMode")
    if mode:
        return str(mode)
    return "awsvpc" if awsvpc_config(svc) else "bridge"


# -- origins --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    service: Item
    subnet_id: str
    tasks: tuple[Item, ...]
    groups: tuple[str, ...]
    public_ip: bool | None
    pulls: bool  # image pulls, secrets and awslogs leave from here
    via: str

    @property
    def service_arn(self) -> str:
        return str(self.service.get("serviceArn"))


@dataclass
class Topology:
    origins: list[Origin] = field(default_factory=list)
    #: Why the subnets the pulls leave from are not known (EC2 without host data).
    pulls_unknown: str | None = None


def _task_origins(facts: Facts, svc: Item, on_fargate: bool) -> list[Origin]:
    cfg = awsvpc_config(svc)
    by_subnet: dict[str, list[Item]] = {s: [] for s in strs(cfg.get("subnets"))}
    for task in live_tasks(facts, svc):
        subnet = eni_detail(task, "subnetId")
        if subnet:
            by_subnet.setdefault(subnet, []).append(task)
    groups = tuple(strs(cfg.get("securityGroups")))
    public = str(cfg.get("assignPublicIp", "DISABLED")).upper() == "ENABLED" and on_fargate
    via = "task ENI" if on_fargate else "task ENI (application traffic only)"
    return [Origin(svc, s, tuple(t), groups, public, on_fargate, via)
            for s, t in sorted(by_subnet.items())]


def _host_origins(facts: Facts, svc: Item) -> list[Origin] | str:
    if not (facts.has("container_instances") and facts.has("ec2_instances")):
        return ("EC2 launch type: images, secrets and logs go through the container "
                "instances; needs container_instances and ec2_instances to find their subnets")
    hosts: dict[tuple[str, str], list[Item]] = defaultdict(list)
    meta: dict[tuple[str, str], Item] = {}
    for task in live_tasks(facts, svc):
        ci_arn = task.get("containerInstanceArn")
        ci = facts.container_instance(ci_arn) if isinstance(ci_arn, str) else None
        inst = facts.ec2_instance_of(ci) if ci else None
        if inst and inst.get("SubnetId"):
            key = (str(inst["SubnetId"]), str(inst.get("InstanceId")))
            hosts[key].append(task)
            meta[key] = inst
    if not hosts:
        return "EC2 launch type: no running task on a known container instance"
    out = []
    for (subnet, iid), tasks in sorted(hosts.items()):
        inst = meta[(subnet, iid)]
        groups = tuple(str(g.get("GroupId")) for g in dicts(inst.get("SecurityGroups")))
        out.append(Origin(svc, subnet, tuple(tasks), groups, bool(inst.get("PublicIpAddress")),
                          True, f"container instance {iid}"))
    return out


def topology(facts: Facts, svc: Item) -> Topology:
    """Where the service's traffic leaves from; built once per service and analysis (eight
    network checks ask for it). Shared: callers must not change it."""
    return facts.memo_of(svc, "net_paths.topology", lambda: _topology(facts, svc))


def _topology(facts: Facts, svc: Item) -> Topology:
    on_fargate = fargate(facts, svc)
    topo = Topology()
    if network_mode(facts, svc) == "awsvpc":
        topo.origins.extend(_task_origins(facts, svc, on_fargate))
    if not on_fargate:
        hosts = _host_origins(facts, svc)
        if isinstance(hosts, str):
            topo.pulls_unknown = hosts
        else:
            topo.origins.extend(hosts)
    return topo


# -- routes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Egress:
    """The subnet's default route, classified: `nat`/`igw`/`other` reach past the VPC,
    `none` has no 0.0.0.0/0 route, `broken` has one that drops packets, `unknown` when the
    route table cannot be found."""

    kind: str
    detail: str
    route_table: str | None = None
    target: str | None = None
    implicit: bool = False  # the VPC main route table, no explicit association

    def data(self) -> dict[str, Any]:
        return {"egress": self.kind, "route_table": self.route_table, "target": self.target,
                "main_route_table": self.implicit}


def route_table_of(facts: Facts, subnet: Item) -> tuple[Item | None, bool]:
    """The subnet's explicit association, else its VPC's main table (and whether main)."""
    sid, vpc = subnet.get("SubnetId"), subnet.get("VpcId")
    tables = facts.items("route_tables")
    for rt in tables:
        if any(a.get("SubnetId") == sid for a in dicts(rt.get("Associations"))):
            return rt, False
    for rt in tables:
        if rt.get("VpcId") == vpc and any(a.get("Main") for a in dicts(rt.get("Associations"))):
            return rt, True
    return None, False


_TARGETS = ("NatGatewayId", "GatewayId", "TransitGatewayId", "NetworkInterfaceId", "InstanceId",
            "VpcPeeringConnectionId", "LocalGatewayId", "CarrierGatewayId", "CoreNetworkArn")


def _nat_egress(facts: Facts, nat_id: str, rt: str, implicit: bool) -> Egress:
    nat = facts.lookup("nat_gateways", "NatGatewayId", nat_id)
    if nat is None:
        return Egress("broken", f"default route to NAT gateway {nat_id}, which does not exist "
                      "(deleted?)", rt, nat_id, implicit)
    state = str(nat.get("State", "?"))
    if state != "available":
        why = f": {nat['FailureMessage']}" if nat.get("FailureMessage") else ""
        return Egress("broken", f"default route to NAT gateway {nat_id}, which is {state}{why}",
                      rt, nat_id, implicit)
    if nat.get("ConnectivityType") == "private":
        return Egress("broken", f"default route to private NAT gateway {nat_id}: a private NAT "
                      "gateway has no internet access", rt, nat_id, implicit)
    return Egress("nat", f"default route via NAT gateway {nat_id} (available)", rt, nat_id,
                  implicit)


def egress_of(facts: Facts, subnet: Item) -> Egress:
    rt, implicit = route_table_of(facts, subnet)
    if rt is None:
        return Egress("unknown", f"no route table found for {subnet.get('SubnetId')}")
    rt_id = str(rt.get("RouteTableId"))
    route = next((r for r in dicts(rt.get("Routes"))
                  if r.get("DestinationCidrBlock") == "0.0.0.0/0"), None)
    if route is None:
        return Egress("none", f"route table {rt_id} has no default route (0.0.0.0/0)",
                      rt_id, None, implicit)
    target = next((str(route[k]) for k in _TARGETS if route.get(k)), "?")
    state = str(route.get("State", "active"))
    if state != "active":
        return Egress("broken", f"default route in {rt_id} to {target} is {state}", rt_id,
                      target, implicit)
    if route.get("NatGatewayId"):
        return _nat_egress(facts, target, rt_id, implicit)
    if target.startswith("igw-"):
        return Egress("igw", f"default route via internet gateway {target}", rt_id, target,
                      implicit)
    return Egress("other", f"default route via {target} (the path beyond it is not visible "
                  "here)", rt_id, target, implicit)


def reaches_internet(egress: Egress, origin: Origin) -> bool:
    """An internet gateway carries only ENIs with a public IP."""
    return egress.kind in ("nat", "other") or (egress.kind == "igw" and bool(origin.public_ip))


# -- what the tasks need --------------------------------------------------------------------

@dataclass(frozen=True)
class Need:
    endpoint: str  # key of checks/data/vpc_endpoints.yaml, or "internet"
    region: str
    why: str

    @property
    def service_name(self) -> str:
        return f"com.amazonaws.{self.region}.{self.endpoint}"

    @property
    def predicts(self) -> str:
        if self.endpoint == "internet":
            return "image-pull-failure"
        return str(table("vpc_endpoints")["endpoints"][self.endpoint]["predicts"])


def _region(value: Any, default: str) -> str:
    return str(value) if isinstance(value, str) and _REGION.match(value) else default


def image_needs(image: str, where: str, region: str) -> list[Need]:
    if not image or any(t in image for t in _TEMPLATE):
        return []
    ecr = _ECR.match(image)
    if ecr:
        reg = _region(ecr.group(1), region)
        return [Need(e, reg, f"image {image} ({where})") for e in ("ecr.api", "ecr.dkr", "s3")]
    first = image.split("/", 1)[0]
    host = first if "/" in image and ("." in first or ":" in first) else "docker.io"
    return [Need("internet", region, f"image {image} from {host} ({where})")]


def _secret_need(value_from: str, where: str, region: str) -> Need | None:
    if not value_from or any(t in value_from for t in _TEMPLATE[1:]):
        return None
    parts = value_from.split(":")
    reg = _region(parts[3], region) if value_from.startswith("arn:") and len(parts) > 3 else region
    kind = "secretsmanager" if "secretsmanager" in value_from else "ssm"
    return Need(kind, reg, f"{where} secret from {kind}")


def _container_needs(ctr: Item, region: str) -> Iterator[Need]:
    where = f"container {ctr.get('name', '?')}"
    yield from image_needs(str(ctr.get("image") or ""), where, region)
    log = obj(ctr.get("logConfiguration"))
    if log.get("logDriver") == "awslogs":
        reg = _region(obj(log.get("options")).get("awslogs-region"), region)
        yield Need("logs", reg, f"{where} awslogs driver")
    refs = [s.get("valueFrom") for s in dicts(ctr.get("secrets"))]
    refs += [s.get("valueFrom") for s in dicts(log.get("secretOptions"))]
    creds = obj(ctr.get("repositoryCredentials")).get("credentialsParameter")
    for ref in [*refs, creds]:
        need = _secret_need(str(ref or ""), where, region)
        if need:
            yield need


def task_needs(facts: Facts, svc: Item) -> list[Need] | None:
    """Every endpoint the service's tasks need to start, one Need per (endpoint, region);
    None when the task definition is not in the bundle."""
    td = task_definition_of(facts, svc)
    if td is None:
        return None
    region = facts.region or "us-east-1"
    seen: dict[tuple[str, str], Need] = {}
    for ctr in dicts(td.get("containerDefinitions")):
        for need in _container_needs(ctr, region):
            seen.setdefault((need.endpoint, need.region), need)
    return [seen[k] for k in sorted(seen)]


# -- endpoints ------------------------------------------------------------------------------

def _endpoint_problem(ep: Item, need: Need, route_table: str | None) -> str | None:
    eid = ep.get("VpcEndpointId", "?")
    state = str(ep.get("State", "available")).lower()
    if state != "available":
        return f"endpoint {eid} is {state}"
    if ep.get("VpcEndpointType") == "Gateway":
        if route_table not in strs(ep.get("RouteTableIds")):
            return f"gateway endpoint {eid} is not on route table {route_table}"
        return None
    if not ep.get("PrivateDnsEnabled"):
        return (f"endpoint {eid} has private DNS off: {need.endpoint} names still resolve to "
                "public addresses")
    return None


def endpoint_for(facts: Facts, need: Need, vpc: str | None,
                 route_table: str | None) -> tuple[Item | None, str]:
    """A usable endpoint of `vpc` serving `need`, or None with the reason there is none."""
    if need.endpoint == "internet":
        return None, f"{need.why}: no VPC endpoint serves it, it needs internet"
    matching = [e for e in facts.items("vpc_endpoints") if e.get("VpcId") == vpc
                and str(e.get("ServiceName", "")).endswith(f".{need.region}.{need.endpoint}")]
    problems: list[str] = []
    for ep in sorted(matching, key=lambda e: str(e.get("VpcEndpointId"))):
        problem = _endpoint_problem(ep, need, route_table)
        if problem is None:
            return ep, ""
        problems.append(problem)
    return None, problems[0] if problems else f"no {need.service_name} endpoint"


def endpoint_gaps(facts: Facts, needs: list[Need], vpc: str | None,
                  route_table: str | None) -> list[tuple[Need, str]]:
    """Needs that no usable VPC endpoint of `vpc` serves, each with the reason."""
    out = []
    for need in needs:
        ep, why = endpoint_for(facts, need, vpc, route_table)
        if ep is None:
            out.append((need, why))
    return out


def gap_text(gaps: list[tuple[Need, str]]) -> str:
    """`no VPC endpoint for ecr.dkr, logs (com.amazonaws.us-east-1.*)`, then any other
    reason verbatim."""
    absent = [n for n, why in gaps if why == f"no {n.service_name} endpoint"]
    regions = sorted({n.region for n in absent})
    parts = [f"no VPC endpoint for {', '.join(n.endpoint for n in absent if n.region == r)} "
             f"(com.amazonaws.{r}.*)" for r in regions]
    return "; ".join(parts + [why for n, why in gaps if n not in absent])


def subnet_item(facts: Facts, subnet_id: str) -> Item | None:
    return facts.lookup("subnets", "SubnetId", subnet_id)
