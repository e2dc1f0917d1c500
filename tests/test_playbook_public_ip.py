"""The hygiene playbook's public-task-ip: tasks with a public IP, high only when a security
group of theirs admits the internet; a task set's public IP is its service's. Confirmed on a
small bundle and absent once the public IP is off."""

from __future__ import annotations

from typing import Any

import pytest

from checker.model import Diagnosis, Severity
from checker.pipeline import Engine
from tests import builders as b
from tests import builders_network as bn
from tests import builders_taskset as ts
from tests.test_playbooks import assert_filled

ENGINE = Engine()
WEB = b.service_arn("prod", "web")
OPEN_8080 = bn.rule("tcp", 8080, cidrs=("0.0.0.0/0",))


def _diagnoses(services: list[dict[str, Any]], *, world_open: bool) -> list[Diagnosis]:
    world = bn.World(services=services)
    if world_open:
        world.sg(bn.TASK_SG)["IpPermissions"].append(OPEN_8080)
    report = ENGINE.analyze(world.bundle())
    for diag in report.diagnoses:
        assert_filled(diag)
    return [d for d in report.diagnoses if d.id == "public-task-ip"]


@pytest.mark.parametrize(("world_open", "severity", "text"), [
    (True, Severity.HIGH, f"admit the internet ({bn.TASK_SG} tcp/8080 from 0.0.0.0/0)"),
    (False, Severity.MEDIUM, "admit nothing from the internet today"),
])
def test_public_ip_is_a_risk_high_only_when_open(world_open: bool, severity: Severity,
                                                 text: str) -> None:
    (diag,) = _diagnoses([bn.web_service(public_ip="ENABLED")], world_open=world_open)
    assert (diag.severity, diag.resources, diag.scenario) == (severity, (WEB,), "hygiene")
    assert "in its own network configuration" in diag.summary and text in diag.summary
    assert {e.check for e in diag.evidence} >= {"service-assigns-public-ip"}
    command = " ".join(step.command or "" for step in diag.remediation)
    assert "assignPublicIp=DISABLED" in command
    assert f"securityGroups=[{bn.TASK_SG}]" in command


def test_no_public_ip_rules_it_out() -> None:
    assert _diagnoses([bn.web_service(public_ip="DISABLED")], world_open=True) == []


def test_a_task_sets_public_ip_is_diagnosed_on_its_service() -> None:
    svc = ts.external_service("web", ts.task_set("web", "7", public_ip="ENABLED",
                                                 subnets=(bn.PUBLIC[0],)))
    (diag,) = _diagnoses([svc], world_open=True)
    assert (diag.severity, diag.resources) == (Severity.HIGH, (WEB,))
    assert "in task set ecs-svc/7" in diag.summary
