"""Stopped tasks: why they stopped, grouped per service.

ECS keeps stopped tasks visible for about an hour (AWS-FACTS.md §5), so "the window" of
these checks is what the bundle shows: roughly the last hour before collection.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, arn_name, task_definition_label
from checker.model import Result, Severity, failed, passed, unknown
from checker.registry import Prior, check
from checks._common import human_duration, service_label, span, task_id, uptime_seconds
from checks._stops import Stop, classify

OOM_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html"

#: Below this median uptime an OOM is "at start / under load"; above LEAK_UPTIME it is the
#: signature of a leak (memory grows with time, not with a burst).
LEAK_UPTIME_S = 3600.0
START_UPTIME_S = 900.0
#: This many application-error exits of one service in the window make a crash loop.
CRASH_LOOP_MIN = 3


def _by_subject(facts: Facts) -> dict[str, tuple[Item | None, list[Item]]]:
    """Stopped tasks keyed by service ARN (or by task group for standalone tasks)."""
    out: dict[str, tuple[Item | None, list[Item]]] = {}
    groups: dict[str, list[Item]] = defaultdict(list)
    owners: dict[str, Item | None] = {}
    for task in facts.stopped_tasks():
        svc = facts.service_of_task(task)
        key = str(svc["serviceArn"]) if svc else str(task.get("group") or task.get("taskArn"))
        groups[key].append(task)
        owners[key] = svc
    for key in sorted(groups):
        out[key] = (owners[key], sorted(groups[key], key=lambda t: str(t.get("taskArn"))))
    return out


def _arn(svc: Item | None) -> str | None:
    return str(svc["serviceArn"]) if svc else None


def _label(key: str, svc: Item | None) -> str:
    return f"service {service_label(svc)}" if svc else f"tasks of {key}"


def _memory_limit(facts: Facts, task: Item, container: str | None) -> int | None:
    td = facts.task_definition(task.get("taskDefinitionArn")) if facts.has(
        "task_definitions") else None
    for c in (td or {}).get("containerDefinitions", []) or []:
        if c.get("name") == container and isinstance(c.get("memory"), int):
            return int(c["memory"])
    raw = task.get("memory") or (td or {}).get("memory")
    return int(raw) if isinstance(raw, str | int) and str(raw).isdigit() else None


def _revision_data(task: Item) -> dict[str, Any]:
    """`family`, `revision` and `previous_revision` of the task's task definition, so a
    playbook can print a concrete rollback command."""
    label = task_definition_label(str(task.get("taskDefinitionArn", "")))
    family, _, rev = label.rpartition(":")
    if not family or not rev.isdigit():
        return {}
    out: dict[str, Any] = {"family": family, "revision": rev, "task_definition": label}
    if int(rev) > 1:
        out["previous_revision"] = str(int(rev) - 1)
    return out


def _oom_stops(tasks: list[Item]) -> list[tuple[Item, Stop]]:
    return [(t, s) for t in tasks if (s := classify(t)).category == "oom"]


@check(id="stopped-task-oom", area="stopped_tasks", severity=Severity.HIGH,
       title="Stopped tasks killed for exceeding their memory limit",
       needs=("tasks", "services"), docs=OOM_DOCS)
def stopped_task_oom(facts: Facts, prior: Prior) -> Iterator[Result]:
    """An OOM kill is reported as exit 137 and/or "OutOfMemoryError: Container killed due
    to memory usage" — and sometimes with exit 0 or no exit code, so the reason text is
    read first. Exit 137 after a requested stop is the stopTimeout kill, not OOM."""
    for key, (svc, tasks) in _by_subject(facts).items():
        ooms = _oom_stops(tasks)
        if not ooms:
            yield passed(key, f"{_label(key, svc)}: no OOM kills among {len(tasks)} stopped "
                         "tasks (~last hour)", service=_arn(svc))
            continue
        first_task, first = ooms[0]
        containers = sorted({s.container or "?" for _, s in ooms})
        limit = _memory_limit(facts, first_task, first.container)
        uptimes = [u for t, _ in ooms if (u := uptime_seconds(t)) is not None]
        desired = int(svc.get("desiredCount", 0)) if svc else 0
        limit_txt = f", memory hard limit {limit} MiB" if limit else ""
        yield failed(
            key,
            f"{_label(key, svc)}: {len(ooms)} of {len(tasks)} stopped tasks OOM-killed in "
            f"~the last hour (container {', '.join(containers)}, exit {first.exit_code}: "
            f"{first.reason[:90]!r}){limit_txt}; uptime before kill {span(uptimes)}",
            service=_arn(svc),
            count=len(ooms), stopped=len(tasks), containers=containers,
            memory_limit_mib=limit, uptimes_s=[round(u) for u in uptimes],
            uptime=span(uptimes), tasks=[task_id(t) for t, _ in ooms],
            affected_tasks=min(len(ooms), desired) if desired else len(ooms),
        )


@check(id="oom-after-long-uptime", area="stopped_tasks", severity=Severity.HIGH,
       title="OOM kills come after hours of uptime (leak signature)",
       needs=("tasks", "services"), after=("stopped-task-oom",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/memory-management.html")
def oom_after_long_uptime(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Memory that is too small for the load runs out soon after start; memory that leaks
    runs out after a long, similar uptime. Without metrics this uptime is the best leak
    evidence the bundle holds; the CloudWatch memory trend confirms it when collected."""
    for finding in prior.failed("stopped-task-oom"):
        uptimes = [float(u) for u in finding.data.get("uptimes_s", [])]
        who = finding.message.split(":", 1)[0]
        if not uptimes:
            yield unknown(finding.resource, f"{who}: startedAt/stoppedAt missing, cannot "
                          "tell a leak from an undersized limit", service=finding.service)
            continue
        median = statistics.median(uptimes)
        if median >= LEAK_UPTIME_S and min(uptimes) >= START_UPTIME_S:
            yield failed(finding.resource,
                         f"{who}: OOM-killed after {span(uptimes)} of uptime — memory grows "
                         "with time, the signature of a leak", service=finding.service,
                         median_uptime=human_duration(median), uptimes_s=uptimes)
        else:
            yield passed(finding.resource,
                         f"{who}: OOM-killed {span(uptimes)} after start — the limit is too "
                         "small for the load rather than a slow leak", service=finding.service,
                         median_uptime=human_duration(median), uptimes_s=uptimes)


@check(id="stopped-task-app-exit", area="stopped_tasks", severity=Severity.HIGH,
       title="Essential container keeps exiting with an error (crash loop)",
       needs=("tasks", "services"), docs=OOM_DOCS)
def stopped_task_app_exit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Three or more application-error exits (non-zero, not OOM, not a requested stop) of
    one service within the visible window is a crash loop: ECS restarts the task, it dies
    again, and the service scheduler backs off."""
    for key, (svc, tasks) in _by_subject(facts).items():
        errs = [(t, s) for t in tasks
                if (s := classify(t)).category in ("app-error", "segfault")]
        service = _arn(svc)
        running = int(svc.get("runningCount", 0)) if svc else None
        enough = len(errs) >= CRASH_LOOP_MIN or (len(errs) >= 2 and running == 0)
        if not enough:
            yield passed(key, f"{_label(key, svc)}: {len(errs)} application-error exits among "
                         f"{len(tasks)} stopped tasks", service=service)
            continue
        codes = sorted({s.exit_code for _, s in errs if s.exit_code is not None})
        containers = sorted({s.container or "?" for _, s in errs})
        uptimes = [u for t, _ in errs if (u := uptime_seconds(t)) is not None]
        desired = int(svc.get("desiredCount", 0)) if svc else 0
        yield failed(
            key,
            f"{_label(key, svc)}: essential container {', '.join(containers)} exited with code "
            f"{', '.join(map(str, codes))} in {len(errs)} of {len(tasks)} stopped tasks "
            f"(~last hour); each ran {span(uptimes)}",
            service=service, count=len(errs), exit_codes=codes, containers=containers,
            tasks=[task_id(t) for t, _ in errs], uptimes_s=[round(u) for u in uptimes],
            uptime=span(uptimes),
            cluster=arn_name(str(errs[0][0].get("clusterArn", ""))),
            **_revision_data(errs[0][0]),
            affected_tasks=desired - (running or 0) if desired else len(errs),
        )
