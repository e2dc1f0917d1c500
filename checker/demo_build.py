"""Seeding the demo account: :func:`seed` builds :mod:`checker.demo_scenario` in a running
``demo_account()``. On the infrastructure of :mod:`checker.demo_network` it creates the log
groups, task definitions, services, tasks, target registrations and autoscaling, writes what
moto's API cannot express with :mod:`checker.moto_seed`, then the CloudWatch metric history.
moto is imported only inside functions, so importing this module loads none.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checker import demo_scenario as sc
from checker.demo_network import (
    Clients,
    Instance,
    Network,
    ago,
    build_capacity,
    build_load_balancer,
    build_network,
    ecs_ami,
    seed_instances,
)

if TYPE_CHECKING:
    from checker.demo import DemoAccount
    from checker.moto_seed import ContainerSpec

Sampler = Callable[[float], list[float]]  # minutes ago -> the samples taken then


@dataclass
class _Built:
    """One service as created: its planned tasks and what AWS gave them."""

    service: sc.Service
    tasks: tuple[sc.PlannedTask, ...]
    arns: tuple[str, ...] = ()
    ips: dict[str, str] = field(default_factory=dict)  # task ARN -> ENI address (awsvpc)
    host_ports: dict[str, int] = field(default_factory=dict)  # task ARN -> host port (bridge)


def seed(account: DemoAccount) -> None:
    """Build the scenario in dependency order: network, capacity and ALB, then the services."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    aws = Clients(account)
    net = build_network(aws.ec2)
    ami = ecs_ami(aws.ssm)
    instances = build_capacity(aws, net, ami)
    target_groups = build_load_balancer(aws.elbv2, net)
    built = []
    for offset, service in enumerate(sc.SERVICES):
        b = _Built(service, sc.plan_tasks(service, offset))
        _build_service(aws, b, net, instances, target_groups.get(service.name), now)
        built.append(b)
    seed_instances([(b.service, b.tasks) for b in built], instances, ami, now)
    _put_metrics(aws.cw, built, instances, now)


# --- services and their tasks -------------------------------------------------------------


def _build_service(aws: Clients, b: _Built, net: Network, instances: list[Instance],
                   target_group: str | None, now: dt.datetime) -> None:
    service = b.service
    aws.logs.create_log_group(logGroupName=f"/ecs/{sc.CLUSTER}/{service.name}")
    aws.logs.put_retention_policy(logGroupName=f"/ecs/{sc.CLUSTER}/{service.name}",
                                  retentionInDays=30)
    for _ in range(service.revision - 1):  # earlier revisions, so rollbacks have a target
        aws.ecs.register_task_definition(**_task_definition(service))
    task_definition = aws.ecs.register_task_definition(**_task_definition(service))
    td_arn = task_definition["taskDefinition"]["taskDefinitionArn"]
    created = aws.ecs.create_service(**_service_request(service, td_arn, net, target_group))
    deployment_id = created["service"]["deployments"][0]["id"]
    _launch(aws.ecs, b, td_arn, deployment_id, net, instances)
    for task, arn in zip(b.tasks, b.arns, strict=True):
        _seed_task(b, task, arn, deployment_id, now)
    if target_group:
        _register_targets(aws.elbv2, b, target_group, instances)
    if service.scaling:
        _autoscaling(aws.aas, service)
    _seed_service(b, deployment_id, now)


def _container_definition(service: sc.Service, c: sc.Container) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": c.name, "image": c.image, "cpu": c.cpu, "essential": c.essential,
        "environment": [{"name": k, "value": v} for k, v in c.environment],
        "secrets": [{"name": k, "valueFrom": v} for k, v in c.secrets],
    }
    if c.memory is not None:
        d["memory"] = c.memory
    if c.memory_reservation is not None:
        d["memoryReservation"] = c.memory_reservation
    if c.port:
        d["portMappings"] = [{"containerPort": c.port, "protocol": c.protocol}]
    if c.command:
        d["command"] = list(c.command)
    if c.health_check:
        d["healthCheck"] = {"command": ["CMD-SHELL", c.health_check], "interval": 30,
                            "timeout": 5, "retries": 3, "startPeriod": 60}
    if c.logs:
        d["logConfiguration"] = {"logDriver": "awslogs", "options": {
            "awslogs-group": f"/ecs/{sc.CLUSTER}/{service.name}", "awslogs-region": sc.REGION,
            "awslogs-stream-prefix": service.name}}
    return d


def _task_definition(service: sc.Service) -> dict[str, Any]:
    request: dict[str, Any] = {
        "family": service.name,
        "containerDefinitions": [_container_definition(service, c) for c in service.containers],
        "executionRoleArn": f"{sc.ROLE}/ecsTaskExecutionRole",
        "taskRoleArn": f"{sc.ROLE}/{sc.CLUSTER}-{service.name}-task",
        "tags": [{"key": "service", "value": service.name}],
    }
    if service.launch_type == "FARGATE":
        request.update(networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                       cpu=str(service.task_cpu), memory=str(service.task_memory),
                       runtimePlatform={"cpuArchitecture": "X86_64",
                                        "operatingSystemFamily": "LINUX"})
    else:
        # No requiresCompatibilities (AWS then defaults to EC2): with ["EC2"] moto insists on
        # a hard memory limit, which AWS does not, and `reports` has only a soft one.
        request.update(networkMode="bridge")
    return request


def _service_request(service: sc.Service, td_arn: str, net: Network,
                     target_group: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "cluster": sc.CLUSTER, "serviceName": service.name, "taskDefinition": td_arn,
        "desiredCount": service.desired, "launchType": service.launch_type,
        "schedulingStrategy": "REPLICA", "propagateTags": "SERVICE",
        "tags": [{"key": "service", "value": service.name}],
    }
    if service.launch_type == "FARGATE":
        request["platformVersion"] = "LATEST"
        request["networkConfiguration"] = _awsvpc(list(net.private), net.tasks_sg)
    if target_group:
        container = next(c for c in service.containers if c.port)
        request["loadBalancers"] = [{"targetGroupArn": target_group,
                                     "containerName": container.name,
                                     "containerPort": container.port}]
    return request


def _awsvpc(subnets: list[str], sg: str) -> dict[str, Any]:
    return {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg],
                                    "assignPublicIp": "DISABLED"}}


def _launch(ecs: Any, b: _Built, td_arn: str, deployment_id: str, net: Network,
            instances: list[Instance]) -> None:
    """Start the planned tasks as the service scheduler would (group and startedBy).

    EC2 tasks go through start_task, which places on the named instance: moto's run_task
    fills instances in order, which would put a service in one AZ. Fargate tasks are started
    one AZ at a time, as moto puts a task's ENI in the first subnet it is given.
    """
    common = {"cluster": sc.CLUSTER, "taskDefinition": td_arn, "startedBy": deployment_id,
              "group": f"service:{b.service.name}"}
    arns = [""] * len(b.tasks)
    if b.service.launch_type == "EC2":
        started = ecs.start_task(containerInstances=[instances[t.slot].arn for t in b.tasks],
                                 **common)["tasks"]
        b.arns = tuple(t["taskArn"] for t in started)
        return
    for slot in range(len(sc.AZS)):
        indexes = [i for i, t in enumerate(b.tasks) if t.slot == slot]
        if not indexes:
            continue
        subnets = list(net.private[slot:] + net.private[:slot])
        tasks = ecs.run_task(count=len(indexes), launchType="FARGATE", platformVersion="1.4.0",
                             networkConfiguration=_awsvpc(subnets, net.tasks_sg),
                             **common)["tasks"]
        for i, task in zip(indexes, tasks, strict=True):
            arns[i] = task["taskArn"]
    b.arns = tuple(arns)


def _seed_task(b: _Built, task: sc.PlannedTask, arn: str, deployment_id: str,
               now: dt.datetime) -> None:
    """What moto leaves out of a task: times, AZ, sizes, health, every container, an address
    in its subnet, and for a stopped task how it stopped."""
    from checker import moto_seed

    running = task.status == "RUNNING"
    moto_seed.enrich_task(arn, containers=_containers(b, task, arn, running),
                          **_task_fields(b.service, task, now))
    if b.service.launch_type == "FARGATE":
        b.ips[arn] = _task_ip(b, task)
        moto_seed.set_task_eni_address(arn, b.ips[arn])
    if task.stop is not None and task.started is not None and task.stopped is not None:
        exits = {name: (code, reason) for name, code, reason in task.stop.exits}
        containers = _containers(b, task, arn, running=False)
        for spec in containers:
            spec["exit_code"], spec["reason"] = exits.get(spec["name"], (None, None))
        moto_seed.stop_task_with(
            arn, stop_code=task.stop.stop_code, containers=containers,
            stopped_reason=task.stop.reason.format(deployment=deployment_id),
            started_at=ago(now, task.started), stopped_at=ago(now, task.stopped))


def _task_fields(service: sc.Service, task: sc.PlannedTask, now: dt.datetime) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "created_at": ago(now, task.created), "availability_zone": sc.AZS[task.slot],
        "connectivity": "CONNECTED", "connectivity_at": ago(now, task.created - 0.05),
        "pull_started_at": ago(now, task.created - 0.1), "version": 2,
        "launch_type": service.launch_type, "health_status": "UNKNOWN",
    }
    if service.launch_type == "FARGATE":
        fields.update(cpu=str(service.task_cpu), memory=str(service.task_memory),
                      platform_version="1.4.0", platform_family="Linux",
                      ephemeral_storage={"sizeInGiB": 20})
    if task.started is None:
        fields["last_status"] = "PENDING"
        return fields
    checked = all(c.health_check for c in service.containers if c.essential)
    fields.update(started_at=ago(now, task.started),
                  pull_stopped_at=ago(now, task.started + 0.05))
    if checked and task.status == "RUNNING":
        fields["health_status"] = "HEALTHY"
    return fields


def _task_ip(b: _Built, task: sc.PlannedTask) -> str:
    subnet = ipaddress.ip_network(sc.PRIVATE_CIDRS[task.slot])
    return str(subnet[32 + 16 * sc.SERVICES.index(b.service) + task.number])


def _containers(b: _Built, task: sc.PlannedTask, arn: str,
                running: bool) -> list[ContainerSpec]:
    specs: list[ContainerSpec] = []
    for c in b.service.containers:
        spec: ContainerSpec = {"name": c.name, "health_status": "UNKNOWN"}
        if task.started is not None:
            spec["image_digest"] = _image_digest(c.image)
        if running and c.health_check:
            spec["health_status"] = "HEALTHY"
        if task.status == "PENDING":
            spec["last_status"] = "PENDING"
        if b.service.launch_type == "EC2" and c.port and task.started is not None:
            port = b.host_ports.setdefault(arn, _next_host_port(b, task))
            spec["network_bindings"] = [{"bindIP": "0.0.0.0", "containerPort": c.port,
                                         "hostPort": port, "protocol": c.protocol}]
        specs.append(spec)
    return specs


def _next_host_port(b: _Built, task: sc.PlannedTask) -> int:
    # ECS hands out ephemeral host ports per instance; services differ by their slot offset
    return 32768 + 100 * sc.SERVICES.index(b.service) + task.number


def _image_digest(image: str) -> str:
    """A stable, realistic-looking digest for an image reference."""
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def _register_targets(elbv2: Any, b: _Built, target_group: str,
                      instances: list[Instance]) -> None:
    port = next(c.port for c in b.service.containers if c.port)
    targets = []
    for task, arn in zip(b.tasks, b.arns, strict=True):
        if task.status != "RUNNING":
            continue
        if b.service.launch_type == "FARGATE":
            targets.append({"Id": b.ips[arn], "Port": port})
        else:
            targets.append({"Id": instances[task.slot].instance_id, "Port": b.host_ports[arn]})
    elbv2.register_targets(TargetGroupArn=target_group, Targets=targets)


def _autoscaling(aas: Any, service: sc.Service) -> None:
    assert service.scaling is not None
    low, high, target = service.scaling
    resource = f"service/{sc.CLUSTER}/{service.name}"
    aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource,
                                 ScalableDimension="ecs:service:DesiredCount",
                                 MinCapacity=low, MaxCapacity=high)
    aas.put_scaling_policy(
        PolicyName=f"{service.name}-cpu-target", ServiceNamespace="ecs", ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})


def _seed_service(b: _Built, deployment_id: str, now: dt.datetime) -> None:
    from checker import moto_seed

    service = b.service
    running = sum(t.status == "RUNNING" for t in b.tasks)
    pending = sum(t.status == "PENDING" for t in b.tasks)
    ids = tuple(arn.rsplit("/", 1)[-1] for arn in b.arns)
    events = sc.derived_events(service, b.tasks, ids) + list(service.events)
    state, reason = service.rollout or ("COMPLETED", f"ECS deployment {deployment_id} completed.")
    last_change = min([service.deployed, *(minutes for minutes, _ in events)])
    deployment = {
        "createdAt": ago(now, service.deployed), "updatedAt": ago(now, last_change),
        "desiredCount": service.desired, "runningCount": running, "pendingCount": pending,
        "failedTasks": len(service.stopped) if service.rollout else 0,
        "rolloutState": state, "rolloutStateReason": reason,
    }
    fields: dict[str, Any] = {
        "created_at": ago(now, service.created), "running_count": running,
        "pending_count": pending, "created_by": f"{sc.ROLE}/platform-deployer",
        "enable_execute_command": False, "deployment_configuration": {
            "deploymentCircuitBreaker": {"enable": True,
                                         "rollback": service.circuit_breaker_rollback},
            "maximumPercent": 200, "minimumHealthyPercent": 100},
    }
    if service.balancer:
        fields["health_check_grace_period_seconds"] = 60
    if service.launch_type == "EC2":
        fields["placement_strategy"] = [
            {"type": "spread", "field": "attribute:ecs.availability-zone"},
            {"type": "spread", "field": "instanceId"}]
    moto_seed.set_service_fields(sc.CLUSTER, service.name, deployment=deployment, **fields)
    for minutes, message in events:
        moto_seed.add_service_event(sc.CLUSTER, service.name, message, when=ago(now, minutes))


# --- CloudWatch: the metric history the scan reads ------------------------------------------


def _put_metrics(cw: Any, built: list[_Built], instances: list[Instance],
                 now: dt.datetime) -> None:
    """AWS/ECS utilisation and Container Insights task counts per service, AWS/EC2 CPU per
    instance: 5-minute datapoints of 1-minute samples taken from the task timeline."""
    data: list[dict[str, Any]] = []
    for b in built:
        dims = [{"Name": "ClusterName", "Value": sc.CLUSTER},
                {"Name": "ServiceName", "Value": b.service.name}]
        for name, sample in _utilisation(b).items():
            data += _series("AWS/ECS", name, dims, "Percent", now, sample)
        for name, sample in _task_counts(b).items():
            data += _series("ECS/ContainerInsights", name, dims, "Count", now, sample)
    for slot, instance in enumerate(instances):
        dims = [{"Name": "InstanceId", "Value": instance.instance_id}]
        data += _series("AWS/EC2", "CPUUtilization", dims, "Percent", now,
                        functools.partial(_instance_cpu, built, slot))
    for namespace in sorted({d["Namespace"] for d in data}):
        items = [{k: v for k, v in d.items() if k != "Namespace"} for d in data
                 if d["Namespace"] == namespace]
        for start in range(0, len(items), 500):
            cw.put_metric_data(Namespace=namespace, MetricData=items[start:start + 500])


def _utilisation(b: _Built) -> dict[str, Sampler]:
    return {name: functools.partial(sc.utilisation, b.service, b.tasks, metric=name)
            for name in ("CPUUtilization", "MemoryUtilization")}


def _task_counts(b: _Built) -> dict[str, Sampler]:
    def desired(t: float) -> list[float]:
        count = sc.desired_at(b.service, t)
        return [] if count is None else [float(count)]

    def running(t: float) -> list[float]:
        return [] if t > b.service.created else [float(sum(x.alive_at(t) for x in b.tasks))]

    def pending(t: float) -> list[float]:
        return [] if t > b.service.created else [float(sum(x.pending_at(t) for x in b.tasks))]

    return {"DesiredTaskCount": desired, "RunningTaskCount": running, "PendingTaskCount": pending}


def _instance_cpu(built: list[_Built], slot: int, t: float) -> list[float]:
    busy = 0.0
    for b in built:
        if b.service.launch_type == "EC2":
            units = sum(c.cpu for c in b.service.containers)
            for task in b.tasks:
                if task.slot == slot and task.started is not None and task.alive_at(t):
                    busy += units * b.service.cpu(task.started - t) / 100.0
    return [round(3.0 + 100.0 * busy / sc.REGISTERED_CPU, 2)]


def _series(namespace: str, name: str, dims: list[dict[str, str]], unit: str, now: dt.datetime,
            sample: Sampler) -> list[dict[str, Any]]:
    """One datapoint per period; each aggregates the samples of its minutes."""
    anchor = now.replace(second=0) - dt.timedelta(minutes=now.minute % sc.METRIC_PERIOD)
    offset = (now - anchor).total_seconds() / 60.0
    period = int(sc.METRIC_PERIOD)
    points = []
    for k in range(int(sc.METRIC_WINDOW // period)):
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
