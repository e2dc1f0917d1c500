"""The network under the demo services, built through boto3 against the demo endpoint as a
user would: the VPC (subnets per AZ, NAT egress, security groups, VPC endpoints), the
payments subnets whose NAT gateway was deleted, and the public ALB with its target groups.

It is kept apart from :mod:`checker.demo.capacity` (container instances) and
:mod:`checker.demo.build` (the services and tasks on top); it depends on neither. boto3 and
moto are imported only inside functions, so ``import checker.demo.run`` stays cheap and loads no
moto.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from checker.demo import scenario as sc

if TYPE_CHECKING:
    from botocore.config import Config

    from checker.demo.run import DemoAccount


def _client_config() -> Config:
    from botocore.config import Config

    # moto answers its own bugs with HTTP 500; retrying them only leaks more ENIs.
    return Config(retries={"max_attempts": 1, "mode": "standard"}, proxies={})


class Clients:
    """The boto3 clients the seeding uses, all against the demo endpoint."""

    def __init__(self, account: DemoAccount) -> None:
        from botocore.config import Config

        session, config = account.session(), _client_config()

        def client(name: str) -> Any:
            return session.client(name, endpoint_url=account.endpoint_url, config=config)

        self.ec2, self.ecs, self.elbv2 = client("ec2"), client("ecs"), client("elbv2")
        self.asg, self.ssm, self.logs = client("autoscaling"), client("ssm"), client("logs")
        self.aas = client("application-autoscaling")
        # Thousands of datapoints: botocore's validation and gzip would cost a second, and the
        # builder writes well-formed data for a server on this host.
        self.cw = session.client("cloudwatch", endpoint_url=account.endpoint_url,
                                 config=config.merge(Config(disable_request_compression=True,
                                                            parameter_validation=False)))


@dataclass(frozen=True)
class Network:
    vpc: str
    subnets: dict[str, tuple[str, ...]]  # subnet group -> ids, in sc.SUBNET_GROUPS order
    public: tuple[str, ...]
    private_route_tables: tuple[str, ...]
    nats: tuple[str, ...]  # the working NAT gateways, one per AZ in sc.AZS order
    groups: dict[str, str]  # security group name -> id

    @property
    def private(self) -> tuple[str, ...]:
        return self.subnets["private"]

    @property
    def alb_sg(self) -> str:
        return self.groups["prod-alb"]

    @property
    def instances_sg(self) -> str:
        return self.groups["prod-ecs-instances"]


@dataclass(frozen=True)
class Balancers:
    """The public ALB and the target group of each load-balanced service."""

    load_balancer: str  # ARN
    target_groups: dict[str, str]  # service name -> target group ARN


def ago(now: dt.datetime, minutes: float) -> dt.datetime:
    return now - dt.timedelta(seconds=round(minutes * 60))


def spec(resource: str, name: str) -> list[dict[str, Any]]:
    """TagSpecifications: a Name and the environment tag."""
    tags = [{"Key": "Name", "Value": name}, {"Key": "environment", "Value": "prod"}]
    return [{"ResourceType": resource, "Tags": tags}]


# --- network -------------------------------------------------------------------------------


def build_network(ec2: Any, now: dt.datetime) -> Network:
    vpc = ec2.create_vpc(CidrBlock=sc.VPC_CIDR, TagSpecifications=spec("vpc", "prod"))
    vpc_id = vpc["Vpc"]["VpcId"]
    # moto fails awsvpc run_task without DNS hostnames (MOTO.md finding 5); AWS needs it too.
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    private, public = [], []
    for az, p_cidr, pub_cidr in zip(sc.AZS, sc.PRIVATE_CIDRS, sc.PUBLIC_CIDRS, strict=True):
        private.append(_subnet(ec2, vpc_id, p_cidr, az, f"prod-private-{az}"))
        public.append(_subnet(ec2, vpc_id, pub_cidr, az, f"prod-public-{az}"))
        ec2.modify_subnet_attribute(SubnetId=public[-1], MapPublicIpOnLaunch={"Value": True})
    route_tables, nats = _build_egress(ec2, vpc_id, private, public)
    payments = _build_payments_subnets(ec2, vpc_id, public[0], now)
    groups = _build_security_groups(ec2, vpc_id)
    _build_endpoints(ec2, vpc_id, private, route_tables, groups["prod-vpc-endpoints"])
    return Network(vpc_id, {"private": tuple(private), "payments": payments}, tuple(public),
                   route_tables, nats, groups)


def _subnet(ec2: Any, vpc: str, cidr: str, az: str, name: str) -> str:
    return str(ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az,
                                 TagSpecifications=spec("subnet", name))["Subnet"]["SubnetId"])


def _build_egress(ec2: Any, vpc: str, private: list[str],
                  public: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Internet gateway for the public subnets, one NAT gateway per AZ for the private ones."""
    igw = ec2.create_internet_gateway(TagSpecifications=spec("internet-gateway", "prod"))
    igw_id = igw["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)
    public_rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec(
        "route-table", "prod-public"))["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    private_rts, nats = [], []
    for az, private_subnet, public_subnet in zip(sc.AZS, private, public, strict=True):
        ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public_subnet)
        nats.append(_nat(ec2, public_subnet, f"prod-{az}"))
        private_rts.append(_private_table(ec2, vpc, f"prod-private-{az}", nats[-1],
                                          [private_subnet]))
    return tuple(private_rts), tuple(nats)


def _nat(ec2: Any, subnet: str, name: str) -> str:
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip,
                                 TagSpecifications=spec("natgateway", name))
    return str(nat["NatGateway"]["NatGatewayId"])


def _private_table(ec2: Any, vpc: str, name: str, nat: str, subnets: list[str]) -> str:
    rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec(
        "route-table", name))["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    for subnet in subnets:
        ec2.associate_route_table(RouteTableId=rt, SubnetId=subnet)
    return str(rt)


def _build_payments_subnets(ec2: Any, vpc: str, public_subnet: str,
                            now: dt.datetime) -> tuple[str, ...]:
    """The payments subnets, their route table, and its NAT gateway, deleted: AWS lists a
    deleted NAT gateway for about an hour and shows the route to it as a blackhole (moto
    keeps the route "active": moto_seed says what AWS would)."""
    from checker.demo import moto_seed

    subnets = [_subnet(ec2, vpc, cidr, sc.AZS[zone], f"prod-payments-{sc.AZS[zone]}")
               for cidr, zone in sc.SUBNET_GROUPS["payments"]]
    nat = _nat(ec2, public_subnet, "prod-payments-egress")
    rt = _private_table(ec2, vpc, "prod-payments-private", nat, subnets)
    ec2.delete_nat_gateway(NatGatewayId=nat)
    moto_seed.set_nat_state(nat, "deleted", created_at=ago(now, 30 * 24 * 60.0),
                            delete_time=ago(now, sc.PAYMENTS_NAT_DELETED))
    moto_seed.blackhole_route(rt)
    return tuple(subnets)


def _build_security_groups(ec2: Any, vpc: str) -> dict[str, str]:
    def group(name: str, description: str) -> str:
        created = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc,
                                            TagSpecifications=spec("security-group", name))
        return str(created["GroupId"])

    def allow(sg: str, low: int, high: int, *, cidrs: tuple[str, ...] = (),
              source: str = "") -> None:
        rule: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": low, "ToPort": high}
        if cidrs:
            rule["IpRanges"] = [{"CidrIp": cidr} for cidr in cidrs]
        else:
            rule["UserIdGroupPairs"] = [{"GroupId": source, "Description": "from the ALB"}]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[rule])

    groups = {name: group(name, description) for name, description in (
        ("prod-alb", "Public ALB"), *sc.TASK_GROUPS.items(),
        ("prod-ecs-instances", "ECS container instances (bridge tasks)"),
        ("prod-vpc-endpoints", "Interface VPC endpoints"))}
    alb = groups["prod-alb"]
    allow(alb, 80, 80, cidrs=("0.0.0.0/0",))
    allow(alb, 443, 443, cidrs=("0.0.0.0/0",))
    admitted = {(s.security_group, port) for s in sc.SERVICES
                if s.balancer and s.launch_type == "FARGATE" and s.port
                for port in s.admits or (s.port,)}
    for name, port in sorted(admitted):
        allow(groups[name], port, port, source=alb)
    allow(groups["prod-ecs-instances"], 32768, 65535, source=alb)  # bridge: dynamic ports
    # The endpoints admit the shared private subnets only (not the payments ones).
    allow(groups["prod-vpc-endpoints"], 443, 443, cidrs=sc.PRIVATE_CIDRS)
    return groups


def _build_endpoints(ec2: Any, vpc: str, subnets: list[str], route_tables: tuple[str, ...],
                     sg: str) -> None:
    ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway",
                            RouteTableIds=list(route_tables),
                            ServiceName=f"com.amazonaws.{sc.REGION}.s3")
    for name in sc.INTERFACE_ENDPOINTS:
        ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Interface", SubnetIds=subnets,
                                SecurityGroupIds=[sg], PrivateDnsEnabled=True,
                                ServiceName=f"com.amazonaws.{sc.REGION}.{name}")


# --- the public ALB ----------------------------------------------------------------------------


def build_load_balancer(elbv2: Any, net: Network) -> Balancers:
    """The public ALB: a target group per load-balanced service (the ALB's default health
    check; a 30 s deregistration delay, as most teams set it); the service balanced on "/*"
    is the listener's default action, the others get path rules."""
    lb = elbv2.create_load_balancer(Name="prod-public", Subnets=list(net.public),
                                    SecurityGroups=[net.alb_sg], Scheme="internet-facing",
                                    Type="application")["LoadBalancers"][0]
    balanced = [(s, s.balancer) for s in sc.SERVICES if s.balancer]
    groups: dict[str, str] = {}
    for service, balancer in balanced:
        groups[service.name] = elbv2.create_target_group(
            Name=f"prod-{service.name}", Protocol="HTTP", VpcId=net.vpc, Port=service.port,
            TargetType="ip" if service.launch_type == "FARGATE" else "instance",
            HealthCheckPath=balancer.health_path, HealthCheckIntervalSeconds=30,
            HealthCheckTimeoutSeconds=5, HealthyThresholdCount=5, UnhealthyThresholdCount=2,
            Matcher={"HttpCode": "200"})["TargetGroups"][0]["TargetGroupArn"]
        elbv2.modify_target_group_attributes(TargetGroupArn=groups[service.name], Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])
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
    return Balancers(str(lb["LoadBalancerArn"]), groups)
