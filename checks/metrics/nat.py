"""NAT gateway signals: port exhaustion (hard) and drops / unanswered connections (soft).

Each IPv4 address of a NAT gateway holds 55,000 simultaneous connections per unique
destination; past that, ErrorPortAllocation counts the connections it could not open.
Tasks behind the NAT then see connect timeouts to one API or registry while everything
else looks healthy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.knowledge import table
from checks.lib.labels import service_label
from checks.lib.metric_refs import find, nat_addresses, nats, services_behind_nats
from checks.lib.series import Series, clock

NS = "AWS/NATGateway"
DOCS = "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html"


def limits() -> Mapping[str, Any]:
    return table("nat_gateway_limits")


def _total(s: Series | None) -> float | None:
    return sum(s.values) if s is not None and len(s) else None


@dataclass(frozen=True, slots=True)
class NatSignals:
    nat_id: str
    addresses: int
    findings: list[str] = field(default_factory=list)  # what is wrong, in words
    seen: list[str] = field(default_factory=list)  # what is fine, in words
    missing: list[str] = field(default_factory=list)  # metrics not in the bundle
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def measured(self) -> bool:
        return bool(self.findings or self.seen)


def _series(facts: Facts, nat_id: str, name: str, stat: str, sig: NatSignals) -> Series | None:
    got = find(facts, NS, name, {"NatGatewayId": nat_id}, (stat,))
    if got is None or not len(got):
        sig.missing.append(f"{name} ({stat})")
        return None
    return got


def exhaustion(facts: Facts, nat: Item) -> NatSignals:
    """ErrorPortAllocation > 0, or peak ActiveConnectionCount near 55,000 × addresses."""
    nat_id = str(nat.get("NatGatewayId"))
    sig = NatSignals(nat_id, nat_addresses(nat))
    limit = limits()["connections_per_address"] * sig.addresses
    sig.data.update(addresses=sig.addresses, connection_limit=limit)
    port = _series(facts, nat_id, "ErrorPortAllocation", "Sum", sig)
    if port is not None:
        errors = sum(port.values)
        sig.data["error_port_allocation"] = errors
        if errors > 0:
            first = next(t for t, v in zip(port.times, port.values, strict=True) if v > 0)
            sig.findings.append(f"ErrorPortAllocation {errors:,.0f} (first at {clock(first)})")
        else:
            sig.seen.append("ErrorPortAllocation 0")
    active = _series(facts, nat_id, "ActiveConnectionCount", "Maximum", sig)
    if active is not None:
        peak = max(active.values)
        sig.data.update(peak_active_connections=peak, peak_fraction=round(peak / limit, 3))
        where = (f"peak ActiveConnectionCount {peak:,.0f} of {limit:,} "
                 f"(55,000 per destination × {sig.addresses} address"
                 f"{'es' if sig.addresses > 1 else ''})")
        (sig.findings if peak >= limits()["warn_fraction"] * limit else sig.seen).append(where)
    return sig


def drops(facts: Facts, nat: Item) -> NatSignals:
    """PacketsDropCount above 0.01% of the packets, or attempts left unanswered."""
    nat_id = str(nat.get("NatGatewayId"))
    sig = NatSignals(nat_id, nat_addresses(nat))
    lim = limits()
    dropped = _total(_series(facts, nat_id, "PacketsDropCount", "Sum", sig))
    packets = [_total(find(facts, NS, n, {"NatGatewayId": nat_id}, ("Sum",)))
               for n in ("PacketsOutToDestination", "PacketsOutToSource")]
    total = sum(p for p in packets if p is not None) if any(
        p is not None for p in packets) else None
    if dropped is not None:
        share = dropped / total if total else None
        sig.data.update(packets_dropped=dropped, drop_share=share)
        bad = dropped > 0 and (share is None or share > lim["drop_fraction"])
        text = f"PacketsDropCount {dropped:,.0f}" + (
            f" ({share:.4%} of {total:,.0f} packets)" if share is not None else "")
        (sig.findings if bad else sig.seen).append(text)
    attempts = _total(_series(facts, nat_id, "ConnectionAttemptCount", "Sum", sig))
    established = _total(_series(facts, nat_id, "ConnectionEstablishedCount", "Sum", sig))
    if attempts is not None and established is not None:
        ratio = established / attempts if attempts else 1.0
        sig.data.update(connection_attempts=attempts, connections_established=established,
                        established_ratio=round(ratio, 4))
        text = (f"{established:,.0f} of {attempts:,.0f} connection attempts established "
                f"({ratio:.1%})")
        bad = attempts >= lim["min_attempts"] and ratio < lim["established_min_ratio"]
        if attempts < lim["min_attempts"]:
            text += f" (fewer than {lim['min_attempts']} attempts: too few to judge)"
        (sig.findings if bad else sig.seen).append(text)
    return sig


def results(facts: Facts, signals: Callable[[Facts, Item], NatSignals],
            what: str) -> Iterator[Result]:
    """One result per service routed through each NAT (service= set), or one for the
    NAT itself when no service in scope uses it."""
    behind = services_behind_nats(facts)
    for gw in nats(facts):
        nat_id = str(gw.get("NatGatewayId"))
        state = gw.get("State")
        if state not in (None, "available"):
            yield skipped(nat_id, f"NAT gateway {nat_id}: state {state}, carries no traffic")
            continue
        sig = signals(facts, gw)
        users: list[tuple[Item | None, list[str]]] = [*behind.get(nat_id, [])] or [(None, [])]
        for svc, subnets in users:
            arn = str(svc["serviceArn"]) if svc else None
            who = (f"service {service_label(svc)} routes 0.0.0.0/0 through {nat_id} (subnets "
                   f"{', '.join(subnets)}): " if svc else "")
            data = {"nat_gateway_id": nat_id, "subnets": subnets, **sig.data}
            if sig.findings:
                yield failed(nat_id, f"{who}NAT gateway {nat_id}: {'; '.join(sig.findings)}",
                             service=arn, **data)
            elif sig.measured:
                absent = f"; not in the bundle: {', '.join(sig.missing)}" if sig.missing else ""
                yield passed(nat_id, f"{who}NAT gateway {nat_id}: {'; '.join(sig.seen)}{absent}",
                             service=arn, **data)
            else:
                yield unknown(nat_id, f"{who}NAT gateway {nat_id}: cannot judge {what}; needs "
                              f"AWS/NATGateway {', '.join(sig.missing)}", service=arn,
                              needs=sig.missing, **data)


@check(id="nat-gateway-port-exhaustion", area="metrics", severity=Severity.HIGH,
       title="NAT gateway out of source ports or near 55,000 connections per address",
       needs=("nat_gateways", "metrics"), docs=DOCS,
       emits=("addresses", "connection_limit", "error_port_allocation", "nat_gateway_id",
              "peak_active_connections", "peak_fraction", "subnets"))
def nat_gateway_port_exhaustion(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A NAT gateway address holds 55,000 simultaneous connections per destination;
    ErrorPortAllocation > 0 means connections were refused for lack of ports. Tasks
    behind it see connect timeouts to one endpoint while the rest of the VPC looks fine.
    Services are found through the route table of their subnets (route_tables, services,
    subnets for the main-table fallback, when collected)."""
    yield from results(facts, exhaustion, "port allocation and connection count")


@check(id="nat-gateway-dropping-connections", area="metrics", severity=Severity.MEDIUM,
       title="NAT gateway drops packets or leaves connection attempts unanswered",
       needs=("nat_gateways", "metrics"), docs=DOCS,
       emits=("connection_attempts", "connections_established", "drop_share",
              "established_ratio", "nat_gateway_id", "packets_dropped", "subnets"))
def nat_gateway_dropping_connections(facts: Facts, prior: Prior) -> Iterator[Result]:
    """PacketsDropCount above 0.01% of the traffic, or far fewer established connections
    than attempts, is what a saturated NAT gateway looks like from the other side: it
    supports port exhaustion, and alone points at the destination or a NAT-side issue."""
    yield from results(facts, drops, "drops and connection attempts")
