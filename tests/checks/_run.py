"""Run one check over a bundle, through the real engine (graph + runner)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from checker import graph, registry
from checker.facts import Facts
from checker.model import Finding

REGISTRY = registry.load()
#: (check id, status) pairs the check tests produced, and the test files that produced
#: them: test_zz_coverage.py proves every check was seen both passing and failing.
OBSERVED: set[tuple[str, str]] = set()
CALLERS: set[str] = set()


def run_check(check_id: str, bundle: dict[str, Any]) -> list[Finding]:
    findings = graph.run(REGISTRY, Facts(bundle))
    OBSERVED.update((f.check, f.status.value) for f in findings)
    caller = sys._getframe(1).f_globals.get("__file__", "")
    CALLERS.add(Path(caller).name)
    return [f for f in findings if f.check == check_id]


def statuses(check_id: str, bundle: dict[str, Any]) -> dict[str, str]:
    """resource (or service) → status of that check."""
    findings = graph.run(REGISTRY, Facts(bundle))
    OBSERVED.update((f.check, f.status.value) for f in findings)
    CALLERS.add(Path(sys._getframe(1).f_globals.get("__file__", "")).name)
    return {(f.service or f.resource): f.status.value for f in findings if f.check == check_id}
