"""One pipeline for every entry point (CLI scan/analyze/demo, Lambda, gate):
bundle → Facts → check graph → playbook walk → rank → Report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from checker import gcpause, graph, past, playbook, rank, registry, shapes, walk
from checker.bundle import now_iso
from checker.facts import Facts
from checker.model import CheckInfo, Diagnosis, Finding, Report
from checker.playbook import Playbook
from checker.ranking import DEFAULT, Weights
from checker.registry import CheckSpec, Registry


class Engine:
    """The loaded knowledge (checks + playbooks) and the ranking table (`weights`,
    checker.ranking), reusable across many bundles.

    By default the checks are the registry's `scan` selection (what scan, analyze, the demo
    and the Lambda audit run) and the playbooks are validated against the whole registry,
    so a playbook may name any check, whichever product runs it."""

    def __init__(self, checks: Registry | None = None,
                 playbooks: Sequence[Playbook] | None = None,
                 weights: Weights = DEFAULT) -> None:
        known = checks if checks is not None else registry.load()
        self.registry = checks if checks is not None else known.select("scan")
        graph.order(self.registry)  # fail at load on a cycle or unknown dependency
        self.playbooks = list(playbooks) if playbooks is not None else playbook.load(known)
        self.weights = weights

    def analyze(self, bundle: Mapping[str, Any], on_check: graph.ProgressHook | None = None,
                generated_at: str | None = None) -> Report:
        with gcpause.paused():  # checks, walk and report build in bursts (checker/gcpause.py)
            facts = Facts(bundle)
            findings = graph.run(self.registry, facts, on_check)
            return self.report(facts, findings, generated_at=generated_at)

    def report(self, facts: Facts, findings: Sequence[Finding], *,
               checks: Registry | None = None, scope: Mapping[str, Any] | None = None,
               generated_at: str | None = None) -> Report:
        """The Report of `findings`, made by `checks` (default: this engine's) over
        `facts`: diagnosed, ranked, with the errors of the bundle and the checks that ran."""
        ran = checks if checks is not None else self.registry
        diagnoses = tuple(self.diagnose(facts, findings))
        return Report(
            generated_at=generated_at or now_iso(),
            account=facts.account, region=facts.region,
            scope=dict(scope if scope is not None else facts.scope),
            diagnoses=diagnoses,
            timeline=past.timeline(facts, diagnoses),
            findings=tuple(findings),
            # bundle errors, then shape warnings (level "warning"): one place every entry
            # point (scan, analyze, demo, Lambda, gate) passes
            errors=(*(dict(e) for e in facts.errors), *shapes.validate_bundle(facts.bundle)),
            checks=tuple(check_info(spec) for spec in sorted(ran, key=lambda s: s.id)),
        )

    def diagnose(self, facts: Facts, findings: Sequence[Finding]) -> list[Diagnosis]:
        """The walk and rank stages alone: the only ones the weights affect, so comparing
        ranking tables (tests/test_rank_sensitivity.py) reuses one run of the checks."""
        candidates = walk.walk(self.playbooks, findings, self.weights)
        desired = {str(s.get("serviceArn")): _count(s.get("desiredCount"))
                   for s in (facts.services if facts.has("services") else [])}
        ranked = rank.rank(candidates, desired, self.weights, facts)
        # onset, trigger and status (issue 11): resolved ones drop below every active one
        return past.annotate(facts, ranked, self._past_checks, self.weights)

    @property
    def _past_checks(self) -> frozenset[str]:
        """Checks whose failures are about the past (stopped tasks): a diagnosis resting
        only on those and on dated events can be over (checker/past/reasoning.py)."""
        return frozenset(s.id for s in self.registry if s.area == "stopped_tasks")


def check_info(spec: CheckSpec) -> CheckInfo:
    """What renderers may say about a check (its docstring on one line)."""
    return CheckInfo(id=spec.id, title=spec.title, severity=spec.severity, docs=spec.docs,
                     area=spec.area, description=" ".join(spec.description.split()))


def _count(value: Any) -> int:
    """desiredCount as an int; anything odd in a hand-written bundle counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@cache
def shared_engine() -> Engine:
    """The default Engine, built once per process: a Lambda's warm container (the audit, the
    fleet's) reuses its loaded checks and playbooks (about a second of imports) across
    invocations."""
    return Engine()
