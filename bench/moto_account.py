"""The moto account the API-call and wall-time benches scan (not a bench itself).

One ``bench`` cluster (Container Insights on) sized by :class:`Size` — by default 200
services, 2,000 running and 500 stopped tasks, 50 container instances — on a realistic
network: one VPC over three AZs, private subnets behind a NAT gateway each, public subnets
behind an internet gateway, S3/ECR/Logs VPC endpoints, security groups (ALB, instances,
Fargate tasks, endpoints), two ALBs with a target group per load-balanced service, the
instances in an Auto Scaling group behind a capacity provider, and target-tracking scaling
on some services. Most services run on the EC2 instances (bridge mode, started with
``start_task`` round-robin over the instances so they spread as ECS would spread them); a
few run on Fargate (awsvpc: one ENI per task). Every service has its own task definition
family (one revision), as in most real clusters.

Everything moto's API can express is created through boto3, as a user would; what it cannot
(stopped tasks with a stop code, frozen task status, real container-instance resources,
service counts) is written with :mod:`checker.demo.moto_seed`, which needs the moto backends in
this process: :func:`in_process` (``mock_aws``) or :func:`served` (``ThreadedMotoServer``
on 127.0.0.1, like ``ecsdoctor demo``). No metric data is written: CloudWatch answers every
query with an empty series, which costs the scan the same calls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

REGION = "us-east-1"
CLUSTER = "bench"
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")
AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
INSTANCE_TYPE = "m5.large"
REGISTERED_CPU, REGISTERED_MEMORY = 2048, 7680  # what the agent registers on an m5.large
CONTAINER_CPU, CONTAINER_MEMORY = 32, 128  # EC2 tasks (bridge)
FARGATE_CPU, FARGATE_MEMORY = "256", "512"
TARGET_GROUPS_PER_ALB = 20
ENDPOINTS = ("ecr.api", "ecr.dkr", "logs")
_FAKE_KEY = "ecsdoctor-bench"


@dataclass(frozen=True)
class Size:
    """How big the account is. ``fargate``, ``balanced`` and ``scaled`` are numbers of
    services (Fargate ones, ones behind an ALB, ones with a scaling policy)."""

    services: int = 200
    running: int = 2000
    stopped: int = 500
    instances: int = 50
    fargate: int = 10
    balanced: int = 40
    scaled: int = 50

    def tasks_of(self, i: int) -> tuple[int, int]:
        """(running, stopped) tasks of service ``i``: spread as evenly as the totals allow."""
        def share(total: int) -> int:
            return total // self.services + (1 if i < total % self.services else 0)
        return share(self.running), share(self.stopped)

    @property
    def albs(self) -> int:
        return math.ceil(self.balanced / TARGET_GROUPS_PER_ALB)


FULL = Size()
TINY = Size(services=6, running=24, stopped=6, instances=3, fargate=2, balanced=3, scaled=2)


@dataclass
class Account:
    """What was built (the benches compute their expectations from it)."""

    size: Size
    endpoint_url: str | None
    vpc: str = ""
    private: list[str] = field(default_factory=list)
    public: list[str] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)
    instances: list[str] = field(default_factory=list)  # EC2 instance ids
    container_instances: list[str] = field(default_factory=list)  # their ARNs, same order
    albs: list[str] = field(default_factory=list)
    target_groups: dict[str, str] = field(default_factory=dict)  # service -> TG ARN
    services: list[str] = field(default_factory=list)

    def session(self) -> Any:
        """A boto3 session for this account: fake keys, the region; over HTTP every client
        is pinned to the moto server and the user's AWS config is ignored."""
        import boto3.session

        if self.endpoint_url is None:
            return boto3.session.Session(aws_access_key_id=_FAKE_KEY,
                                         aws_secret_access_key=_FAKE_KEY, region_name=REGION)
        from checker.demo.run import DemoAccount

        return DemoAccount(self.endpoint_url, REGION, CLUSTER).session()


class _Clients:
    def __init__(self, account: Account) -> None:
        from botocore.config import Config

        config = Config(retries={"max_attempts": 1, "mode": "standard"}, proxies={})
        session = account.session()

        def client(name: str) -> Any:
            return session.client(name, endpoint_url=account.endpoint_url, config=config)

        self.ec2, self.ecs, self.elbv2, self.ssm = (client(n) for n in
                                                    ("ec2", "ecs", "elbv2", "ssm"))
        self.asg, self.aas = client("autoscaling"), client("application-autoscaling")


def service_name(i: int) -> str:
    return f"svc-{i:03d}"


# --- lifecycle ---------------------------------------------------------------------------


@contextlib.contextmanager
def in_process(size: Size = FULL) -> Iterator[Account]:
    """The account inside ``mock_aws`` (in this process); task status frozen throughout."""
    from moto import mock_aws

    from checker.demo import moto_seed

    with mock_aws():
        moto_seed.freeze_tasks_running()
        try:
            account = Account(size, None)
            build(account)
            yield account
        finally:
            moto_seed.unfreeze_tasks()


@contextlib.contextmanager
def served(size: Size = FULL) -> Iterator[Account]:
    """The account behind a ``ThreadedMotoServer`` on 127.0.0.1 in this process (as
    ``ecsdoctor demo`` runs it); reset, unfrozen and stopped on exit."""
    from moto.server import ThreadedMotoServer

    from checker.demo import moto_seed

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)  # it logs every request, even with verbose=False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        moto_seed.reset_backends()
        moto_seed.freeze_tasks_running()
        server.start()
        host, port = server.get_host_and_port()
        account = Account(size, f"http://{host}:{port}")
        build(account)
        yield account
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        wsgi = getattr(server, "_server", None)
        if wsgi is not None:  # stop() leaves the socket listening
            wsgi.server_close()
        moto_seed.reset_backends()
        moto_seed.unfreeze_tasks()
        werkzeug.setLevel(level)


# --- building ------------------------------------------------------------------------------


def build(account: Account) -> None:
    aws = _Clients(account)
    _network(aws, account)
    _capacity(aws, account)
    _load_balancers(aws, account)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for i in range(account.size.services):
        _service(aws, account, i, now)
    _seed_instances(account)


def _network(aws: _Clients, account: Account) -> None:
    ec2 = aws.ec2
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # awsvpc needs it
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    private_rts = []
    for n, az in enumerate(AZS):
        private = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{16 * n}.0/20",
                                    AvailabilityZone=az)["Subnet"]["SubnetId"]
        public = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{128 + n}.0/24",
                                   AvailabilityZone=az)["Subnet"]["SubnetId"]
        ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public)
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"][
            "NatGatewayId"]
        rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        ec2.associate_route_table(RouteTableId=rt, SubnetId=private)
        account.private.append(private)
        account.public.append(public)
        private_rts.append(rt)
    account.vpc = vpc
    account.groups = _security_groups(ec2, vpc)
    ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway", RouteTableIds=private_rts,
                            ServiceName=f"com.amazonaws.{REGION}.s3")
    for name in ENDPOINTS:
        ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Interface",
                                SubnetIds=account.private, PrivateDnsEnabled=True,
                                SecurityGroupIds=[account.groups["endpoints"]],
                                ServiceName=f"com.amazonaws.{REGION}.{name}")


def _security_groups(ec2: Any, vpc: str) -> dict[str, str]:
    groups = {name: str(ec2.create_security_group(GroupName=f"bench-{name}", VpcId=vpc,
                                                  Description=name)["GroupId"])
              for name in ("alb", "instances", "tasks", "endpoints")}

    def allow(sg: str, low: int, high: int, **source: Any) -> None:
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": low, "ToPort": high, **source}])

    allow(groups["alb"], 443, 443, IpRanges=[{"CidrIp": "0.0.0.0/0"}])
    allow(groups["instances"], 32768, 65535, UserIdGroupPairs=[{"GroupId": groups["alb"]}])
    allow(groups["tasks"], 8080, 8080, UserIdGroupPairs=[{"GroupId": groups["alb"]}])
    allow(groups["endpoints"], 443, 443, IpRanges=[{"CidrIp": "10.0.0.0/16"}])
    return groups


def _capacity(aws: _Clients, account: Account) -> None:
    """The instances (spread over the AZs), their Auto Scaling group and capacity provider,
    the cluster, and a container instance per instance."""
    n = account.size.instances
    ami = aws.ssm.get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    aws.ec2.create_launch_template(LaunchTemplateName="bench-ecs", LaunchTemplateData={
        "ImageId": ami, "InstanceType": INSTANCE_TYPE,
        "SecurityGroupIds": [account.groups["instances"]]})
    template = {"LaunchTemplateName": "bench-ecs", "Version": "$Latest"}
    for z, subnet in enumerate(account.private):
        count = n // len(AZS) + (1 if z < n % len(AZS) else 0)
        if count:
            found = aws.ec2.run_instances(LaunchTemplate=template, MinCount=count,
                                          MaxCount=count, SubnetId=subnet)["Instances"]
            account.instances += [str(i["InstanceId"]) for i in found]
    aws.asg.create_auto_scaling_group(
        AutoScalingGroupName="bench-ecs", LaunchTemplate=template, MinSize=0, MaxSize=2 * n,
        DesiredCapacity=0, VPCZoneIdentifier=",".join(account.private))
    for start in range(0, n, 20):  # AttachInstances takes 20 ids
        aws.asg.attach_instances(AutoScalingGroupName="bench-ecs",
                                 InstanceIds=account.instances[start:start + 20])
    arn = aws.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["bench-ecs"])[
        "AutoScalingGroups"][0]["AutoScalingGroupARN"]
    aws.ecs.create_capacity_provider(name="bench-ec2", autoScalingGroupProvider={
        "autoScalingGroupArn": arn, "managedTerminationProtection": "DISABLED",
        "managedScaling": {"status": "ENABLED", "targetCapacity": 100}})
    aws.ecs.create_cluster(clusterName=CLUSTER,
                           settings=[{"name": "containerInsights", "value": "enabled"}],
                           capacityProviders=["FARGATE", "FARGATE_SPOT", "bench-ec2"])
    for z, instance_id in enumerate(account.instances):
        document = json.dumps({"instanceId": instance_id, "region": REGION,
                               "availabilityZone": AZS[z % len(AZS)],
                               "accountId": "123456789012"})
        ci = aws.ecs.register_container_instance(cluster=CLUSTER,
                                                 instanceIdentityDocument=document)
        account.container_instances.append(str(ci["containerInstance"]["containerInstanceArn"]))


def _load_balancers(aws: _Clients, account: Account) -> None:
    """The ALBs and a target group per load-balanced service (the first ``balanced``
    services), each forwarded to by a listener rule, so it is attached to its ALB."""
    for a in range(account.size.albs):
        lb = aws.elbv2.create_load_balancer(
            Name=f"bench-{a}", Subnets=account.public, SecurityGroups=[account.groups["alb"]],
            Scheme="internet-facing", Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
        account.albs.append(str(lb))
        names = [service_name(i) for i in range(account.size.balanced)
                 if i // TARGET_GROUPS_PER_ALB == a]
        listener = None
        for priority, name in enumerate(names, 1):
            fargate = _is_fargate(account.size, int(name[4:]))
            tg = aws.elbv2.create_target_group(
                Name=f"bench-{name}", Protocol="HTTP", Port=8080, VpcId=account.vpc,
                TargetType="ip" if fargate else "instance", HealthCheckPath="/health")[
                "TargetGroups"][0]["TargetGroupArn"]
            account.target_groups[name] = str(tg)
            if listener is None:
                listener = aws.elbv2.create_listener(
                    LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                    DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])[
                    "Listeners"][0]["ListenerArn"]
            aws.elbv2.create_rule(ListenerArn=listener, Priority=priority,
                                  Actions=[{"Type": "forward", "TargetGroupArn": tg}],
                                  Conditions=[{"Field": "path-pattern",
                                               "Values": [f"/{name}/*"]}])


def _is_fargate(size: Size, i: int) -> bool:
    """The last ``fargate`` services run on Fargate (so the balanced ones are mostly EC2)."""
    return i >= size.services - size.fargate


def _task_definition(name: str, fargate: bool) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app", "image": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{name}:1.0.0",
        "essential": True, "portMappings": [{"containerPort": 8080,
                                             "hostPort": 8080 if fargate else 0}],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": f"/ecs/{CLUSTER}/{name}", "awslogs-region": REGION,
            "awslogs-stream-prefix": name}}}
    if fargate:
        container["memory"] = int(FARGATE_MEMORY)  # moto needs container-level memory
        return {"family": name, "containerDefinitions": [container], "networkMode": "awsvpc",
                "requiresCompatibilities": ["FARGATE"], "cpu": FARGATE_CPU,
                "memory": FARGATE_MEMORY}
    container.update(cpu=CONTAINER_CPU, memory=CONTAINER_MEMORY)
    return {"family": name, "containerDefinitions": [container], "networkMode": "bridge"}


def _service(aws: _Clients, account: Account, i: int, now: dt.datetime) -> None:
    """One service: its task definition, the service, its running and stopped tasks, its
    targets and its scaling."""
    from checker.demo import moto_seed

    name, size = service_name(i), account.size
    fargate = _is_fargate(size, i)
    running, stopped = size.tasks_of(i)
    td = aws.ecs.register_task_definition(**_task_definition(name, fargate))[
        "taskDefinition"]["taskDefinitionArn"]
    request: dict[str, Any] = {"cluster": CLUSTER, "serviceName": name, "taskDefinition": td,
                               "desiredCount": running,
                               "launchType": "FARGATE" if fargate else "EC2"}
    network = {"awsvpcConfiguration": {"subnets": account.private,
                                       "securityGroups": [account.groups["tasks"]],
                                       "assignPublicIp": "DISABLED"}}
    if fargate:
        request["networkConfiguration"] = network
    if name in account.target_groups:
        request["loadBalancers"] = [{"targetGroupArn": account.target_groups[name],
                                     "containerName": "app", "containerPort": 8080}]
    deployment = aws.ecs.create_service(**request)["service"]["deployments"][0]["id"]
    account.services.append(name)
    common = {"cluster": CLUSTER, "taskDefinition": td, "group": f"service:{name}",
              "startedBy": deployment}
    if fargate:
        tasks = aws.ecs.run_task(count=running + stopped, launchType="FARGATE",
                                 networkConfiguration=network, **common)["tasks"]
    else:
        slots = [account.container_instances[(i * 7 + k) % size.instances]
                 for k in range(running + stopped)]
        tasks = aws.ecs.start_task(containerInstances=slots, **common)["tasks"]
    for task in tasks[running:]:
        moto_seed.stop_task_with(
            task["taskArn"], stop_code="ServiceSchedulerInitiated",
            stopped_reason=f"Scaling activity initiated by (deployment {deployment})",
            containers=[{"name": "app", "exit_code": 143}],
            stopped_at=now - dt.timedelta(minutes=20))
    moto_seed.set_service_fields(CLUSTER, name, running_count=running, pending_count=0)
    if name in account.target_groups:
        _register(aws, account, name, tasks[:running], fargate)
    if i < size.scaled:
        _scaling(aws, name, running)


def _register(aws: _Clients, account: Account, name: str, tasks: list[dict[str, Any]],
              fargate: bool) -> None:
    targets = []
    for k, task in enumerate(tasks):
        if fargate:
            ip = next(d["value"] for a in task.get("attachments", []) for d in a["details"]
                      if d["name"] == "privateIPv4Address")
            targets.append({"Id": ip, "Port": 8080})
        else:
            ci = account.container_instances.index(task["containerInstanceArn"])
            targets.append({"Id": account.instances[ci], "Port": 32768 + k})
    aws.elbv2.register_targets(TargetGroupArn=account.target_groups[name], Targets=targets)


def _scaling(aws: _Clients, name: str, running: int) -> None:
    resource = f"service/{CLUSTER}/{name}"
    aws.aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource,
                                     ScalableDimension="ecs:service:DesiredCount",
                                     MinCapacity=max(1, running // 2), MaxCapacity=running * 3)
    aws.aas.put_scaling_policy(
        PolicyName=f"{name}-cpu", ServiceNamespace="ecs", ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0, "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})


def _seed_instances(account: Account) -> None:
    """What an m5.large agent registers, less what its RUNNING tasks reserve (moto
    registers 4096 CPU / 7482 MiB whatever the type, and start_task reserves nothing)."""
    from checker.demo import moto_seed

    size = account.size
    held = [0] * size.instances
    for i in range(size.services):
        if not _is_fargate(size, i):
            for k in range(size.tasks_of(i)[0]):
                held[(i * 7 + k) % size.instances] += 1
    for arn, n in zip(account.container_instances, held, strict=True):
        moto_seed.set_container_instance_resources(
            CLUSTER, arn, cpu=REGISTERED_CPU, memory=REGISTERED_MEMORY,
            remaining_cpu=REGISTERED_CPU - n * CONTAINER_CPU,
            remaining_memory=REGISTERED_MEMORY - n * CONTAINER_MEMORY,
            running_tasks_count=n, pending_tasks_count=0)
