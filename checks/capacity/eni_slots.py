"""awsvpc ENI slots: each awsvpc task on EC2 holds an ENI, so an instance can run out of
them with CPU and memory to spare (the slot arithmetic is in checks/lib/eni.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts
from checker.model import Result, Severity, Status, failed, passed, unknown
from checker.registry import Prior, check
from checks.lib.eni import slots, trunking_note, trunking_setting
from checks.lib.hosts import ec2_demands, hosts


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
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-eni.html",
       emits=("cluster", "free", "instance_type", "limit", "max_network_interfaces",
              "trunk_limit", "trunked", "trunking_setting", "usable", "used", "waiting_awsvpc"))
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
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-eni.html",
       emits=("affected_tasks", "cluster", "free_slots", "instances", "instances_unknown",
              "waiting"))
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
