"""A service's AWS/ECS series, or the result that says why there is none to judge.

CPU and memory checks share this gate so that "nothing runs" (skipped), "not collected"
and "too little data" (unknown) read the same whichever metric is missing.
"""

from __future__ import annotations

from checker.facts import Facts, Item
from checker.model import Result, skipped, unknown
from checks.lib.labels import human_duration, service_label
from checks.lib.metric_refs import desired_count, find, min_data_s, running_count, service_dims
from checks.lib.series import Series
from checks.lib.taskdefs import EC2, platform


def service_series(facts: Facts, svc: Item, name: str,
                   stats: tuple[str, ...]) -> Series | Result:
    """The service's AWS/ECS series with enough data for a verdict, or the Result that
    says why there is none (nothing runs: skipped; not collected or too short: unknown)."""
    arn, label = str(svc.get("serviceArn")), service_label(svc)
    got = find(facts, "AWS/ECS", name, service_dims(svc), stats)
    if got is not None and got.covered_s >= min_data_s():
        return got
    if desired_count(svc) == 0 and running_count(svc) == 0:
        return skipped(arn, f"service {label}: desired count 0, nothing runs to measure",
                       service=arn)
    wanted = f"AWS/ECS {name} ({' or '.join(stats)})"
    if got is None:
        why = f"needs {wanted}; not in the bundle (metrics not collected for this service)"
    elif not len(got):
        why = (f"no {wanted} datapoint in the window: "
               + ("a service with no RUNNING task publishes nothing" if running_count(svc) == 0
                  else "the service published nothing" + _agent_hint(facts, svc)))
    else:
        why = (f"only {human_duration(got.covered_s)} of {wanted} data; a verdict needs "
               f"{human_duration(min_data_s())}")
    return unknown(arn, f"service {label}: {why}", service=arn, needs=wanted)


def _agent_hint(facts: Facts, svc: Item) -> str:
    """On EC2 the container instance's agent publishes the series, so an old one is a
    lead; Fargate has no agent the user runs, and an EC2 hint there sends them astray."""
    td = facts.task_definition(svc.get("taskDefinition")) if facts.has(
        "task_definitions") else None
    return " (ECS agent too old on its container instances?)" if platform(
        td or {}, svc) == EC2 else ""
