"""Report wording shared by the terminal and Markdown renderers, without rich.

Kept apart from table.py so that Markdown (and the Lambda audit, which renders Markdown)
never imports rich just to word "no diagnoses" or count unexplained findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checker.model import Evidence, Finding, Report, Severity, Status, short_name
from checker.sanitize import one_line

COULD_NOT_CHECK = "could not check"
WARNINGS_TITLE = "Bundle warnings"
WARNINGS_WHY = "items not in their AWS shape; no check read these values"


def collection_errors(report: Report) -> list[Mapping[str, Any]]:
    """Collections that failed: their checks are `unknown`."""
    return report.failed_collections


#: Failed collections named one per line at the top of a human-facing report.
UNREAD_SHOWN = 6
#: Longest "why" quoted from an AWS error message on those lines.
UNREAD_WHY = 160


def could_not_read(report: Report) -> tuple[str, list[str]]:
    """The report's first words when collections failed: a title and one line per failed
    collection (`services (ecs:DescribeServices): AccessDeniedException: …`), so nobody
    reads a quiet report built on data that was never read as healthy. Empty when every
    collection was read."""
    failed: dict[str, list[Mapping[str, Any]]] = {}
    for entry in collection_errors(report):
        failed.setdefault(str(entry.get("collection") or "?"), []).append(entry)
    if not failed:
        return "", []
    title = f"Could not read {len(failed)} collection(s): their checks are unknown, not passed"
    lines = []
    for name, entries in list(failed.items())[:UNREAD_SHOWN]:
        first = entries[0]
        why = " ".join(str(first.get("message") or "").split())
        if len(why) > UNREAD_WHY:
            why = why[:UNREAD_WHY - 1] + "…"
        more = f" (+{len(entries) - 1} more)" if len(entries) > 1 else ""
        lines.append(one_line(f"{name} ({first.get('operation') or '?'}): "
                              f"{first.get('code') or 'error'}{': ' + why if why else ''}"
                              f"{more}"))
    if len(failed) > UNREAD_SHOWN:
        lines.append(f"… and {len(failed) - UNREAD_SHOWN} more; see the collection errors "
                     "below")
    return title, lines


def bundle_warnings(report: Report) -> list[Mapping[str, Any]]:
    """Warnings about the bundle's items; every renderer shows them, labelled as warnings,
    so a typo never reads as a clean pass."""
    return report.warnings


def warning_line(entry: Mapping[str, Any]) -> str:
    """One warning on one line: `warning UnknownKey: task_definitions[0] (web:3): …`."""
    return f"warning {entry.get('code') or ''}: {entry.get('message') or ''}"


def no_diagnoses_line(report: Report) -> str:
    """Say what "nothing found" rests on: a quiet report with many unknowns is not healthy."""
    counts = report.status_counts()
    return (f"No diagnoses: {counts[Status.PASS.value]} checks passed, "
            f"{counts[Status.UNKNOWN.value]} could not run")


#: How many unexplained failing findings the default (non-verbose) output lists.
UNEXPLAINED_SHOWN = 8


def unexplained(report: Report) -> list[Finding]:
    """Failing findings no diagnosis cites, most severe first: risks worth seeing even when
    no incident explains them (a container without a memory limit, say)."""
    cited = cited_by(report)
    found = [f for f in report.findings
             if f.status is Status.FAIL and (f.check, f.resource) not in cited]
    return sorted(found, key=lambda f: (f.severity.order, f.check, f.resource))


def unexplained_shown(report: Report) -> tuple[list[Finding], str | None]:
    """The unexplained findings the default output lists, and a line saying how many are left
    out (None when none is), so "no diagnoses" is never read as "clean"."""
    found = unexplained(report)
    left_out = len(found) - UNEXPLAINED_SHOWN
    more = (f"{left_out} more failing finding(s) not part of any diagnosis; --verbose lists them"
            if left_out > 0 else None)
    return found[:UNEXPLAINED_SHOWN], more


def evidence_message(ev: Evidence) -> str:
    """Missing evidence must read as missing, never as a quiet pass."""
    if ev.role == "missing" and not ev.message.lower().startswith(COULD_NOT_CHECK):
        return f"{COULD_NOT_CHECK}: {ev.message}"
    return ev.message


def cited_by(report: Report) -> dict[tuple[str, str], str]:
    """(check, resource) → "#1, #3": which diagnoses use a finding as evidence.

    Verbose output marks failing findings that no diagnosis explains, so a reader sees
    what the playbooks did not account for.
    """
    ranks: dict[tuple[str, str], dict[str, None]] = {}
    for d in report.diagnoses:
        for ev in d.evidence:
            ranks.setdefault((ev.check, ev.resource), {})[f"#{d.rank}"] = None
    return {key: ", ".join(value) for key, value in ranks.items()}


# -- grouping: one line per fact, not one per resource that states it ---------------------------

#: What varies between rows stating the same fact: the service a check ran for, AWS ids,
#: ARNs, task ids and Availability Zones. Masked, two messages that differ only there
#: state the same fact (a NAT gateway dropping connections, told once per service).
_VARYING = re.compile(
    r"(?<![\w-])service (\S+?)(?=[:\s]|$)"                      # "service prod/web: …"
    r"|(arn:aws[\w-]*:[^\s,;()]+)"                                # any ARN
    r"|(?<![\w-])([a-z]{1,6}-[0-9a-f]{8,17})(?![\w-])"            # subnet-…, i-…, nat-…
    r"|(?<![\w-])([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{32})(?![\w-])"  # task
    r"|(?<![\w-])([a-z]{2}(?:-[a-z]+)+-\d[a-z])(?![\w-])")        # us-east-1a


def _fact(message: str) -> tuple[str, list[str]]:
    """The message with its varying parts masked, and those parts in order."""
    parts: list[str] = []

    def mask(match: re.Match[str]) -> str:
        value = next(g for g in match.groups() if g is not None)
        parts.append(value)
        return match.group(0).replace(value, "\x00")

    return _VARYING.sub(mask, message), parts


@dataclass(frozen=True, slots=True)
class EvidenceGroup:
    """Evidence rows of one check stating the same fact; `first` is shown, `names` are the
    resources (and, when they share one resource, the services) the fact is stated for."""

    first: Evidence
    count: int
    names: tuple[str, ...]


def group_evidence(evidence: Iterable[Evidence]) -> list[EvidenceGroup]:
    """Rows of the same check, status and role whose messages differ only in service names,
    ids and zones, as one group each, in the order their first row came."""
    groups: dict[tuple[str, str, bool, str], list[tuple[Evidence, list[str]]]] = {}
    for ev in evidence:
        masked, parts = _fact(evidence_message(ev))
        key = (ev.check, ev.status.value, ev.role == "missing", masked)
        groups.setdefault(key, []).append((ev, parts))
    out = []
    for rows in groups.values():
        names = list(dict.fromkeys(short_name(ev.resource) for ev, _ in rows))
        if len(names) == 1 and len(rows) > 1:  # one resource: say what else differed first
            slots = zip(*(parts for _, parts in rows), strict=False)
            varying = next((slot for slot in slots if len(set(slot)) > 1), ())
            names += [n for n in dict.fromkeys(short_name(v) for v in varying) if n not in names]
        out.append(EvidenceGroup(rows[0][0], len(rows), tuple(names)))
    return out


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """Findings of one check and status: how many, for which resources, and the first one's
    message as the reason (most say the same thing of different resources)."""

    check: str
    severity: Severity
    count: int
    names: tuple[str, ...]
    message: str


def group_findings(findings: Iterable[Finding]) -> list[FindingGroup]:
    """One group per check, in the order the checks first appear."""
    by_check: dict[str, list[Finding]] = {}
    for f in findings:
        by_check.setdefault(f.check, []).append(f)
    return [FindingGroup(check, fs[0].severity, len(fs),
                         tuple(dict.fromkeys(short_name(f.resource) for f in fs)), fs[0].message)
            for check, fs in by_check.items()]


def first_names(names: Sequence[str], shown: int = 3) -> str:
    """`a, b, c, +4 more`: the first few names of a group."""
    more = f", +{len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
