"""How every service check reads a service: in ARN order, counts that may be absent,
ages against the moment of collection, and the task definition it runs."""

from __future__ import annotations

from typing import Any

from checker.facts import Facts, Item, parse_time
from checks.lib.values import int_or_none

#: lastStatus of a task ECS has accepted but not started yet.
PENDING_STATES = ("PROVISIONING", "PENDING", "ACTIVATING")


def services(facts: Facts) -> list[Item]:
    """The services in ARN order, so findings come out the same on every run."""
    return sorted(facts.services, key=lambda s: str(s.get("serviceArn")))


def count(value: Any) -> int:
    """A count field (desiredCount, MaxSize, …): absent or odd reads as none."""
    n = int_or_none(value)
    return n if n is not None else 0


def age_s(facts: Facts, value: Any) -> float | None:
    """How long before the collection `value` (a timestamp) was; None when unreadable."""
    at = parse_time(value)
    return None if at is None else (facts.collected_at - at).total_seconds()


def td_of(facts: Facts, svc: Item) -> Item | None:
    arn = svc.get("taskDefinition")
    return facts.task_definition(arn) if isinstance(arn, str) else None
