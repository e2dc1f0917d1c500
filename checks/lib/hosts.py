"""What the EC2 capacity checks reason about: hosts (container instances with their free
CPU, memory and host ports) and demand (tasks waiting to be placed, with what each needs).

Demand is counted the way the scheduler sees it. A PENDING task that already has a
`containerInstanceArn` is placed: its CPU, memory and ports are already subtracted from that
instance's `remainingResources`, so counting it again would invent a shortage. What still
needs a place is `desiredCount - runningCount - (placed, not yet running tasks)` per service,
plus standalone tasks waiting without an instance (capacity-provider PROVISIONING).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from checker.facts import Facts, Item, arn_name, attribute, obj, objs, resource_value
from checks.lib.labels import service_label, task_id, td_label
from checks.lib.taskdefs import EC2, cpu_units, memory_mib, platform
from checks.lib.values import int_or_none

#: Task states between placement and RUNNING: the task holds its instance's resources.
PLACED_STATES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})
#: Task states in which a task holds an instance's resources (and an awsvpc ENI).
HOLDING_STATES = PLACED_STATES | {"RUNNING", "DEACTIVATING", "STOPPING"}


@dataclass(frozen=True, slots=True)
class Host:
    """One container instance as the scheduler sees it."""

    ci: Item
    arn: str
    instance_id: str
    instance_type: str | None
    cluster: str
    status: str
    connected: bool
    cpu_registered: int | None
    cpu_free: int | None
    mem_registered: int | None
    mem_free: int | None
    tcp_used: frozenset[int]
    udp_used: frozenset[int]

    @property
    def usable(self) -> bool:
        """ACTIVE with its agent connected: the only instances ECS places tasks on."""
        return self.status == "ACTIVE" and self.connected

    @property
    def label(self) -> str:
        """`i-0abc (m5.large, prod)`: instance, type and cluster, as people say it."""
        return f"{self.instance_id} ({self.instance_type or 'type ?'}, {self.cluster})"


def _ports(ci: Item, name: str) -> frozenset[int]:
    values = resource_value(ci, "remainingResources", name)
    ports = (int_or_none(v) for v in values) if isinstance(values, list) else iter(())
    return frozenset(p for p in ports if p is not None)


def instance_type_name(facts: Facts, ci: Item) -> str | None:
    inst = facts.ec2_instance_of(ci) if facts.has("ec2_instances") else None
    name = obj(inst).get("InstanceType") or attribute(ci, "ecs.instance-type")
    return str(name) if name else None


def _only_cluster(facts: Facts) -> str | None:
    names = {arn_name(str(c.get("clusterArn") or c.get("clusterName") or ""))
             for c in (facts.clusters if facts.has("clusters") else [])}
    names |= {str(c) for c in facts.scope.get("clusters") or []}
    names.discard("")
    return next(iter(names)) if len(names) == 1 else None


def cluster_of(facts: Facts, ci: Item) -> str:
    """Cluster name from the instance ARN (`container-instance/prod/<id>`); the old ARN
    format has none, then the bundle's only cluster, else `?`."""
    parts = str(ci.get("containerInstanceArn", "")).split(":", 5)[-1].split("/")
    if len(parts) >= 3:
        return parts[1]
    return _only_cluster(facts) or "?"


def host(facts: Facts, ci: Item) -> Host:
    def num(which: str, name: str) -> int | None:
        return int_or_none(resource_value(ci, which, name))

    return Host(
        ci=ci, arn=str(ci.get("containerInstanceArn", "")),
        instance_id=str(ci.get("ec2InstanceId") or arn_name(str(ci.get("containerInstanceArn")))),
        instance_type=instance_type_name(facts, ci), cluster=cluster_of(facts, ci),
        status=str(ci.get("status") or ""), connected=ci.get("agentConnected") is True,
        cpu_registered=num("registeredResources", "CPU"),
        cpu_free=num("remainingResources", "CPU"),
        mem_registered=num("registeredResources", "MEMORY"),
        mem_free=num("remainingResources", "MEMORY"),
        tcp_used=_ports(ci, "PORTS"), udp_used=_ports(ci, "PORTS_UDP"),
    )


def hosts(facts: Facts) -> list[Host]:
    """Every container instance as a Host, by ARN; built once per analysis (checks ask
    for them per service)."""
    return list(facts.memo(("capacity_model", "hosts"), lambda: tuple(sorted(
        (host(facts, ci) for ci in facts.container_instances), key=lambda h: h.arn))))


def hosts_by_cluster(facts: Facts) -> dict[str, list[Host]]:
    out: dict[str, list[Host]] = {}
    for h in hosts(facts):
        out.setdefault(h.cluster, []).append(h)
    return out


def tasks_on(facts: Facts, ci_arn: str, states: frozenset[str] = HOLDING_STATES) -> list[Item]:
    by_instance = facts.memo(("capacity_model", "tasks_by_instance"),
                             lambda: _tasks_by_instance(facts))
    return [t for t in by_instance.get(ci_arn, ()) if t.get("lastStatus") in states]


def _tasks_by_instance(facts: Facts) -> dict[str, list[Item]]:
    """Tasks grouped by container instance ARN, in bundle order (asked per instance)."""
    out: dict[str, list[Item]] = {}
    for task in facts.tasks:
        arn = task.get("containerInstanceArn")
        if isinstance(arn, str):
            out.setdefault(arn, []).append(task)
    return out


def majority(values: list[str]) -> str | None:
    """The most common value when it is strictly the most common (no tie)."""
    top = Counter(values).most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


@dataclass(frozen=True, slots=True)
class Need:
    """What one copy of a task needs from one instance."""

    cpu: int
    memory: int
    network_mode: str
    tcp: frozenset[int]
    udp: frozenset[int]

    @property
    def awsvpc(self) -> bool:
        return self.network_mode == "awsvpc"

    @property
    def ports_label(self) -> str:
        return ", ".join([f"{p}/tcp" for p in sorted(self.tcp)] +
                         [f"{p}/udp" for p in sorted(self.udp)])


def _host_ports(td: Item, mode: str) -> tuple[frozenset[int], frozenset[int]]:
    """Static host ports: bridge `hostPort` other than 0, host mode `hostPort` or else
    `containerPort`. awsvpc tasks have their own ENI and take no host port."""
    tcp: set[int] = set()
    udp: set[int] = set()
    if mode in ("awsvpc", "none"):
        return frozenset(), frozenset()
    for ctr in objs(td.get("containerDefinitions")):
        for pm in objs(ctr.get("portMappings")):
            port = int_or_none(pm.get("hostPort"))
            if mode == "host" and not port:
                port = int_or_none(pm.get("containerPort"))
            if port:
                (udp if str(pm.get("protocol", "tcp")).lower() == "udp" else tcp).add(port)
    return frozenset(tcp), frozenset(udp)


def need_of(td: Item) -> Need:
    """Task-level cpu/memory when set (that is what ECS reserves), else the container sums:
    `cpu`, and `memory` (hard) else `memoryReservation` (soft) per container."""
    ctrs = objs(td.get("containerDefinitions"))
    cpu = cpu_units(td.get("cpu"))
    if cpu is None:
        cpu = sum(int_or_none(c.get("cpu")) or 0 for c in ctrs)
    mem = memory_mib(td.get("memory"))
    if mem is None:
        mem = sum(int_or_none(c.get("memory")) or int_or_none(c.get("memoryReservation")) or 0
                  for c in ctrs)
    mode = str(td.get("networkMode") or "bridge")
    tcp, udp = _host_ports(td, mode)
    return Need(cpu=cpu, memory=mem, network_mode=mode, tcp=tcp, udp=udp)


@dataclass(frozen=True, slots=True)
class Demand:
    """Tasks of one service (or one standalone task) that run on EC2 capacity."""

    resource: str
    label: str
    service: str | None
    cluster: str
    td: Item | None
    waiting: int
    desired: int | None = None
    #: DAEMON services and distinctInstance constraints: one copy per instance, and not on
    #: an instance that already holds one (`busy`).
    one_per_instance: bool = False
    busy: frozenset[str] = frozenset()

    @property
    def need(self) -> Need | None:
        return need_of(self.td) if self.td is not None else None

    @property
    def td_name(self) -> str:
        return td_label(self.td) if self.td is not None else "?"


def one_per_instance(svc: Item) -> bool:
    return svc.get("schedulingStrategy") == "DAEMON" or any(
        c.get("type") == "distinctInstance" for c in objs(svc.get("placementConstraints")))


def _service_demand(facts: Facts, svc: Item) -> Demand:
    desired = int_or_none(svc.get("desiredCount")) or 0
    running = int_or_none(svc.get("runningCount")) or 0
    mine = facts.tasks_of_service(svc)
    placed = sum(1 for t in mine
                 if t.get("lastStatus") in PLACED_STATES and t.get("containerInstanceArn"))
    single = one_per_instance(svc)
    busy = frozenset(str(t.get("containerInstanceArn")) for t in mine
                     if single and t.get("lastStatus") in HOLDING_STATES)
    arn = str(svc.get("serviceArn"))
    return Demand(resource=arn, label=f"service {service_label(svc)}", service=arn,
                  cluster=arn_name(str(svc.get("clusterArn", ""))) or "?",
                  td=facts.task_definition(svc.get("taskDefinition")),
                  waiting=max(desired - running - placed, 0), desired=desired,
                  one_per_instance=single, busy=busy)


def _standalone(facts: Facts) -> Iterator[Demand]:
    for task in sorted(facts.tasks, key=lambda t: str(t.get("taskArn"))):
        if (task.get("lastStatus") not in PLACED_STATES or task.get("containerInstanceArn")
                or str(task.get("launchType") or "EC2").upper() != EC2
                or facts.service_of_task(task) is not None):
            continue
        td = facts.task_definition(task.get("taskDefinitionArn"))
        yield Demand(resource=str(task.get("taskArn")), label=f"task {task_id(task)}",
                     service=None, cluster=arn_name(str(task.get("clusterArn", ""))) or "?",
                     td=td, waiting=1)


def ec2_demands(facts: Facts) -> list[Demand]:
    """Every EC2 service (waiting or not) and every standalone task waiting for a place."""
    out: list[Demand] = []
    for svc in sorted(facts.services, key=lambda s: str(s.get("serviceArn"))):
        td = facts.task_definition(svc.get("taskDefinition"))
        if platform(td or {}, svc) == EC2:
            out.append(_service_demand(facts, svc))
    out.extend(_standalone(facts))
    return out
