"""Profiling and debug ports (Go pprof on 6060 and the like, checks/data/debug_ports.yaml)
that the world can reach: through a load balancer that forwards to them, or on a public IP
whose security groups admit them from 0.0.0.0/0 or ::/0.

pprof's handlers serve heap profiles, every goroutine's stack, and a 30-second CPU profile
on request (which itself loads the CPU); a debugger's port runs code. They are meant for
localhost or an ECS Exec session, never for a listener in front of the service.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.knowledge import table
from checks.lib.network import LB
from checks.lib.network.lb_paths import LbPath, dynamic_host_ports, lb_paths
from checks.lib.network.rules import ANYWHERE, Peer, Ports, network, port_text, sg_missing
from checks.lib.network.topology import (
    Origin,
    active_services,
    live_tasks,
    network_mode,
    security_groups,
    service_text,
    task_definition_of,
    topology,
)
from checks.lib.values import int_or_none

#: Every IPv6 address.
ANYWHERE_V6 = network("::/0")


@dataclass(frozen=True)
class DebugPort:
    """A container's port mapping onto a known debug port, and the ports it takes on the
    ENI that carries it (the host port or dynamic range in bridge mode)."""

    container: str
    port: int
    what: str
    on_eni: Ports

    @property
    def label(self) -> str:
        return f"{self.container}:{self.port} ({self.what})"


def debug_ports(facts: Facts, svc: Item, td: Item) -> list[DebugPort]:
    known = {int(k): str(v) for k, v in table("debug_ports")["ports"].items()}
    mode = network_mode(facts, svc)
    out = []
    for ctr in objs(td.get("containerDefinitions")):
        for pm in objs(ctr.get("portMappings")):
            port = int_or_none(pm.get("containerPort"))
            if port not in known or str(pm.get("protocol") or "tcp").lower() != "tcp":
                continue
            host = int_or_none(pm.get("hostPort"))
            eni: Ports = (port, port)
            if mode == "bridge":
                eni = (host, host) if host else dynamic_host_ports()
            out.append(DebugPort(str(ctr.get("name") or "?"), port, known[port], eni))
    return out


def _through_lb(facts: Facts, svc: Item, ports: list[DebugPort]) -> list[tuple[Severity, str]]:
    """Load balancers that forward to one of the debug ports (the service's loadBalancers
    entry names that container and port)."""
    wanted: dict[str, DebugPort] = {}
    for entry in objs(svc.get("loadBalancers")):
        for dp in ports:
            if (entry.get("containerName") == dp.container
                    and int_or_none(entry.get("containerPort")) == dp.port):
                wanted[str(entry.get("targetGroupArn") or entry.get("loadBalancerName"))] = dp
    out: list[tuple[Severity, str]] = []
    for tg_arn, path in lb_paths(facts, svc):
        hit = wanted.get(tg_arn)
        if hit is None:
            continue
        if not isinstance(path, LbPath):
            out.append((Severity.MEDIUM, f"{tg_arn} forwards to {hit.label} ({path.text})"))
            continue
        public = str(path.lb.get("Scheme", "")).lower() == "internet-facing"
        out.append((Severity.HIGH if public else Severity.MEDIUM,
                    f"{'internet-facing' if public else 'internal'} load balancer "
                    f"{path.lb_name} forwards to {hit.label}"))
    return out


def _carriers(facts: Facts, svc: Item) -> tuple[list[Origin], str | None]:
    """The ENIs inbound traffic reaches: the task's own (awsvpc) or the container
    instances' (bridge/host), and why they are not known."""
    topo = topology(facts, svc)
    awsvpc = network_mode(facts, svc) == "awsvpc"
    origins = [o for o in topo.origins if o.via.startswith("task") == awsvpc]
    if not awsvpc and topo.pulls_unknown:
        return origins, topo.pulls_unknown
    return origins, None


def _from_internet(facts: Facts, svc: Item, ports: list[DebugPort]
                   ) -> tuple[list[tuple[Severity, str]], list[str]]:
    """(exposures, what could not be judged) for ENIs with a public IP whose groups admit a
    debug port from anywhere."""
    origins, why = _carriers(facts, svc)
    notes = [why] if why else []
    out: list[tuple[Severity, str]] = []
    for origin in origins:
        if not origin.public_ip:
            continue
        groups, absent = security_groups(facts, list(origin.groups))
        if absent:
            notes.append(f"groups {', '.join(absent)} not in the bundle")
            continue
        for dp in ports:
            open_from = [text for peer, text in ((ANYWHERE, "0.0.0.0/0"),
                                                  (ANYWHERE_V6, "::/0"))
                         if sg_missing(groups, egress=False, proto="tcp", ports=dp.on_eni,
                                       peer=Peer(cidr=peer)) != [dp.on_eni]]
            if open_from:
                out.append((Severity.HIGH, f"{origin.via} in {origin.subnet_id} has a public "
                            f"IP and {', '.join(origin.groups)} admit tcp/"
                            f"{port_text([dp.on_eni])} from {' and '.join(open_from)}: "
                            f"{dp.label}"))
    return sorted(set(out)), notes


@check(id="debug-port-exposed", area="network", severity=Severity.HIGH,
       title="Profiling or debug ports (Go pprof 6060, …) reachable from a load balancer "
             "or the internet",
       needs=(*LB, "security_groups"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security-network.html",
       emits=("affected_tasks", "exposures", "ports"))
def debug_port_exposed(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A container that maps a profiling or debug port (Go's net/http/pprof on 6060, the
    Node.js inspector on 9229, debugpy on 5678) is fine while only the task reaches it. A
    load balancer whose target group forwards to that port, or a public IP whose security
    groups admit it from anywhere, hands heap dumps, goroutine stacks and CPU profiles (or
    a debugger) to the internet. pprof handlers registered on the application's own port
    cannot be seen from the task definition."""
    for svc in active_services(facts):
        arn, label = str(svc.get("serviceArn")), service_text(svc)
        td = task_definition_of(facts, svc)
        if td is None:
            yield unknown(arn, f"{label}: task definition not in the bundle", service=arn)
            continue
        ports = debug_ports(facts, svc, td)
        if not ports:
            yield skipped(arn, f"{label}: maps no profiling or debug port", service=arn)
            continue
        lb = _through_lb(facts, svc, ports)
        world, notes = _from_internet(facts, svc, ports)
        found = lb + world
        data: dict[str, Any] = {"ports": [dp.label for dp in ports],
                                "exposures": [t for _, t in found]}
        if found:
            worst = min((s for s, _ in found), key=lambda s: s.order)
            yield failed(arn, f"{label}: " + "; ".join(t for _, t in found) + " — bind it to "
                         "localhost and reach it through ECS Exec, or remove the mapping",
                         service=arn, severity=worst, affected_tasks=len(live_tasks(facts, svc)),
                         **data)
        elif notes:
            yield unknown(arn, f"{label}: maps {', '.join(data['ports'])}; no load balancer "
                          f"forwards to it, but {'; '.join(notes)}", service=arn, **data)
        else:
            yield passed(arn, f"{label}: maps {', '.join(data['ports'])}, reachable only "
                         "inside the VPC (no load balancer forwards to it, no public IP "
                         "admits it)", service=arn, **data)
