"""The ELBv2 collector: against moto for the collections and the call plan, against
botocore's Stubber for the batch limits and the paging moto does not emulate (MOTO.md #3).

The collector is not registered in checker.collect.COLLECTORS by this module's author, so
the moto tests run the real ``collect()`` with the collectors they need (ECS first: ELBv2
reads the services it stored).
"""

from __future__ import annotations

import math
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import checker.collect
from checker.bundle import validate
from checker.collect import Context, collect, ecs, elbv2
from checker.collect.aws import batched
from tests.builders import service, shaped
from tests.collect.support import (
    ACCOUNT,
    PROD,
    REGION,
    Calls,
    build_lb_account,
    denied,
    stub_fixtures,
)

LB_PREFIX = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
ELB_COLLECTIONS = ("load_balancers", "target_groups", "target_health")


def run(session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch,
        *collectors: Any) -> dict[str, Any]:
    """The real collect() with only these collectors after ECS."""
    monkeypatch.setattr(checker.collect, "COLLECTORS", (ecs.collect_ecs, *collectors))
    return validate(collect(session, PROD))


@pytest.fixture
def arns(aws: None) -> dict[str, str]:
    return build_lb_account()


# -- moto -------------------------------------------------------------------------------

def test_collections_hold_the_services_target_groups_and_load_balancers(
    arns: dict[str, str], session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = run(session, monkeypatch, elbv2.collect_elbv2)
    res = bundle["resources"]
    assert bundle["errors"] == []
    assert [g["TargetGroupArn"] for g in res["target_groups"]] == sorted(
        arns[n] for n in ("web", "tcp", "idle"))  # not `unused`: no service's
    assert [lb["LoadBalancerArn"] for lb in res["load_balancers"]] == sorted(
        [arns["lb-web"], arns["lb-tcp"]])
    health = {h["TargetGroupArn"]: h["TargetHealthDescriptions"] for h in res["target_health"]}
    assert list(health) == sorted(arns[n] for n in ("web", "tcp", "idle"))
    assert sorted(d["Target"]["Id"] for d in health[arns["web"]]) == ["10.0.1.10", "10.0.2.11"]
    assert {d["TargetHealth"]["State"] for d in health[arns["web"]]} == {"healthy"}  # moto
    assert health[arns["idle"]] == []
    for item in res["load_balancers"]:
        shaped("elbv2", "LoadBalancer", item)  # ISO strings where the API has datetimes
    for item in res["target_groups"]:
        shaped("elbv2", "TargetGroup", item)
    for item in res["target_health"]:
        for description in item["TargetHealthDescriptions"]:
            shaped("elbv2", "TargetHealthDescription", description)


def test_call_plan_is_the_lower_bound(arns: dict[str, str], session: boto3.session.Session,
                                      calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
    run(session, monkeypatch, elbv2.collect_elbv2)
    counts = calls.count()
    assert {a: n for a, n in counts.items() if a.startswith("elasticloadbalancing:")} == {
        "elasticloadbalancing:DescribeTargetGroups": 1,
        "elasticloadbalancing:DescribeLoadBalancers": 1,
        "elasticloadbalancing:DescribeTargetHealth": 3,  # one per target group
        # one per ALB, told by its ARN (loadbalancer/app/…); moto names its NLB that way too
        # (AWS: loadbalancer/net/…), so lb-tcp is asked as well here
        "elasticloadbalancing:DescribeLoadBalancerAttributes": 2,
    }
    params = dict(calls.params)
    assert params["elasticloadbalancing:DescribeTargetGroups"] == {
        "TargetGroupArns": sorted(arns[n] for n in ("web", "tcp", "idle")), "PageSize": 400}
    assert params["elasticloadbalancing:DescribeLoadBalancers"] == {
        "LoadBalancerArns": sorted([arns["lb-web"], arns["lb-tcp"]]), "PageSize": 400}


def test_a_deleted_target_group_is_left_out_and_its_batch_mates_kept(
    arns: dict[str, str], session: boto3.session.Session, calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boto3.client("elbv2", region_name=REGION).delete_target_group(TargetGroupArn=arns["idle"])
    bundle = run(session, monkeypatch, elbv2.collect_elbv2)
    res = bundle["resources"]
    assert bundle["errors"] == []  # a service naming a deleted target group is data, not a gap
    assert [g["TargetGroupArn"] for g in res["target_groups"]] == sorted(
        [arns["web"], arns["tcp"]])
    assert len(res["target_health"]) == 2
    assert calls.count()["elasticloadbalancing:DescribeTargetGroups"] == 1 + 3  # batch, then 1×3


def test_denied_target_groups_recorded_health_still_collected(
    arns: dict[str, str], session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    session.events.register("before-call.elastic-load-balancing-v2.DescribeTargetGroups",
                            denied("DescribeTargetGroups"))
    bundle = run(session, monkeypatch, elbv2.collect_elbv2)
    res = bundle["resources"]
    assert bundle["errors"] == [{
        "collection": "target_groups", "operation": "elasticloadbalancing:DescribeTargetGroups",
        "code": "AccessDeniedException", "message": "not authorized: DescribeTargetGroups"}]
    assert res["target_groups"] == [] and res["load_balancers"] == []  # LBs come from the TGs
    assert len(res["target_health"]) == 3  # asked for every referenced target group
    assert len(res["services"]) == 4


def test_denied_target_health_recorded_per_call(
    arns: dict[str, str], session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    session.events.register("before-call.elastic-load-balancing-v2.DescribeTargetHealth",
                            denied("DescribeTargetHealth"))
    bundle = run(session, monkeypatch, elbv2.collect_elbv2)
    assert {(e["collection"], e["code"]) for e in bundle["errors"]} == {
        ("target_health", "AccessDeniedException")}
    assert len(bundle["errors"]) == 3
    res = bundle["resources"]
    assert res["target_health"] == [] and len(res["target_groups"]) == 3


def test_no_load_balanced_service_makes_no_call(aws: None, session: boto3.session.Session,
                                                calls: Calls,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("ecs", region_name=REGION).create_cluster(clusterName="prod")
    bundle = run(session, monkeypatch, elbv2.collect_elbv2)
    assert {k: bundle["resources"][k] for k in ELB_COLLECTIONS} == {
        k: [] for k in ELB_COLLECTIONS}  # collected, and empty
    assert not [a for a in calls.actions if a.startswith("elasticloadbalancing:")]


def test_a_scan_calls_only_declared_operations(
    arns: dict[str, str], session: boto3.session.Session, calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run(session, monkeypatch, elbv2.collect_elbv2)
    elb_called = {a for a in calls.actions if a.startswith("elasticloadbalancing:")}
    assert elb_called == elbv2.OPERATIONS  # nothing undeclared, no dead declaration


# -- Stubber: limits and paging -----------------------------------------------------------

stub, ctx = stub_fixtures("elbv2")


def tg_arn(i: int) -> str:
    return f"{LB_PREFIX}:targetgroup/tg-{i:03}/{i:016x}"


def lb_arn(i: int) -> str:
    return f"{LB_PREFIX}:loadbalancer/app/lb-{i:03}/{i:016x}"


def test_every_call_is_cut_at_its_api_limit(stub: Stubber, ctx: Context) -> None:
    """25 services, each behind its own target group on its own ALB: target groups and load
    balancers described 20 at a time, target health one target group per call."""
    n = 25
    ctx.resources["services"] = [
        service(f"svc-{i:03}", loadBalancers=[{"targetGroupArn": tg_arn(i),
                                               "containerName": "app", "containerPort": 80}])
        for i in range(n)]
    for batch in batched([tg_arn(i) for i in range(n)], 20):
        stub.add_response("describe_target_groups", {"TargetGroups": [
            {"TargetGroupArn": a, "LoadBalancerArns": [lb_arn(int(a[-16:], 16))]}
            for a in batch]}, {"TargetGroupArns": batch, "PageSize": 400})
    for batch in batched([lb_arn(i) for i in range(n)], 20):
        stub.add_response("describe_load_balancers", {"LoadBalancers": [
            {"LoadBalancerArn": a} for a in batch]}, {"LoadBalancerArns": batch, "PageSize": 400})
    for i in range(n):
        stub.add_response("describe_target_health", {"TargetHealthDescriptions": [
            {"Target": {"Id": f"10.0.0.{i}", "Port": 80}, "TargetHealth": {"State": "healthy"}}]},
            {"TargetGroupArn": tg_arn(i)})
    for i in range(n):
        stub.add_response("describe_load_balancer_attributes", {"Attributes": [
            {"Key": "idle_timeout.timeout_seconds", "Value": "60"}]},
            {"LoadBalancerArn": lb_arn(i)})
    elbv2.collect_elbv2(ctx)
    assert elbv2.ARN_BATCH == 20 and math.ceil(n / 20) == 2
    assert [len(ctx.resources[c]) for c in ELB_COLLECTIONS] == [n, n, n]
    assert ctx.resources["target_health"][0] == {
        "TargetGroupArn": tg_arn(0), "TargetHealthDescriptions": [
            {"Target": {"Id": "10.0.0.0", "Port": 80}, "TargetHealth": {"State": "healthy"}}]}
    assert ctx.recorder.errors() == []


def test_target_groups_of_a_shared_load_balancer_are_read_by_it(stub: Stubber,
                                                                ctx: Context) -> None:
    """100 services behind one ALB and one behind another: the first 20 target groups by
    ARN show that lb-000 carries them all, so the other 80 come in one call by load
    balancer (its 3 groups no scanned service uses are dropped), and only the group on
    lb-001, which that call did not answer, goes by ARN: 3 calls instead of 6."""
    n = 100
    ctx.resources["services"] = [
        service(f"svc-{i:03}", loadBalancers=[{"targetGroupArn": tg_arn(i),
                                               "containerName": "app", "containerPort": 80}])
        for i in range(n + 1)]
    arns = sorted(tg_arn(i) for i in range(n + 1))

    def group(arn: str) -> dict[str, Any]:
        return {"TargetGroupArn": arn,
                "LoadBalancerArns": [lb_arn(1 if arn == tg_arn(n) else 0)]}

    stub.add_response("describe_target_groups", {"TargetGroups": [group(a) for a in arns[:20]]},
                      {"TargetGroupArns": arns[:20], "PageSize": 400})
    on_lb = [group(tg_arn(i)) for i in range(n + 3) if i != n]
    stub.add_response("describe_target_groups", {"TargetGroups": on_lb},
                      {"LoadBalancerArn": lb_arn(0), "PageSize": 400})
    stub.add_response("describe_target_groups", {"TargetGroups": [group(tg_arn(n))]},
                      {"TargetGroupArns": [tg_arn(n)], "PageSize": 400})
    stub.add_response("describe_load_balancers", {"LoadBalancers": [
        {"LoadBalancerArn": lb_arn(i)} for i in (0, 1)]},
        {"LoadBalancerArns": [lb_arn(0), lb_arn(1)], "PageSize": 400})
    for arn in arns:
        stub.add_response("describe_target_health", {"TargetHealthDescriptions": []},
                          {"TargetGroupArn": arn})
    for i in (0, 1):
        stub.add_response("describe_load_balancer_attributes", {"Attributes": []},
                          {"LoadBalancerArn": lb_arn(i)})
    elbv2.collect_elbv2(ctx)
    assert [g["TargetGroupArn"] for g in ctx.resources["target_groups"]] == arns
    assert len(ctx.resources["target_health"]) == n + 1
    assert ctx.recorder.errors() == []


def test_target_groups_follow_next_marker(stub: Stubber, ctx: Context) -> None:
    batch = [tg_arn(i) for i in range(3)]
    params = {"TargetGroupArns": batch, "PageSize": 400}
    stub.add_response("describe_target_groups", {
        "TargetGroups": [{"TargetGroupArn": a} for a in batch[:2]], "NextMarker": "m1"}, params)
    stub.add_response("describe_target_groups", {
        "TargetGroups": [{"TargetGroupArn": batch[2]}]}, {**params, "Marker": "m1"})
    found = elbv2.describe_batch(ctx, elbv2.DESCRIBE_TARGET_GROUPS, batch)
    assert [g["TargetGroupArn"] for g in found] == batch


def test_not_found_batch_is_retried_one_arn_at_a_time(stub: Stubber, ctx: Context) -> None:
    batch = [lb_arn(i) for i in range(3)]
    stub.add_client_error("describe_load_balancers", service_error_code="LoadBalancerNotFound",
                          http_status_code=400,
                          expected_params={"LoadBalancerArns": batch, "PageSize": 400})
    for arn in batch:
        if arn == batch[1]:
            stub.add_client_error("describe_load_balancers",
                                  service_error_code="LoadBalancerNotFound", http_status_code=400,
                                  expected_params={"LoadBalancerArns": [arn], "PageSize": 400})
        else:
            stub.add_response("describe_load_balancers", {"LoadBalancers": [
                {"LoadBalancerArn": arn}]}, {"LoadBalancerArns": [arn], "PageSize": 400})
    found = elbv2.describe_batch(ctx, elbv2.DESCRIBE_LOAD_BALANCERS, batch)
    assert [lb["LoadBalancerArn"] for lb in found] == [batch[0], batch[2]]
    assert ctx.recorder.errors() == []


def test_target_health_of_a_deleted_target_group_is_absent(stub: Stubber, ctx: Context) -> None:
    stub.add_client_error("describe_target_health", service_error_code="TargetGroupNotFound",
                          http_status_code=400, expected_params={"TargetGroupArn": tg_arn(1)})
    assert elbv2.describe_target_health(ctx, tg_arn(1)) == []
    assert ctx.recorder.errors() == []


def test_throttled_page_is_recorded_and_earlier_pages_kept(stub: Stubber, ctx: Context) -> None:
    batch = [tg_arn(i) for i in range(2)]
    stub.add_response("describe_target_groups", {
        "TargetGroups": [{"TargetGroupArn": batch[0]}], "NextMarker": "m1"})
    stub.add_client_error("describe_target_groups", service_error_code="Throttling",
                          service_message="Rate exceeded", http_status_code=400)
    found = elbv2.describe_batch(ctx, elbv2.DESCRIBE_TARGET_GROUPS, batch)
    assert [g["TargetGroupArn"] for g in found] == [batch[0]]
    assert ctx.recorder.errors() == [{
        "collection": "target_groups", "operation": "elasticloadbalancing:DescribeTargetGroups",
        "code": "Throttling", "message": "Rate exceeded"}]


def test_a_repeated_marker_is_recorded_not_looped(stub: Stubber, ctx: Context) -> None:
    for _ in range(2):
        stub.add_response("describe_target_groups", {"TargetGroups": [], "NextMarker": "same"})
    assert elbv2.describe_batch(ctx, elbv2.DESCRIBE_TARGET_GROUPS, [tg_arn(0)]) == []
    assert [e["code"] for e in ctx.recorder.errors()] == ["RuntimeError"]


@pytest.mark.parametrize(("services", "expected"), [
    ([], []),
    ([{"loadBalancers": [{"loadBalancerName": "classic"}]}], []),  # classic ELB: no ELBv2 call
    ([{"loadBalancers": [{"targetGroupArn": "b"}, {"targetGroupArn": "a"}]},
      {"loadBalancers": [{"targetGroupArn": "a"}]}], ["a", "b"]),
    ([{"taskSets": [{"loadBalancers": [{"targetGroupArn": "blue"}]},
                    {"loadBalancers": [{"targetGroupArn": "green"}]}]}], ["blue", "green"]),
])
def test_target_groups_of_services_and_task_sets(services: list[dict[str, Any]],
                                                 expected: list[str]) -> None:
    assert elbv2.target_group_arns(services) == expected
