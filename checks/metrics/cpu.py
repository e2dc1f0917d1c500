"""Service CPU saturation: all tasks busy (Average) or one hot task (Maximum).

AWS/ECS CPUUtilization is relative to the CPU units the tasks reserve, so 90% sustained
means the reservation is used up, whatever the host has left. What the load balancer saw
meanwhile (latency, 5xx share) is added to the message when the bundle has it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts
from checker.model import Result, Severity, failed, passed
from checker.registry import Prior, check
from checks.lib.labels import human_duration, service_label
from checks.lib.metric_refs import holds, running_count, sorted_services, thresholds
from checks.lib.series import Series, Sustained, clock, sustained_above
from checks.metrics.load_balancer import context
from checks.metrics.service_series import service_series

ECS_METRICS_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cloudwatch-metrics.html"


def _above_text(s: Sustained, threshold: float) -> str:
    longest = (f", longest {human_duration(s.longest.seconds)} from {clock(s.longest.start)}"
               if s.longest else "")
    return (f"≥ {threshold:g}% for {human_duration(s.seconds_above)} "
            f"({s.fraction:.0%} of the time with data){longest}")


@check(id="service-cpu-saturated", area="metrics", severity=Severity.HIGH,
       title="Service CPU at or above 90% for a sustained part of the window",
       needs=("services", "metrics"), docs=ECS_METRICS_DOCS,
       emits={"affected_tasks": None, "fraction": None, "peak_pct": None, "seconds_above": None,
              "stat": ("Average", "Maximum"), "target_groups": None, "threshold_pct": None})
def service_cpu_saturated(facts: Facts, prior: Prior) -> Iterator[Result]:
    """AWS/ECS CPUUtilization is the tasks' CPU use relative to the CPU units they reserve.
    Averaged over the tasks and held at 90% or more, every task is busy: requests queue,
    latency rises (shown from the target group when collected). Only the Maximum that high
    means one hot task: uneven load, reported at a lower severity."""
    threshold = float(thresholds("cpu_saturation")["threshold_pct"])
    for svc in sorted_services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        avg = service_series(facts, svc, "CPUUtilization", ("Average",))
        mx = service_series(facts, svc, "CPUUtilization", ("Maximum",))
        if not isinstance(avg, Series) and not isinstance(mx, Series):
            yield avg
            continue
        by_avg = sustained_above(avg, threshold) if isinstance(avg, Series) else None
        by_max = sustained_above(mx, threshold) if isinstance(mx, Series) else None
        lb_text, lb_data = context(facts, svc)
        extra = f"; {lb_text}" if lb_text else ""
        common: dict[str, Any] = {"threshold_pct": threshold, "target_groups": lb_data}
        if by_avg is not None and holds(by_avg):
            yield failed(arn, f"service {label}: CPUUtilization (Average of its tasks) "
                         f"{_above_text(by_avg, threshold)}, peak {by_avg.peak:.0f}%{extra}",
                         stat="Average", seconds_above=by_avg.seconds_above,
                         fraction=round(by_avg.fraction, 3),
                         affected_tasks=running_count(svc), service=arn, **common)
        elif by_max is not None and holds(by_max):
            uneven = by_avg is not None  # the Average was measured and stayed lower
            yield failed(arn, f"service {label}: at least one task's CPUUtilization (Maximum) "
                         f"{_above_text(by_max, threshold)}" + (
                             " while the average stays lower: load is uneven" if uneven
                             else " (no Average series: one task or all of them)") + extra,
                         severity=Severity.MEDIUM if uneven else None, stat="Maximum",
                         seconds_above=by_max.seconds_above, fraction=round(by_max.fraction, 3),
                         affected_tasks=1, service=arn, **common)
        else:
            seen = by_avg or by_max
            assert seen is not None
            above = (f"≥ {threshold:g}% for {human_duration(seen.seconds_above)} only (not "
                     "sustained)" if seen.seconds_above else f"never ≥ {threshold:g}%")
            yield passed(arn, f"service {label}: CPUUtilization peak {seen.peak:.0f}%, "
                         f"{above}{extra}", peak_pct=seen.peak, service=arn, **common)
