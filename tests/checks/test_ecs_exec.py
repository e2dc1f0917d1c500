from __future__ import annotations

from typing import Any

import pytest

from tests import builders as b
from tests import builders_hosts as h
from tests.checks.harness import run_check, statuses

WEB = b.service_arn("prod", "web")
ROLE = f"arn:aws:iam::{b.ACCOUNT}:role/web-task"


def _td(*, role: bool = True, readonly: bool = False, init: bool = True,
        **extra: Any) -> dict[str, Any]:
    ctr = b.container_def("web", memory=512, readonlyRootFilesystem=readonly,
                          linuxParameters={"initProcessEnabled": init})
    if role:
        extra["taskRoleArn"] = ROLE
    return b.task_definition("web", containers=[ctr], **extra)


def _running(*, enabled: bool = True, agent: str = "RUNNING", pv: str | None = "1.4.0",
             **kw: Any) -> dict[str, Any]:
    ctr = b.shaped("ecs", "Container", {
        "name": "web", "lastStatus": "RUNNING",
        "managedAgents": [{"name": "ExecuteCommandAgent", "lastStatus": agent}]})
    if pv is not None:
        kw["platformVersion"] = pv
    return b.task("web", containers=[ctr], enableExecuteCommand=enabled, **kw)


def _bundle(svc_extra: dict[str, Any] | None = None, td: dict[str, Any] | None = None,
            tasks: list[dict[str, Any]] | None = None, **collections: Any) -> dict[str, Any]:
    svc = b.service("web", **({"enableExecuteCommand": True} | (svc_extra or {})))
    return b.bundle(clusters=[b.cluster()], services=[svc],
                    tasks=[_running()] if tasks is None else tasks,
                    task_definitions=[td or _td()], **collections)


@pytest.mark.parametrize(("bundle", "expected", "says"), [
    (_bundle(), "pass", "aws ecs execute-command will work"),
    # switched off is a choice, not a fault (what turning it on needs is still said)
    (_bundle({"enableExecuteCommand": False}, tasks=[_running(enabled=False)]), "pass",
     "ECS Exec is switched off (enableExecuteCommand false)"),
    (_bundle({"enableExecuteCommand": False}, td=_td(readonly=True),
             tasks=[_running(enabled=False)]), "pass",
     "turning it on would also need: readonlyRootFilesystem is true on web"),
    (_bundle(tasks=[_running(enabled=False), _running()]), "fail",
     "1 of 2 running task(s) started before enableExecuteCommand was turned on"),
    (_bundle(tasks=[_running(agent="STOPPED")]), "fail",
     "ExecuteCommandAgent not RUNNING (web: STOPPED)"),
    (_bundle(tasks=[_running(pv="1.3.0")]), "fail",
     "Fargate platform version 1.3.0 is below 1.4.0"),
    (_bundle({"platformVersion": "1.3.0"}, tasks=[]), "fail", "platform version 1.3.0"),
    (_bundle({"platformVersion": "LATEST"}, tasks=[]), "pass", "will work"),
    (_bundle(tasks=[_running(pv="1.0.0")],
             td=_td(runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE"})),
     "pass", "will work"),
    (_bundle(td=_td(readonly=True)), "fail",
     "readonlyRootFilesystem is true on web: the SSM agent must write"),
    (_bundle(td=_td(role=False)), "fail", "no task role (taskRoleArn)"),
])
def test_ecs_exec_blocked(bundle: dict[str, Any], expected: str, says: str) -> None:
    (f,) = run_check("ecs-exec-blocked", bundle)
    assert (f.status.value, f.service) == (expected, WEB)
    assert says in f.message
    assert any("ssmmessages" in n for n in f.data["not_visible"])


def test_exec_lists_every_blocker_at_once() -> None:
    (f,) = run_check("ecs-exec-blocked", _bundle(
        td=_td(role=False, readonly=True), tasks=[_running(enabled=False, pv="1.3.0")]))
    assert f.message.startswith("service prod/web: aws ecs execute-command would fail — "
                                "(1) 1 of 1 running task(s) started before "
                                "enableExecuteCommand was turned on: force a new deployment; "
                                "(2) Fargate")
    assert len(f.data["blockers"]) == 4


def test_exec_recommends_init_process_without_failing() -> None:
    (f,) = run_check("ecs-exec-blocked", _bundle(td=_td(init=False)))
    assert f.status.value == "pass"
    assert f.data["recommendations"] == [
        "initProcessEnabled is off on web (recommended: it reaps zombie SSM agent processes)"]


@pytest.mark.parametrize(("agent", "expected"), [("1.48.0", "fail"), ("1.106.2", "pass")])
def test_exec_agent_version_on_ec2(agent: str, expected: str) -> None:
    task = _running(pv=None, launchType="EC2", containerInstanceArn=h.ci_arn("i-01"))
    bundle = _bundle({"launchType": "EC2"}, tasks=[task],
                     container_instances=[h.container_instance("i-01", agent=agent)])
    (f,) = run_check("ecs-exec-blocked", bundle)
    assert f.status.value == expected
    if expected == "fail":
        assert "ECS agent too old for ECS Exec on i-01 (1.48.0 < 1.50.2)" in f.message


def test_exec_unknown_without_task_definition() -> None:
    bundle = _bundle(td=b.task_definition("other"))
    assert statuses("ecs-exec-blocked", bundle)[WEB] == "unknown"
