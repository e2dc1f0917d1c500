"""Container instance health: agent connection and age, AMI age, memory over-commit,
burstable credit mode, ENA. One result per ACTIVE or DRAINING container instance (resource =
its ARN); instances that are registering, deregistering or INACTIVE are not judged.

Memory over-commit: ECS places a container by its soft limit (`memoryReservation`) when it
has one, but the container may grow to its hard limit (`memory`), or to all of the host's
memory when it has no hard limit and its task no task-level memory. The host is
over-committed when what the containers may use exceeds what the instance registered: then
the kernel OOM killer, not ECS, decides which container dies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from checker.facts import Facts, Item, obj, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.agent_versions import (
    Version,
    agent_problems,
    host_image,
    reference_ami,
    version,
    version_text,
)
from checks.lib.hosts import HOLDING_STATES, Host, hosts, hosts_by_cluster, tasks_on
from checks.lib.knowledge import burstable, table
from checks.lib.labels import task_id, td_label
from checks.lib.taskdefs import memory_mib
from checks.lib.values import int_or_none

JUDGED = ("ACTIVE", "DRAINING")


def _judged(facts: Facts) -> list[Host]:
    return [h for h in hosts(facts) if h.status in JUDGED]


def _where(h: Host) -> str:
    return f"container instance {h.label}"


@check(id="instance-agent-disconnected", area="instances", severity=Severity.HIGH,
       title="Container instance agent is disconnected",
       needs=("container_instances",),
       docs="https://repost.aws/knowledge-center/ecs-agent-disconnected-linux2-ami",
       emits=("agent_version", "cluster", "instance", "pending_tasks", "running_tasks",
              "services"))
def instance_agent_disconnected(facts: Facts, prior: Prior) -> Iterator[Result]:
    """An ACTIVE instance whose agent is not connected takes no new task, and ECS can
    neither stop nor replace the tasks it holds: its capacity is silently lost. Agents
    reconnect several times an hour in normal operation, so one snapshot can catch a short
    disconnect; a persistent one needs the agent log (/var/log/ecs/ecs-agent.log)."""
    for h in _judged(facts):
        running = int_or_none(h.ci.get("runningTasksCount")) or 0
        pending = int_or_none(h.ci.get("pendingTasksCount")) or 0
        agent = obj(h.ci.get("versionInfo")).get("agentVersion")
        data: dict[str, Any] = {
            "running_tasks": running, "pending_tasks": pending, "cluster": h.cluster,
            "instance": h.instance_id, "agent_version": agent}
        if h.connected:
            yield passed(h.arn, f"{_where(h)}: agent connected ({h.status}, {running} running "
                         "tasks)", **data)
            continue
        on_it = tasks_on(facts, h.arn) if facts.has("tasks") else []
        services = sorted({str(svc["serviceArn"]) for t in on_it
                           if (svc := facts.service_of_task(t)) is not None})
        yield failed(h.arn, f"{_where(h)}: ECS agent disconnected while {h.status} with "
                     f"{running} running and {pending} pending task(s) — no task can be placed "
                     "on it, and its tasks can be neither stopped nor replaced",
                     services=services, **data)


def _agent_version(h: Host) -> Version | None:
    return version(obj(h.ci.get("versionInfo")).get("agentVersion"))


@check(id="instance-agent-outdated", area="instances", severity=Severity.LOW,
       title="Container instance runs an old ECS agent or Docker",
       needs=("container_instances",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-agent-versions.html",
       emits=("agent_version", "cluster", "docker_version", "newest_agent_in_cluster", "problems"))
def instance_agent_outdated(facts: Facts, prior: Prior) -> Iterator[Result]:
    """AWS publishes no minimum agent version, only "use the latest". Judged instead against
    cited floors (ECS Exec 1.50.2; Docker 20.10.13 for reliable metrics) and the date a newer
    agent first shipped in an ECS-optimized AMI (checks/data/agent_versions.yaml): an agent
    superseded over a year before collection means the host has not been refreshed."""
    newest_in = {cluster: max((v for o in members if (v := _agent_version(o))), default=None)
                 for cluster, members in hosts_by_cluster(facts).items()}  # once per cluster
    for h in _judged(facts):
        info = obj(h.ci.get("versionInfo"))
        agent, docker = info.get("agentVersion"), info.get("dockerVersion")
        newest = newest_in.get(h.cluster)
        data: dict[str, Any] = {
            "agent_version": agent, "docker_version": docker, "cluster": h.cluster,
            "newest_agent_in_cluster": ".".join(map(str, newest)) if newest else None}
        if version(agent) is None:
            yield unknown(h.arn, f"{_where(h)}: versionInfo.agentVersion absent", **data)
            continue
        problems = agent_problems(facts, h.ci)
        if problems:
            yield failed(h.arn, f"{_where(h)}: " + "; ".join(problems), problems=problems,
                         **data)
        else:
            yield passed(h.arn, f"{_where(h)}: agent {version_text(agent)}"
                         + (f", Docker {version_text(docker)}" if docker else "")
                         + " — within the floors", **data)


@check(id="instance-ami-stale", area="instances", severity=Severity.LOW,
       title="Container instance runs an old or drifted AMI",
       needs=("container_instances",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-optimized_AMI.html",
       emits=("ami", "cluster", "launched_days_ago", "max_age_days", "reference_ami"))
def instance_ami_stale(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Offline the AMI's own date is unknown (no DescribeImages), so two defensible signals
    are used: the instance's launch age (ECS-optimized AMIs ship about weekly, so a host
    launched long ago misses their kernel/Docker fixes unless patched in place), and AMI
    drift — an AMI other than the one the cluster's most recently launched instance runs."""
    limit = int(table("agent_versions")["max_host_age_days"])
    for cluster, members in sorted(hosts_by_cluster(facts).items()):
        images = [host_image(facts, h) for h in members if h.status in JUDGED]
        ref = reference_ami(images)
        for img in images:
            h = img.host
            age = (facts.collected_at - img.launched).days if img.launched else None
            data: dict[str, Any] = {
                "ami": img.ami, "reference_ami": ref.ami if ref else None,
                "launched_days_ago": age, "cluster": cluster, "max_age_days": limit}
            if img.ami is None and age is None:
                yield unknown(h.arn, f"{_where(h)}: no AMI id (ec2_instances ImageId or "
                              "ecs.ami-id) and no launch time", **data)
                continue
            problems = []
            if ref and img.ami and img.ami != ref.ami:
                problems.append(f"runs {img.ami} while {ref.why}")
            if age is not None and age > limit:
                problems.append(f"launched {age} days before collection (threshold {limit}): "
                                "it misses every ECS-optimized AMI released since")
            if problems:
                yield failed(h.arn, f"{_where(h)}: " + "; ".join(problems), **data)
            else:
                yield passed(h.arn, f"{_where(h)}: AMI {img.ami or '?'}"
                             + (f", launched {age} days ago" if age is not None else ""), **data)


@dataclass(slots=True)
class HostMemory:
    tasks: int = 0
    containers: int = 0
    reserved: int = 0                 # what placement subtracted (soft, else hard, else task)
    ceiling: int = 0                  # sum of the bounded maxima (hard or task memory)
    unbounded: list[str] = field(default_factory=list)   # containers with no hard bound
    unknown_tasks: list[str] = field(default_factory=list)


def _limits(task: Item, td: Item | None) -> list[tuple[str, int | None, int | None]]:
    """(container, hard, soft) from the running task (it carries overrides), else from the
    task definition."""
    defs = {str(c.get("name")): c for c in objs(obj(td).get("containerDefinitions"))}
    live = {str(c.get("name")): c for c in objs(task.get("containers"))}
    out: list[tuple[str, int | None, int | None]] = []
    for name in sorted(set(defs) | set(live)):
        d, c = defs.get(name, {}), live.get(name, {})
        hard = int_or_none(c.get("memory")) or int_or_none(d.get("memory"))
        soft = int_or_none(c.get("memoryReservation")) or int_or_none(d.get("memoryReservation"))
        out.append((name, hard, soft))
    return out


def _add_task(mem: HostMemory, task: Item, td: Item | None) -> None:
    label = td_label(td) if td else task_id(task)
    limits = _limits(task, td)
    task_mem = memory_mib(task.get("memory")) or memory_mib(obj(td).get("memory"))
    if not limits and not task_mem:
        mem.unknown_tasks.append(task_id(task))
        return
    mem.tasks += 1
    mem.containers += len(limits)
    if task_mem:
        mem.reserved += task_mem
        mem.ceiling += task_mem
        return
    for name, hard, soft in limits:
        mem.reserved += soft or hard or 0
        if hard:
            mem.ceiling += hard
        else:
            mem.unbounded.append(f"{label}/{name} (soft {soft or 0} MiB, no hard limit)")


def host_memory(facts: Facts, h: Host) -> HostMemory:
    mem = HostMemory()
    for task in sorted(tasks_on(facts, h.arn, HOLDING_STATES), key=lambda t: str(t.get("taskArn"))):
        _add_task(mem, task, facts.task_definition(task.get("taskDefinitionArn")))
    return mem


def overcommit(mem: HostMemory, registered: int) -> list[str]:
    """Why the host is over-committed (empty when it is not)."""
    out: list[str] = []
    if mem.ceiling > registered:
        out.append(f"hard limits allow {mem.ceiling} MiB, {mem.ceiling - registered} MiB more "
                   f"than the {registered} MiB registered")
    if mem.unbounded and mem.containers >= 2:
        counts = Counter(mem.unbounded)
        names = [f"{n} ×{k}" if k > 1 else n for n, k in sorted(counts.items())]
        shown = ", ".join(names[:4]) + (" …" if len(names) > 4 else "")
        out.append(f"{len(mem.unbounded)} container(s) have only a soft limit and may take all "
                   f"of the host's memory from their neighbours: {shown}")
    return out


@check(id="instance-memory-overcommit", area="instances", severity=Severity.MEDIUM,
       title="Soft memory limits over-commit the container instance",
       needs=("container_instances", "tasks", "task_definitions"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/memory-management.html",
       emits=("cluster", "containers", "hard_limits_mib", "over_by_mib", "registered_mib",
              "reserved_mib", "tasks", "unbounded", "unknown_tasks"))
def instance_memory_overcommit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Placement counts soft limits (memoryReservation); containers may then grow to their
    hard limit or, without one, to the whole host. When that exceeds the instance's
    registered memory, the kernel OOM killer picks victims among neighbours: evidence for
    host-memory-overcommit when OOM kills hit tasks that stay under their own limits."""
    for h in _judged(facts):
        mem = host_memory(facts, h)
        if mem.tasks == 0:
            yield skipped(h.arn, f"{_where(h)}: no task with known memory limits on it",
                          unknown_tasks=mem.unknown_tasks)
            continue
        if h.mem_registered is None:
            yield unknown(h.arn, f"{_where(h)}: registeredResources MEMORY absent")
            continue
        registered = h.mem_registered
        data: dict[str, Any] = {
            "tasks": mem.tasks, "containers": mem.containers, "reserved_mib": mem.reserved,
            "hard_limits_mib": mem.ceiling, "registered_mib": registered,
            "unbounded": mem.unbounded, "unknown_tasks": mem.unknown_tasks,
            "over_by_mib": max(mem.ceiling - registered, 0), "cluster": h.cluster}
        head = (f"{_where(h)}: {mem.tasks} task(s) reserve {mem.reserved} of {registered} MiB "
                "registered")
        reasons = overcommit(mem, registered)
        if reasons:
            yield failed(h.arn, f"{head}; " + "; ".join(reasons), **data)
        else:
            yield passed(h.arn, f"{head}; hard limits total {mem.ceiling} MiB and every "
                         "container is bounded", **data)


def _credit_mode(facts: Facts, h: Host, default: str) -> tuple[str, str]:
    if facts.has("credit_specifications"):
        spec = facts.lookup("credit_specifications", "InstanceId", h.ci.get("ec2InstanceId"))
        if spec and spec.get("CpuCredits"):
            return str(spec["CpuCredits"]), "credit_specifications"
    return default, "launch default"


@check(id="instance-burstable-standard-credits", area="instances", severity=Severity.MEDIUM,
       title="Burstable container instance in standard credit mode",
       needs=("container_instances",),
       docs="https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html",
       emits=("baseline_pct", "cluster", "credit_mode", "credits_per_hour", "default_mode",
              "family", "instance_type", "max_credits", "mode_source", "vcpus"))
def instance_burstable_standard_credits(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A T2/T3/T3a/T4g in standard mode is throttled to its baseline (e.g. 20% per vCPU on
    t3.medium) once its CPU credits run out: tasks slow down with no ECS event at all. The
    baseline is in the data for the metrics check (CPUCreditBalance) to confirm it.
    Without credit_specifications the launch default is assumed (standard for T2 only)."""
    for h in _judged(facts):
        info = burstable(h.instance_type)
        if info is None:
            yield skipped(h.arn, f"{_where(h)}: not a burstable instance type")
            continue
        mode, source = _credit_mode(facts, h, str(info["default_mode"]))
        data: dict[str, Any] = {
            **info, "credit_mode": mode, "mode_source": source,
            "instance_type": h.instance_type, "cluster": h.cluster}
        facts_txt = (f"baseline {info['baseline_pct']:g}% per vCPU on {info['vcpus']} vCPU(s), "
                     f"earns {info['credits_per_hour']:g} credits/h, holds at most "
                     f"{info['max_credits']:g}")
        if mode == "standard":
            yield failed(h.arn, f"{_where(h)}: burstable in standard credit mode ({source}) — "
                         f"throttled to its baseline once credits run out ({facts_txt})", **data)
        else:
            yield passed(h.arn, f"{_where(h)}: burstable in {mode} credit mode ({source}): "
                         f"bursts past the baseline are billed, not throttled ({facts_txt})",
                         **data)


@check(id="instance-ena-disabled", area="instances", severity=Severity.LOW,
       title="Container instance without ENA enhanced networking",
       needs=("container_instances", "ec2_instances", "instance_types"),
       docs="https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/enhanced-networking-ena.html",
       emits=("instance_ena", "instance_type", "type_ena_support"))
def instance_ena_disabled(facts: Facts, prior: Prior) -> Iterator[Result]:
    """An instance whose type supports ENA but runs without it (old AMI or driver) gets
    lower bandwidth and packet rates and higher latency than its type promises. EC2 omits
    `EnaSupport` when it is off, so absent counts as off, except on types that require ENA
    (they cannot run without it: absent there is a hand-written or emulated bundle)."""
    for h in _judged(facts):
        inst = facts.ec2_instance_of(h.ci)
        itype = facts.instance_type_of(h.ci)
        if inst is None or itype is None:
            missing = "ec2_instances" if inst is None else "instance_types"
            yield unknown(h.arn, f"{_where(h)}: not in {missing}")
            continue
        support = str(obj(itype.get("NetworkInfo")).get("EnaSupport") or "")
        if not support:
            yield unknown(h.arn, f"{_where(h)}: instance_types does not report EnaSupport "
                          f"for {h.instance_type}")
            continue
        enabled = inst.get("EnaSupport") is True or (
            support == "required" and "EnaSupport" not in inst)
        data: dict[str, Any] = {"type_ena_support": support,
                                "instance_ena": inst.get("EnaSupport"),
                                "instance_type": h.instance_type}
        if support == "unsupported":
            yield skipped(h.arn, f"{_where(h)}: instance type has no ENA", **data)
        elif enabled:
            yield passed(h.arn, f"{_where(h)}: ENA enabled (type: {support})", **data)
        else:
            state = "off" if "EnaSupport" in inst else "not set"
            yield failed(h.arn, f"{_where(h)}: EnaSupport is {state} although the instance "
                         f"type lists ENA as {support}", **data)
