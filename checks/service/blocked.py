"""Tasks that never start because of something outside the cluster: an account quota, or
Fargate out of capacity in the service's Availability Zones.

Neither shows in the task definition or the cluster's instances. ECS says it twice: in the
service's events ("was unable to place a task. Reason: You've reached the limit on the
number of tasks …", "… Capacity is unavailable at this time …") and in the reasons of
the tasks it stopped before they ran. Both texts are read with the one event table
(checks/data/event_patterns.yaml `quota-limit` and `capacity-unavailable`), so a message
classified in one place is classified the same in the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, objs
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check
from checks.lib.labels import service_label, task_id
from checks.lib.service_events import ServiceEvent, current, events_of, parse
from checks.lib.values import int_or_none
from checks.service.fields import services

_GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
FARGATE_PROVIDERS = frozenset({"FARGATE", "FARGATE_SPOT"})


@dataclass(frozen=True, slots=True)
class Blocked:
    """What one service's events and stopped tasks say about one blocking kind."""

    events: list[ServiceEvent]
    stops: list[tuple[Item, ServiceEvent]]

    @property
    def hits(self) -> list[ServiceEvent]:
        return [*self.events, *(e for _, e in self.stops)]

    def reasons(self) -> list[str]:
        return sorted({e.reason for e in self.hits if e.reason})

    def latest(self) -> str:
        return (self.events[0] if self.events else self.stops[0][1]).message


def _stop_texts(task: Item) -> list[str]:
    return [str(task.get("stoppedReason") or ""),
            *(str(c.get("reason") or "") for c in objs(task.get("containers")))]


def blocked(facts: Facts, svc: Item, kind: str) -> Blocked:
    """Current service events of `kind`, and stopped tasks whose reason parses to it."""
    events = current(events_of(svc), facts.collected_at, frozenset({kind}))
    stops: list[tuple[Item, ServiceEvent]] = []
    if facts.has("tasks"):
        for task in _stopped_by_service(facts).get(str(svc.get("serviceArn")), ()):
            hit = next((e for text in _stop_texts(task) if text
                        and (e := _parsed(facts, text)).kind == kind), None)
            if hit is not None:
                stops.append((task, hit))
    stops.sort(key=lambda pair: str(pair[0].get("taskArn")))
    return Blocked(events, stops)


def _parsed(facts: Facts, text: str) -> ServiceEvent:
    """parse(text) once per reason text and analysis: stopped tasks repeat a few reasons
    thousands of times, both blocked checks read every one, and parsing tries the event
    patterns in turn. Shared: do not change it."""
    return facts.memo(("blocked", "parse", text), lambda: parse(text))


def _stopped_by_service(facts: Facts) -> dict[str, list[Item]]:
    """Stopped tasks (with history) by their service's ARN, once per analysis: each service
    scanning every stopped task made the check quadratic in the account's size."""
    def build() -> dict[str, list[Item]]:
        out: dict[str, list[Item]] = {}
        for task in facts.stopped_tasks_with_history():
            owner = facts.service_of_task(task)
            if owner is not None:
                out.setdefault(str(owner.get("serviceArn")), []).append(task)
        return out
    return facts.memo(("blocked", "stopped_by_service"), build)


def _shortfall(svc: Item, fallback: int) -> int:
    desired = int_or_none(svc.get("desiredCount")) or 0
    running = int_or_none(svc.get("runningCount")) or 0
    return max(desired - running, 0) or min(fallback, desired) or fallback


def _said(found: Blocked) -> str:
    where = []
    if found.events:
        where.append(f"{len(found.events)} current service event(s)")
    if found.stops:
        where.append(f"{len(found.stops)} stopped task(s)")
    return " and ".join(where)


@check(id="service-quota-blocks-tasks", area="service", severity=Severity.HIGH,
       title="An account quota stops new tasks of the service",
       needs=("services",), docs=_GUIDE + "service-quotas.html",
       emits={"affected_tasks": None, "count": None, "latest": None,
              "reasons": ("task-limit", "vcpu-limit", "cpu-configuration",
                          "memory-configuration", "provisioning-limit", "eni-limit",
                          "target-limit", "unspecified"),
              "tasks": None})
def service_quota_blocks_tasks(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A quota is account-wide: the service asking for more tasks is often not the one
    using them up, and no task-definition or cluster change helps — only a quota increase
    or fewer tasks elsewhere. ECS names the quota (tasks, Fargate vCPUs, task size, tasks
    PROVISIONING) in the service event, and EC2 or ELB name theirs (network interfaces,
    targets) in the reasons of the tasks that could not start; both are read here. The
    stopped tasks are read when collected, the events always."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        found = blocked(facts, svc, "quota-limit")
        if not found.hits:
            yield passed(arn, f"service {label}: no service event or stopped task names an "
                         "account quota", service=arn)
            continue
        reasons = found.reasons()
        counts = Counter(e.reason or "unspecified" for e in found.hits)
        named = ", ".join(f"{r} ×{n}" for r, n in sorted(counts.items()))
        yield failed(arn, f"service {label}: {_said(found)} name an account quota ({named}): "
                     f"{found.latest()[:200]!r}", service=arn, reasons=reasons,
                     count=len(found.hits), latest=found.latest(),
                     tasks=[task_id(t) for t, _ in found.stops][:20],
                     affected_tasks=_shortfall(svc, len(found.hits)))


def capacity_providers(svc: Item) -> list[str]:
    """The capacity providers the service launches on (its launch type when it has none)."""
    names = [str(s.get("capacityProvider")) for s in objs(svc.get("capacityProviderStrategy"))
             if s.get("capacityProvider")]
    if not names:
        for dep in objs(svc.get("deployments")):
            names += [str(s.get("capacityProvider"))
                      for s in objs(dep.get("capacityProviderStrategy"))
                      if s.get("capacityProvider")]
    if not names and svc.get("launchType"):
        names = [str(svc["launchType"])]
    return sorted(set(names))


def _subnets_azs(facts: Facts, svc: Item) -> list[str]:
    conf = svc.get("networkConfiguration") or {}
    subnets = (conf.get("awsvpcConfiguration") or {}).get("subnets") or []
    if not facts.has("subnets"):
        return []
    azs = {str(s.get("AvailabilityZone")) for sid in subnets
           if (s := facts.lookup("subnets", "SubnetId", sid)) and s.get("AvailabilityZone")}
    return sorted(azs)


@check(id="service-fargate-capacity-unavailable", area="service", severity=Severity.HIGH,
       title="Fargate has no capacity for the service's tasks",
       needs=("services",), docs=_GUIDE + "service-event-messages-list.html",
       emits={"affected_tasks": None, "availability_zones": None, "capacity_providers": None,
              "count": None, "latest": None, "spot": (True, False), "tasks": None})
def service_fargate_capacity_unavailable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """"Capacity is unavailable at this time. Please try again later or in a different
    availability zone" means Fargate (or Fargate Spot, which AWS reclaims first) has no
    room for the task size in the service's subnets' zones: nothing in the account is
    wrong, and the fix is more zones, an On-Demand share beside Spot, or another size.
    EC2-backed services are skipped: their capacity is the cluster's."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        providers = capacity_providers(svc)
        if not FARGATE_PROVIDERS & set(providers):
            yield skipped(arn, f"service {label}: not on Fargate "
                          f"({', '.join(providers) or 'no launch type'})", service=arn)
            continue
        found = blocked(facts, svc, "capacity-unavailable")
        spot = "FARGATE_SPOT" in providers
        data: dict[str, Any] = {"capacity_providers": providers, "spot": spot,
                "availability_zones": _subnets_azs(facts, svc)}
        if not found.hits:
            yield passed(arn, f"service {label}: no service event or stopped task says "
                         f"{'/'.join(providers)} capacity is unavailable", service=arn, **data)
            continue
        zones = ", ".join(data["availability_zones"]) or "its zones"
        yield failed(arn, f"service {label} ({'/'.join(providers)}): {_said(found)} say "
                     f"Fargate capacity is unavailable in {zones}: "
                     f"{found.latest()[:200]!r}", service=arn, count=len(found.hits),
                     latest=found.latest(), tasks=[task_id(t) for t, _ in found.stops][:20],
                     affected_tasks=_shortfall(svc, len(found.hits)), **data)
