"""The EC2 capacity of the demo cluster: per :data:`checker.demo.scenario.CAPACITY` group an
Auto Scaling group of ECS-optimised instances behind a capacity provider, the ``prod``
cluster that uses them, the container instances, and what the agent registers on each
(resources, attributes, versions; moto registers every type alike).

Built through boto3 against the demo endpoint as a user would; what moto cannot express is
written with :mod:`checker.demo.moto_seed` (imported inside functions, like boto3 and moto).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from checker.demo import scenario as sc
from checker.demo.network import Clients, Network, ago, spec


@dataclass(frozen=True)
class Instance:
    instance_id: str
    arn: str  # container instance ARN
    group: str  # capacity provider (sc.CAPACITY key)
    slot: int  # position in its group: the slot of the tasks placed on it
    zone: int  # AZ index


def ecs_ami(ssm: Any) -> dict[str, str]:
    """The recommended ECS-optimised AMI, as AWS publishes it in SSM (image_id,
    ecs_agent_version, ecs_runtime_version, ...). moto's value is a Python repr, not JSON."""
    import ast

    value = ssm.get_parameter(Name=sc.ECS_AMI_PARAMETER)["Parameter"]["Value"]
    try:
        return dict(json.loads(value))
    except ValueError:
        return dict(ast.literal_eval(value))


def build_capacity(aws: Clients, net: Network, ami: dict[str, str]) -> list[Instance]:
    """Each capacity group's ASG and instances, then the cluster with a capacity provider per
    group, then the container instances (group by group, in sc.CAPACITY order)."""
    launched = {name: _launch_group(aws, net, ami, group) for name, group in sc.CAPACITY.items()}
    _build_cluster(aws)
    instances = []
    for name, ids in launched.items():
        for slot, (instance_id, zone) in enumerate(zip(ids, sc.CAPACITY[name].zones,
                                                       strict=True)):
            document = json.dumps({"instanceId": instance_id, "region": sc.REGION,
                                   "availabilityZone": sc.AZS[zone], "accountId": sc.ACCOUNT})
            ci = aws.ecs.register_container_instance(cluster=sc.CLUSTER,
                                                     instanceIdentityDocument=document)
            instances.append(Instance(instance_id, ci["containerInstance"][
                "containerInstanceArn"], name, slot, zone))
    return instances


def _launch_group(aws: Clients, net: Network, ami: dict[str, str],
                  group: sc.Capacity) -> list[str]:
    """The launch template and ASG of one group. moto's ASG would launch every instance in
    its first subnet, so they are launched one per AZ and attached."""
    from checker.demo import moto_seed

    name = sc.ASG_NAMES[group.name]
    user_data = f"#!/bin/bash\necho ECS_CLUSTER={sc.CLUSTER} >> /etc/ecs/ecs.config\n"
    template = {"LaunchTemplateName": name, "Version": "$Latest"}
    data: dict[str, Any] = {
        "ImageId": ami["image_id"], "InstanceType": group.instance_type,
        "SecurityGroupIds": [net.instances_sg], "MetadataOptions": {"HttpTokens": "required"},
        "UserData": base64.b64encode(user_data.encode()).decode(),
        "TagSpecifications": spec("instance", name)}
    if group.credits is not None:
        data["CreditSpecification"] = {"CpuCredits": "standard"}
    aws.ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    aws.asg.create_auto_scaling_group(
        AutoScalingGroupName=name, LaunchTemplate=template, MinSize=0,
        MaxSize=2 * len(group.zones), DesiredCapacity=0,
        VPCZoneIdentifier=",".join(net.private[z] for z in sorted(set(group.zones))),
        Tags=[{"Key": "AmazonECSManaged", "Value": "", "PropagateAtLaunch": True}])
    ids = [aws.ec2.run_instances(LaunchTemplate=template, MinCount=1, MaxCount=1,
                                 SubnetId=net.private[zone])["Instances"][0]["InstanceId"]
           for zone in group.zones]
    aws.asg.attach_instances(InstanceIds=ids, AutoScalingGroupName=name)
    aws.asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=len(ids))
    if group.credits is not None:  # moto ignores the launch template's CreditSpecification
        moto_seed.CREDIT_MODE.update(dict.fromkeys(ids, "standard"))
    return [str(i) for i in ids]


def _build_cluster(aws: Clients) -> None:
    asgs = aws.asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[sc.ASG_NAMES[name] for name in sc.CAPACITY])
    arns = {g["AutoScalingGroupName"]: g["AutoScalingGroupARN"]
            for g in asgs["AutoScalingGroups"]}
    for name in sc.CAPACITY:
        aws.ecs.create_capacity_provider(name=name, autoScalingGroupProvider={
            "autoScalingGroupArn": arns[sc.ASG_NAMES[name]],
            "managedTerminationProtection": "DISABLED",
            "managedScaling": {"status": "ENABLED", "targetCapacity": 100}})
    aws.ecs.create_cluster(
        clusterName=sc.CLUSTER, settings=[{"name": "containerInsights", "value": "enabled"}],
        capacityProviders=["FARGATE", "FARGATE_SPOT", *sc.CAPACITY],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        tags=[{"key": "environment", "value": "prod"}, {"key": "team", "value": "platform"}])


def seed_instances(services: list[tuple[sc.Service, tuple[sc.PlannedTask, ...]]],
                   instances: list[Instance], ami: dict[str, str], now: dt.datetime) -> None:
    """Registered resources of each group's type, less what the RUNNING and PENDING tasks
    reserve (the soft limit where a container has one, else the hard limit); cluster task
    counts."""
    from checker.demo import moto_seed

    for instance in instances:
        group = sc.CAPACITY[instance.group]
        cpu, memory, counts = 0, 0, {"RUNNING": 0, "PENDING": 0}
        for service, planned in services:
            if service.launch_type != "EC2" or service.capacity != instance.group:
                continue
            for task in (t for t in planned if t.slot == instance.slot and t.status in counts):
                counts[task.status] += 1
                cpu += sum(c.cpu for c in service.containers)
                memory += sum(c.memory_reservation or c.memory or 0 for c in service.containers)
        moto_seed.set_container_instance_resources(
            sc.CLUSTER, instance.arn, cpu=group.registered_cpu, memory=group.registered_memory,
            remaining_cpu=group.registered_cpu - cpu,
            remaining_memory=group.registered_memory - memory,
            attributes=sc.INSTANCE_ATTRIBUTES, running_tasks_count=counts["RUNNING"],
            pending_tasks_count=counts["PENDING"], registered_at=ago(now, sc.INSTANCES_LAUNCHED),
            version_info={"agentVersion": ami["ecs_agent_version"], "agentHash": "4f2b1a9c",
                          "dockerVersion": ami["ecs_runtime_version"].replace(
                              "Docker version", "DockerVersion:")})
    tasks = [t for _, planned in services for t in planned]
    moto_seed.set_cluster_fields(
        sc.CLUSTER, active_services_count=len(services),
        running_tasks_count=sum(t.status == "RUNNING" for t in tasks),
        pending_tasks_count=sum(t.status == "PENDING" for t in tasks))
