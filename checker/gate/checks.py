"""Gate checks on the file alone, and on where the new revision will run.

Static ones read only the candidate: what the CLI would reject (nulls, values outside the
API's enums) and an execution role the task cannot start without. Live ones put the
candidate on the cluster as it is now: would one copy fit on some container instance (CPU,
memory, static host ports and an ENI slot on the same instance, reusing the capacity
checks' model), does the service's load balancer still find its container and port, does
the service's network configuration still fit the network mode. Revision-to-revision
comparisons live in checker/gate/diff.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Item, arn_name, objs
from checker.gate.names import ecr_image, placeholder
from checker.gate.target import Target
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checks.lib.eni import slots
from checks.lib.hosts import Host, Need, hosts, need_of
from checks.lib.taskdefs import EC2, FARGATE, container_name, containers, mapping, platform
from checks.lib.values import int_or_none


def gate_input_null_fields(t: Target) -> Iterator[Result]:
    nulls, path = t.candidate.nulls, t.candidate.path
    if not nulls:
        yield passed(t.arn, f"{path}: no null values")
        return
    shown = ", ".join(nulls[:3]) + (f" and {len(nulls) - 3} more" if len(nulls) > 3 else "")
    yield failed(t.arn, f"{path}: {len(nulls)} null value(s) ({shown}): `aws ecs "
                 "register-task-definition --cli-input-json` rejects null; read as absent here, "
                 "delete them from the file", json_path=nulls[0], nulls=list(nulls))


def gate_input_invalid_value(t: Target) -> Iterator[Result]:
    off = t.candidate.off_enum
    if not off:
        yield passed(t.arn, f"{t.candidate.path}: every enumerated value is one the API accepts")
    for bad in off:
        allowed = ", ".join(bad.allowed)
        if placeholder(bad.value):
            yield unknown(t.arn, f"{bad.path}: template placeholder {bad.value!r} (one of "
                          f"{allowed} expected): render the template before the gate",
                          json_path=bad.path, value=bad.value)
        else:
            shown = repr(bad.value) if bad.value else "this value"
            yield failed(t.arn, f"{bad.path}: {shown} is not one of {allowed}: "
                         "RegisterTaskDefinition rejects it", json_path=bad.path,
                         value=bad.value, allowed=list(bad.allowed))


def execution_role_needs(td: Item, launch: str) -> list[str]:
    """Why the task needs an execution role (empty: it does not)."""
    reasons: list[str] = []
    for ctr in containers(td):
        name = container_name(ctr)
        log = mapping(ctr.get("logConfiguration"))
        if ctr.get("secrets") or log.get("secretOptions"):
            reasons.append(f"container {name} reads secrets")
        if mapping(ctr.get("repositoryCredentials")).get("credentialsParameter"):
            reasons.append(f"container {name} pulls with private registry credentials")
        if launch == FARGATE and log.get("logDriver") == "awslogs":
            reasons.append(f"container {name} logs with awslogs on Fargate")
        if launch == FARGATE and ecr_image(ctr.get("image")) is not None:
            reasons.append(f"container {name} pulls a private ECR image on Fargate")
    return reasons


def gate_execution_role_missing(t: Target) -> Iterator[Result]:
    td = t.td
    launch = platform(td, t.service)
    reasons = execution_role_needs(td, launch)
    role = td.get("executionRoleArn")
    svc = t.service_arn
    if role:
        yield passed(t.arn, f"{t.label}: execution role {role}", service=svc,
                     json_path="executionRoleArn")
    elif not reasons:
        yield passed(t.arn, f"{t.label}: needs no execution role ({launch})", service=svc)
    else:
        yield failed(t.arn, f"{t.label}: no executionRoleArn, but " + "; ".join(reasons)
                     + " — the task will not start", service=svc, json_path="executionRoleArn",
                     reasons=reasons, launch_type=launch)


# -- live: the cluster -----------------------------------------------------------------------

def gate_cluster_active(t: Target) -> Iterator[Result]:
    assert t.facts is not None
    for cluster in t.facts.clusters:
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
    if need.awsvpc and t.facts is not None:
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


def gate_capacity_fit(t: Target) -> Iterator[Result]:
    """One copy fits now, or in place of an old task when the deployment may stop one
    first (minimumHealthyPercent < 100)."""
    assert t.facts is not None
    td, svc = t.td, t.service_arn
    launch = platform(td, t.service)
    if launch != EC2:
        yield skipped(t.arn, f"{t.label}: runs on {launch}: no container instance to fit",
                      service=svc)
        return
    mine = [h for h in hosts(t.facts) if h.cluster == arn_name(t.cluster or "")]
    usable = [h for h in mine if h.usable]
    need = need_of(td)
    data: dict[str, Any] = {"need_cpu": need.cpu, "need_memory": need.memory,
                            "instances": len(usable)}
    if not usable:
        yield failed(t.arn, f"{t.label}: cluster {t.cluster} has no ACTIVE container instance "
                     f"with a connected agent ({len(mine)} registered): nowhere to place it",
                     service=svc, json_path="", **data)
        return
    now = [_room(t, h, need, None) for h in usable]
    fits = [r.host for r in now if r.ok]
    if fits:
        yield passed(t.arn, f"{t.label}: fits on {len(fits)} of {len(usable)} instance(s) now "
                     f"(needs {_need_text(need)}; e.g. {fits[0].label})", service=svc,
                     fits=len(fits), **data)
        return
    yield _in_place_or_never(t, need, usable, now, data)


def _in_place_or_never(t: Target, need: Need, usable: list[Host], now: list[Room],
                       data: dict[str, Any]) -> Result:
    svc, old = t.service, need_of(t.running) if t.running else None
    if t.facts is not None and svc is not None and old is not None:
        holding = {str(task.get("containerInstanceArn"))
                   for task in t.facts.tasks_of_service(svc, "RUNNING")}
        swap = [h for h in usable if h.arn in holding and _room(t, h, need, old).ok]
        min_healthy = int_or_none(mapping(svc.get("deploymentConfiguration")).get(
            "minimumHealthyPercent"))
        min_healthy = 100 if min_healthy is None else min_healthy
        if swap and min_healthy < 100:
            return passed(t.arn, f"{t.label}: no instance has room now, but it fits in place of "
                          f"an old task on {len(swap)} instance(s); minimumHealthyPercent "
                          f"{min_healthy}% lets ECS stop old tasks first", service=t.service_arn,
                          fits=0, in_place=len(swap), **data)
        if swap:
            return failed(t.arn, f"{t.label}: fits only in place of a running task (on "
                          f"{len(swap)} instance(s)), but minimumHealthyPercent 100% keeps every "
                          "old task until a new one is healthy: the deployment waits for capacity",
                          service=t.service_arn, json_path="", fits=0, in_place=len(swap), **data)
    never = [what for what, biggest, wanted in (
        ("CPU", max((h.cpu_registered or 0) for h in usable), need.cpu),
        ("memory", max((h.mem_registered or 0) for h in usable), need.memory))
        if biggest < wanted]
    tail = (f" — it needs more {' and '.join(never)} than any instance registers: it will never "
            "be placed on these instance types") if never else ""
    return failed(t.arn, f"{t.label}: no container instance can take one task (needs "
                  f"{_need_text(need)}); of {len(usable)} usable: {_shortfalls(now)}{tail}",
                  service=t.service_arn, json_path="memory" if "memory" in never else "",
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
                      "ECS rejects the deployment", service=svc, json_path="containerDefinitions",
                      container=name, container_port=port)
    ctr = containers(td)[index]
    base = f"containerDefinitions[{index}]"
    mappings = objs(ctr.get("portMappings"))
    ports = {int_or_none(pm.get("containerPort")) for pm in mappings}
    if port not in ports:
        have = ", ".join(str(p) for p in sorted(p for p in ports if p is not None)) or "none"
        return failed(tg_arn, f"service {t.service_label}: load balancer expects container {name}"
                      f" port {port}, {t.label} maps {have}: ECS rejects the deployment",
                      service=svc, json_path=f"{base}.portMappings", container=name,
                      container_port=port, mapped=sorted(p for p in ports if p is not None))
    return _target_group_fit(t, entry, tg_arn, name, port, base)


def _target_group_fit(t: Target, entry: Item, tg_arn: str, name: str, port: int | None,
                      base: str) -> Result:
    svc = t.service_arn
    assert t.facts is not None
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
                      service=svc, json_path="networkMode", container=name,
                      target_type=target_type, network_mode=mode)
    tg_port = int_or_none(tg.get("Port"))
    note = "" if tg_port in (None, port) else (
        f"; target group default port {tg_port} differs, but ECS registers each target on its "
        "own port, so traffic still reaches it")
    return passed(tg_arn, f"{head} exists in {t.label}; target group {tg_name} ({target_type}) "
                  f"fits {mode}{note}", service=svc, json_path=f"{base}.portMappings",
                  container=name, container_port=port, target_group_port=tg_port)


def gate_load_balancer_container(t: Target) -> Iterator[Result]:
    if t.service is None:
        yield skipped(t.arn, "needs --service (its load balancers)")
        return
    entries = objs(t.service.get("loadBalancers"))
    if not entries:
        yield skipped(t.arn, f"service {t.service_label} has no load balancer",
                      service=t.service_arn)
    for entry in entries:
        yield _lb_entry(t, entry)


def gate_network_configuration(t: Target) -> Iterator[Result]:
    if t.service is None or t.facts is None:
        yield skipped(t.arn, "needs --service (its network configuration)")
        return
    svc, label = t.service_arn, f"service {t.service_label}"
    mode = str(t.td.get("networkMode") or "bridge")
    config = mapping(mapping(t.service.get("networkConfiguration")).get("awsvpcConfiguration"))
    if mode != "awsvpc":
        if config:
            yield failed(t.arn, f"{label} has an awsvpc network configuration, but {t.label} uses "
                         f"{mode}: UpdateService fails ('Network Configuration is not valid for "
                         "the given networkMode')", service=svc, json_path="networkMode",
                         network_mode=mode)
        else:
            yield passed(t.arn, f"{label}: {mode} network mode, no awsvpc configuration needed",
                         service=svc, network_mode=mode)
        return
    if not config:
        yield failed(t.arn, f"{t.label} uses awsvpc, but {label} has no network configuration "
                     "(subnets, security groups): UpdateService fails", service=svc,
                     json_path="networkMode", network_mode=mode)
        return
    yield _awsvpc_still_there(t, config)


def _awsvpc_still_there(t: Target, config: Item) -> Result:
    assert t.facts is not None
    svc, label = t.service_arn, f"service {t.service_label}"
    subnets = [str(s) for s in config.get("subnets", []) or []]
    groups = [str(g) for g in config.get("securityGroups", []) or []]
    gone = [s for s in subnets if t.facts.lookup("subnets", "SubnetId", s) is None]
    gone += [g for g in groups if t.facts.lookup("security_groups", "GroupId", g) is None]
    if gone:
        return failed(t.arn, f"{label}: awsvpc configuration names {', '.join(gone)}, which no "
                      "longer exist(s): new tasks cannot get an ENI", service=svc,
                      severity=Severity.HIGH, missing=gone)
    return passed(t.arn, f"{label}: awsvpc subnets {', '.join(subnets) or 'none'} and security "
                  f"groups {', '.join(groups) or 'none'} exist", service=svc,
                  subnets=subnets, security_groups=groups)
