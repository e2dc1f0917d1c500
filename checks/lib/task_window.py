"""The window the stopped-task checks see: the API's last hour, or the task history.

ECS forgets a stopped task about an hour after it stops, so without history these checks
say "~last hour" (AWS-FACTS.md §5). With `task_history` (issue 11) they count the tasks
the log group kept too, over as many hours as it reaches back: the wording says how far,
and the findings say when the first and last of their stops happened (`first_at`,
`last_at`, ISO times) so the report can date the diagnosis they support. Without history
nothing here changes a message or a finding.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from checker.facts import Facts, Item, parse_time
from checks.lib.labels import human_duration

T = TypeVar("T")
#: How many task ids (and uptimes) a finding lists when history makes the count large (the newest):
#: `describe-tasks` takes at most 100, and a night of crash loops is thousands.
TASKS_LISTED = 100


class Window(NamedTuple):
    """How far back the stopped tasks reach: `paren` for "(…)" in a message, `within` for
    "OOM-killed …", and the collection time the ages count from."""

    paren: str = "~last hour"
    within: str = "in ~the last hour"
    history: bool = False
    now: dt.datetime | None = None


HOUR = Window()


def stopped_at(task: Item) -> dt.datetime | None:
    try:
        return parse_time(task.get("stoppedAt") or task.get("stoppingAt"))
    except (ValueError, OverflowError, OSError):
        return None


def window(facts: Facts, stops: list[Item]) -> Window:
    """HOUR when the stopped tasks are the API's alone; else the hours they cover."""
    if not facts.has("tasks") or len(stops) == len(facts.stopped_tasks()):
        return HOUR
    now = facts.collected_at
    times = [t for task in stops if (t := stopped_at(task)) is not None and t <= now]
    hours = max(1, math.ceil((now - min(times)).total_seconds() / 3600)) if times else 1
    return Window(f"last {hours}h, with task history", f"in the last {hours}h", True, now)


def clock(moment: dt.datetime, now: dt.datetime) -> str:
    """`01:12` on the day of `now` (UTC), `Nov 19 23:40` on another day."""
    moment, now = moment.astimezone(dt.UTC), now.astimezone(dt.UTC)
    return f"{moment:%H:%M}" if moment.date() == now.date() else f"{moment:%b %d %H:%M}"


def _times(tasks: Iterable[Item]) -> list[dt.datetime]:
    return sorted(t for task in tasks if (t := stopped_at(task)) is not None)


def first_text(win: Window, tasks: Iterable[Item]) -> str:
    """`; first 01:12 UTC, 8h48m ago` with history, "" without (messages unchanged)."""
    times = _times(tasks)
    if not win.history or not times or win.now is None:
        return ""
    age = human_duration(max((win.now - times[0]).total_seconds(), 0.0))
    return f"; first {clock(times[0], win.now)} UTC, {age} ago"


def past_data(win: Window, tasks: list[Item]) -> dict[str, Any]:
    """`first_at`, `last_at` and `window` with history; nothing without."""
    times = _times(tasks)
    if not win.history or not times:
        return {}
    return {"first_at": times[0].isoformat(), "last_at": times[-1].isoformat(),
            "window": win.within}


def newest(win: Window, rows: list[T], task_of: Callable[[T], Item]) -> list[T]:
    """The rows a finding lists (task ids, uptimes): all of them without history, the
    TASKS_LISTED whose tasks stopped last with it, so a night of crash loops does not put
    thousands of values in a report."""
    if not win.history or len(rows) <= TASKS_LISTED:
        return rows
    earliest = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(rows, key=lambda r: stopped_at(task_of(r)) or earliest)[-TASKS_LISTED:]
