"""Security-group and network-ACL evaluation, as EC2 applies them.

Security groups are allow-lists and stateful: every rule of every group on the ENI is
considered, a flow passes when any rule admits it, and return traffic is implicit. Network
ACLs are stateless and ordered: rules are read in ascending RuleNumber, the first rule that
matches a packet decides, and the final `*` rule (RuleNumber 32767) denies the rest — so the
return path (ephemeral ports) must be allowed explicitly in the other direction.
https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html

A "flow" here is a set of packets: one protocol, one port range, and one peer CIDR (the LB
subnet, 0.0.0.0/0, …). A rule covers the flow's addresses when its CIDR contains the peer
CIDR; a rule whose CIDR is only inside the peer CIDR applies to part of the addresses and is
reported as partial, never taken as the verdict for the whole flow.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from checker.facts import Item, obj, objs

Ports = tuple[int, int]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALL_PORTS: Ports = (0, 65535)
#: The `*` rule every network ACL ends with.
NACL_DEFAULT_RULE = 32767
_PROTOCOLS = {"-1": "all", "all": "all", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp",
              "icmp": "icmp", "1": "icmp", "icmpv6": "icmpv6", "58": "icmpv6"}


def protocol(value: Any) -> str:
    """EC2 writes protocols as names in security groups ("tcp", "-1") and as numbers in
    network ACLs ("6", "-1"); compare them in one vocabulary."""
    return _PROTOCOLS.get(str(value).lower(), str(value).lower())


def network(value: Any) -> Network | None:
    """The network `value` spells, or None. A large account asks about a handful of CIDRs
    hundreds of thousands of times (every rule against every flow of every service), and
    `ip_network` is slow: each distinct spelling is parsed once per process."""
    return _network(str(value))


@lru_cache(maxsize=4096)
def _network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


#: Every IPv4 address: the internet as a peer.
ANYWHERE = network("0.0.0.0/0")
HTTPS: Ports = (443, 443)


#: (id(a), id(b)) → (a, b, answer): the networks are the same few objects over and over
#: (`network` hands out one object per spelling), and hashing an ip_network runs Python
#: code, so answers are kept by identity; holding a and b keeps their ids from being reused.
_PAIRS: dict[tuple[str, int, int], tuple[object, object, bool]] = {}
_PAIRS_MAX = 65536


def _pair(kind: str, a: Network, b: Network) -> bool:
    key = (kind, id(a), id(b))
    hit = _PAIRS.get(key)
    if hit is not None and hit[0] is a and hit[1] is b:
        return hit[2]
    answer = b.subnet_of(a) if kind == "covers" else a.overlaps(b)  # type: ignore[arg-type]
    if len(_PAIRS) >= _PAIRS_MAX:
        _PAIRS.clear()
    _PAIRS[key] = (a, b, answer)
    return answer


def covers(outer: Network | None, inner: Network | None) -> bool:
    """`inner` lies inside `outer` (answered once per pair of network objects)."""
    if outer is None or inner is None or outer.version != inner.version:
        return False
    return _pair("covers", outer, inner)


def overlaps(a: Network | None, b: Network | None) -> bool:
    if a is None or b is None or a.version != b.version:
        return False
    return _pair("overlaps", a, b)


# -- port intervals -----------------------------------------------------------------------

def subtract(want: Iterable[Ports], have: Iterable[Ports]) -> list[Ports]:
    """The parts of `want` that no interval of `have` covers."""
    left = sorted(want)
    for lo, hi in have:
        nxt: list[Ports] = []
        for a, b in left:
            if hi < a or lo > b:
                nxt.append((a, b))
                continue
            if a < lo:
                nxt.append((a, lo - 1))
            if b > hi:
                nxt.append((hi + 1, b))
        left = nxt
    return left


def intersect(a: Ports, b: Ports) -> Ports | None:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else None


def port_text(ranges: Iterable[Ports]) -> str:
    return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# -- security groups ------------------------------------------------------------------------

def sg_rule_ports(rule: Item) -> Ports:
    """Ports of one IpPermission. "-1" means every protocol and port; for tcp/udp EC2
    returns FromPort/ToPort (-1 or absent only for protocols without ports)."""
    if protocol(rule.get("IpProtocol")) == "all":
        return ALL_PORTS
    lo, hi = _int(rule.get("FromPort"), -1), _int(rule.get("ToPort"), -1)
    if lo < 0 or hi < 0:
        return ALL_PORTS
    return (lo, hi)


def _proto_ok(rule_proto: str, want: str) -> bool:
    return rule_proto == "all" or rule_proto == want


@dataclass(frozen=True)
class Peer:
    """Who is on the other side of a security-group rule: groups it may reference, the
    CIDR its addresses are in (None when unknown), and whether a prefix list may stand for
    it (S3 through a gateway endpoint)."""

    groups: frozenset[str] = frozenset()
    cidr: Network | None = None
    prefix_list: bool = False


def _rule_matches_peer(rule: Item, peer: Peer) -> bool:
    if peer.groups and any(str(p.get("GroupId")) in peer.groups
                           for p in objs(rule.get("UserIdGroupPairs"))):
        return True
    if peer.prefix_list and objs(rule.get("PrefixListIds")):
        return True
    ranges = [network(r.get("CidrIp")) for r in objs(rule.get("IpRanges"))]
    ranges += [network(r.get("CidrIpv6")) for r in objs(rule.get("Ipv6Ranges"))]
    target = peer.cidr
    if target is None:  # unknown peer address: only "anywhere" is sure to include it
        return any(n is not None and n.prefixlen == 0 and n.version == 4 for n in ranges)
    return any(covers(n, target) for n in ranges)


def sg_missing(groups: Iterable[Item], *, egress: bool, proto: str, ports: Ports,
               peer: Peer) -> list[Ports]:
    """Ports of `ports` that no rule of `groups` admits for `peer` (empty = all admitted)."""
    key = "IpPermissionsEgress" if egress else "IpPermissions"
    admitted = [sg_rule_ports(rule) for sg in groups for rule in objs(sg.get(key))
                if _proto_ok(protocol(rule.get("IpProtocol")), proto)
                and _rule_matches_peer(rule, peer)]
    return subtract([ports], admitted)


def sg_admits_any(groups: Iterable[Item], *, egress: bool, proto: str, ports: Ports) -> bool:
    """Some rule admits some of `ports` from anyone at all (used to tell "closed" from
    "open to someone else")."""
    key = "IpPermissionsEgress" if egress else "IpPermissions"
    return any(intersect(sg_rule_ports(rule), ports) is not None
               for sg in groups for rule in objs(sg.get(key))
               if _proto_ok(protocol(rule.get("IpProtocol")), proto))


def open_to_world(rule: Item) -> list[str]:
    """The "anywhere" sources (0.0.0.0/0, ::/0) of an ingress rule."""
    out = [str(r.get("CidrIp")) for r in objs(rule.get("IpRanges"))
           if (n := network(r.get("CidrIp"))) is not None and n.prefixlen == 0]
    out += [str(r.get("CidrIpv6")) for r in objs(rule.get("Ipv6Ranges"))
            if (n := network(r.get("CidrIpv6"))) is not None and n.prefixlen == 0]
    return out


# -- network ACLs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    """The verdict for part of a flow's ports: which rule decided, and whether that rule
    applied to all of the peer's addresses (`partial` False) or only some of them."""

    ports: Ports
    action: str  # "allow" | "deny"
    rule: int
    partial: bool = False


def _entry_ports(entry: Item) -> Ports:
    if protocol(entry.get("Protocol")) == "all":
        return ALL_PORTS
    rng = obj(entry.get("PortRange"))
    lo, hi = _int(rng.get("From"), 0), _int(rng.get("To"), 65535)
    return (lo, hi) if lo <= hi else ALL_PORTS


def nacl_entries(acl: Item, *, egress: bool) -> list[Item]:
    entries = [e for e in objs(acl.get("Entries")) if bool(e.get("Egress")) == egress]
    return sorted(entries, key=lambda e: _int(e.get("RuleNumber"), NACL_DEFAULT_RULE))


def nacl_evaluate(acl: Item, *, egress: bool, proto: str, ports: Ports,
                  peer: Network) -> list[Segment]:
    """First match wins, rule by rule in number order, for every port of the flow.

    Returns the decided segments (covering all of `ports`) plus partial segments for rules
    that touched only some of the peer's addresses. A flow with no matching rule ends at
    the implicit `*` deny even when a hand-written bundle omits entry 32767."""
    remaining: list[Ports] = [ports]
    out: list[Segment] = []
    for entry in nacl_entries(acl, egress=egress):
        if not remaining:
            break
        if not _proto_ok(protocol(entry.get("Protocol")), proto):
            continue
        cidr = network(entry.get("CidrBlock") or entry.get("Ipv6CidrBlock"))
        if not overlaps(cidr, peer):
            continue
        action = str(entry.get("RuleAction", "deny")).lower()
        number = _int(entry.get("RuleNumber"), NACL_DEFAULT_RULE)
        hit = [p for r in remaining if (p := intersect(r, _entry_ports(entry)))]
        if not covers(cidr, peer):
            out.extend(Segment(p, action, number, partial=True) for p in hit)
            continue
        out.extend(Segment(p, action, number) for p in hit)
        remaining = subtract(remaining, hit)
    out.extend(Segment(p, "deny", NACL_DEFAULT_RULE) for p in remaining)
    return sorted(out, key=lambda s: (s.ports, s.partial))


def denied(segments: Iterable[Segment]) -> list[Segment]:
    """Segments the flow loses for all of the peer's addresses."""
    return [s for s in segments if s.action == "deny" and not s.partial]


def rule_label(number: int) -> str:
    return "*" if number == NACL_DEFAULT_RULE else str(number)
