"""Where a service's traffic leaves from: its subnets and the security groups on those ENIs.

An *origin* is a subnet that some of a service's traffic starts in, with the security
groups on that ENI. On Fargate everything (image pull, secrets, awslogs, the application)
leaves through the task's own ENI. On the EC2 launch type the ECS agent and Docker on the
container instance pull images, fetch secrets and ship awslogs, so those leave through the
*instance's* ENI, while an awsvpc task's own ENI carries only application traffic.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from checker.facts import Facts, Item, awsvpc_config, objs, strs, task_definition_arn, task_sets
from checks.lib.labels import service_label
from checks.lib.network.rules import Network, network

LIVE = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING")


def active_services(facts: Facts) -> list[Item]:
    return sorted((s for s in facts.services if s.get("status", "ACTIVE") != "INACTIVE"),
                  key=lambda s: str(s.get("serviceArn")))


def service_text(svc: Item) -> str:
    """`service prod/web`: how every network message names the service."""
    return f"service {service_label(svc)}"


def live_tasks(facts: Facts, svc: Item) -> list[Item]:
    return [t for t in facts.tasks_of_service(svc) if t.get("lastStatus") in LIVE]


def eni_detail(task: Item, name: str) -> str | None:
    for att in objs(task.get("attachments")):
        if att.get("type") not in ("ElasticNetworkInterface", "eni"):
            continue
        for detail in objs(att.get("details")):
            if detail.get("name") == name and detail.get("value"):
                return str(detail["value"])
    return None


def is_fargate(svc: Item, tasks: list[Item] | None = None) -> bool:
    """Fargate by launch type, else by capacity provider (FARGATE, FARGATE_SPOT), else by
    what its tasks ran on (a service left to the cluster's default strategy)."""
    if svc.get("launchType"):
        return svc.get("launchType") == "FARGATE"
    providers = [str(s.get("capacityProvider", "")) for s in
                 objs(svc.get("capacityProviderStrategy"))]
    if providers:
        return all(p.startswith("FARGATE") for p in providers)
    sets = task_sets(svc)  # EXTERNAL / CODE_DEPLOY: the task sets say how tasks launch
    if sets:
        return all(is_fargate(s) for s in sets)
    kinds = {t.get("launchType") for t in tasks or []}
    return kinds == {"FARGATE"}


def task_definition_of(facts: Facts, svc: Item) -> Item | None:
    """The service's task definition; for one run by task sets, its PRIMARY task set's."""
    arn = task_definition_arn(svc)
    if arn is None or not facts.has("task_definitions"):
        return None
    return facts.task_definition(arn)


def fargate(facts: Facts, svc: Item) -> bool:
    return is_fargate(svc, live_tasks(facts, svc) if facts.has("tasks") else None)


def network_mode(facts: Facts, svc: Item) -> str:
    """Fargate is always awsvpc; an EC2 task definition without networkMode is bridge.
    Once per service and analysis: asked per load balancer path, origin and check, and
    telling Fargate apart may read every live task of the service."""
    return facts.memo_of(svc, "network.mode", lambda: _network_mode(facts, svc))


def _network_mode(facts: Facts, svc: Item) -> str:
    if fargate(facts, svc):
        return "awsvpc"
    td = task_definition_of(facts, svc)
    mode = (td or {}).get("networkMode")
    if mode:
        return str(mode)
    return "awsvpc" if awsvpc_config(svc) else "bridge"


# -- lookups ----------------------------------------------------------------------------------

def subnet_item(facts: Facts, subnet_id: str) -> Item | None:
    return facts.lookup("subnets", "SubnetId", subnet_id)


def subnet_cidr(facts: Facts, subnet_id: str | None) -> Network | None:
    item = subnet_item(facts, subnet_id) if subnet_id else None
    return network(item.get("CidrBlock")) if item else None


def security_groups(facts: Facts, ids: list[str]) -> tuple[list[Item], list[str]]:
    """The group items for `ids`, and the ids not in the bundle."""
    found = [sg for i in ids if (sg := facts.lookup("security_groups", "GroupId", i))]
    return found, [i for i in ids if not facts.lookup("security_groups", "GroupId", i)]


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
        groups = tuple(str(g.get("GroupId")) for g in objs(inst.get("SecurityGroups")))
        out.append(Origin(svc, subnet, tuple(tasks), groups, bool(inst.get("PublicIpAddress")),
                          True, f"container instance {iid}"))
    return out


def topology(facts: Facts, svc: Item) -> Topology:
    """Where the service's traffic leaves from; built once per service and analysis (eight
    network checks ask for it). Shared: callers must not change it."""
    return facts.memo_of(svc, "network.topology", lambda: _topology(facts, svc))


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
