"""Container start order (`dependsOn`) that is never satisfied.

With `dependsOn`, ECS starts a container only once each container it names has reached
the condition: START (started), COMPLETE (exited), SUCCESS (exited 0) or HEALTHY (its
health check passes). A sidecar that never gets healthy (an Envoy proxy with a bad
configuration) or an init container that fails (a migration that exits 1) keeps the
essential container from ever starting: the task stops, ECS starts another, and the
stopped tasks show the application container with no exit code beside the dependency
that failed. Read as a crash loop, it sends people to the application's code; the fix is
in the sidecar or the init step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, obj, objs
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check
from checks.lib.labels import service_label, task_id
from checks.lib.stop_reasons import task_definition_of
from checks.lib.values import int_or_none
from checks.service.fields import services

_DOCS = ("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
         "task_definition_parameters.html#container_definition_dependson")


def gated(td: Item | None) -> list[tuple[str, str, str]]:
    """(essential container, the container it depends on, condition) of a task definition."""
    out = []
    for c in objs(obj(td).get("containerDefinitions")):
        if c.get("essential", True) is False:
            continue
        for dep in objs(c.get("dependsOn")):
            if dep.get("containerName") and dep.get("condition"):
                out.append((str(c.get("name")), str(dep["containerName"]),
                            str(dep["condition"]).upper()))
    return out


def unmet(condition: str, dependency: Item) -> str | None:
    """Why the stopped dependency never met `condition`, or None when it did (or the task
    does not say)."""
    code = int_or_none(dependency.get("exitCode"))
    health = str(dependency.get("healthStatus") or "UNKNOWN")
    if condition == "SUCCESS" and code not in (None, 0):
        return f"exited {code}"
    if condition == "COMPLETE" and code is None and dependency.get("reason"):
        return f"never completed ({dependency['reason']})"
    if condition == "HEALTHY" and health != "HEALTHY":
        return f"health {health}" if health == "UNHEALTHY" else "never reported HEALTHY"
    if condition == "START" and code is None and not dependency.get("runtimeId"):
        return "never started"
    return None


#: Stops somebody asked for: a task scaled in while its sidecar was still starting shows
#: the same states, so only a dependency that definitely failed counts for those.
REQUESTED = frozenset({"ServiceSchedulerInitiated", "UserInitiated"})


def _definite(dependency: Item) -> bool:
    """The dependency failed on its own: a non-zero exit, or an UNHEALTHY health check."""
    code = int_or_none(dependency.get("exitCode"))
    return code not in (None, 0) or dependency.get("healthStatus") == "UNHEALTHY"


def blocked_tasks(facts: Facts, stops: list[Item]) -> list[tuple[Item, str, str, str, str]]:
    """(task, essential container, dependency, condition, why) for each stopped task whose
    essential container never ran because a dependency did not meet its condition."""
    out = []
    for task in stops:
        by_name = {str(c.get("name")): c for c in objs(task.get("containers"))}
        for essential, dep, condition in gated(task_definition_of(facts, task)):
            app, side = by_name.get(essential), by_name.get(dep)
            if app is None or side is None or app.get("exitCode") is not None:
                continue  # the essential container ran: its own exit explains the stop
            why = unmet(condition, side)
            if why is not None and (_definite(side) or task.get("stopCode") not in REQUESTED):
                out.append((task, essential, dep, condition, why))
                break
    return out


def _result(svc: Item, hits: list[tuple[Item, str, str, str, str]], stops: int) -> Result:
    arn, label = str(svc.get("serviceArn")), service_label(svc)
    if not hits:
        return passed(arn, f"service {label}: none of its {stops} stopped task(s) stopped with "
                      "an essential container held back by dependsOn", service=arn)
    _, essential, dep, condition, why = hits[0]
    pairs = sorted({f"{d} ({c}): {w}" for _, _, d, c, w in hits})
    desired = int_or_none(svc.get("desiredCount")) or 0
    running = int_or_none(svc.get("runningCount")) or 0
    data: dict[str, Any] = {
        "container": essential, "dependency": dep, "condition": condition,
        "dependencies": pairs, "count": len(hits),
        "tasks": sorted(task_id(t) for t, *_ in hits)[:20],
        "affected_tasks": max(desired - running, 0) or min(len(hits), desired) or len(hits)}
    return failed(arn, f"service {label}: {len(hits)} stopped task(s) never started essential "
                  f"container {essential}: it dependsOn {dep} ({condition}), which {why}"
                  + (f" (also: {'; '.join(pairs[1:])})" if len(pairs) > 1 else ""),
                  service=arn, **data)


@check(id="stopped-task-dependency-unmet", area="taskdef", severity=Severity.CRITICAL,
       title="Stopped tasks: an essential container never started, its dependsOn unmet",
       needs=("services", "tasks", "task_definitions"), docs=_DOCS,
       emits={"affected_tasks": None, "condition": ("COMPLETE", "HEALTHY", "START", "SUCCESS"),
              "container": None, "count": None, "dependencies": None, "dependency": None,
              "tasks": None},
       products=("scan",))
def stopped_task_dependency_unmet(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A stopped task whose essential container has no exit code never ran it; when that
    container dependsOn another whose state contradicts the condition (exited non-zero
    for SUCCESS, not HEALTHY for HEALTHY, never exited for COMPLETE, never started for
    START), the dependency is why. Services whose task definitions use no dependsOn on an
    essential container are skipped."""
    by_service: dict[str, list[Item]] = {}
    for task in facts.stopped_tasks_with_history():
        svc = facts.service_of_task(task)
        if svc is not None:
            by_service.setdefault(str(svc.get("serviceArn")), []).append(task)
    for svc in services(facts):
        arn = str(svc.get("serviceArn"))
        stops = sorted(by_service.get(arn, []), key=lambda t: str(t.get("taskArn")))
        tds = {str(t.get("taskDefinitionArn")) for t in stops} | {str(svc.get("taskDefinition"))}
        if not any(gated(facts.task_definition(td)) for td in sorted(tds)):
            yield skipped(arn, f"service {service_label(svc)}: no essential container uses "
                          "dependsOn", service=arn)
            continue
        yield _result(svc, blocked_tasks(facts, stops), len(stops))
