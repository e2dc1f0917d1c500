"""Do the security groups let the traffic through, and only that? HTTPS out of the tasks,
the load balancer into the tasks, and admin ports open to the internet."""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts, Item, objs, strs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.knowledge import table
from checks.lib.network import LB, NET, ROUTES
from checks.lib.network.egress import Placed, placed, reaches_internet
from checks.lib.network.endpoints import Need, endpoint_for, task_needs
from checks.lib.network.lb_paths import (
    Gap,
    LbPath,
    gap_result,
    lb_paths,
    lb_subnets,
    path_data,
    target_security_groups,
    target_subnets,
)
from checks.lib.network.rules import (
    ANYWHERE,
    HTTPS,
    Peer,
    Ports,
    open_to_world,
    port_text,
    protocol,
    sg_admits_any,
    sg_missing,
    sg_rule_ports,
)
from checks.lib.network.topology import (
    active_services,
    live_tasks,
    security_groups,
    service_text,
    subnet_cidr,
    topology,
)

# -- HTTPS out of the tasks ---------------------------------------------------------------------

@check(id="task-sg-egress-https", area="network", severity=Severity.HIGH,
       title="Task security groups block HTTPS the tasks need",
       needs=(*ROUTES, "security_groups"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html",
       emits=("affected_tasks", "availability_zone", "blocked_by_endpoint_groups",
              "blocked_egress", "egress", "main_route_table", "route_table", "security_groups",
              "subnet", "target", "via", "vpc"),
       products=("scan", "gate"))  # the gate runs it as if the service ran the candidate
def task_sg_egress_https(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Image pulls, secrets and awslogs are HTTPS (tcp/443) from the ENI that carries them:
    to the internet through NAT, to an interface endpoint's addresses or group, or to S3
    through a gateway endpoint (its prefix list). A restricted egress list that misses one
    of them fails the task at start even though routes are right."""
    for item in placed(facts, pulls_only=True):
        yield item if isinstance(item, Result) else _egress_https_result(facts, item)


def _destinations(facts: Facts, p: Placed, need: Need) -> list[tuple[str, Peer, Item | None]]:
    """Where `need`'s HTTPS goes from this subnet: (label, peer, endpoint)."""
    ep, _ = endpoint_for(facts, need, p.vpc, p.egress.route_table)
    if ep is not None and ep.get("VpcEndpointType") == "Gateway":
        return [(f"the {need.endpoint} prefix list (gateway endpoint {ep.get('VpcEndpointId')})",
                 Peer(prefix_list=True, cidr=ANYWHERE), None)]
    if ep is not None:
        groups = frozenset(str(g.get("GroupId")) for g in objs(ep.get("Groups")))
        nets = [subnet_cidr(facts, s) for s in strs(ep.get("SubnetIds"))] or [None]
        return [(f"endpoint {ep.get('VpcEndpointId')}", Peer(groups=groups, cidr=n), ep)
                for n in nets]
    if reaches_internet(p.egress, p.origin):
        return [("0.0.0.0/0", Peer(cidr=ANYWHERE), None)]
    return []  # no path at all: task-subnet-default-route reports it


def _endpoint_ingress_blocked(facts: Facts, p: Placed, ep: Item) -> str | None:
    groups, _ = security_groups(facts, [str(g.get("GroupId")) for g in objs(ep.get("Groups"))])
    if not groups:
        return None
    peer = Peer(groups=frozenset(p.origin.groups), cidr=subnet_cidr(facts, p.subnet_id))
    if sg_missing(groups, egress=False, proto="tcp", ports=HTTPS, peer=peer):
        ids = ", ".join(str(g.get("GroupId")) for g in groups)
        return f"{ep.get('VpcEndpointId')} ({ids})"
    return None


def _https_blocked(facts: Facts, p: Placed, groups: list[Item], needs: list[Need]
                   ) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(destination → endpoints its egress blocks, endpoint groups → endpoints they refuse).
    Shared through Facts.memo: read it, do not change it."""
    out_blocked: dict[str, set[str]] = {}
    in_blocked: dict[str, set[str]] = {}
    for need in needs:
        for dest, peer, ep in _destinations(facts, p, need):
            if sg_missing(groups, egress=True, proto="tcp", ports=HTTPS, peer=peer):
                out_blocked.setdefault(dest, set()).add(need.endpoint)
            elif ep is not None and (closed := _endpoint_ingress_blocked(facts, p, ep)):
                in_blocked.setdefault(closed, set()).add(need.endpoint)
    return out_blocked, in_blocked


def _egress_https_result(facts: Facts, p: Placed) -> Result:
    ids = ",".join(p.origin.groups) or p.subnet_id
    if not p.origin.groups:
        return unknown(ids, f"{p.label}: {p.where}: no security group named (the VPC default "
                       "group applies)", service=p.arn)
    groups, absent = security_groups(facts, list(p.origin.groups))
    needs = [n for n in task_needs(facts, p.origin.service) or [] if n.endpoint != "internet"]
    if absent or not needs:
        why = f"groups {', '.join(absent)} not in the bundle" if absent else "no AWS service need"
        return (unknown if absent else skipped)(ids, f"{p.label}: {why}", service=p.arn)
    # Every service on the same hosts (or with the same groups in the same subnet) asks the
    # same question: what is blocked depends only on the key below, not on the service.
    key = ("network.sg_egress_https", p.origin.groups, p.subnet_id, p.vpc,
           p.egress.kind, p.egress.route_table, bool(p.origin.public_ip),
           tuple((n.endpoint, n.region) for n in needs))
    out_blocked, in_blocked = facts.memo(key, lambda: _https_blocked(facts, p, groups, needs))
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

@check(id="security-group-open-admin-ports", area="network", severity=Severity.HIGH,
       title="Task security groups open admin ports to the internet",
       needs=(*NET, "security_groups"),
       docs="https://docs.aws.amazon.com/securityhub/latest/userguide/ec2-controls.html",
       emits=("affected_tasks", "exposures", "security_group"))
def security_group_open_admin_ports(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Ingress from 0.0.0.0/0 or ::/0 on all traffic, or on SSH, RDP, the Docker API, or
    database ports, exposes the tasks (or their hosts) to the whole internet. Data ports
    of the application itself are not flagged."""
    for svc in active_services(facts):
        arn, label = str(svc.get("serviceArn")), service_text(svc)
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


def _exposures(sg: Item) -> list[str]:
    admin = {int(k): str(v) for k, v in table("network_ports")["admin_ports"].items()}
    out = []
    for rule in objs(sg.get("IpPermissions")):
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


# -- the load balancer into the tasks -----------------------------------------------------------

@check(id="lb-to-task-security-group", area="network", severity=Severity.HIGH,
       title="Task security groups do not admit the load balancer", needs=(*LB, "security_groups"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-considerations.html",
       emits=("affected_tasks", "lb_security_groups", "load_balancer", "missing_ingress",
              "missing_lb_egress", "ports", "security_groups", "target_group"),
       products=("scan", "gate"))  # the gate runs it as if the service ran the candidate
def lb_to_task_security_group(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The targets' security groups must admit the load balancer on the traffic and
    health-check ports — the container port for target type ip (awsvpc), the host port or
    the dynamic range 32768-60999 for bridge — by referencing the LB's group or a CIDR that
    covers its subnets; the LB's own egress must allow the same. Otherwise health checks
    time out and ECS replaces healthy tasks in a loop. Bridge/host services read the
    container instances' groups (container_instances, ec2_instances) when collected."""
    for svc in active_services(facts):
        topo = topology(facts, svc)
        ids, why = target_security_groups(facts, svc, topo)
        for tg_arn, path in lb_paths(facts, svc):
            if isinstance(path, Gap):
                yield gap_result(tg_arn, svc, path)
                continue
            groups, absent = security_groups(facts, ids)
            if why or absent:
                text = why or f"groups {', '.join(absent)} not in the bundle"
                yield unknown(tg_arn, f"{service_text(svc)}: {text}",
                              service=str(svc["serviceArn"]))
                continue
            yield _lb_sg_result(facts, path, groups, ids, target_subnets(facts, svc, topo))


def _missing_in(facts: Facts, path: LbPath, groups: list[Item]) -> list[Ports]:
    nets = [subnet_cidr(facts, s) for s, _ in lb_subnets(path.lb)] or [None]
    missing = {m for net in nets for ports in path.ports for m in sg_missing(
        groups, egress=False, proto=path.proto, ports=ports,
        peer=Peer(groups=path.lb_groups, cidr=net))}
    return sorted(missing)


def _missing_out(facts: Facts, path: LbPath, ids: list[str], targets: list[str]) -> list[Ports]:
    """What the LB's egress does not allow to the targets, once per (LB groups, the target
    groups those reference, target subnets, protocol, ports) and analysis. The target
    groups count only where an LB egress rule names them, so services behind the same LB
    whose own groups it does not name (each service its own group) share the answer.
    Shared: copy the list before handing it out."""
    lb_ids = sorted(path.lb_groups)
    named = frozenset(ids) & _egress_refs(facts, tuple(lb_ids))
    key = ("sg.lb_out", tuple(lb_ids), named, tuple(targets), path.proto, path.ports)

    def judge() -> list[Ports]:
        lb_groups, _ = security_groups(facts, lb_ids)
        if not lb_groups:
            return []
        nets = [subnet_cidr(facts, t) for t in targets] or [None]
        return sorted({m for net in nets for ports in path.ports for m in sg_missing(
            lb_groups, egress=True, proto=path.proto, ports=ports,
            peer=Peer(groups=named, cidr=net))})

    return facts.memo(key, judge)


def _egress_refs(facts: Facts, lb_ids: tuple[str, ...]) -> frozenset[str]:
    """Every group id the egress rules of `lb_ids` reference: a peer's groups matter to
    sg_missing only through these."""
    def build() -> frozenset[str]:
        groups, _ = security_groups(facts, list(lb_ids))
        return frozenset(str(p.get("GroupId")) for sg in groups
                         for rule in objs(sg.get("IpPermissionsEgress"))
                         for p in objs(rule.get("UserIdGroupPairs")))
    return facts.memo(("sg.egress_refs", lb_ids), build)


def _lb_sg_result(facts: Facts, path: LbPath, groups: list[Item], ids: list[str],
                  targets: list[str]) -> Result:
    svc_arn, label = str(path.service["serviceArn"]), service_text(path.service)
    inbound = _missing_in(facts, path, groups)
    outbound = list(_missing_out(facts, path, ids, targets))
    lb_sgs = ", ".join(sorted(path.lb_groups)) or "no security group"
    data = path_data(facts, path, security_groups=ids, lb_security_groups=sorted(
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
