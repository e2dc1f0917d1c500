"""Peak service memory against what the task definition allows (AWS/ECS MemoryUtilization).

The Maximum statistic of the service-level metric is "the utilization of the task with the
highest resource usage in the service", relative to the memory in the task definition
(service_utilization.html). When only soft limits (memoryReservation) size the task, the
percentage is relative to the reservation and may pass 100% legitimately: not a hard limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, arn_name, parse_time
from checker.model import Result, failed, passed, skipped, unknown
from checks.lib.knowledge import table
from checks.lib.labels import human_duration, service_label, td_label
from checks.lib.taskdefs import containers, memory_mib
from checks.lib.values import int_or_none

NEEDS = "needs AWS/ECS MemoryUtilization (Maximum) for the service (collected by scan)"


def memory_bound(td: Item) -> tuple[int | None, str]:
    """The hard memory the metric is relative to: task memory, or the containers' hard
    limits when every container has one; None when soft limits size the task."""
    task = memory_mib(td.get("memory"))
    if task:
        return task, "task memory"
    hards = [int_or_none(c.get("memory")) for c in containers(td)]
    if hards and all(hards):
        return sum(h for h in hards if h), "container hard limits"
    return None, "soft"


def _peaks(facts: Facts, svc: Item) -> tuple[list[float], str]:
    """Maximum MemoryUtilization values of the service, and the window they cover."""
    dims = {"ClusterName": arn_name(str(svc.get("clusterArn", ""))),
            "ServiceName": str(svc.get("serviceName", ""))}
    values: list[float] = []
    times = []
    for series in facts.metric("AWS/ECS", "MemoryUtilization", dims, "Maximum"):
        for when, value in zip(series.get("timestamps", []) or [],
                               series.get("values", []) or [], strict=False):
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.append(float(value))
                times.append(parse_time(when))
    known = sorted(t for t in times if t is not None)
    window = human_duration((known[-1] - known[0]).total_seconds()) if len(known) > 1 else ""
    return values, window


def _one(facts: Facts, svc: Item, threshold: float) -> Result:
    arn, label = str(svc.get("serviceArn")), service_label(svc)
    td = facts.task_definition(svc.get("taskDefinition"))
    if td is None:
        return unknown(arn, f"service {label}: task definition {svc.get('taskDefinition')} "
                       "was not collected", service=arn)
    resource = str(td.get("taskDefinitionArn") or arn)
    head = f"service {label} (task def {td_label(td)})"
    values, window = _peaks(facts, svc)
    if not values:
        idle = " — no task running, so none is published" if not int_or_none(
            svc.get("runningCount")) else ""
        return unknown(resource, f"{head}: {NEEDS}{idle}", service=arn)
    limit, kind = memory_bound(td)
    if limit is None:
        return skipped(resource, f"{head}: only soft limits (memoryReservation) size the task; "
                       "utilisation is relative to them", service=arn)
    peak = max(values)
    span = f" over {window}" if window else ""
    data: dict[str, Any] = {"peak_pct": round(peak, 1), "limit_mib": limit,
                            "threshold_pct": threshold, "limit_kind": kind}
    text = (f"{head}: busiest task peaked at {peak:.0f}% of its {limit} MiB {kind} "
            f"(AWS/ECS MemoryUtilization Maximum{span})")
    if peak >= threshold:
        return failed(resource, text + " — the next burst is an OOM kill", service=arn, **data)
    return passed(resource, text, service=arn, **data)


def memory_peak_results(facts: Facts) -> Iterator[Result]:
    threshold = float(table("taskdef_thresholds")["memory_peak_pct"])
    for svc in sorted(facts.services, key=lambda s: str(s.get("serviceArn"))):
        yield _one(facts, svc, threshold)
