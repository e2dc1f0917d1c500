"""Would the copies of a service waiting for placement fit on the cluster's usable
instances, and if not, which resource is short (CPU, memory, a static host port) and why.

Two different problems look the same in a service event ("no container instance met all of
its requirements"): a real shortage (the cluster as a whole lacks the CPU or memory) and
fragmentation (the cluster has enough in total, but no single instance has it in one
piece). The remedies differ (add capacity vs. pack or resize tasks), so the check names
which one it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.hosts import Demand, Host, Need, ec2_demands, hosts_by_cluster

EVENTS_DOCS = ("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
               "service-event-messages-list.html")

#: Stand-in for "no limit" when a task needs none of a resource.
UNBOUNDED = 10**9


@dataclass(frozen=True, slots=True)
class Resource:
    name: str           # "CPU" or "memory"
    unit: str           # "CPU units" or "MiB"
    need: int           # per copy
    free_total: int     # over usable instances
    free_max: int       # on the single best instance
    copies: int         # copies this resource alone would admit (capped at UNBOUNDED)

    def short_for(self, waiting: int) -> bool:
        return self.need > 0 and self.copies < waiting

    def kind(self, waiting: int) -> str:
        """`shortage` when the cluster lacks it in total, else `fragmentation`."""
        return "fragmentation" if self.free_total >= self.need * waiting else "shortage"

    def describe(self, waiting: int) -> str:
        total = f" of the {self.need * waiting} all {waiting} need" if waiting > 1 else ""
        return (f"{self.name} short ({self.kind(waiting)}): {self.need} {self.unit} needed per "
                f"task, largest free {self.free_max} on one instance, {self.free_total} free "
                f"cluster-wide{total}")


@dataclass(frozen=True, slots=True)
class Fit:
    room: int                   # copies that fit in total (capped at UNBOUNDED)
    cpu: Resource
    memory: Resource
    instances: int

    def short(self, waiting: int) -> list[Resource]:
        return [r for r in (self.cpu, self.memory) if r.short_for(waiting)]

    def kind(self, waiting: int) -> str:
        """shortage, fragmentation, or `no-instances`; `ok` when everything fits."""
        if self.room >= waiting:
            return "ok"
        if self.instances == 0:
            return "no-instances"
        kinds = {r.kind(waiting) for r in self.short(waiting)}
        return "shortage" if "shortage" in kinds else "fragmentation"

    def data(self, waiting: int) -> dict[str, Any]:
        return {
            "room": min(self.room, UNBOUNDED), "instances": self.instances,
            "kind": self.kind(waiting), "short": [r.name for r in self.short(waiting)],
            "need_cpu": self.cpu.need, "need_memory": self.memory.need,
            "free_cpu_total": self.cpu.free_total, "free_cpu_max": self.cpu.free_max,
            "free_memory_total": self.memory.free_total,
            "free_memory_max": self.memory.free_max,
        }


def _copies(free: int | None, need: int) -> int:
    if need <= 0:
        return UNBOUNDED
    return max(free or 0, 0) // need


def _resource(name: str, unit: str, need: int, frees: list[int | None]) -> Resource:
    known = [max(f or 0, 0) for f in frees]
    return Resource(name=name, unit=unit, need=need, free_total=sum(known),
                    free_max=max(known, default=0),
                    copies=min(sum(_copies(f, need) for f in known), UNBOUNDED))


def fit(need: Need, usable: list[Host], one_per_instance: bool = False) -> Fit:
    """Copies of `need` that fit on `usable`, counting each instance's CPU and memory
    together (a copy needs both on the same instance), at most one per instance for daemons
    and distinctInstance. Ports and ENIs are judged by their own checks, so that each
    failure names one cause."""
    cap = 1 if one_per_instance else UNBOUNDED
    room = sum(min(_copies(h.cpu_free, need.cpu), _copies(h.mem_free, need.memory), cap)
               for h in usable)
    return Fit(
        room=min(room, UNBOUNDED), instances=len(usable),
        cpu=_resource("CPU", "CPU units", need.cpu, [h.cpu_free for h in usable]),
        memory=_resource("memory", "MiB", need.memory, [h.mem_free for h in usable]),
    )


def _usable(by_cluster: dict[str, list[Host]], cluster: str) -> list[Host]:
    return [h for h in by_cluster.get(cluster, []) if h.usable]


def _unmatched(by_cluster: dict[str, list[Host]], d: Demand) -> bool:
    """The cluster has no instance while some have old-format ARNs (no cluster in them):
    they may be this cluster's, so "no instance" cannot be claimed."""
    return not by_cluster.get(d.cluster) and "?" in by_cluster


def _candidates(by_cluster: dict[str, list[Host]], d: Demand) -> list[Host]:
    """Usable instances of the demand's cluster that may take one more copy."""
    return [h for h in _usable(by_cluster, d.cluster) if h.arn not in d.busy]


def _fit_text(d: Demand, need: Need, f: Fit) -> str:
    short = f.short(d.waiting)
    if f.instances == 0 and d.busy:
        why = (f"each of the {len(d.busy)} usable instance(s) already runs one copy, and the "
               "service places at most one per instance (DAEMON or distinctInstance)")
    elif f.instances == 0:
        why = f"no ACTIVE container instance with a connected agent in cluster {d.cluster}"
    elif short:
        why = "; ".join(r.describe(d.waiting) for r in short)
    else:
        why = ("CPU and memory are free on different instances (fragmentation): "
               f"{f.cpu.free_total} CPU units and {f.memory.free_total} MiB free in total")
    room = min(f.room, d.waiting)
    return (f"{d.label}: {d.waiting} task(s) waiting for placement need {need.cpu} CPU units / "
            f"{need.memory} MiB each (task def {d.td_name}); room for {room} on "
            f"{f.instances} usable instance(s) — {why}")


@check(id="pending-tasks-insufficient-capacity", area="capacity", severity=Severity.HIGH,
       title="Tasks waiting for placement do not fit on any container instance",
       needs=("services", "tasks", "task_definitions", "container_instances"),
       docs=EVENTS_DOCS,
       emits={"affected_tasks": None, "cluster": None, "free_cpu_max": None,
              "free_cpu_total": None, "free_memory_max": None, "free_memory_total": None,
              "instances": None,
              "kind": ("fragmentation", "no-instances", "ok", "one-per-instance", "shortage"),
              "need_cpu": None, "need_memory": None, "one_per_instance": None, "room": None,
              "short": None, "task_definition": None, "waiting": None})
def pending_tasks_insufficient_capacity(facts: Facts, prior: Prior) -> Iterator[Result]:
    """"No container instance met all of its requirements … insufficient memory/CPU" is a
    capacity problem only if the waiting tasks really do not fit; and the fix depends on
    whether the cluster lacks the resource in total (add instances) or has it scattered
    across instances (fragmentation: bin-pack, smaller tasks, bigger instances). A pass
    rules capacity out for a service stuck below its desired count."""
    by_cluster = hosts_by_cluster(facts)
    fits: dict[tuple[Any, ...], Fit] = {}  # services of one size share the answer
    for d in ec2_demands(facts):
        need = d.need
        if need is None or _unmatched(by_cluster, d):
            why = ("its task definition is not in the bundle" if need is None else
                   "container instances with old-format ARNs cannot be matched to its cluster")
            yield unknown(d.resource, f"{d.label}: {why}", service=d.service)
            continue
        key = (d.cluster, need, d.one_per_instance, d.busy)
        f = fits.get(key)
        if f is None:
            f = fits[key] = fit(need, _candidates(by_cluster, d), d.one_per_instance)
        data: dict[str, Any] = {
            "waiting": d.waiting, "cluster": d.cluster, "task_definition": d.td_name,
            **f.data(d.waiting), "one_per_instance": d.one_per_instance}
        if f.instances == 0 and d.busy and d.waiting:
            data["kind"] = "one-per-instance"
        if d.waiting == 0:
            room = "any number of" if f.room >= UNBOUNDED else str(f.room)
            yield passed(d.resource, f"{d.label}: no task waiting for placement; room for "
                         f"{room} more copies ({need.cpu} CPU units / {need.memory} MiB each)",
                         service=d.service, **data)
        elif f.room >= d.waiting:
            yield passed(d.resource, f"{d.label}: the {d.waiting} waiting task(s) fit "
                         f"(room for {min(f.room, UNBOUNDED)}) — CPU and memory are not what "
                         "holds them back", service=d.service, **data)
        else:
            yield failed(d.resource, _fit_text(d, need, f), service=d.service,
                         affected_tasks=d.waiting - f.room, **data)


def _port_free(h: Host, need: Need) -> bool:
    return not (need.tcp & h.tcp_used) and not (need.udp & h.udp_used)


@check(id="static-host-port-taken", area="capacity", severity=Severity.HIGH,
       title="Static host port already in use on every instance",
       needs=("services", "tasks", "task_definitions", "container_instances"),
       docs=EVENTS_DOCS,
       emits=("affected_tasks", "cluster", "instances", "instances_port_free", "ports",
              "taken_on", "waiting"))
def static_host_port_taken(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A bridge/host-mode task with a fixed hostPort can run once per instance: when every
    usable instance already holds the port (often by the service's own tasks), ECS reports
    "already using a port required by your task" and the task waits forever. Dynamic host
    ports (hostPort 0) or awsvpc remove the limit."""
    by_cluster = hosts_by_cluster(facts)
    for d in ec2_demands(facts):
        need = d.need
        if need is None or not (need.tcp or need.udp):
            continue
        usable = _candidates(by_cluster, d)
        if not usable:
            yield skipped(d.resource, f"{d.label}: no usable instance left for it in cluster "
                          f"{d.cluster} (see pending-tasks-insufficient-capacity)",
                          service=d.service)
            continue
        free = [h for h in usable if _port_free(h, need)]
        data: dict[str, Any] = {
            "ports": need.ports_label, "waiting": d.waiting, "instances": len(usable),
            "instances_port_free": len(free), "cluster": d.cluster,
            "taken_on": [h.instance_id for h in usable if h not in free]}
        head = (f"{d.label}: static host port {need.ports_label} (task def {d.td_name}) in use "
                f"on {len(usable) - len(free)} of {len(usable)} usable instances")
        if d.waiting > len(free):
            yield failed(d.resource, f"{head}; {d.waiting} task(s) waiting, room for "
                         f"{len(free)} — one task per instance per static port",
                         service=d.service, affected_tasks=d.waiting - len(free), **data)
        else:
            yield passed(d.resource, f"{head}; {d.waiting} waiting, room for {len(free)}",
                         service=d.service, **data)
