"""EC2 capacity: can the cluster's container instances take the tasks that wait for a place?

Every check here reasons from `registeredResources`/`remainingResources` of ACTIVE container
instances whose agent is connected (the only ones ECS places on), and from the demand model
in checks/lib/hosts.py (tasks waiting for placement, not tasks already placed).
Service results carry `service=`; instance results use the container instance ARN.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, arn_name
from checker.model import Result, Severity, Status, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks._capacity_fit import UNBOUNDED, Fit, fit
from checks.lib.eni import slots, trunking_note, trunking_setting
from checks.lib.hosts import (
    Demand,
    Host,
    Need,
    ec2_demands,
    hosts,
    hosts_by_cluster,
    obj,
)

#: Reserved share of registered CPU or memory from which new tasks start failing to place
#: in practice (what is left is usually split across instances): evidence, not a verdict.
RESERVATION_HIGH_PCT = 90.0
EVENTS_DOCS = ("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
               "service-event-messages-list.html")


def _usable(by_cluster: dict[str, list[Host]], cluster: str) -> list[Host]:
    return [h for h in by_cluster.get(cluster, []) if h.usable]


def _unmatched(by_cluster: dict[str, list[Host]], d: Demand) -> bool:
    """The cluster has no instance while some have old-format ARNs (no cluster in them):
    they may be this cluster's, so "no instance" cannot be claimed."""
    return not by_cluster.get(d.cluster) and "?" in by_cluster


def _candidates(by_cluster: dict[str, list[Host]], d: Demand) -> list[Host]:
    """Usable instances of the demand's cluster that may take one more copy."""
    return [h for h in _usable(by_cluster, d.cluster) if h.arn not in d.busy]


def _pct(registered: int, free: int) -> float:
    return round(100.0 * (registered - free) / registered, 1) if registered else 0.0


def _host_row(h: Host) -> dict[str, Any]:
    return {"instance": h.instance_id, "arn": h.arn, "type": h.instance_type,
            "cpu_registered": h.cpu_registered, "cpu_free": h.cpu_free,
            "memory_registered": h.mem_registered, "memory_free": h.mem_free,
            "ports_used": sorted(h.tcp_used), "udp_ports_used": sorted(h.udp_used)}


@check(id="cluster-reservation-high", area="capacity", severity=Severity.MEDIUM,
       title="Cluster CPU or memory is almost fully reserved",
       needs=("clusters", "container_instances"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cloudwatch-metrics.html")
def cluster_reservation_high(facts: Facts, prior: Prior) -> Iterator[Result]:
    """CPUReservation/MemoryReservation near 100% mean the next task (a deployment's extra
    copies, a scale-out) has nowhere to go: supporting evidence for insufficient capacity.
    Computed from the instances themselves, so it needs no CloudWatch; per-instance
    registered/remaining CPU, memory and ports are in the data."""
    by_cluster = hosts_by_cluster(facts)
    for cluster in sorted(facts.clusters, key=lambda c: str(c.get("clusterArn"))):
        arn = str(cluster.get("clusterArn") or cluster.get("clusterName"))
        name = arn_name(arn)
        every = by_cluster.get(name, [])
        usable = [h for h in every if h.usable]
        if not usable:
            yield skipped(arn, f"cluster {name}: no ACTIVE container instance with a connected "
                          f"agent ({len(every)} registered)", instances=len(every))
            continue
        if any(None in (h.cpu_registered, h.cpu_free, h.mem_registered, h.mem_free)
               for h in usable):
            yield unknown(arn, f"cluster {name}: registered/remaining CPU or MEMORY missing on "
                          "some container instance", cluster=name)
            continue
        cpu_reg = sum(h.cpu_registered or 0 for h in usable)
        cpu_free = sum(h.cpu_free or 0 for h in usable)
        mem_reg = sum(h.mem_registered or 0 for h in usable)
        mem_free = sum(h.mem_free or 0 for h in usable)
        cpu_pct, mem_pct = _pct(cpu_reg, cpu_free), _pct(mem_reg, mem_free)
        text = (f"cluster {name}: CPU {cpu_pct:g}% reserved ({cpu_reg - cpu_free} of {cpu_reg} "
                f"units), memory {mem_pct:g}% reserved ({mem_reg - mem_free} of {mem_reg} MiB) "
                f"on {len(usable)} usable instances")
        data: dict[str, Any] = {
            "cpu_reserved_pct": cpu_pct, "memory_reserved_pct": mem_pct,
            "cpu_registered": cpu_reg, "cpu_free": cpu_free, "memory_registered": mem_reg,
            "memory_free": mem_free, "usable_instances": len(usable),
            "unusable_instances": len(every) - len(usable),
            "instances": [_host_row(h) for h in every], "cluster": name}
        if max(cpu_pct, mem_pct) >= RESERVATION_HIGH_PCT:
            yield failed(arn, f"{text} — at or above {RESERVATION_HIGH_PCT:g}%", **data)
        else:
            yield passed(arn, text, **data)


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
       docs=EVENTS_DOCS)
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
       docs=EVENTS_DOCS)
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


@check(id="capacity-provider-no-managed-scaling", area="capacity", severity=Severity.MEDIUM,
       title="Auto Scaling group capacity provider without managed scaling",
       needs=("capacity_providers",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-auto-scaling.html")
def capacity_provider_no_managed_scaling(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without managed scaling, nothing grows the Auto Scaling group when tasks cannot be
    placed: they stay PROVISIONING/unplaced until someone scales the group by hand. It
    supports insufficient-capacity diagnoses (why capacity did not follow demand)."""
    for cp in sorted(facts.items("capacity_providers"), key=lambda c: str(c.get("name"))):
        arn = str(cp.get("capacityProviderArn") or cp.get("name"))
        name = cp.get("name", arn_name(arn))
        asg = cp.get("autoScalingGroupProvider")
        if not isinstance(asg, dict) or cp.get("status") == "INACTIVE":
            yield skipped(arn, f"capacity provider {name}: not an active Auto Scaling group "
                          "provider (Fargate or managed instances scale themselves)")
            continue
        scaling = obj(asg.get("managedScaling"))
        status = str(scaling.get("status") or "DISABLED")
        data: dict[str, Any] = {
            "auto_scaling_group": arn_name(str(asg.get("autoScalingGroupArn", ""))),
            "managed_scaling": status, "target_capacity": scaling.get("targetCapacity")}
        if status == "ENABLED":
            yield passed(arn, f"capacity provider {name}: managed scaling ENABLED, target "
                         f"capacity {scaling.get('targetCapacity', '?')}%", **data)
        else:
            yield failed(arn, f"capacity provider {name}: managed scaling {status} — the Auto "
                         f"Scaling group {data['auto_scaling_group'] or '?'} does not grow "
                         "when tasks cannot be placed", **data)


def _waiting_awsvpc(facts: Facts) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in ec2_demands(facts) if facts.has("services") else []:
        need = d.need
        if need is not None and need.awsvpc and d.waiting:
            out[d.cluster] = out.get(d.cluster, 0) + d.waiting
    return out


@check(id="instance-eni-slots", area="capacity", severity=Severity.LOW,
       title="Container instance has no awsvpc ENI slot left",
       needs=("container_instances", "instance_types", "tasks", "task_definitions"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-eni.html")
def instance_eni_slots(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Each awsvpc task on EC2 takes an ENI and the primary interface counts as one, so a
    c5.large takes two awsvpc tasks whatever its free CPU and memory (ten with trunking).
    Per instance: limit, used, free, and whether trunking would raise the limit; the
    per-service verdict reads these results."""
    setting = trunking_setting(facts)
    waiting = _waiting_awsvpc(facts)
    for h in [h for h in hosts(facts) if h.status in ("ACTIVE", "DRAINING")]:
        s = slots(facts, h)
        where = f"container instance {h.label}"
        base: dict[str, Any] = {
            "cluster": h.cluster, "usable": h.usable, "instance_type": h.instance_type,
            "trunked": s.trunked, "trunking_setting": setting,
            "trunk_limit": s.trunk_limit, "max_network_interfaces": s.max_interfaces}
        if s.limit is None:
            yield unknown(h.arn, f"{where}: no MaximumNetworkInterfaces for instance type "
                          f"{h.instance_type or '?'} in instance_types; ENI limit unknown",
                          **base)
            continue
        pending = waiting.get(h.cluster, 0)
        text = (f"{where}: {s.used} of {s.limit} awsvpc ENI slots used ({s.basis}), "
                f"{trunking_note(s, setting, h.instance_type)}; {pending} awsvpc task(s) "
                f"waiting in {h.cluster}")
        data: dict[str, Any] = {**base, "limit": s.limit, "used": s.used, "free": s.free,
                                "waiting_awsvpc": pending}
        if s.used >= s.limit:
            yield failed(h.arn, text, severity=Severity.MEDIUM if pending else None, **data)
        else:
            yield passed(h.arn, text, **data)


@check(id="awsvpc-tasks-no-eni-slot", area="capacity", severity=Severity.HIGH,
       title="Tasks using awsvpc wait while no instance has an ENI slot left",
       needs=("services", "tasks", "task_definitions", "container_instances"),
       after=("instance-eni-slots",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-eni.html")
def awsvpc_tasks_no_eni_slot(facts: Facts, prior: Prior) -> Iterator[Result]:
    """RESOURCE:ENI: awsvpc tasks on EC2 cannot be placed when every usable instance has
    used all its ENI slots, even with CPU and memory to spare. Reads the per-instance slot
    results of instance-eni-slots; unknown when those could not be computed."""
    upstream = prior.findings("instance-eni-slots")
    if any(f.status is Status.UNKNOWN and "cluster" not in f.data for f in upstream):
        reason = next(f.message for f in upstream if f.status is Status.UNKNOWN)
        yield unknown("bundle", f"ENI slots per instance unknown: {reason}")
        return
    for d in ec2_demands(facts):
        need = d.need
        if need is None or not need.awsvpc:
            continue
        mine = [f for f in upstream if f.data.get("cluster") == d.cluster
                and f.data.get("usable")]
        free = sum(int(f.data.get("free") or 0) for f in mine if f.status is not Status.UNKNOWN)
        unknown_n = sum(1 for f in mine if f.status is Status.UNKNOWN)
        text = (f"{d.label}: {d.waiting} awsvpc task(s) waiting; {free} free ENI slot(s) on "
                f"{len(mine)} usable instance(s) in {d.cluster}")
        data: dict[str, Any] = {"waiting": d.waiting, "free_slots": free,
                                "instances": len(mine), "instances_unknown": unknown_n,
                                "cluster": d.cluster}
        if free >= d.waiting:
            yield passed(d.resource, text, service=d.service, **data)
        elif unknown_n:
            yield unknown(d.resource, f"{text}; the limit of {unknown_n} instance(s) is "
                          "unknown", service=d.service, **data)
        else:
            yield failed(d.resource, f"{text} — ENIs, not CPU or memory, block placement "
                         "(RESOURCE:ENI)", service=d.service,
                         affected_tasks=d.waiting - free, **data)
