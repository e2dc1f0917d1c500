"""Task-definition checks: static mistakes that cause incidents later."""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts
from checker.model import Result, Severity, failed, passed
from checker.registry import Prior, check
from checks._common import int_or_none, service_label, task_definitions_in_scope, td_label


@check(id="container-no-memory-limit", area="taskdef", severity=Severity.MEDIUM,
       title="Container has no memory hard limit",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_memory")
def container_no_memory_limit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """With only `memoryReservation` (a soft limit) and no task-level memory, a container
    may take all the memory of its host: one leak then starves or OOM-kills its neighbours.
    A task-level memory (always set on Fargate) bounds the container, so that passes."""
    for td, services in task_definitions_in_scope(facts):
        arn = str(td.get("taskDefinitionArn", td_label(td)))
        task_mem = int_or_none(td.get("memory"))
        users: list[str | None] = [str(s["serviceArn"]) for s in services] or [None]
        for ctr in td.get("containerDefinitions", []) or []:
            name = ctr.get("name", "?")
            hard, soft = int_or_none(ctr.get("memory")), int_or_none(ctr.get("memoryReservation"))
            where = f"task def {td_label(td)} container {name}"
            for svc_arn in users:
                who = next((service_label(s) for s in services
                            if str(s["serviceArn"]) == svc_arn), None)
                suffix = f" (used by service {who})" if who else ""
                if hard is not None:
                    yield passed(arn, f"{where}: memory hard limit {hard} MiB{suffix}",
                                 service=svc_arn, container=name, memory=hard)
                elif task_mem is not None:
                    yield passed(arn, f"{where}: bounded by task memory {task_mem} MiB{suffix}",
                                 service=svc_arn, container=name, task_memory=task_mem)
                else:
                    soft_txt = f"memoryReservation {soft} MiB (soft)" if soft else "no memory"
                    yield failed(
                        arn,
                        f"{where}: {soft_txt} and no hard limit, no task-level memory — it can "
                        f"use all of its host's memory{suffix}",
                        service=svc_arn, container=name, memory_reservation=soft,
                    )
