"""Runtime heap settings (JVM, Node.js) read from a container definition.

A heap is configured in many places: `-Xmx` on the command line, in `JAVA_OPTS` that a start
script expands, in `JAVA_TOOL_OPTIONS` the JVM reads itself, in `NODE_OPTIONS`… When one
flag appears in several, the runtime keeps the one with the highest precedence:

- JVM: JAVA_TOOL_OPTIONS < JDK_JAVA_OPTIONS < the command line (where start scripts expand
  JAVA_OPTS / CATALINA_OPTS / JVM_OPTS) < _JAVA_OPTIONS; within one source the last
  occurrence wins. `-Xmx` makes `-XX:MaxRAMPercentage` irrelevant.
- Node: NODE_OPTIONS < the command line.

Only the matched flag is ever quoted back (`-Xmx1536m`), never the rest of a value, which
could hold anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checker.facts import Item
from checks.lib.taskdefs import env, words

_UNITS = {"": 1 / 2**20, "k": 1 / 2**10, "m": 1.0, "g": 2.0**10, "t": 2.0**20}
_BOUND = r"(?<![\w-])"
_END = r"(?![\w.])"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "xmx": re.compile(_BOUND + r"(?:-Xmx|-XX:MaxHeapSize=)(\d+)([kKmMgGtT]?)" + _END),
    "xms": re.compile(_BOUND + r"(?:-Xms|-XX:InitialHeapSize=)(\d+)([kKmMgGtT]?)" + _END),
    "ram_pct": re.compile(_BOUND + r"-XX:MaxRAMPercentage=(\d+(?:\.\d+)?)" + _END),
    "ram_frac": re.compile(_BOUND + r"-XX:MaxRAMFraction=(\d+)" + _END),
    "node": re.compile(_BOUND + r"--max[-_]old[-_]space[-_]size[= ](\d+)" + _END),
}
#: (source name, precedence): a higher precedence overrides a lower one.
JVM_ENV = {"JAVA_TOOL_OPTIONS": 0, "JDK_JAVA_OPTIONS": 1, "JAVA_OPTS": 2, "CATALINA_OPTS": 2,
           "JVM_OPTS": 2, "_JAVA_OPTIONS": 4}
NODE_ENV = {"NODE_OPTIONS": 0}
_COMMAND_RANK = 3


@dataclass(frozen=True, slots=True)
class Heap:
    """One effective heap flag of a container."""

    kind: str            # xmx | xms | ram_pct | node
    text: str            # the flag as written: "-Xmx1536m"
    source: str          # "JAVA_OPTS", "command", …
    mib: float | None = None
    percent: float | None = None

    @property
    def runtime(self) -> str:
        return "node" if self.kind == "node" else "jvm"


def _parse(kind: str, match: re.Match[str], source: str) -> Heap | None:
    text = match.group(0)
    if kind in ("xmx", "xms"):
        return Heap(kind, text, source, mib=int(match.group(1)) * _UNITS[match.group(2).lower()])
    if kind == "node":
        return Heap(kind, text, source, mib=float(match.group(1)))
    if kind == "ram_pct":
        return Heap("ram_pct", text, source, percent=float(match.group(1)))
    fraction = int(match.group(1))
    return Heap("ram_pct", text, source, percent=100.0 / fraction) if fraction else None


def _sources(container: Item) -> list[tuple[int, str, str]]:
    """(precedence, source name, text) for every place a heap flag may hide."""
    out: list[tuple[int, str, str]] = []
    for name, value in env(container):
        rank = JVM_ENV.get(name, NODE_ENV.get(name))
        if rank is not None:
            out.append((rank, name, value))
    for key in ("entryPoint", "command"):
        text = " ".join(words(container, key))
        if text:
            out.append((_COMMAND_RANK, key, text))
    return out


def heap_settings(container: Item) -> list[Heap]:
    """The effective heap flags of a container (at most one per kind), in kind order."""
    best: dict[str, tuple[int, Heap]] = {}
    for rank, source, text in _sources(container):
        node_rank = 1 if source in ("entryPoint", "command") else 0
        for kind, pattern in _PATTERNS.items():
            for match in pattern.finditer(text):
                heap = _parse(kind, match, source)
                if heap is None:
                    continue
                prec = node_rank if heap.kind == "node" else rank
                held = best.get(heap.kind)
                if held is None or prec >= held[0]:
                    best[heap.kind] = (prec, heap)
    effective = {k: h for k, (_, h) in best.items()}
    if "xmx" in effective:
        effective.pop("ram_pct", None)
    return [effective[k] for k in ("xmx", "xms", "ram_pct", "node") if k in effective]


@dataclass(frozen=True, slots=True)
class Verdict:
    heap: Heap
    share: float          # percent of the limit
    over: bool            # above the limit itself
    risky: bool           # above the threshold (too close, or MaxRAMPercentage too high)


def judge(heap: Heap, limit_mib: int, close_pct: float, max_ram_pct: float) -> Verdict:
    """How a heap flag compares with the container limit (MiB)."""
    if heap.percent is not None:
        return Verdict(heap, heap.percent, False, heap.percent > max_ram_pct)
    share = 100.0 * (heap.mib or 0.0) / limit_mib
    if heap.kind == "xms":
        return Verdict(heap, share, share > 100.0, share > 100.0)
    return Verdict(heap, share, share > 100.0, share > close_pct)
