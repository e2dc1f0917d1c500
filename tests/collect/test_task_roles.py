"""The task role simulations (checker/collect/task_roles.py). moto has no
SimulatePrincipalPolicy (MOTO.md), so botocore's Stubber answers it, as the gate's tests
do; the demo's moto gets one from checker/demo/moto_iam.py, exercised here too."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from checker import roles
from checker.collect import task_roles
from checker.demo import moto_iam
from tests import builders as b
from tests.collect.support import REGION, serial_context

ROLE = f"arn:aws:iam::{b.ACCOUNT}:role/web-task"


def _resources(exec_on: bool = True, xray: bool = True, role: str | None = ROLE
               ) -> dict[str, list[dict[str, Any]]]:
    containers = [b.container_def("web", memory=512)]
    if xray:
        containers.append(b.container_def("xray-daemon", "public.ecr.aws/xray/aws-xray-daemon:3",
                                          essential=False, memory=64))
    td = b.task_definition("web", containers=containers,
                           **({"taskRoleArn": role} if role else {}))
    return {"services": [b.service("web", enableExecuteCommand=exec_on),
                         b.service("api")],
            "task_definitions": [td, b.task_definition("api")]}


def _result(action: str, decision: str) -> dict[str, Any]:
    return {"EvalActionName": action, "EvalResourceName": "*", "EvalDecision": decision}


def test_one_simulation_per_task_role_for_exactly_what_its_services_use() -> None:
    iam = boto3.client("iam", region_name=REGION, aws_access_key_id="x",
                       aws_secret_access_key="x")
    actions = sorted(roles.ECS_EXEC + roles.XRAY)
    with Stubber(iam) as stub:
        stub.add_response("simulate_principal_policy", {
            "EvaluationResults": [_result(a, "allowed") for a in actions[:4]],
            "IsTruncated": True, "Marker": "m1"},
            {"PolicySourceArn": ROLE, "ActionNames": actions})
        stub.add_response("simulate_principal_policy", {
            "EvaluationResults": [_result(a, "implicitDeny") for a in actions[4:]],
            "IsTruncated": False},
            {"PolicySourceArn": ROLE, "ActionNames": actions, "Marker": "m1"})
        with serial_context({"iam": iam}, resources=_resources()) as ctx:
            task_roles.collect_task_roles(ctx)
            (item,) = ctx.resources["task_role_simulations"]
        stub.assert_no_pending_responses()
    assert item["PolicySourceArn"] == ROLE and len(item["EvaluationResults"]) == 8


@pytest.mark.parametrize("kw", [{"exec_on": False, "xray": False}, {"role": None}])
def test_no_call_when_no_service_needs_it_or_there_is_no_role(kw: dict[str, Any]) -> None:
    iam = boto3.client("iam", region_name=REGION, aws_access_key_id="x",
                       aws_secret_access_key="x")
    with Stubber(iam) as stub, serial_context({"iam": iam},
                                              resources=_resources(**kw)) as ctx:
        task_roles.collect_task_roles(ctx)
        assert ctx.resources["task_role_simulations"] == []
        stub.assert_no_pending_responses()


def test_a_denied_simulation_is_recorded_and_the_collection_absent() -> None:
    iam = boto3.client("iam", region_name=REGION, aws_access_key_id="x",
                       aws_secret_access_key="x")
    with Stubber(iam) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", "not authorized")
        with serial_context({"iam": iam}, resources=_resources()) as ctx:
            task_roles.collect_task_roles(ctx)
            assert "task_role_simulations" not in ctx.resources
            assert [(e["collection"], e["operation"], e["code"])
                    for e in ctx.recorder.errors()] == [
                ("task_role_simulations", "iam:SimulatePrincipalPolicy", "AccessDenied")]


def test_past_the_budget_roles_are_left_with_a_warning() -> None:
    res = _resources()
    with serial_context({}, resources=res) as ctx:
        task_roles.read_task_roles(ctx, budget=0)
        assert ctx.resources["task_role_simulations"] == []
        (warning,) = ctx.recorder.errors()
    assert (warning["code"], warning["level"], warning["count"]) == ("Truncated", "warning", 1)


def test_the_demo_moto_answers_simulations(aws: None) -> None:
    moto_iam.patch_simulate()
    moto_iam.DENIED.add((ROLE, "xray:PutTraceSegments"))
    try:
        got = boto3.client("iam", region_name=REGION).simulate_principal_policy(
            PolicySourceArn=ROLE, ActionNames=["xray:PutTraceSegments", "xray:GetSamplingRules"])
    finally:
        moto_iam.DENIED.clear()
        moto_iam.unpatch_simulate()
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in got["EvaluationResults"]] == [
        ("xray:PutTraceSegments", "implicitDeny"), ("xray:GetSamplingRules", "allowed")]
