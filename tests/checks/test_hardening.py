"""Hardening checks (checks/taskdef/hardening.py) and the health-check check: a failing and a
passing row each, run by the real engine over task-definition bundles."""

from __future__ import annotations

from typing import Any

import pytest

from tests import builders as b
from tests import builders_taskdef as t
from tests.checks.harness import run_check

HC = {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"]}


def _found(check_id: str, td: dict[str, Any],
           services: list[dict[str, Any]] | None = None) -> list[tuple[str, str, str | None]]:
    """(status, severity, path) of each finding of `check_id`."""
    return [(f.status.value, f.severity.value, f.path)
            for f in run_check(check_id, t.bundle([td], services))]


# -- container-dangerous-capability ------------------------------------------------------
@pytest.mark.parametrize(("add", "expected"), [
    (None, "pass"),
    (["SYS_PTRACE"], "pass"),
    (["NET_BIND_SERVICE", "SYS_ADMIN"], "fail"),
    (["CAP_NET_ADMIN"], "fail"),
    (["ALL"], "fail"),
])
def test_container_dangerous_capability(add: list[str] | None, expected: str) -> None:
    extra = {"linuxParameters": {"capabilities": {"add": add}}} if add else {}
    td = t.ec2_td("web", t.ctr("app", memory=256, **extra))
    ((status, severity, path),) = _found("container-dangerous-capability", td)
    assert (status, severity) == (expected, "high")
    assert path == "containerDefinitions[0].linuxParameters.capabilities.add"


# -- container-host-mount-dangerous ------------------------------------------------------
@pytest.mark.parametrize(("source", "expected"), [
    ("/var/run/docker.sock", "fail"),
    ("/run/containerd/containerd.sock", "fail"),
    ("/", "fail"),
    ("/etc/", "fail"),
    ("/srv/data", "pass"),
    ("/var/log/app", "pass"),
])
def test_container_host_mount_dangerous(source: str, expected: str) -> None:
    td = t.ec2_td("agent", t.ctr("agent", memory=256, mountPoints=[
        {"sourceVolume": "tmp", "containerPath": "/tmp"},
        {"sourceVolume": "host", "containerPath": "/host", "readOnly": True}]),
        volumes=[{"name": "tmp"}, {"name": "host", "host": {"sourcePath": source}}])
    found = _found("container-host-mount-dangerous", td)
    if expected == "fail":
        assert found == [("fail", "high", "containerDefinitions[0].mountPoints[1]")]
    else:
        assert found == [("pass", "high", "containerDefinitions[0].mountPoints")]


# -- task-host-pid-ipc -------------------------------------------------------------------
@pytest.mark.parametrize(("extra", "expected"), [
    ({}, [("pass", "high", "pidMode")]),
    ({"pidMode": "task", "ipcMode": "task"}, [("pass", "high", "pidMode")]),
    ({"pidMode": "host"}, [("fail", "high", "pidMode")]),
    ({"ipcMode": "host"}, [("fail", "medium", "ipcMode")]),
])
def test_task_host_pid_ipc(extra: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    td = t.ec2_td("web", t.ctr("app", memory=256), **extra)
    assert _found("task-host-pid-ipc", td) == expected


# -- host-network-root-user --------------------------------------------------------------
@pytest.mark.parametrize(("mode", "user", "expected"), [
    ("bridge", None, "skipped"),
    ("host", None, "fail"),
    ("host", "root", "fail"),
    ("host", "0:0", "fail"),
    ("host", "1000", "pass"),
    ("host", "nginx", "pass"),
])
def test_host_network_root_user(mode: str, user: str | None, expected: str) -> None:
    extra = {"user": user} if user else {}
    td = t.td("web", t.ctr("app", memory=256, **extra), networkMode=mode)
    ((status, _, path),) = _found("host-network-root-user", td)
    assert status == expected and path == "containerDefinitions[0].user"


# -- awslogs-blocking-mode ---------------------------------------------------------------
def _logs(**options: str) -> dict[str, Any]:
    return {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/web", "awslogs-region": b.REGION, **options}}


@pytest.mark.parametrize(("log", "expected"), [
    (_logs(mode="blocking"), ("fail", "medium",
                              "containerDefinitions[0].logConfiguration.options.mode")),
    (_logs(mode="non-blocking", **{"max-buffer-size": "25m"}),
     ("pass", "medium", "containerDefinitions[0].logConfiguration.options")),
    (_logs(), ("pass", "medium", "containerDefinitions[0].logConfiguration.options")),
    ({"logDriver": "awsfirelens"}, ("skipped", "medium",
                                    "containerDefinitions[0].logConfiguration.options")),
])
def test_awslogs_blocking_mode(log: dict[str, Any], expected: tuple[str, str, str]) -> None:
    td = t.fargate_td("web", t.ctr("app", logConfiguration=log))
    assert _found("awslogs-blocking-mode", td) == [expected]


# -- container-no-health-check -----------------------------------------------------------
@pytest.mark.parametrize(("containers", "services", "expected"), [
    ([t.ctr("worker", healthCheck=HC)], None, ["pass"]),
    ([t.ctr("worker")], None, ["fail"]),
    ([t.ctr("worker"), t.ctr("log-router", essential=False)], None, ["fail", "skipped"]),
    ([t.web_ctr("app")], [t.lb_service("web")], ["skipped"]),  # the lb check judges it
])
def test_container_no_health_check(containers: list[dict[str, Any]],
                                   services: list[dict[str, Any]] | None,
                                   expected: list[str]) -> None:
    td = t.fargate_td("web", *containers)
    found = _found("container-no-health-check", td, services)
    assert sorted(s for s, _, _ in found) == sorted(expected)
    assert {sev for _, sev, _ in found} == {"low"}


def test_a_load_balanced_container_without_health_check_is_medium() -> None:
    td = t.fargate_td("web", t.web_ctr("app"))
    found = _found("lb-container-no-health-check", td, [t.lb_service("web")])
    assert found == [("fail", "medium", "containerDefinitions[0].healthCheck")]
