"""The fleet audit's Lambda handlers on moto, driven as the state machine drives them: the
targets of three accounts in two Regions, one target handler call per Map item (one
account's role refused, one item failed as the Map's Catch reports a crashed Lambda), then
the aggregation: one fleet report in the bucket and one SNS summary."""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from checker.collect import Scope
from checker.errors import InputError
from checker.fleet.lambdas import aggregate_handler, target_handler, targets_handler
from tests.fleet.accounts import ROLE, build, member_session

A, B, C = "111111111111", "222222222222", "333333333333"
REGIONS = ["us-east-1", "eu-west-1"]
BUCKET = "ecsdoctor-fleet-reports"


def _refuse_role_of(account: str) -> Any:
    """AWS's answer when the member role does not trust the caller (moto trusts anyone)."""
    def handler(params: dict[str, Any], **_: Any) -> None:
        if f"::{account}:" in str(params.get("RoleArn")):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": (
                f"not authorized to perform: sts:AssumeRole on {params['RoleArn']}")}},
                "AssumeRole")
    return handler


@pytest.fixture
def audit(aws: None) -> tuple[Any, dict[str, str], str]:
    """The audit account's session (with B's role refused), the functions' environment,
    and a queue subscribed to the summary topic."""
    for account in (A, B, C):
        for region in REGIONS:
            build(member_session(account, region), secret=account == C)
    base = boto3.session.Session(region_name="us-east-1")
    base.client("s3").create_bucket(Bucket=BUCKET)
    topic = base.client("sns").create_topic(Name="ecsdoctor-fleet")["TopicArn"]
    sqs = base.client("sqs")
    queue = sqs.create_queue(QueueName="summaries")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    base.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                                 Attributes={"RawMessageDelivery": "true"})
    base.events.register("before-parameter-build.sts.AssumeRole", _refuse_role_of(B))
    env = {"ECSDOCTOR_FLEET_ROLE_ARN": ROLE, "ECSDOCTOR_S3_BUCKET": BUCKET,
           "ECSDOCTOR_S3_PREFIX": "audits", "ECSDOCTOR_SNS_TOPIC_ARN": topic,
           "ECSDOCTOR_FLEET_MAX_CONCURRENCY": "5"}
    return base, env, queue


def test_targets_map_aggregate(audit: tuple[Any, dict[str, str], str]) -> None:
    base, env, queue = audit
    listed = targets_handler({"accounts": [A, B, C], "regions": REGIONS}, None,
                             session=base, env=env)
    assert listed["max_concurrency"] == 5
    assert [(t["account"], t["region"]) for t in listed["targets"]] == [
        (a, r) for a in (A, B, C) for r in REGIONS]
    results = []
    for item in listed["targets"]:
        if (item["account"], item["region"]) == (C, "eu-west-1"):
            # what the Map's Catch → TargetFailed Pass state hands on for a crashed Lambda
            results.append({"account": C, "region": "eu-west-1", "status": "failed", "error": {
                "collection": "target", "operation": "lambda:InvokeFunction",
                "code": "States.Timeout", "message": "Task timed out after 900.00 seconds",
                "account": C, "region": "eu-west-1"}})
            continue
        results.append(target_handler({"run": listed["run"], **item}, None,
                                      session=base, env=env))
    assert [r["status"] for r in results] == [
        "scanned", "scanned", "failed", "failed", "scanned", "failed"]
    assert results[2]["error"]["operation"] == "sts:AssumeRole"
    s3 = base.client("s3")
    bundle = json.loads(gzip.decompress(s3.get_object(
        Bucket=BUCKET, Key=results[0]["bundle_key"])["Body"].read()))
    assert (bundle["account"], bundle["region"]) == (A, "us-east-1")

    out = aggregate_handler({"run": listed["run"], "results": results}, None,
                            session=base, env=env)
    assert (out["scanned"], out["failed"], out["no-clusters"]) == (3, 3, 0)
    assert out["report_key"] == f"audits/fleet/{listed['run']}/fleet-report.json"
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=out["report_key"])["Body"].read())
    assert {(d["account"], d["region"]) for d in report["diagnoses"]} == {
        (A, "us-east-1"), (A, "eu-west-1"), (C, "us-east-1")}
    assert report["diagnoses"][0]["id"] == "plaintext-secrets"
    assert report["diagnoses"][0]["account"] == C
    failed = sorted((e["account"], e["region"], e["code"]) for e in report["errors"]
                    if e["collection"] == "target")
    assert failed == [(B, "eu-west-1", "AccessDenied"), (B, "us-east-1", "AccessDenied"),
                      (C, "eu-west-1", "States.Timeout")]
    summary = s3.get_object(Bucket=BUCKET, Key=out["summary_key"])["Body"].read().decode()
    assert summary.startswith("#") and "plaintext-secrets" in summary.lower()

    messages = base.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    [message] = messages["Messages"]
    body = message["Body"]
    assert "3 target(s) scanned" in body and "3 failed" in body
    top = report["diagnoses"][0]["severity"].upper()
    assert f"1. [{top}] {C}/us-east-1" in body, body
    assert f"- {B}/us-east-1: AccessDenied" in body
    assert f"s3://{BUCKET}/{out['report_key']}" in body


def test_a_target_without_clusters_stores_nothing(aws: None) -> None:
    base = boto3.session.Session(region_name="us-east-1")
    base.client("s3").create_bucket(Bucket=BUCKET)
    env = {"ECSDOCTOR_FLEET_ROLE_ARN": ROLE, "ECSDOCTOR_S3_BUCKET": BUCKET}
    result = target_handler({"run": "r1", "account": A, "region": "eu-west-1"}, None,
                            session=base, env=env)
    assert result == {"account": A, "region": "eu-west-1", "status": "no-clusters"}
    assert base.client("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


@pytest.mark.parametrize(("event", "says"), [
    ({"regions": REGIONS}, '"accounts": [...] or "organization": true'),
    ({"accounts": ["1234"]}, "not a 12-digit account id"),
    ({"accounts": [A], "regions": 5}, "expected a list of strings"),
])
def test_bad_execution_input_fails_the_first_step(aws: None, event: dict[str, Any],
                                                  says: str) -> None:
    base = boto3.session.Session(region_name="us-east-1")
    with pytest.raises(InputError, match=says.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        targets_handler(event, None, session=base, env={"ECSDOCTOR_FLEET_ROLE_ARN": ROLE})


def test_the_fleet_role_must_say_where_the_account_goes(aws: None) -> None:
    base = boto3.session.Session(region_name="us-east-1")
    with pytest.raises(InputError, match="need --role-arn"):
        target_handler({"run": "r", "account": A, "region": "us-east-1"}, None,
                       session=base, env={"ECSDOCTOR_S3_BUCKET": BUCKET})


def test_the_history_group_of_the_members_is_read_when_named() -> None:
    from checker.collect.aws import DEFAULT_HISTORY
    from checker.fleet.lambdas import target_scope

    assert target_scope({"ECSDOCTOR_CLUSTERS": "prod, batch"}) == Scope(
        clusters=("prod", "batch"))
    named = target_scope({"ECSDOCTOR_HISTORY_LOG_GROUP": "/ecsdoctor/ecs-events"})
    assert (named.clusters, named.history, named.history_log_group) == (
        (), DEFAULT_HISTORY, "/ecsdoctor/ecs-events")
