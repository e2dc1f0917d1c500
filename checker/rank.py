"""Turn confirmed candidates into ranked diagnoses.

    score = 10 × weight(severity) × confidence × impact

Every number here is a field of a `checker.ranking.Weights` table passed to `rank`
(DEFAULT unless a caller injects another); the values below are DEFAULT's.
weight: critical 10, high 7, medium 4, low 2, info 1.
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

from checker.command_context import known
from checker.facts import Facts
from checker.model import Diagnosis, Remediation, Severity, short_name
from checker.playbook import catalog
from checker.ranking import DEFAULT, Weights
from checker.walk import Candidate


def service_share(affected: int | None, desired: int, weights: Weights = DEFAULT) -> float:
    """None: the evidence does not say how many tasks; 0: it says none (yet)."""
    if affected is None or desired <= 0:
        return weights.unknown_impact
    return max(weights.min_impact, min(weights.max_impact, affected / desired))


def impact(cand: Candidate, desired: Mapping[str, int], weights: Weights = DEFAULT) -> float:
    """Summed over services so that one cause behind three services outweighs three
    separate ones; risks are scaled down so standing hygiene never buries an outage."""
    factor = weights.risk_factor if is_risk(cand.diagnosis) else 1.0
    if not cand.services:
        return weights.unknown_impact * factor
    return factor * sum(service_share(cand.affected.get(s), desired.get(s, 0), weights)
                        for s in cand.services)


def is_risk(diagnosis: str) -> bool:
    entry = catalog().get(diagnosis)
    return entry is not None and entry.kind == "risk"


def score(weight: float, confidence: float, impact_: float,
          weights: Weights = DEFAULT) -> float:
    """A product, so that each factor can veto (docs/ranking.md, "Why a product")."""
    return round(weights.score_scale * weight * confidence * impact_, weights.digits)


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


def context(cand: Candidate, facts: Facts | None = None) -> dict[str, Any]:
    """The evidence's data, what the walk knows, and (with `facts`) what the commands need
    from the bundle (checker.command_context); the evidence wins over the bundle."""
    names = [short_name(s) for s in cand.services] or [short_name(cand.subject)]
    cluster, _, svc = names[0].partition("/")
    bundle = known(cand.data, cand.services[0] if cand.services else None, facts)
    return {**bundle, **cand.data, "subject": short_name(cand.subject),
            "service": ", ".join(names),
            "services": names, "service_count": len(names),
            "cluster": cluster if svc else cand.data.get("cluster", ""),
            "service_name": svc or names[0]}


def to_diagnosis(cand: Candidate, desired: Mapping[str, int],
                 weights: Weights = DEFAULT, facts: Facts | None = None) -> Diagnosis:
    hyp, ctx = cand.hypothesis, context(cand, facts)
    imp = impact(cand, desired, weights)
    resources = tuple(cand.services) or (cand.subject,)
    if cand.services and cand.subject not in cand.services:
        resources = (*cand.services, cand.subject)  # the shared cause, e.g. a NAT gateway
    return Diagnosis(
        id=hyp.diagnosis, title=hyp.title, scenario=cand.playbook.scenario,
        severity=hyp.severity, confidence=round(cand.confidence, weights.digits),
        score=score(weights.severity(hyp.severity), cand.confidence, imp, weights),
        resources=resources, summary=fill(hyp.summary, ctx),
        evidence=tuple(cand.evidence), why=tuple(cand.why),
        remediation=tuple(Remediation(fill(r.step, ctx), fill(r.command, ctx, " ") if r.command
                                      else None) for r in hyp.remediation),
        references=hyp.references, impact=round(imp, weights.digits),
        explains=tuple(cand.explains), explained_by=tuple(cand.explained_by),
    )


def _lift_causes(cands: Sequence[Candidate], diags: list[Diagnosis],
                 weights: Weights) -> list[Diagnosis]:
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
            target = round(max(explained, default=0.0) + weights.explains_margin,
                           weights.digits)
            if diags[me].score < target:
                diags[me] = replace(diags[me], score=target)
                changed = True
        if not changed:
            break
    return diags


def _cap_lows(cands: Sequence[Candidate], diags: list[Diagnosis]) -> list[Diagnosis]:
    """A `low` scores at most what any `medium` of equal or higher confidence scores, so
    the tie puts the medium first: summing impact over services must not let a hygiene
    gap shared by many services outrank a worse problem as sure (docs/ranking.md,
    "Severity first at equal confidence"). Not capped: a low that explains others (it is
    their cause) and a low incident against a medium risk (risks weigh a fifth)."""
    out = list(diags)
    for i, (cand, low) in enumerate(zip(cands, diags, strict=True)):
        if low.severity is not Severity.LOW or cand.explains:
            continue
        risk = is_risk(low.id)
        above = [m.score for m in diags if m.severity is Severity.MEDIUM
                 and m.confidence >= low.confidence and (risk or not is_risk(m.id))]
        if above and min(above) < low.score:
            out[i] = replace(low, score=min(above))
    return out


def rank(cands: Sequence[Candidate], desired: Mapping[str, int],
         weights: Weights = DEFAULT, facts: Facts | None = None) -> list[Diagnosis]:
    """`weights` is a parameter, not a global, so a variant table (the sensitivity test)
    cannot leak into other callers. `facts` fills the commands' values from the bundle
    (the service's network configuration, the data window's times)."""
    diags = _lift_causes(cands, [to_diagnosis(c, desired, weights, facts) for c in cands],
                         weights)
    diags = _cap_lows(cands, diags)
    diags.sort(key=lambda d: (-d.score, d.severity.order, d.id, d.resources))
    return [replace(d, rank=i) for i, d in enumerate(diags, 1)]
