"""Can the tasks resolve names? The VPC's DNS attributes (Amazon DNS server, private DNS of
interface endpoints) and DNS through the tasks' security groups."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts
from checker.model import Result, Severity, failed, passed, unknown
from checker.registry import Prior, check
from checks.lib.network import NET
from checks.lib.network.egress import Placed, placed
from checks.lib.network.rules import sg_admits_any
from checks.lib.network.topology import live_tasks, security_groups


@check(id="vpc-dns-attributes", area="network", severity=Severity.HIGH,
       title="VPC DNS support or hostnames off where tasks need them",
       needs=(*NET, "vpcs", "vpc_endpoints"),
       docs="https://docs.aws.amazon.com/vpc/latest/userguide/AmazonDNS-concepts.html",
       emits=("affected_tasks", "enable_dns_hostnames", "enable_dns_support",
              "private_dns_endpoints", "subnet", "vpc"))
def vpc_dns_attributes(facts: Facts, prior: Prior) -> Iterator[Result]:
    """With enableDnsSupport off the Amazon DNS server does not answer, so no registry or
    AWS API name resolves; interface endpoints' private DNS names need both enableDnsSupport
    and enableDnsHostnames, else the names resolve to public addresses that a private
    subnet cannot reach."""
    seen: set[tuple[str, str | None]] = set()
    for item in placed(facts, with_egress=False):
        if isinstance(item, Result):
            yield item
        elif (item.arn, item.vpc) not in seen:
            seen.add((item.arn, item.vpc))
            yield _dns_result(facts, item)


def _off(value: Any) -> bool:
    return value is False or str(value).lower() == "false"


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


@check(id="task-sg-egress-dns", area="network", severity=Severity.LOW,
       title="Task security groups block DNS out", needs=(*NET, "security_groups"),
       docs="https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html",
       emits=("affected_tasks", "availability_zone", "dns_blocked", "security_groups", "subnet",
              "via", "vpc"))
def task_sg_egress_dns(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Security groups do not filter traffic to the Amazon DNS server, so an egress list
    without port 53 is harmless with the default DHCP options — and breaks every lookup
    when the VPC's DHCP options point at your own DNS servers. Low severity for that."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for item in placed(facts, with_egress=False):
        if isinstance(item, Result):
            yield item
            continue
        key = (item.arn, item.origin.groups)
        if key in seen or not item.origin.groups:
            continue
        seen.add(key)
        yield _sg_dns_result(facts, item)


def _sg_dns_result(facts: Facts, p: Placed) -> Result:
    groups, absent = security_groups(facts, list(p.origin.groups))
    ids = ", ".join(p.origin.groups)
    if absent:
        return unknown(ids, f"{p.label}: groups {', '.join(absent)} not in the bundle",
                       service=p.arn)
    closed = [proto for proto in ("udp", "tcp") if not sg_admits_any(
        groups, egress=True, proto=proto, ports=(53, 53))]
    data = p.data(security_groups=list(p.origin.groups), dns_blocked=closed)
    if closed:
        return failed(ids, f"{p.label}: egress of {ids} allows no DNS ({'+'.join(closed)}"
                      "/53): fine with the Amazon DNS server, which security groups do not "
                      "filter; breaks name resolution with custom DNS servers",
                      service=p.arn, **data)
    return passed(ids, f"{p.label}: egress of {ids} allows DNS (53)", service=p.arn, **data)
