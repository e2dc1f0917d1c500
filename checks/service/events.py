"""What the scheduler says in the service's event stream.

ECS writes why it cannot place, start or keep tasks as service events; each check here
fails on the current events of its kinds (checks/lib/service_events.py parses them and
says which are current) and passes the reason on as data for the playbooks.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed
from checker.registry import Prior, check
from checks.lib.labels import human_duration, service_label
from checks.lib.service_events import ServiceEvent, current, events_of, kinds
from checks.service.fields import services

_GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
_EVENTS_DOCS = _GUIDE + "service-event-messages-list.html"


def _affected(service: Item) -> int:
    desired = _int(service.get("desiredCount"))
    running = _int(service.get("runningCount"))
    return max(_int(service.get("pendingCount")), desired - running, 0)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _age(event: ServiceEvent, now: dt.datetime) -> str:
    if event.created_at is None:
        return "undated"
    return f"{human_duration(max((now - event.created_at).total_seconds(), 0))} ago"


def event_results(facts: Facts, wanted: frozenset[str], what: str) -> Iterator[Result]:
    """One result per service: fail when current events of the `wanted` kinds exist."""
    now = facts.collected_at
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        events = events_of(svc)
        hits = current(events, now, wanted)
        if not hits:
            older = [e for e in events if e.kind in wanted]
            note = (f"; the last one {_age(older[0], now)} was followed by a steady state"
                    if older else "")
            yield passed(arn, f"service {label}: no current {what} event among {len(events)} "
                         f"service events{note}", service=arn, events=len(events))
            continue
        latest = hits[0]
        reasons = Counter(e.reason or e.kind for e in hits)
        yield failed(
            arn,
            f"service {label}: {len(hits)} current {what} event(s), latest {_age(latest, now)}: "
            f"{latest.title} — {latest.message[:200]!r}",
            service=arn, kind=latest.kind, reason=latest.reason,
            diagnosis=latest.diagnosis, reasons=dict(sorted(reasons.items())),
            diagnoses=sorted({d for e in hits if (d := e.diagnosis)}),
            count=len(hits), latest=latest.to_data(),
            events=[e.to_data() for e in hits[:5]], affected_tasks=_affected(svc),
        )


@check(id="service-event-placement-failures", area="service", severity=Severity.HIGH,
       title="Service events: tasks cannot be placed",
       needs=("services",), docs=_EVENTS_DOCS,
       emits={"affected_tasks": None, "count": None, "diagnoses": None, "diagnosis": None,
              "events": None, "kind": tuple(kinds()), "latest": None, "reason": None,
              "reasons": None})
def service_event_placement_failures(facts: Facts, prior: Prior) -> Iterator[Result]:
    """ECS writes "was unable to place a task because no container instance met all of its
    requirements" with its closest-match reason (CPU, memory, ENI, ports, attribute,
    placement constraint, no instances, agent): the scheduler names the capacity problem.
    The reason goes into data.reason and data.diagnosis so playbooks can tell
    insufficient-cluster-capacity from eni-exhaustion, host-port-conflict,
    placement-constraint-unsatisfiable and agent-disconnected. Current = within the last
    hour, or within six hours with no steady state since (ECS hides duplicates that long)."""
    return event_results(facts, frozenset({"placement-failure"}), "placement failure")


@check(id="service-event-start-failures", area="service", severity=Severity.HIGH,
       title="Service events: tasks fail to start or deployments fail",
       needs=("services",), docs=_GUIDE + "service-throttle-logic.html",
       emits={"affected_tasks": None, "count": None, "diagnoses": None, "diagnosis": None,
              "events": None, "kind": tuple(kinds()), "latest": None, "reason": None,
              "reasons": None})
def service_event_start_failures(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The event "is unable to consistently start tasks successfully" means the scheduler has
    begun backing off between launch attempts; "deployment failed: tasks failed to start" and
    "rolling back to deployment" mean the circuit breaker gave up on a revision. The
    stopped tasks say why they failed; this check says the service has stopped trying."""
    return event_results(
        facts, frozenset({"start-failures", "deployment-failed", "deployment-rollback"}),
        "start failure")


@check(id="service-event-unhealthy-targets", area="service", severity=Severity.MEDIUM,
       title="Service events: tasks fail load balancer or container health checks",
       needs=("services",),
       docs=_GUIDE + "service-unhealthy-event-messages.html",
       emits={"affected_tasks": None, "count": None, "diagnosis": None, "diagnoses": None,
              "events": None, "kind": tuple(kinds()), "latest": None, "reason": None,
              "reasons": None})
def service_event_unhealthy_targets(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The events "is unhealthy in (target-group …) due to (reason …)" and "failed container
    health checks" name the failing check and its reason (HTTP codes, timeout, target group
    deleted); ECS replaces such tasks, so they surface as churn and reduced capacity."""
    return event_results(facts, frozenset({"lb-unhealthy", "container-unhealthy"}),
                         "health check failure")


@check(id="service-event-scheduler-blocked", area="service", severity=Severity.HIGH,
       title="Service events: quotas, throttling or deployment settings block the scheduler",
       needs=("services",), docs=_EVENTS_DOCS,
       emits={"affected_tasks": None, "count": None, "diagnosis": None, "diagnoses": None,
              "events": None, "kind": tuple(kinds()), "latest": None, "reason": None,
              "reasons": None})
def service_event_scheduler_blocked(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Some events say the scheduler is blocked by something other than the cluster's
    capacity: account quotas (tasks, vCPUs, task size, PROVISIONING tasks), API throttling,
    Fargate capacity unavailable, an internal error (often an unsupported AZ), deployment
    settings that leave no room (minimumHealthyPercent/maximumPercent), task scale-in
    protection, an agent that never started, or a deployment that could not launch all its
    tasks. Each is fixed somewhere else than the task definition."""
    return event_results(
        facts, frozenset({"throttled", "quota-limit", "capacity-unavailable", "internal-error",
                          "deployment-config-blocked", "task-protection", "agent-timeout",
                          "launch-incomplete"}),
        "scheduler-blocking")
