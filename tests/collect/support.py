"""What the collector tests share: the moto accounts, the API calls a session makes, refusals
injected into a session, and Stubber-backed clients for the limits moto does not emulate.

The accounts (MOTO.md: what moto does and does not emulate):
- ``build_account``: ECS alone, sized so every ECS batch and page limit is crossed.
- ``build_lb_account``: ECS services behind ALB/NLB target groups (ELBv2, CloudWatch tests).
- ``build_network_account``: one VPC with DNS support and hostnames, two private subnets in
  two AZs (the first routed through a NAT gateway by its own table, the second left on the
  VPC's main table), a public subnet with the NAT and an internet gateway route, an S3
  gateway endpoint, security groups that reference each other, a custom network ACL, two EC2
  container instances (t3.medium and m5.large), an ASG capacity provider, and a Fargate
  awsvpc service with a scalable target and a target-tracking policy. Next to it, things no
  scanned resource uses: a second VPC with its own subnet, group and instance, an unused
  group, an ASG no provider names, and another cluster's scalable target. None of those may
  be collected (EC2 and Auto Scaling tests).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from checker.collect import Context, Scope
from checker.collect.aws import iam_prefix

REGION = "us-east-1"
ACCOUNT = "123456789012"
WORKER_TASKS = 110  # > 100, so DescribeTasks needs two batches
WORKERS = 23  # + web + api = 25 services → three DescribeServices calls
PROD = Scope(clusters=("prod",))


class Calls:
    """Every API call a session's clients make, as IAM actions, via botocore's event hook."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.actions: list[str] = []
        self.params: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        session.events.register("before-call.*.*", self._call)
        # before-call sees the serialized request; the API parameters are seen earlier
        session.events.register("before-parameter-build.*.*", self._params)

    @staticmethod
    def action(event_name: str) -> str:
        """`before-call.ecs.DescribeTasks` → `ecs:DescribeTasks` (the hook names services by
        their hyphenated service id; IAM by its prefix)."""
        _, service_id, operation = event_name.split(".")
        return f"{iam_prefix(service_id)}:{operation}"

    def _call(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.actions.append(self.action(event_name))

    def _params(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.params.append((self.action(event_name), dict(params)))

    def count(self) -> Counter[str]:
        return Counter(self.actions)


def denied(operation: str, code: str = "AccessDeniedException") -> Any:
    """A before-call handler that fails `operation` as AWS refuses it, so one call can be
    denied (or throttled) while the rest of the scan goes on."""
    def handler(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": f"not authorized: {operation}"}},
                          operation)
    return handler


def stub_fixtures(service: str, *, account: str | None = None,
                  resources: Callable[[], dict[str, list[dict[str, Any]]]] | None = None,
                  ) -> tuple[Any, Any]:
    """The `stub` and `ctx` fixtures of a module that tests one collector on a stubbed client:
    `stub`, a Stubber on a real `service` client, so every request is checked against the API
    model, failing the test when a queued response was never asked for; `ctx`, a
    serial_context on that client, holding `resources()` (built afresh for each test).
    Assign them to those names: ``stub, ctx = stub_fixtures("ec2")``."""

    @pytest.fixture(name="stub")
    def stub_fixture() -> Iterator[Stubber]:
        client = boto3.session.Session(region_name=REGION).client(service)
        with Stubber(client) as stubber:
            yield stubber
            stubber.assert_no_pending_responses()

    @pytest.fixture(name="ctx")
    def ctx_fixture(stub: Stubber) -> Iterator[Context]:
        stored = resources() if resources is not None else None
        with serial_context({service: stub.client}, account=account,
                            resources=stored) as context:
            yield context

    return stub_fixture, ctx_fixture


@contextmanager
def serial_context(clients: dict[str, Any], *, account: str | None = None,
                   resources: dict[str, list[dict[str, Any]]] | None = None
                   ) -> Iterator[Context]:
    """A Context for PROD on one worker: jobs run in the order queued, so a Stubber's queue of
    responses lines up with them."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield Context(scope=PROD, region=REGION, pool=pool, account=account, clients=clients,
                      resources=resources if resources is not None else {})


# -- moto accounts --------------------------------------------------------------------------

def build_account() -> dict[str, Any]:
    """Cluster `prod`: two EC2 container instances, capacity providers FARGATE, FARGATE_SPOT
    and an ASG one; service `web` (EC2, rolling from web:1 to web:2, one task stopped),
    `api` (Fargate, awsvpc), 23 `worker-NN` services sharing 110 worker tasks."""
    ec2, ecs, ssm = (boto3.client(s, region_name=REGION) for s in ("ec2", "ecs", "ssm"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # awsvpc tasks need DNS hostnames in moto (MOTO.md finding 5)
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    awsvpc = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}}
    ecs.create_capacity_provider(name="prod-asg", autoScalingGroupProvider={
        "autoScalingGroupArn": f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:"
                               "0d5c6a3e:autoScalingGroupName/prod"})
    ecs.create_cluster(clusterName="prod",
                       capacityProviders=["FARGATE", "FARGATE_SPOT", "prod-asg"],
                       defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE",
                                                         "weight": 1}])
    image = ssm.get_parameter(
        Name="/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id")["Parameter"]
    instances = ec2.run_instances(ImageId=image["Value"], MinCount=2, MaxCount=2,
                                  InstanceType="m5.large", SubnetId=subnet)["Instances"]
    for inst in instances:
        ecs.register_container_instance(cluster="prod", instanceIdentityDocument=json.dumps(
            {"instanceId": inst["InstanceId"], "region": REGION, "accountId": ACCOUNT}))
    # container-level memory: moto's run_task needs it (MOTO.md finding 6)
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "nginx:1", "memory": 256}])
    ecs.register_task_definition(family="api", networkMode="awsvpc", cpu="256", memory="512",
                                 requiresCompatibilities=["FARGATE"],
                                 containerDefinitions=[{"name": "api", "image": "api:1",
                                                        "memory": 512}])
    ecs.register_task_definition(family="worker", containerDefinitions=[
        {"name": "worker", "image": "worker:1", "memory": 32}])
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=2,
                       launchType="EC2")
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "nginx:2", "memory": 256}])
    ecs.update_service(cluster="prod", service="web", taskDefinition="web:2")
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=2,
                       launchType="FARGATE", networkConfiguration=awsvpc)
    for i in range(WORKERS):
        ecs.create_service(cluster="prod", serviceName=f"worker-{i:02}", taskDefinition="worker",
                           desiredCount=1, launchType="EC2")
    # services never start tasks in moto (MOTO.md finding 2): run them in the service's group
    web = ecs.run_task(cluster="prod", taskDefinition="web:1", count=3, launchType="EC2",
                       group="service:web", startedBy="ecs-svc/1")["tasks"]
    ecs.run_task(cluster="prod", taskDefinition="api:1", count=2, launchType="FARGATE",
                 group="service:api", startedBy="ecs-svc/2", networkConfiguration=awsvpc)
    for i in range(WORKER_TASKS // 10):
        ecs.run_task(cluster="prod", taskDefinition="worker:1", count=10, launchType="EC2",
                     group=f"service:worker-{i:02}", startedBy="ecs-svc/3")
    ecs.stop_task(cluster="prod", task=web[0]["taskArn"], reason="Task failed ELB health checks")
    return {"stopped": web[0]["taskArn"]}


def build_lb_account() -> dict[str, str]:
    """Cluster `prod` (Container Insights on) with services `web` → ALB target group `web`
    (two ip targets), `tcp` → NLB target group `tcp`, `api` → target group `idle` (on no load
    balancer, no targets) and `worker` (no load balancer); target group `unused` is no
    service's. Returns the ARNs by name."""
    ec2, elb, ecs_api = (boto3.client(s, region_name=REGION) for s in ("ec2", "elbv2", "ecs"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for i, az in ((1, "a"), (2, "b"))]
    arns: dict[str, str] = {}
    for name, lb_type in (("web", "application"), ("tcp", "network")):
        arns[f"lb-{name}"] = elb.create_load_balancer(
            Name=name, Subnets=subnets, Type=lb_type)["LoadBalancers"][0]["LoadBalancerArn"]
    for name, protocol, port in (("web", "HTTP", 8080), ("tcp", "TCP", 9000),
                                 ("idle", "HTTP", 80), ("unused", "HTTP", 80)):
        arns[name] = elb.create_target_group(
            Name=name, Protocol=protocol, Port=port, VpcId=vpc, TargetType="ip",
        )["TargetGroups"][0]["TargetGroupArn"]
    for lb, tg, protocol, port in (("lb-web", "web", "HTTP", 80), ("lb-tcp", "tcp", "TCP", 9000)):
        elb.create_listener(LoadBalancerArn=arns[lb], Protocol=protocol, Port=port,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": arns[tg]}])
    elb.register_targets(TargetGroupArn=arns["web"], Targets=[
        {"Id": "10.0.1.10", "Port": 8080}, {"Id": "10.0.2.11", "Port": 8080}])
    elb.register_targets(TargetGroupArn=arns["tcp"], Targets=[{"Id": "10.0.1.20", "Port": 9000}])
    ecs_api.create_cluster(clusterName="prod",
                           settings=[{"name": "containerInsights", "value": "enabled"}])
    ecs_api.register_task_definition(family="app", containerDefinitions=[
        {"name": "app", "image": "app:1", "memory": 128}])
    for name, tg in (("web", "web"), ("tcp", "tcp"), ("api", "idle"), ("worker", "")):
        lbs = [{"targetGroupArn": arns[tg], "containerName": "app", "containerPort": 8080}
               ] if tg else []
        ecs_api.create_service(cluster="prod", serviceName=name, taskDefinition="app",
                               desiredCount=1, loadBalancers=lbs)
    return arns


def _vpc(ec2c: Any, cidr: str, hostnames: bool) -> str:
    vpc = str(ec2c.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])
    # awsvpc tasks need DNS hostnames in moto (MOTO.md finding 5)
    ec2c.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": hostnames})
    return vpc


def _subnet(ec2c: Any, vpc: str, cidr: str, az: str) -> str:
    return str(ec2c.create_subnet(VpcId=vpc, CidrBlock=cidr,
                                  AvailabilityZone=az)["Subnet"]["SubnetId"])


def _egress(ec2c: Any, vpc: str, public: str, private: str) -> dict[str, str]:
    """IGW route for the public subnet; NAT route (+ S3 gateway endpoint) for `private`."""
    igw = ec2c.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2c.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_rt = ec2c.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2c.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2c.associate_route_table(RouteTableId=public_rt, SubnetId=public)
    eip = ec2c.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2c.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    private_rt = ec2c.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2c.create_route(RouteTableId=private_rt, DestinationCidrBlock="0.0.0.0/0",
                      NatGatewayId=nat)
    ec2c.associate_route_table(RouteTableId=private_rt, SubnetId=private)
    s3 = ec2c.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3",
                                  VpcEndpointType="Gateway", RouteTableIds=[private_rt])
    main = ec2c.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [vpc]},
        {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]["RouteTableId"]
    return {"public_rt": public_rt, "private_rt": private_rt, "main_rt": main, "nat": nat,
            "s3": s3["VpcEndpoint"]["VpcEndpointId"]}


def _groups(ec2c: Any, vpc: str) -> dict[str, str]:
    """tasks ← alb (ingress), alb → tasks (egress): alb is reached only by reference."""
    def group(name: str) -> str:
        return str(ec2c.create_security_group(GroupName=name, Description=name,
                                              VpcId=vpc)["GroupId"])
    ids = {name: group(name) for name in ("alb", "tasks", "hosts", "unused")}
    ec2c.authorize_security_group_ingress(GroupId=ids["tasks"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
         "UserIdGroupPairs": [{"GroupId": ids["alb"], "UserId": ACCOUNT}]}])
    ec2c.authorize_security_group_egress(GroupId=ids["alb"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
         "UserIdGroupPairs": [{"GroupId": ids["tasks"]}]}])
    return ids


def _custom_acl(ec2c: Any, vpc: str, subnet: str) -> str:
    acl = ec2c.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    current = ec2c.describe_network_acls(Filters=[
        {"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"][0]
    assoc = next(a for a in current["Associations"] if a["SubnetId"] == subnet)
    ec2c.replace_network_acl_association(AssociationId=assoc["NetworkAclAssociationId"],
                                         NetworkAclId=acl)
    return str(acl)


def _instances(ec2c: Any, ecs: Any, image: str, placements: list[tuple[str, str]],
               group: str) -> dict[str, str]:
    """One registered container instance per (type, subnet); returns type → instance id."""
    ids = {}
    for instance_type, subnet in placements:
        inst = ec2c.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet,
                                  InstanceType=instance_type,
                                  SecurityGroupIds=[group])["Instances"][0]
        ecs.register_container_instance(cluster="prod", instanceIdentityDocument=json.dumps(
            {"instanceId": inst["InstanceId"], "region": REGION, "accountId": ACCOUNT}))
        ids[instance_type] = inst["InstanceId"]
    return ids


def _asg(ec2c: Any, asg: Any, name: str, subnet: str, image: str) -> str:
    if not ec2c.describe_launch_templates(Filters=[
            {"Name": "launch-template-name", "Values": ["ecs"]}])["LaunchTemplates"]:
        ec2c.create_launch_template(LaunchTemplateName="ecs", LaunchTemplateData={
            "ImageId": image, "InstanceType": "t3.medium"})
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=2,
                                  DesiredCapacity=0, VPCZoneIdentifier=subnet,
                                  LaunchTemplate={"LaunchTemplateName": "ecs"})
    return str(asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["AutoScalingGroupARN"])


def _api_service(ecs: Any, aas: Any, cluster: str, subnets: list[str], group: str) -> str:
    """A Fargate awsvpc service with two tasks, a scalable target and a CPU policy."""
    awsvpc = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}}
    ecs.register_task_definition(family="api", networkMode="awsvpc", cpu="256", memory="512",
                                 requiresCompatibilities=["FARGATE"], containerDefinitions=[
                                     {"name": "api", "image": "api:1", "memory": 512}])
    ecs.create_service(cluster=cluster, serviceName="api", taskDefinition="api",
                       desiredCount=2, launchType="FARGATE", networkConfiguration=awsvpc)
    ecs.run_task(cluster=cluster, taskDefinition="api", count=2, launchType="FARGATE",
                 group="service:api", startedBy="ecs-svc/1", networkConfiguration=awsvpc)
    resource = f"service/{cluster}/api"
    aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource, MinCapacity=1,
                                 MaxCapacity=4, ScalableDimension="ecs:service:DesiredCount")
    policy = aas.put_scaling_policy(
        PolicyName=f"{cluster}-api-cpu", ServiceNamespace="ecs", ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 60.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})
    return str(policy["PolicyARN"])


def build_network_account() -> dict[str, Any]:
    """The account the module docstring describes; returns the ids the tests expect."""
    ec2c, ecs, ssm, asg, aas = (boto3.client(s, region_name=REGION) for s in (
        "ec2", "ecs", "ssm", "autoscaling", "application-autoscaling"))
    image = ssm.get_parameter(Name="/aws/service/ecs/optimized-ami/amazon-linux-2/"
                                   "recommended/image_id")["Parameter"]["Value"]
    vpc = _vpc(ec2c, "10.0.0.0/16", hostnames=True)
    a, b = (_subnet(ec2c, vpc, f"10.0.{i}.0/24", f"{REGION}{az}")
            for i, az in ((1, "a"), (2, "b")))
    public = _subnet(ec2c, vpc, "10.0.0.0/24", f"{REGION}a")
    ids: dict[str, Any] = {"vpc": vpc, "a": a, "b": b, "public": public,
                           **_egress(ec2c, vpc, public, a), **_groups(ec2c, vpc)}
    ids["default_acl"] = ec2c.describe_network_acls(Filters=[
        {"Name": "association.subnet-id", "Values": [a]}])["NetworkAcls"][0]["NetworkAclId"]
    ids["custom_acl"] = _custom_acl(ec2c, vpc, b)
    ids["asg"] = _asg(ec2c, asg, "prod-asg", a, image)
    _asg(ec2c, asg, "other-asg", a, image)  # no capacity provider names it
    ecs.create_capacity_provider(name="prod-asg", autoScalingGroupProvider={
        "autoScalingGroupArn": ids["asg"]})
    ecs.create_cluster(clusterName="prod", capacityProviders=["FARGATE", "prod-asg"])
    ids["instances"] = _instances(ec2c, ecs, image, [("t3.medium", a), ("m5.large", b)],
                                  ids["hosts"])
    ids["policy"] = _api_service(ecs, aas, "prod", [a, b], ids["tasks"])
    ecs.create_cluster(clusterName="other")  # out of scope, with its own target and policy
    _api_service(ecs, aas, "other", [a], ids["unused"])
    other_vpc = _vpc(ec2c, "172.16.0.0/16", hostnames=False)
    other_subnet = _subnet(ec2c, other_vpc, "172.16.1.0/24", f"{REGION}c")
    ec2c.create_security_group(GroupName="elsewhere", Description="x", VpcId=other_vpc)
    ec2c.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=other_subnet,
                       InstanceType="t3.micro")
    return ids


def match_any_filter_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto match a list attribute as AWS does: any of several filter values.

    moto 5.2.5 matches e.g. ``association.subnet-id=[a, b]`` against a network ACL associated
    with {a, public} by subset/superset, so the ACL is dropped; AWS ORs the values. One value
    at a time through moto's own matcher gives the AWS answer.
    """
    from moto.ec2 import utils

    original = utils.is_filter_matching

    def matching(obj: Any, name: str, values: Any) -> bool:
        if isinstance(values, list) and len(values) > 1:
            return any(original(obj, name, [value]) for value in values)
        return bool(original(obj, name, values))

    monkeypatch.setattr(utils, "is_filter_matching", matching)

