"""Builders for the metric checks: CloudWatch series shapes and the resources they hang on.

Series are bundle v1 metric entries (ascending, one value per `period`), ending one period
before `tests.builders.NOW` (the bundle's collected_at). Shapes are value lists built on a
time grid so that the same story can be told at 300 s over 8 h or at 60 s over 3 h; noise
is Gaussian from a fixed seed so a failing test fails the same way every time. Resource
builders are validated against botocore's output shapes like tests/builders.py.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable
from typing import Any

from tests import builders as b
from tests.builders import ACCOUNT, NOW, REGION, shaped

Values = list[float | None]  # None = no datapoint in that period (a gap)


# -- time grids and shapes -------------------------------------------------------------------
def grid(hours: float, period: int) -> list[float]:
    """Hours since the window start, one per period (the last point ends at NOW)."""
    return [i * period / 3600.0 for i in range(round(hours * 3600 / period))]


def shape(hours: float, period: int, f: Callable[[float], float | None]) -> Values:
    return [f(h) for h in grid(hours, period)]


def flat(hours: float, period: int, level: float) -> Values:
    return shape(hours, period, lambda h: level)


def ramp(hours: float, period: int, start: float, per_hour: float,
         cap: float | None = None) -> Values:
    def f(h: float) -> float:
        v = start + per_hour * h
        return min(v, cap) if cap is not None else v
    return shape(hours, period, f)


def sawtooth(hours: float, period: int, low: float, per_hour: float,
             high: float = 100.0) -> Values:
    """Climb from `low` at `per_hour` and fall back to `low` on reaching `high` (OOM kill)."""
    cycle = (high - low) / per_hour
    return shape(hours, period, lambda h: low + per_hour * (h % cycle))


def steps(hours: float, period: int, points: Iterable[tuple[float, float]]) -> Values:
    """Piecewise constant: [(from_hour, value), ...] in ascending order."""
    table = sorted(points)

    def f(h: float) -> float:
        return [v for start, v in table if start <= h][-1]
    return shape(hours, period, f)


def noisy(values: Values, sigma: float, seed: int = 7, floor: float | None = 0.0) -> Values:
    rng = random.Random(seed)
    out: Values = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        n = v + rng.gauss(0.0, sigma)
        out.append(max(floor, n) if floor is not None else n)
    return out


def gaps(values: Values, *spans: tuple[int, int]) -> Values:
    """Remove the datapoints with index in [a, b) for each span."""
    out = list(values)
    for a, c in spans:
        for i in range(a, min(c, len(out))):
            out[i] = None
    return out


def series(namespace: str, name: str, dims: dict[str, str], stat: str, values: Values,
           period: int = 300, end: dt.datetime = NOW) -> dict[str, Any]:
    """A bundle metric entry; None values are left out (missing datapoints)."""
    n = len(values)
    stamps = [end - dt.timedelta(seconds=period * (n - i)) for i in range(n)]
    keep = [(t, v) for t, v in zip(stamps, values, strict=True) if v is not None]
    return {"namespace": namespace, "name": name, "dimensions": dims, "stat": stat,
            "period": period, "timestamps": [t.isoformat() for t, _ in keep],
            "values": [round(float(v), 4) for _, v in keep]}


def ecs(service: str, name: str, stat: str, values: Values, period: int = 300,
        cluster: str = "prod") -> dict[str, Any]:
    return series("AWS/ECS", name, {"ClusterName": cluster, "ServiceName": service}, stat,
                  values, period)


def ec2(instance_id: str, name: str, stat: str, values: Values,
        period: int = 300) -> dict[str, Any]:
    return series("AWS/EC2", name, {"InstanceId": instance_id}, stat, values, period)


def natgw(nat_id: str, name: str, stat: str, values: Values, period: int = 60) -> dict[str, Any]:
    return series("AWS/NATGateway", name, {"NatGatewayId": nat_id}, stat, values, period)


def alb(tg: str, name: str, stat: str, values: Values, period: int = 60,
        lb: str | None = "web") -> dict[str, Any]:
    dims = {"TargetGroup": tg_dim(tg)}
    if lb is not None:
        dims["LoadBalancer"] = lb_dim(lb)
    return series("AWS/ApplicationELB", name, dims, stat, values, period)


# -- ECS and EC2 resources -------------------------------------------------------------------
def ci_arn(instance_id: str, cluster: str = "prod") -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{cluster}/{instance_id[2:]}"


def container_instance(instance_id: str, instance_type: str | None = "t3.medium",
                       cluster: str = "prod") -> dict[str, Any]:
    attrs = [{"name": "ecs.instance-type", "value": instance_type}] if instance_type else []
    return shaped("ecs", "ContainerInstance", {
        "containerInstanceArn": ci_arn(instance_id, cluster), "ec2InstanceId": instance_id,
        "status": "ACTIVE", "agentConnected": True, "runningTasksCount": 1,
        "attributes": attrs})


def ec2_instance(instance_id: str, instance_type: str = "t3.medium",
                 subnet: str = "subnet-0a1") -> dict[str, Any]:
    return shaped("ec2", "Instance", {
        "InstanceId": instance_id, "InstanceType": instance_type, "SubnetId": subnet,
        "VpcId": "vpc-0main", "State": {"Code": 16, "Name": "running"}})


def credit_spec(instance_id: str, mode: str) -> dict[str, Any]:
    return shaped("ec2", "InstanceCreditSpecification",
                  {"InstanceId": instance_id, "CpuCredits": mode})


def ec2_task(service: str, instance_id: str, **kw: Any) -> dict[str, Any]:
    return b.task(service, containerInstanceArn=ci_arn(instance_id), **{
        "launchType": "EC2", **kw})


def awsvpc_service(name: str, subnets: list[str], **kw: Any) -> dict[str, Any]:
    conf = {"awsvpcConfiguration": {"subnets": subnets, "assignPublicIp": "DISABLED"}}
    return b.service(name, networkConfiguration=conf, **kw)


def deployment(family: str, revision: int, created: str, status: str = "PRIMARY",
               ) -> dict[str, Any]:
    return {"id": f"ecs-svc/{revision:04d}", "status": status,
            "taskDefinition": b.td_arn(family, revision), "createdAt": created,
            "rolloutState": "COMPLETED" if status == "PRIMARY" else "IN_PROGRESS"}


# -- VPC -------------------------------------------------------------------------------------
def nat_gateway(nat_id: str = "nat-0aaa1111", addresses: int = 1, state: str = "available",
                vpc: str = "vpc-0main") -> dict[str, Any]:
    addrs = [{"AllocationId": f"eipalloc-{i:08x}", "PublicIp": f"203.0.113.{i + 10}",
              "IsPrimary": i == 0, "Status": "succeeded"} for i in range(addresses)]
    return shaped("ec2", "NatGateway", {
        "NatGatewayId": nat_id, "State": state, "SubnetId": "subnet-0pub", "VpcId": vpc,
        "ConnectivityType": "public", "NatGatewayAddresses": addrs})


def route_table(rt_id: str, *, nat: str | None = None, subnets: Iterable[str] = (),
                main: bool = False, vpc: str = "vpc-0main",
                blackhole: bool = False) -> dict[str, Any]:
    routes: list[dict[str, Any]] = [{"DestinationCidrBlock": "10.0.0.0/16",
                                     "GatewayId": "local", "State": "active"}]
    if nat:
        routes.append({"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": nat,
                       "State": "blackhole" if blackhole else "active"})
    assoc: list[dict[str, Any]] = [{"RouteTableAssociationId": f"rtbassoc-{s[-4:]}",
                                    "RouteTableId": rt_id, "SubnetId": s, "Main": False}
                                   for s in subnets]
    if main:
        assoc.append({"RouteTableAssociationId": "rtbassoc-main", "RouteTableId": rt_id,
                      "Main": True})
    return shaped("ec2", "RouteTable", {"RouteTableId": rt_id, "VpcId": vpc, "Routes": routes,
                                        "Associations": assoc})


def subnet(subnet_id: str, vpc: str = "vpc-0main") -> dict[str, Any]:
    return shaped("ec2", "Subnet", {"SubnetId": subnet_id, "VpcId": vpc,
                                    "AvailabilityZone": "us-east-1a",
                                    "CidrBlock": "10.0.1.0/24"})


# -- load balancers --------------------------------------------------------------------------
def tg_arn(name: str) -> str:
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{name}/6d0ecf831eec9f09"


def lb_arn(name: str) -> str:
    return (f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/{name}/"
            "50dc6c495c0c9188")


def tg_dim(name: str) -> str:
    return f"targetgroup/{name}/6d0ecf831eec9f09"


def lb_dim(name: str) -> str:
    return f"app/{name}/50dc6c495c0c9188"


def target_group(name: str, lb: str = "web", protocol: str = "HTTP") -> dict[str, Any]:
    return shaped("elbv2", "TargetGroup", {
        "TargetGroupArn": tg_arn(name), "TargetGroupName": name, "Protocol": protocol,
        "Port": 8080, "VpcId": "vpc-0main", "TargetType": "ip",
        "LoadBalancerArns": [lb_arn(lb)]})


def lb_service(name: str, tg: str | None = None, **kw: Any) -> dict[str, Any]:
    return b.service(name, loadBalancers=[{"targetGroupArn": tg_arn(tg or name),
                                           "containerName": name, "containerPort": 8080}],
                     **kw)


# -- bundles ---------------------------------------------------------------------------------
def metrics_bundle(metrics: list[dict[str, Any]] | None,
                   **resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A bundle with these collections and series; `metrics=None` = not collected."""
    out = b.bundle(**resources)
    if metrics is None:
        del out["metrics"]
    else:
        out["metrics"] = metrics
    return out


def service_bundle(metrics: list[dict[str, Any]] | None, *services: dict[str, Any],
                   **resources: list[dict[str, Any]]) -> dict[str, Any]:
    svcs = list(services) or [b.service("web")]
    return metrics_bundle(metrics, clusters=[b.cluster()], services=svcs, **resources)
