"""The check DAG and its runner.

Edges come from each spec's `after`: they are executable (a check reads the findings of its
upstream checks through `Prior`), and they fix the order. Checks run in networkx's
lexicographical topological order so that two runs over the same bundle produce the same
findings in the same order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from checker import gcpause, parallel
from checker.errors import MissingFacts, RegistryError
from checker.facts import Facts
from checker.model import Finding, Result, Status
from checker.registry import CheckSpec, Prior, Registry

if TYPE_CHECKING:
    import networkx as nx

ProgressHook = Callable[[CheckSpec], None]
#: Data keys the runner itself puts on the results it makes (missing facts, a check bug).
RUNNER_KEYS = frozenset({"needs", "reason", "internal_error"})


def build(registry: Registry) -> nx.DiGraph:
    """The DAG as a networkx graph, for tools that want one; `order` does not need it
    (networkx is imported here only: ~100 ms that `ecsdoctor analyze` no longer pays)."""
    import networkx as nx

    order(registry)  # the same errors: unknown dependency, cycle
    graph = nx.DiGraph()
    graph.add_nodes_from(spec.id for spec in registry)
    graph.add_edges_from((up, spec.id) for spec in registry for up in spec.after)
    return graph


def order(registry: Registry) -> list[str]:
    """Kahn's algorithm taking the smallest ready id first: the lexicographical
    topological order (networkx's `lexicographical_topological_sort`, without importing
    networkx). A RegistryError names an unknown dependency or a cycle."""
    downstream: dict[str, list[str]] = {spec.id: [] for spec in registry}
    waiting: dict[str, int] = {}
    for spec in registry:
        for upstream in spec.after:
            if upstream not in registry:
                raise RegistryError(
                    f"check {spec.id!r} ({spec.module}) runs after unknown check {upstream!r}"
                )
            downstream[upstream].append(spec.id)
        waiting[spec.id] = len(spec.after)
    ready = [node for node, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        out.append(node)
        for nxt in downstream[node]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, nxt)
    if len(out) < len(waiting):
        cycle = _cycle({s.id: list(s.after) for s in registry if waiting[s.id] > 0})
        raise RegistryError(f"check dependencies form a cycle: {' -> '.join(cycle)}")
    return out


def _cycle(after: dict[str, list[str]]) -> list[str]:
    """One cycle among checks that never became ready (each waits on another of them):
    walk upstream from the smallest until a check repeats."""
    path: list[str] = []
    node = min(after)
    while node not in path:
        path.append(node)
        node = min(up for up in after[node] if up in after)
    loop = path[path.index(node):][::-1]  # upstream first, as the edges run
    return [*loop, loop[0]]


def _finding(spec: CheckSpec, result: Result) -> Finding:
    return Finding(
        check=spec.id,
        status=result.status,
        severity=result.severity or spec.severity,
        resource=result.resource,
        message=result.message,
        data=dict(result.data),
        service=result.service,
        path=result.path,
    )


def run_one(spec: CheckSpec, facts: Facts, prior: Prior) -> list[Finding]:
    """Run one check; never raises. Missing facts → unknown (skipped when they are absent
    on purpose, Facts.skip_reason), not called at all. The runner's own findings are about
    the bundle's subject (Facts.subject)."""

    def own(status: Status, message: str, data: dict[str, Any] | None = None) -> list[Finding]:
        return [_finding(spec, Result(status, facts.subject, message, data or {},
                                      path=facts.subject_path))]

    for need in spec.needs:
        reason = facts.missing_reason(need)
        if reason is not None:
            skip = facts.skip_reason(need)
            if skip is not None:
                return own(Status.SKIPPED, skip)
            return own(Status.UNKNOWN, f"could not check: needs {need} ({reason})",
                       {"needs": need, "reason": reason})
    try:
        results = list(spec.func(facts, prior))
    except MissingFacts as exc:
        return own(Status.UNKNOWN, f"could not check: needs {exc.collection} ({exc.reason})",
                   {"needs": exc.collection, "reason": exc.reason})
    except Exception as exc:  # a check bug must not take the report down with it
        return own(Status.UNKNOWN,
                   f"check failed internally ({type(exc).__name__}: {exc}); please report it",
                   {"internal_error": type(exc).__name__})
    if not results:
        return own(Status.SKIPPED, "nothing to check in this scope")
    # _finding inlined, positional, and sorted by a C key (Finding.sort_key's order): a
    # large account's checks make 130,000 findings
    check_id, severity = spec.id, spec.severity
    out = [Finding(check_id, r.status, r.severity or severity, r.resource, r.message,
                   dict(r.data), r.service, r.path) for r in results]
    out.sort(key=_ORDER)
    return out


_ORDER = attrgetter("check", "resource", "message")


def run(
    registry: Registry, facts: Facts, on_check: ProgressHook | None = None
) -> list[Finding]:
    """Every check's findings, ordered by check id (each check's sorted by `_ORDER`). A
    large account's checks run in several processes when the machine has the cores
    (checker/parallel.py): the findings are the same, in the same order."""
    done: dict[str, list[Finding]] | None = None
    with gcpause.paused():  # checker/gcpause.py: a third of the run otherwise
        processes = parallel.jobs()
        if processes > 1 and parallel.worth_it(facts) and parallel.forkable():
            done = parallel.run(registry, facts, _with_prior, processes, on_check)
        if done is None:
            done = {}
            for check_id in order(registry):
                spec = registry[check_id]
                if on_check is not None:
                    on_check(spec)
                done[check_id] = _with_prior(spec, facts, done)
    return [f for check_id in sorted(done) for f in done[check_id]]


def _with_prior(spec: CheckSpec, facts: Facts, done: dict[str, list[Finding]]
                ) -> list[Finding]:
    """`run_one` with the findings of the checks `spec` runs after, from those done."""
    return run_one(spec, facts, Prior({up: done[up] for up in spec.after}))


def undeclared_data(registry: Registry, findings: Iterable[Finding]) -> list[str]:
    """`check: key` for every data key a finding carries that its check does not declare
    in `emits`: playbooks are validated against the declarations, so a key a check emits
    without declaring it is one a playbook could not be checked against. The tests run
    this over every finding they make."""
    out: set[str] = set()
    for f in findings:
        spec = registry.specs.get(f.check)
        if spec is None or spec.emits is None:
            continue
        out.update(f"{f.check}: {key}" for key in f.data
                   if key not in spec.emits and key not in RUNNER_KEYS)
    return sorted(out)
