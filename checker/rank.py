"""Turn confirmed candidates into ranked diagnoses.

    score = 10 × weight(severity) × confidence × impact

weight: critical 10, high 7, medium 4, low 2, info 1 (checker.model.Severity.weight).
confidence: from the playbook walk, in (0, 0.99] (capped when evidence was unknown).
impact: the share of the service's desired tasks the evidence says are affected
(`affected_tasks` / desiredCount, clamped to [0.1, 1.0]); 0.5 when the evidence does not
say. The score of a critical, certain, whole-service outage is therefore 99, of a low
observation about a tenth of a service about 1. Ties break on severity, then diagnosis id,
then resource, so the same bundle always gives the same order. docs/ranking.md says why.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from checker.model import Diagnosis, Remediation, short_name
from checker.playbook import Candidate

UNKNOWN_IMPACT = 0.5
MIN_IMPACT = 0.1


def impact(cand: Candidate, desired: Mapping[str, int]) -> float:
    affected = [v for ev in cand.evidence
                if isinstance(v := ev.data.get("affected_tasks"), int) and not isinstance(v, bool)]
    want = desired.get(cand.service or cand.subject, 0)
    if not affected or want <= 0:
        return UNKNOWN_IMPACT
    return max(MIN_IMPACT, min(1.0, max(affected) / want))


def score(weight: float, confidence: float, impact_: float) -> float:
    return round(10.0 * weight * confidence * impact_, 2)


class _Blank(dict[str, Any]):
    """`{name}` → value; `{name|fallback}` → value or the fallback text (e.g. a
    `<previous-revision>` placeholder when there is no earlier revision to name)."""

    def __missing__(self, key: str) -> str:
        name, bar, fallback = key.partition("|")
        if bar:
            return str(self[name]) if name in self else fallback
        return "{" + key + "}"


def _text(value: Any, sep: str) -> str:
    if isinstance(value, list | tuple):
        return sep.join(str(v) for v in value)
    return str(value)


def fill(template: str, context: Mapping[str, Any], sep: str = ", ") -> str:
    """Format a playbook template; unknown placeholders stay visible rather than crash.
    Lists join with `sep`: ", " in prose, " " in shell commands (`--tasks a b`)."""
    values = _Blank({k: _text(v, sep) for k, v in context.items()})
    try:
        return string.Formatter().vformat(template, (), values)
    except (ValueError, IndexError, KeyError):
        return template


def context(cand: Candidate) -> dict[str, Any]:
    subject = cand.service or cand.subject
    name = short_name(subject)
    cluster, _, svc = name.partition("/")
    return {**cand.data, "subject": name, "service": name,
            "cluster": cluster if svc else cand.data.get("cluster", ""),
            "service_name": svc or name}


def to_diagnosis(cand: Candidate, desired: Mapping[str, int]) -> Diagnosis:
    hyp, ctx = cand.hypothesis, context(cand)
    imp = impact(cand, desired)
    return Diagnosis(
        id=hyp.diagnosis, title=hyp.title, scenario=cand.playbook.scenario,
        severity=hyp.severity, confidence=round(cand.confidence, 2),
        score=score(hyp.severity.weight, cand.confidence, imp),
        resources=(cand.service or cand.subject,),
        summary=fill(hyp.summary, ctx),
        evidence=tuple(cand.evidence), why=tuple(cand.why),
        remediation=tuple(Remediation(fill(r.step, ctx), fill(r.command, ctx, " ") if r.command
                                      else None) for r in hyp.remediation),
        references=hyp.references, impact=round(imp, 2),
    )


def rank(cands: Sequence[Candidate], desired: Mapping[str, int]) -> list[Diagnosis]:
    diags = [to_diagnosis(c, desired) for c in cands]
    diags.sort(key=lambda d: (-d.score, d.severity.order, d.id, d.resources))
    return [replace(d, rank=i) for i, d in enumerate(diags, 1)]
