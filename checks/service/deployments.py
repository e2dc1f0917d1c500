"""Does a new revision of the service reach a steady state?

A deployment that failed or hangs, a circuit breaker that would have stopped it, and a
health-check grace period shorter than the container's start-up (the load balancer kills
tasks that are still warming up, so the rollout never finishes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, dig, obj, objs, task_definition_label
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.labels import human_duration, service_label, task_id, uptime_seconds
from checks.lib.stop_reasons import match_reason
from checks.lib.values import int_or_none
from checks.service.fields import age_s, count, services, td_of

_GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
#: A rolling deployment still IN_PROGRESS (or an old deployment still ACTIVE) after this
#: long is stuck: ECS rollouts of a healthy service finish in minutes; the circuit breaker
#: itself gives up after at most 200 failed tasks.
DEPLOYMENT_STUCK_S = 1800.0
#: Target group health check defaults (ALB): 30 s interval × 2 unhealthy checks.
DEFAULT_HC_INTERVAL_S = 30
DEFAULT_HC_UNHEALTHY = 2
#: Slack for the time between the task starting and the target being registered.
REGISTRATION_SLACK_S = 30


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


@check(id="service-deployment-stuck", area="service", severity=Severity.HIGH,
       title="Service deployment failed or is stuck",
       needs=("services",),
       docs=_GUIDE + "deployment-type-ecs.html",
       emits={"affected_tasks": None, "age_s": None, "deployment": None, "deployments": None,
              "rollout_state": ("COMPLETED", "FAILED", "IN_PROGRESS")})
def service_deployment_stuck(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A rolling deployment whose rolloutState is FAILED, still IN_PROGRESS after 30
    minutes, or that leaves several deployments side by side for 30 minutes, means the new
    revision cannot reach a steady state (tasks crash, never get healthy, or cannot be
    placed). The age comes from the primary deployment's createdAt vs collected_at."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        deps = objs(svc.get("deployments"))
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


@check(id="service-circuit-breaker-off", area="service", severity=Severity.LOW,
       title="Deployment circuit breaker is off",
       needs=("services",),
       docs=_GUIDE + "deployment-circuit-breaker.html",
       emits=("enable", "rollback"))
def service_circuit_breaker_off(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without deploymentCircuitBreaker.enable, a rolling (ECS controller) deployment of a
    revision whose tasks never start retries for hours instead of failing fast and, with
    rollback, returning to the last good revision. CODE_DEPLOY and EXTERNAL controllers do
    not use it and are skipped."""
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
        for lb in objs(svc.get("loadBalancers")):
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
    names = {str(lb.get("containerName")) for lb in objs(svc.get("loadBalancers"))}
    best: tuple[int | None, str | None] = (None, None)
    for c in objs(td.get("containerDefinitions")):
        period = int_or_none(dig(c, "healthCheck", "startPeriod"))
        if str(c.get("name")) in names and period is not None and period > (best[0] or -1):
            best = (period, str(c.get("name")))
    return best[0], best[1], True


def _quick_elb_kills(facts: Facts, svc: Item, limit_s: float) -> list[tuple[Item, float]]:
    out = []
    for task in facts.tasks_of_service(svc, "STOPPED"):
        uptime = uptime_seconds(task)
        reason = task.get("stoppedReason")
        if isinstance(reason, str) and match_reason(reason) == "elb-health" \
                and uptime is not None and uptime < limit_s:
            out.append((task, uptime))
    return out


def _grace_problems(facts: Facts, svc: Item,
                    grace: int) -> tuple[list[str], dict[str, Any], bool]:
    """Why `grace` is too short (none when it is not), the numbers behind the verdict, and
    whether the task definition was found."""
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
    return problems, data, td_found


@check(id="service-health-check-grace-too-short", area="service", severity=Severity.HIGH,
       title="Health check grace period shorter than the container's start-up",
       needs=("services", "task_definitions", "tasks"),
       docs=_GUIDE + "troubleshoot-service-load-balancers.html",
       emits=("affected_tasks", "elb_kills", "grace_s", "start_period_s", "tasks",
              "unhealthy_after_s"))
def service_health_check_grace_too_short(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The load balancer starts judging a task when healthCheckGracePeriodSeconds ends; an
    application still warming up is declared unhealthy and stopped, again and again. Two
    signals: the load-balanced container's healthCheck.startPeriod (its own declared start
    time) above the grace, or tasks stopped for "failed ELB health checks" after running
    less than grace + the target group's UnhealthyThresholdCount × interval (ALB defaults
    2 × 30 s when target_groups were not collected) + 30 s registration slack. The second
    alone can also mean the app never gets healthy (wrong path, blocked security group),
    which the playbook rules out with the network checks."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        if not objs(svc.get("loadBalancers")):
            yield skipped(arn, f"service {label}: no load balancer", service=arn)
            continue
        grace = count(svc.get("healthCheckGracePeriodSeconds"))
        problems, data, td_found = _grace_problems(facts, svc, grace)
        kills = data["elb_kills"]
        if problems:
            yield failed(arn, f"service {label}: healthCheckGracePeriodSeconds {grace}s too "
                         f"short: " + "; ".join(problems), service=arn,
                         severity=None if kills else Severity.MEDIUM,
                         affected_tasks=kills, **data)
        elif not td_found:
            yield unknown(arn, f"service {label}: task definition not in the bundle; no ELB "
                          "health-check kills seen", service=arn, **data)
        else:
            period = data["start_period_s"]
            have = f"startPeriod {period}s" if period is not None else "no startPeriod"
            yield passed(arn, f"service {label}: grace {grace}s covers {have}; no task killed "
                         "by ELB health checks while starting", service=arn, **data)
