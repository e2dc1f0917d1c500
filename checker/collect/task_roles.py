"""What the task roles may do for ECS Exec and the X-Ray daemon → ``task_role_simulations``.

Why: ``aws ecs execute-command`` fails with "TargetNotConnectedException" and an X-Ray
daemon drops every segment when the *task* role lacks their actions; neither shows in a
task's exit code or in ECS's events. iam:SimulatePrincipalPolicy answers it exactly, the
way the gate's reference collector asks about the execution role (checker/collect/refs.py):
for each task role of a service that needs them, one simulation of

- ECS Exec (the service has ``enableExecuteCommand``): ssmmessages:CreateControlChannel,
  CreateDataChannel, OpenControlChannel and OpenDataChannel;
- the X-Ray daemon (a container whose image or name says ``xray``): xray:PutTraceSegments,
  PutTelemetryRecords, GetSamplingRules and GetSamplingTargets.

Each item is ``{"PolicySourceArn": role ARN, "EvaluationResults": SimulatePrincipalPolicy ->
EvaluationResults[]}`` (all pages). Budget: at most :data:`ROLE_BUDGET` roles a scan (one
call each, a page of results); past it a ``"level": "warning"`` entry says how many were
left. A failed call (AccessDenied) leaves the collection absent and the error recorded:
the check that needs it is ``unknown``, naming the permission.
"""

from __future__ import annotations

from typing import Any

from checker.collect.aws import Context, Item, iam_action
from checker.roles import needed, role_arn

#: The one action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({"iam:SimulatePrincipalPolicy"})

COLLECTION = "task_role_simulations"
ROLE_BUDGET = 20
TRUNCATED = "Truncated"
def wanted(ctx: Context) -> dict[str, set[str]]:
    """Task role ARN → every action a service using it needs."""
    tds = {str(t.get("taskDefinitionArn")): t for t in ctx.resources.get("task_definitions", [])}
    out: dict[str, set[str]] = {}
    for svc in ctx.resources.get("services", []):
        td = tds.get(str(svc.get("taskDefinition")))
        role = role_arn(td, ctx.account) if td else None
        if td is None or role is None:
            continue
        for actions in needed(svc, td).values():
            out.setdefault(role, set()).update(actions)
    return out


def collect_task_roles(ctx: Context) -> None:
    read_task_roles(ctx, ROLE_BUDGET)


def read_task_roles(ctx: Context, budget: int) -> None:
    """:func:`collect_task_roles` with the role budget passed in."""
    roles = sorted(wanted(ctx).items())
    if len(roles) > budget:
        ctx.recorder.add({
            "collection": COLLECTION, "operation": "iam:SimulatePrincipalPolicy",
            "code": TRUNCATED, "level": "warning", "count": len(roles) - budget,
            "message": f"{len(roles) - budget} task role(s) not simulated: the budget of "
                       f"{budget} roles a scan ran out (roles in ARN order)"})
        roles = roles[:budget]
    if not roles:
        ctx.store(COLLECTION, [], "PolicySourceArn")
        return
    api = ctx.client("iam")
    action = iam_action(api, "simulate_principal_policy")
    out: list[Item] = []
    for arn, actions in roles:
        try:
            results = _simulate(api, {"PolicySourceArn": arn, "ActionNames": sorted(actions)})
        except Exception as exc:
            ctx.resources.pop(COLLECTION, None)
            ctx.fail(COLLECTION, action, exc)
            return
        ctx.step(f"{action} {arn.rsplit('/', 1)[-1]} ({len(results)})")
        out.append({"PolicySourceArn": arn, "EvaluationResults": results})
    ctx.store(COLLECTION, out, "PolicySourceArn")


def _simulate(iam: Any, kw: dict[str, Any]) -> list[Item]:
    """Every EvaluationResult of one simulation, all pages."""
    out: list[Item] = []
    while True:
        response = iam.simulate_principal_policy(**kw)
        out += response.get("EvaluationResults", [])
        if not response.get("IsTruncated") or not response.get("Marker"):
            return out
        kw = {**kw, "Marker": response["Marker"]}
