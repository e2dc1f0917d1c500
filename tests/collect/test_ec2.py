"""The EC2/VPC collector: against moto for scope and call counts, with Stubber for the
batch cuts and pages moto ignores (MOTO.md finding 3).

The moto account is ``build_network_account`` (the `net` fixture, shared with
test_autoscaling.py); tests/collect/support.py describes what it holds, and what is next to
it that no scanned resource uses and none of which may be collected.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import boto3
from botocore.stub import Stubber

from checker.bundle import COLLECTIONS, validate
from checker.collect import Context, Scope, collect, ec2
from tests.collect.support import ACCOUNT, PROD, REGION, Calls, denied, stub_fixtures

EC2_ONLY = {"ec2_instances", "instance_types", "credit_specifications", "vpcs", "subnets",
            "route_tables", "nat_gateways", "vpc_endpoints", "security_groups", "network_acls"}
MINE = EC2_ONLY | {"auto_scaling_groups", "scalable_targets", "scaling_policies"}


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


stub, ctx = stub_fixtures("ec2", account=ACCOUNT)


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
