"""How much memory the tasks on one container instance reserve, and how much they may use.

ECS places a container by its soft limit (`memoryReservation`) when it has one, but the
container may grow to its hard limit (`memory`), or to all of the host's memory when it has
no hard limit and its task no task-level memory. The host is over-committed when what the
containers may use exceeds what the instance registered: then the kernel OOM killer, not
ECS, decides which container dies.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from checker.facts import Facts, Item
from checks.lib.hosts import HOLDING_STATES, Host, obj, objs, tasks_on
from checks.lib.labels import task_id, td_label
from checks.lib.taskdefs import memory_mib
from checks.lib.values import int_or_none


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
