"""Where a subnet's traffic leaves the VPC, and the services' subnets with that resolved.

A subnet's default route (0.0.0.0/0) is classified once (`Egress`): through a NAT gateway,
an internet gateway, something else past the VPC, nowhere, or into a blackhole. `placed`
then walks a scope's services subnet by subnet: every network check reports per (service,
subnet), so a broken subnet is named once for each service it breaks and a playbook
correlating evidence per service sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, objs
from checker.model import Result, skipped, unknown
from checks.lib.lazy import cached
from checks.lib.network.topology import (
    Origin,
    active_services,
    service_text,
    subnet_item,
    topology,
)


@dataclass(frozen=True)
class Egress:
    """The subnet's default route, classified: `nat`/`igw`/`other` reach past the VPC,
    `none` has no 0.0.0.0/0 route, `broken` has one that drops packets, `unknown` when the
    route table cannot be found."""

    kind: str
    detail: str
    route_table: str | None = None
    target: str | None = None
    implicit: bool = False  # the VPC main route table, no explicit association

    def data(self) -> dict[str, Any]:
        return {"egress": self.kind, "route_table": self.route_table, "target": self.target,
                "main_route_table": self.implicit}


def route_table_of(facts: Facts, subnet: Item) -> tuple[Item | None, bool]:
    """The subnet's explicit association, else its VPC's main table (and whether main)."""
    sid, vpc = subnet.get("SubnetId"), subnet.get("VpcId")
    tables = facts.items("route_tables")
    for rt in tables:
        if any(a.get("SubnetId") == sid for a in objs(rt.get("Associations"))):
            return rt, False
    for rt in tables:
        if rt.get("VpcId") == vpc and any(a.get("Main") for a in objs(rt.get("Associations"))):
            return rt, True
    return None, False


_TARGETS = ("NatGatewayId", "GatewayId", "TransitGatewayId", "NetworkInterfaceId", "InstanceId",
            "VpcPeeringConnectionId", "LocalGatewayId", "CarrierGatewayId", "CoreNetworkArn")


def _nat_egress(facts: Facts, nat_id: str, rt: str, implicit: bool) -> Egress:
    nat = facts.lookup("nat_gateways", "NatGatewayId", nat_id)
    if nat is None:
        return Egress("broken", f"default route to NAT gateway {nat_id}, which does not exist "
                      "(deleted?)", rt, nat_id, implicit)
    state = str(nat.get("State", "?"))
    if state != "available":
        why = f": {nat['FailureMessage']}" if nat.get("FailureMessage") else ""
        return Egress("broken", f"default route to NAT gateway {nat_id}, which is {state}{why}",
                      rt, nat_id, implicit)
    if nat.get("ConnectivityType") == "private":
        return Egress("broken", f"default route to private NAT gateway {nat_id}: a private NAT "
                      "gateway has no internet access", rt, nat_id, implicit)
    return Egress("nat", f"default route via NAT gateway {nat_id} (available)", rt, nat_id,
                  implicit)


def egress_of(facts: Facts, subnet: Item) -> Egress:
    """How the subnet reaches the internet; judged once per subnet and analysis (every
    service and host in it asks the same question)."""
    return facts.memo_of(subnet, "network.egress", lambda: _egress_of(facts, subnet))


def _egress_of(facts: Facts, subnet: Item) -> Egress:
    rt, implicit = route_table_of(facts, subnet)
    if rt is None:
        return Egress("unknown", f"no route table found for {subnet.get('SubnetId')}")
    rt_id = str(rt.get("RouteTableId"))
    route = next((r for r in objs(rt.get("Routes"))
                  if r.get("DestinationCidrBlock") == "0.0.0.0/0"), None)
    if route is None:
        return Egress("none", f"route table {rt_id} has no default route (0.0.0.0/0)",
                      rt_id, None, implicit)
    target = next((str(route[k]) for k in _TARGETS if route.get(k)), "?")
    state = str(route.get("State", "active"))
    if state != "active":
        return Egress("broken", f"default route in {rt_id} to {target} is {state}", rt_id,
                      target, implicit)
    if route.get("NatGatewayId"):
        return _nat_egress(facts, target, rt_id, implicit)
    if target.startswith("igw-"):
        return Egress("igw", f"default route via internet gateway {target}", rt_id, target,
                      implicit)
    return Egress("other", f"default route via {target} (the path beyond it is not visible "
                  "here)", rt_id, target, implicit)


def reaches_internet(egress: Egress, origin: Origin) -> bool:
    """An internet gateway carries only ENIs with a public IP."""
    return egress.kind in ("nat", "other") or (egress.kind == "igw" and bool(origin.public_ip))


# -- services subnet by subnet ----------------------------------------------------------------

@dataclass(frozen=True)
class Placed:
    """One (service, origin subnet) with the subnet's default route, and the words and data
    every per-subnet result carries (worked out once: seven checks ask for each)."""

    origin: Origin
    subnet: Item
    egress: Egress

    @cached
    def arn(self) -> str:
        return self.origin.service_arn

    @cached
    def label(self) -> str:
        return service_text(self.origin.service)

    @cached
    def subnet_id(self) -> str:
        return self.origin.subnet_id

    @cached
    def vpc(self) -> str | None:
        vpc = self.subnet.get("VpcId")
        return str(vpc) if vpc else None

    @cached
    def where(self) -> str:
        bits = [str(self.subnet["AvailabilityZone"])] if self.subnet.get(
            "AvailabilityZone") else []
        if self.origin.via != "task ENI":
            bits.append(self.origin.via)
        return f"subnet {self.subnet_id}" + (f" ({', '.join(bits)})" if bits else "")

    @cached
    def tasks_text(self) -> str:
        n = len(self.origin.tasks)
        return f" — {n} running task{'s' if n != 1 else ''} there" if n else ""

    @property
    def no_path_text(self) -> str:
        """Why this subnet has no way out, in words."""
        if self.egress.kind == "igw":
            ip = ("assignPublicIp is DISABLED, so the task ENIs have no public IP"
                  if self.origin.via == "task ENI" else f"{self.origin.via} has no public IP")
            return f"routes 0.0.0.0/0 to internet gateway {self.egress.target}, but {ip}"
        return self.egress.detail

    def data(self, **extra: Any) -> dict[str, Any]:
        out = dict(self._data)
        out.update(extra)
        return out

    @cached
    def _data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"subnet": self.subnet_id, "vpc": self.vpc,
                               "availability_zone": self.subnet.get("AvailabilityZone"),
                               "via": self.origin.via,
                               "affected_tasks": len(self.origin.tasks)}
        if self.egress.kind != "unknown":
            out.update(self.egress.data())
        return out


def placed(facts: Facts, *, pulls_only: bool = False,
           with_egress: bool = True) -> list[Result | Placed]:
    """Each (service, origin subnet), or a Result when it cannot be placed. Built once per
    analysis and selection: seven network checks walk the same services and subnets (on a
    1,000-service account that walk was rebuilt 84,000 times). Shared: results and places
    are frozen, callers must not change the list."""
    return facts.memo(("network.placed", pulls_only, with_egress),
                      lambda: list(_placed(facts, pulls_only, with_egress)))


def _placed(facts: Facts, pulls_only: bool, with_egress: bool) -> Iterator[Result | Placed]:
    for svc in active_services(facts):
        arn, label = str(svc.get("serviceArn")), service_text(svc)
        topo = topology(facts, svc)
        origins = [o for o in topo.origins if o.pulls or not pulls_only]
        if topo.pulls_unknown:
            yield unknown(arn, f"{label}: {topo.pulls_unknown}", service=arn)
        elif not origins:
            yield skipped(arn, f"{label}: no subnet known (no awsvpc configuration and no "
                          "running task)", service=arn)
        for origin in origins:
            subnet = subnet_item(facts, origin.subnet_id)
            if subnet is None:
                yield unknown(origin.subnet_id, f"{label}: subnet {origin.subnet_id} is not in "
                              "the bundle (deleted, or in another account?)", service=arn,
                              subnet=origin.subnet_id)
                continue
            egress = egress_of(facts, subnet) if with_egress else Egress("unknown", "")
            if with_egress and egress.kind == "unknown":
                yield unknown(origin.subnet_id, f"{label}: {egress.detail}", service=arn,
                              subnet=origin.subnet_id)
                continue
            # one Placed per origin for every selection: its words and data are worked
            # out once, not again for the pulls-only walk
            yield facts.memo_of(origin, f"network.placed.{with_egress}",
                                lambda: Placed(origin, subnet, egress))  # noqa: B023
