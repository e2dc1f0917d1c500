"""What lets a container reach past its task, or hang on its own logs: added kernel
capabilities, the container runtime's socket or the host's root mounted in, the host's PID or
IPC namespace, host networking as root, and awslogs in blocking mode.

Each is a line in a task definition that a reviewer skims past and that AWS accepts: the
gate judges it before registration, the scan on what runs. The lists (which capabilities,
which host paths, which users are root) are a knowledge table, checks/data/hardening.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts, Item, obj, objs
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check
from checks.lib.knowledge import table
from checks.lib.taskdefs import PARAMS_DOCS, container_name, containers, each_container, uses

SECURITY_DOCS = ("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
                 "security-tasks-containers.html")


def _strings(value: object) -> list[str]:
    return [str(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []


@check(id="container-dangerous-capability", area="taskdef", severity=Severity.HIGH,
       title="Container adds a dangerous Linux capability (SYS_ADMIN, NET_ADMIN, ALL, …)",
       needs=("task_definitions",), docs=f"{PARAMS_DOCS}#container_definition_linuxparameters",
       emits=("affected_tasks", "capabilities", "container"))
def container_dangerous_capability(facts: Facts, prior: Prior) -> Iterator[Result]:
    """SYS_ADMIN is most of root (mount, namespaces, BPF), NET_ADMIN rewrites the task's
    network (routes, iptables, the metadata endpoint), ALL is everything: a compromised
    process in such a container owns its host or its network."""
    dangerous = {str(c) for c in table("hardening")["dangerous_capabilities"]}
    for use, ctr in each_container(facts):
        caps = obj(obj(ctr.get("linuxParameters")).get("capabilities"))
        added = _strings(caps.get("add"))
        bad = [c for c in added if c.upper().removeprefix("CAP_") in dangerous]
        path = use.path(ctr, "linuxParameters.capabilities.add")
        name = container_name(ctr)
        if bad:
            yield failed(use.arn, f"{use.where(ctr)}: adds {', '.join(bad)}{use.suffix}",
                         service=use.service_arn, path=path,
                         **use.data(container=name, capabilities=bad))
        else:
            shown = ", ".join(added) if added else "no capability"
            yield passed(use.arn, f"{use.where(ctr)}: adds {shown}{use.suffix}",
                         service=use.service_arn, path=path, container=name)


def host_mount(path: str) -> str | None:
    """Why mounting host `path` hands over the host (runtime socket, host root), else None."""
    data = table("hardening")
    clean = "/" + path.strip().strip("/") if path.strip() else ""
    base = clean.rsplit("/", 1)[-1]
    if base in {str(s) for s in data["runtime_sockets"]}:
        return "the container runtime's socket (root on the host)"
    if clean in {str(p) for p in data["host_root_paths"]}:
        return "the host's root" if clean == "/" else f"host {clean}"
    return None


@check(id="container-host-mount-dangerous", area="taskdef", severity=Severity.HIGH,
       title="Container mounts the Docker socket or the host's root",
       needs=("task_definitions",), docs=f"{PARAMS_DOCS}#volumes",
       emits=("affected_tasks", "container", "source_path", "volume"))
def container_host_mount_dangerous(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Whoever can write to /var/run/docker.sock can start a privileged container on the
    host; the host's `/` (or /etc, /var/lib/docker) mounted in is the host. Read-only does
    not help for a socket. A monitoring agent may need it: then waive it, by name."""
    for use in uses(facts):
        hosts = {str(v.get("name")): str(obj(v.get("host")).get("sourcePath") or "")
                 for v in objs(use.td.get("volumes"))}
        for ctr in containers(use.td):
            name = container_name(ctr)
            hits = []
            for i, mount in enumerate(objs(ctr.get("mountPoints"))):
                source = hosts.get(str(mount.get("sourceVolume")), "")
                why = host_mount(source) if source else None
                if why:
                    hits.append((i, str(mount.get("sourceVolume")), source, why))
            if not hits:
                yield passed(use.arn, f"{use.where(ctr)}: mounts no runtime socket or host "
                             f"root{use.suffix}", service=use.service_arn,
                             path=use.path(ctr, "mountPoints"), container=name)
                continue
            for i, volume, source, why in hits:
                yield failed(use.arn, f"{use.where(ctr)}: mounts {source} (volume {volume}), "
                             f"{why}{use.suffix}", service=use.service_arn,
                             path=use.path(ctr, f"mountPoints[{i}]"),
                             **use.data(container=name, volume=volume, source_path=source))


@check(id="task-host-pid-ipc", area="taskdef", severity=Severity.HIGH,
       title="Task shares the host's PID or IPC namespace",
       needs=("task_definitions",), docs=f"{PARAMS_DOCS}#task_definition_pidmode",
       emits=("affected_tasks", "field"))
def task_host_pid_ipc(facts: Facts, prior: Prior) -> Iterator[Result]:
    """`pidMode: host` lets the containers see and signal every process on the instance
    (and read their environment through /proc); `ipcMode: host` shares the host's shared
    memory and semaphores."""
    for use in uses(facts):
        found = [key for key in ("pidMode", "ipcMode") if use.td.get(key) == "host"]
        if not found:
            yield passed(use.arn, f"{use.where()}: own PID and IPC namespaces{use.suffix}",
                         service=use.service_arn, path="pidMode")
        for key in found:
            severity = Severity.HIGH if key == "pidMode" else Severity.MEDIUM
            yield failed(use.arn, f"{use.where()}: {key} host — the containers share the "
                         f"instance's {key[:3].upper()} namespace{use.suffix}",
                         service=use.service_arn, severity=severity, path=key,
                         **use.data(field=key))


@check(id="host-network-root-user", area="taskdef", severity=Severity.HIGH,
       title="Host networking with a container running as root",
       needs=("task_definitions",), docs="https://docs.aws.amazon.com/securityhub/latest/"
       "userguide/ecs-controls.html#ecs-1", emits=("affected_tasks", "container", "user"))
def host_network_root_user(facts: Facts, prior: Prior) -> Iterator[Result]:
    """In `host` network mode a container binds the instance's interfaces and reaches the
    instance metadata service as the host does; as root it can also open raw sockets and
    any port. Security Hub ECS.1 asks for a non-root `user` there."""
    roots = {str(u) for u in table("hardening")["root_users"]}
    for use, ctr in each_container(facts):
        name = container_name(ctr)
        path = use.path(ctr, "user")
        if use.td.get("networkMode") != "host":
            yield skipped(use.arn, f"{use.where(ctr)}: not host networking{use.suffix}",
                          service=use.service_arn, path=path, container=name)
            continue
        user = str(ctr.get("user") or "").strip()
        if user.lower() in roots:
            shown = f"user {user}" if user else "no user (the image's, usually root)"
            yield failed(use.arn, f"{use.where(ctr)}: host networking with {shown}"
                         f"{use.suffix}", service=use.service_arn, path=path,
                         **use.data(container=name, user=user or None))
        else:
            yield passed(use.arn, f"{use.where(ctr)}: host networking as user {user}"
                         f"{use.suffix}", service=use.service_arn, path=path, container=name,
                         user=user)


def _awslogs(ctr: Item) -> Item | None:
    log = obj(ctr.get("logConfiguration"))
    return log if log.get("logDriver") == "awslogs" else None


@check(id="awslogs-blocking-mode", area="taskdef", severity=Severity.MEDIUM,
       title="Container logs with awslogs in blocking mode (stalls when logs cannot be sent)",
       needs=("task_definitions",), docs="https://docs.aws.amazon.com/AmazonECS/latest/"
       "developerguide/using_awslogs.html", emits=("affected_tasks", "container", "mode"))
def awslogs_blocking_mode(facts: Facts, prior: Prior) -> Iterator[Result]:
    """In blocking mode a write to stdout waits while CloudWatch Logs is throttled or
    unreachable: the application stops serving, health checks time out, tasks are replaced —
    an observability hiccup becomes an outage. Non-blocking with a buffer drops log lines
    instead. Unset, ECS has used non-blocking since June 2025 unless the account's
    defaultLogDriverMode says blocking (an account setting the task definition cannot show),
    so only an explicit `blocking` fails."""
    buffer = str(table("hardening")["awslogs_recommended_buffer"])
    fix = f'set "mode": "non-blocking" and "max-buffer-size": "{buffer}"'
    for use, ctr in each_container(facts):
        name = container_name(ctr)
        log = _awslogs(ctr)
        path = use.path(ctr, "logConfiguration.options")
        if log is None:
            yield skipped(use.arn, f"{use.where(ctr)}: does not log with awslogs{use.suffix}",
                          service=use.service_arn, path=path, container=name)
            continue
        mode = str(obj(log.get("options")).get("mode") or "").strip().lower()
        if mode == "blocking":
            yield failed(use.arn, f"{use.where(ctr)}: awslogs mode blocking — stdout writes "
                         f"stall while CloudWatch Logs cannot take them; {fix}{use.suffix}",
                         service=use.service_arn, path=f"{path}.mode",
                         **use.data(container=name, mode=mode))
        elif mode:
            yield passed(use.arn, f"{use.where(ctr)}: awslogs mode {mode}{use.suffix}",
                         service=use.service_arn, path=path, container=name, mode=mode)
        else:
            yield passed(use.arn, f"{use.where(ctr)}: awslogs without mode: non-blocking "
                         "unless the account's defaultLogDriverMode says blocking"
                         f"{use.suffix}", service=use.service_arn, path=path, container=name)
