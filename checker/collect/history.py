"""The history log group → ``task_history`` and ``ecs_events`` (CONTRACTS.md §5).

Why: ECS forgets a stopped task about an hour after it stops (AWS-FACTS.md §5), and keeps
only the last 100 events of a service. deploy/history.yaml (also part of the audit template)
routes ECS's own EventBridge events into a CloudWatch Logs group, one event JSON a line, so a
scan at 9 a.m. still sees the OOM kills of 3 a.m. This module reads that group back:

- ``ECS Task State Change`` → its ``detail`` (the DescribeTasks task shape) into
  ``task_history``, one item per ``taskArn``: the highest ``version`` (a task may be
  recorded RUNNING, then STOPPED);
- every other ``aws.ecs`` event (Deployment State Change, Service Action, Container
  Instance State Change) → the whole event into ``ecs_events``;
- only the scanned clusters (and, with ``--service``, the named services' tasks and
  events, as the ECS collector keeps only their tasks);
- every item redacted like a task definition (checker.redact) before it is stored.

The window is ``scope.history`` ending now, read with logs:FilterLogEvents (10,000 events or
1 MB a page) in slices newest first: the last hour, then the 2 hours before it, then 4, …
back to the window's start (5 slices for 24 h). Slicing costs ⌈log2(hours + 1)⌉ calls
at least instead of 1, and buys an honest cut: when the page budget runs out, everything
newer than the slice being read is complete, and the warning says from when. Reading the
window in one pass would keep the *oldest* hours instead, and lose the fix that resolved
an incident.

Budget: at most :data:`PAGE_BUDGET` (25) FilterLogEvents calls a scan, so at most 25 MB
read and about 5 s at the archived 5 requests/s quota (AWS-FACTS.md §2e). A STOPPED task
event is 2–4 KB, so that is 6,000–12,000 events: a day of a busy cluster. When it runs
out, the collections are kept with a ``"level": "warning"`` entry (``Truncated``): a
warning, not a failure, because the newest part of the window is complete.

Failures: no log group (ResourceNotFoundException) → both collections absent and an error
entry whose message is the one command that creates the group; any other failed call
(AccessDenied, throttled past retries) → both absent and the AWS error recorded: a check
that needs history is then ``unknown``, never a pass. A line that is not JSON, or not an
``aws.ecs`` event, is skipped and counted: one warning entry per collection.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from checker.collect.aws import HISTORY_LOG_GROUP, Context, Item, iam_action, pages
from checker.redact import redact_nested

#: The one action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({"logs:FilterLogEvents"})

TASK_HISTORY = "task_history"
ECS_EVENTS = "ecs_events"
COLLECTIONS = (TASK_HISTORY, ECS_EVENTS)
SOURCE = "aws.ecs"
TASK_STATE_CHANGE = "ECS Task State Change"
PAGE_BUDGET = 25  # FilterLogEvents calls per scan (module docstring)
PAGE_LIMIT = 10_000  # events per FilterLogEvents page, its maximum
FIRST_SLICE = dt.timedelta(hours=1)
NO_GROUP = "ResourceNotFoundException"
TRUNCATED = "Truncated"
SKIPPED = "SkippedLines"


def setup_command(region: str, log_group: str) -> str:
    """The one command that creates the history log group (deploy/history.yaml)."""
    command = ("aws cloudformation deploy --template-file deploy/history.yaml "
               f"--stack-name ecsdoctor-history --region {region}")
    if log_group != HISTORY_LOG_GROUP:
        command += f" --parameter-overrides LogGroupName={log_group}"
    return command


def collect_history(ctx: Context) -> None:
    """Fill task_history and ecs_events over ``scope.history``; nothing when it is zero."""
    if ctx.scope.history > dt.timedelta(0):
        # on the pool, so that the scan's deadline bounds it: cut, both are timed out
        ctx.gather([(COLLECTIONS, partial(_read_history, ctx, dt.datetime.now(dt.UTC)))])


def _read_history(ctx: Context, now: dt.datetime) -> list[None]:
    read_history(ctx, now)
    return []


def slices(start: dt.datetime, end: dt.datetime,
           first: dt.timedelta = FIRST_SLICE) -> list[tuple[dt.datetime, dt.datetime]]:
    """``[start, end)`` cut newest first into slices that double in length going back."""
    out: list[tuple[dt.datetime, dt.datetime]] = []
    hi, size = end, first
    while hi > start:
        lo = max(start, hi - size)
        out.append((lo, hi))
        hi, size = lo, size * 2
    return out


def millis(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


@dataclass
class Lines:
    """What the pages held: kept items, and the lines skipped (with the first one's place)."""

    tasks: dict[str, Item] = field(default_factory=dict)
    events: dict[str, Item] = field(default_factory=dict)
    not_json: int = 0
    not_ecs: int = 0
    first_skipped: str = ""

    def skip(self, line: Item, *, json_ok: bool) -> None:
        if json_ok:
            self.not_ecs += 1
        else:
            self.not_json += 1
        if not self.first_skipped:
            when = dt.datetime.fromtimestamp(int(line.get("timestamp") or 0) // 1000, dt.UTC)
            self.first_skipped = f"stream {line.get('logStreamName', '?')} at {when.isoformat()}"


@dataclass(frozen=True)
class InScope:
    """The clusters (by name) and, when services were named, the services a scan covers."""

    clusters: frozenset[str]
    services: frozenset[str] = frozenset()
    service_arns: frozenset[str] = frozenset()

    @classmethod
    def of(cls, ctx: Context) -> InScope:
        clusters = {c.rsplit("/", 1)[-1] for c in ctx.scope.clusters}
        clusters |= {str(c.get("clusterName")) for c in ctx.resources.get("clusters", [])}
        arns = {str(s.get("serviceArn")) for s in ctx.resources.get("services", [])}
        named = {s.rsplit("/", 1)[-1] for s in ctx.scope.services}
        return cls(frozenset(clusters), frozenset(named), frozenset(arns))

    def task(self, detail: Item) -> bool:
        if cluster_name(str(detail.get("clusterArn") or "")) not in self.clusters:
            return False
        return not self.services or str(detail.get("group")) in {
            f"service:{s}" for s in self.services}

    def event(self, event: Item) -> bool:
        """By the cluster named in ``detail.clusterArn`` or any ``resources`` ARN; an old
        format service ARN (``service/<name>``, no cluster) by the scanned services' ARNs."""
        detail = event.get("detail")
        detail = detail if isinstance(detail, dict) else {}
        arns = [str(a) for a in event.get("resources") or [] if isinstance(a, str)]
        names = {cluster_name(a) for a in [str(detail.get("clusterArn") or ""), *arns]}
        if not (names & self.clusters or set(arns) & self.service_arns):
            return False
        services = [a for a in arns if ":service/" in a]
        return not self.services or not services or any(
            a.rsplit("/", 1)[-1] in self.services for a in services)


def cluster_name(arn: str) -> str | None:
    """The cluster an ECS ARN belongs to: ``cluster/<name>``, or the first path part of
    ``service/<cluster>/<name>``, ``task/<cluster>/<id>``, ``container-instance/<c>/<id>``."""
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    parts = resource.split("/")
    if parts[0] == "cluster" and len(parts) == 2:
        return parts[1]
    if parts[0] in {"service", "task", "container-instance", "task-set"} and len(parts) >= 3:
        return parts[1]
    return None


def read_history(ctx: Context, now: dt.datetime, budget: int = PAGE_BUDGET) -> None:
    """:func:`collect_history` with the clock and the page budget passed in."""
    group = ctx.scope.history_log_group
    api = ctx.client("logs")
    action = iam_action(api, "filter_log_events")
    lines, scope, remaining = Lines(), InScope.of(ctx), budget
    for lo, hi in slices(now - ctx.scope.history, now):
        if remaining <= 0:
            _record_truncated(ctx, action, budget, hi, now)
            break
        end = millis(hi) - (0 if hi == now else 1)  # FilterLogEvents includes both ends
        try:
            used, complete = read_slice(ctx, api, group, (millis(lo), end), scope, lines,
                                        remaining)
        except Exception as exc:
            _record_failure(ctx, action, group, exc)
            return
        remaining -= used
        if not complete:
            _record_truncated(ctx, action, budget, hi, now)
            break
    _store(ctx, action, group, lines)


def read_slice(ctx: Context, api: Any, group: str, window: tuple[int, int], scope: InScope,
               lines: Lines, allowed: int) -> tuple[int, bool]:
    """Page through one slice, at most ``allowed`` calls: (calls made, whether it was read
    to its end). Stopping after a page asks for nothing more: ``pages`` is lazy."""
    action = iam_action(api, "filter_log_events")
    used = 0
    for page in pages(api, "filter_log_events", logGroupName=group, startTime=window[0],
                      endTime=window[1], limit=PAGE_LIMIT):
        used += 1
        events = page.get("events", [])
        ctx.step(f"{action} {group} ({len(events)})")
        read_lines(events, scope, lines)
        if not page.get("nextToken"):
            return used, True
        if used >= allowed:
            return used, False
    return used, True


def read_lines(events: Iterable[Item], scope: InScope, lines: Lines) -> None:
    """Sort each log line into task_history or ecs_events, or count it as skipped."""
    for line in events:
        try:
            event = json.loads(str(line.get("message", "")))
        except ValueError:
            lines.skip(line, json_ok=False)
            continue
        if not isinstance(event, dict) or event.get("source") != SOURCE \
                or not isinstance(event.get("detail"), dict):
            lines.skip(line, json_ok=True)
            continue
        if event.get("detail-type") == TASK_STATE_CHANGE:
            detail = event["detail"]
            arn = detail.get("taskArn")
            if isinstance(arn, str) and scope.task(detail):
                kept = lines.tasks.get(arn)
                if kept is None or _version(detail) >= _version(kept):
                    lines.tasks[arn] = redact_nested(detail)
        elif scope.event(event):
            lines.events[f"{event.get('time', '')}\n{event.get('id', '')}"] = redact_nested(event)


def _version(detail: Item) -> tuple[int, str]:
    """Newer first by ``version``, then by ``updatedAt`` (ties: the later line wins)."""
    version = detail.get("version")
    number = version if isinstance(version, int) and not isinstance(version, bool) else -1
    return number, str(detail.get("updatedAt") or "")


def _store(ctx: Context, action: str, group: str, lines: Lines) -> None:
    ctx.store(TASK_HISTORY, lines.tasks.values(), "taskArn")
    ctx.store(ECS_EVENTS, lines.events.values(),
              lambda e: f"{e.get('time', '')}\n{e.get('id', '')}")
    skipped = lines.not_json + lines.not_ecs
    if skipped:
        message = (f"{skipped} lines of {group} skipped ({lines.not_json} not JSON, "
                   f"{lines.not_ecs} not an aws.ecs event); the first: {lines.first_skipped}")
        for collection in COLLECTIONS:
            ctx.recorder.add({"collection": collection, "operation": action, "code": SKIPPED,
                              "message": message, "level": "warning", "count": skipped})


def _record_truncated(ctx: Context, action: str, budget: int, complete_from: dt.datetime,
                      now: dt.datetime) -> None:
    """The window is complete from ``complete_from`` to now; before it, partial or unread."""
    message = (f"history window cut short: the budget of {budget} FilterLogEvents pages a "
               f"scan ran out; complete for the last {_hours(now - complete_from)} (since "
               f"{complete_from.isoformat()}), events before that are missing or partial")
    for collection in COLLECTIONS:
        ctx.recorder.add({"collection": collection, "operation": action, "code": TRUNCATED,
                          "message": message, "level": "warning"})


def _hours(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _record_failure(ctx: Context, action: str, group: str, exc: Exception) -> None:
    """Both collections absent; a missing group says how to create it."""
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    for collection in COLLECTIONS:
        ctx.resources.pop(collection, None)
        if code == NO_GROUP:
            ctx.recorder.add({
                "collection": collection, "operation": action, "code": NO_GROUP,
                "message": f"no history log group {group} in {ctx.region}: ECS keeps stopped "
                           f"tasks about an hour only; keep its events with: "
                           f"{setup_command(ctx.region, group)}",
                "setup": setup_command(ctx.region, group)})
        else:
            ctx.fail(collection, action, exc)
