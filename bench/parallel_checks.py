"""What running the checks in two processes would buy: the checks of bench/scale_bundle.py's
account run serially, then split between this process and a forked child, measured side by
side in one run.

The split keeps the check DAG's connected components whole (a check runs beside the checks
whose findings it reads), and puts in the child the components holding a check of
``--child-area`` (default ``network``, the heaviest area). The child runs its checks over
its copy of the facts (fork: nothing is copied until written) and sends its findings back
pickled through a pipe; the parent runs the rest, then reads and unpickles them. Printed:
the serial time, the parallel time and its parts (the parent's own checks, the wait for the
child, the unpickling), the size of what crossed the pipe, and whether the findings equal
the serial run's, check by check. The last line is the summary:

    parallel checks: xN serial S.SS s, two processes P.PP s (R.RR×), M MB pickled, identical

Nothing in ecsdoctor runs its checks this way: this is the measurement behind that choice
(README "Performance"). Linux or macOS only (``os.fork``). Run from the repository root:
``python bench/parallel_checks.py [--size 10] [--child-area network]``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scale_bundle import build  # noqa: E402  (bench/ is a directory of scripts)

from checker import gcpause, graph  # noqa: E402
from checker.facts import Facts  # noqa: E402
from checker.model import Finding  # noqa: E402
from checker.pipeline import Engine  # noqa: E402
from checker.registry import Prior, Registry  # noqa: E402

Done = dict[str, list[Finding]]


def components(registry: Registry) -> list[set[str]]:
    """The check DAG's connected components (edges taken both ways)."""
    parent = {spec.id: spec.id for spec in registry}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for spec in registry:
        for upstream in spec.after:
            parent[root(spec.id)] = root(upstream)
    groups: dict[str, set[str]] = {}
    for spec in registry:
        groups.setdefault(root(spec.id), set()).add(spec.id)
    return list(groups.values())


def run_checks(registry: Registry, order: list[str], ids: Iterable[str], facts: Facts) -> Done:
    """The checks `ids` in the runner's order, each reading its upstream's findings."""
    wanted = set(ids)
    done: Done = {}
    for check_id in order:
        if check_id in wanted:
            spec = registry[check_id]
            done[check_id] = graph.run_one(spec, facts, Prior({u: done[u] for u in spec.after}))
    return done


def _key(findings: list[Finding]) -> list[tuple[Any, ...]]:
    return [(f.check, f.status, f.resource, f.message, dict(f.data)) for f in findings]


def measure(size: int, child_area: str, show: Callable[[str], None] = print,
            unit: int = 100) -> dict[str, float]:
    engine = Engine()
    registry, order = engine.registry, graph.order(engine.registry)
    bundle = build(size, unit)
    child = set().union(*(group for group in components(registry)
                          if any(registry[c].area == child_area for c in group)))
    show(f"x{size}: {len(order)} checks in {len(components(registry))} components; "
         f"{len(child)} in the child (components with a {child_area!r} check)")
    with gcpause.paused():
        start = time.perf_counter()
        serial = run_checks(registry, order, order, Facts(bundle))
        serial_s = time.perf_counter() - start

        start = time.perf_counter()
        facts = Facts(bundle)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its checks, pickled into the pipe, and out
            try:
                os.close(read_end)
                data = pickle.dumps(run_checks(registry, order, child, facts), protocol=5)
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(data)
            finally:
                os._exit(0)
        os.close(write_end)
        mine = run_checks(registry, order, set(order) - child, facts)
        own_s = time.perf_counter() - start
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        waited_s = time.perf_counter() - start - own_s
        theirs: Done = pickle.loads(data)
        os.waitpid(pid, 0)
        parallel_s = time.perf_counter() - start
    both = {**mine, **theirs}
    identical = both.keys() == serial.keys() and all(
        _key(both[c]) == _key(serial[c]) for c in order)
    findings = sum(len(v) for v in serial.values())
    show(f"serial: {serial_s:.2f} s, {findings:,} findings")
    show(f"two processes: {parallel_s:.2f} s = parent's own checks {own_s:.2f} s + waiting "
         f"for the child {waited_s:.2f} s + unpickling {parallel_s - own_s - waited_s:.2f} s; "
         f"{len(data) / 1e6:.0f} MB through the pipe")
    show(f"parallel checks: x{size} serial {serial_s:.2f} s, two processes {parallel_s:.2f} s "
         f"({serial_s / parallel_s:.2f}×), {len(data) / 1e6:.0f} MB pickled, "
         f"{'identical' if identical else 'FINDINGS DIFFER'}")
    return {"serial": serial_s, "parallel": parallel_s, "identical": float(identical),
            "child_checks": float(len(child))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10, help="account size (x1: 100 services)")
    parser.add_argument("--child-area", default="network",
                        help="the area whose components run in the child (default network)")
    args = parser.parse_args()
    result = measure(args.size, args.child_area)
    sys.exit(0 if result["identical"] else 1)


if __name__ == "__main__":
    main()
