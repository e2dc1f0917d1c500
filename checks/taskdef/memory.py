"""Memory against the limit: the peak a service's busiest task reached (AWS/ECS
MemoryUtilization), and a JVM/Node heap configured above or too close to it.

The Maximum statistic of the service-level metric is "the utilization of the task with the
highest resource usage in the service", relative to the memory in the task definition
(service_utilization.html). When only soft limits (memoryReservation) size the task, the
percentage is relative to the reservation and may pass 100% legitimately: not a hard limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, arn_name, parse_time
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.heap import Heap, Verdict, heap_settings, judge
from checks.lib.knowledge import table
from checks.lib.labels import human_duration, service_label, td_label
from checks.lib.taskdefs import (
    PARAMS_DOCS,
    Use,
    container_name,
    containers,
    environment_path,
    hard_limit,
    memory_bound,
    memory_path,
    uses,
)
from checks.lib.values import int_or_none

NEEDS = "needs AWS/ECS MemoryUtilization (Maximum) for the service (collected by scan)"


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


def _peak_result(facts: Facts, svc: Item, threshold: float) -> Result:
    arn, label = str(svc.get("serviceArn")), service_label(svc)
    td = facts.task_definition(svc.get("taskDefinition"))
    if td is None:
        return unknown(arn, f"service {label}: task definition {svc.get('taskDefinition')} "
                       "was not collected", service=arn)
    resource = str(td.get("taskDefinitionArn") or arn)
    head = f"service {label} (task def {td_label(td)})"
    path = memory_path(td)
    values, window = _peaks(facts, svc)
    if not values:
        idle = " — no task running, so none is published" if not int_or_none(
            svc.get("runningCount")) else ""
        return unknown(resource, f"{head}: {NEEDS}{idle}", service=arn, path=path)
    limit, kind = memory_bound(td)
    if limit is None:
        return skipped(resource, f"{head}: only soft limits (memoryReservation) size the task; "
                       "utilisation is relative to them", service=arn, path=path)
    peak = max(values)
    span = f" over {window}" if window else ""
    data: dict[str, Any] = {"peak_pct": round(peak, 1), "limit_mib": limit,
                            "threshold_pct": threshold, "limit_kind": kind}
    text = (f"{head}: busiest task peaked at {peak:.0f}% of its {limit} MiB {kind} "
            f"(AWS/ECS MemoryUtilization Maximum{span})")
    if peak >= threshold:
        return failed(resource, text + " — the next burst is an OOM kill", service=arn,
                      path=path, **data)
    return passed(resource, text, service=arn, path=path, **data)


@check(id="task-memory-near-limit", area="taskdef", severity=Severity.HIGH,
       title="Tasks peak at their memory limit",
       needs=("services", "task_definitions", "metrics"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service_utilization.html",
       emits=("limit_kind", "limit_mib", "peak_pct", "threshold_pct"),
       products=("scan",))  # the gate judges a candidate with gate-memory-below-peak
def task_memory_near_limit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """AWS/ECS MemoryUtilization with the Maximum statistic is the busiest task of the
    service against what its task definition allows. Peaking at the hard limit means the
    limit is below what the task needs: the next burst is an OOM kill (exit 137)."""
    threshold = float(table("taskdef_thresholds")["memory_peak_pct"])
    for svc in sorted(facts.services, key=lambda s: str(s.get("serviceArn"))):
        yield _peak_result(facts, svc, threshold)


def _heap_text(v: Verdict, limit: int, kind: str) -> str:
    flag = v.heap.text + ("" if v.heap.source in ("command", "entryPoint")
                          else f" (in {v.heap.source})")
    if v.heap.kind == "ram_pct":
        return (f"{flag}: the heap may take {v.share:.0f}% of the {kind} {limit} MiB, "
                "leaving too little for non-heap memory")
    if v.over:
        return f"{flag} but {kind} {limit} MiB"
    return (f"{flag} is {v.share:.0f}% of the {kind} {limit} MiB: no room left for "
            "non-heap memory (metaspace, threads, buffers)")


def _heap_result(use: Use, ctr: Item, heaps: list[Heap]) -> Result:
    th = table("taskdef_thresholds")
    where, svc, name = use.where(ctr), use.service_arn, container_name(ctr)
    flags = " ".join(h.text for h in heaps)
    limit, kind = hard_limit(ctr, use.td)
    path = environment_path(use.td, ctr, None)
    if limit is None:
        return skipped(use.arn, f"{where}: {flags} but no memory limit to compare "
                       f"with{use.suffix}", service=svc, path=path, container=name)
    verdicts = [judge(h, limit, float(th["heap_close_pct"]), float(th["max_ram_percentage"]))
                for h in heaps]
    bad = [v for v in verdicts if v.risky]
    if not bad:
        return passed(use.arn, f"{where}: {flags} fits the {kind} {limit} MiB{use.suffix}",
                      service=svc, path=path, container=name, limit_mib=limit)
    worst = max(bad, key=lambda v: (v.over, v.share))
    source = worst.heap.source  # an environment variable's name, or command / entryPoint
    path = use.path(ctr, source) if source in ("command", "entryPoint") else environment_path(
        use.td, ctr, source)
    data: dict[str, Any] = {"container": name, "flag": worst.heap.text,
                            "source": worst.heap.source, "runtime": worst.heap.runtime,
                            "limit_mib": limit, "share_pct": round(worst.share, 1)}
    if worst.heap.mib is not None:
        data["heap_mib"] = round(worst.heap.mib, 1)
    return failed(use.arn, f"{where}: {_heap_text(worst, limit, kind)}{use.suffix}",
                  service=svc, severity=None if worst.over else Severity.MEDIUM, path=path,
                  **use.data(**data))


@check(id="runtime-heap-exceeds-limit", area="taskdef", severity=Severity.HIGH,
       title="JVM/Node heap is above or too close to the container memory limit",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_memory",
       emits=("affected_tasks", "container", "flag", "heap_mib", "limit_mib", "runtime",
              "share_pct", "source"))
def runtime_heap_exceeds_limit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A heap sized above the container's hard limit (or so close that metaspace, threads
    and buffers do not fit) gets the container OOM-killed by the kernel as soon as the heap
    fills: it looks like a leak, but the fix is the flag. Flags are read from JAVA_OPTS,
    JAVA_TOOL_OPTIONS, _JAVA_OPTIONS, NODE_OPTIONS, command and entryPoint."""
    for use in uses(facts):
        found = False
        for ctr in containers(use.td):
            heaps = heap_settings(ctr)
            if heaps:
                found = True
                yield _heap_result(use, ctr, heaps)
        if not found:
            yield skipped(use.arn, f"{use.where()}: no JVM or Node heap flag in environment "
                          f"or command{use.suffix}", service=use.service_arn, path=use.path())
