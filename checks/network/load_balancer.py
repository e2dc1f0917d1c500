"""Does the load balancer send traffic to the tasks, and do they answer? The zones it serves
against the zones the tasks run in, and the target groups' own health verdict. (The
security groups and network ACLs between it and the tasks: security_groups.py and
network_acls.py.)"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, awsvpc_config, obj, objs, strs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.network import LB
from checks.lib.network.lb_paths import Gap, LbPath, gap_result, lb_paths, lb_subnets
from checks.lib.network.topology import (
    active_services,
    live_tasks,
    service_text,
    subnet_item,
)
from checks.lib.values import int_or_none

# -- Availability Zones -------------------------------------------------------------------------

@check(id="lb-az-coverage", area="network", severity=Severity.MEDIUM,
       title="Tasks run in AZs the load balancer does not serve", needs=LB,
       docs="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-subnets.html",
       emits=("affected_tasks", "lb_azs", "load_balancer", "subnets_outside", "task_azs_outside"))
def lb_az_coverage(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A load balancer routes only to targets in Availability Zones it is enabled in;
    tasks placed in other AZs register but never receive traffic (Target.NotInUse) while
    the service counts them as running."""
    seen: set[tuple[str, str]] = set()
    for svc in active_services(facts):
        for tg_arn, path in lb_paths(facts, svc):
            if isinstance(path, Gap):
                yield gap_result(tg_arn, svc, path)
            elif (str(svc.get("serviceArn")), str(path.lb.get("LoadBalancerArn"))) not in seen:
                seen.add((str(svc.get("serviceArn")), str(path.lb.get("LoadBalancerArn"))))
                yield _az_result(facts, path)


def _az_result(facts: Facts, path: LbPath) -> Result:
    svc, lb_arn = path.service, str(path.lb.get("LoadBalancerArn"))
    svc_arn, label = str(svc["serviceArn"]), service_text(svc)
    lb_azs = sorted({z for _, z in lb_subnets(path.lb) if z})
    tasks = live_tasks(facts, svc)
    outside = [t for t in tasks if t.get("availabilityZone") and t[
        "availabilityZone"] not in lb_azs]
    subnet_azs = {s: str(item.get("AvailabilityZone")) for s in strs(awsvpc_config(svc).get(
        "subnets")) if (item := subnet_item(facts, s))}
    stray = sorted(f"{s} ({az})" for s, az in subnet_azs.items() if az not in lb_azs)
    task_azs = Counter(str(t.get("availabilityZone")) for t in outside)
    data: dict[str, Any] = {"load_balancer": lb_arn, "lb_azs": lb_azs,
                            "task_azs_outside": dict(sorted(task_azs.items())),
                            "subnets_outside": stray, "affected_tasks": len(outside)}
    if not lb_azs:
        return unknown(lb_arn, f"{label}: {path.lb_name} lists no Availability Zone",
                       service=svc_arn, **data)
    if not outside and not stray:
        return passed(lb_arn, f"{label}: {path.lb_name} serves {', '.join(lb_azs)}, every AZ "
                      "the tasks use", service=svc_arn, **data)
    parts = [f"runs {n} task{'s' if n > 1 else ''} in {az}" for az, n in sorted(
        task_azs.items())] + ([f"may place tasks in {', '.join(stray)}"] if stray else [])
    return failed(lb_arn, f"{label}: {path.lb_name} is enabled only in {', '.join(lb_azs)}, but "
                  f"the service {' and '.join(parts)}: tasks there get no traffic",
                  service=svc_arn, severity=Severity.HIGH if tasks and len(outside) == len(
                      tasks) else None, **data)


# -- target health -----------------------------------------------------------------------------

BAD_STATES = ("unhealthy", "unhealthy.draining", "unavailable", "unused")
#: Upstream checks whose failure for a service explains its unhealthy targets.
CAUSES = ("lb-to-task-security-group", "nacl-blocks-lb-traffic", "lb-az-coverage")


@check(id="lb-target-health", area="network", severity=Severity.HIGH,
       title="Load balancer targets of the service are unhealthy",
       needs=("services", "target_health"),
       after=("lb-az-coverage", "lb-to-task-security-group", "nacl-blocks-lb-traffic"),
       docs="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html",
       emits=("affected_tasks", "likely_causes", "reasons", "states", "target_group", "targets",
              "unhealthy"))
def lb_target_health(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The target group's own verdict, reason by reason (Target.Timeout, ResponseCodeMismatch,
    FailedHealthChecks, NotInUse, …) with the ELB's descriptions; the upstream network
    findings for the same service are named as likely causes."""
    causes: dict[str, list[str]] = {}
    for check_id in CAUSES:
        for svc_arn in prior.failed_services(check_id):
            causes.setdefault(svc_arn, []).append(check_id)
    health = {str(e.get("TargetGroupArn")): e.get("TargetHealthDescriptions")
              for e in facts.items("target_health")}
    for svc in active_services(facts):
        for entry in objs(svc.get("loadBalancers")):
            tg = str(entry.get("targetGroupArn") or "")
            if tg:
                yield _health_result(svc, tg, health.get(tg), causes.get(str(svc["serviceArn"])))


def _health(desc: Item) -> Item:
    return obj(desc.get("TargetHealth"))


def _reason_text(bad: list[Item]) -> str:
    counts = Counter((str(_health(d).get("Reason") or _health(d).get("State")),
                      str(_health(d).get("Description") or "")) for d in bad)
    return ", ".join(f"{r}{f' ×{n}' if n > 1 else ''}" + (f" ({d})" if d else "")
                     for (r, d), n in sorted(counts.items(), key=lambda x: (-x[1], x[0])))


def _health_result(svc: Item, tg: str, raw: Any, causes: list[str] | None) -> Result:
    arn, label = str(svc["serviceArn"]), service_text(svc)
    name = tg.split("/")[-2] if tg.count("/") >= 2 else tg
    if not isinstance(raw, list):
        return unknown(tg, f"{label}: health of {name} not collected", service=arn)
    descs = objs(raw)
    states = Counter(str(_health(d).get("State")) for d in descs)
    bad = [d for d in descs if _health(d).get("State") in BAD_STATES]
    reasons = Counter(str(_health(d).get("Reason") or "none") for d in bad)
    data: dict[str, Any] = {"target_group": tg, "states": dict(sorted(states.items())),
                            "reasons": dict(sorted(reasons.items())), "unhealthy": len(bad),
                            "targets": len(descs), "affected_tasks": len(bad),
                            "likely_causes": sorted(causes or [])}
    desired = int_or_none(svc.get("desiredCount")) or 0
    if not descs:
        if desired == 0:
            return skipped(tg, f"{label}: desired count 0 and no target in {name}", service=arn)
        return failed(tg, f"{label}: no target registered in {name} although {desired} tasks "
                      "are desired", service=arn, severity=Severity.CRITICAL, **data)
    if not bad:
        return passed(tg, f"{label}: {name}: " + ", ".join(
            f"{n} {s}" for s, n in sorted(states.items())), service=arn, **data)
    hint = f"; see {', '.join(sorted(causes))}" if causes else ""
    return failed(tg, f"{label}: {len(bad)} of {len(descs)} targets unhealthy in {name}: "
                  f"{_reason_text(bad)}{hint}", service=arn,
                  severity=Severity.CRITICAL if states.get("healthy", 0) == 0 else None, **data)
