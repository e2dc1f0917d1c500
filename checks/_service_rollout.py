"""Logic of the service checks about task counts, deployments and health-check grace.

Kept out of checks/service.py (which holds the decorated checks and their docstrings) to
stay within the module budget; every function here is pure over Facts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from checker.facts import Facts, Item, arn_name, parse_time, task_definition_label
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checks.lib.labels import human_duration, service_label, task_id
from checks.lib.stop_reasons import match_reason
from checks.lib.values import int_or_none

CI_NAMESPACE = "ECS/ContainerInsights"
#: A task PENDING longer than this is stuck, not starting: image pulls and ENI attachment
#: take seconds to a couple of minutes on a healthy cluster.
PENDING_STUCK_S = 300.0
PENDING_STATES = ("PROVISIONING", "PENDING", "ACTIVATING")
#: A rolling deployment still IN_PROGRESS (or an old deployment still ACTIVE) after this
#: long is stuck: ECS rollouts of a healthy service finish in minutes; the circuit breaker
#: itself gives up after at most 200 failed tasks.
DEPLOYMENT_STUCK_S = 1800.0
#: Target group health check defaults (ALB): 30 s interval × 2 unhealthy checks.
DEFAULT_HC_INTERVAL_S = 30
DEFAULT_HC_UNHEALTHY = 2
#: Slack for the time between the task starting and the target being registered.
REGISTRATION_SLACK_S = 30


def obj(value: Any) -> Item:
    """A mapping, or {} for None and anything odd (hand-written bundles are messy)."""
    return value if isinstance(value, Mapping) else {}


def dicts(value: Any) -> list[Item]:
    """The mappings of a list, or [] when the value is not a list."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def dig(item: Any, *keys: str) -> Any:
    """item[k1][k2]… where every level may be missing or odd."""
    for key in keys[:-1]:
        item = obj(item).get(key)
    return obj(item).get(keys[-1])


def td_of(facts: Facts, svc: Item) -> Item | None:
    arn = svc.get("taskDefinition")
    return facts.task_definition(arn) if isinstance(arn, str) else None


def services(facts: Facts) -> list[Item]:
    return sorted(facts.services, key=lambda s: str(s.get("serviceArn")))


def count(value: Any) -> int:
    n = int_or_none(value)
    return n if n is not None else 0


def when(value: Any) -> dt.datetime | None:
    """parse_time that also survives out-of-range epoch numbers in hand-written bundles."""
    try:
        return parse_time(value)
    except (ValueError, OverflowError, OSError):
        return None


def age_s(facts: Facts, value: Any) -> float | None:
    at = when(value)
    return None if at is None else (facts.collected_at - at).total_seconds()


# -- running below desired ---------------------------------------------------------------
def _series(facts: Facts, name: str, dims: dict[str, str]) -> dict[dt.datetime, float]:
    found = facts.metric(CI_NAMESPACE, name, dims)
    found.sort(key=lambda s: {"Average": 0, "Minimum": 1, "Maximum": 2}.get(
        str(s.get("stat")), 3))
    out: dict[dt.datetime, float] = {}
    for series in found[:1]:
        stamps, values = series.get("timestamps"), series.get("values")
        for ts, value in zip(stamps if isinstance(stamps, list) else [],
                             values if isinstance(values, list) else [], strict=False):
            at = when(ts)
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


def running_below_desired(facts: Facts) -> Iterator[Result]:
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
def pending_tasks(facts: Facts) -> Iterator[Result]:
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


# -- deployments ---------------------------------------------------------------------------
def _dep_label(dep: Item) -> str:
    td = task_definition_label(str(dep.get("taskDefinition", "")))
    return f"{dep.get('id', '?')} ({td})" if td else str(dep.get("id", "?"))


def _deployment_problem(facts: Facts, deps: list[Item]) -> tuple[str, dict[str, Any]] | None:
    primary = next((d for d in deps if d.get("status") == "PRIMARY"), deps[0])
    age = age_s(facts, primary.get("createdAt"))
    counts = (f"running {count(primary.get('runningCount'))} of "
              f"{count(primary.get('desiredCount'))}, {count(primary.get('failedTasks'))} "
              "failed tasks")
    data = {"deployment": primary.get("id"), "rollout_state": primary.get("rolloutState"),
            "deployments": len(deps), "age_s": None if age is None else round(age)}
    if primary.get("rolloutState") == "FAILED":
        why = primary.get("rolloutStateReason") or "no reason given"
        return f"deployment {_dep_label(primary)} FAILED: {why} ({counts})", data
    if age is None or age <= DEPLOYMENT_STUCK_S:
        return None
    if primary.get("rolloutState") == "IN_PROGRESS":
        return (f"deployment {_dep_label(primary)} IN_PROGRESS for {human_duration(age)} "
                f"({counts})", data)
    if len(deps) > 1:
        others = ", ".join(_dep_label(d) for d in deps if d is not primary)
        return (f"{len(deps)} deployments at once for {human_duration(age)}: "
                f"{_dep_label(primary)} has not replaced {others} ({counts})", data)
    return None


def deployment_stuck(facts: Facts) -> Iterator[Result]:
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        deps = dicts(svc.get("deployments"))
        if not deps:
            controller = dig(svc, "deploymentController", "type") or "ECS"
            yield skipped(arn, f"service {label}: no deployments listed (controller "
                          f"{controller})", service=arn)
            continue
        problem = _deployment_problem(facts, deps)
        if problem is None:
            states = ", ".join(f"{d.get('status')}/{d.get('rolloutState', '-')}" for d in deps)
            yield passed(arn, f"service {label}: deployments {states}", service=arn,
                         deployments=len(deps))
            continue
        text, data = problem
        yield failed(arn, f"service {label}: {text}", service=arn, **data,
                     affected_tasks=max(count(svc.get("desiredCount"))
                                        - count(svc.get("runningCount")), 0))


def circuit_breaker_off(facts: Facts) -> Iterator[Result]:
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        controller = dig(svc, "deploymentController", "type") or "ECS"
        if controller != "ECS":
            yield skipped(arn, f"service {label}: deployment controller {controller}",
                          service=arn)
            continue
        breaker = obj(dig(svc, "deploymentConfiguration", "deploymentCircuitBreaker"))
        if breaker.get("enable") is True:
            rollback = "with" if breaker.get("rollback") is True else "without"
            yield passed(arn, f"service {label}: deployment circuit breaker on, {rollback} "
                         "rollback", service=arn, rollback=breaker.get("rollback") is True)
        else:
            yield failed(arn, f"service {label}: deployment circuit breaker off — a revision "
                         "whose tasks never start is retried forever instead of failing and "
                         "rolling back", service=arn, enable=breaker.get("enable"))


# -- health check grace period ------------------------------------------------------------
def _hc_time(facts: Facts, svc: Item) -> tuple[int, str]:
    """Seconds the LB needs to declare a target unhealthy, and where the numbers came from."""
    if facts.has("target_groups"):
        for lb in dicts(svc.get("loadBalancers")):
            tg = obj(facts.lookup("target_groups", "TargetGroupArn", lb.get("targetGroupArn")))
            interval = int_or_none(tg.get("HealthCheckIntervalSeconds"))
            threshold = int_or_none(tg.get("UnhealthyThresholdCount"))
            if interval and threshold:
                return interval * threshold, f"{threshold}×{interval}s target group checks"
    return (DEFAULT_HC_INTERVAL_S * DEFAULT_HC_UNHEALTHY,
            f"{DEFAULT_HC_UNHEALTHY}×{DEFAULT_HC_INTERVAL_S}s default checks")


def _start_period(facts: Facts, svc: Item) -> tuple[int | None, str | None, bool]:
    """Largest healthCheck.startPeriod of the load-balanced containers, its container, and
    whether the task definition was found."""
    td = td_of(facts, svc)
    if td is None:
        return None, None, False
    names = {str(lb.get("containerName")) for lb in dicts(svc.get("loadBalancers"))}
    best: tuple[int | None, str | None] = (None, None)
    for c in dicts(td.get("containerDefinitions")):
        period = int_or_none(dig(c, "healthCheck", "startPeriod"))
        if str(c.get("name")) in names and period is not None and period > (best[0] or -1):
            best = (period, str(c.get("name")))
    return best[0], best[1], True


def _uptime(task: Item) -> float | None:
    """startedAt → stoppedAt, like _common.uptime_seconds but never raising on odd times."""
    start, stop = when(task.get("startedAt")), when(task.get("stoppedAt") or task.get(
        "stoppingAt"))
    return None if start is None or stop is None or stop < start else (
        stop - start).total_seconds()


def _quick_elb_kills(facts: Facts, svc: Item, limit_s: float) -> list[tuple[Item, float]]:
    out = []
    for task in facts.tasks_of_service(svc, "STOPPED"):
        uptime = _uptime(task)
        reason = task.get("stoppedReason")
        if isinstance(reason, str) and match_reason(reason) == "elb-health" \
                and uptime is not None and uptime < limit_s:
            out.append((task, uptime))
    return out


def grace_too_short(facts: Facts) -> Iterator[Result]:
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        if not dicts(svc.get("loadBalancers")):
            yield skipped(arn, f"service {label}: no load balancer", service=arn)
            continue
        grace = count(svc.get("healthCheckGracePeriodSeconds"))
        hc_s, hc_how = _hc_time(facts, svc)
        period, container, td_found = _start_period(facts, svc)
        kills = _quick_elb_kills(facts, svc, grace + hc_s + REGISTRATION_SLACK_S)
        data: dict[str, Any] = {"grace_s": grace, "start_period_s": period,
                                "unhealthy_after_s": hc_s, "elb_kills": len(kills)}
        problems = []
        if period is not None and period > grace:
            problems.append(f"container {container} healthCheck.startPeriod {period}s > grace "
                            f"{grace}s")
        if kills:
            uptimes = ", ".join(human_duration(u) for _, u in kills[:5])
            problems.append(f"{len(kills)} task(s) stopped for failed ELB health checks after "
                            f"{uptimes} — under grace {grace}s + {hc_how} ({hc_s}s)")
            data["tasks"] = [task_id(t) for t, _ in kills]
        if problems:
            yield failed(arn, f"service {label}: healthCheckGracePeriodSeconds {grace}s too "
                         f"short: " + "; ".join(problems), service=arn,
                         severity=None if kills else Severity.MEDIUM,
                         affected_tasks=len(kills), **data)
        elif not td_found:
            yield unknown(arn, f"service {label}: task definition not in the bundle; no ELB "
                          "health-check kills seen", service=arn, **data)
        else:
            have = f"startPeriod {period}s" if period is not None else "no startPeriod"
            yield passed(arn, f"service {label}: grace {grace}s covers {have}; no task killed "
                         "by ELB health checks while starting", service=arn, **data)
