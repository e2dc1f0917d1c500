"""The report's timeline: changes, deployments, stopped tasks, service and ECS events,
alarm transitions and log lines on one time axis, ascending, and bounded.

A day of history can hold thousands of records; a report carries at most `Windows.cap`
of them, chosen for what an engineer asks first: every change and deployment (the newest
`Windows.changes`), and around each diagnosis' onset the `Windows.per_onset` records
closest to it within `Windows.near_s`. Without any onset (a healthy account) it keeps
the newest `Windows.recent` records. Over the cap, the records farthest from every onset
go first. Summaries are cleaned AWS text (checker.past.text.clean).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from checker.facts import Facts
from checker.model import Diagnosis, TimelineEntry
from checker.past.changes import DEPLOYMENT, changes
from checker.past.happenings import happenings
from checker.past.text import clean, iso, when
from checker.past.windows import DEFAULT, Windows

Row = tuple[dt.datetime, str, str, str]
#: Longest summary a timeline entry carries.
ENTRY_LIMIT = 240


def _rows(facts: Facts, windows: Windows) -> tuple[list[Row], list[Row]]:
    """(changes and deployments, everything else), oldest first."""
    made = [(c.time, "deployment" if c.source == DEPLOYMENT else "change",
             clean(c.resource, 200), clean(c.summary, ENTRY_LIMIT))
            for c in changes(facts, windows)]
    seen = [(h.time, h.kind, clean(h.resource, 200), clean(h.summary, ENTRY_LIMIT))
            for h in happenings(facts, windows)]
    return made, seen


def _distance(row: Row, onsets: Sequence[dt.datetime], now: dt.datetime) -> float:
    """Seconds to the nearest onset (to the collection time when there is none)."""
    return min(abs((row[0] - t).total_seconds()) for t in (onsets or [now]))


def select(made: Sequence[Row], seen: Sequence[Row], onsets: Sequence[dt.datetime],
           now: dt.datetime, windows: Windows = DEFAULT) -> list[Row]:
    """The rows a report keeps (module docstring), ascending."""
    keep: set[Row] = set(sorted(made, key=lambda r: r[0])[-windows.changes:]
                         if windows.changes else [])
    if onsets:
        for onset in onsets:
            near = [r for r in seen if abs((r[0] - onset).total_seconds()) <= windows.near_s]
            near.sort(key=lambda r: (abs((r[0] - onset).total_seconds()), r))
            keep.update(near[:windows.per_onset])
    else:
        keep.update(sorted(seen)[-windows.recent:] if windows.recent else [])
    rows = sorted(keep)
    if len(rows) > windows.cap:
        ranked = sorted(rows, key=lambda r: (_distance(r, onsets, now), r))
        rows = sorted(ranked[:windows.cap])
    return rows


def timeline(facts: Facts, diagnoses: Sequence[Diagnosis],
             windows: Windows = DEFAULT) -> tuple[TimelineEntry, ...]:
    """The bounded timeline of the bundle around the diagnoses' onsets."""
    onsets = sorted({t for d in diagnoses if (t := when(d.onset)) is not None})
    made, seen = _rows(facts, windows)
    return tuple(TimelineEntry(time=iso(t), kind=kind, resource=resource, summary=summary)
                 for t, kind, resource, summary in
                 select(made, seen, onsets, facts.collected_at, windows))
