"""AWS's own rules for a task definition, offline: what RegisterTaskDefinition refuses, or
what no task of the definition can start with.

Why in the gate: the botocore model (checker/gate/candidate.py) knows types and enums, not
the rules between fields — a FARGATE definition in bridge mode, no essential container, two
containers named alike, a container larger than its task, a dependsOn naming nobody. Each of
these passes JSON validation and fails the deploy step (or the first task) minutes later; the
gate says so before anything is registered. The rules and their sources are a knowledge
table (checks/data/aws_taskdef_rules.yaml): one finding per violation, critical, with the
JSON path of the field to fix.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, obj, objs
from checker.model import Result, Severity, failed, passed
from checker.registry import Prior, check
from checks.lib.gate import target
from checks.lib.knowledge import table
from checks.lib.taskdefs import (
    EC2,
    FARGATE,
    compatibilities,
    container_name,
    container_path,
    containers,
    essential,
    fargate_size,
    is_windows,
    memory_mib,
)
from checks.lib.values import int_or_none

API_DOCS = ("https://docs.aws.amazon.com/AmazonECS/latest/APIReference/"
            "API_RegisterTaskDefinition.html")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: which (a key of the table's `rules`), where, and what is wrong."""

    rule: str
    path: str
    detail: str


def rules() -> dict[str, Any]:
    return dict(table("aws_taskdef_rules")["rules"])


def limits() -> dict[str, Any]:
    return dict(table("aws_taskdef_rules")["limits"])


def violations(td: Item) -> list[Violation]:
    """Every rule `td` breaks, in file order within each rule family."""
    out: list[Violation] = []
    for family in (_names, _references, _network, _fargate, _memory, _storage,
                   _health_checks, _awslogs, _windows):
        out.extend(family(td))
    return out


# -- the rule families ------------------------------------------------------------------------

def _names(td: Item) -> Iterator[Violation]:
    lim = limits()
    family = td.get("family")
    if isinstance(family, str) and not _valid_name(family, lim):
        yield Violation("family-valid", "family", f"family {_q(family)} is not a valid name")
    ctrs = containers(td)
    if ctrs and not any(essential(c) for c in ctrs):
        yield Violation("essential-container", "containerDefinitions",
                        f"none of the {len(ctrs)} container(s) is essential")
    counts = Counter(str(c.get("name")) for c in ctrs if isinstance(c.get("name"), str))
    seen: set[str] = set()
    for c in ctrs:
        name = c.get("name")
        if not isinstance(name, str):
            continue
        if not _valid_name(name, lim):
            yield Violation("container-name-valid", container_path(td, c, "name"),
                            f"container name {_q(name)} is not a valid name")
        if counts[name] > 1 and name in seen:
            yield Violation("container-name-unique", container_path(td, c, "name"),
                            f"{counts[name]} containers are named {_q(name)}")
        seen.add(name)
        image = c.get("image")
        if not isinstance(image, str) or not image.strip():
            yield Violation("image-present", container_path(td, c, "image"),
                            f"container {_q(name)} has no image")


def _valid_name(name: str, lim: dict[str, Any]) -> bool:
    return 0 < len(name) <= int(lim["name_max"]) and bool(_NAME.match(name))


def _references(td: Item) -> Iterator[Violation]:
    ctrs = containers(td)
    names = {str(c.get("name")) for c in ctrs}
    volumes = {str(v.get("name")) for v in objs(td.get("volumes"))}
    for c in ctrs:
        me = container_name(c)
        for i, dep in enumerate(objs(c.get("dependsOn"))):
            other = dep.get("containerName")
            if other not in names or other == me:
                what = "itself" if other == me else f"{_q(other)}, which is not a container"
                yield Violation("depends-on-exists",
                                f"{container_path(td, c, 'dependsOn')}[{i}].containerName",
                                f"container {_q(me)} depends on {what}")
        for i, link in enumerate(_strings(c.get("links"))):
            other = link.split(":", 1)[0]
            if other not in names or other == me:
                yield Violation("links-exist", f"{container_path(td, c, 'links')}[{i}]",
                                f"container {_q(me)} links to {_q(other)}, which is not "
                                "another container")
        for i, vol in enumerate(objs(c.get("volumesFrom"))):
            other = vol.get("sourceContainer")
            if other not in names or other == me:
                yield Violation("volumes-from-exist",
                                f"{container_path(td, c, 'volumesFrom')}[{i}].sourceContainer",
                                f"container {_q(me)} takes volumes from {_q(other)}, which is "
                                "not another container")
        for i, mount in enumerate(objs(c.get("mountPoints"))):
            source = mount.get("sourceVolume")
            if isinstance(source, str) and source not in volumes:
                yield Violation("mount-volume-exists",
                                f"{container_path(td, c, 'mountPoints')}[{i}].sourceVolume",
                                f"container {_q(me)} mounts volume {_q(source)}, which is not "
                                "in volumes")


def network_mode(td: Item) -> str:
    """The network mode RegisterTaskDefinition applies: bridge when absent on Linux."""
    mode = td.get("networkMode")
    if isinstance(mode, str) and mode:
        return mode
    return "default" if is_windows(td) else "bridge"


def _network(td: Item) -> Iterator[Violation]:
    mode, port_mode = network_mode(td), _port_mode(td)
    port_max = int(limits()["port_max"])
    for c in containers(td):
        me = container_name(c)
        if mode == "awsvpc" and _strings(c.get("links")):
            yield Violation("awsvpc-no-links", container_path(td, c, "links"),
                            f"container {_q(me)} has links in awsvpc mode")
        mappings = objs(c.get("portMappings"))
        if mode == "none" and mappings:
            yield Violation("no-ports-without-network", container_path(td, c, "portMappings"),
                            f"container {_q(me)} maps ports in network mode none")
        for i, pm in enumerate(mappings):
            base = f"{container_path(td, c, 'portMappings')}[{i}]"
            yield from _port_mapping(pm, base, me, port_mode, port_max)


def _port_mode(td: Item) -> str:
    """The mode port mappings are judged in: Fargate's is awsvpc whatever the file says."""
    return "awsvpc" if FARGATE in compatibilities(td) else network_mode(td)


def _port_mapping(pm: Item, base: str, me: str, mode: str,
                  port_max: int) -> Iterator[Violation]:
    cport, hport = int_or_none(pm.get("containerPort")), int_or_none(pm.get("hostPort"))
    for key, value in (("containerPort", cport), ("hostPort", hport)):
        if value is not None and not 0 <= value <= port_max:
            yield Violation("port-range", f"{base}.{key}",
                            f"container {_q(me)} {key} {value} is outside 0-{port_max}")
    span = pm.get("containerPortRange")
    if isinstance(span, str):
        first, _, last = span.partition("-")
        lo, hi = int_or_none(first.strip()), int_or_none(last.strip())
        if lo is None or hi is None or not 1 <= lo < hi <= port_max:
            yield Violation("port-range", f"{base}.containerPortRange",
                            f"container {_q(me)} containerPortRange {_q(span)} is not "
                            f"first-last with 1 <= first < last <= {port_max}")
        elif cport is not None or hport is not None:
            yield Violation("port-range", f"{base}.containerPortRange",
                            f"container {_q(me)} sets containerPortRange with containerPort "
                            "or hostPort")
    # 0 is accepted as "unset": ECS fills in containerPort
    if mode in ("awsvpc", "host") and cport is not None and hport not in (None, 0, cport):
        yield Violation("host-port-matches", f"{base}.hostPort",
                        f"container {_q(me)} maps hostPort {hport} to containerPort {cport} "
                        f"in {mode} mode")


def _fargate(td: Item) -> Iterator[Violation]:
    if FARGATE not in compatibilities(td):
        return
    lim = limits()
    mode = td.get("networkMode")
    if mode != "awsvpc":
        shown = _q(mode) if mode else "none set (bridge)"
        yield Violation("fargate-awsvpc", "networkMode", f"networkMode is {shown}")
    status, text, data = fargate_size(td)
    if status == "fail":
        where = str((data.get("missing") or [data.get("field") or "cpu"])[0])
        yield Violation("fargate-task-size", where, text)
    if str(td.get("pidMode") or "task") != "task":
        yield Violation("fargate-pid-ipc", "pidMode", f"pidMode is {_q(td.get('pidMode'))}")
    if td.get("ipcMode"):
        yield Violation("fargate-pid-ipc", "ipcMode", f"ipcMode is {_q(td.get('ipcMode'))}")
    for i, vol in enumerate(objs(td.get("volumes"))):
        if obj(vol.get("host")).get("sourcePath"):
            yield Violation("fargate-no-host-volume", f"volumes[{i}].host.sourcePath",
                            f"volume {_q(vol.get('name'))} is a host path")
        if vol.get("dockerVolumeConfiguration"):
            yield Violation("fargate-no-docker-volume",
                            f"volumes[{i}].dockerVolumeConfiguration",
                            f"volume {_q(vol.get('name'))} is a Docker volume")
    allowed = {str(a) for a in lim["fargate_capabilities"]}
    for c in containers(td):
        me = container_name(c)
        if c.get("privileged") is True:
            yield Violation("fargate-no-privileged", container_path(td, c, "privileged"),
                            f"container {_q(me)} is privileged")
        linux = obj(c.get("linuxParameters"))
        lp = container_path(td, c, "linuxParameters")
        if linux.get("devices"):
            yield Violation("fargate-no-devices", f"{lp}.devices",
                            f"container {_q(me)} maps host devices")
        for key in lim["fargate_unsupported_linux_parameters"]:
            if linux.get(key) not in (None, [], ""):
                yield Violation("fargate-linux-parameters", f"{lp}.{key}",
                                f"container {_q(me)} sets linuxParameters.{key}")
        added = _strings(obj(linux.get("capabilities")).get("add"))
        for i, cap in enumerate(added):
            if cap.upper().removeprefix("CAP_") not in allowed:
                yield Violation("fargate-capabilities", f"{lp}.capabilities.add[{i}]",
                                f"container {_q(me)} adds capability {cap}")


def _memory(td: Item) -> Iterator[Violation]:
    task = memory_mib(td.get("memory"))
    minimum = int(limits()["container_memory_min_mib"])
    reserved: list[int] = []
    ec2 = EC2 in compatibilities(td) or not compatibilities(td)
    for c in containers(td):
        me = container_name(c)
        hard, soft = int_or_none(c.get("memory")), int_or_none(c.get("memoryReservation"))
        for key, value in (("memory", hard), ("memoryReservation", soft)):
            if value is not None and value < minimum:
                yield Violation("container-memory-minimum", container_path(td, c, key),
                                f"container {_q(me)} {key} is {value} MiB")
        if task is not None and hard is not None and hard > task:
            yield Violation("container-memory-within-task", container_path(td, c, "memory"),
                            f"container {_q(me)} memory {hard} MiB is more than the task's "
                            f"{task} MiB")
        if hard is not None and soft is not None and soft > hard:
            yield Violation("memory-reservation-within-memory",
                            container_path(td, c, "memoryReservation"),
                            f"container {_q(me)} memoryReservation {soft} MiB is more than its "
                            f"memory {hard} MiB")
        if ec2 and task is None and hard is None and soft is None:
            yield Violation("ec2-memory-required", container_path(td, c, "memory"),
                            f"container {_q(me)} has neither memory nor memoryReservation and "
                            "the task sets no memory")
        if soft is not None or hard is not None:
            reserved.append(soft if soft is not None else hard or 0)
    if task is not None and len(reserved) > 1 and sum(reserved) > task:
        yield Violation("containers-memory-sum", "memory",
                        f"the containers reserve {sum(reserved)} MiB together, more than the "
                        f"task's {task} MiB")


def _storage(td: Item) -> Iterator[Violation]:
    size = obj(td.get("ephemeralStorage")).get("sizeInGiB")
    lo, hi = (int(x) for x in limits()["ephemeral_storage_gib"])
    value = int_or_none(size)
    if value is not None and not lo <= value <= hi:
        yield Violation("ephemeral-storage-range", "ephemeralStorage.sizeInGiB",
                        f"ephemeralStorage is {value} GiB")


def _health_checks(td: Item) -> Iterator[Violation]:
    ranges = limits()["health_check"]
    for c in containers(td):
        if "healthCheck" not in c:
            continue
        hc = obj(c.get("healthCheck"))
        base = container_path(td, c, "healthCheck")
        me = container_name(c)
        command = _strings(hc.get("command"))
        if not command:
            yield Violation("health-check-range", f"{base}.command",
                            f"container {_q(me)} health check has no command")
        for key, (lo, hi) in ranges.items():
            value = int_or_none(hc.get(key))
            if value is not None and not int(lo) <= value <= int(hi):
                yield Violation("health-check-range", f"{base}.{key}",
                                f"container {_q(me)} health check {key} {value} is outside "
                                f"{lo}-{hi}")


def _awslogs(td: Item) -> Iterator[Violation]:
    lim = limits()
    fargate = FARGATE in compatibilities(td)
    needed = [*lim["awslogs_required"], *(lim["awslogs_required_fargate"] if fargate else [])]
    for c in containers(td):
        log = obj(c.get("logConfiguration"))
        if log.get("logDriver") != "awslogs":
            continue
        options = obj(log.get("options"))
        missing = [str(k) for k in needed if not options.get(k)]
        if missing:
            yield Violation("awslogs-options", container_path(td, c, "logConfiguration")
                            + ".options", f"container {_q(container_name(c))} logs with "
                            f"awslogs without {', '.join(missing)}")


def _windows(td: Item) -> Iterator[Violation]:
    family = obj(td.get("runtimePlatform")).get("operatingSystemFamily") or ""
    if not (isinstance(family, str) and family.upper().startswith("WINDOWS")):
        return
    for c in containers(td):
        me = container_name(c)
        if c.get("privileged") is True:
            yield Violation("windows-unsupported", container_path(td, c, "privileged"),
                            f"Windows container {_q(me)} is privileged")
        if c.get("linuxParameters"):
            yield Violation("windows-unsupported", container_path(td, c, "linuxParameters"),
                            f"Windows container {_q(me)} sets linuxParameters")


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _q(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:59] + "…")


# -- the check --------------------------------------------------------------------------------

@check(id="gate-aws-would-reject", area="gate", severity=Severity.CRITICAL,
       title="AWS would reject this task definition", needs=("gate", "task_definitions"),
       docs=API_DOCS, emits=("rule", "source"))
def gate_aws_would_reject(facts: Facts, prior: Prior) -> Iterator[Result]:
    """One finding per AWS rule the candidate breaks (checks/data/aws_taskdef_rules.yaml):
    each would fail `register-task-definition` or the first task, after the pipeline has
    already built and pushed."""
    t = target(facts)
    found = violations(t.td)
    if not found:
        yield passed(t.arn, f"{t.label}: breaks none of the {len(rules())} AWS task definition "
                     "rules checked offline", path="")
        return
    table_rules = rules()
    for v in found:
        rule = table_rules[v.rule]
        yield failed(t.arn, f"AWS would reject this task definition: {v.detail} — "
                     f"{rule['says']} ({v.rule})", path=v.path, rule=v.rule,
                     source=str(rule["source"]))
