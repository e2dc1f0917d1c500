"""Run one check over a bundle, through the real engine (graph + runner)."""

from __future__ import annotations

from typing import Any

from checker import graph, registry
from checker.facts import Facts
from checker.model import Finding

REGISTRY = registry.load()
#: (check id, status) pairs the check tests produced in this process: tests/checks/
#: test_coverage.py runs them all in a child process and reads this (tests/checks/observe.py).
OBSERVED: set[tuple[str, str]] = set()


def _run(bundle: dict[str, Any]) -> list[Finding]:
    """Every check over the bundle; each finding's data keys must be declared (`emits`)."""
    findings = graph.run(REGISTRY, Facts(bundle))
    OBSERVED.update((f.check, f.status.value) for f in findings)
    undeclared = graph.undeclared_data(REGISTRY, findings)
    assert not undeclared, f"data keys missing from the checks' emits=: {undeclared}"
    return findings


def run_check(check_id: str, bundle: dict[str, Any]) -> list[Finding]:
    return [f for f in _run(bundle) if f.check == check_id]


def statuses(check_id: str, bundle: dict[str, Any]) -> dict[str, str]:
    """resource (or service) → status of that check."""
    findings = _run(bundle)
    return {(f.service or f.resource): f.status.value for f in findings if f.check == check_id}
