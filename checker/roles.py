"""What a task role needs for the features a service uses: one home for the scan's collector
(checker/collect/task_roles.py, which simulates exactly these actions) and the check that
reads the simulations (checks/ecs_exec.py, task-role-feature-permissions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Item = Mapping[str, Any]

#: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html#ecs-exec-required-iam-permissions
ECS_EXEC = ("ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel")
#: https://docs.aws.amazon.com/xray/latest/devguide/xray-daemon-ecs.html
XRAY = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets")


def xray_container(td: Item) -> bool:
    return any("xray" in f"{c.get('image', '')} {c.get('name', '')}".lower().replace("-", "")
               for c in td.get("containerDefinitions") or [] if isinstance(c, dict))


def needed(service: Item, td: Item) -> dict[str, tuple[str, ...]]:
    """Feature → the actions the task role needs for it, for one service's revision."""
    out: dict[str, tuple[str, ...]] = {}
    if service.get("enableExecuteCommand") is True:
        out["ECS Exec"] = ECS_EXEC
    if xray_container(td):
        out["X-Ray daemon"] = XRAY
    return out


def role_arn(td: Item, account: str | None) -> str | None:
    role = td.get("taskRoleArn")
    if not isinstance(role, str) or not role:
        return None
    return role if role.startswith("arn:") else f"arn:aws:iam::{account}:role/{role}"


def decisions(results: Iterable[Item]) -> dict[str, str]:
    """Action → its EvalDecision (allowed, explicitDeny, implicitDeny)."""
    return {str(r.get("EvalActionName")): str(r.get("EvalDecision")) for r in results}
