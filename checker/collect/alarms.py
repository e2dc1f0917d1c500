"""CloudWatch alarms → ``alarms`` (CONTRACTS.md §5): the account's own symptoms, with when
they fired.

Why: an alarm in ALARM is a symptom the team already decided matters, and its
``StateTransitionedTimestamp`` is an onset no metric window has to guess. An alarm that does
not exist is a blind spot (the ``observability-gaps`` diagnosis names services with no alarm
on CPU, memory, 5xx or unhealthy hosts).

DescribeAlarms has no filter by dimension, so this module reads the Region's metric alarms
(``MaxRecords`` 100, the maximum) and keeps those whose dimensions, or the dimensions of a
metric-math alarm's ``Metrics[]``, name a scanned resource: the cluster or its services
(``ClusterName``/``ServiceName``), their target groups and load balancers (the resource part
of the ARN, which is what the ELB dimensions hold), the container instances' EC2 instances
and Auto Scaling groups, and the NAT gateways on the tasks' routes.

Budget: at most :data:`PAGE_BUDGET` (20) DescribeAlarms calls a scan, 2,000 alarms, about
2 s at the 9 requests/s quota (AWS-FACTS.md §2d). Past it the alarms read so far are kept
with a ``"level": "warning"`` entry (``Truncated``). A failed call (AccessDenied) leaves the
collection absent and the error recorded: a check that needs alarms is then ``unknown``.
Runs after cloudwatch.py, once every resource collector has stored its resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from checker.collect.aws import Context, Item, iam_action, pages

#: The one action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({"cloudwatch:DescribeAlarms"})

COLLECTION = "alarms"
PAGE_BUDGET = 20  # DescribeAlarms calls per scan (module docstring)
PAGE_SIZE = 100  # MaxRecords, its maximum
TRUNCATED = "Truncated"


def collect_alarms(ctx: Context) -> None:
    """Fill ``alarms`` with the metric alarms on the scanned resources."""
    read_alarms(ctx, PAGE_BUDGET)


def read_alarms(ctx: Context, budget: int) -> None:
    """:func:`collect_alarms` with the page budget passed in."""
    api = ctx.client("cloudwatch")
    action = iam_action(api, "describe_alarms")
    wanted = scanned_dimensions(ctx.resources)
    kept: list[Item] = []
    used = 0
    try:
        for page in pages(api, "describe_alarms", AlarmTypes=["MetricAlarm"],
                          MaxRecords=PAGE_SIZE):
            used += 1
            found = page.get("MetricAlarms", [])
            ctx.step(f"{action} ({len(found)})")
            kept.extend(a for a in found if on_scanned(a, wanted))
            if page.get("NextToken") and used >= budget:
                ctx.recorder.add({
                    "collection": COLLECTION, "operation": action, "code": TRUNCATED,
                    "level": "warning",
                    "message": f"alarms cut short: the budget of {budget} DescribeAlarms "
                               f"pages ({budget * PAGE_SIZE} alarms) a scan ran out; "
                               f"alarms after them are not read"})
                break
    except Exception as exc:
        ctx.resources.pop(COLLECTION, None)
        ctx.fail(COLLECTION, action, exc)
        return
    ctx.store(COLLECTION, kept, "AlarmArn")


def arn_resource(arn: str) -> str:
    """``arn:…:targetgroup/web/abc`` → ``targetgroup/web/abc`` (an ELB dimension's value)."""
    return arn.split(":", 5)[5] if arn.count(":") >= 5 else arn


def scanned_dimensions(res: Mapping[str, list[Item]]) -> set[tuple[str, str]]:
    """(dimension name, value) pairs that name a scanned resource."""
    out: set[tuple[str, str]] = set()
    for cluster in res.get("clusters", []):
        out.add(("ClusterName", str(cluster.get("clusterName"))))
    for svc in res.get("services", []):
        out.add(("ServiceName", str(svc.get("serviceName"))))
    for tg in res.get("target_groups", []):
        out.add(("TargetGroup", arn_resource(str(tg.get("TargetGroupArn")))))
    for lb in res.get("load_balancers", []):
        name = arn_resource(str(lb.get("LoadBalancerArn")))
        out.add(("LoadBalancer", name.removeprefix("loadbalancer/")))
    for ci in res.get("container_instances", []):
        out.add(("InstanceId", str(ci.get("ec2InstanceId"))))
    for asg in res.get("auto_scaling_groups", []):
        out.add(("AutoScalingGroupName", str(asg.get("AutoScalingGroupName"))))
    for nat in res.get("nat_gateways", []):
        out.add(("NatGatewayId", str(nat.get("NatGatewayId"))))
    return out


def _dimension_lists(alarm: Item) -> Iterable[Any]:
    yield alarm.get("Dimensions")
    for query in alarm.get("Metrics") or []:
        if isinstance(query, dict):
            stat = query.get("MetricStat")
            metric = stat.get("Metric") if isinstance(stat, dict) else None
            if isinstance(metric, dict):
                yield metric.get("Dimensions")


def on_scanned(alarm: Item, wanted: set[tuple[str, str]]) -> bool:
    """Whether a dimension of the alarm (or of a metric it computes from) names a scanned
    resource. ``ServiceName`` alone also matches a same-named service of another cluster,
    so a service alarm must name a scanned cluster too."""
    for dims in _dimension_lists(alarm):
        pairs = {(str(d.get("Name")), str(d.get("Value")))
                 for d in dims or [] if isinstance(d, dict)}
        names = {n for n, _ in pairs}
        hits = pairs & wanted
        if not hits:
            continue
        if "ServiceName" in names and "ClusterName" in names:
            if {n for n, _ in hits} >= {"ServiceName", "ClusterName"}:
                return True
            continue
        return True
    return False
