"""AWS-shaped VPC / ELB fixtures for the network checks, validated with `shaped()`.

`World` is a healthy production layout — two private subnets behind one NAT gateway each,
two public subnets with the ALB, the ECR/S3/Logs/Secrets Manager endpoints, a Fargate
service `web` behind the ALB — that every check passes. A test breaks one thing and
expects exactly that thing to be reported.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tests import builders as b

VPC = "vpc-0a1b2c3d4e5f60718"
AZS = ("us-east-1a", "us-east-1b")
PRIVATE = ("subnet-0aaa000000000000a", "subnet-0bbb000000000000b")
PUBLIC = ("subnet-0ccc000000000000c", "subnet-0ddd000000000000d")
PRIVATE_CIDRS = ("10.0.1.0/24", "10.0.2.0/24")
PUBLIC_CIDRS = ("10.0.101.0/24", "10.0.102.0/24")
NATS = ("nat-0aaa00000000000a1", "nat-0bbb00000000000b1")
IGW = "igw-0abc0000000000001"
PRIVATE_RTS = ("rtb-0aaa00000000000a1", "rtb-0bbb00000000000b1")
PUBLIC_RT = "rtb-0ccc00000000000c1"
MAIN_RT = "rtb-0000000000000main"
ALB_SG, TASK_SG, ENDPOINT_SG = "sg-0a1b000000000a1b0", "sg-0c2d000000000c2d0", "sg-0e3f00000000e3f0"
NACL = "acl-0a1b2c3d4e5f60718"
REGION = b.REGION
ELB = f"arn:aws:elasticloadbalancing:{REGION}:{b.ACCOUNT}"
LB_ARN = f"{ELB}:loadbalancer/app/prod-public/50dc6c495c0c9188"
TG_ARN = f"{ELB}:targetgroup/prod-web/73e2d6bc24d8a067"
ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")
SECRET = f"arn:aws:secretsmanager:{REGION}:{b.ACCOUNT}:secret:prod/web/db-AbCdEf"


def vpc(vpc_id: str = VPC, cidr: str = "10.0.0.0/16", *, dns_support: bool = True,
        dns_hostnames: bool = True) -> dict[str, Any]:
    item = b.shaped("ec2", "Vpc", {"VpcId": vpc_id, "CidrBlock": cidr, "State": "available",
                                   "DhcpOptionsId": "dopt-0a1b2c3d", "IsDefault": False})
    # Not in the botocore shape: the collector adds DescribeVpcAttribute's answers.
    return {**item, "Attributes": {"EnableDnsSupport": dns_support,
                                   "EnableDnsHostnames": dns_hostnames}}


def subnet(subnet_id: str, cidr: str, az: str, *, public: bool = False,
           vpc_id: str = VPC) -> dict[str, Any]:
    return b.shaped("ec2", "Subnet", {"SubnetId": subnet_id, "VpcId": vpc_id, "CidrBlock": cidr,
                                      "AvailabilityZone": az, "State": "available",
                                      "MapPublicIpOnLaunch": public,
                                      "AvailableIpAddressCount": 250})


def route(dest: str = "0.0.0.0/0", *, state: str = "active", **target: str) -> dict[str, Any]:
    return b.shaped("ec2", "Route", {"DestinationCidrBlock": dest, "State": state,
                                     "Origin": "CreateRoute", **target})


LOCAL = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active",
         "Origin": "CreateRouteTable"}


def route_table(rt_id: str, routes: list[dict[str, Any]], subnets: tuple[str, ...] = (), *,
                main: bool = False, vpc_id: str = VPC) -> dict[str, Any]:
    assoc = [{"RouteTableAssociationId": f"rtbassoc-{rt_id[4:]}{i}", "RouteTableId": rt_id,
              "SubnetId": s, "Main": False} for i, s in enumerate(subnets)]
    if main:
        assoc.append({"RouteTableAssociationId": f"rtbassoc-{rt_id[4:]}m",
                      "RouteTableId": rt_id, "Main": True})
    return b.shaped("ec2", "RouteTable", {"RouteTableId": rt_id, "VpcId": vpc_id,
                                          "Routes": [LOCAL, *routes], "Associations": assoc})


def nat_gateway(nat_id: str, subnet_id: str, state: str = "available",
                **extra: Any) -> dict[str, Any]:
    return b.shaped("ec2", "NatGateway", {"NatGatewayId": nat_id, "SubnetId": subnet_id,
                                          "VpcId": VPC, "State": state,
                                          "ConnectivityType": "public", **extra})


def endpoint(name: str, *, kind: str = "Interface", private_dns: bool = True,
             state: str = "available", subnets: tuple[str, ...] = PRIVATE,
             route_tables: tuple[str, ...] = PRIVATE_RTS) -> dict[str, Any]:
    eid = "vpce-0" + name.replace(".", "")[:8].ljust(16, "0")
    item: dict[str, Any] = {"VpcEndpointId": eid, "VpcEndpointType": kind, "VpcId": VPC,
                            "ServiceName": f"com.amazonaws.{REGION}.{name}", "State": state}
    if kind == "Gateway":
        item["RouteTableIds"] = list(route_tables)
    else:
        item.update(SubnetIds=list(subnets), PrivateDnsEnabled=private_dns,
                    Groups=[{"GroupId": ENDPOINT_SG, "GroupName": "prod-vpc-endpoints"}])
    return b.shaped("ec2", "VpcEndpoint", item)


def rule(proto: str = "tcp", lo: int | None = None, hi: int | None = None, *,
         cidrs: tuple[str, ...] = (), groups: tuple[str, ...] = (), ipv6: tuple[str, ...] = (),
         prefix_lists: tuple[str, ...] = ()) -> dict[str, Any]:
    item: dict[str, Any] = {"IpProtocol": proto}
    if lo is not None:
        item.update(FromPort=lo, ToPort=lo if hi is None else hi)
    if cidrs:
        item["IpRanges"] = [{"CidrIp": c} for c in cidrs]
    if ipv6:
        item["Ipv6Ranges"] = [{"CidrIpv6": c} for c in ipv6]
    if groups:
        item["UserIdGroupPairs"] = [{"GroupId": g, "UserId": b.ACCOUNT} for g in groups]
    if prefix_lists:
        item["PrefixListIds"] = [{"PrefixListId": p} for p in prefix_lists]
    return b.shaped("ec2", "IpPermission", item)


ALL_OUT = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def security_group(group_id: str, name: str, ingress: list[dict[str, Any]],
                   egress: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return b.shaped("ec2", "SecurityGroup", {
        "GroupId": group_id, "GroupName": name, "VpcId": VPC, "Description": name,
        "IpPermissions": ingress, "IpPermissionsEgress": [ALL_OUT] if egress is None else egress})


def acl_entry(number: int, action: str = "allow", *, egress: bool, proto: str = "-1",
              cidr: str = "0.0.0.0/0", ports: tuple[int, int] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"RuleNumber": number, "RuleAction": action, "Egress": egress,
                            "Protocol": proto, "CidrBlock": cidr}
    if ports:
        item["PortRange"] = {"From": ports[0], "To": ports[1]}
    return b.shaped("ec2", "NetworkAclEntry", item)


def default_entries() -> list[dict[str, Any]]:
    """What a new VPC's default ACL holds: allow all, then the `*` deny, both directions."""
    return [acl_entry(n, a, egress=e) for e in (False, True)
            for n, a in ((100, "allow"), (32767, "deny"))]


def network_acl(acl_id: str, entries: list[dict[str, Any]], subnets: tuple[str, ...], *,
                default: bool = False) -> dict[str, Any]:
    return b.shaped("ec2", "NetworkAcl", {
        "NetworkAclId": acl_id, "VpcId": VPC, "IsDefault": default, "Entries": entries,
        "Associations": [{"NetworkAclAssociationId": f"aclassoc-{i:017x}", "NetworkAclId": acl_id,
                          "SubnetId": s} for i, s in enumerate(subnets)]})


def load_balancer(subnets: tuple[str, ...] = PUBLIC, azs: tuple[str, ...] = AZS, *,
                  groups: tuple[str, ...] = (ALB_SG,), kind: str = "application",
                  arn: str = LB_ARN) -> dict[str, Any]:
    item: dict[str, Any] = {
        "LoadBalancerArn": arn, "LoadBalancerName": arn.split("/")[-2], "Type": kind,
        "Scheme": "internet-facing", "VpcId": VPC, "State": {"Code": "active"},
        "AvailabilityZones": [{"ZoneName": z, "SubnetId": s} for s, z in zip(subnets, azs,
                                                                               strict=True)]}
    if groups:
        item["SecurityGroups"] = list(groups)
    return b.shaped("elbv2", "LoadBalancer", item)


def target_group(port: int = 8080, *, target_type: str = "ip", health_port: str = "traffic-port",
                 lbs: tuple[str, ...] = (LB_ARN,), arn: str = TG_ARN) -> dict[str, Any]:
    return b.shaped("elbv2", "TargetGroup", {
        "TargetGroupArn": arn, "TargetGroupName": arn.split("/")[-2], "Protocol": "HTTP",
        "Port": port, "VpcId": VPC, "TargetType": target_type, "HealthCheckPort": health_port,
        "HealthCheckPath": "/health", "LoadBalancerArns": list(lbs)})


def target(ip: str, state: str = "healthy", reason: str | None = None,
           description: str | None = None, port: int = 8080) -> dict[str, Any]:
    health: dict[str, Any] = {"State": state}
    if reason:
        health["Reason"] = reason
    if description:
        health["Description"] = description
    return b.shaped("elbv2", "TargetHealthDescription", {
        "Target": {"Id": ip, "Port": port}, "HealthCheckPort": str(port), "TargetHealth": health})


def eni_task(service_name: str, subnet_id: str, az: str, ip: str, **kw: Any) -> dict[str, Any]:
    details = [{"name": "subnetId", "value": subnet_id},
               {"name": "networkInterfaceId", "value": f"eni-0{ip.replace('.', '')[:16]:0<16}"},
               {"name": "privateIPv4Address", "value": ip}]
    return b.task(service_name, availabilityZone=az, attachments=[
        {"id": f"att-{ip}", "type": "ElasticNetworkInterface", "status": "ATTACHED",
         "details": details}], **kw)


def web_task_definition(**container: Any) -> dict[str, Any]:
    ctr = b.container_def("web", portMappings=[{"containerPort": 8080, "protocol": "tcp"}],
                          logConfiguration={"logDriver": "awslogs", "options": {
                              "awslogs-group": "/ecs/web", "awslogs-region": REGION,
                              "awslogs-stream-prefix": "web"}},
                          secrets=[{"name": "DB_PASSWORD", "valueFrom": SECRET}], **container)
    return b.task_definition("web", containers=[ctr], networkMode="awsvpc", cpu="512",
                             memory="1024", requiresCompatibilities=["FARGATE"])


def web_service(*, public_ip: str = "DISABLED", subnets: tuple[str, ...] = PRIVATE,
                groups: tuple[str, ...] = (TASK_SG,), **extra: Any) -> dict[str, Any]:
    return b.service("web", networkConfiguration={"awsvpcConfiguration": {
        "subnets": list(subnets), "securityGroups": list(groups), "assignPublicIp": public_ip}},
        loadBalancers=[{"targetGroupArn": TG_ARN, "containerName": "web", "containerPort": 8080}],
        **extra)


@dataclass
class World:
    """A healthy layout, as editable lists; `bundle()` snapshots it."""

    vpcs: list[dict[str, Any]] = field(default_factory=lambda: [vpc()])
    subnets: list[dict[str, Any]] = field(default_factory=lambda: [
        *(subnet(s, c, z) for s, c, z in zip(PRIVATE, PRIVATE_CIDRS, AZS, strict=True)),
        *(subnet(s, c, z, public=True) for s, c, z in zip(PUBLIC, PUBLIC_CIDRS, AZS,
                                                          strict=True))])
    route_tables: list[dict[str, Any]] = field(default_factory=lambda: [
        route_table(MAIN_RT, [], main=True),
        route_table(PUBLIC_RT, [route(GatewayId=IGW)], PUBLIC),
        *(route_table(rt, [route(NatGatewayId=n)], (s,))
          for rt, n, s in zip(PRIVATE_RTS, NATS, PRIVATE, strict=True))])
    nat_gateways: list[dict[str, Any]] = field(default_factory=lambda: [
        nat_gateway(n, s) for n, s in zip(NATS, PUBLIC, strict=True)])
    vpc_endpoints: list[dict[str, Any]] = field(default_factory=lambda: [
        endpoint("s3", kind="Gateway"), *(endpoint(e) for e in ENDPOINTS)])
    security_groups: list[dict[str, Any]] = field(default_factory=lambda: [
        security_group(ALB_SG, "prod-alb", [rule("tcp", 443, cidrs=("0.0.0.0/0",))]),
        security_group(TASK_SG, "prod-web", [rule("tcp", 8080, groups=(ALB_SG,))]),
        security_group(ENDPOINT_SG, "prod-vpc-endpoints",
                       [rule("tcp", 443, cidrs=("10.0.0.0/16",))])])
    network_acls: list[dict[str, Any]] = field(default_factory=lambda: [
        network_acl(NACL, default_entries(), PRIVATE + PUBLIC, default=True)])
    load_balancers: list[dict[str, Any]] = field(default_factory=lambda: [load_balancer()])
    target_groups: list[dict[str, Any]] = field(default_factory=lambda: [target_group()])
    target_health: list[dict[str, Any]] = field(default_factory=lambda: [
        {"TargetGroupArn": TG_ARN, "TargetHealthDescriptions": [
            target("10.0.1.10"), target("10.0.2.10")]}])
    services: list[dict[str, Any]] = field(default_factory=lambda: [web_service()])
    tasks: list[dict[str, Any]] = field(default_factory=lambda: [
        eni_task("web", PRIVATE[0], AZS[0], "10.0.1.10"),
        eni_task("web", PRIVATE[1], AZS[1], "10.0.2.10")])
    task_definitions: list[dict[str, Any]] = field(default_factory=lambda: [
        web_task_definition()])

    def bundle(self, **override: list[dict[str, Any]]) -> dict[str, Any]:
        parts = {name: copy.deepcopy(getattr(self, name)) for name in self.__dataclass_fields__}
        parts.update(override)
        return b.bundle(clusters=[b.cluster()], **parts)

    def sg(self, group_id: str) -> dict[str, Any]:
        return next(g for g in self.security_groups if g["GroupId"] == group_id)

    def rt(self, rt_id: str) -> dict[str, Any]:
        return next(r for r in self.route_tables if r["RouteTableId"] == rt_id)

    def drop_endpoints(self, *names: str) -> None:
        self.vpc_endpoints = [e for e in self.vpc_endpoints
                              if e["ServiceName"].rsplit(".", 1)[-1] not in names
                              and not any(e["ServiceName"].endswith(f".{n}") for n in names)]


# -- EC2 launch type -------------------------------------------------------------------------

HOST_SG = "sg-0f4e000000000f4e0"
API_TG_ARN = f"{ELB}:targetgroup/prod-api/83e2d6bc24d8a067"


def container_instance_arn(n: int) -> str:
    return f"arn:aws:ecs:{REGION}:{b.ACCOUNT}:container-instance/prod/{n:032x}"


def container_instance(n: int, instance_id: str) -> dict[str, Any]:
    return b.shaped("ecs", "ContainerInstance", {
        "containerInstanceArn": container_instance_arn(n), "ec2InstanceId": instance_id,
        "status": "ACTIVE", "agentConnected": True})


def ec2_instance(instance_id: str, subnet_id: str, groups: tuple[str, ...] = (HOST_SG,),
                 public_ip: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"InstanceId": instance_id, "SubnetId": subnet_id, "VpcId": VPC,
                            "InstanceType": "m5.large", "PrivateIpAddress": "10.0.1.50",
                            "SecurityGroups": [{"GroupId": g, "GroupName": g} for g in groups]}
    if public_ip:
        item["PublicIpAddress"] = public_ip
    return b.shaped("ec2", "Instance", item)


def bridge_world(host_port: int | None = None) -> tuple[World, dict[str, list[dict[str, Any]]]]:
    """World plus an EC2 bridge-mode service `api` behind the same ALB (target type
    instance) on one container instance in PRIVATE[0]; returns the extra collections."""
    world = World()
    mapping: dict[str, Any] = {"containerPort": 8080, "protocol": "tcp"}
    if host_port is not None:
        mapping["hostPort"] = host_port
    world.task_definitions.append(b.task_definition(
        "api", containers=[b.container_def("api", memory=512, portMappings=[mapping])],
        networkMode="bridge"))
    world.services = [b.service("api", launchType="EC2", loadBalancers=[
        {"targetGroupArn": API_TG_ARN, "containerName": "api", "containerPort": 8080}])]
    world.tasks = [b.task("api", launchType="EC2", availabilityZone=AZS[0],
                          containerInstanceArn=container_instance_arn(1))]
    world.target_groups.append(target_group(8080, target_type="instance", arn=API_TG_ARN))
    world.security_groups.append(security_group(
        HOST_SG, "prod-ecs-instances", [rule("tcp", 32768, 65535, groups=(ALB_SG,))]))
    world.target_health.append({"TargetGroupArn": API_TG_ARN, "TargetHealthDescriptions": [
        target("i-0abc00000000000a1", port=32790)]})
    extra = {"container_instances": [container_instance(1, "i-0abc00000000000a1")],
             "ec2_instances": [ec2_instance("i-0abc00000000000a1", PRIVATE[0])]}
    return world, extra
