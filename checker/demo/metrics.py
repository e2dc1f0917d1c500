"""The CloudWatch history of the demo account, put through the public ``put_metric_data``:
everything a scan reads, for the healthy services as much as for the incidents, so a check
passes or fails on data instead of being unknown for want of it.

* AWS/ECS CPU and memory utilisation and Container Insights task counts per service,
* AWS/EC2 CPU per container instance, and CPUCreditBalance for the burstable one,
* AWS/NATGateway per working NAT gateway, the traffic of the tasks in its AZ,
* AWS/ApplicationELB per target group: requests, response time, 5xx, (un)healthy hosts.

Every series is 5-minute datapoints of one-minute samples taken from the task timeline of
:mod:`checker.demo.scenario` (so they agree with the tasks a scan sees), over the last
``METRIC_WINDOW`` minutes (``TRAFFIC_WINDOW`` for NAT gateways and target groups). Like
ELB, minutes without responses or without 5xx publish nothing. Dimensions are put in name
order: moto matches a query's dimensions in the order they were put.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from checker.demo import scenario as sc
from checker.demo.network import Balancers, Network, ago

if TYPE_CHECKING:
    from checker.demo.build import Built
    from checker.demo.capacity import Instance

Sampler = Callable[[float], list[float]]  # minutes ago -> the samples taken then
Dims = list[dict[str, str]]


def put_metrics(cw: Any, built: list[Built], instances: list[Instance], net: Network,
                balancers: Balancers, now: dt.datetime) -> None:
    data: list[dict[str, Any]] = []
    for b in built:
        data += _service_series(b, now)
        if b.target_group:
            data += _target_group_series(b, balancers.load_balancer, now)
    for instance in instances:
        data += _instance_series(built, instance, now)
    for zone, nat in enumerate(net.nats):
        data += _nat_series(built, nat, zone, now)
    for namespace in sorted({d["Namespace"] for d in data}):
        items = [{k: v for k, v in d.items() if k != "Namespace"} for d in data
                 if d["Namespace"] == namespace]
        for start in range(0, len(items), 1000):  # PutMetricData takes up to 1,000 items
            cw.put_metric_data(Namespace=namespace, MetricData=items[start:start + 1000])


def _dims(**values: str) -> Dims:
    return [{"Name": k, "Value": v} for k, v in sorted(values.items())]


# --- ECS services ----------------------------------------------------------------------------


def _service_series(b: Built, now: dt.datetime) -> list[dict[str, Any]]:
    dims = _dims(ClusterName=sc.CLUSTER, ServiceName=b.service.name)
    data: list[dict[str, Any]] = []
    for name in ("CPUUtilization", "MemoryUtilization"):
        sample = functools.partial(sc.utilisation, b.service, b.tasks, metric=name)
        data += _series("AWS/ECS", name, dims, "Percent", now, sample)
    for name, count in _task_counts(b).items():
        data += _series("ECS/ContainerInsights", name, dims, "Count", now, count)
    return data


def _task_counts(b: Built) -> dict[str, Sampler]:
    def desired(t: float) -> list[float]:
        count = sc.desired_at(b.service, t)
        return [] if count is None else [float(count)]

    def running(t: float) -> list[float]:
        return [] if t > b.service.created else [float(sum(x.alive_at(t) for x in b.tasks))]

    def pending(t: float) -> list[float]:
        return [] if t > b.service.created else [float(sum(x.pending_at(t) for x in b.tasks))]

    return {"DesiredTaskCount": desired, "RunningTaskCount": running, "PendingTaskCount": pending}


# --- container instances ------------------------------------------------------------------


def _instance_series(built: list[Built], instance: Instance,
                     now: dt.datetime) -> list[dict[str, Any]]:
    dims = _dims(InstanceId=instance.instance_id)
    credits = sc.CAPACITY[instance.group].credits
    if credits is None:
        cpu: Sampler = functools.partial(_instance_cpu, built, instance)
        return _series("AWS/EC2", "CPUUtilization", dims, "Percent", now, cpu)

    def held(t: float) -> list[float]:  # flat at the baseline, as a throttled host is
        return [round(credits.cpu_at(t) + 0.2 * math.sin(t / 4.0), 2)]

    def balance(t: float) -> list[float]:
        return [credits.balance_at(t)]

    return (_series("AWS/EC2", "CPUUtilization", dims, "Percent", now, held)
            + _series("AWS/EC2", "CPUCreditBalance", dims, "Count", now, balance))


def _instance_cpu(built: list[Built], instance: Instance, t: float) -> list[float]:
    busy = 0.0
    for b in built:
        if b.service.launch_type != "EC2" or b.service.capacity != instance.group:
            continue
        units = sum(c.cpu for c in b.service.containers)
        for task in b.tasks:
            if task.slot == instance.slot and task.started is not None and task.alive_at(t):
                busy += units * b.service.cpu(task.started - t) / 100.0
    return [round(3.0 + 100.0 * busy / sc.CAPACITY[instance.group].registered_cpu, 2)]


# --- NAT gateways ----------------------------------------------------------------------------


def _tasks_in_zone(built: list[Built], zone: int, t: float) -> int:
    """Tasks whose traffic leaves through the NAT gateway of AZ ``zone`` ``t`` minutes ago:
    Fargate tasks in the shared private subnets, and the EC2 tasks of the instances there."""
    return sum(task.zone == zone and (task.alive_at(t) or task.pending_at(t))
               for b in built if b.service.subnets == "private"
               for task in b.tasks)


def _nat_series(built: list[Built], nat: str, zone: int,
                now: dt.datetime) -> list[dict[str, Any]]:
    """Healthy NAT traffic in proportion to the tasks behind it: a few hundred open
    connections, nearly every attempt answered, no drops, no port allocation errors."""
    load = functools.cache(functools.partial(_tasks_in_zone, built, zone))

    def active(t: float) -> list[float]:
        return [float(round(40 + 22 * load(t) + 15 * math.sin(t / 41.0)))]

    def attempts(t: float) -> list[float]:
        return [float(round(55 * load(t) + 10 * math.sin(t / 13.0)))]

    def established(t: float) -> list[float]:
        return [attempts(t)[0] - (1.0 if round(t) % 9 == 0 else 0.0)]

    def packets(per_task: float) -> Sampler:
        return lambda t: [float(round(per_task * load(t) * (1 + 0.1 * math.sin(t / 29.0))))]

    samplers: dict[str, tuple[Sampler, str]] = {
        "ActiveConnectionCount": (active, "Count"),
        "ConnectionAttemptCount": (attempts, "Count"),
        "ConnectionEstablishedCount": (established, "Count"),
        "ErrorPortAllocation": (lambda t: [0.0], "Count"),
        "PacketsDropCount": (lambda t: [0.0], "Count"),
        "PacketsOutToDestination": (packets(5200.0), "Count"),
        "PacketsOutToSource": (packets(7400.0), "Count"),
    }
    dims = _dims(NatGatewayId=nat)
    return [point for name, (sample, unit) in samplers.items()
            for point in _series("AWS/NATGateway", name, dims, unit, now, sample,
                                 sc.TRAFFIC_WINDOW)]


# --- ALB target groups -----------------------------------------------------------------------


def _target_group_series(b: Built, lb_arn: str, now: dt.datetime) -> list[dict[str, Any]]:
    """What the ALB publishes for the service's target group. Targets are its RUNNING tasks;
    those of a service whose health checks fail (Service.target_health) are unhealthy since
    ``unhealthy_since``: the ALB still sends them requests (all targets unhealthy: it fails
    open) but gets no response, so no TargetResponseTime and no target 5xx then."""
    service, balancer = b.service, b.service.balancer
    assert balancer is not None and b.target_group is not None

    @functools.cache
    def targets(t: float) -> int:
        return sum(task.alive_at(t) for task in b.tasks)

    def unhealthy(t: float) -> int:
        failing = service.target_health is not None and t <= service.unhealthy_since
        return targets(t) if failing else 0

    def requests(t: float) -> list[float]:
        rate = balancer.requests_per_minute * (1 + 0.15 * math.sin(t / 90.0))
        return [float(round(rate))] if targets(t) else []

    def response_time(t: float) -> list[float]:
        healthy = targets(t) - unhealthy(t)
        return [round(balancer.response_time_s * (1 + 0.12 * math.sin(t / 37.0)), 4)] if (
            healthy) else []

    def errors(t: float) -> list[float]:  # an occasional 5xx; none without responses
        return [1.0] if response_time(t) and round(t) % 13 == 0 else []

    samplers: dict[str, tuple[Sampler, str]] = {
        "RequestCount": (requests, "Count"),
        "TargetResponseTime": (response_time, "Seconds"),
        "HTTPCode_Target_5XX_Count": (errors, "Count"),
        "HealthyHostCount": (lambda t: [float(targets(t) - unhealthy(t))], "Count"),
        "UnHealthyHostCount": (lambda t: [float(unhealthy(t))], "Count"),
    }
    dims = _dims(LoadBalancer=lb_arn.split(":loadbalancer/", 1)[-1],
                 TargetGroup=b.target_group.rsplit(":", 1)[-1])
    return [point for name, (sample, unit) in samplers.items()
            for point in _series("AWS/ApplicationELB", name, dims, unit, now,
                                 _since(service.created, sample), sc.TRAFFIC_WINDOW)]


def _since(created: float, sample: Sampler) -> Sampler:
    """Nothing before the service existed."""
    return lambda t: sample(t) if t <= created else []


# --- datapoints --------------------------------------------------------------------------------


def _series(namespace: str, name: str, dims: Dims, unit: str, now: dt.datetime,
            sample: Sampler, window: float = sc.METRIC_WINDOW) -> list[dict[str, Any]]:
    """One datapoint per period over the last ``window`` minutes; each aggregates the
    samples of its minutes."""
    anchor = now.replace(second=0) - dt.timedelta(minutes=now.minute % sc.METRIC_PERIOD)
    offset = (now - anchor).total_seconds() / 60.0
    period = int(sc.METRIC_PERIOD)
    points = []
    for k in range(int(window // period)):
        start = offset + (k + 1) * period  # minutes ago
        values = [v for minute in range(period) for v in sample(start - minute)]
        if not values:
            continue
        points.append({
            "Namespace": namespace, "MetricName": name, "Dimensions": dims, "Unit": unit,
            "Timestamp": ago(now, start),
            "StatisticValues": {"SampleCount": float(len(values)), "Sum": round(sum(values), 2),
                                "Minimum": min(values), "Maximum": max(values)}})
    return points
