"""Many targets' reports → one fleet report (report v1, extended only by added fields).

Each diagnosis, finding and error entry gets ``account`` and ``region``. The ranking spans
the fleet: the per-target lists are merged on the order the ranking itself uses (active
before resolved, then score, severity, id), each target's own order kept as it was (a cause
ranked just above what it explains stays there), and ranks are numbered again from 1. The
report's ``account``/``region`` are set only when every target shares one; its ``scope``
adds ``accounts``, ``regions`` and ``targets`` (what happened to each target).
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from checker.fleet.run import Outcome
from checker.model import RESOLVED, CheckInfo, Diagnosis, Report, TimelineEntry

#: A target's ``status`` in the fleet report's scope.
SCANNED, FAILED, NO_CLUSTERS = "scanned", "failed", "no-clusters"


def merge(outcomes: Sequence[tuple[Outcome, Report | None]], generated_at: str) -> Report:
    """The fleet's report; ``outcomes`` in target order, each with its own report (None for
    a target that failed or had no cluster)."""
    reports = [(o, r) for o, r in outcomes if r is not None]
    diagnoses = _ranked([[_placed(d, o) for d in r.diagnoses] for o, r in reports])
    findings = sorted((dataclasses.replace(f, account=o.account, region=o.target.region)
                       for o, r in reports for f in r.findings),
                      key=lambda f: (*f.sort_key(), f.account or "", f.region or ""))
    errors = [*(o.error for o, _ in outcomes if o.error is not None),
              *({**e, "account": o.account, "region": o.target.region}
                for o, r in reports for e in r.errors)]
    accounts = sorted({a for o, _ in outcomes if (a := o.account) is not None})
    regions = sorted({o.target.region for o, _ in outcomes})
    return Report(
        generated_at=generated_at,
        account=accounts[0] if len(accounts) == 1 else None,
        region=regions[0] if len(regions) == 1 else None,
        scope=scope(outcomes, accounts, regions),
        diagnoses=diagnoses,
        findings=tuple(findings),
        errors=tuple(errors),
        checks=_checks(r for _, r in reports),
        timeline=tuple(sorted((t for _, r in reports for t in r.timeline),
                              key=_timeline_key)),
    )


def _placed(d: Diagnosis, outcome: Outcome) -> Diagnosis:
    return dataclasses.replace(d, account=outcome.account, region=outcome.target.region)


def _order(d: Diagnosis) -> tuple[bool, float, int, str, str, str]:
    return (d.status == RESOLVED, -d.score, d.severity.order, d.id, d.account or "",
            d.region or "")


def _ranked(per_target: Iterable[list[Diagnosis]]) -> tuple[Diagnosis, ...]:
    """heapq.merge takes the best head each time, so each target's own order survives even
    where it is not sorted by score (an explaining cause placed above its effects)."""
    merged = heapq.merge(*per_target, key=_order)
    return tuple(dataclasses.replace(d, rank=i) for i, d in enumerate(merged, start=1))


def _timeline_key(t: TimelineEntry) -> tuple[str, str, str, str]:
    return (t.time, t.kind, t.resource, t.summary)


def _checks(reports: Iterable[Report]) -> tuple[CheckInfo, ...]:
    """The checks that ran anywhere, once each, by id."""
    seen: dict[str, CheckInfo] = {}
    for report in reports:
        for info in report.checks:
            seen.setdefault(info.id, info)
    return tuple(seen[k] for k in sorted(seen))


def scope(outcomes: Sequence[tuple[Outcome, Report | None]], accounts: list[str],
          regions: list[str]) -> dict[str, Any]:
    clusters = sorted({c for o, _ in outcomes for c in o.clusters})
    return {"clusters": clusters, "accounts": accounts, "regions": regions,
            "targets": [target_entry(o) for o, _ in outcomes]}


def target_entry(outcome: Outcome) -> dict[str, Any]:
    status = FAILED if outcome.error else SCANNED if outcome.bundle else NO_CLUSTERS
    entry: dict[str, Any] = {"account": outcome.account, "region": outcome.target.region,
                             "status": status}
    if outcome.clusters:
        entry["clusters"] = list(outcome.clusters)
    return entry


def summary_counts(report: Report) -> Mapping[str, int]:
    """Targets per status, for a one-line summary (CLI) or an SNS subject."""
    counts = {SCANNED: 0, FAILED: 0, NO_CLUSTERS: 0}
    for t in report.scope.get("targets", []):
        counts[str(t.get("status"))] = counts.get(str(t.get("status")), 0) + 1
    return counts
