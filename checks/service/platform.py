"""Which Fargate platform version the service's tasks run on, against the current one.

A platform version is the kernel and container runtime under a Fargate task. A service or
task set pinned to an explicit old version keeps launching on it (the `LATEST` a service
asks for moves on only at its next deployment, and an explicit one never does); a retired
version cannot launch new tasks at all. The current versions are a knowledge table,
checks/data/fargate_platform_versions.yaml. Compared with Prowler's
ecs_service_fargate_latest_platform_version, this one also reads task sets and the
versions the running tasks report, so a service that says LATEST but still runs tasks
started before LATEST moved is seen:
https://github.com/prowler-cloud/prowler/tree/master/prowler/providers/aws/services/ecs
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, obj, task_sets
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.knowledge import table
from checks.lib.labels import service_label, task_id
from checks.lib.network.topology import is_fargate, live_tasks, task_definition_of
from checks.lib.scope import runner_label
from checks.service.fields import services

DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/platform-fargate.html"
LATEST = "LATEST"
Version = tuple[int, ...]


def version(text: object) -> Version | None:
    """`1.4.0` → (1, 4, 0); `1.4` reads as 1.4.0; anything else (LATEST, junk) → None."""
    parts = str(text or "").strip().split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in [*parts, "0", "0"][:3])


def family(item: Item, td: Item | None = None) -> str:
    """`linux` or `windows`: the platformFamily ECS reports, else what the task definition
    asks for (runtimePlatform), else Linux (Fargate's default)."""
    raw = str(item.get("platformFamily") or obj((td or {}).get("runtimePlatform")).get(
        "operatingSystemFamily") or "LINUX")
    return "windows" if raw.upper().startswith("WINDOWS") else "linux"


def current(os_family: str) -> Version:
    found = version(table("fargate_platform_versions")["current"][os_family])
    assert found is not None, f"fargate_platform_versions.yaml: current {os_family}"
    return found


def retired(facts: Facts, os_family: str, pv: Version) -> bool:
    """Whether `pv` was retired (cannot launch tasks) when the bundle was collected."""
    row = table("fargate_platform_versions").get("retired", {}).get(os_family)
    if not row:
        return False
    last, since = version(row["version"]), dt.date.fromisoformat(str(row["since"]))
    return last is not None and pv <= last and facts.collected_at.date() >= since


def _text(pv: Version) -> str:
    return ".".join(str(p) for p in pv)


def _runners(svc: Item) -> list[Item]:
    """What launches the service's tasks: its task sets when it has some (EXTERNAL,
    CODE_DEPLOY), else the service itself."""
    return task_sets(svc) or [svc]


@check(id="fargate-platform-version-old", area="service", severity=Severity.MEDIUM,
       title="Fargate tasks run an old platform version", needs=("services",), docs=DOCS,
       emits=("affected_tasks", "current", "family", "pinned", "retired", "task_versions"))
def fargate_platform_version_old(facts: Facts, prior: Prior) -> Iterator[Result]:
    """An old platform version misses the kernel and runtime fixes of the current one and
    features that need it (EFS, ECS Exec, the 20 GiB ephemeral storage, SYS_PTRACE);
    a retired one starts no new task, so the service cannot scale or replace a task.
    A service or task set pinned to an older version fails; so does one on LATEST whose
    running tasks still report an older version (started before LATEST moved: a forced
    deployment replaces them). High when the version is retired."""
    tasks_known = facts.has("tasks")
    for svc in services(facts):
        yield _service_result(facts, svc, tasks_known)
    if tasks_known:
        yield from _standalone(facts)


def _service_result(facts: Facts, svc: Item, tasks_known: bool) -> Result:
    arn, label = str(svc.get("serviceArn")), service_label(svc)
    running = live_tasks(facts, svc) if tasks_known else []
    runners = [r for r in _runners(svc) if is_fargate(r, running)]
    if not runners:
        return skipped(arn, f"service {label}: not on Fargate", service=arn)
    os_family = family(svc, task_definition_of(facts, svc))
    now = current(os_family)
    pinned, odd = [], []
    for runner in runners:
        raw = str(runner.get("platformVersion") or LATEST)
        pv = version(raw)
        if raw.upper() == LATEST:
            continue
        if pv is None:
            odd.append(f"{runner_label(runner)} {raw}")
        elif pv < now:
            pinned.append((runner_label(runner), pv))
    on = Counter(_text(v) for t in running if (v := version(t.get("platformVersion"))))
    old_tasks = {k: n for k, n in on.items() if (v := version(k)) is not None and v < now}
    data: dict[str, Any] = {"family": os_family, "current": _text(now),
                            "pinned": [f"{who} {_text(pv)}" for who, pv in pinned],
                            "task_versions": dict(sorted(on.items()))}
    if odd and not pinned:
        return unknown(arn, f"service {label}: platform version not understood "
                       f"({', '.join(odd)})", service=arn, **data)
    if not pinned and not old_tasks:
        shown = ", ".join(f"{k} ×{n}" for k, n in sorted(on.items())) or "no task reported"
        return passed(arn, f"service {label}: {os_family.capitalize()} platform version "
                      f"current ({_text(now)}; running tasks: {shown})", service=arn, **data)
    oldest = min([pv for _, pv in pinned] + [v for k in old_tasks if (v := version(k))])
    gone = retired(facts, os_family, oldest)
    data.update(retired=gone, affected_tasks=sum(old_tasks.values()))
    return failed(arn, _message(svc, label, pinned, old_tasks, now, gone), service=arn,
                  severity=Severity.HIGH if gone else None, **data)


def _message(svc: Item, label: str, pinned: list[tuple[str, Version]],
             old_tasks: dict[str, int], now: Version, gone: bool) -> str:
    cluster = label.split("/", 1)[0]
    parts = [f"{'' if who == 'service' else who + ' '}pinned to {_text(pv)}"
             for who, pv in pinned]
    if old_tasks:
        parts.append("running tasks on " + ", ".join(
            f"{k} ×{n}" for k, n in sorted(old_tasks.items())))
    why = ("retired: no new task can start on it" if gone
           else "older than the current one")
    if any(who != "service" for who, _ in pinned):
        fix = "create a new task set with --platform-version LATEST and shift traffic to it"
    else:
        fix = (f"aws ecs update-service --cluster {cluster} --service "
               f"{svc.get('serviceName')} --platform-version LATEST --force-new-deployment")
    return (f"service {label}: {'; '.join(parts)} — current is {_text(now)}, {why}; "
            f"{fix}")


def _standalone(facts: Facts) -> Iterator[Result]:
    """Running Fargate tasks no service owns (RunTask, scheduled tasks), when old: one
    finding each; up-to-date ones say nothing (a batch fleet would drown the report)."""
    for task in sorted(facts.tasks, key=lambda t: str(t.get("taskArn"))):
        if (task.get("lastStatus") != "RUNNING" or task.get("launchType") != "FARGATE"
                or facts.service_of_task(task) is not None):
            continue
        pv = version(task.get("platformVersion"))
        os_family = family(task)
        now = current(os_family)
        if pv is None or pv >= now:
            continue
        gone = retired(facts, os_family, pv)
        yield failed(str(task.get("taskArn")), f"task {task_id(task)} ({task.get('group')}): "
                     f"{os_family.capitalize()} platform version {_text(pv)}, current is "
                     f"{_text(now)}{' (retired)' if gone else ''}; run it with "
                     "--platform-version LATEST",
                     severity=Severity.HIGH if gone else None, family=os_family,
                     current=_text(now), retired=gone, affected_tasks=1)
