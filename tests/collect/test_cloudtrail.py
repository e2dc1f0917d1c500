"""The CloudTrail collector (checker/collect/cloudtrail.py, cloudtrail_scope.py).

moto has no LookupEvents (NotImplementedError): checker.demo.moto_history adds one to moto's
CloudTrail that answers from seeded events (time range, one lookup attribute, newest first,
MaxResults 50, NextToken), so these tests run the real boto3 client end to end. Stubber, with
an injected clock, for what the emulation does not model: the budget of calls and the
pacing under the 2-requests-a-second quota.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from checker.bundle import validate
from checker.collect import Scope, cloudtrail, collect
from checker.collect.aws import DEFAULT_HISTORY
from checker.collect.cloudtrail_scope import scope_ids, touches
from checker.demo import moto_history
from checker.demo.moto_history import cloudtrail_record, put_cloudtrail_event
from tests.collect.support import ACCOUNT, REGION, Calls, serial_context

HISTORY = Scope(clusters=("prod",), history=DEFAULT_HISTORY)
SECRET = "AKIAABCDEFGHIJKLMNOP"
ECS, EC2, AAS = "ecs.amazonaws.com", "ec2.amazonaws.com", "application-autoscaling.amazonaws.com"


@pytest.fixture
def trail(aws: None) -> Iterator[None]:
    moto_history.patch_lookup_events()
    try:
        yield
    finally:
        moto_history.unpatch_lookup_events()
        moto_history.reset_history()


def put(name: str, source: str, request: Any, hours: float, **kw: Any) -> str:
    """Seed one event ``hours`` ago; returns its id."""
    raw = kw.pop("raw", None)
    resources = kw.pop("resources", ())
    region = kw.pop("region", REGION)
    when = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    record = cloudtrail_record(name, source, request, when=when, region=region, **kw)
    put_cloudtrail_event(record, raw=raw, resources=resources, region=region)
    return str(record["eventID"])


def test_write_events_on_scanned_resources_are_kept_the_rest_dropped(
    trail: None, net: dict[str, Any], session: boto3.session.Session, calls: Calls,
) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    acl = ec2.describe_network_acls(NetworkAclIds=[net["custom_acl"]])["NetworkAcls"][0]
    acl_association = acl["Associations"][0]["NetworkAclAssociationId"]
    kept = {
        put("UpdateService", ECS, {"cluster": "prod", "service": "api", "desiredCount": 0}, 9),
        put("RevokeSecurityGroupIngress", EC2, {"groupId": net["tasks"], "ipPermissions": {}},
            8, actor="assumed-role/terraform-ci/ci-run"),
        put("DeleteRoute", EC2, {"routeTableId": net["private_rt"],
                                 "destinationCidrBlock": "0.0.0.0/0"}, 7),
        put("DeleteNatGateway", EC2, {"DeleteNatGatewayRequest": {"NatGatewayId": net["nat"]}},
            6),
        put("ModifyVpcAttribute", EC2, {"vpcId": net["vpc"],
                                        "enableDnsSupport": {"value": False}}, 5),
        put("ReplaceNetworkAclAssociation", EC2, {"associationId": acl_association,
                                                  "networkAclId": "acl-0new"}, 4),
        put("PutScalingPolicy", AAS, {"resourceId": "service/prod/api",
                                      "serviceNamespace": "ecs"}, 3),
    }
    secret = put("RegisterTaskDefinition", ECS, {"family": "api", "containerDefinitions": [
        {"name": "api", "environment": [{"name": "AWS_ACCESS_KEY_ID", "value": SECRET}]}]}, 2)
    dropped = {
        put("UpdateService", ECS, {"cluster": "other", "service": "api"}, 9),
        put("CreateTags", EC2, {"resourcesSet": {"items": [{"resourceId": net["tasks"]}]}}, 8),
        put("TagResource", ECS, {"resourceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/"
                                                "prod/api"}, 8),
        put("CreateNetworkInterface", EC2, {"subnetId": net["a"], "groupSet": {
            "items": [{"groupId": net["tasks"]}]}}, 7, actor="assumed-role/ecs-slr/ecs",
            invoked_by=ECS),
        put("RevokeSecurityGroupIngress", EC2, {"groupId": net["unused"]}, 6),
        put("DescribeServices", ECS, {"cluster": "prod", "services": ["api"]}, 5,
            read_only=True),
        put("UpdateService", ECS, {"cluster": "prod", "service": "api"}, 30),  # > 24 h ago
    }
    put("DeleteRoute", EC2, {"routeTableId": net["private_rt"]}, 1, raw="{not json")

    bundle = validate(collect(session, HISTORY))
    events = bundle["resources"]["cloudtrail_events"]
    ids = [e["EventId"] for e in events]
    assert set(ids) == kept | {secret} and not set(ids) & dropped
    assert [e["EventName"] for e in events][:2] == ["UpdateService",
                                                    "RevokeSecurityGroupIngress"]  # in time
    # CloudTrailEvent: the string AWS returned, unless redaction had to change it
    original = {i["EventId"]: i["CloudTrailEvent"] for i in moto_history.CLOUDTRAIL_EVENTS[
        (ACCOUNT, REGION)]}
    for event in events:
        record = json.loads(event["CloudTrailEvent"])
        if event["EventId"] == secret:
            assert SECRET not in event["CloudTrailEvent"]
            env = record["requestParameters"]["containerDefinitions"][0]["environment"]
            assert env[0]["name"] == "AWS_ACCESS_KEY_ID" and env[0]["value"] != SECRET
        else:
            assert event["CloudTrailEvent"] == original[event["EventId"]]
    revoke = next(e for e in events if e["EventName"] == "RevokeSecurityGroupIngress")
    assert revoke["Username"] == "ci-run"  # LookupEvents' Username: the session name only
    assert isinstance(revoke["EventTime"], str)  # ISO, as every bundle time
    [skipped] = [e for e in bundle["errors"] if e["collection"] == "cloudtrail_events"]
    assert (skipped["code"], skipped["level"], skipped["count"]) == ("SkippedEvents",
                                                                     "warning", 1)
    sent = [p for a, p in calls.params if a == "cloudtrail:LookupEvents"]
    assert len(sent) == 1 and sent[0]["LookupAttributes"] == [
        {"AttributeKey": "ReadOnly", "AttributeValue": "false"}]
    assert sent[0]["MaxResults"] == 50
    assert sent[0]["EndTime"] - sent[0]["StartTime"] == DEFAULT_HISTORY


def test_iam_role_changes_are_read_where_iam_records_them(
    trail: None, calls: Calls,
) -> None:
    """A scan of eu-west-1: the Region's write events there, the tasks' roles in us-east-1
    (IAM's events are recorded there only), one ResourceName lookup per role."""
    ecs = boto3.client("ecs", region_name="eu-west-1")
    ecs.create_cluster(clusterName="prod")
    role = f"arn:aws:iam::{ACCOUNT}:role"
    ecs.register_task_definition(family="web", taskRoleArn=f"{role}/web-task",
                                 executionRoleArn=f"{role}/ecs/web-exec",
                                 containerDefinitions=[{"name": "web", "image": "n",
                                                        "memory": 64}])
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1)
    iam = "iam.amazonaws.com"
    kept = {
        put("UpdateService", ECS, {"cluster": "prod", "service": "web"}, 2, region="eu-west-1"),
        put("DetachRolePolicy", iam, {"roleName": "web-task", "policyArn": "arn:p"}, 3,
            resources=[("AWS::IAM::Role", "web-task")]),
    }
    dropped = {
        put("TagRole", iam, {"roleName": "web-task"}, 3,
            resources=[("AWS::IAM::Role", "web-task")]),
        put("GetRole", iam, {"roleName": "web-task"}, 3, read_only=True,
            resources=[("AWS::IAM::Role", "web-task")]),
        put("DetachRolePolicy", iam, {"roleName": "other"}, 3,
            resources=[("AWS::IAM::Role", "other")]),
    }
    session = boto3.session.Session(region_name="eu-west-1")
    calls = Calls(session)
    bundle = collect(session, HISTORY)
    ids = {e["EventId"] for e in bundle["resources"]["cloudtrail_events"]}
    assert ids == kept and not ids & dropped
    sent = sorted(p["LookupAttributes"][0]["AttributeValue"]
                  for a, p in calls.params if a == "cloudtrail:LookupEvents")
    assert sent == ["false", "web-exec", "web-task"]


def test_a_denied_role_lookup_is_a_warning_the_regions_events_stay(trail: None) -> None:
    ecs = boto3.client("ecs", region_name="eu-west-1")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(family="web", taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                                 containerDefinitions=[{"name": "web", "image": "n",
                                                        "memory": 64}])
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1)
    put("UpdateCluster", ECS, {"cluster": "prod"}, 1, region="eu-west-1")
    session = boto3.session.Session(region_name="eu-west-1")

    def deny_us_east_1(params: dict[str, Any], **_: Any) -> None:
        if params["LookupAttributes"][0]["AttributeKey"] == "ResourceName":
            raise ClientError({"Error": {"Code": "AccessDeniedException",
                                         "Message": "explicit deny in an SCP"}}, "LookupEvents")
    session.events.register("before-parameter-build.cloudtrail.LookupEvents", deny_us_east_1)
    bundle = collect(session, HISTORY)
    assert [e["EventName"] for e in bundle["resources"]["cloudtrail_events"]] == [
        "UpdateCluster"]
    [warning] = [e for e in bundle["errors"] if e["collection"] == "cloudtrail_events"]
    assert (warning["code"], warning["level"]) == ("RoleEventsNotRead", "warning")
    assert "AccessDeniedException" in warning["message"] and "us-east-1" in warning["message"]


def test_denied_lookups_leave_the_collection_absent_and_the_scan_goes_on(
    trail: None, net: dict[str, Any], session: boto3.session.Session,
) -> None:
    from tests.collect.support import denied

    session.events.register("before-call.cloudtrail.LookupEvents",
                            denied("cloudtrail:LookupEvents"))
    bundle = collect(session, HISTORY)
    assert "cloudtrail_events" not in bundle["resources"]
    [error] = [e for e in bundle["errors"] if e["collection"] == "cloudtrail_events"]
    assert (error["operation"], error["code"]) == ("cloudtrail:LookupEvents",
                                                   "AccessDeniedException")
    assert "level" not in error and bundle["resources"]["security_groups"]


# -- budget and pacing (Stubber, fake clock) ----------------------------------------------

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


class FakeClock:
    """monotonic() and sleep() for the token bucket: sleeping moves time, instantly."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _events(n: int, start: int) -> list[dict[str, Any]]:
    """``n`` write events, newest first, that touch nothing scanned."""
    return [{"EventId": f"e{start + i}", "EventName": "RunInstances",
             "EventTime": NOW - dt.timedelta(minutes=start + i),
             "CloudTrailEvent": json.dumps({"eventSource": EC2, "eventName": "RunInstances",
                                            "readOnly": False})} for i in range(n)]


def test_calls_are_paced_at_two_a_second_and_stop_at_the_budget() -> None:
    client = boto3.session.Session(region_name=REGION).client("cloudtrail")
    clock = FakeClock()
    made: list[float] = []
    client.meta.events.register("before-parameter-build.cloudtrail.LookupEvents",
                                lambda **_: made.append(clock.now))
    budget = cloudtrail.WRITE_BUDGET
    with Stubber(client) as stub, serial_context({"cloudtrail": client}) as ctx:
        ctx.scope = HISTORY
        for page in range(budget):
            expected = {"LookupAttributes": [{"AttributeKey": "ReadOnly",
                                              "AttributeValue": "false"}],
                        "StartTime": NOW - DEFAULT_HISTORY, "EndTime": NOW, "MaxResults": 50}
            if page:
                expected["NextToken"] = f"t{page}"
            stub.add_response("lookup_events", {"Events": _events(50, 50 * page),
                                                "NextToken": f"t{page + 1}"}, expected)
        cloudtrail.read_trail(ctx, NOW, clock=cloudtrail.Clock(clock.monotonic, clock.sleep))
        stub.assert_no_pending_responses()
    assert len(made) == budget == 30 and cloudtrail.MAX_CALLS == 40
    gaps = [b - a for a, b in itertools.pairwise(made)]
    assert min(gaps) >= 0.5 - 1e-9  # never faster than 2 a second
    assert sum(clock.slept) == pytest.approx((budget - 1) * 0.5)
    assert ctx.resources["cloudtrail_events"] == []
    [warning] = ctx.recorder.errors()
    assert (warning["code"], warning["level"]) == ("Truncated", "warning")
    oldest = (NOW - dt.timedelta(minutes=50 * budget - 1)).isoformat()
    assert f"complete since {oldest}" in warning["message"]


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = cloudtrail.TokenBucket(rate=2.0, capacity=1.0,
                                    clock=cloudtrail.Clock(clock.monotonic, clock.sleep))
    assert bucket.take() == 0.0  # the first call goes at once
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 10  # idle: the bucket refills to its capacity, no more
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)


# -- what "touches a scanned resource" means (table) ----------------------------------------

IDS = scope_ids({
    "clusters": [{"clusterName": "prod"}],
    "services": [{"clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod",
                  "serviceName": "web", "taskDefinition": "arn:x:task-definition/web:7"}],
    "task_definitions": [{"taskDefinitionArn": "arn:x:task-definition/web:7",
                          "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/app/web-task"}],
    "load_balancers": [{"LoadBalancerArn": "arn:aws:elasticloadbalancing:r:a:loadbalancer/"
                                           "app/web/1a2b"}],
    "target_groups": [{"TargetGroupArn": "arn:tg/web"}],
    "subnets": [{"SubnetId": "subnet-1"}],
    "auto_scaling_groups": [{"AutoScalingGroupName": "prod-asg"}],
})
ELB = "elasticloadbalancing.amazonaws.com"
LISTENER = "arn:aws:elasticloadbalancing:r:a:listener/app/web/1a2b/9f"


@pytest.mark.parametrize(("source", "name", "request_parameters", "extra", "kinds"), [
    (ECS, "UpdateService", {"service": "web"}, {}, []),  # the default cluster
    (ECS, "UpdateService", {"cluster": "prod", "service": "web"}, {}, ["service"]),
    (ECS, "UpdateService", {"service": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web"},
     {}, ["service"]),
    (ECS, "CreateService", {"cluster": "arn:aws:ecs:r:a:cluster/prod", "serviceName": "web"},
     {}, ["service"]),
    (ECS, "RegisterTaskDefinition", {"family": "web"}, {}, ["task-definition"]),
    (ECS, "DeregisterTaskDefinition", {"taskDefinition": "web:6"}, {}, ["task-definition"]),
    (ECS, "RunTask", {"cluster": "prod", "taskDefinition": "web:7"}, {}, []),
    (ECS, "SubmitTaskStateChange", {"cluster": "prod", "task": "t"}, {}, []),
    (ECS, "UpdateClusterSettings", {"cluster": "prod"}, {}, ["cluster"]),
    (ELB, "ModifyListener", {"listenerArn": LISTENER}, {}, ["load-balancer"]),
    (ELB, "ModifyTargetGroup", {"targetGroupArn": "arn:tg/web"}, {}, ["target-group"]),
    (ELB, "DeregisterTargets", {"targetGroupArn": "arn:tg/web"},
     {"userIdentity": {"invokedBy": ECS}}, []),
    (ELB, "DeregisterTargets", {"targetGroupArn": "arn:tg/web"}, {}, ["target-group"]),
    (ELB, "AddTags", {"resourceArns": ["arn:tg/web"]}, {}, []),
    (EC2, "ModifySubnetAttribute", {"subnetId": "subnet-1"}, {}, ["subnet"]),
    (EC2, "CreateNetworkInterface", {"subnetId": "subnet-1"}, {}, []),
    ("autoscaling.amazonaws.com", "UpdateAutoScalingGroup",
     {"autoScalingGroupName": "prod-asg", "maxSize": 2}, {}, ["auto-scaling-group"]),
    ("autoscaling.amazonaws.com", "SetInstanceProtection",
     {"autoScalingGroupName": "prod-asg"}, {"sourceIPAddress": ECS}, []),
    (AAS, "RegisterScalableTarget", {"resourceId": "service/prod/web"}, {},
     ["scalable-target"]),
    ("iam.amazonaws.com", "PutRolePolicy", {"roleName": "web-task"}, {}, ["iam-role"]),
    ("iam.amazonaws.com", "UntagRole", {"roleName": "web-task"}, {}, []),
    ("iam.amazonaws.com", "PutRolePolicy", {"roleName": "web-task"}, {"readOnly": True}, []),
])
def test_touches(source: str, name: str, request_parameters: dict[str, Any],
                 extra: dict[str, Any], kinds: list[str]) -> None:
    event = {"eventSource": source, "eventName": name, "readOnly": False,
             "requestParameters": request_parameters, **extra}
    assert touches(event, IDS) == kinds
