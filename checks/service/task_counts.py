"""Does the service run as many tasks as it was asked to, and do new ones get started?

Running below desired is the symptom users feel first; tasks stuck PENDING say the
scheduler is waiting for something (capacity, an ENI, a host port, an image).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, arn_name, parse_times
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check
from checks.lib.labels import human_duration, service_label
from checks.service.fields import PENDING_STATES, age_s, count, services

_GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
CI_NAMESPACE = "ECS/ContainerInsights"
#: A task PENDING longer than this is stuck, not starting: image pulls and ENI attachment
#: take seconds to a couple of minutes on a healthy cluster.
PENDING_STUCK_S = 300.0


# -- running below desired ---------------------------------------------------------------
def _series(facts: Facts, name: str, dims: dict[str, str]) -> dict[dt.datetime, float]:
    found = facts.metric(CI_NAMESPACE, name, dims)
    found.sort(key=lambda s: {"Average": 0, "Minimum": 1, "Maximum": 2}.get(
        str(s.get("stat")), 3))
    out: dict[dt.datetime, float] = {}
    for series in found[:1]:
        stamps, values = series.get("timestamps"), series.get("values")
        for at, value in zip(parse_times(stamps) if isinstance(stamps, list) else (),
                             values if isinstance(values, list) else [], strict=False):
            if at is not None and isinstance(value, int | float) and not isinstance(
                    value, bool):
                out[at] = float(value)
    return out


def insights_window(facts: Facts, svc: Item) -> list[tuple[dt.datetime, float, float]] | None:
    """(time, running, desired) from Container Insights, or None without the series."""
    if not facts.has("metrics"):
        return None
    dims = {"ClusterName": arn_name(str(svc.get("clusterArn", ""))),
            "ServiceName": str(svc.get("serviceName", ""))}
    running = _series(facts, "RunningTaskCount", dims)
    desired = _series(facts, "DesiredTaskCount", dims)
    common = sorted(set(running) & set(desired))
    if len(common) < 2:
        return None
    return [(t, running[t], desired[t]) for t in common]


def _window_note(window: list[tuple[dt.datetime, float, float]] | None,
                 facts: Facts) -> tuple[str, dict[str, Any]]:
    if window is None:
        return ("; the window could not be checked (needs Container Insights "
                "RunningTaskCount/DesiredTaskCount)", {"window_checked": False})
    span_s = (window[-1][0] - window[0][0]).total_seconds()
    below = all(r < d for _, r, d in window)
    data = {"window_checked": True, "window_s": round(span_s), "below_whole_window": below,
            "min_running": min(r for _, r, _ in window)}
    if below:
        low, high = min(r for _, r, _ in window), max(r for _, r, _ in window)
        return (f"; below desired for the whole {human_duration(span_s)} Container Insights "
                f"window (running {low:.3g}–{high:.3g})", data)
    last_ok = max(t for t, r, d in window if r >= d)
    ago = human_duration((facts.collected_at - last_ok).total_seconds())
    return f"; Container Insights shows it at desired {ago} ago", data


@check(id="service-running-below-desired", area="service", severity=Severity.HIGH,
       title="Service runs fewer tasks than desired",
       needs=("services",),
       docs=_GUIDE + "service_definition_parameters.html",
       emits=("affected_tasks", "below_whole_window", "desired", "min_running", "pending",
              "running", "window_checked", "window_s"))
def service_running_below_desired(facts: Facts, prior: Prior) -> Iterator[Result]:
    """runningCount below desiredCount is the symptom users feel first (capacity lost,
    latency up); the playbooks then look for why. A service with no running task at all
    is an outage, so its finding is critical. The counts are one instant: when Container
    Insights RunningTaskCount/DesiredTaskCount series are in the bundle (read when present,
    not required) the check also says whether the service stayed below desired for the
    whole window, and fails on that even if the counts just caught up."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        desired, running = count(svc.get("desiredCount")), count(svc.get("runningCount"))
        pending = count(svc.get("pendingCount"))
        if desired == 0:
            yield skipped(arn, f"service {label}: desired count is 0", service=arn)
            continue
        window = insights_window(facts, svc)
        note, data = _window_note(window, facts)
        if running >= desired and not data.get("below_whole_window"):
            yield passed(arn, f"service {label}: running {running} of {desired} desired"
                         + (note if window else ""), service=arn, desired=desired,
                         running=running, **data)
            continue
        yield failed(
            arn,
            f"service {label}: running {running} of {desired} desired tasks ({pending} "
            f"pending)" + (" — no task is running" if running == 0 else "")
            + (" now" if running >= desired else "") + note,
            service=arn, severity=Severity.CRITICAL if running == 0 else None,
            desired=desired, running=running, pending=pending,
            affected_tasks=max(desired - running, 0), **data)


# -- pending tasks -------------------------------------------------------------------------
@check(id="service-pending-tasks", area="service", severity=Severity.HIGH,
       title="Service tasks stay PENDING",
       needs=("services", "tasks"),
       docs=_GUIDE + "task-lifecycle-explanation.html",
       emits=("affected_tasks", "oldest_pending_s", "pending", "stuck"))
def service_pending_tasks(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A task that stays PENDING (or PROVISIONING) for more than five minutes (createdAt
    vs collected_at) is waiting for something that will not come by itself: capacity, an
    ENI, a host port, an image. pendingCount > 0 with no PENDING task to date it fails at
    medium severity, since it may be a deployment that is just starting."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        tasks = [t for t in facts.tasks_of_service(svc) if t.get("lastStatus") in PENDING_STATES]
        ages = sorted((a for t in tasks if (a := age_s(facts, t.get("createdAt"))) is not None),
                      reverse=True)
        stuck = [a for a in ages if a > PENDING_STUCK_S]
        reported = count(svc.get("pendingCount"))
        if stuck:
            yield failed(arn, f"service {label}: {len(stuck)} task(s) pending for more than "
                         f"{human_duration(PENDING_STUCK_S)} (oldest {human_duration(stuck[0])};"
                         f" pendingCount {reported})", service=arn, pending=max(
                             reported, len(tasks)), stuck=len(stuck),
                         oldest_pending_s=round(stuck[0]), affected_tasks=len(stuck))
        elif reported > 0 and not ages:
            yield failed(arn, f"service {label}: pendingCount {reported}, and no PENDING task "
                         "in the bundle tells for how long", service=arn,
                         severity=Severity.MEDIUM, pending=reported, affected_tasks=reported)
        elif ages:
            yield passed(arn, f"service {label}: {len(ages)} task(s) pending for "
                         f"{human_duration(ages[0])} at most — still starting", service=arn,
                         pending=len(ages), oldest_pending_s=round(ages[0]))
        else:
            yield passed(arn, f"service {label}: no pending task", service=arn, pending=0)
