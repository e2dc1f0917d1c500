"""Times and texts from AWS as the past's records and the report carry them.

Times come in the forms AWS sends (CONTRACTS.md §5): ISO-8601 with an offset, `…Z` with or
without milliseconds, and epoch milliseconds in log events. A time that parses to nothing
makes its record undated, never an exception: one odd history line must not cost the
report. Texts from AWS (stop reasons, event messages, alarm reasons) are cleaned before
they enter a summary: whitespace folded to one line, long texts cut at the middle so the
error type and its final cause both stay, and control characters (terminal escapes
included) shown escaped by the one sanitizer (checker.sanitize), as every renderer does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from checker.facts import parse_time
from checker.sanitize import escape

#: Longest summary text taken from AWS (a stop reason is at most ~255 characters).
SUMMARY_LIMIT = 160


def when(value: Any, *, epoch_ms: bool = False) -> dt.datetime | None:
    """An aware UTC datetime, or None for anything absent or malformed. `epoch_ms`: a
    number is epoch milliseconds (log events), not seconds."""
    if isinstance(value, bool):
        return None
    if epoch_ms and isinstance(value, int | float):
        value = value / 1000.0
    try:
        parsed = parse_time(value)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.astimezone(dt.UTC) if parsed is not None else None


def iso(moment: dt.datetime) -> str:
    """The report's form of a time: UTC, to the second (`2026-11-20T09:13:00+00:00`)."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def clock(moment: dt.datetime, now: dt.datetime) -> str:
    """`09:13` on the day of `now` (UTC), `Nov 19 23:40` on another day."""
    moment, now = moment.astimezone(dt.UTC), now.astimezone(dt.UTC)
    return f"{moment:%H:%M}" if moment.date() == now.date() else f"{moment:%b %d %H:%M}"


def gap(seconds: float) -> str:
    """`40 s`, `2 min`, `3h05m`: how long between two moments, the way people say it."""
    seconds = abs(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{round(rest / 60):02d}m"


def clean(value: Any, limit: int = SUMMARY_LIMIT) -> str:
    """AWS text fit for a one-line summary: one line, control characters shown escaped,
    at most `limit` characters (head … tail, cut at spaces)."""
    text = escape(" ".join((value if isinstance(value, str) else str(value or "")).split()))
    if len(text) <= limit:
        return text
    head = text[:limit * 2 // 5]
    head = head.rsplit(" ", 1)[0] if " " in head else head
    tail = text[-(limit - len(head) - 3):]
    tail = tail.split(" ", 1)[1] if " " in tail[:-1] else tail
    return f"{head} … {tail}"
