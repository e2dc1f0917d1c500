"""The CloudWatch collector: moto for the series (real put_metric_data → real GetMetricData),
botocore hooks for the 500-query batching moto does not enforce, Stubber for NextToken
paging and per-query failures moto cannot produce (MOTO.md: no 500-query limit, no
NextToken, results newest first, dimensions matched in order).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import checker.collect
from checker.bundle import validate
from checker.collect import Context, Scope, cloudwatch, collect, ecs, elbv2
from checker.facts import Facts
from tests.builders import cluster, service
from tests.collect.support import ACCOUNT, REGION, Calls, build_lb_account, denied, stub_fixtures

NOW = dt.datetime(2026, 11, 20, 10, 7, 42, tzinfo=dt.UTC)
PROD_AND_BATCH = Scope(clusters=("prod", "batch"))


def minute(now: dt.datetime) -> dt.datetime:
    return now.replace(second=0, microsecond=0)


def put(cw: Any, namespace: str, name: str, dimensions: dict[str, str],
        points: list[tuple[dt.datetime, float]]) -> None:
    """Seed a series; dimensions in name order, as the collector asks (moto matches in order)."""
    dims = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": name, "Dimensions": dims, "Timestamp": t, "Value": v} for t, v in points])


def build_metrics_account() -> dict[str, Any]:
    """build_lb_account (cluster `prod`, Container Insights on, services web/tcp/api/worker,
    `web` behind an ALB, `tcp` behind an NLB) plus cluster `batch` (Insights off) with service
    `cron`, container instances t3.medium and m5.large in `prod`, a NAT gateway, and data:
    ten minutes of CPU/memory for prod/web, CPU credits for the t3, NAT and ALB counts."""
    arns = build_lb_account()
    ec2, ecs_api, ssm = (boto3.client(s, region_name=REGION) for s in ("ec2", "ecs", "ssm"))
    ecs_api.create_cluster(clusterName="batch")
    ecs_api.create_service(cluster="batch", serviceName="cron", taskDefinition="app",
                           desiredCount=1)
    image = ssm.get_parameter(
        Name="/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id")["Parameter"]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    ids = {}
    for itype in ("t3.medium", "m5.large"):
        inst = ec2.run_instances(ImageId=image["Value"], MinCount=1, MaxCount=1,
                                 InstanceType=itype, SubnetId=subnet)["Instances"][0]
        ids[itype] = inst["InstanceId"]
        ecs_api.register_container_instance(cluster="prod", instanceIdentityDocument=json.dumps(
            {"instanceId": inst["InstanceId"], "region": REGION, "accountId": ACCOUNT}))
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    cw = boto3.client("cloudwatch", region_name=REGION)
    end = minute(dt.datetime.now(dt.UTC))
    ago = [end - dt.timedelta(minutes=k, seconds=30) for k in range(1, 11)]  # newest first
    web = {"ClusterName": "prod", "ServiceName": "web"}
    put(cw, "AWS/ECS", "CPUUtilization", web, [(t, float(k)) for k, t in enumerate(ago, 1)])
    put(cw, "AWS/ECS", "MemoryUtilization", web, [(t, 50.0 + k) for k, t in enumerate(ago, 1)])
    put(cw, "AWS/EC2", "CPUCreditBalance", {"InstanceId": ids["t3.medium"]},
        [(end - dt.timedelta(minutes=5 * k, seconds=30), 100.0 - k) for k in range(1, 4)])
    nat_dims = {"NatGatewayId": nat}
    put(cw, "AWS/NATGateway", "ErrorPortAllocation", nat_dims, [(ago[0], 3.0), (ago[1], 4.0)])
    put(cw, "AWS/NATGateway", "ActiveConnectionCount", nat_dims, [(ago[0], 900.0)])
    alb = {"LoadBalancer": arns["lb-web"].split("loadbalancer/")[1],
           "TargetGroup": arns["web"].rsplit(":", 1)[1]}
    put(cw, "AWS/ApplicationELB", "RequestCount", alb, [(ago[0], 10.0), (ago[0], 5.0)])
    return {**arns, "nat": nat, "alb": alb, **ids}


def store_nat_gateways(ctx: Context) -> None:
    """Stands in for the EC2 collector's nat_gateways (not this module's to register)."""
    nats = ctx.client("ec2").describe_nat_gateways()["NatGateways"]
    ctx.store("nat_gateways", nats, "NatGatewayId")


def run(session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The real collect() with ECS, the NAT stand-in, ELBv2 and CloudWatch last."""
    monkeypatch.setattr(checker.collect, "COLLECTORS", (
        ecs.collect_ecs, store_nat_gateways, elbv2.collect_elbv2, cloudwatch.collect_cloudwatch))
    return validate(collect(session, PROD_AND_BATCH))


@pytest.fixture
def account(aws: None) -> dict[str, Any]:
    return build_metrics_account()


def by_key(metrics: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {(s["namespace"], s["name"], s["stat"], *s["dimensions"].values()): s for s in metrics}


# -- moto -------------------------------------------------------------------------------

def test_series_ascending_with_their_dimensions_and_stats(
    account: dict[str, Any], session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = run(session, monkeypatch)
    assert bundle["errors"] == []
    series = by_key(bundle["metrics"])
    cpu = series[("AWS/ECS", "CPUUtilization", "Average", "prod", "web")]
    assert cpu["dimensions"] == {"ClusterName": "prod", "ServiceName": "web"}
    assert cpu["period"] == 60
    assert cpu["values"] == [float(k) for k in range(10, 0, -1)]  # oldest (10 min ago) first
    assert cpu["timestamps"] == sorted(cpu["timestamps"])
    assert all(t.endswith("+00:00") for t in cpu["timestamps"])
    assert series[("AWS/ECS", "MemoryUtilization", "Maximum", "prod", "web")]["values"][-1] == 51.0
    credit = series[("AWS/EC2", "CPUCreditBalance", "Minimum", account["t3.medium"])]
    assert credit["period"] == 300 and credit["values"] == [97.0, 98.0, 99.0]
    nat = series[("AWS/NATGateway", "ErrorPortAllocation", "Sum", account["nat"])]
    assert nat["values"] == [4.0, 3.0]
    alb = series[("AWS/ApplicationELB", "RequestCount", "Sum", *account["alb"].values())]
    assert alb["dimensions"] == account["alb"] and alb["values"] == [15.0]
    assert all(isinstance(v, float) for s in bundle["metrics"] for v in s["values"])


def test_every_planned_series_is_stored_even_without_data(
    account: dict[str, Any], session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = run(session, monkeypatch)
    metrics = bundle["metrics"]
    series = by_key(metrics)
    api = series[("AWS/ECS", "CPUUtilization", "Maximum", "prod", "api")]
    assert (api["timestamps"], api["values"]) == ([], [])  # no data ≠ not collected
    count: dict[str, int] = {}
    for s in metrics:
        count[s["namespace"]] = count.get(s["namespace"], 0) + 1
    assert count == {
        "AWS/ECS": 5 * 4,  # prod's 4 services and batch/cron × 2 metrics × 2 stats
        "ECS/ContainerInsights": 4 * 3,  # prod only: batch has Container Insights off
        "AWS/EC2": 2 * 2 + 1 * 2,  # CPU Avg/Max each; credit metrics for the t3 only
        "AWS/NATGateway": 7,
        # the ALB's target group (the NLB's and the idle one: none), and the ALB's own
        # 502s and 504s
        "AWS/ApplicationELB": 5 + 2,
    }
    assert {s["dimensions"]["ClusterName"] for s in metrics
            if s["namespace"] == "ECS/ContainerInsights"} == {"prod"}
    found = Facts(bundle).metric("AWS/ECS", "CPUUtilization",
                                 {"ClusterName": "prod", "ServiceName": "api"}, "Average")
    assert [s["values"] for s in found] == [[]]  # what a check sees: one series, no points


def test_one_get_metric_data_call_per_500_queries(
    account: dict[str, Any], session: boto3.session.Session, calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    metrics = run(session, monkeypatch)["metrics"]
    assert calls.count()["cloudwatch:GetMetricData"] == math.ceil(len(metrics) / 500) == 1
    assert {a for a in calls.actions if a.startswith("cloudwatch:")} == cloudwatch.OPERATIONS


def test_denied_get_metric_data_is_recorded_under_metrics(
    account: dict[str, Any], session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    session.events.register("before-call.cloudwatch.GetMetricData", denied("GetMetricData"))
    bundle = run(session, monkeypatch)
    assert bundle["errors"] == [{
        "collection": "metrics", "operation": "cloudwatch:GetMetricData",
        "code": "AccessDeniedException", "message": "not authorized: GetMetricData"}]
    assert bundle["metrics"] == []
    assert len(bundle["resources"]["services"]) == 5
    assert len(bundle["resources"]["target_groups"]) == 3
    facts = Facts(bundle)
    assert not facts.has("metrics") and facts.has("services")


def test_more_than_500_queries_are_cut_into_calls_of_500(
    aws: None, session: boto3.session.Session, calls: Calls
) -> None:
    """300 services × 2 metrics × 2 stats = 1200 queries: three calls, none over 500, every
    id unique, every series back (empty: nothing was put)."""
    services = [service(f"svc-{i:03}") for i in range(300)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        ctx = Context(scope=Scope(clusters=("prod",)), region=REGION, pool=pool,
                      session=session, resources={"clusters": [cluster()], "services": services})
        cloudwatch.collect_metrics(ctx, dt.datetime.now(dt.UTC))
    sent = [p["MetricDataQueries"] for a, p in calls.params if a == "cloudwatch:GetMetricData"]
    assert calls.count()["cloudwatch:GetMetricData"] == 3 == math.ceil(1200 / 500)
    assert sorted(len(q) for q in sent) == [200, 500, 500]
    ids = [q["Id"] for queries in sent for q in queries]
    assert len(ids) == len(set(ids)) == 1200
    assert all(q["ReturnData"] is True for queries in sent for q in queries)
    assert ctx.metrics is not None and len(ctx.metrics) == 1200
    assert ctx.recorder.errors() == []


# -- Stubber: paging and per-query failures ------------------------------------------------

stub, ctx = stub_fixtures("cloudwatch", resources=lambda: {
    "clusters": [cluster()], "services": [service("api"), service("web")]})


def stubbed_call(ctx: Context) -> dict[str, Any]:
    """The parameters collect_metrics sends for ctx's two services at NOW."""
    start, end = cloudwatch.window(ctx.scope.since, NOW, 60)
    queries = cloudwatch.plan_queries(ctx.resources, 60)
    return {"StartTime": start, "EndTime": end, "MetricDataQueries": [
        cloudwatch.request(f"q{i}", q) for i, q in enumerate(queries)]}


def at(minutes: int) -> dt.datetime:
    return minute(NOW) - dt.timedelta(minutes=minutes)


def test_next_token_pages_are_followed_and_joined(stub: Stubber, ctx: Context) -> None:
    params = stubbed_call(ctx)
    assert len(params["MetricDataQueries"]) == 8  # 2 services × 2 metrics × 2 stats
    stub.add_response("get_metric_data", {"NextToken": "t1", "MetricDataResults": [
        {"Id": "q0", "Timestamps": [at(1), at(2)], "Values": [3, 2], "StatusCode": "PartialData"},
    ]}, params)
    stub.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "q0", "Timestamps": [at(3)], "Values": [1], "StatusCode": "Complete"},
        *({"Id": f"q{i}", "Timestamps": [], "Values": [], "StatusCode": "Complete"}
          for i in range(1, 8)),
    ]}, {**params, "NextToken": "t1"})
    cloudwatch.collect_metrics(ctx, NOW)
    assert ctx.metrics is not None and len(ctx.metrics) == 8
    first = by_key(ctx.metrics)[("AWS/ECS", "CPUUtilization", "Average", "prod", "api")]
    assert first["values"] == [1.0, 2.0, 3.0]
    assert first["timestamps"] == [at(m).isoformat() for m in (3, 2, 1)]
    assert ctx.recorder.errors() == []


def test_a_query_cloudwatch_could_not_answer_is_left_out_and_recorded(
    stub: Stubber, ctx: Context
) -> None:
    stub.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": f"q{i}", "Timestamps": [], "Values": [],
         "StatusCode": "InternalError" if i == 1 else "Complete"}
        for i in range(7)]}, stubbed_call(ctx))  # q7 is not in the answer at all
    cloudwatch.collect_metrics(ctx, NOW)
    assert ctx.metrics is not None and len(ctx.metrics) == 6
    assert [(e["collection"], e["code"]) for e in ctx.recorder.errors()] == [
        ("metrics", "InternalError"), ("metrics", "NoResult")]
    assert ctx.recorder.errors()[0]["message"] == (
        "1 series not returned: AWS/ECS CPUUtilization Average ClusterName=prod,ServiceName=web")


def test_a_failed_call_keeps_nothing_and_is_recorded(stub: Stubber, ctx: Context) -> None:
    stub.add_client_error("get_metric_data", service_error_code="Throttling",
                          service_message="Rate exceeded", http_status_code=400)
    cloudwatch.collect_metrics(ctx, NOW)
    assert ctx.metrics == []
    assert ctx.recorder.errors() == [{"collection": "metrics",
                                      "operation": "cloudwatch:GetMetricData",
                                      "code": "Throttling", "message": "Rate exceeded"}]


def test_nothing_to_ask_makes_no_call_and_an_empty_collection(stub: Stubber) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        ctx = Context(scope=Scope(clusters=("prod",)), region=REGION, pool=pool,
                      clients={"cloudwatch": stub.client})
        cloudwatch.collect_metrics(ctx, NOW)
    assert ctx.metrics == []  # collected: nothing in scope publishes metrics


# -- the plan, the window, the period ------------------------------------------------------

@pytest.mark.parametrize(("since", "period"), [
    (dt.timedelta(minutes=30), 60),
    (dt.timedelta(hours=3), 60),
    (dt.timedelta(hours=6), 300),
    (dt.timedelta(hours=24), 300),
    (dt.timedelta(days=5), 300),  # 1440 points
    (dt.timedelta(days=6), 900),
    (dt.timedelta(days=30), 1800),
    (dt.timedelta(days=60), 3600),
    (dt.timedelta(days=90), 10800),  # past 63 days: hourly data only
    (dt.timedelta(days=455), 43200),
])
def test_period_keeps_series_short_and_native(since: dt.timedelta, period: int) -> None:
    assert cloudwatch.choose_period(since) == period
    assert since.total_seconds() / period <= cloudwatch.MAX_POINTS


@pytest.mark.parametrize(("since", "period", "start", "end"), [
    (dt.timedelta(hours=3), 60, "07:07", "10:07"),
    (dt.timedelta(hours=6), 300, "04:05", "10:07"),
])
def test_window_ends_at_collection_and_starts_on_a_period(since: dt.timedelta, period: int,
                                                          start: str, end: str) -> None:
    first, last = cloudwatch.window(since, NOW, period)
    assert (first.strftime("%H:%M"), last.strftime("%H:%M")) == (start, end)
    assert first.tzinfo is dt.UTC and first.second == last.second == 0


@pytest.mark.parametrize(("since", "size"), [
    (dt.timedelta(hours=3), 500),  # 181 points a series: 500 fit one response
    (dt.timedelta(hours=24), 348),  # 289 points at 300 s
    (dt.timedelta(days=5), 69),  # 1441 points
])
def test_batches_fit_one_response(since: dt.timedelta, size: int) -> None:
    assert cloudwatch.batch_size(since, cloudwatch.choose_period(since)) == size


def _ci(instance_id: str, itype: str | None = None) -> dict[str, Any]:
    attrs = [{"name": "ecs.instance-type", "value": itype}] if itype else []
    return {"containerInstanceArn": f"ci/{instance_id}", "ec2InstanceId": instance_id,
            "attributes": attrs}


@pytest.mark.parametrize(("res", "expected"), [
    ({"container_instances": [_ci("i-1", "t3.medium"), _ci("i-2", "m5.large")],
      "instance_types": [{"InstanceType": "t3.medium", "BurstablePerformanceSupported": True},
                         {"InstanceType": "m5.large", "BurstablePerformanceSupported": False}]},
     ["i-1"]),
    ({"container_instances": [_ci("i-1", "t3a.small"), _ci("i-2", "c5.large")]}, ["i-1"]),
    ({"container_instances": [_ci("i-1")],
      "ec2_instances": [{"InstanceId": "i-1", "InstanceType": "t4g.nano"}]}, ["i-1"]),
    ({"container_instances": [_ci("i-1")]}, ["i-1"]),  # type unknown: asked anyway
    ({"container_instances": [_ci("mi-0abc", "t3.micro")]}, []),  # ECS Anywhere: no AWS/EC2
])
def test_credit_metrics_only_for_burstable_instances(res: dict[str, Any],
                                                     expected: list[str]) -> None:
    assert [dict(d)["InstanceId"] for d in cloudwatch.burstable_instances(res)] == expected


def test_alb_metrics_name_the_target_group_and_its_alb_only() -> None:
    prefix = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
    res = {"target_groups": [
        {"TargetGroupArn": f"{prefix}:targetgroup/web/1a", "LoadBalancerArns": [
            f"{prefix}:loadbalancer/app/front/2b", f"{prefix}:loadbalancer/net/tcp/3c"]},
        {"TargetGroupArn": f"{prefix}:targetgroup/idle/4d", "LoadBalancerArns": []}]}
    assert [dict(d) for d in cloudwatch.alb_target_groups(res)] == [
        {"LoadBalancer": "app/front/2b", "TargetGroup": "targetgroup/web/1a"}]
    # the described Type wins over the ARN (moto names NLBs loadbalancer/app/… too)
    res["load_balancers"] = [{"LoadBalancerArn": f"{prefix}:loadbalancer/app/front/2b",
                              "Type": "network"}]
    assert cloudwatch.alb_target_groups(res) == []


def test_a_resource_missing_its_name_is_not_asked_for() -> None:
    broken = service("web")
    del broken["clusterArn"]
    queries = cloudwatch.plan_queries({"services": [broken, service("api")]}, 60)
    assert {dict(q.dimensions)["ServiceName"] for q in queries} == {"api"}


def test_the_plan_covers_the_contract() -> None:
    plan = {(s.namespace, s.name) for s in cloudwatch.METRIC_PLAN}
    assert plan == {
        ("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
        ("ECS/ContainerInsights", "DesiredTaskCount"),
        ("ECS/ContainerInsights", "PendingTaskCount"),
        ("AWS/EC2", "CPUUtilization"), ("AWS/EC2", "CPUCreditBalance"),
        ("AWS/EC2", "CPUSurplusCreditBalance"),
        *(("AWS/NATGateway", m) for m in ("ActiveConnectionCount", "ConnectionAttemptCount",
                                          "ConnectionEstablishedCount", "ErrorPortAllocation",
                                          "PacketsDropCount", "PacketsOutToDestination",
                                          "PacketsOutToSource")),
        *(("AWS/ApplicationELB", m) for m in ("TargetResponseTime", "HTTPCode_Target_5XX_Count",
                                              "RequestCount", "UnHealthyHostCount",
                                              "HealthyHostCount", "HTTPCode_ELB_502_Count",
                                              "HTTPCode_ELB_504_Count")),
    }
    stats = {(s.namespace, s.name, s.stat) for s in cloudwatch.METRIC_PLAN}
    assert ("AWS/NATGateway", "ActiveConnectionCount", "Maximum") in stats
    assert ("AWS/EC2", "CPUCreditBalance", "Minimum") in stats
    assert all(s.min_period == 300 for s in cloudwatch.METRIC_PLAN if "Credit" in s.name)
