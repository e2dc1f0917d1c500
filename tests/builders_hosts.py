"""Builders for EC2 hosts: container instances, EC2 instances, instance types, credit
specifications, capacity providers, account settings, and EC2 services/tasks placed on
them. Every item is validated against its botocore output shape (tests/builders.shaped).
"""

from __future__ import annotations

from typing import Any

from tests import builders as b

RESERVED_PORTS = ["22", "2375", "2376", "51678", "51679"]


def ci_arn(instance_id: str, cluster: str = "prod") -> str:
    return f"arn:aws:ecs:{b.REGION}:{b.ACCOUNT}:container-instance/{cluster}/{instance_id[2:]}"


def _num(name: str, value: int) -> dict[str, Any]:
    return {"name": name, "type": "INTEGER", "integerValue": value}


def _ports(name: str, ports: list[str]) -> dict[str, Any]:
    return {"name": name, "type": "STRINGSET", "stringSetValue": ports}


def container_instance(instance_id: str = "i-0aaa", *, cluster: str = "prod",
                       instance_type: str = "m5.large", cpu: int = 2048, memory: int = 7680,
                       cpu_free: int | None = None, mem_free: int | None = None,
                       ports: tuple[int, ...] = (), udp_ports: tuple[int, ...] = (),
                       connected: bool = True, status: str = "ACTIVE",
                       agent: str = "1.106.2", docker: str = "25.0.16", running: int = 0,
                       pending: int = 0, trunk_id: str | None = None, ami: str | None = None,
                       os_type: str = "linux", **extra: Any) -> dict[str, Any]:
    attrs = [{"name": "ecs.instance-type", "value": instance_type},
             {"name": "ecs.os-type", "value": os_type},
             {"name": "ecs.availability-zone", "value": "us-east-1a"}]
    if trunk_id:
        attrs.append({"name": "ecs.awsvpc-trunk-id", "value": trunk_id})
    if ami:
        attrs.append({"name": "ecs.ami-id", "value": ami})
    used = RESERVED_PORTS + [str(p) for p in ports]
    return b.shaped("ecs", "ContainerInstance", {
        "containerInstanceArn": ci_arn(instance_id, cluster), "ec2InstanceId": instance_id,
        "versionInfo": {"agentVersion": agent, "agentHash": "abc1234",
                        "dockerVersion": f"DockerVersion: {docker}"},
        "registeredResources": [_num("CPU", cpu), _num("MEMORY", memory),
                                _ports("PORTS", RESERVED_PORTS), _ports("PORTS_UDP", [])],
        "remainingResources": [_num("CPU", cpu if cpu_free is None else cpu_free),
                               _num("MEMORY", memory if mem_free is None else mem_free),
                               _ports("PORTS", used),
                               _ports("PORTS_UDP", [str(p) for p in udp_ports])],
        "status": status, "agentConnected": connected, "runningTasksCount": running,
        "pendingTasksCount": pending, "attributes": attrs,
        "registeredAt": b.ago(days=3), **extra})


def ec2_instance(instance_id: str = "i-0aaa", instance_type: str = "m5.large", *,
                 ena: bool = True, image: str = "ami-0new", launched_days: float = 3,
                 **extra: Any) -> dict[str, Any]:
    return b.shaped("ec2", "Instance", {
        "InstanceId": instance_id, "InstanceType": instance_type, "EnaSupport": ena,
        "ImageId": image, "LaunchTime": b.ago(days=launched_days),
        "State": {"Code": 16, "Name": "running"}, **extra})


def instance_type(name: str = "m5.large", *, max_eni: int = 3, vcpus: int = 2,
                  memory_mib: int = 8192, ena: str = "required",
                  burstable: bool = False) -> dict[str, Any]:
    return b.shaped("ec2", "InstanceTypeInfo", {
        "InstanceType": name, "VCpuInfo": {"DefaultVCpus": vcpus},
        "MemoryInfo": {"SizeInMiB": memory_mib},
        "NetworkInfo": {"MaximumNetworkInterfaces": max_eni, "EnaSupport": ena},
        "BurstablePerformanceSupported": burstable})


def credit_spec(instance_id: str, mode: str) -> dict[str, Any]:
    return b.shaped("ec2", "InstanceCreditSpecification",
                    {"InstanceId": instance_id, "CpuCredits": mode})


def capacity_provider(name: str = "prod-asg", *, managed: bool = True,
                      asg: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {
        "capacityProviderArn": f"arn:aws:ecs:{b.REGION}:{b.ACCOUNT}:capacity-provider/{name}",
        "name": name, "status": "ACTIVE"}
    if asg:
        item["autoScalingGroupProvider"] = {
            "autoScalingGroupArn": f"arn:aws:autoscaling:{b.REGION}:{b.ACCOUNT}:"
                                   f"autoScalingGroup:1:autoScalingGroupName/{name}",
            "managedScaling": {"status": "ENABLED" if managed else "DISABLED",
                               "targetCapacity": 100}}
    return b.shaped("ecs", "CapacityProvider", item)


def setting(name: str, value: str) -> dict[str, Any]:
    return b.shaped("ecs", "Setting", {"name": name, "value": value,
                                       "principalArn": f"arn:aws:iam::{b.ACCOUNT}:root"})


def ec2_service(name: str, **kw: Any) -> dict[str, Any]:
    return b.service(name, launchType="EC2", **kw)


def eni_attachment() -> dict[str, Any]:
    return {"id": "att-1", "type": "ElasticNetworkInterface", "status": "ATTACHED",
            "details": [{"name": "networkInterfaceId", "value": "eni-0abc"}]}


def placed_task(service_name: str, instance_id: str | None, *, status: str = "RUNNING",
                cluster: str = "prod", awsvpc: bool = False, **kw: Any) -> dict[str, Any]:
    """A task of `service_name` on EC2, on the container instance `instance_id` (None: not
    placed yet)."""
    extra: dict[str, Any] = {"launchType": "EC2"}
    if instance_id is not None:
        extra["containerInstanceArn"] = ci_arn(instance_id, cluster)
    if awsvpc:
        extra["attachments"] = [eni_attachment()]
    return b.task(service_name, cluster, status=status, **extra, **kw)


def hosts_bundle(instances: list[dict[str, Any]], services: list[dict[str, Any]] | None = None,
                 tasks: list[dict[str, Any]] | None = None,
                 task_definitions: list[dict[str, Any]] | None = None,
                 **collections: list[dict[str, Any]]) -> dict[str, Any]:
    """clusters, services, tasks, task definitions and container instances, plus any other
    collections given (ec2_instances=…, instance_types=…)."""
    services = services or []
    tds = task_definitions if task_definitions is not None else [
        b.task_definition(s["serviceName"]) for s in services]
    return b.bundle(clusters=[b.cluster()], services=services, tasks=tasks or [],
                    task_definitions=tds, container_instances=instances, **collections)
