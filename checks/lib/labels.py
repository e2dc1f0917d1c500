"""How resources and durations are named in messages: the way engineers say them
(`prod/web`, `web:31`, `6h03m`), never raw ARNs or seconds."""

from __future__ import annotations

import statistics
from functools import lru_cache
from typing import Any

from checker.facts import Item, arn_name, parse_time, task_definition_label


def service_label(service: Item) -> str:
    """`prod/web`: cluster and service, the way engineers name a service. Asked about
    100,000 times on a 1,000-service account, so kept per (cluster, name, ARN)."""
    key = (service.get("clusterArn", ""), service.get("serviceName", _ABSENT),
           service.get("serviceArn", ""))
    try:
        return _service_label(*key)
    except TypeError:  # an unhashable value in a hand-written bundle: not cached
        return _service_label.__wrapped__(*key)


_ABSENT = object()


@lru_cache(maxsize=1 << 14)
def _service_label(cluster_arn: Any, name: Any, service_arn: Any) -> str:
    cluster = arn_name(str(cluster_arn)) or "?"
    return f"{cluster}/{arn_name(str(service_arn)) if name is _ABSENT else name}"


def td_label(task_definition: Item) -> str:
    arn = str(task_definition.get("taskDefinitionArn", ""))
    if arn:
        return task_definition_label(arn)
    return f"{task_definition.get('family', '?')}:{task_definition.get('revision', '?')}"


def task_id(task: Item) -> str:
    return arn_name(str(task.get("taskArn", "")))


def uptime_seconds(task: Item) -> float | None:
    """How long the task ran before it stopped (startedAt → stoppedAt), when both are known."""
    start, stop = parse_time(task.get("startedAt")), parse_time(
        task.get("stoppedAt") or task.get("stoppingAt")
    )
    if start is None or stop is None or stop < start:
        return None
    return (stop - start).total_seconds()


def human_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{round(seconds / 60)}m"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{round(rest / 60):02d}m" if hours < 48 else f"{round(hours / 24)}d"


def span(values: list[float]) -> str:
    """`5h12m–8h40m (median 6h03m)` for a list of durations."""
    if not values:
        return "unknown"
    lo, hi, med = min(values), max(values), statistics.median(values)
    if len(values) == 1:
        return human_duration(lo)
    return f"{human_duration(lo)}–{human_duration(hi)} (median {human_duration(med)})"
