"""Turn confirmed candidates into ranked diagnoses.

    score = 10 × weight(severity) × confidence × impact

weight: critical 10, high 7, medium 4, low 2, info 1 (checker.model.Severity.weight).
confidence: from the playbook walk, in (0, 0.99] (capped when evidence was unknown).
impact: summed over the services the diagnosis covers, each service's share of its desired
tasks the evidence says are affected (`affected_tasks` / desiredCount, clamped to
[0.25, 1.0]; 0.5 when the evidence does not say), times 0.2 for risks (diagnoses of kind
`risk` in the catalog: hardening gaps that break nothing right now). A cause behind three
services therefore weighs up to three times one behind a single service. A diagnosis that
`explains` others on the same services is ranked just above the highest of them. Ties
break on severity, then diagnosis id, then resource, so the same bundle always gives the
same order.
docs/ranking.md says why.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from checker.model import Diagnosis, Remediation, short_name
from checker.playbook import catalog
from checker.walk import Candidate

UNKNOWN_IMPACT = 0.5
MIN_IMPACT = 0.25
#: Risks (hardening gaps that break nothing now: single AZ, no logs, plaintext secrets,
#: stale agents, no endpoints) weigh this much of an incident of the same severity, so a
#: cluster's standing hygiene never buries what is failing right now.
RISK_FACTOR = 0.2
#: How far above the highest diagnosis it explains a cause is placed.
EXPLAINS_MARGIN = 0.01


def service_share(affected: int | None, desired: int) -> float:
    """None: the evidence does not say how many tasks; 0: it says none (yet)."""
    if affected is None or desired <= 0:
        return UNKNOWN_IMPACT
    return max(MIN_IMPACT, min(1.0, affected / desired))


def impact(cand: Candidate, desired: Mapping[str, int]) -> float:
    factor = RISK_FACTOR if is_risk(cand.diagnosis) else 1.0
    if not cand.services:
        return UNKNOWN_IMPACT * factor
    return factor * sum(service_share(cand.affected.get(s), desired.get(s, 0))
                        for s in cand.services)


def is_risk(diagnosis: str) -> bool:
    entry = catalog().get(diagnosis)
    return entry is not None and entry.kind == "risk"


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
    values = _Blank({k: _text(v, sep) for k, v in context.items() if v is not None})
    try:
        return string.Formatter().vformat(template, (), values)
    except (ValueError, IndexError, KeyError):
        return template


def context(cand: Candidate) -> dict[str, Any]:
    names = [short_name(s) for s in cand.services] or [short_name(cand.subject)]
    cluster, _, svc = names[0].partition("/")
    return {**cand.data, "subject": short_name(cand.subject), "service": ", ".join(names),
            "services": names, "service_count": len(names),
            "cluster": cluster if svc else cand.data.get("cluster", ""),
            "service_name": svc or names[0]}


def to_diagnosis(cand: Candidate, desired: Mapping[str, int]) -> Diagnosis:
    hyp, ctx = cand.hypothesis, context(cand)
    imp = impact(cand, desired)
    resources = tuple(cand.services) or (cand.subject,)
    if cand.services and cand.subject not in cand.services:
        resources = (*cand.services, cand.subject)  # the shared cause, e.g. a NAT gateway
    return Diagnosis(
        id=hyp.diagnosis, title=hyp.title, scenario=cand.playbook.scenario,
        severity=hyp.severity, confidence=round(cand.confidence, 2),
        score=score(hyp.severity.weight, cand.confidence, imp),
        resources=resources, summary=fill(hyp.summary, ctx),
        evidence=tuple(cand.evidence), why=tuple(cand.why),
        remediation=tuple(Remediation(fill(r.step, ctx), fill(r.command, ctx, " ") if r.command
                                      else None) for r in hyp.remediation),
        references=hyp.references, impact=round(imp, 2),
        explains=tuple(cand.explains), explained_by=tuple(cand.explained_by),
    )


def _lift_causes(cands: Sequence[Candidate], diags: list[Diagnosis]) -> list[Diagnosis]:
    """Place each cause just above the highest diagnosis it explains (repeat for chains)."""
    index = {id(c): i for i, c in enumerate(cands)}
    for _ in range(len(diags)):
        changed = False
        for cause in cands:
            if not cause.explains:
                continue
            me = index[id(cause)]
            explained = [diags[index[id(o)]].score for o in cands
                         if cause.diagnosis in o.explained_by
                         and set(o.services) & set(cause.services)]
            target = round(max(explained, default=0.0) + EXPLAINS_MARGIN, 2)
            if diags[me].score < target:
                diags[me] = replace(diags[me], score=target)
                changed = True
        if not changed:
            break
    return diags


def rank(cands: Sequence[Candidate], desired: Mapping[str, int]) -> list[Diagnosis]:
    diags = _lift_causes(cands, [to_diagnosis(c, desired) for c in cands])
    diags.sort(key=lambda d: (-d.score, d.severity.order, d.id, d.resources))
    return [replace(d, rank=i) for i, d in enumerate(diags, 1)]
