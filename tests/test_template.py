"""deploy/template.yaml: what the function is, what it may do, and that cfn-lint accepts it;
deploy/history.yaml: the ECS events it keeps, for how long, who may write them, and that the
audit template holds the same resources and tells the function where they are.

The structural tests need only PyYAML (CloudFormation's short tags such as ``!Ref`` are
turned into their ``{"Ref": …}`` / ``{"Fn::…": …}`` long forms). The scan statement must
grant exactly the actions of deploy/iam-policy.json (itself tested to equal the collectors'
operations), so the scheduled audit can never drift from what ``scan`` needs; everything else
the role may do is a named sink permission, scoped to its resource.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.audit.handler import LIST_CLUSTERS
from checker.audit.sinks import ENV_VARS
from tests.cfn import CfnLoader

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
TEMPLATE = DEPLOY / "template.yaml"
POLICY = DEPLOY / "iam-policy.json"
SINK_ACTIONS = {
    "logs:CreateLogStream", "logs:PutLogEvents", "s3:PutObject", "sns:Publish",
    "securityhub:BatchImportFindings", "securityhub:GetFindings",
    "securityhub:BatchUpdateFindings", "cloudwatch:PutMetricData",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)
    return doc


def _resource(template: dict[str, Any], name: str, kind: str) -> dict[str, Any]:
    resource: dict[str, Any] = template["Resources"][name]
    assert resource["Type"] == kind
    return resource


def _statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every role statement by Sid, conditional ones unwrapped from their Fn::If."""
    role = _resource(template, "AuditRole", "AWS::IAM::Role")
    out: dict[str, dict[str, Any]] = {}
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:
                condition, statement, otherwise = statement["Fn::If"]
                assert otherwise == {"Ref": "AWS::NoValue"}
                statement = {**statement, "_condition": condition}
            out[statement["Sid"]] = statement
    return out


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_the_function(template: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    props = _resource(template, "AuditFunction", "AWS::Serverless::Function")["Properties"]
    assert props["Handler"] == "checker.audit.handler.handler"
    assert (props["Runtime"], props["MemorySize"], props["Timeout"]) == ("python3.11", 512, 300)
    assert props["Role"] == {"Fn::GetAtt": ["AuditRole", "Arn"]}
    (event,) = props["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == {"Ref": "ScheduleExpression"}
    assert template["Parameters"]["ScheduleExpression"]["Default"] == "rate(1 hour)"


def test_every_setting_the_handler_reads_is_wired(template: dict[str, Any]) -> None:
    props = template["Resources"]["AuditFunction"]["Properties"]
    assert set(props["Environment"]["Variables"]) == set(ENV_VARS)


def test_the_scan_statement_is_the_iam_policy(template: dict[str, Any]) -> None:
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    (shipped,) = policy["Statement"]
    statements = _statements(template)
    scan = statements["EcsdoctorReadOnly"]
    assert (scan["Effect"], scan["Resource"]) == ("Allow", "*")
    # ecs:ListClusters may move into the scan's operations; either way both lists agree
    assert _actions(scan) | {LIST_CLUSTERS} == set(shipped["Action"]) | {LIST_CLUSTERS}
    assert scan["Action"] == sorted(scan["Action"])
    assert _actions(statements["EcsdoctorListClusters"]) == {LIST_CLUSTERS}


def test_sink_permissions_are_scoped_and_conditional(template: dict[str, Any]) -> None:
    statements = _statements(template)
    sinks = {sid: s for sid, s in statements.items() if not sid.startswith("Ecsdoctor")}
    granted = set().union(*(_actions(s) for s in sinks.values()))
    assert granted == SINK_ACTIONS
    for sid, statement in sinks.items():
        assert "*" not in "".join(_actions(statement)), sid
        if statement["Resource"] == "*":
            assert sid == "PutMetrics"  # PutMetricData has no resource: the namespace is it
            assert statement["Condition"] == {
                "StringEquals": {"cloudwatch:namespace": {"Ref": "MetricsNamespace"}}}
    conditions = {sid: s.get("_condition") for sid, s in sinks.items()}
    assert conditions == {"WriteLogs": None, "WriteReports": "HasBucket", "Notify": "HasTopic",
                          "ImportFindings": "UseSecurityHub",
                          "ResolveFindings": "UseSecurityHub", "PutMetrics": "HasMetrics"}


def test_a_created_bucket_is_private_and_encrypted(template: dict[str, Any]) -> None:
    bucket = _resource(template, "ReportsBucket", "AWS::S3::Bucket")
    assert bucket["Condition"] == "CreateBucket"
    block = bucket["Properties"]["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    assert bucket["Properties"]["BucketEncryption"]
    policy = _resource(template, "ReportsBucketPolicy", "AWS::S3::BucketPolicy")
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_cfn_lint_accepts_the_template() -> None:
    cfnlint_api = pytest.importorskip("cfnlint.api")
    matches = cfnlint_api.lint(TEMPLATE.read_text(encoding="utf-8"),
                               regions=["us-east-1", "eu-west-1"])
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


# -- history: deploy/history.yaml, and the same resources in the audit template ------------

HISTORY = DEPLOY / "history.yaml"
HISTORY_RESOURCES = ("EcsEventsLogGroup", "EcsEventsLogPolicy", "EcsEventsRule")
#: history.yaml parameter → the audit template's, for comparing the two.
HISTORY_PARAMETERS = {"LogGroupName": "HistoryLogGroupName",
                      "RetentionInDays": "HistoryRetentionDays"}


@pytest.fixture(scope="module")
def history() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.load(HISTORY.read_text(encoding="utf-8"), Loader=CfnLoader)
    return doc


def test_history_rule_sends_stopped_tasks_and_the_other_ecs_events(
        history: dict[str, Any]) -> None:
    rule = _resource(history, "EcsEventsRule", "AWS::Events::Rule")["Properties"]
    assert rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {"source": ["aws.ecs"], "$or": [
        {"detail-type": ["ECS Task State Change"], "detail": {"lastStatus": ["STOPPED"]}},
        {"detail-type": ["ECS Deployment State Change", "ECS Service Action",
                         "ECS Container Instance State Change"]}]}
    (target,) = rule["Targets"]
    arn = target["Arn"]["Fn::Sub"]
    assert arn.endswith(":log-group:${EcsEventsLogGroup}") and arn.startswith("arn:${AWS::")
    # delivery waits for the policy that lets EventBridge write
    assert history["Resources"]["EcsEventsRule"]["DependsOn"] == "EcsEventsLogPolicy"


def test_history_group_defaults_to_the_scan_default_kept_30_days(
        history: dict[str, Any]) -> None:
    from checker.collect.aws import HISTORY_LOG_GROUP

    params = history["Parameters"]
    assert params["LogGroupName"]["Default"] == HISTORY_LOG_GROUP == "/ecsdoctor/ecs-events"
    assert params["RetentionInDays"]["Default"] == 30
    group = _resource(history, "EcsEventsLogGroup", "AWS::Logs::LogGroup")["Properties"]
    assert group == {"LogGroupName": {"Ref": "LogGroupName"},
                     "RetentionInDays": {"Ref": "RetentionInDays"}}
    assert "--stack-name ecsdoctor-history" in history["Description"]


def test_history_resource_policy_lets_eventbridge_write_to_the_group_only(
        history: dict[str, Any]) -> None:
    props = _resource(history, "EcsEventsLogPolicy", "AWS::Logs::ResourcePolicy")["Properties"]
    text, values = props["PolicyDocument"]["Fn::Sub"]
    assert values == {"GroupArn": {"Fn::GetAtt": ["EcsEventsLogGroup", "Arn"]}}
    (statement,) = json.loads(text)["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": ["events.amazonaws.com",
                                                  "delivery.logs.amazonaws.com"]}
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == "${GroupArn}"


def _renamed(value: Any) -> Any:
    """history.yaml's resources with the audit template's parameter names."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in HISTORY_PARAMETERS:
            return {"Ref": HISTORY_PARAMETERS[value["Ref"]]}
        return {k: _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value


def test_the_audit_template_keeps_the_same_history_and_reads_it(
        template: dict[str, Any], history: dict[str, Any]) -> None:
    for name in HISTORY_RESOURCES:
        ours = dict(template["Resources"][name])
        assert ours.pop("Condition") == "CreateHistory"
        assert ours == _renamed(history["Resources"][name]), name
    params = template["Parameters"]
    assert params["History"]["Default"] == "create"
    for mine, theirs in HISTORY_PARAMETERS.items():
        assert params[theirs]["Default"] == history["Parameters"][mine]["Default"]
    env = template["Resources"]["AuditFunction"]["Properties"]["Environment"]["Variables"]
    assert env["ECSDOCTOR_HISTORY_LOG_GROUP"] == {
        "Fn::If": ["HasHistory", {"Ref": "HistoryLogGroupName"}, ""]}
    scan = _actions(_statements(template)["EcsdoctorReadOnly"])
    assert {"logs:FilterLogEvents", "cloudtrail:LookupEvents"} <= scan


def test_cfn_lint_accepts_the_history_template() -> None:
    cfnlint_api = pytest.importorskip("cfnlint.api")
    matches = cfnlint_api.lint(HISTORY.read_text(encoding="utf-8"),
                               regions=["us-east-1", "eu-west-1"])
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []
