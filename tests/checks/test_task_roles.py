"""task-role-feature-permissions (checks/ecs_exec.py): the task role against what ECS Exec
and the X-Ray daemon need, read from the simulations the scan made."""

from __future__ import annotations

from typing import Any

import pytest

from checker import roles
from tests import builders as b
from tests.checks.harness import run_check, statuses

WEB = b.service_arn("prod", "web")
ROLE = f"arn:aws:iam::{b.ACCOUNT}:role/web-task"


def _bundle(decision: str | None, *, exec_on: bool = True, role: str | None = ROLE,
            simulated: bool = True) -> dict[str, Any]:
    td = b.task_definition("web", **({"taskRoleArn": role} if role else {}))
    out = b.ecs_bundle([b.service("web", enableExecuteCommand=exec_on)], [], [td])
    results = [{"EvalActionName": a, "EvalResourceName": "*",
                "EvalDecision": "allowed" if decision is None or a != roles.ECS_EXEC[0]
                else decision} for a in roles.ECS_EXEC]
    out["resources"]["task_role_simulations"] = (
        [{"PolicySourceArn": ROLE, "EvaluationResults": results}] if simulated else [])
    return out


@pytest.mark.parametrize(("bundle", "expected"), [
    (_bundle(None), "pass"),
    (_bundle("implicitDeny"), "fail"),
    (_bundle("explicitDeny"), "fail"),
    (_bundle(None, role=None), "fail"),  # ECS Exec needs a task role at all
    (_bundle(None, simulated=False), "unknown"),  # over the budget
])
def test_task_role_feature_permissions(bundle: dict[str, Any], expected: str) -> None:
    assert statuses("task-role-feature-permissions", bundle) == {WEB: expected}


def test_a_service_that_needs_nothing_is_not_judged() -> None:
    (f,) = run_check("task-role-feature-permissions", _bundle("implicitDeny", exec_on=False))
    assert f.status.value == "skipped"


def test_the_failure_names_the_denied_actions_and_the_feature() -> None:
    (f,) = run_check("task-role-feature-permissions", _bundle("implicitDeny"))
    assert f.data["denied"] == [roles.ECS_EXEC[0]] and f.data["features"] == ["ECS Exec"]
    assert "ssmmessages:CreateControlChannel" in f.message and "web-task" in f.message


def test_without_simulations_collected_it_is_unknown() -> None:
    bundle = _bundle(None)
    del bundle["resources"]["task_role_simulations"]
    (f,) = run_check("task-role-feature-permissions", bundle)
    assert f.status.value == "unknown" and "task_role_simulations" in f.message
