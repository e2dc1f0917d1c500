"""The EC2/VPC collector: against moto for scope and call counts, with Stubber for the
batch cuts and pages moto ignores (MOTO.md finding 3).

The moto account (``build_network_account``, shared with test_autoscaling.py) is one VPC
with DNS support and hostnames, two private subnets in two AZs (the first routed through a
NAT gateway by its own table, the second left on the VPC's main table), a public subnet with
the NAT and an internet gateway route, an S3 gateway endpoint, security groups that reference
each other, a custom network ACL, two EC2 container instances (t3.medium and m5.large), an
ASG capacity provider, and a Fargate awsvpc service with a scalable target and a
target-tracking policy. Next to it, things no scanned resource uses: a second VPC with its
own subnet, group and instance, an unused group, an ASG no provider names, and another
cluster's scalable target. None of those may be collected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from checker.bundle import COLLECTIONS, validate
from checker.collect import Context, Scope, collect, ec2
from tests.collect.test_ecs_moto import ACCOUNT, REGION, Calls, denied

PROD = Scope(clusters=("prod",))
EC2_ONLY = {"ec2_instances", "instance_types", "credit_specifications", "vpcs", "subnets",
            "route_tables", "nat_gateways", "vpc_endpoints", "security_groups", "network_acls"}
MINE = EC2_ONLY | {"auto_scaling_groups", "scalable_targets", "scaling_policies"}


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


@pytest.fixture
def net(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    match_any_filter_value(monkeypatch)
    return build_network_account()


@pytest.fixture
def session() -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)


def ids_of(bundle: dict[str, Any], collection: str, key: str) -> list[str]:
    return [item[key] for item in bundle["resources"][collection]]


def test_every_ec2_collection_present_in_scope_and_valid(
    net: dict[str, Any], session: boto3.session.Session
) -> None:
    bundle = collect(session, PROD)
    assert validate(bundle) is bundle and bundle["errors"] == []
    assert MINE <= set(bundle["resources"]) <= set(COLLECTIONS)
    instances = net["instances"]
    assert ids_of(bundle, "ec2_instances", "InstanceId") == sorted(instances.values())
    assert ids_of(bundle, "instance_types", "InstanceType") == ["m5.large", "t3.medium"]
    assert bundle["resources"]["credit_specifications"] == [
        {"InstanceId": instances["t3.medium"], "CpuCredits": "standard"}]  # moto: always
    assert ids_of(bundle, "subnets", "SubnetId") == sorted([net["a"], net["b"]])
    assert ids_of(bundle, "nat_gateways", "NatGatewayId") == [net["nat"]]
    assert ids_of(bundle, "vpc_endpoints", "VpcEndpointId") == [net["s3"]]
    assert ids_of(bundle, "network_acls", "NetworkAclId") == sorted(
        [net["default_acl"], net["custom_acl"]])
    json.dumps(bundle)


def test_vpcs_carry_their_dns_attributes(net: dict[str, Any],
                                         session: boto3.session.Session) -> None:
    vpcs = collect(session, PROD)["resources"]["vpcs"]
    assert [v["VpcId"] for v in vpcs] == [net["vpc"]]
    assert vpcs[0]["Attributes"] == {"EnableDnsSupport": True, "EnableDnsHostnames": True}
    assert vpcs[0]["CidrBlock"] == "10.0.0.0/16"  # the AWS item itself, plus Attributes


def test_route_tables_are_the_subnets_and_the_main_one(net: dict[str, Any],
                                                       session: boto3.session.Session) -> None:
    tables = {t["RouteTableId"]: t for t in collect(session, PROD)["resources"]["route_tables"]}
    assert set(tables) == {net["private_rt"], net["main_rt"]}  # not the public subnet's
    routes = tables[net["private_rt"]]["Routes"]
    assert {r.get("NatGatewayId") for r in routes} >= {net["nat"]}
    assert any(a.get("Main") for a in tables[net["main_rt"]]["Associations"])


def test_referenced_groups_take_one_more_round(net: dict[str, Any],
                                               session: boto3.session.Session) -> None:
    calls = Calls(session)
    bundle = collect(session, PROD)
    assert ids_of(bundle, "security_groups", "GroupId") == sorted(
        [net["tasks"], net["hosts"], net["alb"]])  # not "unused", not the other VPC's
    rounds = [p["Filters"][0]["Values"] for a, p in calls.params
              if a == "ec2:DescribeSecurityGroups"]
    assert rounds == [sorted([net["tasks"], net["hosts"]]), [net["alb"]]]


def test_calls_are_the_lower_bound(net: dict[str, Any], session: boto3.session.Session) -> None:
    calls = Calls(session)
    collect(session, PROD)
    mine = {a: n for a, n in calls.count().items() if a.startswith(("ec2:", "autoscaling:",
                                                                      "application-"))}
    assert mine == {
        "ec2:DescribeInstances": 1, "ec2:DescribeInstanceTypes": 1,
        "ec2:DescribeInstanceCreditSpecifications": 1, "ec2:DescribeSubnets": 1,
        "ec2:DescribeSecurityGroups": 2,  # scoped groups, then the groups they reference
        "ec2:DescribeRouteTables": 2,  # by subnet association, the VPCs' main tables
        "ec2:DescribeNetworkAcls": 1, "ec2:DescribeVpcs": 1,
        "ec2:DescribeVpcAttribute": 2,  # one VPC × (DNS support, DNS hostnames)
        "ec2:DescribeVpcEndpoints": 1, "ec2:DescribeNatGateways": 1,
        "autoscaling:DescribeAutoScalingGroups": 1,
        "application-autoscaling:DescribeScalableTargets": 1,
        "application-autoscaling:DescribeScalingPolicies": 1,  # one target in scope
    }
    credit = [p for a, p in calls.params if a == "ec2:DescribeInstanceCreditSpecifications"]
    assert credit == [{"InstanceIds": [net["instances"]["t3.medium"]]}]


def test_denied_instance_types_still_finds_burstable_by_family(
    net: dict[str, Any], session: boto3.session.Session
) -> None:
    session.events.register("before-call.ec2.DescribeInstanceTypes",
                            denied("DescribeInstanceTypes", "UnauthorizedOperation"))
    session.events.register("before-call.ec2.DescribeVpcAttribute",
                            denied("DescribeVpcAttribute", "UnauthorizedOperation"))
    bundle = collect(session, PROD)
    validate(bundle)
    assert [(e["collection"], e["operation"], e["code"]) for e in bundle["errors"]] == [
        ("instance_types", "ec2:DescribeInstanceTypes", "UnauthorizedOperation"),
        ("vpcs", "ec2:DescribeVpcAttribute", "UnauthorizedOperation"),
        ("vpcs", "ec2:DescribeVpcAttribute", "UnauthorizedOperation")]
    res = bundle["resources"]
    assert res["instance_types"] == []
    assert [c["InstanceId"] for c in res["credit_specifications"]] == [
        net["instances"]["t3.medium"]]
    assert res["vpcs"][0]["Attributes"] == {}  # unknown, and vpcs is marked failed
    assert all(res[c] for c in EC2_ONLY - {"instance_types"})


def test_denied_instances_keep_the_services_network(net: dict[str, Any],
                                                    session: boto3.session.Session) -> None:
    session.events.register("before-call.ec2.DescribeInstances", denied("DescribeInstances"))
    bundle = collect(session, PROD)
    assert [e["operation"] for e in bundle["errors"]] == ["ec2:DescribeInstances"]
    res = bundle["resources"]
    assert res["ec2_instances"] == res["instance_types"] == res["credit_specifications"] == []
    assert ids_of(bundle, "subnets", "SubnetId") == sorted([net["a"], net["b"]])  # awsvpc
    assert net["hosts"] not in ids_of(bundle, "security_groups", "GroupId")


def test_denied_subnets_still_reach_the_instances_vpc(net: dict[str, Any],
                                                     session: boto3.session.Session) -> None:
    session.events.register("before-call.ec2.DescribeSubnets", denied("DescribeSubnets"))
    bundle = collect(session, PROD)
    assert [e["operation"] for e in bundle["errors"]] == ["ec2:DescribeSubnets"]
    assert ids_of(bundle, "vpcs", "VpcId") == [net["vpc"]]
    assert ids_of(bundle, "route_tables", "RouteTableId") == sorted(
        [net["private_rt"], net["main_rt"]])


def test_nothing_to_look_at_gives_empty_collections_and_no_calls(
    aws: None, session: boto3.session.Session
) -> None:
    boto3.client("ecs", region_name=REGION).create_cluster(clusterName="empty")
    calls = Calls(session)
    bundle = collect(session, Scope(clusters=("empty",)))
    assert all(bundle["resources"][c] == [] for c in EC2_ONLY)
    assert not [a for a in calls.actions if a.startswith("ec2:")]


def test_scope_refs_reads_services_deployments_task_sets_task_enis_and_lbs() -> None:
    config = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}}
    old = {"awsvpcConfiguration": {"subnets": ["subnet-0"], "securityGroups": ["sg-0"]}}
    refs = ec2.scope_refs({
        "services": [{"networkConfiguration": config,
                      "deployments": [{"networkConfiguration": old}, {}],
                      "taskSets": [{"networkConfiguration": config}]}, {}],
        "tasks": [{"attachments": [{"type": "ElasticNetworkInterface", "details": [
            {"name": "subnetId", "value": "subnet-2"},
            {"name": "networkInterfaceId", "value": "eni-1"}]}]}],
        "container_instances": [{"ec2InstanceId": "i-1"}, {}],
        "load_balancers": [{"AvailabilityZones": [{"SubnetId": "subnet-lb"}],
                            "SecurityGroups": ["sg-lb"]}],
    })
    assert refs.subnet_ids == {"subnet-0", "subnet-1", "subnet-2", "subnet-lb"}
    assert refs.group_ids == {"sg-0", "sg-1", "sg-lb"}
    assert refs.instance_ids - {""} == {"i-1"}


# --- batch cuts and pages, on a stubbed client -------------------------------------------


@pytest.fixture
def stub() -> Iterator[Stubber]:
    client = boto3.session.Session(region_name=REGION).client("ec2")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def ctx(stub: Stubber) -> Iterator[Context]:
    with ThreadPoolExecutor(max_workers=1) as pool:  # jobs run in queue order
        yield Context(scope=PROD, region=REGION, pool=pool, account=ACCOUNT,
                      clients={"ec2": stub.client})


def _type_names(n: int) -> list[str]:
    model = boto3.session.Session(region_name=REGION).client("ec2").meta.service_model
    shape = model.operation_model("DescribeInstanceTypes").input_shape.members["InstanceTypes"]
    return sorted(shape.member.enum)[:n]


def test_instances_are_filtered_200_ids_at_a_time_and_paged(stub: Stubber,
                                                            ctx: Context) -> None:
    ids = [f"i-{n:017x}" for n in range(450)]
    for batch in (ids[:200], ids[200:400], ids[400:]):
        params = {"Filters": [{"Name": "instance-id", "Values": batch}], "MaxResults": 1000}
        first = batch[0] == ids[0]
        stub.add_response("describe_instances", {
            "Reservations": [{"Instances": [{"InstanceId": i} for i in batch[:100]]}],
            **({"NextToken": "p2"} if first else {})}, params)
        if first:
            stub.add_response("describe_instances", {"Reservations": [
                {"Instances": [{"InstanceId": i} for i in batch[100:]]}]},
                {**params, "NextToken": "p2"})
    found = ctx.gather(ec2.filter_jobs(ctx, ec2.INSTANCES, ids + ids[:7] + [""]))
    assert len(ec2.flatten(found["ec2_instances"])) == 200 + 100 + 50


def test_each_instance_type_once_100_per_call(stub: Stubber, ctx: Context) -> None:
    names = _type_names(120)
    instances = [{"InstanceId": f"i-{n}", "InstanceType": names[n % 120]} for n in range(300)]
    for batch in (names[:100], names[100:]):
        stub.add_response("describe_instance_types",
                          {"InstanceTypes": [{"InstanceType": t} for t in batch]},
                          {"InstanceTypes": batch})
    found = ctx.gather(ec2.type_jobs(ctx, instances))
    assert [t["InstanceType"] for t in found["instance_types"]] == names


def test_credit_specifications_get_the_burstable_ids(stub: Stubber, ctx: Context) -> None:
    instances = [
        {"InstanceId": "i-t3", "InstanceType": "t3.medium", "State": {"Name": "running"}},
        {"InstanceId": "i-t4g", "InstanceType": "t4g.small"},
        {"InstanceId": "i-flag", "InstanceType": "t8i.medium"},  # flagged by EC2 below
        {"InstanceId": "i-m5", "InstanceType": "m5.large"},
        {"InstanceId": "i-gone", "InstanceType": "t2.micro", "State": {"Name": "terminated"}},
    ]
    types = [{"InstanceType": "t8i.medium", "BurstablePerformanceSupported": True},
             {"InstanceType": "m5.large", "BurstablePerformanceSupported": False}]
    ids = ec2.burstable_ids(instances, types)
    assert ids == ["i-flag", "i-t3", "i-t4g"]
    stub.add_response("describe_instance_credit_specifications", {
        "InstanceCreditSpecifications": [{"InstanceId": i, "CpuCredits": "standard"}
                                         for i in ids]}, {"InstanceIds": ids})
    found = ctx.gather(ec2.credit_jobs(ctx, ids))
    assert [c["InstanceId"] for c in found["credit_specifications"]] == ids
    assert ec2.credit_jobs(ctx, []) == []  # never unfiltered: that lists only unlimited ones


def test_credit_ids_cut_at_1000(ctx: Context) -> None:
    jobs = [job for _, job in ec2.credit_jobs(ctx, [f"i-{n}" for n in range(2500)])]
    assert all(isinstance(job, partial) for job in jobs)
    assert [len(job.keywords["InstanceIds"]) for job in jobs
            if isinstance(job, partial)] == [1000, 1000, 500]


def test_route_tables_page_at_100_and_main_tables_by_vpc(stub: Stubber, ctx: Context) -> None:
    subnets = ["subnet-1", "subnet-2"]
    by_subnet = {"Filters": [{"Name": "association.subnet-id", "Values": subnets}],
                 "MaxResults": 100}
    stub.add_response("describe_route_tables", {
        "RouteTables": [{"RouteTableId": f"rtb-{n}"} for n in range(100)], "NextToken": "r2"},
        by_subnet)
    stub.add_response("describe_route_tables", {"RouteTables": [{"RouteTableId": "rtb-x"}]},
                      {**by_subnet, "NextToken": "r2"})
    stub.add_response("describe_route_tables", {"RouteTables": [{"RouteTableId": "rtb-main"}]},
                      {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]},
                                   {"Name": "association.main", "Values": ["true"]}],
                       "MaxResults": 100})
    found = ctx.gather([*ec2.filter_jobs(ctx, ec2.SUBNET_ROUTE_TABLES, subnets),
                        *ec2.filter_jobs(ctx, ec2.MAIN_ROUTE_TABLES, ["vpc-1"])])
    assert len(found["route_tables"]) == 102


def test_nat_gateways_by_the_singular_filter_param(stub: Stubber, ctx: Context) -> None:
    tables = [{"Routes": [{"NatGatewayId": "nat-2"}, {"GatewayId": "igw-1"}]},
              {"Routes": [{"NatGatewayId": "nat-1"}, {"NatGatewayId": "nat-2"}]}]
    stub.add_response("describe_nat_gateways", {"NatGateways": [
        {"NatGatewayId": "nat-1", "State": "deleted"}, {"NatGatewayId": "nat-2"}]},
        {"Filter": [{"Name": "nat-gateway-id", "Values": ["nat-1", "nat-2"]}],
         "MaxResults": 1000})
    found = ctx.gather(ec2.filter_jobs(ctx, ec2.NAT_GATEWAYS, ec2.nat_gateway_ids(tables)))
    assert found["nat_gateways"][0]["State"] == "deleted"  # kept: that is evidence


def test_referenced_groups_skip_other_accounts() -> None:
    groups = [{"IpPermissions": [{"UserIdGroupPairs": [
        {"GroupId": "sg-mine", "UserId": ACCOUNT}, {"GroupId": "sg-peer", "UserId": "999"},
        {"GroupId": "sg-nouser"}]}],
        "IpPermissionsEgress": [{"UserIdGroupPairs": [{"GroupId": "sg-out"}]}]}]
    assert ec2.referenced_groups(groups, ACCOUNT) == {"sg-mine", "sg-nouser", "sg-out"}
    assert "sg-peer" in ec2.referenced_groups(groups, None)  # account unknown: ask anyway


def test_a_denied_describe_is_recorded_and_the_rest_kept(stub: Stubber, ctx: Context) -> None:
    stub.add_client_error("describe_subnets", service_error_code="UnauthorizedOperation",
                          service_message="You are not authorized", http_status_code=403)
    stub.add_response("describe_network_acls", {"NetworkAcls": [{"NetworkAclId": "acl-1"}]})
    found = ctx.gather([*ec2.filter_jobs(ctx, ec2.SUBNETS, ["subnet-1"]),
                        *ec2.filter_jobs(ctx, ec2.NETWORK_ACLS, ["subnet-1"])])
    assert found == {"subnets": [], "network_acls": [{"NetworkAclId": "acl-1"}]}
    assert ctx.recorder.errors() == [{
        "collection": "subnets", "operation": "ec2:DescribeSubnets",
        "code": "UnauthorizedOperation", "message": "You are not authorized"}]
