"""Result builders of the load-balancer-side network checks (declared in checks/network.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checks._net_flows import evaluate, lb_flows
from checks._net_lb import (
    Gap,
    LbPath,
    lb_paths,
    lb_subnets,
    security_groups,
    subnet_cidr,
    target_security_groups,
    target_subnets,
)
from checks._net_paths import active_services, awsvpc_config, live_tasks, subnet_item, topology
from checks._net_rules import (
    Peer,
    Ports,
    dicts,
    obj,
    port_text,
    sg_admits_any,
    sg_missing,
    strs,
)
from checks.lib.labels import service_label
from checks.lib.values import int_or_none


def _label(svc: Item) -> str:
    return f"service {service_label(svc)}"


def _gap(tg_arn: str, svc: Item, gap: Gap) -> Result:
    arn = str(svc.get("serviceArn"))
    make = unknown if gap.missing else skipped
    return make(tg_arn, f"{_label(svc)}: {gap.text}", service=arn)


def _path_data(facts: Facts, path: LbPath, **extra: Any) -> dict[str, Any]:
    return {"target_group": path.tg_arn, "load_balancer": path.lb.get("LoadBalancerArn"),
            "ports": [list(p) for p in path.ports],
            "affected_tasks": len(live_tasks(facts, path.service)), **extra}


# -- security groups between the LB and the tasks ---------------------------------------------

def lb_sg_results(facts: Facts) -> Iterator[Result]:
    for svc in active_services(facts):
        topo = topology(facts, svc)
        ids, why = target_security_groups(facts, svc, topo)
        for tg_arn, path in lb_paths(facts, svc):
            if isinstance(path, Gap):
                yield _gap(tg_arn, svc, path)
                continue
            groups, absent = security_groups(facts, ids)
            if why or absent:
                text = why or f"groups {', '.join(absent)} not in the bundle"
                yield unknown(tg_arn, f"{_label(svc)}: {text}", service=str(svc["serviceArn"]))
                continue
            yield _lb_sg_result(facts, path, groups, ids, target_subnets(facts, svc, topo))


def _missing_in(facts: Facts, path: LbPath, groups: list[Item]) -> list[Ports]:
    nets = [subnet_cidr(facts, s) for s, _ in lb_subnets(path.lb)] or [None]
    missing = {m for net in nets for ports in path.ports for m in sg_missing(
        groups, egress=False, proto=path.proto, ports=ports,
        peer=Peer(groups=path.lb_groups, cidr=net))}
    return sorted(missing)


def _missing_out(facts: Facts, path: LbPath, ids: list[str], targets: list[str]) -> list[Ports]:
    lb_groups, _ = security_groups(facts, sorted(path.lb_groups))
    if not lb_groups:
        return []
    nets = [subnet_cidr(facts, t) for t in targets] or [None]
    return sorted({m for net in nets for ports in path.ports for m in sg_missing(
        lb_groups, egress=True, proto=path.proto, ports=ports,
        peer=Peer(groups=frozenset(ids), cidr=net))})


def _lb_sg_result(facts: Facts, path: LbPath, groups: list[Item], ids: list[str],
                  targets: list[str]) -> Result:
    svc_arn, label = str(path.service["serviceArn"]), _label(path.service)
    inbound, outbound = _missing_in(facts, path, groups), _missing_out(facts, path, ids, targets)
    lb_sgs = ", ".join(sorted(path.lb_groups)) or "no security group"
    data = _path_data(facts, path, security_groups=ids, lb_security_groups=sorted(
        path.lb_groups), missing_ingress=[list(p) for p in inbound],
        missing_lb_egress=[list(p) for p in outbound])
    resource = ",".join(ids)
    task_sgs = f"target security group{'s' if len(ids) > 1 else ''} {', '.join(ids)}"
    open_somewhere = any(sg_admits_any(groups, egress=False, proto=path.proto, ports=p)
                         for p in path.ports)
    if inbound and open_somewhere and not path.lb_groups:
        return unknown(resource, f"{label}: {path.lb_name} has no security group and {task_sgs} "
                       f"admit(s) {path.what} only from other addresses: with client IP "
                       "preservation the targets see the clients, not the LB", service=svc_arn,
                       **data)
    unmapped = [s for s, _ in lb_subnets(path.lb) if subnet_cidr(facts, s) is None]
    if inbound and open_somewhere and unmapped:
        return unknown(resource, f"{label}: {task_sgs} admit(s) {path.what} from some addresses; "
                       f"the CIDRs of the LB subnets {', '.join(unmapped)} are not in the bundle",
                       service=svc_arn, **data)
    problems = []
    if inbound:
        problems.append(f"{task_sgs} {'do' if len(ids) > 1 else 'does'} not admit "
                        f"{path.lb_name} ({lb_sgs}) on "
                        f"{path.proto}/{port_text(inbound)}")
    if outbound:
        problems.append(f"the LB's egress ({lb_sgs}) does not allow {path.proto}/"
                        f"{port_text(outbound)} to the tasks")
    if problems:
        return failed(resource, f"{label}: " + "; ".join(problems) + f" — {path.what}; health "
                      "checks time out and ECS replaces the tasks", service=svc_arn, **data)
    return passed(resource, f"{label}: {task_sgs} admit{'' if len(ids) > 1 else 's'} "
                  f"{path.lb_name} on {path.what}",
                  service=svc_arn, **data)


# -- network ACLs between the LB and the tasks -----------------------------------------------

def lb_nacl_results(facts: Facts) -> Iterator[Result]:
    for svc in active_services(facts):
        arn, topo = str(svc.get("serviceArn")), topology(facts, svc)
        targets = target_subnets(facts, svc, topo)
        for tg_arn, path in lb_paths(facts, svc):
            if isinstance(path, Gap):
                yield _gap(tg_arn, svc, path)
                continue
            if not targets:
                yield unknown(tg_arn, f"{_label(svc)}: no target subnet known "
                              f"({topo.pulls_unknown or 'no subnet, no running task'})",
                              service=arn)
            for target in targets:
                yield _lb_nacl_result(facts, path, target)


def _lb_nacl_result(facts: Facts, path: LbPath, target: str) -> Result:
    svc_arn, label = str(path.service["serviceArn"]), _label(path.service)
    problems, acls, unknowns = evaluate(facts, lb_flows(facts, path, target))
    tasks = [t for t in live_tasks(facts, path.service) if target in _task_subnets(t)]
    data = _path_data(facts, path, subnet=target, network_acls=acls, problems=problems)
    data["affected_tasks"] = len(tasks)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return failed(target, f"{label}: subnet {target}: {problems[0]}{more}", service=svc_arn,
                      **data)
    if unknowns or not acls:
        why = unknowns[0] if unknowns else "the LB and target subnets' CIDRs are not known"
        if not unknowns and {s for s, _ in lb_subnets(path.lb)} == {target}:
            return passed(target, f"{label}: subnet {target} holds the LB too (no ACL between)",
                          service=svc_arn, **data)
        return unknown(target, f"{label}: subnet {target}: {why}", service=svc_arn, **data)
    return passed(target, f"{label}: subnet {target}: network ACLs {', '.join(acls)} pass "
                  f"{path.lb_name} → {path.what} and the replies", service=svc_arn, **data)


def _task_subnets(task: Item) -> set[str]:
    return {str(d.get("value")) for a in dicts(task.get("attachments"))
            for d in dicts(a.get("details")) if d.get("name") == "subnetId"}


# -- Availability Zones -------------------------------------------------------------------------

def lb_az_results(facts: Facts) -> Iterator[Result]:
    seen: set[tuple[str, str]] = set()
    for svc in active_services(facts):
        for tg_arn, path in lb_paths(facts, svc):
            if isinstance(path, Gap):
                yield _gap(tg_arn, svc, path)
            elif (str(svc.get("serviceArn")), str(path.lb.get("LoadBalancerArn"))) not in seen:
                seen.add((str(svc.get("serviceArn")), str(path.lb.get("LoadBalancerArn"))))
                yield _az_result(facts, path)


def _az_result(facts: Facts, path: LbPath) -> Result:
    svc, lb_arn = path.service, str(path.lb.get("LoadBalancerArn"))
    svc_arn, label = str(svc["serviceArn"]), _label(svc)
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


def target_health_results(facts: Facts, causes: dict[str, list[str]]) -> Iterator[Result]:
    health = {str(e.get("TargetGroupArn")): e.get("TargetHealthDescriptions")
              for e in facts.items("target_health")}
    for svc in active_services(facts):
        for entry in dicts(svc.get("loadBalancers")):
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
    arn, label = str(svc["serviceArn"]), _label(svc)
    name = tg.split("/")[-2] if tg.count("/") >= 2 else tg
    if not isinstance(raw, list):
        return unknown(tg, f"{label}: health of {name} not collected", service=arn)
    descs = dicts(raw)
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
