"""The check DAG and its runner.

Edges come from each spec's `after`: they are executable (a check reads the findings of its
upstream checks through `Prior`), and they fix the order. Checks run in networkx's
lexicographical topological order so that two runs over the same bundle produce the same
findings in the same order.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import networkx as nx

from checker.errors import MissingFacts, RegistryError
from checker.facts import Facts
from checker.model import Finding, Result, Status
from checker.registry import CheckSpec, Prior, Registry

ProgressHook = Callable[[CheckSpec], None]
#: Data keys the runner itself puts on the results it makes (missing facts, a check bug).
RUNNER_KEYS = frozenset({"needs", "reason", "internal_error"})


def build(registry: Registry) -> nx.DiGraph:
    graph = nx.DiGraph()
    for spec in registry:
        graph.add_node(spec.id)
    for spec in registry:
        for upstream in spec.after:
            if upstream not in registry:
                raise RegistryError(
                    f"check {spec.id!r} ({spec.module}) runs after unknown check {upstream!r}"
                )
            graph.add_edge(upstream, spec.id)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        path = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
        raise RegistryError(f"check dependencies form a cycle: {path}")
    return graph


def order(registry: Registry) -> list[str]:
    return list(nx.lexicographical_topological_sort(build(registry)))


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
    return sorted((_finding(spec, r) for r in results), key=Finding.sort_key)


def run(
    registry: Registry, facts: Facts, on_check: ProgressHook | None = None
) -> list[Finding]:
    done: dict[str, list[Finding]] = {}
    with _no_cyclic_gc():
        for check_id in order(registry):
            spec = registry[check_id]
            if on_check is not None:
                on_check(spec)
            prior = Prior({up: done[up] for up in spec.after})
            done[check_id] = run_one(spec, facts, prior)
    return [f for check_id in sorted(done) for f in done[check_id]]


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while the checks run. They allocate millions of
    short-lived objects, each burst of which triggers a collection that walks the whole
    bundle (every task, every datapoint): a third of the run on a 10,000-task bundle
    (bench/analyze_scale.py). Reference counting still frees everything the checks drop;
    cycles, if any, are collected once the collector is back on. The previous state is
    restored, so a caller that disabled it keeps it disabled."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
