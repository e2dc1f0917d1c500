"""deploy/fleet/: cfn-lint accepts every template; the member role may do exactly what
deploy/iam-policy.json grants and trusts only the audit account; the scan role may do what
deploy/fleet/caller-policy.json grants plus its own outputs; and the state machine's
definition is well formed: every transition lands on a state, every state is reachable,
the Map runs one Lambda per target with a bounded concurrency and catches a failed
target, and every function it invokes is a template resource whose handler exists."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cfn import CfnLoader
from tests.conftest import REPO

FLEET = REPO / "deploy" / "fleet"
TEMPLATES = sorted(FLEET.glob("*.yaml"))
SCAN_POLICY = REPO / "deploy" / "iam-policy.json"
CALLER_POLICY = FLEET / "caller-policy.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)
    return doc


def _actions(path: Path) -> list[str]:
    return sorted(a for st in json.loads(path.read_text())["Statement"] for a in st["Action"])


def test_there_are_the_two_templates() -> None:
    assert [p.name for p in TEMPLATES] == ["member-role.yaml", "state-machine.yaml"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_accepts_the_template(path: Path) -> None:
    cfnlint_api = pytest.importorskip("cfnlint.api")
    matches = cfnlint_api.lint(path.read_text(encoding="utf-8"),
                               regions=["us-east-1", "eu-west-1"])
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


# -- the member role (StackSets) ----------------------------------------------------------


def test_the_member_role_grants_exactly_the_scan_policy() -> None:
    role = load(FLEET / "member-role.yaml")["Resources"]["FleetMemberRole"]
    assert role["Type"] == "AWS::IAM::Role"
    [policy] = role["Properties"]["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Resource"] == "*"
    assert sorted(statement["Action"]) == _actions(SCAN_POLICY), (
        "deploy/fleet/member-role.yaml must list exactly the actions of deploy/iam-policy.json")
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_member_role_trusts_only_the_audit_account() -> None:
    doc = load(FLEET / "member-role.yaml")
    trust = doc["Resources"]["FleetMemberRole"]["Properties"]["AssumeRolePolicyDocument"]
    [statement] = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRole" and statement["Effect"] == "Allow"
    assert statement["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AuditAccountId}:root"}}
    assert statement["Condition"]["ArnLike"]["aws:PrincipalArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AuditAccountId}:${TrustedPrincipalPattern}"}
    assert doc["Parameters"]["AuditAccountId"]["AllowedPattern"] == "^[0-9]{12}$"
    # the state machine's scan role matches the default pattern
    machine = load(FLEET / "state-machine.yaml")
    name = machine["Resources"]["ScanRole"]["Properties"]["RoleName"]["Fn::Sub"]
    pattern = doc["Parameters"]["TrustedPrincipalPattern"]["Default"]
    assert re.fullmatch(pattern.replace("*", ".*"), "role/" + name.replace(
        "${AWS::Region}", "eu-west-1"))
    # and its member role name is the member template's default
    assert (machine["Parameters"]["MemberRoleName"]["Default"]
            == doc["Parameters"]["RoleName"]["Default"])


# -- the audit account's side -------------------------------------------------------------


def test_the_scan_role_may_do_the_caller_policy_and_write_its_outputs() -> None:
    role = load(FLEET / "state-machine.yaml")["Resources"]["ScanRole"]
    statements = {s["Sid"]: s for s in role["Properties"]["Policies"][0]["PolicyDocument"]
                  ["Statement"]}
    granted = set()
    for sid in ("EnterMemberAccounts", "ListTargets"):
        action = statements[sid]["Action"]
        granted |= {action} if isinstance(action, str) else set(action)
    assert sorted(granted) == _actions(CALLER_POLICY)
    assert statements["EnterMemberAccounts"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
    assert set(statements) == {"EnterMemberAccounts", "ListTargets", "FleetBundlesAndReports",
                               "Notify"}


@pytest.fixture(scope="module")
def machine() -> dict[str, Any]:
    return load(FLEET / "state-machine.yaml")


@pytest.fixture(scope="module")
def definition(machine: dict[str, Any]) -> dict[str, Any]:
    sm = machine["Resources"]["FleetStateMachine"]
    assert sm["Type"] == "AWS::StepFunctions::StateMachine"
    definition: dict[str, Any] = sm["Properties"]["Definition"]
    return definition


def _walk(states: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every state, the Map's inner ones included."""
    for name, state in states.items():
        yield name, state
        processor = state.get("ItemProcessor")
        if processor:
            yield from _walk(processor["States"])


def _check_graph(machine_part: Mapping[str, Any]) -> None:
    """StartAt, Next, Catch and End of one state machine (or Map processor): every
    transition lands on a state of the same level, each state ends or goes on (never
    both), and every state is reachable from StartAt."""
    states = machine_part["States"]
    assert machine_part["StartAt"] in states
    edges: dict[str, set[str]] = {}
    for name, state in states.items():
        terminal = state["Type"] in ("Succeed", "Fail")
        has_next, has_end = "Next" in state, state.get("End") is True
        assert terminal or has_next != has_end, f"{name}: needs exactly one of Next and End"
        edges[name] = ({state["Next"]} if has_next else set()) | {
            c["Next"] for c in state.get("Catch", [])}
        assert edges[name] <= set(states), f"{name} goes to an unknown state"
        for catcher in state.get("Catch", []):
            assert catcher["ErrorEquals"] and catcher.get("ResultPath")
        if state["Type"] == "Map":
            _check_graph(state["ItemProcessor"])
    seen, todo = set(), [machine_part["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += sorted(edges[name])
    assert seen == set(states), f"unreachable: {sorted(set(states) - seen)}"


def test_every_transition_lands_on_a_state(definition: dict[str, Any]) -> None:
    _check_graph(definition)
    assert definition["StartAt"] == "ListTargets"


def test_the_map_scans_each_target_with_bounded_concurrency(definition: dict[str, Any]) -> None:
    scan = definition["States"]["ScanEachTarget"]
    assert scan["Type"] == "Map" and scan["ItemsPath"] == "$.targets"
    # the bound comes from the template's MaxConcurrency, through ListTargets' output
    assert scan["MaxConcurrencyPath"] == "$.max_concurrency"
    assert definition["States"]["ListTargets"]["ResultSelector"]["max_concurrency.$"] == (
        "$.Payload.max_concurrency")
    assert scan["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"
    assert set(scan["ItemSelector"]) == {"run.$", "account.$", "region.$"}
    inner = scan["ItemProcessor"]["States"]
    assert inner["ScanTarget"]["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    failed = inner["TargetFailed"]["Parameters"]
    assert failed["status"] == "failed" and failed["error"]["collection"] == "target"
    assert scan["Next"] == "Aggregate" and scan["ResultPath"] == "$.results"
    assert definition["States"]["Aggregate"]["End"] is True


def test_every_task_invokes_a_function_of_the_template(machine: dict[str, Any],
                                                       definition: dict[str, Any]) -> None:
    resources = machine["Resources"]
    subs = resources["FleetStateMachine"]["Properties"]["DefinitionSubstitutions"]
    invoked = []
    for name, state in _walk(definition["States"]):
        if state["Type"] != "Task":
            continue
        assert state["Resource"] == "arn:aws:states:::lambda:invoke", name
        [placeholder] = _PLACEHOLDER.findall(state["Parameters"]["FunctionName"])
        target = subs[placeholder]["Fn::GetAtt"]
        assert target[1] == "Arn"
        function = resources[target[0]]
        assert function["Type"] == "AWS::Serverless::Function"
        module, _, attr = function["Properties"]["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), attr)), function
        invoked.append(target[0])
    assert invoked == ["TargetsFunction", "TargetFunction", "AggregateFunction"]
    # and the state machine's role may invoke exactly those
    role = resources["StateMachineRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    [statement] = role["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert [r["Fn::GetAtt"][0] for r in statement["Resource"]] == invoked


def test_moto_accepts_the_definition(aws: None, definition: dict[str, Any]) -> None:
    """moto's Step Functions parser backend (the ASL grammar) parses the definition at
    CreateStateMachine and runs it: with the Lambda ARNs pointing nowhere, the execution
    reaches ListTargets and fails there, as a run would with a missing function."""
    import time

    import boto3
    from moto.core.config import default_user_config

    text = json.dumps(definition)
    for name in ("TargetsFunctionArn", "TargetFunctionArn", "AggregateFunctionArn"):
        text = text.replace("${" + name + "}",
                            f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
    before = default_user_config.get("stepfunctions")
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    try:
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="ecsdoctor-fleet", definition=text,
            roleArn="arn:aws:iam::123456789012:role/states")["stateMachineArn"]
        assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == (
            json.loads(text))
        run = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
            {"accounts": ["111111111111"], "regions": ["us-east-1"]}))["executionArn"]
        for _ in range(100):
            status = sfn.describe_execution(executionArn=run)["status"]
            if status != "RUNNING":
                break
            time.sleep(0.05)
        events = sfn.get_execution_history(executionArn=run)["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in events
                   if "stateEnteredEventDetails" in e]
        assert entered[:1] == ["ListTargets"]
    finally:
        if before is None:
            default_user_config.pop("stepfunctions", None)
        else:
            default_user_config["stepfunctions"] = before
