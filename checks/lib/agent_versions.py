"""Agent, Docker and AMI age of container instances, judged offline.

The bundle holds no AMI creation dates (no DescribeImages) and no "latest agent" lookup, so
age is judged from what it does hold and what checks/data/agent_versions.yaml cites:
feature floors from the docs, the date a newer agent first shipped in an ECS-optimized AMI,
the instance's LaunchTime against `collected_at`, and AMI drift inside the cluster (an
instance whose AMI differs from the one the most recently launched instance runs was
launched from an older launch template).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, attribute, obj, parse_time
from checks.lib.hosts import Host, majority
from checks.lib.knowledge import table

_VERSION = re.compile(r"(\d+(?:\.\d+)*)")
Version = tuple[int, ...]


def version(text: Any) -> Version | None:
    """`1.61.2`, `1.61.2-1`, `DockerVersion: 20.10.13` → (1, 61, 2) …; None when absent."""
    match = _VERSION.search(str(text)) if text else None
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def version_text(text: Any) -> str:
    """The version as reported (`DockerVersion: 19.03.13` → `19.03.13`)."""
    match = _VERSION.search(str(text)) if text else None
    return match.group(1) if match else "?"


def dotted(v: Version) -> str:
    return ".".join(map(str, v))


def is_windows(ci: Item) -> bool:
    return (attribute(ci, "ecs.os-type") or "").lower() == "windows"


@dataclass(frozen=True, slots=True)
class Superseded:
    by: str            # the newer agent version
    on: dt.date        # first ECS-optimized AMI that shipped it
    lag_days: int      # days between that date and collection


def superseded(agent: Version, collected_at: dt.datetime) -> Superseded | None:
    """When a newer agent than `agent` first shipped in an ECS-optimized AMI (table rows)."""
    for ver, day in table("agent_versions")["releases"]:
        newer = version(ver)
        if newer is not None and newer > agent:
            on = dt.date.fromisoformat(str(day))
            return Superseded(by=str(ver), on=on, lag_days=(collected_at.date() - on).days)
    return None


def agent_problems(facts: Facts, ci: Item) -> list[str]:
    """Reasons the agent/Docker of `ci` is out of date, each naming its threshold."""
    data = table("agent_versions")
    info = obj(ci.get("versionInfo"))
    agent, docker = version(info.get("agentVersion")), version(info.get("dockerVersion"))
    agent_txt, docker_txt = version_text(info.get("agentVersion")), version_text(
        info.get("dockerVersion"))
    out: list[str] = []
    floor = version(data["exec_agent_minimum"]["windows" if is_windows(ci) else "linux"])
    if agent is not None and floor is not None and agent < floor:
        out.append(f"agent {agent_txt} is below {dotted(floor)}, the minimum for ECS Exec")
    if agent is not None:
        sup = superseded(agent, facts.collected_at)
        if sup is not None and sup.lag_days > int(data["max_agent_lag_days"]):
            out.append(f"agent {agent_txt} was superseded by {sup.by} in the ECS-optimized "
                       f"AMI of {sup.on.isoformat()}, {sup.lag_days} days before collection "
                       f"(threshold {data['max_agent_lag_days']})")
    docker_floor = version(data["docker_minimum"])
    if docker is not None and docker_floor is not None and docker < docker_floor:
        out.append(f"Docker {docker_txt} is below {dotted(docker_floor)}, the minimum for "
                   "reliable metrics")
    return out


@dataclass(frozen=True, slots=True)
class HostImage:
    host: Host
    ami: str | None
    launched: dt.datetime | None


def host_image(facts: Facts, h: Host) -> HostImage:
    inst = facts.ec2_instance_of(h.ci) if facts.has("ec2_instances") else None
    ami = obj(inst).get("ImageId") or attribute(h.ci, "ecs.ami-id")
    return HostImage(host=h, ami=str(ami) if ami else None,
                     launched=parse_time(obj(inst).get("LaunchTime")))


@dataclass(frozen=True, slots=True)
class Reference:
    """The AMI an instance of the cluster is expected to run, and why."""

    ami: str
    why: str


def reference_ami(images: list[HostImage]) -> Reference | None:
    """The AMI of the most recently launched instance (it reflects the current launch
    template); without launch times, the AMI most instances run (when there is no tie)."""
    dated = [(i.launched, i.host.arn, i) for i in images if i.ami and i.launched is not None]
    if dated:
        newest = max(dated, key=lambda row: (row[0], row[1]))[2]
        return Reference(ami=str(newest.ami),
                         why=f"the most recently launched instance {newest.host.instance_id} "
                         f"runs {newest.ami}")
    common = majority([str(i.ami) for i in images if i.ami])
    return Reference(ami=common, why=f"most instances of the cluster run {common}") \
        if common else None
