"""The infrastructure under the demo services, built through boto3 against the demo
endpoint as a user would: the VPC (subnets per AZ, NAT egress, security groups, VPC
endpoints), the ECS-optimised EC2 capacity with its ASG, capacity provider and the cluster,
the container instances' registered resources, and the public ALB.

It is kept apart from :mod:`checker.demo_build` (the services and tasks on top of it) so each
stays small; it depends on nothing there. boto3 and moto are imported only inside functions,
so ``import checker.demo`` stays cheap and loads no moto.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from checker import demo_scenario as sc

if TYPE_CHECKING:
    from botocore.config import Config

    from checker.demo import DemoAccount


def _client_config() -> Config:
    from botocore.config import Config

    # moto answers its own bugs with HTTP 500; retrying them only leaks more ENIs.
    return Config(retries={"max_attempts": 1, "mode": "standard"}, proxies={})


class Clients:
    """The boto3 clients the seeding uses, all against the demo endpoint."""

    def __init__(self, account: DemoAccount) -> None:
        session, config = account.session(), _client_config()

        def client(name: str) -> Any:
            return session.client(name, endpoint_url=account.endpoint_url, config=config)

        self.ec2, self.ecs, self.elbv2 = client("ec2"), client("ecs"), client("elbv2")
        self.asg, self.ssm, self.logs = client("autoscaling"), client("ssm"), client("logs")
        self.aas, self.cw = client("application-autoscaling"), client("cloudwatch")


@dataclass(frozen=True)
class Network:
    vpc: str
    private: tuple[str, ...]  # one subnet per AZ, in sc.AZS order
    public: tuple[str, ...]
    private_route_tables: tuple[str, ...]
    alb_sg: str
    tasks_sg: str
    instances_sg: str


@dataclass(frozen=True)
class Instance:
    instance_id: str
    arn: str  # container instance ARN


def ago(now: dt.datetime, minutes: float) -> dt.datetime:
    return now - dt.timedelta(seconds=round(minutes * 60))


def _spec(resource: str, name: str) -> list[dict[str, Any]]:
    """TagSpecifications: a Name and the environment tag."""
    tags = [{"Key": "Name", "Value": name}, {"Key": "environment", "Value": "prod"}]
    return [{"ResourceType": resource, "Tags": tags}]


# --- network -------------------------------------------------------------------------------


def build_network(ec2: Any) -> Network:
    vpc = ec2.create_vpc(CidrBlock=sc.VPC_CIDR, TagSpecifications=_spec("vpc", "prod"))
    vpc_id = vpc["Vpc"]["VpcId"]
    # moto fails awsvpc run_task without DNS hostnames (MOTO.md finding 5); AWS needs it too.
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    private, public = [], []
    for az, p_cidr, pub_cidr in zip(sc.AZS, sc.PRIVATE_CIDRS, sc.PUBLIC_CIDRS, strict=True):
        private.append(ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=p_cidr, AvailabilityZone=az,
            TagSpecifications=_spec("subnet", f"prod-private-{az}"))["Subnet"]["SubnetId"])
        public.append(ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=pub_cidr, AvailabilityZone=az,
            TagSpecifications=_spec("subnet", f"prod-public-{az}"))["Subnet"]["SubnetId"])
        ec2.modify_subnet_attribute(SubnetId=public[-1], MapPublicIpOnLaunch={"Value": True})
    route_tables = _build_egress(ec2, vpc_id, private, public)
    alb, tasks, hosts, endpoints = _build_security_groups(ec2, vpc_id)
    _build_endpoints(ec2, vpc_id, private, route_tables, endpoints)
    return Network(vpc_id, tuple(private), tuple(public), route_tables, alb, tasks, hosts)


def _build_egress(ec2: Any, vpc: str, private: list[str], public: list[str]) -> tuple[str, ...]:
    """Internet gateway for the public subnets, one NAT gateway per AZ for the private ones."""
    igw = ec2.create_internet_gateway(TagSpecifications=_spec("internet-gateway", "prod"))
    igw_id = igw["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)
    public_rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=_spec(
        "route-table", "prod-public"))["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    private_rts = []
    for az, private_subnet, public_subnet in zip(sc.AZS, private, public, strict=True):
        ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public_subnet)
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=public_subnet, AllocationId=eip,
                                     TagSpecifications=_spec("natgateway", f"prod-{az}"))
        rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=_spec(
            "route-table", f"prod-private-{az}"))["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0",
                         NatGatewayId=nat["NatGateway"]["NatGatewayId"])
        ec2.associate_route_table(RouteTableId=rt, SubnetId=private_subnet)
        private_rts.append(rt)
    return tuple(private_rts)


def _build_security_groups(ec2: Any, vpc: str) -> tuple[str, str, str, str]:
    def group(name: str, description: str) -> str:
        created = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc,
                                            TagSpecifications=_spec("security-group", name))
        return str(created["GroupId"])

    def allow(sg: str, low: int, high: int, *, cidr: str = "", source: str = "") -> None:
        rule: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": low, "ToPort": high}
        if cidr:
            rule["IpRanges"] = [{"CidrIp": cidr}]
        else:
            rule["UserIdGroupPairs"] = [{"GroupId": source, "Description": "from the ALB"}]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[rule])

    alb = group("prod-alb", "Public ALB")
    tasks = group("prod-ecs-tasks", "ECS tasks (awsvpc)")
    hosts = group("prod-ecs-instances", "ECS container instances (bridge tasks)")
    endpoints = group("prod-vpc-endpoints", "Interface VPC endpoints")
    allow(alb, 80, 80, cidr="0.0.0.0/0")
    allow(alb, 443, 443, cidr="0.0.0.0/0")
    for port in sorted({c.port for s in sc.SERVICES for c in s.containers
                        if s.balancer and s.launch_type == "FARGATE" and c.port}):
        allow(tasks, port, port, source=alb)
    allow(hosts, 32768, 65535, source=alb)  # bridge tasks use dynamic host ports
    allow(endpoints, 443, 443, cidr=sc.VPC_CIDR)
    return alb, tasks, hosts, endpoints


def _build_endpoints(ec2: Any, vpc: str, subnets: list[str], route_tables: tuple[str, ...],
                     sg: str) -> None:
    ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway",
                            RouteTableIds=list(route_tables),
                            ServiceName=f"com.amazonaws.{sc.REGION}.s3")
    for name in sc.INTERFACE_ENDPOINTS:
        ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Interface", SubnetIds=subnets,
                                SecurityGroupIds=[sg], PrivateDnsEnabled=True,
                                ServiceName=f"com.amazonaws.{sc.REGION}.{name}")


# --- EC2 capacity and the cluster ---------------------------------------------------------


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
    """An ASG of ECS-optimised instances, one per AZ, behind a capacity provider of the
    cluster. moto's ASG would launch every instance in its first subnet, so they are launched
    one per subnet and attached."""
    user_data = f"#!/bin/bash\necho ECS_CLUSTER={sc.CLUSTER} >> /etc/ecs/ecs.config\n"
    template = {"LaunchTemplateName": "prod-ecs", "Version": "$Latest"}
    aws.ec2.create_launch_template(LaunchTemplateName="prod-ecs", LaunchTemplateData={
        "ImageId": ami["image_id"], "InstanceType": sc.INSTANCE_TYPE,
        "SecurityGroupIds": [net.instances_sg], "MetadataOptions": {"HttpTokens": "required"},
        "UserData": base64.b64encode(user_data.encode()).decode(),
        "TagSpecifications": _spec("instance", "prod-ecs")})
    aws.asg.create_auto_scaling_group(
        AutoScalingGroupName="prod-ecs", LaunchTemplate=template, MinSize=0, MaxSize=6,
        DesiredCapacity=0, VPCZoneIdentifier=",".join(net.private),
        Tags=[{"Key": "AmazonECSManaged", "Value": "", "PropagateAtLaunch": True}])
    ids = [aws.ec2.run_instances(LaunchTemplate=template, MinCount=1, MaxCount=1,
                                 SubnetId=subnet)["Instances"][0]["InstanceId"]
           for subnet in net.private[: sc.INSTANCE_COUNT]]
    aws.asg.attach_instances(InstanceIds=ids, AutoScalingGroupName="prod-ecs")
    aws.asg.update_auto_scaling_group(AutoScalingGroupName="prod-ecs", MinSize=sc.INSTANCE_COUNT)
    group = aws.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["prod-ecs"])
    _build_cluster(aws.ecs, group["AutoScalingGroups"][0]["AutoScalingGroupARN"])
    instances = []
    for instance_id, az in zip(ids, sc.AZS, strict=False):
        document = json.dumps({"instanceId": instance_id, "region": sc.REGION,
                               "availabilityZone": az, "accountId": sc.ACCOUNT})
        ci = aws.ecs.register_container_instance(cluster=sc.CLUSTER,
                                                 instanceIdentityDocument=document)
        instances.append(Instance(instance_id, ci["containerInstance"]["containerInstanceArn"]))
    return instances


def _build_cluster(ecs: Any, asg_arn: str) -> None:
    ecs.create_capacity_provider(name="prod-ec2", autoScalingGroupProvider={
        "autoScalingGroupArn": asg_arn, "managedTerminationProtection": "DISABLED",
        "managedScaling": {"status": "ENABLED", "targetCapacity": 100}})
    ecs.create_cluster(
        clusterName=sc.CLUSTER, settings=[{"name": "containerInsights", "value": "enabled"}],
        capacityProviders=["FARGATE", "FARGATE_SPOT", "prod-ec2"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        tags=[{"key": "environment", "value": "prod"}, {"key": "team", "value": "platform"}])


def seed_instances(services: list[tuple[sc.Service, tuple[sc.PlannedTask, ...]]],
                   instances: list[Instance], ami: dict[str, str], now: dt.datetime) -> None:
    """Registered m5.large resources, less what the RUNNING and PENDING tasks reserve (the
    soft limit where a container has one, else the hard limit); cluster task counts."""
    from checker import moto_seed

    for slot, instance in enumerate(instances):
        cpu, memory, counts = 0, 0, {"RUNNING": 0, "PENDING": 0}
        for service, planned in services:
            if service.launch_type != "EC2":
                continue
            for task in (t for t in planned if t.slot == slot and t.status in counts):
                counts[task.status] += 1
                cpu += sum(c.cpu for c in service.containers)
                memory += sum(c.memory_reservation or c.memory or 0 for c in service.containers)
        moto_seed.set_container_instance_resources(
            sc.CLUSTER, instance.arn, cpu=sc.REGISTERED_CPU, memory=sc.REGISTERED_MEMORY,
            remaining_cpu=sc.REGISTERED_CPU - cpu, remaining_memory=sc.REGISTERED_MEMORY - memory,
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


# --- the public ALB ----------------------------------------------------------------------------


def build_load_balancer(elbv2: Any, net: Network) -> dict[str, str]:
    """The public ALB: a target group per load-balanced service; the service balanced on "/*"
    is the listener's default action, the others get path rules."""
    lb = elbv2.create_load_balancer(Name="prod-public", Subnets=list(net.public),
                                    SecurityGroups=[net.alb_sg], Scheme="internet-facing",
                                    Type="application")["LoadBalancers"][0]
    balanced = [(s, s.balancer) for s in sc.SERVICES if s.balancer]
    groups: dict[str, str] = {}
    for service, balancer in balanced:
        groups[service.name] = elbv2.create_target_group(
            Name=f"prod-{service.name}", Protocol="HTTP", VpcId=net.vpc,
            Port=next(c.port for c in service.containers if c.port),
            TargetType="ip" if service.launch_type == "FARGATE" else "instance",
            HealthCheckPath=balancer.health_path,
            Matcher={"HttpCode": "200"})["TargetGroups"][0]["TargetGroupArn"]
    default = next(s.name for s, balancer in balanced if balancer.path == "/*")
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[default]}])
    for service, balancer in balanced:
        if balancer.path != "/*":
            elbv2.create_rule(
                ListenerArn=listener["Listeners"][0]["ListenerArn"], Priority=balancer.priority,
                Actions=[{"Type": "forward", "TargetGroupArn": groups[service.name]}],
                Conditions=[{"Field": "path-pattern", "Values": [balancer.path]}])
    return groups

