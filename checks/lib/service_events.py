"""Service events and API failure reasons, parsed into structured reasons.

Why: the service event stream is where ECS says *why* a service is short of tasks ("no
container instance met all of its requirements. The closest matching (container-instance
…) has insufficient memory available"). Playbooks need that reason as data to tell
insufficient-cluster-capacity from eni-exhaustion, host-port-conflict,
placement-constraint-unsatisfiable or agent-disconnected. The patterns are data
(checks/data/event_patterns.yaml, with sources); a message nothing matches is kept
verbatim with kind "unknown", never dropped. The checks reading them are in
checks/service/events.py; the parser is a library of its own because the event corpus
(tests/test_corpus_events.py) tests it against real ECS wording.

Recency: ECS shows the 100 newest events and omits a duplicate message until the cause is
resolved or six hours pass (service-event-messages.html), so a failure that is still going
on may be hours old. An event is *current* when it is at most an hour old, or at most six
hours old with no "has reached a steady state" after it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from checker.facts import Item, objs, parse_time
from checks.lib.knowledge import table

RECENT_S = 3600.0
DEDUP_S = 6 * 3600.0
UNKNOWN = "unknown"
UNSPECIFIED = "unspecified"

_PREFIX = re.compile(
    r"^\W*(?:(?:EC2|Fargate)(?: with taskSet)?:\s*)?\(?service \(?(?P<service>[^\s(),]+)\)?"
    r"(?:,\s*taskSet [^)\s]+\))?", re.IGNORECASE)
_FIELDS: dict[str, re.Pattern[str]] = {
    "instance": re.compile(r"\binstance \(?(i-[0-9a-f]{8,17})\b"),
    "container_instance": re.compile(
        r"container[- ]instance \(?([0-9a-f]{8}[0-9a-f-]*|i-[0-9a-f]{8,17})", re.IGNORECASE),
    "deployment": re.compile(r"\b(ecs-svc/\d+)"),
    "target_group": re.compile(r"\b(?:target-group|elb) \(?([^\s()]+)", re.IGNORECASE),
    "port": re.compile(r"\(port (\d+)\)"),
    "detail": re.compile(r'due to \(?(?:reason )?(.+?)\)?\.?\s*$|encountered error "([^"]+)',
                         re.IGNORECASE),
}
_TASK = re.compile(r"\btask ([0-9a-f][0-9a-f-]{7,})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    problem: bool
    title: str
    diagnosis: str | None
    reasons: tuple[tuple[str, re.Pattern[str], str, str | None], ...]


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """One parsed message: `kind` (a key of event_patterns.yaml), the `reason` where the
    message says why, and the values it names (tasks, instances, counts) in `fields`."""

    kind: str
    reason: str | None
    message: str
    created_at: dt.datetime | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def problem(self) -> bool:
        return kinds()[self.kind].problem

    @property
    def diagnosis(self) -> str | None:
        spec = kinds()[self.kind]
        for reason, _, _, diagnosis in spec.reasons:
            if reason == self.reason and diagnosis:
                return diagnosis
        return spec.diagnosis

    @property
    def title(self) -> str:
        """`the scheduler could not place a task …: no instance has enough memory left`."""
        spec = kinds()[self.kind]
        for reason, _, title, _ in spec.reasons:
            if reason == self.reason:
                return f"{spec.title}: {title}"
        return spec.title

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "reason": self.reason,
                               "diagnosis": self.diagnosis, "message": self.message}
        if self.created_at is not None:
            out["created_at"] = self.created_at.isoformat()
        out.update(self.fields)
        return out


@cache
def kinds() -> dict[str, Kind]:
    out: dict[str, Kind] = {}
    for name, spec in table("event_patterns")["kinds"].items():
        reasons = tuple(
            (str(r["reason"]), re.compile(r["match"], re.IGNORECASE), str(r["title"]),
             r.get("diagnosis")) for r in spec.get("reasons", []) or [])
        out[name] = Kind(name, bool(spec["problem"]), str(spec["title"]),
                         spec.get("diagnosis"), reasons)
    return out


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((str(p["kind"]), re.compile(p["match"], re.IGNORECASE))
                 for p in table("event_patterns")["patterns"])


def _fields(message: str, service: str | None, match: re.Match[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if service:
        out["service_name"] = service
    tasks = _TASK.findall(message)
    if tasks:
        out["tasks"] = tasks
    for name, pattern in _FIELDS.items():
        m = pattern.search(message)
        if m:
            out[name] = next(g for g in m.groups() if g)
    for name, value in (match.groupdict() if match else {}).items():
        if value and value.isdigit():
            out[name] = int(value)
        elif value and name != "count":  # "could not launch number tasks" (doc placeholder)
            out[name] = value
    if isinstance(out.get("port"), str) and out["port"].isdigit():
        out["port"] = int(out["port"])
    return out


def parse(message: Any, created_at: Any = None) -> ServiceEvent:
    """Classify one service event message or API failure reason (never raises)."""
    text = message if isinstance(message, str) else ("" if message is None else str(message))
    try:
        when = parse_time(created_at)
    except (ValueError, OverflowError, OSError):  # epoch numbers out of range
        when = None
    prefix = _PREFIX.match(text)
    body = text[prefix.end():] if prefix else text
    service = prefix.group("service") if prefix else None
    for kind, pattern in _patterns():
        m = pattern.search(body)
        if m is None:
            continue
        spec = kinds()[kind]
        reason = next((name for name, rx, _, _ in spec.reasons if rx.search(body)),
                      UNSPECIFIED if spec.reasons else None)
        return ServiceEvent(kind, reason, text, when, _fields(text, service, m))
    return ServiceEvent(UNKNOWN, None, text, when, _fields(text, service, None))


def events_of(service: Item) -> list[ServiceEvent]:
    """The service's events, parsed, newest first (undated ones last, in API order)."""
    parsed = [parse(e.get("message"), e.get("createdAt")) for e in objs(service.get("events"))]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(parsed, key=lambda e: e.created_at or epoch, reverse=True)


def current(events: Iterable[ServiceEvent], now: dt.datetime,
            wanted: frozenset[str]) -> list[ServiceEvent]:
    """Events of the `wanted` kinds that still describe the present (module docstring)."""
    events = list(events)
    steady = [e.created_at for e in events if e.kind == "steady-state" and e.created_at]
    last_steady = max(steady) if steady else None
    out: list[ServiceEvent] = []
    for e in events:
        if e.kind not in wanted:
            continue
        if e.created_at is None:
            if last_steady is None:
                out.append(e)
            continue
        age = (now - e.created_at).total_seconds()
        unresolved = last_steady is None or e.created_at > last_steady
        if age <= RECENT_S or (age <= DEDUP_S and unresolved):
            out.append(e)
    return out

