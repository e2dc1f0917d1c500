"""What the terminal and Markdown renderers show of the past, shared without rich.

A report's timeline can hold a day of changes; a diagnosis shows only the few moments
around its own onset (the change that triggered it always among them), so a reader sees
"what happened just before this began" without scrolling through the night. The JSON
report keeps the whole (bounded) timeline.
"""

from __future__ import annotations

import datetime as dt

from checker.model import RESOLVED, Diagnosis, Report, TimelineEntry, Trigger, short_name

#: Rows of timeline shown under a diagnosis.
SHOWN = 8
#: How far before and after the onset those rows may be.
BEFORE = dt.timedelta(minutes=30)
AFTER = dt.timedelta(minutes=15)


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def hhmm(value: str | None) -> str:
    """`09:13` (UTC) of an ISO time, the value itself when it does not parse."""
    moment = _time(value)
    return f"{moment.astimezone(dt.UTC):%H:%M}" if moment else str(value or "?")


def about(d: Diagnosis, entry: TimelineEntry) -> bool:
    """An entry about the diagnosis: a change anywhere (what changed just before is the
    question, and a route or a rule is not one of its resources), or a record about one
    of its resources: its deployments, its events, the stopped tasks of its services
    (they name the service first: `prod/web task …`)."""
    if entry.kind == "change" or entry.resource in d.resources:
        return True
    names = [short_name(r) for r in d.resources if ":service/" in r]
    return any(entry.summary.startswith(f"{name} ") for name in names)


def around(report: Report, d: Diagnosis) -> list[TimelineEntry]:
    """The SHOWN entries about the diagnosis closest to its onset within BEFORE/AFTER,
    the trigger's own entry included, ascending; none without an onset."""
    onset = _time(d.onset)
    if onset is None:
        return []
    dated = [(t, e) for e in report.timeline if (t := _time(e.time)) is not None
             and onset - BEFORE <= t <= onset + AFTER and about(d, e)]
    dated.sort(key=lambda p: (abs((p[0] - onset).total_seconds()), p[1].time, p[1].kind,
                              p[1].resource))
    keep = [e for _, e in dated[:SHOWN]]
    trig = d.trigger
    if trig is not None and not any(_is(e, trig) for e in keep):
        keep += [e for _, e in dated if _is(e, trig)][:1]
    return sorted(keep, key=lambda e: (e.time, e.kind, e.resource))


def _is(entry: TimelineEntry, trig: Trigger) -> bool:
    return entry.time == trig.time and entry.resource == trig.resource


def trigger_line(trig: Trigger) -> str:
    """`DeleteRoute on rtb-… by user/ops-admin at 09:10 (cloudtrail)`."""
    return (f"{trig.event} on {short_name(trig.resource)} by {trig.actor} at "
            f"{hhmm(trig.time)} UTC ({trig.source})")


def is_resolved(d: Diagnosis) -> bool:
    return d.status == RESOLVED
