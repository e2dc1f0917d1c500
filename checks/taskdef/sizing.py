"""Task-definition checks: static mistakes that cause incidents later.

Every collected task definition is judged once per service that runs it (results carry
`service=`), and once with no service when nothing in scope uses it. Helpers live in
checks/lib/taskdefs.py, checks/lib/heap.py and checks/_taskdef_sidecars.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks._taskdef_metrics import memory_peak_results
from checks._taskdef_sidecars import Problem, dotnet_monitor_problems, sidecars, xray_problems
from checks.lib.heap import Heap, Verdict, heap_settings, judge
from checks.lib.knowledge import table
from checks.lib.taskdefs import (
    FARGATE,
    Use,
    compatibilities,
    container_name,
    containers,
    cpu_units,
    each_container,
    essential,
    fargate_size,
    hard_limit,
    is_windows,
    mapping,
    memory_mib,
    uses,
)
from checks.lib.values import int_or_none

PARAMS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html"


@check(id="container-no-memory-limit", area="taskdef", severity=Severity.MEDIUM,
       title="Container has no memory hard limit",
       needs=("task_definitions",),
       docs=f"{PARAMS}#container_definition_memory")
def container_no_memory_limit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """With only `memoryReservation` (a soft limit) and no task-level memory, a container
    may take all the memory of its host: one leak then starves or OOM-kills its neighbours.
    A task-level memory (always set on Fargate) bounds the container, so that passes."""
    for use, ctr in each_container(facts):
        name, where, sfx = container_name(ctr), use.where(ctr), use.suffix
        hard, soft = int_or_none(ctr.get("memory")), int_or_none(ctr.get("memoryReservation"))
        task_mem = memory_mib(use.td.get("memory"))
        if hard is not None:
            yield passed(use.arn, f"{where}: memory hard limit {hard} MiB{sfx}",
                         service=use.service_arn, container=name, memory=hard)
        elif task_mem is not None:
            yield passed(use.arn, f"{where}: bounded by task memory {task_mem} MiB{sfx}",
                         service=use.service_arn, container=name, task_memory=task_mem)
        else:
            soft_txt = f"memoryReservation {soft} MiB (soft)" if soft else "no memory"
            yield failed(
                use.arn,
                f"{where}: {soft_txt} and no hard limit, no task-level memory — it can "
                f"use all of its host's memory{sfx}",
                service=use.service_arn, **use.data(container=name, memory_reservation=soft),
            )


@check(id="fargate-task-size-invalid", area="taskdef", severity=Severity.HIGH,
       title="Fargate task CPU/memory is missing or not a valid combination",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html")
def fargate_task_size_invalid(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Fargate sells fixed task sizes: task-level cpu and memory are required and must be
    one of the documented pairs, or RegisterTaskDefinition / the deployment fails. Checked
    before registration (the CI gate), this catches "No Fargate configuration exists"."""
    for use in uses(facts):
        svc, where = use.service_arn, use.where()
        if FARGATE not in compatibilities(use.td) and use.platform != FARGATE:
            yield skipped(use.arn, f"{where}: not for Fargate{use.suffix}", service=svc)
            continue
        status, text, data = fargate_size(use.td)
        message = f"{where}: {text}{use.suffix}"
        if status == "pass":
            yield passed(use.arn, message, service=svc, **data)
        elif status == "unknown":
            yield unknown(use.arn, message, service=svc, **data)
        else:
            yield failed(use.arn, message, service=svc, **use.data(**data))


@check(id="task-cpu-unreserved", area="taskdef", severity=Severity.LOW,
       title="EC2 task reserves no CPU",
       needs=("task_definitions",),
       docs=f"{PARAMS}#container_definition_environment")
def task_cpu_unreserved(facts: Facts, prior: Prior) -> Iterator[Result]:
    """On EC2 the scheduler places a task by the CPU it reserves. With no task cpu and
    every container at cpu 0, tasks pile onto hosts whose CPU is already saturated, and
    under contention each container gets the minimum CPU share. (Windows ignores the
    task-level value, so only container cpu counts there.)"""
    for use in uses(facts):
        svc, where = use.service_arn, use.where()
        if use.platform == FARGATE:
            yield skipped(use.arn, f"{where}: Fargate sizes the task{use.suffix}", service=svc)
            continue
        task_cpu = None if is_windows(use.td) else cpu_units(use.td.get("cpu"))
        ctr_cpu = sum(int_or_none(c.get("cpu")) or 0 for c in containers(use.td))
        if task_cpu:
            yield passed(use.arn, f"{where}: task cpu {task_cpu} units{use.suffix}",
                         service=svc, cpu=task_cpu)
        elif ctr_cpu:
            yield passed(use.arn, f"{where}: containers reserve {ctr_cpu} CPU units{use.suffix}",
                         service=svc, cpu=ctr_cpu)
        else:
            yield failed(use.arn, f"{where}: reserves no CPU (no task cpu, every container "
                         f"cpu 0): placed with no regard for CPU, minimum share under "
                         f"contention{use.suffix}", service=svc, **use.data(cpu=0))


@check(id="task-memory-near-limit", area="taskdef", severity=Severity.HIGH,
       title="Tasks peak at their memory limit",
       needs=("services", "task_definitions", "metrics"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service_utilization.html")
def task_memory_near_limit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """AWS/ECS MemoryUtilization with the Maximum statistic is the busiest task of the
    service against what its task definition allows. Peaking at the hard limit means the
    limit is below what the task needs: the next burst is an OOM kill (exit 137)."""
    yield from memory_peak_results(facts)


def _heap_text(v: Verdict, limit: int, kind: str) -> str:
    flag = v.heap.text + ("" if v.heap.source in ("command", "entryPoint")
                          else f" (in {v.heap.source})")
    if v.heap.kind == "ram_pct":
        return (f"{flag}: the heap may take {v.share:.0f}% of the {kind} {limit} MiB, "
                "leaving too little for non-heap memory")
    if v.over:
        return f"{flag} but {kind} {limit} MiB"
    return (f"{flag} is {v.share:.0f}% of the {kind} {limit} MiB: no room left for "
            "non-heap memory (metaspace, threads, buffers)")


def _heap_result(use: Use, ctr: Item, heaps: list[Heap]) -> Result:
    th = table("taskdef_thresholds")
    where, svc, name = use.where(ctr), use.service_arn, container_name(ctr)
    flags = " ".join(h.text for h in heaps)
    limit, kind = hard_limit(ctr, use.td)
    if limit is None:
        return skipped(use.arn, f"{where}: {flags} but no memory limit to compare "
                       f"with{use.suffix}", service=svc, container=name)
    verdicts = [judge(h, limit, float(th["heap_close_pct"]), float(th["max_ram_percentage"]))
                for h in heaps]
    bad = [v for v in verdicts if v.risky]
    if not bad:
        return passed(use.arn, f"{where}: {flags} fits the {kind} {limit} MiB{use.suffix}",
                      service=svc, container=name, limit_mib=limit)
    worst = max(bad, key=lambda v: (v.over, v.share))
    data: dict[str, Any] = {"container": name, "flag": worst.heap.text,
                            "source": worst.heap.source, "runtime": worst.heap.runtime,
                            "limit_mib": limit, "share_pct": round(worst.share, 1)}
    if worst.heap.mib is not None:
        data["heap_mib"] = round(worst.heap.mib, 1)
    return failed(use.arn, f"{where}: {_heap_text(worst, limit, kind)}{use.suffix}",
                  service=svc, severity=None if worst.over else Severity.MEDIUM,
                  **use.data(**data))


@check(id="runtime-heap-exceeds-limit", area="taskdef", severity=Severity.HIGH,
       title="JVM/Node heap is above or too close to the container memory limit",
       needs=("task_definitions",),
       docs=f"{PARAMS}#container_definition_memory")
def runtime_heap_exceeds_limit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A heap sized above the container's hard limit (or so close that metaspace, threads
    and buffers do not fit) gets the container OOM-killed by the kernel as soon as the heap
    fills: it looks like a leak, but the fix is the flag. Flags are read from JAVA_OPTS,
    JAVA_TOOL_OPTIONS, _JAVA_OPTIONS, NODE_OPTIONS, command and entryPoint."""
    for use in uses(facts):
        found = False
        for ctr in containers(use.td):
            heaps = heap_settings(ctr)
            if heaps:
                found = True
                yield _heap_result(use, ctr, heaps)
        if not found:
            yield skipped(use.arn, f"{use.where()}: no JVM or Node heap flag in environment "
                          f"or command{use.suffix}", service=use.service_arn)


@check(id="container-no-log-configuration", area="taskdef", severity=Severity.MEDIUM,
       title="Container has no logConfiguration",
       needs=("task_definitions",),
       docs=f"{PARAMS}#container_definition_storage")
def container_no_log_configuration(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without a log driver a container's stdout/stderr go nowhere ECS can show: when it
    crashes, the one message that says why is lost with the task."""
    for use, ctr in each_container(facts):
        where, name = use.where(ctr), container_name(ctr)
        driver = mapping(ctr.get("logConfiguration")).get("logDriver")
        if driver:
            yield passed(use.arn, f"{where}: logs through {driver}{use.suffix}",
                         service=use.service_arn, container=name, log_driver=str(driver))
        else:
            yield failed(use.arn, f"{where}: no logConfiguration — its output is lost when "
                         f"the task stops{use.suffix}", service=use.service_arn,
                         **use.data(container=name))


@check(id="lb-container-no-health-check", area="taskdef", severity=Severity.LOW,
       title="Load-balanced essential container has no container health check",
       needs=("task_definitions", "services"),
       docs=f"{PARAMS}#container_definition_healthcheck")
def lb_container_no_health_check(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The load balancer only sees the port. A container health check lets ECS replace a
    hung-but-listening container, gates dependsOn HEALTHY, and shows the container's own
    health in DescribeTasks when a deployment stalls."""
    for use in uses(facts):
        names = {str(lb.get("containerName")) for lb in
                 mapping(use.service).get("loadBalancers", []) or [] if isinstance(lb, dict)}
        for ctr in containers(use.td):
            name = container_name(ctr)
            if name not in names or not essential(ctr):
                continue
            check_cmd = mapping(ctr.get("healthCheck")).get("command")
            if check_cmd:
                yield passed(use.arn, f"{use.where(ctr)}: health check defined{use.suffix}",
                             service=use.service_arn, container=name)
            else:
                yield failed(use.arn, f"{use.where(ctr)}: load-balanced and essential but no "
                             f"healthCheck{use.suffix}", service=use.service_arn,
                             **use.data(container=name))


def _nofile_result(use: Use, ctr: Item) -> Result:
    th = table("taskdef_thresholds")
    where, svc, name = use.where(ctr), use.service_arn, container_name(ctr)
    if is_windows(use.td, ctr):
        return skipped(use.arn, f"{where}: ulimits do not apply to Windows{use.suffix}",
                       service=svc, container=name)
    ulimits = ctr.get("ulimits")
    limits = [u for u in (ulimits if isinstance(ulimits, list) else [])
              if isinstance(u, dict) and u.get("name") == "nofile"]
    soft = int_or_none(limits[-1].get("softLimit")) if limits else None
    minimum = int(th["nofile_min_soft"])
    if soft is None and use.platform == FARGATE:
        return passed(use.arn, f"{where}: Fargate default nofile "
                      f"{th['fargate_nofile_default']}{use.suffix}", service=svc, container=name)
    if soft is None:
        return unknown(use.arn, f"{where}: no nofile ulimit — needs the host Docker daemon's "
                       f"--default-ulimit (not collected); set it explicitly{use.suffix}",
                       service=svc, container=name)
    if soft < minimum:
        return failed(use.arn, f"{where}: serves traffic with nofile soft limit {soft} "
                      f"(< {minimum}): 'too many open files' under load{use.suffix}",
                      service=svc, **use.data(container=name, soft_limit=soft, minimum=minimum))
    return passed(use.arn, f"{where}: nofile soft limit {soft}{use.suffix}", service=svc,
                  container=name, soft_limit=soft)


@check(id="container-nofile-ulimit-low", area="taskdef", severity=Severity.MEDIUM,
       title="Web container has a low open-files (nofile) limit",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Ulimit.html")
def container_nofile_ulimit_low(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Every connection is a file descriptor: a container with portMappings and a nofile
    soft limit of 1024 fails with 'too many open files' at a few hundred clients with
    keep-alive. Fargate defaults to 65535; on EC2 the host's Docker default applies."""
    for use, ctr in each_container(facts):
        if ctr.get("portMappings"):
            yield _nofile_result(use, ctr)


def _image_kind(image: Any) -> tuple[str, str]:
    """(kind, tag): placeholder | digest | latest | untagged | tagged."""
    if not isinstance(image, str) or not image.strip() or any(
            ch in image for ch in "<>{}$` "):
        return "placeholder", ""
    if "@sha256:" in image:
        return "digest", ""
    head, _, last = image.rpartition("/")
    repo, _, tag = last.partition(":")
    if any(ch.isupper() for ch in repo) or any(ch.isupper() for ch in head.partition("/")[2]):
        return "placeholder", ""  # repository names must be lowercase: not a real image
    if not tag:
        return "untagged", ""
    return ("latest" if tag.lower() == "latest" else "tagged"), tag


@check(id="container-image-tag-mutable", area="taskdef", severity=Severity.LOW,
       title="Container image uses 'latest' or no tag",
       needs=("task_definitions",),
       docs=f"{PARAMS}#container_definition_image")
def container_image_tag_mutable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """`latest` (or no tag, which means latest) names a different image over time: two
    revisions can run different code, and rolling back to a revision does not bring the
    old code back. A version tag or a digest pins what runs."""
    for use, ctr in each_container(facts):
        where, svc, name = use.where(ctr), use.service_arn, container_name(ctr)
        kind, tag = _image_kind(ctr.get("image"))
        if kind == "placeholder":
            yield skipped(use.arn, f"{where}: image is a template placeholder{use.suffix}",
                          service=svc, container=name)
        elif kind in ("latest", "untagged"):
            what = "the mutable tag latest" if kind == "latest" else "no tag (latest)"
            yield failed(use.arn, f"{where}: image {ctr.get('image')} uses {what}{use.suffix}",
                         service=svc, **use.data(container=name, tag=tag or None))
        else:
            pin = "a digest" if kind == "digest" else f"tag {tag}"
            yield passed(use.arn, f"{where}: image pinned by {pin}{use.suffix}", service=svc,
                         container=name)


def _sidecar_result(use: Use, ctr: Item, what: str, problems: list[Problem]) -> Result:
    where, svc, name = use.where(ctr), use.service_arn, container_name(ctr)
    if not problems:
        return passed(use.arn, f"{where}: {what} sidecar is set up correctly{use.suffix}",
                      service=svc, container=name)
    worst = min((sev for sev, _ in problems), key=lambda s: s.order)
    return failed(use.arn, f"{where}: {what} sidecar " + "; ".join(t for _, t in problems)
                  + use.suffix, service=svc, severity=worst,
                  **use.data(container=name, problems=[t for _, t in problems]))


@check(id="xray-sidecar-misconfigured", area="taskdef", severity=Severity.MEDIUM,
       title="X-Ray daemon sidecar cannot receive traces or can stop the task",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/xray/latest/devguide/xray-daemon-ecs.html")
def xray_sidecar_misconfigured(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The X-Ray daemon receives segments on UDP 2000; without that port mapping traces
    silently vanish. As an essential container, a daemon crash kills the application
    task; without memory it competes with the application."""
    for use in uses(facts):
        daemons = sidecars(use.td, "xray")
        if not daemons:
            yield skipped(use.arn, f"{use.where()}: no X-Ray daemon sidecar{use.suffix}",
                          service=use.service_arn)
        for daemon in daemons:
            yield _sidecar_result(use, daemon, "X-Ray daemon", xray_problems(daemon))


@check(id="dotnet-monitor-sidecar-misconfigured", area="taskdef", severity=Severity.MEDIUM,
       title="Sidecar dotnet-monitor cannot reach the application's diagnostic port",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html")
def dotnet_monitor_sidecar_misconfigured(facts: Facts, prior: Prior) -> Iterator[Result]:
    """dotnet-monitor talks to the app over a Unix socket: both containers must mount one
    shared volume where the app's DOTNET_DiagnosticPorts (or its default /tmp socket)
    lives, or dumps and traces fail exactly when an incident needs them. It must not be
    essential, or a monitor crash stops the application."""
    for use in uses(facts):
        monitors = sidecars(use.td, "dotnet_monitor")
        if not monitors:
            yield skipped(use.arn, f"{use.where()}: no dotnet-monitor sidecar{use.suffix}",
                          service=use.service_arn)
        for mon in monitors:
            yield _sidecar_result(use, mon, "dotnet-monitor",
                                  dotnet_monitor_problems(use.td, mon))

