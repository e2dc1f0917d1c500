"""Do the network ACLs drop packets a working path needs? They are stateless and
first-match, so every path is evaluated as four flows (request and reply, in both subnets'
ACLs): the load balancer to the tasks, and the tasks' HTTPS out."""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts, Item, objs, strs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.network import LB, ROUTES
from checks.lib.network.egress import Placed, placed, reaches_internet
from checks.lib.network.endpoints import Need, endpoint_for, task_needs
from checks.lib.network.flows import client_ephemeral, egress_flows, evaluate, lb_flows
from checks.lib.network.lb_paths import (
    Gap,
    LbPath,
    gap_result,
    lb_paths,
    lb_subnets,
    path_data,
    target_subnets,
)
from checks.lib.network.rules import Ports
from checks.lib.network.topology import (
    active_services,
    live_tasks,
    service_text,
    subnet_item,
    topology,
)

ACL_DOCS = "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html"


# -- the load balancer into the tasks -----------------------------------------------------------

@check(id="nacl-blocks-lb-traffic", area="network", severity=Severity.HIGH,
       title="Network ACLs drop load balancer traffic to the tasks",
       needs=(*LB, "network_acls"), docs=ACL_DOCS,
       emits=("affected_tasks", "load_balancer", "network_acls", "ports", "problems", "subnet",
              "target_group"),
       products=("scan", "gate"))  # the gate runs it as if the service ran the candidate
def nacl_blocks_lb_traffic(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Network ACLs are stateless and first-match: between the LB subnets and the task
    subnets the target port must be allowed one way and the LB's ephemeral ports
    (1024-65535) the other way, in both subnets' ACLs, before the final `*` deny."""
    for svc in active_services(facts):
        arn, topo = str(svc.get("serviceArn")), topology(facts, svc)
        targets = target_subnets(facts, svc, topo)
        for tg_arn, path in lb_paths(facts, svc):
            if isinstance(path, Gap):
                yield gap_result(tg_arn, svc, path)
                continue
            if not targets:
                yield unknown(tg_arn, f"{service_text(svc)}: no target subnet known "
                              f"({topo.pulls_unknown or 'no subnet, no running task'})",
                              service=arn)
            for target in targets:
                yield _lb_nacl_result(facts, path, target)


def _lb_verdict(facts: Facts, path: LbPath, target: str) -> tuple[list[str], list[str],
                                                                  list[str]]:
    """evaluate() of the LB → `target` flows: the same for every service behind the same
    load balancer, ports and target subnet, so judged once per analysis. Shared: copy the
    lists before handing them out."""
    key = ("nacl.lb", tuple(lb_subnets(path.lb)), target, path.proto, path.ports,
           path.lb_name, path.what)
    return facts.memo(key, lambda: evaluate(facts, lb_flows(facts, path, target)))


def _tasks_by_subnet(facts: Facts, svc: Item) -> dict[str, int]:
    """How many of the service's live tasks sit in each subnet (once per service)."""
    def count() -> dict[str, int]:
        out: dict[str, int] = {}
        for task in live_tasks(facts, svc):
            for subnet in _task_subnets(task):
                out[subnet] = out.get(subnet, 0) + 1
        return out
    return facts.memo_of(svc, "nacl.tasks_by_subnet", count)


def _lb_nacl_result(facts: Facts, path: LbPath, target: str) -> Result:
    svc_arn, label = str(path.service["serviceArn"]), service_text(path.service)
    problems, acls, unknowns = (list(v) for v in _lb_verdict(facts, path, target))
    data = path_data(facts, path, subnet=target, network_acls=acls, problems=problems)
    data["affected_tasks"] = _tasks_by_subnet(facts, path.service).get(target, 0)
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
    return {str(d.get("value")) for a in objs(task.get("attachments"))
            for d in objs(a.get("details")) if d.get("name") == "subnetId"}


# -- HTTPS out of the tasks ---------------------------------------------------------------------

@check(id="nacl-blocks-task-egress", area="network", severity=Severity.HIGH,
       title="Network ACLs drop the tasks' HTTPS or its replies",
       needs=(*ROUTES, "network_acls"), docs=ACL_DOCS,
       emits=("affected_tasks", "availability_zone", "egress", "main_route_table",
              "network_acls", "not_evaluated", "problems", "reply_ports", "route_table",
              "subnet", "target", "via", "vpc"))
def nacl_blocks_task_egress(facts: Facts, prior: Prior) -> Iterator[Result]:
    """An outbound 443 allow is not enough: the replies come back to the task's ephemeral
    ports (32768-60999 Linux, 49152-65535 Windows) and must be allowed inbound; on the NAT
    gateway's subnet its own ports (1024-65535) too. A missing return rule looks exactly
    like a missing route: pulls time out."""
    for item in placed(facts):
        yield item if isinstance(item, Result) else _nacl_egress_result(facts, item)


def _endpoint_subnets(facts: Facts, p: Placed) -> tuple[str, ...]:
    """The subnets of the interface endpoints serving the origin's needs, once per
    (endpoints and regions needed, VPC, route table) and analysis: which endpoint serves a
    need does not depend on why it is needed (that names the service's image), so services
    needing the same endpoints share the answer."""
    if not p.origin.pulls:
        return ()
    needs, kinds = _endpoint_needs(facts, p.origin.service)
    return facts.memo(("nacl.endpoint_subnets", kinds, p.vpc, p.egress.route_table),
                      lambda: _interface_subnets(facts, needs, p))


def _endpoint_needs(facts: Facts, svc: Item) -> tuple[tuple[Need, ...], tuple[tuple[str, str],
                                                                             ...]]:
    """The service's needs an endpoint can serve, and their (endpoint, region): once per
    service, which is asked once per origin subnet."""
    def build() -> tuple[tuple[Need, ...], tuple[tuple[str, str], ...]]:
        needs = tuple(n for n in task_needs(facts, svc) or [] if n.endpoint != "internet")
        return needs, tuple((n.endpoint, n.region) for n in needs)
    return facts.memo_of(svc, "nacl.endpoint_needs", build)


def _interface_subnets(facts: Facts, needs: tuple[Need, ...], p: Placed) -> tuple[str, ...]:
    subnets: set[str] = set()
    for need in needs:
        ep, _ = endpoint_for(facts, need, p.vpc, p.egress.route_table)
        if ep and ep.get("VpcEndpointType") == "Interface":
            subnets.update(strs(ep.get("SubnetIds")))
    return tuple(sorted(subnets))


Verdict = tuple[bool, list[str], list[str], list[str]]


def _egress_verdict(facts: Facts, p: Placed, reply: Ports, internet: bool) -> Verdict:
    """(any flow to evaluate, problems, ACLs, unknowns) of HTTPS out of the origin subnet:
    the same for every service leaving that subnet the same way, so judged once per
    (subnet, route, reply ports, endpoint subnets, internet) and analysis. Shared: do not
    change the lists."""
    endpoints = _endpoint_subnets(facts, p)
    key = ("nacl.egress", p.subnet_id, p.egress, reply, endpoints, internet)

    def judge() -> Verdict:
        flows = egress_flows(facts, p.origin, p.egress, reply, list(endpoints), internet)
        return (bool(flows), *evaluate(facts, flows)) if flows else (False, [], [], [])

    return facts.memo(key, judge)


def _nacl_egress_result(facts: Facts, p: Placed) -> Result:
    internet = reaches_internet(p.egress, p.origin)
    reply, family = client_ephemeral(facts, p.origin.service)
    any_flow, problems, acls, unknowns = _egress_verdict(facts, p, reply, internet)
    if not any_flow:
        return skipped(p.subnet_id, f"{p.label}: {p.where}: no path out to evaluate",
                       service=p.arn)
    nat = facts.lookup("nat_gateways", "NatGatewayId", p.egress.target) if internet and (
        p.egress.kind == "nat") else None
    nat_subnet = str((nat or {}).get("SubnetId") or "")
    blind = [nat_subnet] if nat_subnet and subnet_item(facts, nat_subnet) is None else []
    data = p.data(network_acls=list(acls), problems=list(problems), reply_ports=list(reply),
                  not_evaluated=blind)
    if problems:
        return failed(p.subnet_id, f"{p.label}: {p.where}: {problems[0]}" + (
            f" (+{len(problems) - 1} more)" if len(problems) > 1 else "") + p.tasks_text,
            service=p.arn, **data)
    if unknowns:
        return unknown(p.subnet_id, f"{p.label}: {p.where}: {unknowns[0]}", service=p.arn,
                       **data)
    note = f" (NAT gateway subnet {blind[0]} not in the bundle: its ACL not checked)" if (
        blind) else ""
    return passed(p.subnet_id, f"{p.label}: {p.where}: network ACLs {', '.join(acls)} allow "
                  f"HTTPS out and replies to {family} ephemeral ports{note}", service=p.arn,
                  **data)
