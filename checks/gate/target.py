"""Where the new revision will run: would one copy fit on some container instance (CPU,
memory, static host ports and an ENI slot on the same instance, reusing the capacity
checks' model), does the service's load balancer still find its container and port, does
the service's network configuration still fit the network mode, is the cluster there."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, arn_name, obj, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.eni import slots
from checks.lib.gate import DEV_DOCS, Target, target
from checks.lib.hosts import Host, Need, hosts, need_of
from checks.lib.taskdefs import EC2, container_name, containers, platform
from checks.lib.values import int_or_none


@check(id="gate-cluster-active", area="gate", severity=Severity.HIGH,
       title="Target cluster exists and is ACTIVE", needs=("gate", "clusters"),
       docs=f"{DEV_DOCS}/clusters.html", emits=("status",))
def gate_cluster_active(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A deployment to a missing or INACTIVE cluster fails at UpdateService."""
    t = target(facts)
    for cluster in facts.clusters:
        if t.cluster in (cluster.get("clusterName"), cluster.get("clusterArn")):
            status, arn = str(cluster.get("status") or "?"), str(cluster.get("clusterArn"))
            instances = int_or_none(cluster.get("registeredContainerInstancesCount"))
            what = f"cluster {cluster.get('clusterName')} is {status}" + (
                f" with {instances} container instance(s)" if instances is not None else "")
            if status == "ACTIVE":
                yield passed(arn, what, status=status)
            else:
                yield failed(arn, what + ": deployments to it fail", status=status)
            return
    yield unknown(t.cluster or "?", f"cluster {t.cluster} not in the collected clusters")


@dataclass(frozen=True)
class Room:
    """Whether one copy of the candidate fits on one instance, resource by resource."""

    host: Host
    cpu: bool
    memory: bool
    ports: frozenset[str]
    eni: bool | None  # None: unknown limit, or not awsvpc

    @property
    def ok(self) -> bool:
        return self.cpu and self.memory and not self.ports and self.eni is not False


def _room(t: Target, h: Host, need: Need, freed: Need | None) -> Room:
    """Room on `h` now, or after one task needing `freed` stopped there."""
    extra_cpu = freed.cpu if freed else 0
    extra_mem = freed.memory if freed else 0
    tcp = h.tcp_used - (freed.tcp if freed else frozenset())
    udp = h.udp_used - (freed.udp if freed else frozenset())
    ports = frozenset({f"{p}/tcp" for p in need.tcp & tcp} | {f"{p}/udp" for p in need.udp & udp})
    eni: bool | None = None
    if need.awsvpc:
        free = slots(t.facts, h).free
        back = 1 if freed is not None and freed.awsvpc else 0
        eni = None if free is None else free + back >= 1
    return Room(h, cpu=(h.cpu_free or 0) + extra_cpu >= need.cpu,
                memory=(h.mem_free or 0) + extra_mem >= need.memory, ports=ports, eni=eni)


def _need_text(need: Need) -> str:
    parts = [f"{need.cpu} CPU units", f"{need.memory} MiB"]
    if need.tcp or need.udp:
        parts.append(f"host port(s) {need.ports_label}")
    if need.awsvpc:
        parts.append("an ENI slot (awsvpc)")
    return ", ".join(parts)


def _shortfalls(rooms: list[Room]) -> str:
    cpu = [r for r in rooms if not r.cpu]
    mem = [r for r in rooms if not r.memory]
    ports = Counter(p for r in rooms for p in r.ports)
    eni = [r for r in rooms if r.eni is False]
    out = []
    if cpu:
        best = max((r.host.cpu_free or 0) for r in rooms)
        out.append(f"{len(cpu)} lack CPU (largest free {best} units)")
    if mem:
        best = max((r.host.mem_free or 0) for r in rooms)
        out.append(f"{len(mem)} lack memory (largest free {best} MiB)")
    out += [f"{n} have port {p} taken" for p, n in sorted(ports.items())]
    if eni:
        out.append(f"{len(eni)} have no ENI slot left")
    return "; ".join(out)


@check(id="gate-capacity-fit", area="gate", severity=Severity.HIGH,
       title="New revision fits on a container instance",
       needs=("gate", "task_definitions", "container_instances"),
       docs=f"{DEV_DOCS}/task-placement.html",
       emits=("fits", "in_place", "instances", "need_cpu", "need_memory", "never"))
def gate_capacity_fit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """On EC2, a task is placed only on an instance with its CPU, memory, static host ports
    and (awsvpc) an ENI slot free on that one instance; otherwise the deployment waits with
    'unable to place a task'."""
    t = target(facts)
    td, svc = t.td, t.service_arn
    launch = platform(td, t.service)
    if launch != EC2:
        yield skipped(t.arn, f"{t.label}: runs on {launch}: no container instance to fit",
                      service=svc, path="")
        return
    mine = [h for h in hosts(facts) if h.cluster == arn_name(t.cluster or "")]
    usable = [h for h in mine if h.usable]
    need = need_of(td)
    data: dict[str, Any] = {"need_cpu": need.cpu, "need_memory": need.memory,
                            "instances": len(usable)}
    if not usable:
        yield failed(t.arn, f"{t.label}: cluster {t.cluster} has no ACTIVE container instance "
                     f"with a connected agent ({len(mine)} registered): nowhere to place it",
                     service=svc, path="", **data)
        return
    now = [_room(t, h, need, None) for h in usable]
    fits = [r.host for r in now if r.ok]
    if fits:
        yield passed(t.arn, f"{t.label}: fits on {len(fits)} of {len(usable)} instance(s) now "
                     f"(needs {_need_text(need)}; e.g. {fits[0].label})", service=svc,
                     path="", fits=len(fits), **data)
        return
    yield _in_place_or_never(t, need, usable, now, data)


def _in_place_or_never(t: Target, need: Need, usable: list[Host], now: list[Room],
                       data: dict[str, Any]) -> Result:
    svc, old = t.service, need_of(t.running) if t.running else None
    if svc is not None and old is not None:
        holding = {str(task.get("containerInstanceArn"))
                   for task in t.facts.tasks_of_service(svc, "RUNNING")}
        swap = [h for h in usable if h.arn in holding and _room(t, h, need, old).ok]
        min_healthy = int_or_none(obj(svc.get("deploymentConfiguration")).get(
            "minimumHealthyPercent"))
        min_healthy = 100 if min_healthy is None else min_healthy
        if swap and min_healthy < 100:
            return passed(t.arn, f"{t.label}: no instance has room now, but it fits in place of "
                          f"an old task on {len(swap)} instance(s); minimumHealthyPercent "
                          f"{min_healthy}% lets ECS stop old tasks first", service=t.service_arn,
                          path="", fits=0, in_place=len(swap), **data)
        if swap:
            return failed(t.arn, f"{t.label}: fits only in place of a running task (on "
                          f"{len(swap)} instance(s)), but minimumHealthyPercent 100% keeps every "
                          "old task until a new one is healthy: the deployment waits for capacity",
                          service=t.service_arn, path="", fits=0, in_place=len(swap), **data)
    never = [what for what, biggest, wanted in (
        ("CPU", max((h.cpu_registered or 0) for h in usable), need.cpu),
        ("memory", max((h.mem_registered or 0) for h in usable), need.memory))
        if biggest < wanted]
    tail = (f" — it needs more {' and '.join(never)} than any instance registers: it will never "
            "be placed on these instance types") if never else ""
    return failed(t.arn, f"{t.label}: no container instance can take one task (needs "
                  f"{_need_text(need)}); of {len(usable)} usable: {_shortfalls(now)}{tail}",
                  service=t.service_arn, path="memory" if "memory" in never else "",
                  fits=0, never=never, **data)


# -- live: the service's load balancers and network ----------------------------------------

def _container_index(td: Item, name: str) -> int | None:
    for i, ctr in enumerate(containers(td)):
        if container_name(ctr) == name:
            return i
    return None


def _lb_entry(t: Target, entry: Item) -> Result:
    td, svc = t.td, t.service_arn
    name, port = str(entry.get("containerName") or "?"), int_or_none(entry.get("containerPort"))
    tg_arn = str(entry.get("targetGroupArn") or entry.get("loadBalancerName") or "?")
    index = _container_index(td, name)
    if index is None:
        return failed(tg_arn, f"service {t.service_label} sends {arn_name(tg_arn)} traffic to "
                      f"container {name} port {port}, but {t.label} has no container {name}: "
                      "ECS rejects the deployment", service=svc, path="containerDefinitions",
                      container=name, container_port=port)
    ctr = containers(td)[index]
    base = f"containerDefinitions[{index}]"
    mappings = objs(ctr.get("portMappings"))
    ports = {int_or_none(pm.get("containerPort")) for pm in mappings}
    if port not in ports:
        have = ", ".join(str(p) for p in sorted(p for p in ports if p is not None)) or "none"
        return failed(tg_arn, f"service {t.service_label}: load balancer expects container {name}"
                      f" port {port}, {t.label} maps {have}: ECS rejects the deployment",
                      service=svc, path=f"{base}.portMappings", container=name,
                      container_port=port, mapped=sorted(p for p in ports if p is not None))
    return _target_group_fit(t, entry, tg_arn, name, port, base)


def _target_group_fit(t: Target, entry: Item, tg_arn: str, name: str, port: int | None,
                      base: str) -> Result:
    svc = t.service_arn
    tg = t.facts.lookup("target_groups", "TargetGroupArn", entry.get("targetGroupArn")) if \
        entry.get("targetGroupArn") else None
    head = f"service {t.service_label}: container {name} port {port}"
    if tg is None:
        return passed(tg_arn, f"{head} exists in {t.label} (no target group to compare)",
                      service=svc, container=name, container_port=port)
    mode = str(t.td.get("networkMode") or "bridge")
    target_type = str(tg.get("TargetType") or "instance")
    wanted = "ip" if mode == "awsvpc" else "instance"
    tg_name = str(tg.get("TargetGroupName") or arn_name(tg_arn))
    if target_type in ("ip", "instance") and target_type != wanted:
        return failed(tg_arn, f"{head}: target group {tg_name} has target type {target_type}, "
                      f"but {mode} tasks need {wanted}: ECS cannot register them",
                      service=svc, path="networkMode", container=name,
                      target_type=target_type, network_mode=mode)
    tg_port = int_or_none(tg.get("Port"))
    note = "" if tg_port in (None, port) else (
        f"; target group default port {tg_port} differs, but ECS registers each target on its "
        "own port, so traffic still reaches it")
    return passed(tg_arn, f"{head} exists in {t.label}; target group {tg_name} ({target_type}) "
                  f"fits {mode}{note}", service=svc, path=f"{base}.portMappings",
                  container=name, container_port=port, target_group_port=tg_port)


@check(id="gate-load-balancer-container", area="gate", severity=Severity.HIGH,
       title="Service load balancer still matches a container port",
       needs=("gate", "task_definitions", "services"),
       docs=f"{DEV_DOCS}/register-multiple-targetgroups.html",
       emits=("container", "container_port", "mapped", "network_mode", "target_group_port",
              "target_type"))
def gate_load_balancer_container(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The service's loadBalancers name a container and port: the new revision must have
    that container and port mapping, and the target group's target type must fit the
    network mode (ip for awsvpc, instance for bridge/host)."""
    t = target(facts)
    service = t.service
    if service is None:
        yield skipped(t.arn, "needs --service (its load balancers)", path="")
        return
    entries = objs(service.get("loadBalancers"))
    if not entries:
        yield skipped(t.arn, f"service {t.service_label} has no load balancer",
                      service=t.service_arn, path="")
    for entry in entries:
        yield _lb_entry(t, entry)


@check(id="gate-network-configuration", area="gate", severity=Severity.HIGH,
       title="Service network configuration fits the new revision",
       needs=("gate", "task_definitions", "services"), docs=f"{DEV_DOCS}/task-networking.html",
       emits=("missing", "network_mode", "security_groups", "subnets"))
def gate_network_configuration(facts: Facts, prior: Prior) -> Iterator[Result]:
    """awsvpc tasks need the service's subnets and security groups (which must still
    exist); other network modes must not have them. A mismatch fails UpdateService."""
    t = target(facts)
    service = t.service
    if service is None:
        yield skipped(t.arn, "needs --service (its network configuration)", path="")
        return
    svc, label = t.service_arn, f"service {t.service_label}"
    mode = str(t.td.get("networkMode") or "bridge")
    config = obj(obj(service.get("networkConfiguration")).get("awsvpcConfiguration"))
    if mode != "awsvpc":
        if config:
            yield failed(t.arn, f"{label} has an awsvpc network configuration, but {t.label} uses "
                         f"{mode}: UpdateService fails ('Network Configuration is not valid for "
                         "the given networkMode')", service=svc, path="networkMode",
                         network_mode=mode)
        else:
            yield passed(t.arn, f"{label}: {mode} network mode, no awsvpc configuration needed",
                         service=svc, path="", network_mode=mode)
        return
    if not config:
        yield failed(t.arn, f"{t.label} uses awsvpc, but {label} has no network configuration "
                     "(subnets, security groups): UpdateService fails", service=svc,
                     path="networkMode", network_mode=mode)
        return
    yield _awsvpc_still_there(t, config)


def _awsvpc_still_there(t: Target, config: Item) -> Result:
    svc, label = t.service_arn, f"service {t.service_label}"
    subnets = [str(s) for s in config.get("subnets", []) or []]
    groups = [str(g) for g in config.get("securityGroups", []) or []]
    gone = [s for s in subnets if t.facts.lookup("subnets", "SubnetId", s) is None]
    gone += [g for g in groups if t.facts.lookup("security_groups", "GroupId", g) is None]
    if gone:
        return failed(t.arn, f"{label}: awsvpc configuration names {', '.join(gone)}, which no "
                      "longer exist(s): new tasks cannot get an ENI", service=svc,
                      severity=Severity.HIGH, path="", missing=gone)
    return passed(t.arn, f"{label}: awsvpc subnets {', '.join(subnets) or 'none'} and security "
                  f"groups {', '.join(groups) or 'none'} exist", service=svc, path="",
                  subnets=subnets, security_groups=groups)
