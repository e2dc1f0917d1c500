"""The sidecars of the troubleshooting guide (checks/taskdef/sidecars.py): the X-Ray daemon
in bridge mode and its task role, dotnet-monitor's authentication and Listen mode."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests import builders as b
from tests import builders_taskdef as t
from tests.checks.harness import run_check

#: A real bridge-mode task definition whose application reaches a trace receiver on UDP
#: 2000 by `links` and AWS_XRAY_DAEMON_ADDRESS (ECS Anywhere workshop, OpenTelemetry
#: collector in the X-Ray daemon's place).
OTEL_BRIDGE = "aws-samples__aws-ecs-anywhere-workshop-samples__otel-task-definition.json"


def _one(check_id: str, bundle: dict[str, Any]) -> Any:
    (f,) = run_check(check_id, bundle)
    return f


def _xray_bundle(td: dict[str, Any], *sims: dict[str, Any], launch: str = "FARGATE",
                 simulated: bool = True) -> dict[str, Any]:
    bundle = t.bundle([td], [b.service("web", launchType=launch)])
    if simulated:
        bundle["resources"]["task_role_simulations"] = list(sims)
    return bundle


def _corpus_bridge(shared: Path) -> dict[str, Any]:
    """The corpus file as the service `web` runs it, its collector swapped for the X-Ray
    daemon (same name, same 2000/udp mapping)."""
    raw = json.loads((shared / "corpus" / "taskdefs" / OTEL_BRIDGE).read_text())
    td = {**copy.deepcopy(raw), "taskDefinitionArn": b.td_arn("web", 1), "family": "web",
          "revision": 1, "status": "ACTIVE", "taskRoleArn": t.TASK_ROLE}
    daemon = td["containerDefinitions"][0]
    assert daemon["name"] == "aws-otel-collector"
    daemon.update(image=t.XRAY_IMAGE, essential=False, memoryReservation=256)
    daemon["portMappings"] = [{"hostPort": 2000, "containerPort": 2000, "protocol": "udp"}]
    daemon.pop("command", None)
    return td


def _ec2(mode: str, *containers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return t.td("web", *containers, requiresCompatibilities=["EC2"], networkMode=mode, **extra)


def _app(td: dict[str, Any]) -> dict[str, Any]:
    app: dict[str, Any] = next(c for c in td["containerDefinitions"]
                               if c["name"] == "aws-otel-emitter")
    return app


# -- X-Ray daemon: bridge network mode --------------------------------------------------------
def test_bridge_mode_with_links_and_the_address_passes(shared_dir: Path) -> None:
    td = _corpus_bridge(shared_dir)
    f = _one("xray-sidecar-misconfigured", _xray_bundle(td, t.role_simulation(), launch="EC2"))
    assert f.status.value == "pass", f.message


def test_bridge_mode_without_links_fails(shared_dir: Path) -> None:
    td = _corpus_bridge(shared_dir)
    del _app(td)["links"]
    f = _one("xray-sidecar-misconfigured", _xray_bundle(td, t.role_simulation(), launch="EC2"))
    assert (f.status.value, f.severity.value) == ("fail", "medium")
    assert "aws-otel-emitter sends to aws-otel-collector:2000 but has no links" in f.message


def test_bridge_mode_without_the_address_fails(shared_dir: Path) -> None:
    td = _corpus_bridge(shared_dir)
    _app(td)["environment"] = []
    f = _one("xray-sidecar-misconfigured", _xray_bundle(td, t.role_simulation(), launch="EC2"))
    assert (f.status.value, f.severity.value) == ("fail", "medium")
    assert "AWS_XRAY_DAEMON_ADDRESS" in f.message and "127.0.0.1:2000" in f.message


@pytest.mark.parametrize(("mode", "app", "expected"), [
    ("bridge", t.web_ctr("app"), "fail"),                                   # nothing set
    ("bridge", t.web_ctr("app", env={"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"}), "fail"),
    ("bridge", t.web_ctr("app", links=["xray-daemon:xray"],
                         env={"AWS_XRAY_DAEMON_ADDRESS": "udp:xray:2000 tcp:xray:2000"}), "pass"),
    ("bridge", t.web_ctr("app", env={"AWS_XRAY_DAEMON_ADDRESS": "172.17.0.1:2000"}),
     "pass"),                                                   # the host's bridge address
    ("host", t.web_ctr("app"), "pass"),           # one network namespace: 127.0.0.1 works
    ("awsvpc", t.web_ctr("app"), "pass"),
])
def test_xray_reachability_by_network_mode(mode: str, app: dict[str, Any],
                                           expected: str) -> None:
    td = _ec2(mode, app, t.xray(), taskRoleArn=t.TASK_ROLE)
    f = _one("xray-sidecar-misconfigured", _xray_bundle(td, t.role_simulation(), launch="EC2"))
    assert f.status.value == expected, f.message


# -- X-Ray daemon: the task role ----------------------------------------------------------------
def _fargate_xray(**extra: Any) -> dict[str, Any]:
    return t.fargate_td("web", t.web_ctr("app"), t.xray(), **extra)


@pytest.mark.parametrize(("bundle", "status", "severity", "words"), [
    (_xray_bundle(_fargate_xray()), "fail", "medium", "no task role"),
    (_xray_bundle(_ec2("awsvpc", t.web_ctr("app"), t.xray()),
                  launch="EC2"), "fail", "low", "container instance's role"),
    (_xray_bundle(_fargate_xray(taskRoleArn=t.TASK_ROLE),
                  t.role_simulation(denied=("xray:PutTraceSegments",))),
     "fail", "medium", "may not xray:PutTraceSegments"),
    (_xray_bundle(_fargate_xray(taskRoleArn=t.TASK_ROLE),
                  t.role_simulation(denied=("xray:GetSamplingRules",))),
     "fail", "low", "sampling rules"),
    (_xray_bundle(_fargate_xray(taskRoleArn=t.TASK_ROLE), simulated=False),
     "unknown", None, "not simulated"),                 # the scan could not simulate it
    (_xray_bundle(_fargate_xray(taskRoleArn=t.TASK_ROLE)),
     "unknown", None, "not simulated"),                 # over the budget: not in the list
    (_xray_bundle(_fargate_xray(taskRoleArn=t.TASK_ROLE), t.role_simulation()),
     "pass", None, "set up correctly"),
])
def test_xray_task_role(bundle: dict[str, Any], status: str, severity: str | None,
                        words: str) -> None:
    f = _one("xray-sidecar-misconfigured", bundle)
    assert f.status.value == status, f.message
    assert words in f.message
    if severity:
        assert f.severity.value == severity
    assert "set up correctly" not in f.message or status == "pass"


def test_a_broken_daemon_without_a_simulation_still_fails_and_says_what_was_not_seen() -> None:
    td = t.fargate_td("web", t.web_ctr("app"), t.xray(portMappings=[]), taskRoleArn=t.TASK_ROLE)
    f = _one("xray-sidecar-misconfigured", _xray_bundle(td, simulated=False))
    assert f.status.value == "fail" and "not simulated" in f.message
    assert f.data["role"] == t.TASK_ROLE


# -- dotnet-monitor: --no-auth -------------------------------------------------------------------
DIAG = {"mountPoints": [{"sourceVolume": "diag", "containerPath": "/diag"}]}
LISTEN = {"DOTNETMONITOR_DiagnosticPort__ConnectionMode": "Listen",
          "DOTNETMONITOR_DiagnosticPort__EndpointName": "/diag/port.sock"}
APP_PORT = {"DOTNET_DiagnosticPorts": "/diag/port.sock,nosuspend"}


def _monitor_bundle(monitor: dict[str, Any], app: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    app = app or t.web_ctr("app", env=APP_PORT, **DIAG)
    td = t.fargate_td("web", app, monitor, volumes=[{"name": "diag"}])
    return t.bundle([td], [b.service("web")])


def _monitor(**extra: Any) -> dict[str, Any]:
    return t.ctr("monitor", **{"image": t.MONITOR_IMAGE, "essential": False, **DIAG, **extra})


@pytest.mark.parametrize(("monitor", "status", "severity"), [
    # an ECS sample's sidecar: --no-auth with the API on every interface
    (_monitor(command=["--no-auth"], env={**LISTEN, "DOTNETMONITOR_Urls": "http://+:52323"},
              portMappings=[{"containerPort": 52323}]), "fail", "high"),
    (_monitor(command=["collect", "--no-auth"]), "fail", "high"),   # the image binds +:52323
    (_monitor(command=["collect", "--no-auth", "--urls", "http://localhost:52323"]),
     "fail", "low"),                                    # only the task's own containers
    (t.ctr("monitor", image=f"{b.ACCOUNT}.dkr.ecr.{b.REGION}.amazonaws.com/tools:1.0",
           essential=False, entryPoint=["sh", "-c", "dotnet-monitor collect --no-auth"],
           **DIAG), "fail", "high"),                   # the tool in an image of one's own
    (_monitor(command=["collect", "--urls", "https://+:52323"]), "pass", None),
])
def test_dotnet_monitor_no_auth(monitor: dict[str, Any], status: str,
                                severity: str | None) -> None:
    f = _one("dotnet-monitor-no-auth", _monitor_bundle(monitor))
    assert f.status.value == status, f.message
    if severity:
        assert f.severity.value == severity and "--no-auth" in f.message


def test_dotnet_monitor_absent_is_skipped_for_no_auth() -> None:
    td = t.fargate_td("web", t.web_ctr("app"))
    assert [f.status.value for f in run_check("dotnet-monitor-no-auth", t.bundle([td]))] == [
        "skipped"]


# -- dotnet-monitor: Listen mode -----------------------------------------------------------------
@pytest.mark.parametrize(("monitor", "app", "status", "words"), [
    (_monitor(env=LISTEN), None, "pass", ""),
    (_monitor(command=["collect", "--diagnostic-port", "/diag/port.sock"]), None, "pass", ""),
    (_monitor(env=LISTEN), t.web_ctr("app", env={
        "DOTNET_DiagnosticPorts": "/diag/other.sock"}, **DIAG), "fail",
     "but dotnet-monitor listens on /diag/port.sock"),
    (_monitor(env=LISTEN), t.web_ctr("app", mountPoints=[
        {"sourceVolume": "diag", "containerPath": "/tmp"}]), "fail", "Listen mode"),
    (_monitor(env={"DotnetMonitor_DiagnosticPort": "/diag/port.sock"}),   # simplified form
     t.web_ctr("app", **DIAG), "fail", "has no DOTNET_DiagnosticPorts"),
    (_monitor(env=LISTEN), t.web_ctr("app", env={**APP_PORT, "DOTNET_EnableDiagnostics": "0"},
                                     **DIAG), "fail", "DOTNET_EnableDiagnostics=0"),
])
def test_dotnet_monitor_listen_mode(monitor: dict[str, Any], app: dict[str, Any] | None,
                                    status: str, words: str) -> None:
    f = _one("dotnet-monitor-sidecar-misconfigured", _monitor_bundle(monitor, app))
    assert f.status.value == status, f.message
    assert words in f.message
