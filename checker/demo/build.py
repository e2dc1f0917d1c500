"""Seeding the demo account: :func:`seed` builds :mod:`checker.demo.scenario` in a running
``demo_account()``. On the network of :mod:`checker.demo.network` and the capacity of
:mod:`checker.demo.capacity` it creates the log groups, task definitions, services, tasks,
target registrations and autoscaling, writes what moto's API cannot express with
:mod:`checker.demo.moto_seed`, then the CloudWatch history (:mod:`checker.demo.metrics`) and
the night of ECS events and CloudTrail changes (:mod:`checker.demo.history`).
moto is imported only inside functions, so importing this module loads none.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checker.collect.aws import HISTORY_LOG_GROUP
from checker.demo import scenario as sc
from checker.demo.capacity import Instance, build_capacity, ecs_ami, seed_instances
from checker.demo.history import put_history
from checker.demo.logs import put_container_logs
from checker.demo.metrics import put_metrics
from checker.demo.network import (
    Clients,
    Network,
    ago,
    build_load_balancer,
    build_network,
)

if TYPE_CHECKING:
    from checker.demo.moto_seed import ContainerSpec
    from checker.demo.run import DemoAccount


@dataclass
class Built:
    """One service as created: its planned tasks and what AWS gave them."""

    service: sc.Service
    tasks: tuple[sc.PlannedTask, ...]
    target_group: str | None = None
    arns: tuple[str, ...] = ()
    ips: dict[str, str] = field(default_factory=dict)  # task ARN -> ENI address (awsvpc)
    host_ports: dict[str, int] = field(default_factory=dict)  # task ARN -> host port (bridge)


def seed(account: DemoAccount) -> None:
    """Build the scenario in dependency order: network, capacity and ALB, then the services,
    then their metric history, then the night's history log group and CloudTrail, then what
    the failing containers printed (checker.demo.logs)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    aws = Clients(account)
    # deploy/history.yaml's group, so that `scan` reads the demo's history
    aws.logs.create_log_group(logGroupName=HISTORY_LOG_GROUP)
    aws.logs.put_retention_policy(logGroupName=HISTORY_LOG_GROUP, retentionInDays=30)
    net = build_network(aws.ec2, now)
    ami = ecs_ami(aws.ssm)
    instances = build_capacity(aws, net, ami)
    balancers = build_load_balancer(aws.elbv2, net)
    built = []
    for offset, service in enumerate(sc.SERVICES):
        b = Built(service, sc.plan_tasks(service, offset, sc.zones_of(service)),
                  balancers.target_groups.get(service.name))
        _build_service(aws, b, net, instances, now)
        built.append(b)
    seed_instances([(b.service, b.tasks) for b in built], instances, ami, now)
    put_metrics(aws.cw, built, instances, net, balancers, now)
    put_history(aws, HISTORY_LOG_GROUP, now)
    put_container_logs(aws.logs, [(b.service, b.tasks, b.arns) for b in built], now)


# --- services and their tasks -------------------------------------------------------------


def _build_service(aws: Clients, b: Built, net: Network, instances: list[Instance],
                   now: dt.datetime) -> None:
    service = b.service
    aws.logs.create_log_group(logGroupName=f"/ecs/{sc.CLUSTER}/{service.name}")
    aws.logs.put_retention_policy(logGroupName=f"/ecs/{sc.CLUSTER}/{service.name}",
                                  retentionInDays=30)
    for _ in range(service.revision - 1):  # earlier revisions, so rollbacks have a target
        aws.ecs.register_task_definition(**_task_definition(service))
    task_definition = aws.ecs.register_task_definition(**_task_definition(service))
    td_arn = task_definition["taskDefinition"]["taskDefinitionArn"]
    created = aws.ecs.create_service(**_service_request(service, td_arn, net, b.target_group))
    names = {"deployment": created["service"]["deployments"][0]["id"],
             "target_group": b.target_group or ""}
    group = [i for i in instances if i.group == service.capacity]
    _launch(aws.ecs, b, td_arn, names["deployment"], net, group)
    for task, arn in zip(b.tasks, b.arns, strict=True):
        _seed_task(b, task, arn, names, now)
    if b.target_group:
        _register_targets(aws.elbv2, b, b.target_group, group)
    if service.scaling:
        _autoscaling(aws.aas, service)
    _seed_service(b, names, now)


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
        request["networkConfiguration"] = _awsvpc(
            list(net.subnets[service.subnets]), net.groups[service.security_group])
    if target_group:
        container = next(c for c in service.containers if c.port)
        request["loadBalancers"] = [{"targetGroupArn": target_group,
                                     "containerName": container.name,
                                     "containerPort": container.port}]
    if service.placement_constraints:
        request["placementConstraints"] = [{"type": kind, "expression": expression}
                                           for kind, expression in service.placement_constraints]
    return request


def _awsvpc(subnets: list[str], sg: str) -> dict[str, Any]:
    return {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg],
                                    "assignPublicIp": "DISABLED"}}


def _launch(ecs: Any, b: Built, td_arn: str, deployment_id: str, net: Network,
            instances: list[Instance]) -> None:
    """Start the planned tasks as the service scheduler would (group and startedBy).

    EC2 tasks go through start_task, which places on the named instance of the service's
    capacity group: moto's run_task fills instances in order, which would put a service in
    one AZ. Fargate tasks are started one subnet at a time, as moto puts a task's ENI in the
    first subnet it is given.
    """
    common = {"cluster": sc.CLUSTER, "taskDefinition": td_arn, "startedBy": deployment_id,
              "group": f"service:{b.service.name}"}
    arns = [""] * len(b.tasks)
    if b.service.launch_type == "EC2":
        started = ecs.start_task(containerInstances=[instances[t.slot].arn for t in b.tasks],
                                 **common)["tasks"]
        b.arns = tuple(t["taskArn"] for t in started)
        return
    own = net.subnets[b.service.subnets]
    for slot in range(len(own)):
        indexes = [i for i, t in enumerate(b.tasks) if t.slot == slot]
        if not indexes:
            continue
        subnets = list(own[slot:] + own[:slot])
        config = _awsvpc(subnets, net.groups[b.service.security_group])
        tasks = ecs.run_task(count=len(indexes), launchType="FARGATE", platformVersion="1.4.0",
                             networkConfiguration=config, **common)["tasks"]
        for i, task in zip(indexes, tasks, strict=True):
            arns[i] = task["taskArn"]
    b.arns = tuple(arns)


def _seed_task(b: Built, task: sc.PlannedTask, arn: str, names: dict[str, str],
               now: dt.datetime) -> None:
    """What moto leaves out of a task: times, AZ, sizes, health, every container, an address
    in its subnet, and for a stopped task how it stopped (ECS cuts its stoppedReason at 255
    characters; a container's reason is kept whole)."""
    from checker.demo import moto_seed

    running = task.status == "RUNNING"
    moto_seed.enrich_task(arn, containers=_containers(b, task, arn, running),
                          **_task_fields(b.service, task, now))
    if b.service.launch_type == "FARGATE":
        b.ips[arn] = _task_ip(b, task)
        moto_seed.set_task_eni_address(arn, b.ips[arn])
    if task.stop is not None and task.stopped is not None:
        exits = {name: (code, reason) for name, code, reason in task.stop.exits}
        containers = _containers(b, task, arn, running=False)
        for spec in containers:
            spec["exit_code"], spec["reason"] = exits.get(spec["name"], (None, None))
        reason = task.stop.reason.format(**names)[: sc.REASON_LIMIT]
        moto_seed.stop_task_with(
            arn, stop_code=task.stop.stop_code, containers=containers, stopped_reason=reason,
            started_at=ago(now, task.started) if task.started is not None else None,
            stopped_at=ago(now, task.stopped), never_started=task.started is None)


def _task_fields(service: sc.Service, task: sc.PlannedTask, now: dt.datetime) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "created_at": ago(now, task.created), "availability_zone": sc.AZS[task.zone],
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


def _task_ip(b: Built, task: sc.PlannedTask) -> str:
    subnet = ipaddress.ip_network(sc.SUBNET_GROUPS[b.service.subnets][task.slot][0])
    return str(subnet[32 + 16 * sc.SERVICES.index(b.service) + task.number])


def _containers(b: Built, task: sc.PlannedTask, arn: str,
                running: bool) -> list[ContainerSpec]:
    specs: list[ContainerSpec] = []
    for c in b.service.containers:
        spec: ContainerSpec = {"name": c.name, "health_status": "UNKNOWN"}
        if task.started is not None:
            spec["image_digest"] = sc.image_digest(c.image)
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


def _next_host_port(b: Built, task: sc.PlannedTask) -> int:
    # ECS hands out ephemeral host ports per instance; services differ by their slot offset
    return 32768 + 100 * sc.SERVICES.index(b.service) + task.number


def _register_targets(elbv2: Any, b: Built, target_group: str,
                      instances: list[Instance]) -> None:
    """The RUNNING tasks as targets; where the scenario says they fail the health check,
    DescribeTargetHealth says so (moto reports every registered ip target healthy)."""
    from checker.demo import moto_seed

    port = next(c.port for c in b.service.containers if c.port)
    targets: list[dict[str, Any]] = []
    for task, arn in zip(b.tasks, b.arns, strict=True):
        if task.status != "RUNNING":
            continue
        if b.service.launch_type == "FARGATE":
            targets.append({"Id": b.ips[arn], "Port": port})
        else:
            targets.append({"Id": instances[task.slot].instance_id, "Port": b.host_ports[arn]})
    elbv2.register_targets(TargetGroupArn=target_group, Targets=targets)
    if b.service.target_health:
        for target in targets:
            moto_seed.TARGET_HEALTH[(target_group, str(target["Id"]))] = b.service.target_health


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


def _seed_service(b: Built, names: dict[str, str], now: dt.datetime) -> None:
    from checker.demo import moto_seed

    service = b.service
    running = sum(t.status == "RUNNING" for t in b.tasks)
    pending = sum(t.status == "PENDING" for t in b.tasks)
    ids = tuple(arn.rsplit("/", 1)[-1] for arn in b.arns)
    events = sc.derived_events(service, b.tasks, ids, names) + list(service.events)
    state, reason = service.rollout or ("COMPLETED", "ECS deployment {deployment} completed.")
    reason = reason.format(**names)
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
            "deploymentCircuitBreaker": {"enable": service.circuit_breaker,
                                         "rollback": service.circuit_breaker_rollback
                                         and service.circuit_breaker},
            "maximumPercent": 200, "minimumHealthyPercent": 100},
    }
    if service.balancer:
        fields["health_check_grace_period_seconds"] = 60
    if service.placement_constraints:  # moto takes them in CreateService, returns none
        fields["placement_constraints"] = [{"type": kind, "expression": expression} for
                                           kind, expression in service.placement_constraints]
    if service.launch_type == "EC2":
        fields["placement_strategy"] = [
            {"type": "spread", "field": "attribute:ecs.availability-zone"},
            {"type": "spread", "field": "instanceId"}]
    moto_seed.set_service_fields(sc.CLUSTER, service.name, deployment=deployment, **fields)
    for minutes, message in events:
        moto_seed.add_service_event(sc.CLUSTER, service.name, message, when=ago(now, minutes))
