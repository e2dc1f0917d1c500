"""Container instances pinned at high CPU (non-burstable types).

A task's AWS/ECS CPUUtilization is relative to what it reserved, and on EC2 a container's
`cpu` is a share, not a cap: tasks may use more than they reserved while the host has
spare cycles. When several do at once the host runs at 100% and every task on it slows
down, including the ones that stayed within their share — the services look moderate and
the host is the bottleneck. Burstable types (T2/T3/T4g) are left to cpu-credits-exhausted:
their ceiling is the credit baseline, not the cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.hosts import instance_type_name
from checks.lib.knowledge import burstable
from checks.lib.labels import human_duration, service_label
from checks.lib.metric_refs import find, holds, min_data_s, tasks_by_instance, thresholds
from checks.lib.series import clock, sustained_above

_DOCS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/viewing_metrics_with_cloudwatch.html"


def _host_result(facts: Facts, ci: Item, threshold: float) -> tuple[Result, bool]:
    """The verdict on one container instance and whether it is pinned."""
    arn = str(ci.get("containerInstanceArn"))
    iid = str(ci.get("ec2InstanceId") or "")
    type_name = instance_type_name(facts, ci)
    extra: dict[str, Any] = {"scope": "host", "container_instance": arn,
                             "instance_type": type_name, "threshold_pct": threshold}
    if not iid:
        return skipped(arn, f"container instance {arn}: no EC2 instance (external capacity)",
                       **extra), False
    label = f"instance {iid} ({type_name or 'type ?'})"
    if burstable(type_name) is not None:
        return skipped(iid, f"{label}: burstable, judged by its CPU credits "
                       "(cpu-credits-exhausted)", **extra), False
    cpu = find(facts, "AWS/EC2", "CPUUtilization", {"InstanceId": iid}, ("Average",))
    if cpu is None or cpu.covered_s < min_data_s():
        return unknown(iid, f"{label}: needs AWS/EC2 CPUUtilization (Average) over at least "
                       f"{min_data_s() / 60:.0f} minutes", **extra), False
    s = sustained_above(cpu, threshold)
    extra.update(peak_pct=s.peak, seconds_above=s.seconds_above, fraction=round(s.fraction, 3))
    if holds(s):
        longest = (f", longest {human_duration(s.longest.seconds)} from "
                   f"{clock(s.longest.start)}" if s.longest else "")
        return failed(iid, f"{label}: CPUUtilization ≥ {threshold:g}% for "
                      f"{human_duration(s.seconds_above)} ({s.fraction:.0%} of the time with "
                      f"data){longest}, peak {s.peak:.0f}%: every task on it competes for "
                      "the cores", **extra), True
    return passed(iid, f"{label}: CPUUtilization peak {s.peak:.0f}%, not held at "
                  f"≥ {threshold:g}%", **extra), False


def _by_service(facts: Facts, pinned: dict[str, str], judged: set[str]) -> Iterator[Result]:
    """One result per service with tasks on judged hosts, so playbooks can correlate."""
    for svc_arn, per_host in sorted(_tasks_per_service(facts, judged).items()):
        svc = facts.service_of_arn(svc_arn)
        label = service_label(svc) if svc else svc_arn
        total = sum(len(ts) for ts in per_host.values())
        hot = {ci: ts for ci, ts in per_host.items() if ci in pinned}
        if hot:
            n = sum(len(ts) for ts in hot.values())
            names = sorted(pinned[ci] for ci in hot)
            yield failed(svc_arn, f"service {label}: {n} of its {total} running task(s) on EC2 "
                         f"run on hosts pinned at high CPU: {', '.join(names)}",
                         service=svc_arn, scope="service", affected_tasks=n, instances=names)
        else:
            yield passed(svc_arn, f"service {label}: the hosts of its {total} running task(s) "
                         "are not pinned at high CPU", service=svc_arn, scope="service")


def _tasks_per_service(facts: Facts, judged: set[str]) -> dict[str, dict[str, list[Item]]]:
    out: dict[str, dict[str, list[Item]]] = {}
    for ci_arn, per_service in tasks_by_instance(facts).items():
        if ci_arn in judged:
            for svc_arn, tasks in per_service.items():
                out.setdefault(svc_arn, {})[ci_arn] = tasks
    return out


@check(id="instance-cpu-saturated", area="metrics", severity=Severity.HIGH,
       title="Non-burstable container instances pinned at high CPU",
       needs=("container_instances", "metrics"), docs=_DOCS,
       emits={"affected_tasks": None, "container_instance": None, "fraction": None,
              "instance_type": None, "instances": None, "peak_pct": None,
              "scope": ("host", "service"), "seconds_above": None, "threshold_pct": None})
def instance_cpu_saturated(facts: Facts, prior: Prior) -> Iterator[Result]:
    """AWS/EC2 CPUUtilization (Average) of each non-burstable container instance held at
    90% or more (metric_thresholds.yaml `host_cpu`, sustained as for the service checks):
    the host, not the tasks' reservations, is what runs out. Reports each host (scope
    host) and then each service with running tasks on a judged host (scope service), so
    the diagnosis can be about the services that slow down."""
    threshold = float(thresholds("host_cpu")["threshold_pct"])
    pinned: dict[str, str] = {}
    judged: set[str] = set()
    for ci in sorted(facts.container_instances,
                     key=lambda c: str(c.get("containerInstanceArn"))):
        result, hot = _host_result(facts, ci, threshold)
        yield result
        arn = str(ci.get("containerInstanceArn"))
        if result.status.value in ("pass", "fail"):
            judged.add(arn)
        if hot:
            pinned[arn] = f"{ci.get('ec2InstanceId')} ({result.data.get('instance_type')})"
    yield from _by_service(facts, pinned, judged)
