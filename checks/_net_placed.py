"""Iterate a scope's services subnet by subnet, with each subnet's default route resolved.

Every network check reports per (service, subnet): a broken subnet is named once for each
service it breaks, so a playbook correlating evidence per service sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item
from checker.model import Result, skipped, unknown
from checks._net_paths import (
    Egress,
    Origin,
    active_services,
    egress_of,
    subnet_item,
    topology,
)
from checks.lib.labels import service_label


@dataclass(frozen=True)
class Placed:
    origin: Origin
    subnet: Item
    egress: Egress

    @property
    def arn(self) -> str:
        return self.origin.service_arn

    @property
    def label(self) -> str:
        return f"service {service_label(self.origin.service)}"

    @property
    def subnet_id(self) -> str:
        return self.origin.subnet_id

    @property
    def vpc(self) -> str | None:
        vpc = self.subnet.get("VpcId")
        return str(vpc) if vpc else None

    @property
    def where(self) -> str:
        bits = [str(self.subnet["AvailabilityZone"])] if self.subnet.get(
            "AvailabilityZone") else []
        if self.origin.via != "task ENI":
            bits.append(self.origin.via)
        return f"subnet {self.subnet_id}" + (f" ({', '.join(bits)})" if bits else "")

    @property
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
        out: dict[str, Any] = {"subnet": self.subnet_id, "vpc": self.vpc,
                               "availability_zone": self.subnet.get("AvailabilityZone"),
                               "via": self.origin.via,
                               "affected_tasks": len(self.origin.tasks)}
        if self.egress.kind != "unknown":
            out.update(self.egress.data())
        out.update(extra)
        return out


def placed(facts: Facts, *, pulls_only: bool = False,
           with_egress: bool = True) -> Iterator[Result | Placed]:
    """Each (service, origin subnet), or a Result when it cannot be placed."""
    for svc in active_services(facts):
        arn, label = str(svc.get("serviceArn")), f"service {service_label(svc)}"
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
            yield Placed(origin, subnet, egress)
