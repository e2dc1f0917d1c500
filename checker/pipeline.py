"""One pipeline for every entry point (CLI scan/analyze/demo, Lambda, gate):
bundle → Facts → check graph → playbook walk → rank → Report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from checker import graph, playbook, rank, registry, shapes, walk
from checker.bundle import now_iso
from checker.facts import Facts
from checker.model import Diagnosis, Finding, Report
from checker.playbook import Playbook
from checker.ranking import DEFAULT, Weights
from checker.registry import Registry


class Engine:
    """The loaded knowledge (checks + playbooks) and the ranking table (`weights`,
    checker.ranking), reusable across many bundles."""

    def __init__(self, checks: Registry | None = None,
                 playbooks: Sequence[Playbook] | None = None,
                 weights: Weights = DEFAULT) -> None:
        self.registry = checks if checks is not None else registry.load()
        graph.build(self.registry)  # fail at load on a cycle or unknown dependency
        self.playbooks = list(playbooks) if playbooks is not None else playbook.load(
            self.registry)
        self.weights = weights

    def analyze(self, bundle: Mapping[str, Any], on_check: graph.ProgressHook | None = None,
                generated_at: str | None = None) -> Report:
        facts = Facts(bundle)
        findings = graph.run(self.registry, facts, on_check)
        return Report(
            generated_at=generated_at or now_iso(),
            account=facts.account, region=facts.region, scope=dict(facts.scope),
            diagnoses=tuple(self.diagnose(facts, findings)),
            findings=tuple(findings),
            # bundle errors, then shape warnings (level "warning"): one place every entry
            # point (scan, analyze, demo, Lambda, gate) passes
            errors=(*(dict(e) for e in facts.errors), *shapes.validate_bundle(bundle)),
        )

    def diagnose(self, facts: Facts, findings: Sequence[Finding]) -> list[Diagnosis]:
        """The walk and rank stages alone: the only ones the weights affect, so comparing
        ranking tables (tests/test_rank_sensitivity.py) reuses one run of the checks."""
        candidates = walk.walk(self.playbooks, findings, self.weights)
        desired = {str(s.get("serviceArn")): _count(s.get("desiredCount"))
                   for s in (facts.services if facts.has("services") else [])}
        return rank.rank(candidates, desired, self.weights)


def _count(value: Any) -> int:
    """desiredCount as an int; anything odd in a hand-written bundle counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
