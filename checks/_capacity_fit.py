"""Would the waiting copies of a task fit on the cluster's usable instances, and if not,
which resource is short and why.

Two different problems look the same in a service event ("no container instance met all of
its requirements"): a real shortage (the cluster as a whole lacks the CPU or memory) and
fragmentation (the cluster has enough in total, but no single instance has it in one
piece). The remedies differ (add capacity vs. pack or resize tasks), so the check names
which one it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.lib.hosts import Host, Need

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
