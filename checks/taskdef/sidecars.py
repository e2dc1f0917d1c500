"""Sidecars that fail exactly when they are needed: the X-Ray daemon and dotnet-monitor,
recognised by image (dotnet-monitor also by the executable it starts).

Each rule returns the problems it sees as (severity, text) pairs; an empty list is a pass,
and the worst severity becomes the finding's. The rules are data-driven from
checks/data/sidecars.yaml (images, port, variable names, flags).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from checker.facts import Facts, Item, arn_name, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checker.roles import decisions, role_arn
from checks.lib.knowledge import table
from checks.lib.taskdefs import (
    FARGATE,
    Use,
    container_name,
    containers,
    env,
    essential,
    image_repo,
    is_windows,
    uses,
    words,
)
from checks.lib.values import flag_value, int_or_none

Problem = tuple[Severity, str]


def _spec(kind: str) -> Mapping[str, Any]:
    spec: Mapping[str, Any] = table("sidecars")[kind]
    return spec


def command_words(container: Item) -> list[str]:
    """entryPoint then command, each entry split on blanks: a `sh -c "…"` string holds a
    whole command line."""
    return [w for key in ("entryPoint", "command") for part in words(container, key)
            for w in part.split()]


def is_sidecar(container: Item, kind: str) -> bool:
    spec = _spec(kind)
    exes = {str(e).lower() for e in spec.get("executables") or []}
    if exes and any(posixpath.basename(w).lower() in exes for w in command_words(container)):
        return True
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


def network_mode(use: Use) -> str:
    """The task's network mode: Fargate is awsvpc, an EC2 definition without one bridge."""
    mode = use.td.get("networkMode")
    if isinstance(mode, str) and mode:
        return mode.lower()
    return "awsvpc" if use.platform == FARGATE else "bridge"


def _link_hosts(app: Item, target: str) -> set[str]:
    """The names under which `app` reaches container `target` through `links`
    (`name` or `name:alias`; Docker puts both in /etc/hosts)."""
    out: set[str] = set()
    raw = app.get("links")
    for link in raw if isinstance(raw, list) else []:
        name, _, alias = str(link).partition(":")
        if name == target:
            out |= {name, alias} - {""}
    return out


def _address_hosts(value: str) -> list[str]:
    """AWS_XRAY_DAEMON_ADDRESS → its hosts: `host:port`, or `tcp:host:port udp:host:port`."""
    out = []
    for part in value.split():
        for proto in ("tcp:", "udp:"):
            part = part.removeprefix(proto)
        host = part.rsplit(":", 1)[0] if ":" in part else part
        if host:
            out.append(host.strip("[]").lower())
    return out


LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def xray_wiring(use: Use, daemon: Item) -> list[Problem]:
    """In bridge mode every container has its own network namespace: the SDK's default
    127.0.0.1:2000 is the application itself, and a container name resolves only through
    `links`. awsvpc and host share one namespace, where the default works."""
    if network_mode(use) != "bridge" or is_windows(use.td):
        return []
    spec, name = _spec("xray"), container_name(daemon)
    var = str(spec["address_env"])
    apps = [c for c in containers(use.td) if c is not daemon
            and not is_sidecar(c, "xray") and not is_sidecar(c, "dotnet_monitor")]
    broken, silent, wired = [], [], []
    for app in apps:
        address = (_env_value(app, var) or "").strip()
        linked = _link_hosts(app, name)
        hosts = _address_hosts(address)
        app_name = container_name(app)
        if not hosts:
            silent.append(app_name + (" (links to it)" if linked else ""))
        elif any(h in LOOPBACK for h in hosts):
            broken.append(f"{app_name} sends to {address}, its own container in bridge mode")
        elif any(h == name.lower() for h in hosts) and not linked:
            broken.append(f"{app_name} sends to {address} but has no links: [\"{name}\"], so "
                          f"{name} does not resolve")
        else:
            wired.append(app_name)
    out: list[Problem] = []
    if broken:
        out.append((Severity.MEDIUM, "is unreachable in bridge network mode: "
                    + "; ".join(broken)))
    if silent and not wired and not broken:
        out.append((Severity.MEDIUM, f"is unreachable in bridge network mode: "
                    f"{', '.join(silent)} set{'s' if len(silent) == 1 else ''} no {var}, so "
                    f"the SDK sends to 127.0.0.1:2000, its own container — add links: "
                    f"[\"{name}\"] and {var}={name}:{spec['port']}"))
    return out


def xray_role(facts: Facts, use: Use) -> tuple[list[Problem], str | None, str | None]:
    """(problems, why the role could not be judged, role ARN). The daemon signs its uploads
    with the task role; what that role may do is read from the scan's simulation of it
    (checker/collect/task_roles.py)."""
    spec = _spec("xray")
    role = role_arn(use.td, facts.account)
    if role is None:
        if use.platform == FARGATE:
            text = ("has no task role to upload with (no taskRoleArn): on Fargate it gets no "
                    "credentials and every trace is dropped")
            return [(Severity.MEDIUM, text)], None, None
        text = ("has no task role (no taskRoleArn): it falls back to the container "
                "instance's role, whose X-Ray permissions are not checked")
        return [(Severity.LOW, text)], None, None
    collection = "task_role_simulations"
    reason = facts.missing_reason(collection)
    if reason is not None:
        return [], f"task role {arn_name(role)} not simulated ({reason})", role
    sims = {str(s.get("PolicySourceArn")): decisions(objs(s.get("EvaluationResults")))
            for s in facts.items(collection)}
    decided = sims.get(role)
    if decided is None:
        return [], (f"task role {arn_name(role)} was not simulated (no service in scope runs "
                    "it, or over the scan's budget)"), role
    out: list[Problem] = []
    upload = [str(a) for a in spec["upload_actions"] if decided.get(str(a)) != "allowed"]
    sampling = [str(a) for a in spec["sampling_actions"] if decided.get(str(a)) != "allowed"]
    if upload:
        out.append((Severity.MEDIUM, f"cannot upload: task role {arn_name(role)} may not "
                    f"{', '.join(upload)}, so traces are dropped"))
    if sampling:
        out.append((Severity.LOW, f"task role {arn_name(role)} may not {', '.join(sampling)}: "
                    "the SDKs ignore the console's sampling rules"))
    return out, None, role


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


def monitor_config(monitor: Item) -> dict[str, str]:
    """dotnet-monitor's settings from its environment: `DotnetMonitor_` (any case) stripped,
    keys lower-cased (`diagnosticport__connectionmode`)."""
    prefix = str(_spec("dotnet_monitor")["env_prefix"]).lower()
    return {key[len(prefix):].lower(): value for key, value in env(monitor)
            if key.lower().startswith(prefix)}


def listen_endpoint(monitor: Item) -> tuple[bool, str | None]:
    """(whether dotnet-monitor listens for the apps to connect, the socket it listens on).
    Settings from a mounted file are not visible: such a monitor reads as connect mode."""
    port = flag_value(command_words(monitor), "--diagnostic-port")
    if port:
        return True, port
    cfg = monitor_config(monitor)
    if cfg.get("diagnosticport"):
        return True, cfg["diagnosticport"]
    if cfg.get("diagnosticport__connectionmode", "").strip().lower() == "listen":
        return True, cfg.get("diagnosticport__endpointname") or None
    return False, None


def _app_wired(app: Item, monitor_mounts: dict[str, str],
               listen: tuple[bool, str | None]) -> tuple[bool, str]:
    """Whether `app` shares a volume with the monitor where its diagnostic port lives (and,
    when the monitor listens, connects to the very socket it listens on)."""
    spec = _spec("dotnet_monitor")
    shared = {v: p for v, p in _mounts(app).items() if v in monitor_mounts}
    name, var = container_name(app), str(spec["app_env"])
    if (_env_value(app, str(spec["app_disable_env"])) or "").strip() == "0":
        return False, f"{name} sets {spec['app_disable_env']}=0 (no diagnostic port at all)"
    if not shared:
        return False, f"{name} shares no volume with it"
    ports = _env_value(app, var)
    listening, endpoint = listen
    if listening and not ports:
        return False, (f"{name} has no {var}: dotnet-monitor listens"
                       f"{f' on {endpoint}' if endpoint else ''} (Listen mode) and the app "
                       "must connect to it")
    if ports:
        paths = _port_paths(ports)
        if listening and endpoint and posixpath.normpath(endpoint) not in {
                posixpath.normpath(p) for p in paths}:
            return False, (f"{name}'s {var} names {', '.join(paths)}, but dotnet-monitor "
                           f"listens on {endpoint}")
        if any(_inside(p, d) for p in paths for d in shared.values()):
            return True, ""
        return False, (f"{name}'s {var} points outside the shared volume(s) "
                       f"{', '.join(sorted(shared.values()))}")
    tmp = str(spec["default_tmp"])
    if any(_inside(tmp, d) and _inside(tmp, monitor_mounts[v]) for v, d in shared.items()):
        return True, ""
    return False, (f"{name} has no {var} and does not share {tmp} "
                   "(the default diagnostic socket directory)")


def dotnet_monitor_problems(td: Item, monitor: Item) -> list[Problem]:
    """The monitor must reach an app's diagnostic socket, and must not be essential."""
    out: list[Problem] = []
    mine, listen = _mounts(monitor), listen_endpoint(monitor)
    apps = [c for c in containers(td) if c is not monitor and not is_sidecar(c, "xray")
            and not is_sidecar(c, "dotnet_monitor")]
    apps = [c for c in apps if essential(c)] or apps
    reasons = []
    for app in apps:
        ok, why = _app_wired(app, mine, listen)
        if ok:
            break
        reasons.append(why)
    else:
        text = "; ".join(reasons) if reasons else "no application container in the task"
        out.append((Severity.MEDIUM, f"cannot reach a diagnostic port: {text}"))
    if essential(monitor):
        out.append((Severity.LOW, "is essential: a monitor crash stops the application task"))
    return out


def monitor_urls(monitor: Item) -> list[str]:
    """Where dotnet-monitor's HTTP API listens: --urls, else DotnetMonitor_Urls, else the
    image's default (all interfaces)."""
    spec = _spec("dotnet_monitor")
    value = (flag_value(command_words(monitor), *[str(f) for f in spec["urls_flags"]])
             or monitor_config(monitor).get("urls") or str(spec["image_default_urls"]))
    return [u.strip() for u in value.replace(",", ";").split(";") if u.strip()]


def _loopback(url: str) -> bool:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and host.lower() in LOOPBACK


def no_auth(monitor: Item) -> bool:
    flag = str(_spec("dotnet_monitor")["no_auth_flag"])
    return any(w == flag or w.lower() == f"{flag}=true" for w in command_words(monitor))


def _sidecar_result(use: Use, ctr: Item, what: str, problems: list[Problem],
                    not_judged: str | None = None, **extra: Any) -> Result:
    """Fail on any problem; unknown when nothing failed but part of the setup could not be
    judged (`not_judged`); pass only when everything was seen to work."""
    where, svc, name = use.where(ctr), use.service_arn, container_name(ctr)
    also = f" ({not_judged})" if not_judged else ""
    if not problems and not_judged:
        return unknown(use.arn, f"{where}: {what} sidecar: nothing wrong in the task "
                       f"definition, but {not_judged}{use.suffix}", service=svc,
                       path=use.path(ctr), container=name, **extra)
    if not problems:
        return passed(use.arn, f"{where}: {what} sidecar is set up correctly{use.suffix}",
                      service=svc, path=use.path(ctr), container=name, **extra)
    worst = min((sev for sev, _ in problems), key=lambda s: s.order)
    return failed(use.arn, f"{where}: {what} sidecar " + "; ".join(t for _, t in problems)
                  + also + use.suffix, service=svc, severity=worst, path=use.path(ctr),
                  **use.data(container=name, problems=[t for _, t in problems], **extra))


@check(id="xray-sidecar-misconfigured", area="taskdef", severity=Severity.MEDIUM,
       title="X-Ray daemon sidecar cannot receive or upload traces, or can stop the task",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/xray/latest/devguide/xray-daemon-ecs.html",
       emits=("affected_tasks", "container", "problems", "role"))
def xray_sidecar_misconfigured(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The X-Ray daemon receives segments on UDP 2000; without that port mapping traces
    silently vanish. In bridge network mode the application reaches it only through
    `links` and AWS_XRAY_DAEMON_ADDRESS (the SDK's 127.0.0.1:2000 is its own container).
    The daemon uploads with the task role: none (on Fargate), or one the scan's simulation
    shows may not xray:PutTraceSegments/PutTelemetryRecords, drops every trace; without
    the simulation the result is unknown, never "set up correctly". As an essential
    container, a daemon crash kills the application task; without memory it competes
    with the application."""
    for use in uses(facts):
        daemons = sidecars(use.td, "xray")
        if not daemons:
            yield skipped(use.arn, f"{use.where()}: no X-Ray daemon sidecar{use.suffix}",
                          service=use.service_arn, path=use.path())
            continue
        role_problems, not_judged, role = xray_role(facts, use)
        for daemon in daemons:
            problems = [*xray_problems(daemon), *xray_wiring(use, daemon), *role_problems]
            yield _sidecar_result(use, daemon, "X-Ray daemon", problems, not_judged,
                                  role=role)


@check(id="dotnet-monitor-sidecar-misconfigured", area="taskdef", severity=Severity.MEDIUM,
       title="Sidecar dotnet-monitor cannot reach the application's diagnostic port",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html",
       emits=("affected_tasks", "container", "problems"))
def dotnet_monitor_sidecar_misconfigured(facts: Facts, prior: Prior) -> Iterator[Result]:
    """dotnet-monitor talks to the app over a Unix socket: both containers must mount one
    shared volume where the app's DOTNET_DiagnosticPorts (or its default /tmp socket)
    lives, or dumps and traces fail exactly when an incident needs them. In Listen mode
    (DotnetMonitor_DiagnosticPort__ConnectionMode=Listen, or --diagnostic-port) the app
    must connect to the very socket the monitor listens on. It must not be essential, or a
    monitor crash stops the application."""
    for use in uses(facts):
        monitors = sidecars(use.td, "dotnet_monitor")
        if not monitors:
            yield skipped(use.arn, f"{use.where()}: no dotnet-monitor sidecar{use.suffix}",
                          service=use.service_arn, path=use.path())
        for mon in monitors:
            yield _sidecar_result(use, mon, "dotnet-monitor",
                                  dotnet_monitor_problems(use.td, mon))


@check(id="dotnet-monitor-no-auth", area="taskdef", severity=Severity.HIGH,
       title="Sidecar dotnet-monitor serves its HTTP API without authentication",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security-tasks-containers.html",
       emits=("affected_tasks", "container", "urls"))
def dotnet_monitor_no_auth(facts: Facts, prior: Prior) -> Iterator[Result]:
    """`dotnet-monitor collect --no-auth` serves process dumps (every secret in the app's
    memory), traces and logs to anyone who reaches its port; the image binds all
    interfaces (https://+:52323), so that is every task, host and load balancer that can
    reach the ENI. Only an API bound to loopback alone (--urls http://localhost:…) is
    left to the task's own containers, and then is a low finding.
    https://learn.microsoft.com/en-us/dotnet/core/diagnostics/dotnet-monitor"""
    for use in uses(facts):
        monitors = sidecars(use.td, "dotnet_monitor")
        if not monitors:
            yield skipped(use.arn, f"{use.where()}: no dotnet-monitor sidecar{use.suffix}",
                          service=use.service_arn, path=use.path())
        for mon in monitors:
            where, name, urls = use.where(mon), container_name(mon), monitor_urls(mon)
            path = use.path(mon, "command")
            if not no_auth(mon):
                yield passed(use.arn, f"{where}: dotnet-monitor requires an API key "
                             f"(no --no-auth){use.suffix}", service=use.service_arn,
                             path=path, container=name, urls=urls)
                continue
            local = all(_loopback(u) for u in urls)
            reach = ("only the task's own containers reach it" if local else
                     "anyone who reaches that port can download process dumps (every secret "
                     "in memory), traces and logs")
            yield failed(use.arn, f"{where}: dotnet-monitor runs with --no-auth on "
                         f"{', '.join(urls)}: {reach} — remove --no-auth and use an API key "
                         f"(dotnet-monitor generatekey){use.suffix}", service=use.service_arn,
                         severity=Severity.LOW if local else Severity.HIGH, path=path,
                         **use.data(container=name, urls=urls))
