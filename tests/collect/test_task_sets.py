"""Task sets through the real collector and engine, against moto in-process.

DescribeServices returns an EXTERNAL (or CODE_DEPLOY) service's task sets in `taskSets`: the
scan keeps them in the bundle, describes their task definitions, and the checks judge what
a task set runs and how it is networked as its service's — here a task set with a public
IP, a world-open security group, a container without logs and a retired platform version.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from checker.bundle import validate
from checker.collect import collect
from checker.model import Status
from checker.pipeline import Engine
from tests.collect.support import PROD, REGION


@pytest.fixture
def external(aws: None) -> dict[str, Any]:
    ec2, ecs = boto3.client("ec2", REGION), boto3.client("ecs", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                               AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ecs.create_cluster(clusterName="prod",
                       settings=[{"name": "containerInsights", "value": "disabled"}])
    td = ecs.register_task_definition(
        family="web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
        memory="512", containerDefinitions=[{"name": "app", "image": "nginx:1.27",
                                             "memory": 256}])["taskDefinition"]
    svc = ecs.create_service(cluster="prod", serviceName="web", desiredCount=1,
                             deploymentController={"type": "EXTERNAL"})["service"]
    task_set = ecs.create_task_set(
        cluster="prod", service="web", taskDefinition=td["taskDefinitionArn"],
        launchType="FARGATE", platformVersion="1.3.0", networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg],
                                    "assignPublicIp": "ENABLED"}})["taskSet"]
    return {"service": svc["serviceArn"], "task_set": task_set["id"], "sg": sg,
            "td": td["taskDefinitionArn"]}


def test_task_sets_are_collected_with_their_task_definitions(
        external: dict[str, Any], session: boto3.session.Session) -> None:
    bundle = validate(collect(session, PROD))
    (svc,) = bundle["resources"]["services"]
    (task_set,) = svc["taskSets"]
    assert task_set["id"] == external["task_set"]
    assert task_set["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"
    assert [td["taskDefinitionArn"] for td in bundle["resources"]["task_definitions"]] == [
        external["td"]]
    assert [g["GroupId"] for g in bundle["resources"]["security_groups"]] == [external["sg"]]


def test_a_task_sets_findings_are_its_services(external: dict[str, Any],
                                               session: boto3.session.Session) -> None:
    report = Engine().analyze(collect(session, PROD))
    fails = {f.check: f for f in report.findings if f.status is Status.FAIL}
    public = fails["service-assigns-public-ip"]
    assert (public.service, public.severity.value) == (external["service"], "high")
    assert f"task set {external['task_set']}" in public.message
    assert f"{external['sg']} tcp/8080 from 0.0.0.0/0" in public.message
    no_logs = fails["container-no-log-configuration"]
    assert no_logs.service == external["service"]
    assert no_logs.data["affected_tasks"] == 1  # desiredCount 1 at the set's default 100 %
    platform = fails["fargate-platform-version-old"]
    assert platform.service == external["service"] and platform.data["retired"] is True
    assert fails["cluster-container-insights-off"].data["container_insights"] == "disabled"
