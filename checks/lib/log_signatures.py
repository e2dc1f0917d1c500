"""Classify container log lines with the knowledge table checks/data/log_signatures.yaml.

Why a table: what a runtime prints when it runs out of memory, cannot reach a host or is
denied by IAM is knowledge with a source, not code (STYLE.md rule 4). Why the load-time
rules: log lines are attacker-influenced text (a request path, a header echoed into an
error), and Python's regex engine backtracks. A pattern whose every repeat is bounded and
holds no other repeat (an optional group, ``(...)?``, may hold one), searched in a line cut
to :data:`MAX_LINE` characters, costs at most the line's length times a constant; the
loader refuses any other pattern, so a new entry cannot make a scan quadratic.

The log checks read :func:`streams_by_service` (the bundle's ``log_events`` grouped per
ECS service) and :func:`matches` (the lines of a class, newest first).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from checker.facts import Facts, Item, objs
from checks.lib.knowledge import table

try:  # Python ≥ 3.11 keeps the parser here
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse

#: Longest part of a line that is searched (and the longest repeat a pattern may allow).
MAX_LINE = 4096
MAX_REPEAT = 500
#: Longest quote of a line in a finding.
QUOTE = 160
CLASSES = ("exec-format", "disk-full", "access-denied", "dependency", "app-error")
_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT",
                                                                   sre_parse.MAX_REPEAT)}


@dataclass(frozen=True, slots=True)
class Signature:
    id: str
    cls: str
    kind: str
    pattern: re.Pattern[str]
    source: str


@dataclass(frozen=True, slots=True)
class Match:
    """One classified line: which signature, the line (shortened), its time, where."""

    signature: Signature
    line: str
    time: dt.datetime | None
    task: str
    container: str
    groups: dict[str, str]

    def quote(self) -> str:
        when = self.time.strftime("%Y-%m-%d %H:%M:%SZ") if self.time else "?"
        return f"{when} {self.container}: {self.line}"


def _walk(parsed: Any, inside_repeat: bool, where: str) -> None:
    for op, arg in parsed:
        if op in _REPEATS:
            _, high, sub = arg
            if high == sre_parse.MAXREPEAT or high > MAX_REPEAT:
                raise ValueError(f"{where}: unbounded repeat (use {{0,N}}, N ≤ {MAX_REPEAT})")
            if inside_repeat and high > 1:
                raise ValueError(f"{where}: a repeat inside a repeat can backtrack without end")
            _walk(sub, inside_repeat or high > 1, where)
        elif op in (sre_parse.SUBPATTERN,):
            _walk(arg[-1], inside_repeat, where)
        elif op is sre_parse.BRANCH:
            for alt in arg[1]:
                _walk(alt, inside_repeat, where)
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            _walk(arg[1], inside_repeat, where)


def linear(pattern: str, where: str) -> re.Pattern[str]:
    """Compile ``pattern`` if it runs in linear time by the rules above; ValueError if not."""
    _walk(sre_parse.parse(pattern), False, where)
    return re.compile(pattern)


@cache
def signatures() -> tuple[Signature, ...]:
    """The table, compiled and checked once."""
    data = table("log_signatures")
    out: list[Signature] = []
    for i, row in enumerate(data["signatures"]):
        where = f"checks/data/log_signatures.yaml: signatures[{i}] ({row.get('id')})"
        if row.get("class") not in CLASSES or not row.get("source"):
            raise ValueError(f"{where}: needs a class of {CLASSES} and a source")
        out.append(Signature(str(row["id"]), str(row["class"]), str(row["kind"]),
                             linear(str(row["pattern"]), where), str(row["source"])))
    return tuple(out)


def classify(line: str) -> Signature | None:
    """The first signature (table order) that matches the line, or None."""
    text = line[:MAX_LINE]
    for sig in signatures():
        if sig.pattern.search(text):
            return sig
    return None


def shorten(text: str, limit: int = QUOTE) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[:limit - 1] + "…"


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    return None


def matches(streams: Iterable[Item], cls: str) -> list[Match]:
    """Every line of these streams whose first matching signature is of class ``cls``,
    newest first."""
    found: list[Match] = []
    for stream in streams:
        for event in objs(stream.get("events")):
            line = str(event.get("message") or "")
            sig = classify(line)
            if sig is None or sig.cls != cls:
                continue
            hit = sig.pattern.search(line[:MAX_LINE])
            groups = {k: v for k, v in (hit.groupdict() if hit else {}).items() if v}
            found.append(Match(sig, shorten(line), _time(event.get("timestamp")),
                               str(stream.get("taskArn") or ""),
                               str(stream.get("containerName") or "?"), groups))
    found.sort(key=lambda m: (m.time or dt.datetime.min.replace(tzinfo=dt.UTC)), reverse=True)
    return found


def streams_by_service(facts: Facts) -> dict[str, list[Item]]:
    """``log_events`` items per ECS service ARN: the item's ``serviceArn`` (the collector
    writes it), else the service of its task (tasks, then task_history)."""
    tasks = {str(t.get("taskArn")): t for t in facts.stopped_tasks_with_history()}
    tasks.update({str(t.get("taskArn")): t for t in facts.tasks})
    out: dict[str, list[Item]] = {}
    for item in facts.items("log_events"):
        arn = item.get("serviceArn")
        if not isinstance(arn, str):
            task = tasks.get(str(item.get("taskArn")))
            svc = facts.service_of_task(task) if task else None
            arn = str(svc["serviceArn"]) if svc else None
        if arn:
            out.setdefault(arn, []).append(item)
    return out


def read(streams: Iterable[Item]) -> Iterator[Item]:
    """The streams whose lines were read (an ``unavailable`` one has none)."""
    return (s for s in streams if "unavailable" not in s)
