"""Result builders of the egress-side network checks (checks/network.py declares them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item
from checker.model import Result, failed, passed, skipped, unknown
from checks._net_flows import ANYWHERE, HTTPS
from checks._net_lb import security_groups, subnet_cidr, target_security_groups
from checks._net_paths import (
    Need,
    active_services,
    endpoint_for,
    endpoint_gaps,
    gap_text,
    live_tasks,
    reaches_internet,
    task_needs,
    topology,
)
from checks._net_placed import Placed, placed
from checks._net_rules import (
    Peer,
    dicts,
    open_to_world,
    port_text,
    protocol,
    sg_missing,
    sg_rule_ports,
    strs,
)
from checks.lib.knowledge import table
from checks.lib.labels import service_label

# -- image registry / secrets / logs reachability --------------------------------------------

def reachability(facts: Facts, kinds: set[str], what: str,
                 consequence: str) -> Iterator[Result]:
    """Per (service, subnet): can the tasks reach the `kinds` of things they need?"""
    said: set[str] = set()
    for item in placed(facts, pulls_only=True):
        if isinstance(item, Result):
            yield item
            continue
        needs = task_needs(facts, item.origin.service)
        mine = [n for n in needs or [] if n.predicts in kinds]
        if mine:
            yield _reach_result(facts, item, mine, what, consequence)
        elif item.arn not in said:
            said.add(item.arn)
            yield (unknown(item.arn, f"{item.label}: task definition "
                           f"{item.origin.service.get('taskDefinition')} is not in the bundle",
                           service=item.arn) if needs is None else
                   skipped(item.arn, f"{item.label}: the tasks use no {what}", service=item.arn))


def _reach_result(facts: Facts, p: Placed, needs: list[Need], what: str,
                  consequence: str) -> Result:
    names = sorted({n.service_name if n.endpoint != "internet" else n.why for n in needs})
    if reaches_internet(p.egress, p.origin):
        return passed(p.subnet_id, f"{p.label}: {p.where}: {what} reachable ({p.egress.detail})",
                      service=p.arn, **p.data(needs=names))
    gaps = endpoint_gaps(facts, needs, p.vpc, p.egress.route_table)
    if not gaps:
        return passed(p.subnet_id, f"{p.label}: {p.where}: no internet route; VPC endpoints "
                      f"serve {', '.join(names)}", service=p.arn, **p.data(needs=names))
    reasons = gap_text(gaps)
    return failed(p.subnet_id, f"{p.label}: {p.where} {p.no_path_text}, and {reasons}: "
                  f"{consequence}{p.tasks_text}", service=p.arn,
                  **p.data(needs=names, missing=sorted({n.service_name for n, _ in gaps}),
                           predicts=sorted({n.predicts for n, _ in gaps})))


# -- VPC DNS attributes -------------------------------------------------------------------------

def _off(value: Any) -> bool:
    return value is False or str(value).lower() == "false"


def dns_results(facts: Facts) -> Iterator[Result]:
    seen: set[tuple[str, str | None]] = set()
    for item in placed(facts, with_egress=False):
        if isinstance(item, Result):
            yield item
        elif (item.arn, item.vpc) not in seen:
            seen.add((item.arn, item.vpc))
            yield _dns_result(facts, item)


def _dns_result(facts: Facts, p: Placed) -> Result:
    vpc_id = p.vpc or "?"
    vpc = facts.lookup("vpcs", "VpcId", p.vpc)
    attrs = (vpc or {}).get("Attributes")
    data: dict[str, Any] = {"vpc": vpc_id, "subnet": p.subnet_id,
                            "affected_tasks": len(live_tasks(facts, p.origin.service))}
    if vpc is None or not isinstance(attrs, dict) or "EnableDnsSupport" not in attrs:
        return unknown(vpc_id, f"{p.label}: VPC {vpc_id}: DNS attributes not collected",
                       service=p.arn, **data)
    private = sorted(str(e.get("VpcEndpointId")) for e in facts.items("vpc_endpoints")
                     if e.get("VpcId") == p.vpc and e.get("PrivateDnsEnabled"))
    problems = []
    if _off(attrs.get("EnableDnsSupport")):
        problems.append("enableDnsSupport is off: the Amazon DNS server does not answer, so "
                        "registry and AWS API names do not resolve (unless the DHCP options "
                        "name your own DNS servers)")
    if private and _off(attrs.get("EnableDnsHostnames")):
        problems.append(f"enableDnsHostnames is off: the private DNS names of endpoints "
                        f"{', '.join(private)} do not resolve, so their services resolve "
                        "to public addresses")
    data.update(enable_dns_support=attrs.get("EnableDnsSupport"),
                enable_dns_hostnames=attrs.get("EnableDnsHostnames"),
                private_dns_endpoints=private)
    if problems:
        return failed(vpc_id, f"{p.label}: VPC {vpc_id}: " + "; ".join(problems),
                      service=p.arn, **data)
    return passed(vpc_id, f"{p.label}: VPC {vpc_id}: DNS support on"
                  + (", DNS hostnames on for private-DNS endpoints" if private else ""),
                  service=p.arn, **data)


# -- security-group egress ----------------------------------------------------------------------

def _destinations(facts: Facts, p: Placed, need: Need) -> list[tuple[str, Peer, Item | None]]:
    """Where `need`'s HTTPS goes from this subnet: (label, peer, endpoint)."""
    ep, _ = endpoint_for(facts, need, p.vpc, p.egress.route_table)
    if ep is not None and ep.get("VpcEndpointType") == "Gateway":
        return [(f"the {need.endpoint} prefix list (gateway endpoint {ep.get('VpcEndpointId')})",
                 Peer(prefix_list=True, cidr=ANYWHERE), None)]
    if ep is not None:
        groups = frozenset(str(g.get("GroupId")) for g in dicts(ep.get("Groups")))
        nets = [subnet_cidr(facts, s) for s in strs(ep.get("SubnetIds"))] or [None]
        return [(f"endpoint {ep.get('VpcEndpointId')}", Peer(groups=groups, cidr=n), ep)
                for n in nets]
    if reaches_internet(p.egress, p.origin):
        return [("0.0.0.0/0", Peer(cidr=ANYWHERE), None)]
    return []  # no path at all: task-subnet-default-route reports it


def _endpoint_ingress_blocked(facts: Facts, p: Placed, ep: Item) -> str | None:
    groups, _ = security_groups(facts, [str(g.get("GroupId")) for g in dicts(ep.get("Groups"))])
    if not groups:
        return None
    peer = Peer(groups=frozenset(p.origin.groups), cidr=subnet_cidr(facts, p.subnet_id))
    if sg_missing(groups, egress=False, proto="tcp", ports=HTTPS, peer=peer):
        ids = ", ".join(str(g.get("GroupId")) for g in groups)
        return f"{ep.get('VpcEndpointId')} ({ids})"
    return None


def egress_sg_result(facts: Facts, p: Placed) -> Result:
    ids = ",".join(p.origin.groups) or p.subnet_id
    if not p.origin.groups:
        return unknown(ids, f"{p.label}: {p.where}: no security group named (the VPC default "
                       "group applies)", service=p.arn)
    groups, absent = security_groups(facts, list(p.origin.groups))
    needs = [n for n in task_needs(facts, p.origin.service) or [] if n.endpoint != "internet"]
    if absent or not needs:
        why = f"groups {', '.join(absent)} not in the bundle" if absent else "no AWS service need"
        return (unknown if absent else skipped)(ids, f"{p.label}: {why}", service=p.arn)
    out_blocked: dict[str, set[str]] = {}
    in_blocked: dict[str, set[str]] = {}
    for need in needs:
        for dest, peer, ep in _destinations(facts, p, need):
            if sg_missing(groups, egress=True, proto="tcp", ports=HTTPS, peer=peer):
                out_blocked.setdefault(dest, set()).add(need.endpoint)
            elif ep is not None and (closed := _endpoint_ingress_blocked(facts, p, ep)):
                in_blocked.setdefault(closed, set()).add(need.endpoint)
    problems = []
    if out_blocked:
        problems.append(f"egress of {ids} does not allow tcp/443 to " + ", ".join(
            f"{d} ({', '.join(sorted(v))})" for d, v in sorted(out_blocked.items())))
    if in_blocked:
        problems.append("the endpoints' groups do not admit tcp/443 from the tasks: " + ", ".join(
            f"{d} ({', '.join(sorted(v))})" for d, v in sorted(in_blocked.items())))
    data = p.data(security_groups=list(p.origin.groups), blocked_egress=sorted(out_blocked),
                  blocked_by_endpoint_groups=sorted(in_blocked))
    if problems:
        return failed(ids, f"{p.label}: {p.where}: " + "; ".join(problems) + p.tasks_text,
                      service=p.arn, **data)
    return passed(ids, f"{p.label}: {p.where}: egress of {ids} allows tcp/443 to every "
                  "service the tasks need", service=p.arn, **data)


# -- ingress open to the world --------------------------------------------------------------

def _exposures(sg: Item) -> list[str]:
    admin = {int(k): str(v) for k, v in table("network_ports")["admin_ports"].items()}
    out = []
    for rule in dicts(sg.get("IpPermissions")):
        world = open_to_world(rule)
        proto = protocol(rule.get("IpProtocol"))
        if not world:
            continue
        if proto == "all":
            out.append(f"all traffic from {'/'.join(world)}")
            continue
        lo, hi = sg_rule_ports(rule)
        hits = [f"{port} {name}" for port, name in sorted(admin.items()) if lo <= port <= hi]
        if proto in ("tcp", "udp") and hits:
            out.append(f"{proto}/{port_text([(lo, hi)])} from {'/'.join(world)} "
                       f"({', '.join(hits[:4])}{', …' if len(hits) > 4 else ''})")
    return out


def open_ingress_results(facts: Facts) -> Iterator[Result]:
    for svc in active_services(facts):
        arn, label = str(svc.get("serviceArn")), f"service {service_label(svc)}"
        ids, why = target_security_groups(facts, svc, topology(facts, svc))
        if why and not ids:
            yield unknown(arn, f"{label}: {why}", service=arn)
        tasks = len(live_tasks(facts, svc))
        for sg_id in ids:
            sg = facts.lookup("security_groups", "GroupId", sg_id)
            if sg is None:
                yield unknown(sg_id, f"{label}: {sg_id} is not in the bundle", service=arn)
                continue
            found = _exposures(sg)
            if found:
                yield failed(sg_id, f"{label}: {sg_id} ({sg.get('GroupName', '?')}) admits "
                             + "; ".join(found), service=arn, exposures=found,
                             security_group=sg_id, affected_tasks=tasks)
            else:
                yield passed(sg_id, f"{label}: {sg_id} opens no admin port to the internet",
                             service=arn, security_group=sg_id)
