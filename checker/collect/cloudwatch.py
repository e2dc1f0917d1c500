"""CloudWatch → ``bundle["metrics"]`` (CONTRACTS.md §1): the series the metric checks read.

Runs last: every series is derived from what the other collectors stored (services and their
clusters' Container Insights setting, container instances and their instance types, NAT
gateways, target groups and their load balancers). :data:`METRIC_PLAN` is the table of what
to ask for; this module turns it into GetMetricData queries, at most 500 per call (a hard
quota), ids unique per call, every ``NextToken`` followed, batches fanned out on the pool.
GetMetricData only: one call per 500 series instead of one GetMetricStatistics per series,
and billed per metric asked either way (AWS-FACTS.md §4).

The window is ``scope.since`` ending at collection time. The period keeps every series
within :data:`MAX_POINTS` and at the metrics' native cadence: 60 s up to 3 h (ECS, ALB and
NAT metrics are published every minute), coarser beyond (§4 "window/period traps"), never
finer than 300 s for the CPU credit metrics (published every five minutes only). A series
with no data is still stored, with empty lists, so a check can tell "no data" (an idle ALB
publishes nothing) from "not asked". A series CloudWatch could not answer is left out and
the failure recorded under ``metrics``, like a failed call: incomplete metrics are unknown.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from checker.collect.aws import Context, Item, batched, iam_action, pages

#: The one CloudWatch action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({"cloudwatch:GetMetricData"})

COLLECTION = "metrics"
MAX_QUERIES = 500  # MetricDataQuery per GetMetricData call (quota, cannot be raised)
MAX_DATAPOINTS = 100_800  # per GetMetricData response before NextToken paging
MAX_POINTS = 1_440  # per series: a day of minutes; bounds response size and the DPS quota
FINE_WINDOW = dt.timedelta(hours=3)  # up to here, 60 s periods (180 points a series)
FINE_PERIOD = 60
CREDIT_PERIOD = 300  # "CPU credit metrics are available at a five-minute frequency only"
#: Coarser periods, tried in order; beyond 63 days only hourly data is kept.
COARSE_PERIODS = (300, 900, 1800, 3600, 10800, 21600, 43200, 86400)
HOURLY_ONLY_AFTER = dt.timedelta(days=63)
#: Result statuses that mean "no answer" (NoResult: the id is missing from the response).
UNANSWERED = frozenset({"InternalError", "Forbidden", "NoResult"})
INSIGHTS_ON = frozenset({"enabled", "enhanced"})  # enhanced also publishes the service metrics
BURSTABLE_FAMILY = re.compile(r"^t\d[a-z]*\.")  # t2, t3, t3a, t4g: when types are unknown

Resources = Mapping[str, list[Item]]
Dimensions = tuple[tuple[str, str], ...]  # sorted by name: one query per distinct series
Source = Callable[[Resources], list[Dimensions]]


@dataclass(frozen=True)
class MetricSpec:
    """One row of the plan: a metric and statistic, asked for every resource ``source``
    finds, at no finer a period than ``min_period``."""

    namespace: str
    name: str
    stat: str
    source: Source
    min_period: int = FINE_PERIOD


@dataclass(frozen=True)
class Query:
    spec: MetricSpec
    dimensions: Dimensions
    period: int


def dims(**values: str) -> Dimensions:
    return tuple(sorted(values.items()))


def arn_resource(arn: str) -> str:
    """The resource part of an ARN: ``targetgroup/web/0a7f…``, ``loadbalancer/app/web/2a3c…``."""
    return arn.rsplit(":", 1)[-1]


def services(res: Resources) -> list[Dimensions]:
    """AWS/ECS service metrics: ``ClusterName`` and ``ServiceName``."""
    return sorted({dims(ClusterName=arn_resource(str(s.get("clusterArn", ""))).split("/")[-1],
                        ServiceName=str(s["serviceName"]))
                   for s in res.get("services", []) if s.get("serviceName")})


def insights_services(res: Resources) -> list[Dimensions]:
    """The services of clusters with Container Insights on (nothing is published otherwise)."""
    clusters = {c.get("clusterName") for c in res.get("clusters", [])
                if any(s.get("name") == "containerInsights" and s.get("value") in INSIGHTS_ON
                       for s in c.get("settings", []) or [])}
    return [d for d in services(res) if dict(d)["ClusterName"] in clusters]


def instance_ids(res: Resources) -> list[str]:
    """EC2 instances behind the container instances (ECS Anywhere ``mi-`` ids have no
    AWS/EC2 metrics)."""
    return sorted({str(ci["ec2InstanceId"]) for ci in res.get("container_instances", [])
                   if str(ci.get("ec2InstanceId", "")).startswith("i-")})


def instances(res: Resources) -> list[Dimensions]:
    return [dims(InstanceId=i) for i in instance_ids(res)]


def burstable_instances(res: Resources) -> list[Dimensions]:
    """Instances that earn CPU credits: by ``BurstablePerformanceSupported`` when the
    instance type was described, by family name when only the type is known, and asked
    anyway when even that is unknown (an empty series costs a hundredth of a cent)."""
    types = {str(t.get("InstanceType")): t for t in res.get("instance_types", [])}
    type_of = _instance_types(res)
    out = []
    for instance_id in instance_ids(res):
        itype = type_of.get(instance_id)
        if itype is None:
            keep = True
        elif itype in types:
            keep = bool(types[itype].get("BurstablePerformanceSupported"))
        else:
            keep = BURSTABLE_FAMILY.match(itype) is not None
        if keep:
            out.append(dims(InstanceId=instance_id))
    return out


def _instance_types(res: Resources) -> dict[str, str]:
    """Instance id → type, from DescribeInstances or else the ``ecs.instance-type`` attribute."""
    out: dict[str, str] = {}
    for ci in res.get("container_instances", []):
        for attr in ci.get("attributes", []) or []:
            if attr.get("name") == "ecs.instance-type" and attr.get("value"):
                out[str(ci.get("ec2InstanceId"))] = str(attr["value"])
    for inst in res.get("ec2_instances", []):
        if inst.get("InstanceId") and inst.get("InstanceType"):
            out[str(inst["InstanceId"])] = str(inst["InstanceType"])
    return out


def nat_gateways(res: Resources) -> list[Dimensions]:
    return sorted({dims(NatGatewayId=str(n["NatGatewayId"]))
                   for n in res.get("nat_gateways", []) if n.get("NatGatewayId")})


def alb_target_groups(res: Resources) -> list[Dimensions]:
    """Per (target group, Application Load Balancer) pair: ALB publishes its per-target-group
    metrics under both dimensions (``targetgroup/…`` and ``app/…``), never the first alone.
    An ALB is known by its described ``Type``, else by its ARN (``loadbalancer/app/…``)."""
    types = {lb.get("LoadBalancerArn"): lb.get("Type") for lb in res.get("load_balancers", [])}
    out: set[Dimensions] = set()
    for tg in res.get("target_groups", []):
        for lb_arn in tg.get("LoadBalancerArns", []) or []:
            lb = arn_resource(str(lb_arn)).removeprefix("loadbalancer/")
            alb = types[lb_arn] == "application" if types.get(lb_arn) else lb.startswith("app/")
            if alb and tg.get("TargetGroupArn"):
                out.add(dims(LoadBalancer=lb, TargetGroup=arn_resource(str(tg["TargetGroupArn"]))))
    return sorted(out)


def albs(res: Resources) -> list[Dimensions]:
    """Per Application Load Balancer (``app/…``) of the scanned target groups: the load
    balancer's own 502s and 504s are published per load balancer, not per target group."""
    types = {lb.get("LoadBalancerArn"): lb.get("Type") for lb in res.get("load_balancers", [])}
    out: set[Dimensions] = set()
    for tg in res.get("target_groups", []):
        for lb_arn in tg.get("LoadBalancerArns", []) or []:
            lb = arn_resource(str(lb_arn)).removeprefix("loadbalancer/")
            if (types[lb_arn] == "application" if types.get(lb_arn) else lb.startswith("app/")):
                out.add(dims(LoadBalancer=lb))
    return sorted(out)


#: What a scan asks CloudWatch for (CONTRACTS.md §1; statistics per AWS-FACTS.md §1f and §7).
METRIC_PLAN: tuple[MetricSpec, ...] = (
    MetricSpec("AWS/ECS", "CPUUtilization", "Average", services),
    MetricSpec("AWS/ECS", "CPUUtilization", "Maximum", services),
    MetricSpec("AWS/ECS", "MemoryUtilization", "Average", services),
    MetricSpec("AWS/ECS", "MemoryUtilization", "Maximum", services),
    MetricSpec("ECS/ContainerInsights", "RunningTaskCount", "Average", insights_services),
    MetricSpec("ECS/ContainerInsights", "DesiredTaskCount", "Average", insights_services),
    MetricSpec("ECS/ContainerInsights", "PendingTaskCount", "Average", insights_services),
    MetricSpec("AWS/EC2", "CPUUtilization", "Average", instances),
    MetricSpec("AWS/EC2", "CPUUtilization", "Maximum", instances),
    MetricSpec("AWS/EC2", "CPUCreditBalance", "Minimum", burstable_instances, CREDIT_PERIOD),
    MetricSpec("AWS/EC2", "CPUSurplusCreditBalance", "Maximum", burstable_instances,
               CREDIT_PERIOD),
    MetricSpec("AWS/NATGateway", "ActiveConnectionCount", "Maximum", nat_gateways),
    MetricSpec("AWS/NATGateway", "ConnectionAttemptCount", "Sum", nat_gateways),
    MetricSpec("AWS/NATGateway", "ConnectionEstablishedCount", "Sum", nat_gateways),
    MetricSpec("AWS/NATGateway", "ErrorPortAllocation", "Sum", nat_gateways),
    MetricSpec("AWS/NATGateway", "PacketsDropCount", "Sum", nat_gateways),
    # The drop rule is relative ("> 0.01% of the traffic", AWS-FACTS §7): its denominator.
    MetricSpec("AWS/NATGateway", "PacketsOutToDestination", "Sum", nat_gateways),
    MetricSpec("AWS/NATGateway", "PacketsOutToSource", "Sum", nat_gateways),
    MetricSpec("AWS/ApplicationELB", "TargetResponseTime", "Average", alb_target_groups),
    MetricSpec("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", alb_target_groups),
    MetricSpec("AWS/ApplicationELB", "RequestCount", "Sum", alb_target_groups),
    MetricSpec("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", alb_target_groups),
    MetricSpec("AWS/ApplicationELB", "HealthyHostCount", "Maximum", alb_target_groups),
    # a target closing a kept-alive connection the ALB reuses: 502 (checks/metrics/
    # load_balancer.py, lb-idle-timeout-exceeds-keepalive); a request outlasting the idle
    # timeout: 504
    MetricSpec("AWS/ApplicationELB", "HTTPCode_ELB_502_Count", "Sum", albs),
    MetricSpec("AWS/ApplicationELB", "HTTPCode_ELB_504_Count", "Sum", albs),
)


def collect_cloudwatch(ctx: Context) -> None:
    """Fill ``ctx.metrics`` with every series of :data:`METRIC_PLAN`, over ``scope.since``."""
    collect_metrics(ctx, dt.datetime.now(dt.UTC))


def collect_metrics(ctx: Context, now: dt.datetime) -> None:
    """:func:`collect_cloudwatch` with the clock passed in."""
    period = choose_period(ctx.scope.since)
    start, end = window(ctx.scope.since, now, period)
    queries = plan_queries(ctx.resources, period)
    size = batch_size(ctx.scope.since, period)
    numbered = [(f"q{i}", q) for i, q in enumerate(queries)]
    jobs = [(COLLECTION, partial(fetch_batch, ctx, batch, start, end))
            for batch in batched(numbered, size)]
    found = ctx.gather(jobs).get(COLLECTION, [])
    ctx.metrics = sorted(found, key=_series_key)
    if not found:
        ctx.unread_if_late(COLLECTION)


def choose_period(since: dt.timedelta) -> int:
    """60 s up to 3 h; else the first coarse period that keeps a series within MAX_POINTS
    (and, past 63 days, hourly or coarser: finer data has expired)."""
    seconds = max(since.total_seconds(), FINE_PERIOD)
    if since <= FINE_WINDOW:
        return FINE_PERIOD
    for period in COARSE_PERIODS:
        if seconds / period <= MAX_POINTS and (since <= HOURLY_ONLY_AFTER or period >= 3600):
            return period
    return COARSE_PERIODS[-1]


def window(since: dt.timedelta, now: dt.datetime, period: int) -> tuple[dt.datetime, dt.datetime]:
    """Whole minutes ending at ``now``; the start on a period boundary (CloudWatch answers
    aligned windows faster and buckets them the same way every scan)."""
    end = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    start = end - since
    start -= dt.timedelta(seconds=int(start.timestamp()) % period)
    return start, end


def batch_size(since: dt.timedelta, period: int) -> int:
    """Queries per call: 500, or fewer when their points would not fit one response (each
    NextToken page is billed again, so fitting one page is cheaper than paging)."""
    points = math.ceil(since.total_seconds() / period) + 1
    return max(1, min(MAX_QUERIES, MAX_DATAPOINTS // points))


def plan_queries(res: Resources, period: int) -> list[Query]:
    """Every series of the plan; one with an empty dimension value (a resource missing the
    field it is named by) is not asked: botocore would reject the whole call for it."""
    return [Query(spec, d, max(period, spec.min_period))
            for spec in METRIC_PLAN for d in spec.source(res) if all(v for _, v in d)]


def request(qid: str, query: Query) -> Item:
    """The MetricDataQuery: dimensions in name order (moto matches them in order; CloudWatch
    as a set), and ReturnData, so every query comes back."""
    metric = {"Namespace": query.spec.namespace, "MetricName": query.spec.name,
              "Dimensions": [{"Name": k, "Value": v} for k, v in query.dimensions]}
    return {"Id": qid, "ReturnData": True,
            "MetricStat": {"Metric": metric, "Period": query.period, "Stat": query.spec.stat}}


def fetch_batch(
    ctx: Context, batch: list[tuple[str, Query]], start: dt.datetime, end: dt.datetime
) -> list[Item]:
    """One GetMetricData call and its NextToken pages; the results of an id are spread over
    pages, so they are joined before sorting. A failed call records one error, keeps nothing."""
    api = ctx.client("cloudwatch")
    action = iam_action(api, "get_metric_data")
    points: dict[str, list[tuple[Any, Any]]] = {}
    status: dict[str, str] = {}
    try:
        for page in pages(api, "get_metric_data", StartTime=start, EndTime=end,
                          MetricDataQueries=[request(qid, q) for qid, q in batch]):
            for result in page.get("MetricDataResults", []):
                qid = str(result.get("Id"))
                points.setdefault(qid, []).extend(
                    zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
                status[qid] = str(result.get("StatusCode") or "Complete")
            ctx.step(f"{action} ({len(batch)})")
    except Exception as exc:
        ctx.fail(COLLECTION, action, exc)
        ctx.step(f"{action} ({len(batch)}) failed")
        return []
    failed = [(qid, q) for qid, q in batch if status.get(qid, "NoResult") in UNANSWERED]
    if failed:
        record_unanswered(ctx, action, failed, status)
    bad = {qid for qid, _ in failed}
    return [series(q, points.get(qid, [])) for qid, q in batch if qid not in bad]


def record_unanswered(
    ctx: Context, action: str, failed: list[tuple[str, Query]], status: Mapping[str, str]
) -> None:
    """One error per status for the queries CloudWatch did not answer (named, first three)."""
    by_status: dict[str, list[Query]] = {}
    for qid, q in failed:
        by_status.setdefault(status.get(qid, "NoResult"), []).append(q)
    for code, queries in sorted(by_status.items()):
        names = ", ".join(label(q) for q in queries[:3])
        more = f" and {len(queries) - 3} more" if len(queries) > 3 else ""
        ctx.recorder.add({"collection": COLLECTION, "operation": action, "code": code,
                          "message": f"{len(queries)} series not returned: {names}{more}"})


def label(query: Query) -> str:
    where = ",".join(f"{k}={v}" for k, v in query.dimensions)
    return f"{query.spec.namespace} {query.spec.name} {query.spec.stat} {where}"


def series(query: Query, points: Iterable[tuple[Any, Any]]) -> Item:
    """The bundle's series: ascending in time (CloudWatch answers newest first), UTC ISO
    timestamps, float values."""
    ordered = sorted(((_utc(t), float(v)) for t, v in points), key=lambda p: p[0])
    return {"namespace": query.spec.namespace, "name": query.spec.name,
            "dimensions": dict(query.dimensions), "stat": query.spec.stat,
            "period": query.period, "timestamps": [t.isoformat() for t, _ in ordered],
            "values": [v for _, v in ordered]}


def _utc(stamp: Any) -> dt.datetime:
    when = stamp if isinstance(stamp, dt.datetime) else dt.datetime.fromisoformat(str(stamp))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def _series_key(s: Item) -> tuple[str, str, str, str]:
    where = ",".join(f"{k}={v}" for k, v in sorted(s["dimensions"].items()))
    return (s["namespace"], s["name"], where, s["stat"])
