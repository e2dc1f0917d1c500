"""Task and container sizes: memory limits, Fargate task sizes, CPU reservation.

Real task definitions mix ints, digit strings, "1 vcpu" and template placeholders; the
parsers in checks/lib/taskdefs.py turn those into numbers or None, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.taskdefs import (
    FARGATE,
    PARAMS_DOCS,
    compatibilities,
    container_name,
    containers,
    cpu_units,
    each_container,
    fargate_size,
    is_windows,
    memory_mib,
    uses,
)
from checks.lib.values import int_or_none


@check(id="container-no-memory-limit", area="taskdef", severity=Severity.MEDIUM,
       title="Container has no memory hard limit",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_memory",
       emits=("affected_tasks", "container", "memory", "memory_reservation", "task_memory"))
def container_no_memory_limit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """With only `memoryReservation` (a soft limit) and no task-level memory, a container
    may take all the memory of its host: one leak then starves or OOM-kills its neighbours.
    A task-level memory (always set on Fargate) bounds the container, so that passes."""
    for use, ctr in each_container(facts):
        name, where, sfx = container_name(ctr), use.where(ctr), use.suffix
        hard, soft = int_or_none(ctr.get("memory")), int_or_none(ctr.get("memoryReservation"))
        task_mem = memory_mib(use.td.get("memory"))
        path = use.path(ctr, "memory")
        if hard is not None:
            yield passed(use.arn, f"{where}: memory hard limit {hard} MiB{sfx}",
                         service=use.service_arn, path=path, container=name, memory=hard)
        elif task_mem is not None:
            yield passed(use.arn, f"{where}: bounded by task memory {task_mem} MiB{sfx}",
                         service=use.service_arn, path=path, container=name,
                         task_memory=task_mem)
        else:
            soft_txt = f"memoryReservation {soft} MiB (soft)" if soft else "no memory"
            yield failed(
                use.arn,
                f"{where}: {soft_txt} and no hard limit, no task-level memory — it can "
                f"use all of its host's memory{sfx}", service=use.service_arn, path=path,
                **use.data(container=name, memory_reservation=soft),
            )


@check(id="fargate-task-size-invalid", area="taskdef", severity=Severity.HIGH,
       title="Fargate task CPU/memory is missing or not a valid combination",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html",
       emits=("affected_tasks", "cpu", "field", "memory", "missing"))
def fargate_task_size_invalid(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Fargate sells fixed task sizes: task-level cpu and memory are required and must be
    one of the documented pairs, or RegisterTaskDefinition / the deployment fails. Checked
    before registration (the CI gate), this catches "No Fargate configuration exists"."""
    for use in uses(facts):
        svc, where = use.service_arn, use.where()
        if FARGATE not in compatibilities(use.td) and use.platform != FARGATE:
            yield skipped(use.arn, f"{where}: not for Fargate{use.suffix}", service=svc,
                          path="cpu")
            continue
        status, text, data = fargate_size(use.td)
        message = f"{where}: {text}{use.suffix}"
        # the field to fix: the first one missing, else the one that is not a size
        path = str((data.get("missing") or [data.get("field") or "cpu"])[0])
        if status == "pass":
            yield passed(use.arn, message, service=svc, path=path, **data)
        elif status == "unknown":
            yield unknown(use.arn, message, service=svc, path=path, **data)
        else:
            yield failed(use.arn, message, service=svc, path=path, **use.data(**data))


@check(id="task-cpu-unreserved", area="taskdef", severity=Severity.LOW,
       title="EC2 task reserves no CPU",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_environment",
       emits=("affected_tasks", "cpu"))
def task_cpu_unreserved(facts: Facts, prior: Prior) -> Iterator[Result]:
    """On EC2 the scheduler places a task by the CPU it reserves. With no task cpu and
    every container at cpu 0, tasks pile onto hosts whose CPU is already saturated, and
    under contention each container gets the minimum CPU share. (Windows ignores the
    task-level value, so only container cpu counts there.)"""
    for use in uses(facts):
        svc, where = use.service_arn, use.where()
        if use.platform == FARGATE:
            yield skipped(use.arn, f"{where}: Fargate sizes the task{use.suffix}", service=svc,
                          path="cpu")
            continue
        task_cpu = None if is_windows(use.td) else cpu_units(use.td.get("cpu"))
        ctr_cpu = sum(int_or_none(c.get("cpu")) or 0 for c in containers(use.td))
        if task_cpu:
            yield passed(use.arn, f"{where}: task cpu {task_cpu} units{use.suffix}",
                         service=svc, path="cpu", cpu=task_cpu)
        elif ctr_cpu:
            yield passed(use.arn, f"{where}: containers reserve {ctr_cpu} CPU units{use.suffix}",
                         service=svc, path="cpu", cpu=ctr_cpu)
        else:
            yield failed(use.arn, f"{where}: reserves no CPU (no task cpu, every container "
                         f"cpu 0): placed with no regard for CPU, minimum share under "
                         f"contention{use.suffix}", service=svc, path="cpu", **use.data(cpu=0))

