"""Helpers shared by check modules: knowledge tables, names, task-definition usage."""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

from checker.facts import Facts, Item, arn_name, parse_time, task_definition_label


@cache
def table(name: str) -> Mapping[str, Any]:
    """A knowledge table from checks/data, loaded once (STYLE.md rule 4)."""
    text = resources.files("checks").joinpath("data", f"{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict) and "source" in data, f"checks/data/{name}.yaml needs source:"
    return data


def service_label(service: Item) -> str:
    """`prod/web`: cluster and service, the way engineers name a service."""
    cluster = arn_name(str(service.get("clusterArn", ""))) or "?"
    return f"{cluster}/{service.get('serviceName', arn_name(str(service.get('serviceArn', ''))))}"


def td_label(task_definition: Item) -> str:
    arn = str(task_definition.get("taskDefinitionArn", ""))
    if arn:
        return task_definition_label(arn)
    return f"{task_definition.get('family', '?')}:{task_definition.get('revision', '?')}"


def task_id(task: Item) -> str:
    return arn_name(str(task.get("taskArn", "")))


def uptime_seconds(task: Item) -> float | None:
    """How long the task ran before it stopped (startedAt → stoppedAt), when both are known."""
    start, stop = parse_time(task.get("startedAt")), parse_time(
        task.get("stoppedAt") or task.get("stoppingAt")
    )
    if start is None or stop is None or stop < start:
        return None
    return (stop - start).total_seconds()


def human_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{round(seconds / 60)}m"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{round(rest / 60):02d}m" if hours < 48 else f"{round(hours / 24)}d"


def span(values: list[float]) -> str:
    """`5h12m–8h40m (median 6h03m)` for a list of durations."""
    if not values:
        return "unknown"
    lo, hi, med = min(values), max(values), statistics.median(values)
    if len(values) == 1:
        return human_duration(lo)
    return f"{human_duration(lo)}–{human_duration(hi)} (median {human_duration(med)})"


def services_using(facts: Facts) -> dict[str, list[Item]]:
    """Task definition ARN → services whose current deployments run it."""
    out: dict[str, list[Item]] = {}
    for svc in facts.services if facts.has("services") else []:
        arns = {svc.get("taskDefinition")} | {
            d.get("taskDefinition") for d in svc.get("deployments", []) or []
        }
        for arn in sorted(a for a in arns if a):
            td = facts.task_definition(arn)
            key = str(td.get("taskDefinitionArn")) if td else str(arn)
            out.setdefault(key, []).append(svc)
    return out


def task_definitions_in_scope(facts: Facts) -> Iterator[tuple[Item, list[Item]]]:
    """Every collected task definition with the services that use it (maybe none)."""
    using = services_using(facts)
    for td in sorted(facts.items("task_definitions"),
                     key=lambda t: str(t.get("taskDefinitionArn", ""))):
        yield td, using.get(str(td.get("taskDefinitionArn")), [])


def int_or_none(value: Any) -> int | None:
    """ECS mixes ints and strings ("1024", "1 vcpu" in hand-written files) for sizes."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        return int(value.strip())
    return None


def burstable(instance_type: str | None) -> dict[str, Any] | None:
    """Baseline facts for a burstable type (`t3.medium`), or None for any other type."""
    if not instance_type or "." not in instance_type:
        return None
    family, size = instance_type.split(".", 1)
    data = table("burstable_baselines")
    row = data["families"].get(family, {}).get(size)
    if row is None:
        return None
    per_hour, max_credits, vcpus, baseline = row
    return {"family": family, "credits_per_hour": per_hour, "max_credits": max_credits,
            "vcpus": vcpus, "baseline_pct": baseline,
            "default_mode": data["default_mode"][family]}
