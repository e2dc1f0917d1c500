"""Sidecars that fail exactly when they are needed: the X-Ray daemon and dotnet-monitor,
recognised by image.

Each rule returns the problems it sees as (severity, text) pairs; an empty list is a pass,
and the worst severity becomes the finding's. The rules are data-driven from
checks/data/sidecars.yaml (images, port, variable names).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from typing import Any

from checker.facts import Facts, Item, objs
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check
from checks.lib.knowledge import table
from checks.lib.taskdefs import (
    Use,
    container_name,
    containers,
    env,
    essential,
    image_repo,
    uses,
)
from checks.lib.values import int_or_none

Problem = tuple[Severity, str]


def _spec(kind: str) -> Mapping[str, Any]:
    spec: Mapping[str, Any] = table("sidecars")[kind]
    return spec


def is_sidecar(container: Item, kind: str) -> bool:
    spec = _spec(kind)
    repo = image_repo(container.get("image")).lower()
    if not repo:
        return False
    if repo in {str(i).lower() for i in spec["images"]}:
        return True
    return repo.rsplit("/", 1)[-1] in {str(n).lower() for n in spec["repository_names"]}


def sidecars(td: Item, kind: str) -> list[Item]:
    return [c for c in containers(td) if is_sidecar(c, kind)]


def xray_problems(daemon: Item) -> list[Problem]:
    """The daemon must receive UDP 2000, and should not take the task down or starve it."""
    spec = _spec("xray")
    port, proto = int(spec["port"]), str(spec["protocol"])
    out: list[Problem] = []
    mappings = objs(daemon.get("portMappings"))
    if not any(int_or_none(m.get("containerPort")) == port
               and str(m.get("protocol") or "tcp").lower() == proto for m in mappings):
        seen = ", ".join(f"{m.get('containerPort')}/{m.get('protocol') or 'tcp'}"
                         for m in mappings) or "none"
        out.append((Severity.MEDIUM, f"no portMapping {port}/{proto} (has {seen}): "
                    "applications cannot send it trace segments"))
    if essential(daemon):
        out.append((Severity.LOW, "is essential: a daemon crash stops the application task"))
    if not int_or_none(daemon.get("memory")) and not int_or_none(
            daemon.get("memoryReservation")):
        out.append((Severity.LOW, "has no memory or memoryReservation"))
    return out


def _mounts(container: Item) -> dict[str, str]:
    """sourceVolume → containerPath."""
    out: dict[str, str] = {}
    for mp in objs(container.get("mountPoints")):
        if mp.get("sourceVolume") and mp.get("containerPath"):
            out[str(mp["sourceVolume"])] = posixpath.normpath(str(mp["containerPath"]))
    return out


def _inside(path: str, directory: str) -> bool:
    path, directory = posixpath.normpath(path), posixpath.normpath(directory)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _env_value(container: Item, name: str) -> str | None:
    for key, value in env(container):
        if key.lower() == name.lower():
            return value
    return None


def _port_paths(value: str) -> list[str]:
    """DOTNET_DiagnosticPorts: `path[,options][;path2…]` → the socket paths."""
    return [p.split(",", 1)[0].strip() for p in value.split(";") if p.strip()]


def _app_wired(app: Item, monitor_mounts: dict[str, str]) -> tuple[bool, str]:
    """Whether `app` shares a volume with the monitor where its diagnostic port lives."""
    spec = _spec("dotnet_monitor")
    shared = {v: p for v, p in _mounts(app).items() if v in monitor_mounts}
    name = container_name(app)
    if not shared:
        return False, f"{name} shares no volume with it"
    ports = _env_value(app, str(spec["app_env"]))
    if ports:
        paths = _port_paths(ports)
        if any(_inside(p, d) for p in paths for d in shared.values()):
            return True, ""
        return False, (f"{name}'s {spec['app_env']} points outside the shared volume(s) "
                       f"{', '.join(sorted(shared.values()))}")
    tmp = str(spec["default_tmp"])
    if any(_inside(tmp, d) and _inside(tmp, monitor_mounts[v]) for v, d in shared.items()):
        return True, ""
    return False, (f"{name} has no {spec['app_env']} and does not share {tmp} "
                   "(the default diagnostic socket directory)")


def dotnet_monitor_problems(td: Item, monitor: Item) -> list[Problem]:
    """The monitor must reach an app's diagnostic socket, and must not be essential."""
    out: list[Problem] = []
    mine = _mounts(monitor)
    apps = [c for c in containers(td) if c is not monitor and not is_sidecar(c, "xray")]
    apps = [c for c in apps if essential(c)] or apps
    reasons = []
    for app in apps:
        ok, why = _app_wired(app, mine)
        if ok:
            break
        reasons.append(why)
    else:
        text = "; ".join(reasons) if reasons else "no application container in the task"
        out.append((Severity.MEDIUM, f"cannot reach a diagnostic port: {text}"))
    if essential(monitor):
        out.append((Severity.LOW, "is essential: a monitor crash stops the application task"))
    return out


def _sidecar_result(use: Use, ctr: Item, what: str, problems: list[Problem]) -> Result:
    where, svc, name = use.where(ctr), use.service_arn, container_name(ctr)
    if not problems:
        return passed(use.arn, f"{where}: {what} sidecar is set up correctly{use.suffix}",
                      service=svc, path=use.path(ctr), container=name)
    worst = min((sev for sev, _ in problems), key=lambda s: s.order)
    return failed(use.arn, f"{where}: {what} sidecar " + "; ".join(t for _, t in problems)
                  + use.suffix, service=svc, severity=worst, path=use.path(ctr),
                  **use.data(container=name, problems=[t for _, t in problems]))


@check(id="xray-sidecar-misconfigured", area="taskdef", severity=Severity.MEDIUM,
       title="X-Ray daemon sidecar cannot receive traces or can stop the task",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/xray/latest/devguide/xray-daemon-ecs.html",
       emits=("affected_tasks", "container", "problems"))
def xray_sidecar_misconfigured(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The X-Ray daemon receives segments on UDP 2000; without that port mapping traces
    silently vanish. As an essential container, a daemon crash kills the application
    task; without memory it competes with the application."""
    for use in uses(facts):
        daemons = sidecars(use.td, "xray")
        if not daemons:
            yield skipped(use.arn, f"{use.where()}: no X-Ray daemon sidecar{use.suffix}",
                          service=use.service_arn, path=use.path())
        for daemon in daemons:
            yield _sidecar_result(use, daemon, "X-Ray daemon", xray_problems(daemon))


@check(id="dotnet-monitor-sidecar-misconfigured", area="taskdef", severity=Severity.MEDIUM,
       title="Sidecar dotnet-monitor cannot reach the application's diagnostic port",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html",
       emits=("affected_tasks", "container", "problems"))
def dotnet_monitor_sidecar_misconfigured(facts: Facts, prior: Prior) -> Iterator[Result]:
    """dotnet-monitor talks to the app over a Unix socket: both containers must mount one
    shared volume where the app's DOTNET_DiagnosticPorts (or its default /tmp socket)
    lives, or dumps and traces fail exactly when an incident needs them. It must not be
    essential, or a monitor crash stops the application."""
    for use in uses(facts):
        monitors = sidecars(use.td, "dotnet_monitor")
        if not monitors:
            yield skipped(use.arn, f"{use.where()}: no dotnet-monitor sidecar{use.suffix}",
                          service=use.service_arn, path=use.path())
        for mon in monitors:
            yield _sidecar_result(use, mon, "dotnet-monitor",
                                  dotnet_monitor_problems(use.td, mon))
