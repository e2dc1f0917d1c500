"""The network, load balancer and EC2 capacity of the healthy cluster (tests/incidents/healthy.py).

One VPC over three AZs: a private subnet per AZ behind its own NAT gateway, public subnets
with an internet gateway, ECR/S3/Logs/Secrets Manager endpoints, the default network ACL;
the `prod-public` ALB whose security group the tasks' groups admit on the container port
(the hosts' group on the dynamic port range); three m5.large container instances of the
`prod-ec2` capacity provider and its Auto Scaling group, with their EC2 instances and types.
"""

from __future__ import annotations

from tests import builders as b
from tests import builders_hosts as bh
from tests import builders_network as bn
from tests import builders_service as bs
from tests.incidents.healthy import (
    ALB,
    ALB_SG,
    AMI,
    ASG,
    AZS,
    CAPACITY_PROVIDER,
    ENDPOINT_SG,
    HOST_SG,
    IGW,
    INSTANCES,
    MAIN_RT,
    NATS,
    PRIVATE,
    PRIVATE_RTS,
    PUBLIC,
    PUBLIC_RT,
    REGISTERED_CPU,
    REGISTERED_MEMORY,
    SPECS,
    Item,
    Spec,
    hexid,
    task_sg,
)


# -- network ---------------------------------------------------------------------------------
def network() -> dict[str, list[Item]]:
    subnets = [bn.subnet(s, f"10.0.{i + 1}.0/24", z)
               for i, (s, z) in enumerate(zip(PRIVATE, AZS, strict=True))]
    subnets += [bn.subnet(s, f"10.0.{i + 101}.0/24", z, public=True)
                for i, (s, z) in enumerate(zip(PUBLIC, AZS, strict=True))]
    return {
        "vpcs": [bn.vpc()],
        "subnets": subnets,
        "route_tables": [bn.route_table(MAIN_RT, [], main=True),
                         bn.route_table(PUBLIC_RT, [bn.route(GatewayId=IGW)], PUBLIC),
                         *(bn.route_table(rt, [bn.route(NatGatewayId=n)], (s,))
                           for rt, n, s in zip(PRIVATE_RTS, NATS, PRIVATE, strict=True))],
        "nat_gateways": [bn.nat_gateway(n, s, NatGatewayAddresses=[{
            "AllocationId": f"eipalloc-0{hexid(n, 16)}", "PublicIp": f"54.210.{17 + i}.{40 + i}",
            "PrivateIp": f"10.0.{101 + i}.{200 + i}", "IsPrimary": True, "Status": "succeeded"}],
            CreateTime=b.ago(days=400)) for i, (n, s) in enumerate(zip(NATS, PUBLIC, strict=True))],
        "vpc_endpoints": [bn.endpoint("s3", kind="Gateway", route_tables=PRIVATE_RTS),
                          *(bn.endpoint(e, subnets=PRIVATE)
                            for e in ("ecr.api", "ecr.dkr", "logs", "secretsmanager"))],
        "security_groups": _security_groups(),
        "network_acls": [bn.network_acl("acl-0a2b4c6d8e0f13579", bn.default_entries(),
                                        PRIVATE + PUBLIC, default=True)],
    }


def _security_groups() -> list[Item]:
    from_alb = [bn.rule("tcp", 8080, groups=(ALB_SG,))]
    out = [bn.security_group(ALB_SG, "prod-public-alb", [
        bn.rule("tcp", 443, cidrs=("0.0.0.0/0",)), bn.rule("tcp", 80, cidrs=("0.0.0.0/0",))]),
        bn.security_group(HOST_SG, "prod-ecs-instances",
                          [bn.rule("tcp", 32768, 60999, groups=(ALB_SG,))]),
        bn.security_group(ENDPOINT_SG, "prod-vpc-endpoints",
                          [bn.rule("tcp", 443, cidrs=("10.0.0.0/16",))])]
    for spec in SPECS:
        if spec.fargate:
            out.append(bn.security_group(task_sg(spec.name), f"prod-{spec.name}-tasks",
                                         from_alb if spec.port else []))
    return out


# -- load balancing --------------------------------------------------------------------------
def load_balancing(tasks: list[Item]) -> dict[str, list[Item]]:
    groups, health = [], []
    for spec in SPECS:
        if not spec.port:
            continue
        tg = bn.target_group(spec.port, target_type="ip" if spec.fargate else "instance",
                             arn=spec.tg)
        tg.update(HealthCheckProtocol="HTTP", HealthCheckPath="/healthz",
                  HealthCheckIntervalSeconds=15, HealthCheckTimeoutSeconds=5,
                  HealthyThresholdCount=2, UnhealthyThresholdCount=3)
        groups.append(b.shaped("elbv2", "TargetGroup", tg))
        mine = [t for t in tasks if t["group"] == f"service:{spec.name}"
                and t["lastStatus"] == "RUNNING"]
        health.append({"TargetGroupArn": spec.tg,
                       "TargetHealthDescriptions": [target_of(spec, t) for t in mine]})
    lb = bn.load_balancer(PUBLIC, AZS, groups=(ALB_SG,))
    lb.update(DNSName=f"{ALB}-1234567890.{b.REGION}.elb.amazonaws.com",
              CreatedTime=b.ago(days=400), IpAddressType="ipv4")
    return {"load_balancers": [b.shaped("elbv2", "LoadBalancer", lb)],
            "target_groups": groups, "target_health": health}


def target_of(spec: Spec, task: Item) -> Item:
    """The target group entry ELB reports for a running task of the service."""
    if spec.fargate:
        return bn.target(eni_ip(task) or "?", port=spec.port or 8080)
    binding = task["containers"][0]["networkBindings"][0]
    ci = task["containerInstanceArn"]
    iid = INSTANCES[[bh.ci_arn(i) for i in INSTANCES].index(ci)]
    return bn.target(iid, port=int(binding["hostPort"]))


def eni_ip(task: Item) -> str | None:
    for att in task.get("attachments", []):
        for d in att.get("details", []):
            if d["name"] == "privateIPv4Address":
                return str(d["value"])
    return None


# -- EC2 capacity ----------------------------------------------------------------------------
def container_instance(i: int, *, instance_type: str = "m5.large", agent: str = "1.106.2",
                       connected: bool = True) -> Item:
    iid = INSTANCES[i]
    ci = bh.container_instance(iid, instance_type=instance_type, cpu=REGISTERED_CPU,
                               memory=REGISTERED_MEMORY, agent=agent, connected=connected,
                               docker="25.0.13", ami=AMI)
    ci["attributes"] = [{"name": k, "value": v} for k, v in (
        ("ecs.availability-zone", AZS[i]), ("ecs.instance-type", instance_type),
        ("ecs.os-type", "linux"), ("ecs.cpu-architecture", "x86_64"), ("ecs.ami-id", AMI),
        ("ecs.capability.execution-role-awslogs", ""),
        ("ecs.capability.secrets.asm.environment-variables", ""),
        ("ecs.capability.task-eni", ""))]
    ci["capacityProviderName"] = CAPACITY_PROVIDER
    ci["agentUpdateStatus"] = "UPDATED"
    return b.shaped("ecs", "ContainerInstance", ci)


def ec2_instance(i: int, instance_type: str = "m5.large", *, launched_days: float = 12,
                 image: str = AMI) -> Item:
    return bh.ec2_instance(
        INSTANCES[i], instance_type, image=image, launched_days=launched_days,
        SubnetId=PRIVATE[i], VpcId=bn.VPC, PrivateIpAddress=f"10.0.{i + 1}.{50 + i}",
        Placement={"AvailabilityZone": AZS[i], "Tenancy": "default"},
        SecurityGroups=[{"GroupId": HOST_SG, "GroupName": "prod-ecs-instances"}],
        IamInstanceProfile={"Arn": f"arn:aws:iam::{b.ACCOUNT}:instance-profile/prod-ecs-instance"},
        Tags=[{"Key": "aws:autoscaling:groupName", "Value": ASG},
              {"Key": "AmazonECSManaged", "Value": ""}])


def hosts() -> dict[str, list[Item]]:
    asg = bs.auto_scaling_group(ASG, desired=3, max_size=6, min_size=3)
    asg.update(AvailabilityZones=list(AZS), VPCZoneIdentifier=",".join(PRIVATE),
               Instances=[{"InstanceId": iid, "AvailabilityZone": z,
                           "LifecycleState": "InService", "HealthStatus": "Healthy",
                           "ProtectedFromScaleIn": True, "InstanceType": "m5.large"}
                          for iid, z in zip(INSTANCES, AZS, strict=True)])
    return {
        "container_instances": [container_instance(i) for i in range(3)],
        "ec2_instances": [ec2_instance(i) for i in range(3)],
        "instance_types": [bh.instance_type("m5.large", max_eni=3, vcpus=2, memory_mib=8192)],
        "credit_specifications": [],
        "capacity_providers": [bs.capacity_provider(CAPACITY_PROVIDER, ASG)],
        "auto_scaling_groups": [b.shaped("autoscaling", "AutoScalingGroup", asg)],
        "account_settings": [bh.setting("awsvpcTrunking", "disabled"),
                             bh.setting("containerInsights", "enabled"),
                             bh.setting("taskLongArnFormat", "enabled")],
    }
