"""An unhealthy platform-team account as a bundle v1, at any size: what `analyze` waits on.

At size 1 the cluster `prod` runs 100 EC2 services on awsvpc (an ENI per task) spread over
three private subnets and nine container instances; each service has its own task
definition family, 10 tasks of which one has stopped, four metric series (AWS/ECS CPU and
memory, Container Insights running and desired task counts) of 3 h at 5 min, and its own
security group (ALB in on its port, all out). The VPC is the usual one (three private
subnets, three public ones with the ALB and the NAT gateways, ECR/S3/Logs/Secrets Manager
endpoints), with three things broken, as in a real incident:

- the private subnets share one route table whose default route points at a deleted NAT
  gateway (blackhole): one `egress-route-missing` diagnosis over every service;
- their network ACL allows HTTPS out but not the replies in: `nacl-blocks-task-egress`
  fails for every service and subnet (each service is a traffic origin to evaluate);
- every 25th service's stopped task was OOM-killed and every 25th (offset) one could not
  pull its image: per-service diagnoses beside the big merged one.

Size ``n`` multiplies services, tasks, task definitions, security groups, instances and
metric series by ``n`` (the network stays shared, as in one large cluster). Every item
follows the shape-validated test builders (tests/builders*.py); bulk items are copies of a
validated template with their ids changed, so a size-30 bundle builds in seconds.

`python bench/scale_bundle.py 10 OUT.json` writes one (what `ecsdoctor analyze` reads).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import builders as b
from tests import builders_hosts as bh
from tests import builders_metrics as bm
from tests import builders_network as bn

Item = dict[str, Any]

SERVICES, TASKS_PER_SERVICE, HOSTS = 100, 10, 9
PRIVATE = (*bn.PRIVATE, "subnet-0eee000000000000e")
PRIVATE_CIDRS = ("10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18")
PUBLIC = (*bn.PUBLIC, "subnet-0fff000000000000f")
PUBLIC_CIDRS = ("10.0.192.0/24", "10.0.193.0/24", "10.0.194.0/24")
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")
NATS = (*bn.NATS, "nat-0ccc00000000000c1")
DELETED_NAT = "nat-0dead0000000000d1"
PRIVATE_RT, OTHER_RT = "rtb-0aaa00000000000a1", "rtb-0bbb00000000000b1"
HOST_IDS = tuple(f"i-0{n:016x}" for n in range(1, HOSTS + 1))
POINTS = 36  # 3 h at 300 s


def _network() -> dict[str, list[Item]]:
    subnets = [*(bn.subnet(s, c, z) for s, c, z in zip(PRIVATE, PRIVATE_CIDRS, AZS, strict=True)),
               *(bn.subnet(s, c, z, public=True)
                 for s, c, z in zip(PUBLIC, PUBLIC_CIDRS, AZS, strict=True))]
    # HTTPS out allowed, the replies (ephemeral ports in) not: the private subnets' ACL
    private_acl = [bn.acl_entry(100, egress=True, proto="6", ports=(443, 443)),
                   bn.acl_entry(110, egress=True, proto="6", cidr="10.0.0.0/16",
                                ports=(1024, 65535)),
                   bn.acl_entry(100, egress=False, proto="6", cidr="10.0.0.0/16",
                                ports=(8080, 8080)),
                   bn.acl_entry(32767, "deny", egress=True),
                   bn.acl_entry(32767, "deny", egress=False)]
    return {
        "vpcs": [bn.vpc()],
        "subnets": subnets,
        "route_tables": [
            bn.route_table(bn.MAIN_RT, [], main=True),
            bn.route_table(bn.PUBLIC_RT, [bn.route(GatewayId=bn.IGW)], PUBLIC),
            bn.route_table(PRIVATE_RT, [bn.route(NatGatewayId=DELETED_NAT, state="blackhole")],
                           PRIVATE[:2]),
            bn.route_table(OTHER_RT, [bn.route(NatGatewayId=NATS[2])], PRIVATE[2:])],
        "nat_gateways": [*(bn.nat_gateway(n, s) for n, s in zip(NATS, PUBLIC, strict=True)),
                         bn.nat_gateway(DELETED_NAT, PUBLIC[0], state="deleted")],
        "vpc_endpoints": [bn.endpoint("s3", kind="Gateway", route_tables=(PRIVATE_RT, OTHER_RT)),
                          *(bn.endpoint(e, subnets=PRIVATE) for e in bn.ENDPOINTS)],
        "network_acls": [bn.network_acl("acl-0bbb00000000000b1", private_acl, PRIVATE),
                         bn.network_acl(bn.NACL, bn.default_entries(), PUBLIC, default=True)],
        "load_balancers": [bn.load_balancer(PUBLIC, AZS)],
    }


def _name(i: int) -> str:
    return f"svc-{i:05d}"


def _sg(i: int) -> str:
    return f"sg-0{i:016x}"


def _tg(i: int) -> str:
    return f"{bn.ELB}:targetgroup/prod-{_name(i)}/{i:016x}"


def _ip(n: int, subnet: int) -> str:
    """The n-th task address of private subnet ``subnet`` (a /18 each)."""
    n += 10
    return f"10.0.{subnet * 64 + n // 250}.{n % 250 + 2}"


class _Templates:
    """One validated item of each bulk kind, copied and renamed per service or task."""

    def __init__(self) -> None:
        ctr = b.container_def("app", memory=512, cpu=256,
                              portMappings=[{"containerPort": 8080, "protocol": "tcp"}],
                              healthCheck={"command": ["CMD", "/app/health"], "interval": 30,
                                           "timeout": 5, "retries": 3, "startPeriod": 30})
        self.td = b.task_definition("app", containers=[ctr], networkMode="awsvpc",
                                    requiresCompatibilities=["EC2"],
                                    taskRoleArn=f"arn:aws:iam::{b.ACCOUNT}:role/app-task")
        self.svc = bh.ec2_service("app", desired=9, running=9, enableExecuteCommand=True,
                                  healthCheckGracePeriodSeconds=60,
                                  deploymentConfiguration={"deploymentCircuitBreaker": {
                                      "enable": True, "rollback": True}},
                                  networkConfiguration={
            "awsvpcConfiguration": {"subnets": list(PRIVATE), "securityGroups": ["sg-0"],
                                    "assignPublicIp": "DISABLED"}},
            loadBalancers=[{"targetGroupArn": bn.TG_ARN, "containerName": "app",
                            "containerPort": 8080}])
        self.task = bn.eni_task("app", PRIVATE[0], AZS[0], "10.0.0.10", launchType="EC2",
                                containerInstanceArn=bh.ci_arn(HOST_IDS[0]),
                                enableExecuteCommand=True,
                                containers=[b.container("app", lastStatus="RUNNING")])
        self.sg = bn.security_group("sg-0", "app", [bn.rule("tcp", 8080, groups=(bn.ALB_SG,))])
        self.tg = bn.target_group(8080, arn=bn.TG_ARN)
        self.target = bn.target("10.0.0.10")
        self.stops = {
            "scaled": b.task("app", status="STOPPED", stopped=b.ago(minutes=40),
                             stop_code="ServiceSchedulerInitiated",
                             reason="Scaling activity initiated by (deployment ecs-svc/1)",
                             containers=[b.container("app", 0)]),
            "oom": b.oom_task("app", uptime_min=50, container="app"),
            "pull": b.task("app", status="STOPPED", stopped=b.ago(minutes=15),
                           stop_code="TaskFailedToStart",
                           reason="CannotPullContainerError: pull image manifest has been "
                                  "retried 5 time(s): failed to resolve ref "
                                  f"{b.ACCOUNT}.dkr.ecr.{b.REGION}.amazonaws.com/app:1.4.2: "
                                  "dial tcp 52.46.154.7:443: i/o timeout",
                           containers=[b.container("app")]),
        }


def _service_items(t: _Templates, i: int) -> dict[str, list[Item]]:
    name, sg = _name(i), _sg(i)
    td = copy.deepcopy(t.td)
    td.update(taskDefinitionArn=b.td_arn(name, 1), family=name)
    td["containerDefinitions"][0]["name"] = name
    svc = copy.deepcopy(t.svc)
    svc.update(serviceArn=b.service_arn("prod", name), serviceName=name,
               taskDefinition=b.td_arn(name, 1))
    svc["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] = [sg]
    svc["loadBalancers"][0].update(targetGroupArn=_tg(i), containerName=name)
    group = copy.deepcopy(t.sg)
    group.update(GroupId=sg, GroupName=f"prod-{name}", Description=name)
    tg = copy.deepcopy(t.tg)
    tg.update(TargetGroupArn=_tg(i), TargetGroupName=f"prod-{name}")
    tasks, targets = [], []
    for k in range(TASKS_PER_SERVICE - 1):
        subnet = (i + k) % 3
        ip = _ip(i * TASKS_PER_SERVICE + k, subnet)
        task = copy.deepcopy(t.task)
        task.update(taskArn=f"arn:aws:ecs:{b.REGION}:{b.ACCOUNT}:task/prod/"
                            f"{i:016x}{k:016x}", group=f"service:{name}",
                    taskDefinitionArn=b.td_arn(name, 1), availabilityZone=AZS[subnet],
                    containerInstanceArn=bh.ci_arn(HOST_IDS[(i + k) % HOSTS]))
        task["containers"][0]["name"] = name
        attachment = task["attachments"][0]
        attachment["id"] = f"att-{ip}"
        attachment["details"] = [
            {"name": "subnetId", "value": PRIVATE[subnet]},
            {"name": "networkInterfaceId", "value": f"eni-0{i:08x}{k:08x}"},
            {"name": "privateIPv4Address", "value": ip}]
        tasks.append(task)
        target = copy.deepcopy(t.target)
        target["Target"]["Id"] = ip
        targets.append(target)
    kind = "oom" if i % 25 == 7 else "pull" if i % 25 == 19 else "scaled"
    stopped = copy.deepcopy(t.stops[kind])
    stopped.update(taskArn=f"arn:aws:ecs:{b.REGION}:{b.ACCOUNT}:task/prod/{i:016x}{'f' * 16}",
                   group=f"service:{name}", taskDefinitionArn=b.td_arn(name, 1),
                   launchType="EC2", containerInstanceArn=bh.ci_arn(HOST_IDS[i % HOSTS]))
    stopped["containers"][0]["name"] = name
    tasks.append(stopped)
    cpu = bm.flat(3, 300, 20.0 + i % 30)
    mem = bm.flat(3, 300, 40.0 + i % 40)
    metrics = [bm.ecs(name, "CPUUtilization", "Average", cpu),
               bm.ecs(name, "MemoryUtilization", "Average", mem),
               *(bm.series("ECS/ContainerInsights", metric,
                           {"ClusterName": "prod", "ServiceName": name}, "Average",
                           bm.flat(3, 300, 9.0))
                 for metric in ("RunningTaskCount", "DesiredTaskCount"))]
    return {"task_definitions": [td], "services": [svc], "security_groups": [group],
            "target_groups": [tg], "tasks": tasks, "metrics": metrics,
            "target_health": [{"TargetGroupArn": _tg(i), "TargetHealthDescriptions": targets}]}


def build(size: int, unit: int = SERVICES) -> Item:
    """The account at ``size`` (1: ``unit`` = 100 services, 1,000 tasks, 400 series)."""
    t = _Templates()
    resources: dict[str, list[Item]] = {"clusters": [b.cluster("prod")], **_network()}
    resources["security_groups"] = [
        bn.security_group(bn.ALB_SG, "prod-alb", [bn.rule("tcp", 443, cidrs=("0.0.0.0/0",))]),
        bn.security_group(bn.HOST_SG, "prod-hosts", []),
        bn.security_group(bn.ENDPOINT_SG, "prod-vpc-endpoints",
                          [bn.rule("tcp", 443, cidrs=("10.0.0.0/16",))])]
    for key in ("task_definitions", "services", "target_groups", "tasks", "target_health"):
        resources[key] = []
    metrics: list[Item] = []
    for i in range(unit * size):
        items = _service_items(t, i)
        metrics += items.pop("metrics")
        for key, values in items.items():
            resources[key] += values
    running = (unit * size * (TASKS_PER_SERVICE - 1)) // HOSTS
    resources["container_instances"] = [
        bh.container_instance(h, cpu=1_000_000, memory=4_000_000, running=running,
                              trunk_id=f"eni-0trunk{n:010x}")
        for n, h in enumerate(HOST_IDS)]
    resources["ec2_instances"] = [
        bh.ec2_instance(h, "m5.24xlarge", SubnetId=PRIVATE[n % 3], VpcId=bn.VPC,
                        PrivateIpAddress=f"10.0.{n % 3 * 64 + 63}.{n + 10}",
                        SecurityGroups=[{"GroupId": bn.HOST_SG, "GroupName": "prod-hosts"}])
        for n, h in enumerate(HOST_IDS)]
    out = b.bundle(**resources)
    out["metrics"] = metrics
    return out


def main() -> None:
    size, path = int(sys.argv[1]), Path(sys.argv[2])
    path.write_text(json.dumps(build(size)), encoding="utf-8")


if __name__ == "__main__":
    main()
