"""The packets a working path needs, written as network-ACL flows, and their evaluation.

A network ACL sees a connection twice — the request one way, the reply the other way to the
client's ephemeral port — and once in each subnet it crosses (traffic inside one subnet is
not filtered). So each path becomes four flows: out and back in the client's subnet, in and
back out in the server's subnet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from checker.facts import Facts, Item, obj, objs
from checks.lib.knowledge import table
from checks.lib.network.egress import Egress
from checks.lib.network.lb_paths import LbPath, lb_subnets
from checks.lib.network.rules import (
    ANYWHERE,
    HTTPS,
    Network,
    Ports,
    denied,
    nacl_evaluate,
    port_text,
    rule_label,
)
from checks.lib.network.topology import Origin, subnet_cidr, subnet_item, task_definition_of


@dataclass(frozen=True)
class Flow:
    subnet_id: str  # the subnet whose network ACL sees the packets
    egress: bool
    proto: str
    ports: Ports
    peer: Network
    why: str


def ephemeral(name: str) -> Ports:
    """The source ports a client of kind `name` (linux, windows, elb, nat_gateway) picks:
    replies come back to them, so a stateless ACL must allow them the other way."""
    lo, hi = table("network_ports")["ephemeral"][name]
    return int(lo), int(hi)


def client_ephemeral(facts: Facts, svc: Item) -> tuple[Ports, str]:
    """Where replies to the tasks' own connections arrive, by the task's OS family."""
    td = task_definition_of(facts, svc) or {}
    family = str(obj(td.get("runtimePlatform")).get("operatingSystemFamily", ""))
    return (ephemeral("windows"), "Windows") if family.startswith("WINDOWS") else (
        ephemeral("linux"), "Linux")


def nacl_of(facts: Facts, subnet: Item) -> Item | None:
    """The subnet's associated ACL, else its VPC's default ACL."""
    sid = subnet.get("SubnetId")
    acls = facts.items("network_acls")
    for acl in acls:
        if any(a.get("SubnetId") == sid for a in objs(acl.get("Associations"))):
            return acl
    return next((a for a in acls if a.get("VpcId") == subnet.get("VpcId") and a.get("IsDefault")),
                None)


def _pair(client: tuple[str, Network], server: tuple[str, Network], proto: str,
          ports: Iterable[Ports], reply: Ports, what: str) -> list[Flow]:
    """The four flows of client → server on `ports`, replies to the client's `reply` ports."""
    (c_id, c_net), (s_id, s_net) = client, server
    if c_id == s_id:
        return []
    out: list[Flow] = []
    for p in ports:
        out += [Flow(c_id, True, proto, p, s_net, what), Flow(s_id, False, proto, p, c_net, what)]
    out += [Flow(s_id, True, proto, reply, c_net, f"replies to {what}"),
            Flow(c_id, False, proto, reply, s_net, f"replies to {what}")]
    return out


def lb_flows(facts: Facts, path: LbPath, target: str) -> list[Flow]:
    """Load balancer nodes (in the LB subnets) → targets in subnet `target`."""
    t_net = subnet_cidr(facts, target)
    if t_net is None:
        return []
    out: list[Flow] = []
    for lb_subnet, _ in lb_subnets(path.lb):
        lb_net = subnet_cidr(facts, lb_subnet)
        if lb_net is not None:
            out += _pair((lb_subnet, lb_net), (target, t_net), path.proto, path.ports,
                         ephemeral("elb"), f"{path.lb_name} → {path.what}")
    return out


def egress_flows(facts: Facts, origin: Origin, egress: Egress, reply: Ports,
                 endpoint_subnets: list[str], internet: bool) -> list[Flow]:
    """HTTPS from the origin subnet to the internet (through the NAT gateway's subnet when
    there is one), or else to the subnets of the interface endpoints it relies on."""
    o_net = subnet_cidr(facts, origin.subnet_id)
    if o_net is None or ANYWHERE is None:
        return []
    me = (origin.subnet_id, o_net)
    if not internet:
        return [f for sid in endpoint_subnets if (net := subnet_cidr(facts, sid))
                for f in _pair(me, (sid, net), "tcp", [HTTPS], reply, "HTTPS to VPC endpoints")]
    flows = [Flow(origin.subnet_id, True, "tcp", HTTPS, ANYWHERE, "HTTPS to the internet"),
             Flow(origin.subnet_id, False, "tcp", reply, ANYWHERE, "replies from the internet")]
    nat = facts.lookup("nat_gateways", "NatGatewayId", egress.target) if (
        egress.kind == "nat") else None
    nat_subnet = str((nat or {}).get("SubnetId", ""))
    nat_net = subnet_cidr(facts, nat_subnet)
    if nat_net is not None and nat_subnet != origin.subnet_id:
        flows += _pair(me, (nat_subnet, nat_net), "tcp", [HTTPS], reply,
                       f"HTTPS through NAT gateway {egress.target}")
        flows += [Flow(nat_subnet, True, "tcp", HTTPS, ANYWHERE, "NAT gateway → internet"),
                  Flow(nat_subnet, False, "tcp", ephemeral("nat_gateway"), ANYWHERE,
                       "replies to the NAT gateway")]
    return flows


def evaluate(facts: Facts, flows: Iterable[Flow]) -> tuple[list[str], list[str], list[str]]:
    """(problems, ACL ids examined, unknowns) — a problem names the ACL, the direction,
    the ports it drops and the rule that drops them."""
    problems: list[str] = []
    seen: list[str] = []
    unknowns: list[str] = []
    for flow in flows:
        acl_id, dropped = _verdict(facts, flow)
        if acl_id is None:
            unknowns.append(f"no network ACL known for {flow.subnet_id}")
            continue
        if acl_id not in seen:
            seen.append(acl_id)
        for text in dropped:
            if text not in problems:
                problems.append(text)
    return problems, seen, sorted(set(unknowns))


def _verdict(facts: Facts, flow: Flow) -> tuple[str | None, tuple[str, ...]]:
    """(the ACL that sees `flow`, or None; what it drops), once per distinct flow and
    analysis: every service in the same subnets asks about the very same packets."""
    return facts.memo(("network.flows.verdict", flow), lambda: _judge(facts, flow))


def _judge(facts: Facts, flow: Flow) -> tuple[str | None, tuple[str, ...]]:
    subnet = subnet_item(facts, flow.subnet_id)
    acl = nacl_of(facts, subnet) if subnet else None
    if acl is None:
        return None, ()
    acl_id = str(acl.get("NetworkAclId"))
    dropped: list[str] = []
    for seg in denied(nacl_evaluate(acl, egress=flow.egress, proto=flow.proto,
                                    ports=flow.ports, peer=flow.peer)):
        way = f"outbound {flow.proto}/{port_text([seg.ports])} to" if flow.egress else (
            f"inbound {flow.proto}/{port_text([seg.ports])} from")
        dropped.append(f"{acl_id} of {flow.subnet_id} drops {way} {flow.peer} (rule "
                       f"{rule_label(seg.rule)} deny; {flow.why})")
    return acl_id, tuple(dropped)
