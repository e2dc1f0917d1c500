"""The straightforward way to read an ECS cluster: a sequential boto3 script that lists
everything and describes it one item at a time — the baseline bench/wall_time.py times
ecsdoctor's collectors against.

It reads what a scan reads (CONTRACTS.md §1), the way a first script usually does: default
clients, boto3 paginators at their default page size, then one describe per item —
``describe_services`` per service, ``describe_tasks`` per task,
``describe_container_instances`` per instance, ``describe_task_definition`` per revision the
tasks and services run (once each: a script would not ask the same revision twice),
``describe_instances`` and ``describe_instance_types`` per instance, each subnet, route
table, network ACL and security group by its own id, one ``describe_target_groups`` per
service's target group, the scaling target and policies per service, and one
``get_metric_statistics`` per metric series (the metrics CONTRACTS.md §1 lists). It does
not redo what it already has: a load balancer, VPC or NAT gateway named twice is described
once.

``scan(session, cluster)`` returns how many of each thing it read, so the bench can show
both scans saw the same account. Run alone: ``python bench/naive_scan.py`` (it builds the
small account of bench/moto_account.py first).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Item = dict[str, Any]
WINDOW = dt.timedelta(hours=3)
PERIOD = 60
SERVICE_METRICS = (("AWS/ECS", "CPUUtilization", "Average"), ("AWS/ECS", "CPUUtilization",
                   "Maximum"), ("AWS/ECS", "MemoryUtilization", "Average"),
                   ("AWS/ECS", "MemoryUtilization", "Maximum"))
INSIGHTS_METRICS = tuple(("ECS/ContainerInsights", name, "Average") for name in (
    "RunningTaskCount", "DesiredTaskCount", "PendingTaskCount"))
INSTANCE_METRICS = (("AWS/EC2", "CPUUtilization", "Average"),
                    ("AWS/EC2", "CPUUtilization", "Maximum"))
CREDIT_METRICS = (("AWS/EC2", "CPUCreditBalance", "Minimum"),
                  ("AWS/EC2", "CPUSurplusCreditBalance", "Maximum"))
NAT_METRICS = tuple(("AWS/NATGateway", name, stat) for name, stat in (
    ("ActiveConnectionCount", "Maximum"), ("ConnectionAttemptCount", "Sum"),
    ("ConnectionEstablishedCount", "Sum"), ("ErrorPortAllocation", "Sum"),
    ("PacketsDropCount", "Sum"), ("PacketsOutToDestination", "Sum"),
    ("PacketsOutToSource", "Sum")))
ALB_METRICS = tuple(("AWS/ApplicationELB", name, stat) for name, stat in (
    ("TargetResponseTime", "Average"), ("HTTPCode_Target_5XX_Count", "Sum"),
    ("RequestCount", "Sum"), ("UnHealthyHostCount", "Maximum"),
    ("HealthyHostCount", "Maximum")))
#: Per Application Load Balancer, not per target group: the load balancer's own 502s/504s.
ALB_OWN_METRICS = (("AWS/ApplicationELB", "HTTPCode_ELB_502_Count", "Sum"),
                   ("AWS/ApplicationELB", "HTTPCode_ELB_504_Count", "Sum"))


def _all(client: Any, op: str, key: str, **kw: Any) -> list[Any]:
    return [x for page in client.get_paginator(op).paginate(**kw) for x in page.get(key, [])]


def scan(session: Any, cluster: str) -> Counter[str]:
    """Read the cluster one item at a time; returns what was read, by collection."""
    read: Counter[str] = Counter()
    ecs = session.client("ecs")
    session.client("sts").get_caller_identity()
    clusters = ecs.describe_clusters(clusters=[cluster], include=[
        "ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS"])["clusters"]
    services = [ecs.describe_services(cluster=cluster, services=[arn], include=["TAGS"])[
        "services"][0] for arn in _all(ecs, "list_services", "serviceArns", cluster=cluster)]
    task_arns = [arn for status in ("RUNNING", "STOPPED")
                 for arn in _all(ecs, "list_tasks", "taskArns", cluster=cluster,
                                 desiredStatus=status)]
    tasks = [t for arn in task_arns
             for t in ecs.describe_tasks(cluster=cluster, tasks=[arn], include=["TAGS"])["tasks"]]
    instances = [ecs.describe_container_instances(cluster=cluster, containerInstances=[arn])[
        "containerInstances"][0] for arn in _all(ecs, "list_container_instances",
                                                 "containerInstanceArns", cluster=cluster)]
    revisions = dict.fromkeys([*(t["taskDefinitionArn"] for t in tasks),
                               *(s["taskDefinition"] for s in services)])
    definitions = {arn: ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                   for arn in revisions}
    providers = [p for name in clusters[0].get("capacityProviders", [])
                 for p in ecs.describe_capacity_providers(capacityProviders=[name])[
                     "capacityProviders"]]
    read["account_settings"] = len(ecs.list_account_settings(effectiveSettings=True)[
        "settings"])
    read.update(clusters=len(clusters), services=len(services), tasks=len(tasks),
                container_instances=len(instances), task_definitions=len(definitions),
                capacity_providers=len(providers))
    balancing = _load_balancing(session, services, read)
    network = _ec2(session, services, tasks, instances, balancing, read)
    _scaling(session, cluster, services, providers, read)
    _metrics(session, cluster, services, instances, network, balancing, read)
    return read


def _load_balancing(session: Any, services: list[Item], read: Counter[str]) -> list[Item]:
    elbv2 = session.client("elbv2")
    groups = [elbv2.describe_target_groups(TargetGroupArns=[lb["targetGroupArn"]])[
        "TargetGroups"][0] for s in services for lb in s.get("loadBalancers", [])]
    for group in groups:
        elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
    lb_arns = dict.fromkeys(arn for g in groups for arn in g.get("LoadBalancerArns", []))
    balancers = [elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
                 for arn in lb_arns]
    read.update(target_groups=len(groups), target_health=len(groups),
                load_balancers=len(balancers))
    return groups + balancers


def _ec2(session: Any, services: list[Item], tasks: list[Item], instances: list[Item],
         balancing: list[Item], read: Counter[str]) -> list[Item]:
    ec2 = session.client("ec2")
    hosts = [ec2.describe_instances(InstanceIds=[ci["ec2InstanceId"]])["Reservations"][0][
        "Instances"][0] for ci in instances]
    for host in hosts:
        kind = host["InstanceType"]
        info = ec2.describe_instance_types(InstanceTypes=[kind])["InstanceTypes"][0]
        if info.get("BurstablePerformanceSupported"):
            ec2.describe_instance_credit_specifications(InstanceIds=[host["InstanceId"]])
    subnet_ids = dict.fromkeys([h["SubnetId"] for h in hosts] + [
        s for svc in services for s in _awsvpc(svc).get("subnets", [])] + [
        d["value"] for t in tasks for a in t.get("attachments", []) for d in a["details"]
        if d["name"] == "subnetId"] + [z["SubnetId"] for lb in balancing
                                       for z in lb.get("AvailabilityZones", [])])
    group_ids = dict.fromkeys([g["GroupId"] for h in hosts for g in h["SecurityGroups"]] + [
        g for svc in services for g in _awsvpc(svc).get("securityGroups", [])] + [
        g for lb in balancing for g in lb.get("SecurityGroups", [])])
    subnets = [ec2.describe_subnets(SubnetIds=[s])["Subnets"][0] for s in subnet_ids]
    tables = [t for s in subnet_ids for t in ec2.describe_route_tables(Filters=[
        {"Name": "association.subnet-id", "Values": [s]}])["RouteTables"]]
    for s in subnet_ids:
        ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [s]}])
    for g in group_ids:
        ec2.describe_security_groups(GroupIds=[g])
    for vpc in dict.fromkeys(s["VpcId"] for s in subnets):
        ec2.describe_vpcs(VpcIds=[vpc])
        for attribute in ("enableDnsSupport", "enableDnsHostnames"):
            ec2.describe_vpc_attribute(VpcId=vpc, Attribute=attribute)
        tables += ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {
            "Name": "association.main", "Values": ["true"]}])["RouteTables"]
        read["vpc_endpoints"] += len(ec2.describe_vpc_endpoints(Filters=[
            {"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"])
        read["vpcs"] += 1
    nats = [ec2.describe_nat_gateways(NatGatewayIds=[n])["NatGateways"][0] for n in
            dict.fromkeys(r["NatGatewayId"] for t in tables for r in t["Routes"]
                          if r.get("NatGatewayId"))]
    read.update(ec2_instances=len(hosts), subnets=len(subnets), security_groups=len(group_ids),
                nat_gateways=len(nats))
    return nats


def _awsvpc(service: Item) -> Item:
    return dict((service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {})


def _scaling(session: Any, cluster: str, services: list[Item], providers: list[Item],
             read: Counter[str]) -> None:
    aas = session.client("application-autoscaling")
    for service in services:
        rid = f"service/{cluster}/{service['serviceName']}"
        read["scalable_targets"] += len(aas.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[rid])["ScalableTargets"])
        read["scaling_policies"] += len(aas.describe_scaling_policies(
            ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"])
    asg = session.client("autoscaling")
    for provider in providers:
        arn = provider.get("autoScalingGroupProvider", {}).get("autoScalingGroupArn", "")
        if "autoScalingGroupName/" in arn:
            read["auto_scaling_groups"] += len(asg.describe_auto_scaling_groups(
                AutoScalingGroupNames=[arn.split("autoScalingGroupName/")[1]])[
                "AutoScalingGroups"])


def _metrics(session: Any, cluster: str, services: list[Item], instances: list[Item],
             nats: list[Item], balancing: list[Item], read: Counter[str]) -> None:
    """One GetMetricStatistics per series (it takes one metric and returns ≤ 1,440 points)."""
    cw = session.client("cloudwatch")
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)

    def series(metrics: Iterable[tuple[str, str, str]], **dims: str) -> None:
        for namespace, name, stat in metrics:
            cw.get_metric_statistics(
                Namespace=namespace, MetricName=name, StartTime=end - WINDOW, EndTime=end,
                Period=PERIOD, Statistics=[stat],
                Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()])
            read["metric_series"] += 1

    for service in services:
        series(SERVICE_METRICS + INSIGHTS_METRICS, ClusterName=cluster,
               ServiceName=service["serviceName"])
    for ci in instances:
        series(INSTANCE_METRICS, InstanceId=ci["ec2InstanceId"])
    for nat in nats:
        series(NAT_METRICS, NatGatewayId=nat["NatGatewayId"])
    balancers = {b["LoadBalancerArn"]: b for b in balancing if "LoadBalancerArn" in b
                 and "TargetGroupArn" not in b}
    albs: dict[str, None] = {}
    for group in (g for g in balancing if "TargetGroupArn" in g):
        for lb in dict.fromkeys(group.get("LoadBalancerArns", [])):  # moto lists one twice
            if balancers.get(lb, {}).get("Type") == "application":
                series(ALB_METRICS, TargetGroup=group["TargetGroupArn"].split(":", 5)[5],
                       LoadBalancer=lb.split(":loadbalancer/", 1)[1])
                albs[lb] = None
    for lb in albs:
        series(ALB_OWN_METRICS, LoadBalancer=lb.split(":loadbalancer/", 1)[1])


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import moto_account as acct

    with acct.served(acct.TINY) as account:
        for collection, n in sorted(scan(account.session(), acct.CLUSTER).items()):
            print(f"{collection:>20}  {n}")


if __name__ == "__main__":
    main()
