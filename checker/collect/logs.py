"""CloudWatch Logs → ``log_events`` (CONTRACTS.md §5): the last lines a failing container
printed.

Why: on a crash loop ECS says "exit code 1"; the container's log says
``ModuleNotFoundError: No module named 'psycopg2'`` or ``exec format error``. This module
reads, for each failing service, the last ``scope.log_lines`` lines (``scan --log-lines``,
default 50, 0 reads none) of

- the essential container of its :data:`STOPPED_PER_SERVICE` most recent failing stopped
  tasks (the API's and, with history, ``task_history``'s): an essential container that
  exited non-zero, was OOM-killed, failed a health check, or a task that failed to start;
- one running task when the service is slow or serving errors: in the last :data:`RECENT`
  of the window its target groups answered :data:`MIN_ERRORS` or more 5xx, at least
  :data:`ERROR_RATE` of their requests, or took :data:`SLOW_S` seconds or more to answer,
  or an alarm on it is in ALARM.

Runs after cloudwatch.py and alarms.py, so "slow or erroring" is read from what they
stored, not guessed; "failing" reads only the tasks the ECS and history collectors stored.

Where the lines are: the ``awslogs`` options of the container's definition, group
``awslogs-group`` in ``awslogs-region``, stream ``<awslogs-stream-prefix>/<container>/<task
id>`` (without a prefix, EC2 names the stream after the Docker container id, the task's
``runtimeId``). One GetLogEvents call a stream (``startFromHead=false``, ``limit`` N: the
newest N lines, oldest first). Another log driver (FireLens, Splunk, json-file, …), no log
configuration, or a stream that does not exist is an item with no events and an
``unavailable`` reason, which the log checks report as ``unknown`` saying why.

Budget: at most :data:`PER_SERVICE` GetLogEvents calls a failing service (3 stopped tasks
and 1 running) and :data:`SCAN_BUDGET` a scan (about 4 s at the archived 10 requests/s
quota, AWS-FACTS.md §2e); services past it, alphabetically, are not read and a
``"level": "warning"`` entry (``Truncated``) names how many. Every line is redacted
(:func:`checker.redact.redact_line`) before it is stored: a log line can hold the same
secrets as an environment variable.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from botocore.exceptions import ClientError

from checker.collect.aws import Context, Item, iam_action
from checker.redact import redact_line

#: The one action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({"logs:GetLogEvents"})

COLLECTION = "log_events"
STOPPED_PER_SERVICE = 3
PER_SERVICE = STOPPED_PER_SERVICE + 1  # GetLogEvents calls per failing service
SCAN_BUDGET = 40  # GetLogEvents calls per scan
MAX_LINES = 10_000  # GetLogEvents `limit` maximum
SLOW_S = 1.0  # TargetResponseTime (Average) that makes a service "slow"
ERROR_RATE = 0.01  # 5xx responses per request that make a service "erroring"
MIN_ERRORS = 5  # and at least this many: a stray 5xx is no reason to read logs
RECENT = dt.timedelta(minutes=15)
TRUNCATED = "Truncated"
AWSLOGS = "awslogs"
NO_STREAM = "ResourceNotFoundException"
_HEALTH = re.compile(r"health ?checks?", re.IGNORECASE)
_OOM = re.compile(r"OutOfMemory", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Target:
    """One stream to read: the task and container, why, and where its lines are."""

    service: str
    task: Item
    container: str
    why: str
    group: str | None = None
    stream: str | None = None
    region: str | None = None
    unavailable: str | None = None


def collect_logs(ctx: Context) -> None:
    """Fill ``log_events``; nothing (the collection absent) when ``scope.log_lines`` is 0."""
    if ctx.scope.log_lines > 0:
        read_logs(ctx, dt.datetime.now(dt.UTC), SCAN_BUDGET)


def read_logs(ctx: Context, now: dt.datetime, budget: int) -> None:
    """:func:`collect_logs` with the clock and the scan budget passed in."""
    lines = min(ctx.scope.log_lines, MAX_LINES)
    chosen: list[Target] = []
    left_out = 0
    services = sorted(ctx.resources.get("services", []), key=lambda s: str(s.get("serviceArn")))
    for service in services:
        targets = service_targets(ctx, service, now)
        calls = sum(1 for t in targets if t.unavailable is None)
        if calls and calls > budget:
            left_out += 1
            continue
        budget -= calls
        chosen.extend(targets)
    if left_out:
        ctx.recorder.add({
            "collection": COLLECTION, "operation": "logs:GetLogEvents", "code": TRUNCATED,
            "level": "warning", "count": left_out,
            "message": f"log lines of {left_out} failing service(s) not read: the budget of "
                       f"{SCAN_BUDGET} GetLogEvents calls a scan ran out (services are read "
                       f"in name order)"})
    jobs: list[tuple[int, Callable[[], list[Item]]]] = [
        (i, _reader(ctx, t, lines)) for i, t in enumerate(chosen)]
    got = ctx.gather(jobs)
    ctx.store(COLLECTION, [item for i in sorted(got) for item in got[i]],
              lambda item: f"{item.get('taskArn')}\n{item.get('containerName')}")


def _reader(ctx: Context, target: Target, lines: int) -> Callable[[], list[Item]]:
    return lambda: [read_stream(ctx, target, lines)]


def read_stream(ctx: Context, target: Target, lines: int) -> Item:
    """The ``log_events`` item of one target; its events redacted."""
    item: Item = {"logGroupName": target.group, "logStreamName": target.stream,
                  "taskArn": target.task.get("taskArn"), "containerName": target.container,
                  "serviceArn": target.service, "reason": target.why, "events": []}
    if target.unavailable is not None:
        item["unavailable"] = target.unavailable
        return item
    api = ctx.client("logs", region=target.region)
    action = iam_action(api, "get_log_events")
    try:
        page = api.get_log_events(logGroupName=target.group, logStreamName=target.stream,
                                  limit=lines, startFromHead=False)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != NO_STREAM:
            ctx.fail(COLLECTION, action, exc)
        item["unavailable"] = (f"no log stream {target.stream} in {target.group}: the "
                               f"container never started, or the stream was deleted")
        ctx.step(f"{action} {target.stream} failed")
        return item
    except Exception as exc:
        ctx.fail(COLLECTION, action, exc)
        item["unavailable"] = f"{action} failed: {type(exc).__name__}"
        return item
    events = page.get("events", [])
    ctx.step(f"{action} {target.stream} ({len(events)})")
    item["events"] = [{**e, "message": redact_line(str(e.get("message", "")))}
                      for e in events if isinstance(e, dict)]
    return item


def service_targets(ctx: Context, service: Item, now: dt.datetime) -> list[Target]:
    """The streams to read for one service: none unless it is failing (module docstring)."""
    arn = str(service.get("serviceArn"))
    stopped = [(t, why) for t in _stopped_of(ctx.resources, arn) if (why := failing(t))]
    stopped.sort(key=lambda p: _stopped_at(p[0]), reverse=True)
    out = [locate(ctx, arn, t, why) for t, why in stopped[:STOPPED_PER_SERVICE]]
    trouble = troubled(ctx, service, now)
    if trouble:
        running = sorted((t for t in ctx.resources.get("tasks", [])
                          if _service_of(t) == _service_key(arn)
                          and t.get("lastStatus") == "RUNNING"),
                         key=lambda t: str(t.get("taskArn")))
        if running:
            out.append(locate(ctx, arn, running[0], f"running: {trouble}"))
    return out


def _stopped_at(task: Item) -> dt.datetime:
    """When a task stopped, as a time: the API writes ``+00:00``, history events ``Z``."""
    value = task.get("stoppedAt")
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _service_key(service_arn: str) -> tuple[str, str]:
    """(cluster name, service name) of a service ARN (new and old formats)."""
    parts = service_arn.split(":", 5)[-1].split("/")
    return (parts[1], parts[2]) if len(parts) >= 3 else ("", parts[-1])


def _service_of(task: Item) -> tuple[str, str]:
    group = str(task.get("group") or "")
    cluster = str(task.get("clusterArn") or "").rsplit("/", 1)[-1]
    return (cluster, group.removeprefix("service:")) if group.startswith("service:") else ("", "")


def _stopped_of(res: Mapping[str, list[Item]], service_arn: str) -> list[Item]:
    """Stopped tasks of a service: the API's, and history's the API no longer has."""
    key = _service_key(service_arn)
    seen: dict[str, Item] = {}
    for source in ("tasks", "task_history"):
        for task in res.get(source, []):
            arn = str(task.get("taskArn"))
            if task.get("lastStatus") == "STOPPED" and _service_of(task) == key \
                    and arn not in seen:
                seen[arn] = task
    return list(seen.values())


def failing(task: Item) -> str | None:
    """Why a stopped task counts as a failure, or None (a scale-in, a deployment, a user's
    stop): failed to start, OOM-killed, a failed health check, or an essential container
    that exited non-zero."""
    said = str(task.get("stoppedReason") or "")
    containers = [c for c in task.get("containers") or [] if isinstance(c, dict)]
    if task.get("stopCode") == "TaskFailedToStart":
        return "failed to start"
    if _OOM.search(said) or any(_OOM.search(str(c.get("reason") or "")) for c in containers):
        return "OOM-killed"
    if _HEALTH.search(said) and "fail" in said.lower():
        return "failed health checks"
    if task.get("stopCode") == "EssentialContainerExited":
        codes = [c.get("exitCode") for c in containers if c.get("exitCode") not in (None, 0)]
        if codes:
            return f"exited {codes[0]}"
    return None


def _series(metrics: Iterable[Item], name: str, tg: str, stat: str) -> list[float]:
    return [v for m in metrics
            if m.get("name") == name and m.get("stat") == stat
            and (m.get("dimensions") or {}).get("TargetGroup") == tg
            for v in _recent(m)]


def _recent(metric: Item, now: dt.datetime | None = None) -> list[float]:
    """The values of the series' last :data:`RECENT` (its newest timestamp as the end)."""
    stamps = [dt.datetime.fromisoformat(str(t)) if not isinstance(t, dt.datetime) else t
              for t in metric.get("timestamps") or []]
    values = list(metric.get("values") or [])
    if not stamps:
        return []
    end = now or max(stamps)
    return [float(v) for t, v in zip(stamps, values, strict=False)
            if isinstance(v, int | float) and end - t <= RECENT]


def troubled(ctx: Context, service: Item, now: dt.datetime) -> str | None:
    """"5xx responses", "slow responses" or "alarm X in ALARM" for a service that is slow or
    serving errors now; None otherwise."""
    tgs = {str(lb.get("targetGroupArn")).split(":", 5)[-1]
           for lb in service.get("loadBalancers") or [] if lb.get("targetGroupArn")}
    metrics = ctx.metrics or []
    for tg in sorted(tgs):
        errors = sum(_series(metrics, "HTTPCode_Target_5XX_Count", tg, "Sum"))
        requests = sum(_series(metrics, "RequestCount", tg, "Sum"))
        if errors >= MIN_ERRORS and errors >= ERROR_RATE * requests:
            return "5xx responses"
        if any(v >= SLOW_S for v in _series(metrics, "TargetResponseTime", tg, "Average")):
            return "slow responses"
    cluster, name = _service_key(str(service.get("serviceArn")))
    for alarm in ctx.resources.get("alarms", []):
        dims = {(str(d.get("Name")), str(d.get("Value"))) for d in alarm.get("Dimensions") or []}
        mine = {("ServiceName", name), ("ClusterName", cluster)} <= dims \
            or any(("TargetGroup", t) in dims for t in tgs)
        if alarm.get("StateValue") == "ALARM" and mine:
            return f"alarm {alarm.get('AlarmName')} in ALARM"
    return None


def _essential(td: Item | None, task: Item) -> Item | None:
    """The essential container to read: the one that stopped the task (a non-zero exit or
    a reason), else the first essential one."""
    defs = [c for c in (td or {}).get("containerDefinitions") or [] if isinstance(c, dict)]
    essential = [c for c in defs if c.get("essential", True)]
    by_name = {str(c.get("name")): c for c in task.get("containers") or [] if isinstance(c, dict)}
    for c in essential:
        ran = by_name.get(str(c.get("name"))) or {}
        if ran.get("exitCode") not in (None, 0) or ran.get("reason"):
            return c
    return essential[0] if essential else None


def locate(ctx: Context, service: str, task: Item, why: str) -> Target:
    """Where the essential container's lines are, or why they cannot be read."""
    tds = {str(t.get("taskDefinitionArn")): t for t in ctx.resources.get("task_definitions", [])}
    td = tds.get(str(task.get("taskDefinitionArn")))
    container = _essential(td, task)
    if container is None:
        return Target(service, task, "?", why, unavailable=(
            "task definition not collected: cannot tell where its containers log"))
    name = str(container.get("name"))
    conf = container.get("logConfiguration") or {}
    driver = conf.get("logDriver")
    if driver is None:
        return Target(service, task, name, why, unavailable=(
            f"container {name} has no logConfiguration: its output is not kept"))
    if driver != AWSLOGS:
        return Target(service, task, name, why, unavailable=(
            f"container {name} logs with the {driver} driver; ecsdoctor reads awslogs "
            f"(CloudWatch Logs) only: read its lines where {driver} sends them"))
    options = conf.get("options") or {}
    group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
    task_id = str(task.get("taskArn")).rsplit("/", 1)[-1]
    stream: str | None = f"{prefix}/{name}/{task_id}" if prefix else None
    if stream is None:
        ran: Item = next((c for c in task.get("containers") or [] if c.get("name") == name), {})
        stream = str(ran["runtimeId"]) if ran.get("runtimeId") else None
    if not group or not stream:
        return Target(service, task, name, why, unavailable=(
            f"container {name}'s awslogs options name no "
            f"{'awslogs-group' if not group else 'awslogs-stream-prefix'}, and the task "
            f"has no container id to name the stream by"))
    region = options.get("awslogs-region") or ctx.region
    return Target(service, task, name, why, str(group), str(stream), str(region))
