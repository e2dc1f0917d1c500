"""load_balancer_attributes (checker/collect/elbv2.py): each Application Load Balancer's
DescribeLoadBalancerAttributes, for its idle timeout; a denied call is an error the check
turns into `unknown`, and the scan reads at most ATTRIBUTE_BUDGET load balancers."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import checker.collect
from checker import shapes
from checker.bundle import validate
from checker.collect import Context, collect, ecs, elbv2
from tests.collect.support import (
    ACCOUNT,
    PROD,
    REGION,
    build_lb_account,
    denied,
    stub_fixtures,
)

IDLE = "idle_timeout.timeout_seconds"


def run(session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(checker.collect, "COLLECTORS", (ecs.collect_ecs, elbv2.collect_elbv2))
    return validate(collect(session, PROD))


@pytest.fixture
def arns(aws: None) -> dict[str, str]:
    return build_lb_account()


def test_the_albs_idle_timeout_is_collected(arns: dict[str, str],
                                            session: boto3.session.Session,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("elbv2", region_name=REGION).modify_load_balancer_attributes(
        LoadBalancerArn=arns["lb-web"], Attributes=[{"Key": IDLE, "Value": "120"}])
    bundle = run(session, monkeypatch)
    assert bundle["errors"] == []
    items = {i["LoadBalancerArn"]: i for i in bundle["resources"]["load_balancer_attributes"]}
    assert {a["Key"]: a["Value"] for a in items[arns["lb-web"]]["Attributes"]}[IDLE] == "120"
    assert shapes.validate_bundle(bundle) == []  # the wrapper and its attributes are shaped


def test_a_denied_call_is_recorded_and_the_rest_is_kept(arns: dict[str, str],
                                                        session: boto3.session.Session,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    session.events.register(
        "before-call.elastic-load-balancing-v2.DescribeLoadBalancerAttributes",
        denied("DescribeLoadBalancerAttributes"))
    bundle = run(session, monkeypatch)
    assert {(e["collection"], e["operation"], e["code"]) for e in bundle["errors"]} == {
        ("load_balancer_attributes", "elasticloadbalancing:DescribeLoadBalancerAttributes",
         "AccessDeniedException")}
    assert len(bundle["resources"]["load_balancers"]) == 2
    assert len(bundle["resources"]["target_health"]) == 3


def test_no_load_balancer_no_call(aws: None, session: boto3.session.Session,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("ecs", region_name=REGION).create_cluster(clusterName="prod")
    bundle = run(session, monkeypatch)
    assert bundle["resources"]["load_balancer_attributes"] == []


stub, ctx = stub_fixtures("elbv2")
LB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer"


def test_only_albs_within_the_budget_are_asked(stub: Stubber, ctx: Context) -> None:
    albs = [f"{LB}/app/lb-{i:03}/{i:016x}" for i in range(elbv2.ATTRIBUTE_BUDGET + 2)]
    nlb = f"{LB}/net/tcp/{0:016x}"
    chosen = elbv2.attribute_arns(ctx, sorted([*albs, nlb]))
    assert chosen == albs[:elbv2.ATTRIBUTE_BUDGET]
    [warning] = ctx.recorder.errors()
    assert (warning["collection"], warning["level"], warning["count"]) == (
        "load_balancer_attributes", "warning", 2)


def test_a_deleted_load_balancer_is_left_out(stub: Stubber, ctx: Context) -> None:
    arn = f"{LB}/app/gone/{1:016x}"
    stub.add_client_error("describe_load_balancer_attributes",
                          service_error_code="LoadBalancerNotFound", http_status_code=400,
                          expected_params={"LoadBalancerArn": arn})
    assert elbv2.describe_attributes(ctx, arn) == []
    assert ctx.recorder.errors() == []
