"""Helpers for the task-definition and security checks: who uses a task definition, where it
runs, and the messy sizes real task definitions carry.

A task definition is judged once per service that runs it (playbooks correlate evidence per
service), and once with no service when nothing in scope uses it. Real files mix ints,
digit strings, "1 vcpu", ".5 GB" and template placeholders ("{{cpu}}"); every parser here
returns None instead of raising on them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, obj, objs, task_sets
from checks.lib.knowledge import table
from checks.lib.labels import service_label, td_label
from checks.lib.scope import task_definitions_in_scope
from checks.lib.values import int_or_none

FARGATE, EC2, EXTERNAL = "FARGATE", "EC2", "EXTERNAL"
#: The task definition parameters page: task-definition and security checks link to its
#: sections.
PARAMS_DOCS = ("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
               "task_definition_parameters.html")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Use:
    """One task definition as one service (or nothing) runs it."""

    td: Item
    service: Item | None

    @property
    def arn(self) -> str:
        return str(self.td.get("taskDefinitionArn") or td_label(self.td))

    @property
    def label(self) -> str:
        return td_label(self.td)

    @property
    def service_arn(self) -> str | None:
        return str(self.service["serviceArn"]) if self.service else None

    @property
    def suffix(self) -> str:
        """` (used by service prod/web)`, appended to messages about a used definition."""
        return f" (used by service {service_label(self.service)})" if self.service else ""

    def where(self, container: Item | None = None) -> str:
        """`task def web:42` or `task def web:42 container app`: how messages start."""
        if container is None:
            return f"task def {self.label}"
        return f"task def {self.label} container {container_name(container)}"

    @property
    def platform(self) -> str:
        return platform(self.td, self.service)

    def path(self, container: Item | None = None, field: str = "") -> str:
        """JSON path of `container` (and its `field`) in this definition (Result.path)."""
        return container_path(self.td, container, field)

    def data(self, **data: Any) -> dict[str, Any]:
        """Finding data plus `affected_tasks` when the service runs this definition now."""
        count = self.affected_tasks
        return {**data, "affected_tasks": count} if count is not None else data

    @property
    def affected_tasks(self) -> int | None:
        """Tasks of the service that run this definition, when the service runs it now. A
        service run by task sets (EXTERNAL, CODE_DEPLOY) runs what its live task sets run,
        each its own share of the tasks (during a blue/green shift two sets run two
        definitions): the sets are read first, as the service's own `taskDefinition` is at
        most the PRIMARY set's."""
        if self.service is None:
            return None
        arn = self.td.get("taskDefinitionArn")
        sets = task_sets(self.service)
        if sets:
            counts = [_set_tasks(s, self.service) for s in sets
                      if s.get("taskDefinition") == arn]
            known = [c for c in counts if c is not None]
            return sum(known) if counts and len(known) == len(counts) else None
        if self.service.get("taskDefinition") != arn:
            return None
        return int_or_none(self.service.get("desiredCount"))


def _set_tasks(task_set: Item, service: Item) -> int | None:
    """A task set's desired tasks: its `computedDesiredCount`, else (a bundle without it)
    the service's desiredCount × the set's scale percentage, rounded up as ECS does.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskSet.html"""
    computed = int_or_none(task_set.get("computedDesiredCount"))
    if computed is not None:
        return computed
    scale, desired = obj(task_set.get("scale")), int_or_none(service.get("desiredCount"))
    value = scale.get("value")
    if desired is None or scale.get("unit") != "PERCENT" or not isinstance(
            value, int | float) or isinstance(value, bool):
        return None
    return math.ceil(desired * value / 100)


def uses(facts: Facts) -> Iterator[Use]:
    """Every collected task definition × every service in scope that runs it (or None).
    Built once per analysis: a dozen checks ask, some once per task definition."""
    yield from facts.memo(("taskdefs", "uses"), lambda: list(_uses(facts)))


def _uses(facts: Facts) -> Iterator[Use]:
    for td, services in task_definitions_in_scope(facts):
        users: list[Item | None] = [*sorted(services, key=lambda s: str(s.get("serviceArn")))]
        for svc in users or [None]:
            yield Use(td, svc)



def containers(td: Item) -> list[Item]:
    """Container definitions that are objects (hand-written files sometimes hold junk)."""
    return objs(td.get("containerDefinitions"))


def container_path(td: Item, container: Item | None, field: str = "") -> str:
    """`containerDefinitions[2].privileged`: where `container` (one of td's, by identity)
    and its `field` are in the task definition; `containerDefinitions` when the result is
    about no one container."""
    raw = td.get("containerDefinitions")
    index = next((i for i, c in enumerate(raw) if c is container), None) if isinstance(
        raw, list) and container is not None else None
    if index is None:
        return "containerDefinitions"
    base = f"containerDefinitions[{index}]"
    return f"{base}.{field}" if field else base


def environment_path(td: Item, container: Item, name: str | None) -> str:
    """The `environment` entry named `name` (`containerDefinitions[0].environment[3]`), or
    the container's `environment` when there is none."""
    base = container_path(td, container, "environment")
    raw = container.get("environment")
    hit = next((i for i, e in enumerate(raw) if isinstance(e, dict) and name is not None
                and e.get("name") == name), None) if isinstance(raw, list) else None
    return f"{base}[{hit}]" if hit is not None else base


def container_name(container: Item) -> str:
    return str(container.get("name") or "?")


def essential(container: Item) -> bool:
    """`essential` defaults to true when omitted."""
    return container.get("essential", True) is not False


def compatibilities(td: Item) -> set[str]:
    reqs = td.get("requiresCompatibilities") or []
    return {str(r).upper() for r in reqs} if isinstance(reqs, list) else set()


def platform(td: Item, service: Item | None = None) -> str:
    """FARGATE, EC2 or EXTERNAL: how the service launches it, else what the definition
    requires. A definition with no requiresCompatibilities is validated for EC2."""
    if service is not None:
        launch = str(service.get("launchType") or "").upper()
        if launch:
            return launch if launch in (FARGATE, EXTERNAL) else EC2
        providers = {str(obj(p).get("capacityProvider", "")).upper()
                     for p in service.get("capacityProviderStrategy", []) or []}
        if providers:
            return FARGATE if providers <= {"FARGATE", "FARGATE_SPOT"} else EC2
    reqs = compatibilities(td)
    if reqs == {FARGATE}:
        return FARGATE
    if reqs == {EXTERNAL}:
        return EXTERNAL
    return EC2


#: Image repositories that only exist for Windows (EC2 Windows task definitions often have
#: no runtimePlatform at all).
_WINDOWS_IMAGE = re.compile(r"(?:^|[/_.-])(?:windows|servercore|nanoserver|iis)(?:$|[/_.-])")


def is_windows(td: Item, container: Item | None = None) -> bool:
    """Windows task definition (runtimePlatform), or a container whose image is Windows."""
    family = obj(td.get("runtimePlatform")).get("operatingSystemFamily") or ""
    if isinstance(family, str) and family.upper().startswith("WINDOWS"):
        return True
    return container is not None and bool(
        _WINDOWS_IMAGE.search(image_repo(container.get("image")).lower()))


def cpu_units(value: Any) -> int | None:
    """Task `cpu`: 1024, "1024", "1 vcpu", ".25 vCPU" → CPU units; None when unparseable."""
    number, unit = _size(value)
    if number is None:
        return None
    if unit in ("", "unit", "units"):
        return round(number)
    return round(number * 1024) if unit == "vcpu" else None


def memory_mib(value: Any) -> int | None:
    """Task `memory`: 2048, "2048", "2 GB", ".5gb" → MiB; None when unparseable."""
    number, unit = _size(value)
    if number is None:
        return None
    if unit in ("", "mb", "mib"):
        return round(number)
    return round(number * 1024) if unit in ("gb", "gib") else None


def _size(value: Any) -> tuple[float | None, str]:
    if isinstance(value, bool):
        return None, ""
    if isinstance(value, int | float):
        return float(value), ""
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        return None, ""
    return float(match.group(1)), match.group(2).lower()


def hard_limit(container: Item, td: Item) -> tuple[int | None, str]:
    """The memory a container cannot exceed: its own `memory`, else the task `memory`."""
    own = int_or_none(container.get("memory"))
    if own:
        return own, "memory hard limit"
    task = memory_mib(td.get("memory"))
    return (task, "task memory") if task else (None, "")


def memory_bound(td: Item) -> tuple[int | None, str]:
    """The hard memory AWS/ECS MemoryUtilization is relative to: task memory, or the
    containers' hard limits when every container has one; None when soft limits size the
    task (the percentage may then pass 100% legitimately)."""
    task = memory_mib(td.get("memory"))
    if task:
        return task, "task memory"
    hards = [int_or_none(c.get("memory")) for c in containers(td)]
    if hards and all(hards):
        return sum(h for h in hards if h), "container hard limits"
    return None, "soft"


def memory_path(td: Item) -> str:
    """Where memory_bound's limit is set: task `memory`, else the first container memory."""
    if memory_mib(td.get("memory")):
        return "memory"
    for ctr in containers(td):
        if int_or_none(ctr.get("memory")):
            return container_path(td, ctr, "memory")
    return "memory"


def env(container: Item) -> list[tuple[str, str]]:
    """(name, value) of the container's `environment`, skipping malformed entries."""
    out: list[tuple[str, str]] = []
    for pair in objs(container.get("environment")):
        if isinstance(pair.get("name"), str):
            value = pair.get("value")
            out.append((pair["name"], "" if value is None else str(value)))
    return out


def words(container: Item, key: str) -> list[str]:
    """`command` / `entryPoint` as strings (a bare string counts as one word)."""
    value = container.get(key)
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or [] if v is not None] if isinstance(value, list) else []


def image_repo(image: Any) -> str:
    """`public.ecr.aws/xray/aws-xray-daemon:3.x` → `public.ecr.aws/xray/aws-xray-daemon`."""
    if not isinstance(image, str):
        return ""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def each_container(facts: Facts) -> Iterator[tuple[Use, Item]]:
    """Every (use, container definition) pair, in a stable order."""
    for use in uses(facts):
        for ctr in containers(use.td):
            yield use, ctr


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 30 else text[:27] + "…"


def _memory_choices(row: dict[str, Any]) -> tuple[list[int] | range, str]:
    if "memory" in row:
        values = [int(v) for v in row["memory"]]
        return values, ", ".join(str(v) for v in values) + " MiB"
    lo, hi, step = int(row["min"]), int(row["max"]), int(row["step"])
    return range(lo, hi + 1, step), f"{lo}–{hi} MiB in steps of {step}"


def fargate_size(td: Item) -> tuple[str, str, dict[str, Any]]:
    """(status, text, data) for a Fargate task size: pass, fail, or unknown when a value
    is not a size at all (a template placeholder)."""
    raw_cpu, raw_mem = td.get("cpu"), td.get("memory")
    missing = [k for k, v in (("cpu", raw_cpu), ("memory", raw_mem)) if v in (None, "")]
    if missing:
        return "fail", f"no task-level {' and '.join(missing)}: Fargate requires both", {
            "missing": missing}
    cpu, mem = cpu_units(raw_cpu), memory_mib(raw_mem)
    if cpu is None or mem is None:
        bad = "cpu" if cpu is None else "memory"
        value = raw_cpu if cpu is None else raw_mem
        return "unknown", f"task {bad} {_short(value)!r} is not a size (template placeholder?)", {
            "field": bad}
    data: dict[str, Any] = {"cpu": cpu, "memory": mem}
    sizes = {int(k): v for k, v in table("fargate_task_sizes")["sizes"].items()}
    row = sizes.get(cpu)
    if row is None:
        return "fail", (f"task cpu {cpu} is not a Fargate size (valid: "
                        f"{', '.join(str(c) for c in sorted(sizes))})"), data
    os_name = "windows" if is_windows(td) else "linux"
    if os_name not in row["os"]:
        return "fail", f"task cpu {cpu} is not available for {os_name} on Fargate", data
    choices, text = _memory_choices(row)
    if mem not in choices:
        return "fail", f"task memory {mem} MiB is not valid with cpu {cpu} (valid: {text})", data
    return "pass", f"Fargate size {cpu} CPU units / {mem} MiB is valid", data
