"""An embedded demo AWS account: a moto server on 127.0.0.1 holding a realistic ``prod``
ECS cluster with the incidents described in :mod:`checker.demo_scenario`.

``ecsdoctor demo`` and the tests point the real collectors at it::

    with demo_account() as acct:
        ecs = acct.session().client("ecs", endpoint_url=acct.endpoint_url)
        ecs.list_services(cluster=acct.cluster)

How it is built: a ``ThreadedMotoServer`` runs in this process; everything moto's API can
express is created through the public boto3 API against it (as a user would), and what it
cannot (exit codes, stop codes, events, realistic instance resources) is written straight onto
moto's backend objects with :mod:`checker.moto_seed`, which works because the server thread
shares this process's backends. Task status transitions are frozen for the lifetime of the
account. On exit the server is stopped, moto's state reset and the freeze undone, also when
the body raises.

moto's backends are process-global, so there is one demo account per process at a time
(a second concurrent ``demo_account()`` raises RuntimeError); don't use ``mock_aws`` in the
same process while it is open either, as it resets the same backends.

No credentials and no network beyond 127.0.0.1 are needed: :meth:`DemoAccount.session` has
fake keys, reads no AWS config or credentials file, ignores proxy variables and pins every
client to the demo endpoint. ``os.environ`` is never modified.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import hashlib
import ipaddress
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checker import demo_scenario as sc

if TYPE_CHECKING:
    import boto3.session
    from botocore.config import Config

    from checker.moto_seed import ContainerSpec

Sampler = Callable[[float], list[float]]  # minutes ago -> the samples taken then

_FAKE_KEY = "ecsdoctor-demo"
_ONE_ACCOUNT = threading.Lock()
_RANDOM_SEED = 20261121  # moto ids (ARNs, ENIs, instance ids) are the same on every run
# Session variables that would otherwise come from the user's environment or ~/.aws files.
_ISOLATED_VARS: dict[str, tuple[Any, Any, Any, Any]] = {
    "profile": (None, None, None, None),
    "config_file": (None, None, os.devnull, None),
    "credentials_file": (None, None, os.devnull, None),
    "use_fips_endpoint": (None, None, False, None),
    "use_dualstack_endpoint": (None, None, False, None),
    "defaults_mode": (None, None, "legacy", None),
}


@dataclass(frozen=True)
class DemoAccount:
    """A running demo account. Valid only inside the ``demo_account()`` block."""

    endpoint_url: str  # http://127.0.0.1:<port>
    region: str  # "us-east-1"
    cluster: str  # "prod"

    def session(self) -> boto3.session.Session:
        """A boto3 session for the demo account that cannot reach anything else.

        Fake credentials are set explicitly; the user's AWS profile, config and credentials
        files and proxy variables are ignored; every client it makes talks to
        ``endpoint_url``, with or without an ``endpoint_url`` argument.
        """
        import boto3.session
        import botocore.session
        from botocore.config import Config

        core = botocore.session.Session(session_vars=_ISOLATED_VARS)
        core.set_default_client_config(Config(proxies={}))  # HTTP(S)_PROXY must not apply
        endpoint = self.endpoint_url

        def pin_endpoint(builtins: dict[str, Any], **_: Any) -> None:
            builtins["SDK::Endpoint"] = endpoint

        core.register("before-endpoint-resolution", pin_endpoint, unique_id="ecsdoctor-demo")
        return boto3.session.Session(
            aws_access_key_id=_FAKE_KEY,
            aws_secret_access_key=_FAKE_KEY,
            region_name=self.region,
            botocore_session=core,
        )


@contextlib.contextmanager
def demo_account() -> Iterator[DemoAccount]:
    """Start the demo account, seed the scenario, yield it; tear everything down on exit."""
    if not _ONE_ACCOUNT.acquire(blocking=False):
        raise RuntimeError("a demo account is already open in this process")
    try:
        with _moto_server() as endpoint_url:
            account = DemoAccount(endpoint_url, sc.REGION, sc.CLUSTER)
            _seed(account)
            yield account
    finally:
        _ONE_ACCOUNT.release()


@contextlib.contextmanager
def _moto_server() -> Iterator[str]:
    from moto.moto_api._internal import mock_random
    from moto.server import ThreadedMotoServer

    from checker import moto_seed

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)  # it logs every request, even with verbose=False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        moto_seed.reset_backends()
        mock_random.seed(_RANDOM_SEED)
        moto_seed.freeze_tasks_running()
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        _close_listener(server)
        moto_seed.reset_backends()
        moto_seed.reset_overrides()
        moto_seed.uninstall_patches()
        moto_seed.unfreeze_tasks()
        mock_random.seed()  # back to unpredictable ids for whoever uses moto next
        werkzeug.setLevel(level)


def _close_listener(server: Any) -> None:
    """ThreadedMotoServer.stop() ends the serve loop but leaves the socket listening, so a
    client would hang instead of being refused; close it."""
    wsgi = getattr(server, "_server", None)
    if wsgi is not None:
        wsgi.server_close()


# --- seeding: everything below runs inside demo_account() ----------------------------------


def _client_config() -> Config:
    from botocore.config import Config

    # moto answers its own bugs with HTTP 500; retrying them only leaks more ENIs.
    return Config(retries={"max_attempts": 1, "mode": "standard"}, proxies={})


class _Clients:
    """The boto3 clients the seeding uses, all against the demo endpoint."""

    def __init__(self, account: DemoAccount) -> None:
        session, config = account.session(), _client_config()

        def client(name: str) -> Any:
            return session.client(name, endpoint_url=account.endpoint_url, config=config)

        self.ec2, self.ecs, self.elbv2 = client("ec2"), client("ecs"), client("elbv2")
        self.asg, self.ssm, self.logs = client("autoscaling"), client("ssm"), client("logs")
        self.aas, self.cw = client("application-autoscaling"), client("cloudwatch")


@dataclass(frozen=True)
class _Network:
    vpc: str
    private: tuple[str, ...]  # one subnet per AZ, in sc.AZS order
    public: tuple[str, ...]
    private_route_tables: tuple[str, ...]
    alb_sg: str
    tasks_sg: str
    instances_sg: str


@dataclass(frozen=True)
class _Instance:
    instance_id: str
    arn: str  # container instance ARN


@dataclass
class _Built:
    """One service as created: its planned tasks and what AWS gave them."""

    service: sc.Service
    tasks: tuple[sc.PlannedTask, ...]
    arns: tuple[str, ...] = ()
    ips: dict[str, str] = field(default_factory=dict)  # task ARN -> ENI address (awsvpc)
    host_ports: dict[str, int] = field(default_factory=dict)  # task ARN -> host port (bridge)


def _seed(account: DemoAccount) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    aws = _Clients(account)
    net = _build_network(aws.ec2)
    ami = _ecs_ami(aws.ssm)
    instances = _build_capacity(aws, net, ami)
    target_groups = _build_load_balancer(aws.elbv2, net)
    built = []
    for offset, service in enumerate(sc.SERVICES):
        b = _Built(service, sc.plan_tasks(service, offset))
        _build_service(aws, b, net, instances, target_groups.get(service.name), now)
        built.append(b)
    _seed_instances(built, instances, ami, now)
    _put_metrics(aws.cw, built, instances, now)


def _ago(now: dt.datetime, minutes: float) -> dt.datetime:
    return now - dt.timedelta(seconds=round(minutes * 60))


def _spec(resource: str, name: str) -> list[dict[str, Any]]:
    """TagSpecifications: a Name and the environment tag."""
    tags = [{"Key": "Name", "Value": name}, {"Key": "environment", "Value": "prod"}]
    return [{"ResourceType": resource, "Tags": tags}]


# --- network -------------------------------------------------------------------------------


def _build_network(ec2: Any) -> _Network:
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
    return _Network(vpc_id, tuple(private), tuple(public), route_tables, alb, tasks, hosts)


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


def _ecs_ami(ssm: Any) -> dict[str, str]:
    """The recommended ECS-optimised AMI, as AWS publishes it in SSM (image_id,
    ecs_agent_version, ecs_runtime_version, ...). moto's value is a Python repr, not JSON."""
    import ast

    value = ssm.get_parameter(Name=sc.ECS_AMI_PARAMETER)["Parameter"]["Value"]
    try:
        return dict(json.loads(value))
    except ValueError:
        return dict(ast.literal_eval(value))


def _build_capacity(aws: _Clients, net: _Network, ami: dict[str, str]) -> list[_Instance]:
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
        instances.append(_Instance(instance_id, ci["containerInstance"]["containerInstanceArn"]))
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


def _build_load_balancer(elbv2: Any, net: _Network) -> dict[str, str]:
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


# --- services and their tasks -------------------------------------------------------------


def _build_service(aws: _Clients, b: _Built, net: _Network, instances: list[_Instance],
                   target_group: str | None, now: dt.datetime) -> None:
    service = b.service
    aws.logs.create_log_group(logGroupName=f"/ecs/{sc.CLUSTER}/{service.name}")
    aws.logs.put_retention_policy(logGroupName=f"/ecs/{sc.CLUSTER}/{service.name}",
                                  retentionInDays=30)
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


def _service_request(service: sc.Service, td_arn: str, net: _Network,
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


def _launch(ecs: Any, b: _Built, td_arn: str, deployment_id: str, net: _Network,
            instances: list[_Instance]) -> None:
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
            started_at=_ago(now, task.started), stopped_at=_ago(now, task.stopped))


def _task_fields(service: sc.Service, task: sc.PlannedTask, now: dt.datetime) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "created_at": _ago(now, task.created), "availability_zone": sc.AZS[task.slot],
        "connectivity": "CONNECTED", "connectivity_at": _ago(now, task.created - 0.05),
        "pull_started_at": _ago(now, task.created - 0.1), "version": 2,
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
    fields.update(started_at=_ago(now, task.started),
                  pull_stopped_at=_ago(now, task.started + 0.05))
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
                      instances: list[_Instance]) -> None:
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
        "createdAt": _ago(now, service.deployed), "updatedAt": _ago(now, last_change),
        "desiredCount": service.desired, "runningCount": running, "pendingCount": pending,
        "failedTasks": len(service.stopped) if service.rollout else 0,
        "rolloutState": state, "rolloutStateReason": reason,
    }
    fields: dict[str, Any] = {
        "created_at": _ago(now, service.created), "running_count": running,
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
        moto_seed.add_service_event(sc.CLUSTER, service.name, message, when=_ago(now, minutes))


def _seed_instances(built: list[_Built], instances: list[_Instance], ami: dict[str, str],
                    now: dt.datetime) -> None:
    """Registered m5.large resources, less what the RUNNING and PENDING tasks reserve (the
    soft limit where a container has one, else the hard limit); cluster task counts."""
    from checker import moto_seed

    for slot, instance in enumerate(instances):
        cpu, memory, counts = 0, 0, {"RUNNING": 0, "PENDING": 0}
        for b in built:
            if b.service.launch_type != "EC2":
                continue
            for task in (t for t in b.tasks if t.slot == slot and t.status in counts):
                counts[task.status] += 1
                cpu += sum(c.cpu for c in b.service.containers)
                memory += sum(c.memory_reservation or c.memory or 0 for c in b.service.containers)
        moto_seed.set_container_instance_resources(
            sc.CLUSTER, instance.arn, cpu=sc.REGISTERED_CPU, memory=sc.REGISTERED_MEMORY,
            remaining_cpu=sc.REGISTERED_CPU - cpu, remaining_memory=sc.REGISTERED_MEMORY - memory,
            attributes=sc.INSTANCE_ATTRIBUTES, running_tasks_count=counts["RUNNING"],
            pending_tasks_count=counts["PENDING"], registered_at=_ago(now, sc.INSTANCES_LAUNCHED),
            version_info={"agentVersion": ami["ecs_agent_version"], "agentHash": "4f2b1a9c",
                          "dockerVersion": ami["ecs_runtime_version"].replace(
                              "Docker version", "DockerVersion:")})
    tasks = [t for b in built for t in b.tasks]
    moto_seed.set_cluster_fields(
        sc.CLUSTER, active_services_count=len(built),
        running_tasks_count=sum(t.status == "RUNNING" for t in tasks),
        pending_tasks_count=sum(t.status == "PENDING" for t in tasks))


# --- CloudWatch: the metric history the scan reads ------------------------------------------


def _put_metrics(cw: Any, built: list[_Built], instances: list[_Instance],
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
            "Timestamp": _ago(now, start),
            "StatisticValues": {"SampleCount": float(len(values)), "Sum": round(sum(values), 2),
                                "Minimum": min(values), "Maximum": max(values)}})
    return points
