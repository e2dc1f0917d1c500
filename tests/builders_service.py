"""Builders for the service checks' fixtures, validated against botocore's output shapes.

ECS container instances, service events and deployments; Application Auto Scaling
scalable targets and policies; EC2 Auto Scaling groups; EC2 subnets; ELBv2 target groups;
and CloudWatch series in the bundle's `metrics` form (no botocore shape: see CONTRACTS §1).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.builders import ACCOUNT, NOW, REGION, ago, bundle, cluster, iso, shaped, task

_SEQ = iter(range(1, 10**9))


def _hex(n: int, width: int = 32) -> str:
    return f"{n:0{width}x}"


def event(message: str, minutes_ago: float = 5.0) -> dict[str, Any]:
    return shaped("ecs", "ServiceEvent", {"id": f"{next(_SEQ):08d}-0000-4000-8000-000000000000",
                                          "createdAt": ago(minutes=minutes_ago),
                                          "message": message})


def deployment(*, status: str = "PRIMARY", rollout: str | None = "COMPLETED",
               minutes_ago: float = 120.0, family: str = "web", revision: int = 1,
               desired: int = 2, running: int = 2, failed_tasks: int = 0,
               reason: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"ecs-svc/{next(_SEQ):019d}", "status": status,
        "taskDefinition": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}",
        "desiredCount": desired, "runningCount": running, "pendingCount": 0,
        "failedTasks": failed_tasks, "createdAt": ago(minutes=minutes_ago),
        "updatedAt": ago(minutes=minutes_ago / 2)}
    if rollout:
        out["rolloutState"] = rollout
    if reason:
        out["rolloutStateReason"] = reason
    return shaped("ecs", "Deployment", out)


def ci_arn(ec2_id: str, cluster_name: str = "prod") -> str:
    return (f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{cluster_name}/"
            f"{_hex(int(ec2_id.removeprefix('i-'), 16))}")


def container_instance(ec2_id: str, cluster_name: str = "prod", *, az: str = "us-east-1a",
                       instance_type: str = "m5.large", running: int = 0,
                       status: str = "ACTIVE", connected: bool = True,
                       attrs: dict[str, str] | None = None) -> dict[str, Any]:
    attributes = {"ecs.availability-zone": az, "ecs.instance-type": instance_type,
                  "ecs.os-type": "linux", **(attrs or {})}
    return shaped("ecs", "ContainerInstance", {
        "containerInstanceArn": ci_arn(ec2_id, cluster_name), "ec2InstanceId": ec2_id,
        "status": status, "agentConnected": connected, "runningTasksCount": running,
        "pendingTasksCount": 0, "registeredAt": ago(days=3),
        "versionInfo": {"agentVersion": "1.89.1"},
        "attributes": [{"name": k, "value": v} for k, v in sorted(attributes.items())]})


def task_on(service_name: str, ci: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A task of `service_name` placed on container instance `ci` (EC2 launch type)."""
    return task(service_name, containerInstanceArn=ci["containerInstanceArn"],
                launchType="EC2", **extra)


def resource_id(service_name: str, cluster_name: str = "prod") -> str:
    return f"service/{cluster_name}/{service_name}"


def scalable_target(service_name: str, *, min_capacity: int = 1, max_capacity: int = 10,
                    suspended_out: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ServiceNamespace": "ecs", "ResourceId": resource_id(service_name),
        "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": min_capacity,
        "MaxCapacity": max_capacity, "CreationTime": ago(days=30),
        "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.application-autoscaling"
                   ".amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"}
    if suspended_out:
        out["SuspendedState"] = {"DynamicScalingInSuspended": False,
                                 "DynamicScalingOutSuspended": True,
                                 "ScheduledScalingSuspended": False}
    return shaped("application-autoscaling", "ScalableTarget", out)


def target_tracking(service_name: str, *, target: float = 60.0,
                    metric: str = "ECSServiceAverageCPUUtilization",
                    scale_out_cooldown: int | None = 60) -> dict[str, Any]:
    config: dict[str, Any] = {"TargetValue": target,
                              "PredefinedMetricSpecification": {"PredefinedMetricType": metric}}
    if scale_out_cooldown is not None:
        config["ScaleOutCooldown"] = scale_out_cooldown
    name = f"{service_name}-cpu-target"
    return shaped("application-autoscaling", "ScalingPolicy", {
        "PolicyARN": f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:{_hex(7, 8)}:"
                     f"resource/ecs/{resource_id(service_name)}:policyName/{name}",
        "PolicyName": name, "ServiceNamespace": "ecs", "ResourceId": resource_id(service_name),
        "ScalableDimension": "ecs:service:DesiredCount", "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": config, "CreationTime": ago(days=30)})


def asg_arn(name: str) -> str:
    return (f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:"
            f"f44d7956-164c-4d32-a151-aec395c25eee:autoScalingGroupName/{name}")


def auto_scaling_group(name: str, *, desired: int, max_size: int,
                       min_size: int = 0) -> dict[str, Any]:
    return shaped("autoscaling", "AutoScalingGroup", {
        "AutoScalingGroupName": name, "AutoScalingGroupARN": asg_arn(name),
        "MinSize": min_size, "MaxSize": max_size, "DesiredCapacity": desired,
        "DefaultCooldown": 300, "AvailabilityZones": ["us-east-1a", "us-east-1b"],
        "HealthCheckType": "EC2", "CreatedTime": ago(days=60), "Instances": []})


def capacity_provider(name: str, asg_name: str) -> dict[str, Any]:
    return shaped("ecs", "CapacityProvider", {
        "capacityProviderArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:capacity-provider/{name}",
        "name": name, "status": "ACTIVE",
        "autoScalingGroupProvider": {"autoScalingGroupArn": asg_arn(asg_name),
                                     "managedScaling": {"status": "ENABLED",
                                                        "targetCapacity": 100},
                                     "managedTerminationProtection": "DISABLED"}})


def ec2_cluster(name: str = "prod", providers: tuple[str, ...] = ()) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if providers:
        extra = {"capacityProviders": list(providers), "defaultCapacityProviderStrategy": [
            {"capacityProvider": p, "weight": 1, "base": 0} for p in providers]}
    return cluster(name, **extra)


def subnet(subnet_id: str, az: str) -> dict[str, Any]:
    return shaped("ec2", "Subnet", {"SubnetId": subnet_id, "AvailabilityZone": az,
                                    "VpcId": "vpc-0a1b2c3d", "State": "available",
                                    "CidrBlock": "10.0.0.0/24"})


def target_group(arn: str, *, interval: int = 30, unhealthy: int = 2) -> dict[str, Any]:
    return shaped("elbv2", "TargetGroup", {
        "TargetGroupArn": arn, "TargetGroupName": arn.rsplit("/", 2)[-2], "Protocol": "HTTP",
        "Port": 8080, "HealthCheckIntervalSeconds": interval,
        "UnhealthyThresholdCount": unhealthy, "HealthyThresholdCount": 5,
        "HealthCheckPath": "/healthz", "TargetType": "ip"})


def tg_arn(name: str = "prod-web") -> str:
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{name}/69ffe37c0167f71c"


def series(namespace: str, name: str, values: list[float], *, service_name: str = "web",
           stat: str = "Average", period: int = 300) -> dict[str, Any]:
    """A CloudWatch series ending at NOW, one datapoint per `period` seconds."""
    start = NOW - dt.timedelta(seconds=period * (len(values) - 1))
    return {"namespace": namespace, "name": name,
            "dimensions": {"ClusterName": "prod", "ServiceName": service_name},
            "stat": stat, "period": period,
            "timestamps": [iso(start + dt.timedelta(seconds=period * i))
                           for i in range(len(values))], "values": values}


def with_metrics(b: dict[str, Any], *metrics: dict[str, Any]) -> dict[str, Any]:
    b["metrics"] = list(metrics)
    return b


def full_bundle(**resources: list[dict[str, Any]]) -> dict[str, Any]:
    """`bundle()` with a default cluster, so every test names only what it is about."""
    resources.setdefault("clusters", [cluster()])
    return bundle(**resources)
