"""The Auto Scaling collector: scope and calls against moto (the account of test_ec2.py),
batch cuts and nextToken loops with Stubber (moto ignores both, MOTO.md finding 3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from checker.bundle import validate
from checker.collect import Context, autoscaling, collect
from tests.collect.support import ACCOUNT, PROD, REGION, Calls, denied, serial_context

ASG_ARN = (f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:"
           "0d5c6a3e-1111-2222-3333-444455556666:autoScalingGroupName/{}")


def test_groups_targets_and_policies_of_the_scope_only(net: dict[str, Any],
                                                       session: boto3.session.Session) -> None:
    bundle = collect(session, PROD)
    assert validate(bundle) is bundle and bundle["errors"] == []
    res = bundle["resources"]
    assert [g["AutoScalingGroupARN"] for g in res["auto_scaling_groups"]] == [net["asg"]]
    assert res["auto_scaling_groups"][0]["AutoScalingGroupName"] == "prod-asg"  # not other-asg
    assert [(t["ResourceId"], t["ScalableDimension"]) for t in res["scalable_targets"]] == [
        ("service/prod/api", "ecs:service:DesiredCount")]  # not service/other/api
    assert [p["PolicyARN"] for p in res["scaling_policies"]] == [net["policy"]]
    policy = res["scaling_policies"][0]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert isinstance(policy["CreationTime"], str)  # datetimes are ISO strings


def test_calls_name_exactly_the_scope(net: dict[str, Any],
                                      session: boto3.session.Session) -> None:
    calls = Calls(session)
    collect(session, PROD)
    params = {a: p for a, p in calls.params if a.startswith(("autoscaling:", "application-"))}
    assert params == {
        "autoscaling:DescribeAutoScalingGroups": {"AutoScalingGroupNames": ["prod-asg"],
                                                  "MaxRecords": 100},
        "application-autoscaling:DescribeScalableTargets": {
            "ServiceNamespace": "ecs", "ResourceIds": ["service/prod/api"], "MaxResults": 50},
        "application-autoscaling:DescribeScalingPolicies": {
            "ServiceNamespace": "ecs", "ResourceId": "service/prod/api", "MaxResults": 10},
    }


def test_denied_targets_still_ask_each_service_for_policies(
    net: dict[str, Any], session: boto3.session.Session
) -> None:
    session.events.register("before-call.application-auto-scaling.DescribeScalableTargets",
                            denied("DescribeScalableTargets"))
    calls = Calls(session)
    bundle = collect(session, PROD)
    validate(bundle)
    assert bundle["errors"] == [{
        "collection": "scalable_targets",
        "operation": "application-autoscaling:DescribeScalableTargets",
        "code": "AccessDeniedException", "message": "not authorized: DescribeScalableTargets"}]
    res = bundle["resources"]
    assert res["scalable_targets"] == []
    assert [p["PolicyARN"] for p in res["scaling_policies"]] == [net["policy"]]
    assert res["auto_scaling_groups"] and res["ec2_instances"]  # the rest goes on
    assert calls.count()["application-autoscaling:DescribeScalingPolicies"] == 1  # 1 service


def test_groups_absent_when_capacity_providers_were_not_collected(
    net: dict[str, Any], session: boto3.session.Session
) -> None:
    session.events.register("before-call.ecs.DescribeClusters", denied("DescribeClusters"))
    calls = Calls(session)
    res = collect(session, PROD)["resources"]
    assert "capacity_providers" not in res and "auto_scaling_groups" not in res  # unknown
    assert "autoscaling:DescribeAutoScalingGroups" not in calls.count()
    assert res["scalable_targets"]  # services are still known


def test_names_from_provider_arns() -> None:
    providers: list[dict[str, Any]] = [
        {"autoScalingGroupProvider": {"autoScalingGroupArn": ASG_ARN.format("b")}},
        {"autoScalingGroupProvider": {"autoScalingGroupArn": ASG_ARN.format("a/with-slash")}},
        {"autoScalingGroupProvider": {"autoScalingGroupArn": ASG_ARN.format("b")}},
        {"autoScalingGroupProvider": {"autoScalingGroupArn": "not-an-arn"}}, {"name": "x"},
    ]
    assert autoscaling.group_names(providers) == ["a/with-slash", "b"]


def test_resource_ids_of_services() -> None:
    services: list[dict[str, Any]] = [
        {"clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod", "serviceName": "web"},
        {"clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod", "serviceName": "api"},
        {"serviceName": "orphan"},
    ]
    assert autoscaling.service_resource_ids(services) == ["service/prod/api", "service/prod/web"]


# --- batch cuts and pages, on stubbed clients --------------------------------------------


@pytest.fixture
def stubs() -> Iterator[dict[str, Stubber]]:
    session = boto3.session.Session(region_name=REGION)
    stubbers = {name: Stubber(session.client(name))
                for name in ("autoscaling", "application-autoscaling")}
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


@pytest.fixture
def ctx(stubs: dict[str, Stubber]) -> Iterator[Context]:
    with serial_context({name: s.client for name, s in stubs.items()},
                        account=ACCOUNT) as context:
        yield context


def _group(name: str) -> dict[str, Any]:
    return {"AutoScalingGroupName": name, "AutoScalingGroupARN": ASG_ARN.format(name),
            "MinSize": 0, "MaxSize": 2, "DesiredCapacity": 1, "DefaultCooldown": 300,
            "AvailabilityZones": [f"{REGION}a"], "HealthCheckType": "EC2",
            "CreatedTime": "2026-11-20T10:00:00Z"}


def test_groups_are_described_100_names_at_a_time_and_paged(stubs: dict[str, Stubber],
                                                            ctx: Context) -> None:
    names = sorted(f"asg-{n:03}" for n in range(130))
    stub = stubs["autoscaling"]
    first = {"AutoScalingGroupNames": names[:100], "MaxRecords": 100}
    stub.add_response("describe_auto_scaling_groups", {
        "AutoScalingGroups": [_group(n) for n in names[:60]], "NextToken": "g2"}, first)
    stub.add_response("describe_auto_scaling_groups", {
        "AutoScalingGroups": [_group(n) for n in names[60:100]]}, {**first, "NextToken": "g2"})
    stub.add_response("describe_auto_scaling_groups", {
        "AutoScalingGroups": [_group(n) for n in names[100:]]},
        {"AutoScalingGroupNames": names[100:], "MaxRecords": 100})
    found = ctx.gather(autoscaling.group_jobs(ctx, names))
    assert [g["AutoScalingGroupName"] for g in found["auto_scaling_groups"]] == names


def _target(resource_id: str) -> dict[str, Any]:
    return {"ServiceNamespace": "ecs", "ResourceId": resource_id,
            "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": 1,
            "MaxCapacity": 4, "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/x",
            "CreationTime": "2026-11-20T10:00:00Z"}


def test_targets_are_asked_50_services_at_a_time_and_paged(stubs: dict[str, Stubber],
                                                          ctx: Context) -> None:
    ids = [f"service/prod/svc-{n:03}" for n in range(120)]
    stub = stubs["application-autoscaling"]
    for start in (0, 50, 100):
        batch = ids[start:start + 50]
        params = {"ServiceNamespace": "ecs", "ResourceIds": batch, "MaxResults": 50}
        if start == 0:
            stub.add_response("describe_scalable_targets", {
                "ScalableTargets": [_target(i) for i in batch[:30]], "NextToken": "t2"}, params)
            params = {**params, "NextToken": "t2"}
            batch = batch[30:]
        stub.add_response("describe_scalable_targets",
                          {"ScalableTargets": [_target(i) for i in batch]}, params)
    found = ctx.gather(autoscaling.target_jobs(ctx, ids))
    assert [t["ResourceId"] for t in found["scalable_targets"]] == ids


def _policy(n: int) -> dict[str, Any]:
    return {"PolicyARN": f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:{n}",
            "PolicyName": f"p{n}", "ServiceNamespace": "ecs",
            "ResourceId": "service/prod/web", "ScalableDimension": "ecs:service:DesiredCount",
            "PolicyType": "StepScaling", "CreationTime": "2026-11-20T10:00:00Z"}


def test_policies_follow_next_token_10_at_a_time(stubs: dict[str, Stubber],
                                                 ctx: Context) -> None:
    stub = stubs["application-autoscaling"]
    params = {"ServiceNamespace": "ecs", "ResourceId": "service/prod/web", "MaxResults": 10}
    stub.add_response("describe_scaling_policies",
                      {"ScalingPolicies": [_policy(n) for n in range(10)], "NextToken": "p2"},
                      params)
    stub.add_response("describe_scaling_policies",
                      {"ScalingPolicies": [_policy(n) for n in range(10, 13)]},
                      {**params, "NextToken": "p2"})
    policies = autoscaling.describe_policies(ctx, "service/prod/web")
    assert [p["PolicyName"] for p in policies] == [f"p{n}" for n in range(13)]


def test_a_throttled_policy_page_is_recorded_and_earlier_pages_kept(
    stubs: dict[str, Stubber], ctx: Context
) -> None:
    stub = stubs["application-autoscaling"]
    stub.add_response("describe_scaling_policies",
                      {"ScalingPolicies": [_policy(0)], "NextToken": "p2"})
    stub.add_client_error("describe_scaling_policies", service_error_code="ThrottlingException",
                          service_message="Rate exceeded", http_status_code=400)
    assert len(autoscaling.describe_policies(ctx, "service/prod/web")) == 1
    assert ctx.recorder.errors() == [{
        "collection": "scaling_policies",
        "operation": "application-autoscaling:DescribeScalingPolicies",
        "code": "ThrottlingException", "message": "Rate exceeded"}]


def test_targets_and_policies_outside_the_scope_are_dropped() -> None:
    items = [{"ResourceId": "service/prod/api"}, {"ResourceId": "service/other/api"}]
    assert autoscaling.in_scope(items, ["service/prod/api"]) == items[:1]


# --- scaling policies: the whole namespace when that is fewer calls ---------------------------


def _policy_of(n: int, resource_id: str) -> dict[str, Any]:
    return {**_policy(n), "ResourceId": resource_id}


def test_policies_of_many_targets_are_read_for_the_namespace(stubs: dict[str, Stubber],
                                                             ctx: Context) -> None:
    """Three targets, one page of policies for the whole namespace: one call instead of
    three; a policy of a service outside the scope is read but not kept."""
    ids = ["service/prod/a", "service/prod/b", "service/prod/c"]
    stub = stubs["application-autoscaling"]
    stub.add_response("describe_scalable_targets", {"ScalableTargets": [_target(i) for i in ids]},
                      {"ServiceNamespace": "ecs", "ResourceIds": ids, "MaxResults": 50})
    stub.add_response("describe_scaling_policies", {"ScalingPolicies": [
        _policy_of(0, ids[0]), _policy_of(1, "service/other/x"), _policy_of(2, ids[2])]},
        {"ServiceNamespace": "ecs", "MaxResults": 10})
    ctx.resources["services"] = [{"clusterArn": "arn:aws:ecs:x:1:cluster/prod", "serviceName": n}
                                 for n in "abc"]
    autoscaling.collect_autoscaling(ctx)
    assert [p["PolicyName"] for p in ctx.resources["scaling_policies"]] == ["p0", "p2"]
    assert ctx.recorder.errors() == []


def test_a_namespace_longer_than_per_target_falls_back_to_per_target(
        stubs: dict[str, Stubber], ctx: Context) -> None:
    """Two targets allow one namespace page; a second page means per target is cheaper."""
    ids = ["service/prod/a", "service/prod/b"]
    stub = stubs["application-autoscaling"]
    stub.add_response("describe_scalable_targets", {"ScalableTargets": [_target(i) for i in ids]},
                      {"ServiceNamespace": "ecs", "ResourceIds": ids, "MaxResults": 50})
    stub.add_response("describe_scaling_policies", {
        "ScalingPolicies": [_policy_of(n, "service/other/x") for n in range(10)],
        "NextToken": "more"}, {"ServiceNamespace": "ecs", "MaxResults": 10})
    for n, rid in enumerate(ids):
        stub.add_response("describe_scaling_policies", {"ScalingPolicies": [
            _policy_of(20 + n, rid)]}, {"ServiceNamespace": "ecs", "ResourceId": rid,
                                        "MaxResults": 10})
    ctx.resources["services"] = [{"clusterArn": "arn:aws:ecs:x:1:cluster/prod", "serviceName": n}
                                 for n in "ab"]
    autoscaling.collect_autoscaling(ctx)
    assert [p["PolicyName"] for p in ctx.resources["scaling_policies"]] == ["p20", "p21"]
    assert ctx.recorder.errors() == []
