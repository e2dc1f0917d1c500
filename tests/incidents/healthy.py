"""A healthy production cluster as a bundle v1: what every incident scenario starts from.

`prod` (Container Insights on) runs six services in one VPC over three AZs: four on Fargate
(`web`, `api` and `checkout` behind the `prod-public` ALB, `worker` with no load balancer) and
two on three m5.large container instances of the `prod-ec2` capacity provider (`orders` in
bridge mode behind the ALB on dynamic host ports, `reports` with no port). Private subnets
reach the internet through one NAT gateway per AZ and ECR/S3/Logs/Secrets Manager through
VPC endpoints; the ALB's group is admitted on the container ports; every service scales with
a target-tracking policy; 3 h of one-minute metrics cover every series the checks read.

Every item comes from the shape-validated builders (tests/builders*.py); ids and noise come
from `random.Random(seed)`, so one seed always gives the same bundle. Times are relative to
`tests.builders.NOW`, the bundle's `collected_at`. This module holds the layout (ids, the
services' `Spec`s), task definitions, services and tasks; tests/incidents/_infra.py the VPC,
ALB and EC2 capacity; tests/incidents/_metrics.py the CloudWatch series. `sync_hosts` keeps
the instances' free CPU/memory/ports and task counts consistent with the tasks placed on
them after a scenario's edits (tests/incidents/scenarios.py `Cluster`).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from tests import builders as b
from tests import builders_hosts as bh
from tests import builders_network as bn
from tests import builders_service as bs

Item = dict[str, Any]
CLUSTER = "prod"
ECR = f"{b.ACCOUNT}.dkr.ecr.{b.REGION}.amazonaws.com"
ROLE = f"arn:aws:iam::{b.ACCOUNT}:role"
SECRET = f"arn:aws:secretsmanager:{b.REGION}:{b.ACCOUNT}:secret"
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")
PRIVATE = ("subnet-0a3c1e5f7b9d20481", "subnet-0b4d2f6a8c0e31592", "subnet-0c5e3a7b9d1f426a3")
PUBLIC = ("subnet-0d6f4b8c0e2a537b4", "subnet-0e7a5c9d1f3b648c5", "subnet-0f8b6d0e2a4c759d6")
PRIVATE_RTS = ("rtb-0a1f3c5e7a9b1d2f3", "rtb-0b2a4d6f8b0c2e3a4", "rtb-0c3b5e7a9c1d3f4b5")
PUBLIC_RT, MAIN_RT = "rtb-0d4c6f8b0d2e4a5c6", "rtb-0e5d7a9c1e3f5b6d7"
NATS = ("nat-0a9e1c3b5d7f90a11", "nat-0b8f2d4c6e8a01b22", "nat-0c7a3e5d7f9b12c33")
IGW = "igw-0f1e2d3c4b5a69788"
ALB_SG, HOST_SG = "sg-0a1b2c3d4e5f60a01", "sg-0b2c3d4e5f6a70b02"
ENDPOINT_SG = bn.ENDPOINT_SG
INSTANCES = ("i-0a7c2e4f6b8d01357", "i-0b8d3f5a7c9e12468", "i-0c9e4a6b8d0f23579")
AMI = "ami-0f2c8e1d7b3a94c51"
ASG = "prod-ecs-asg"
CAPACITY_PROVIDER = "prod-ec2"
ALB = "prod-public"
LB_ARN = bn.LB_ARN
LB_DIM = "app/prod-public/50dc6c495c0c9188"
REGISTERED_CPU, REGISTERED_MEMORY = 2048, 7680


@dataclass(frozen=True)
class Spec:
    """One service of the healthy cluster and the load it normally carries."""

    name: str
    revision: int
    desired: int
    fargate: bool
    cpu: int                  # task CPU units (Fargate) or container CPU units (EC2)
    memory: int               # MiB: task memory (Fargate) or container hard limit (EC2)
    image: str
    port: int | None          # container port behind the ALB
    cpu_pct: float            # usual AWS/ECS CPUUtilization (Average)
    mem_pct: float            # usual AWS/ECS MemoryUtilization (Average)
    rpm: float = 0.0          # requests per minute on its target group
    latency_s: float = 0.0    # usual TargetResponseTime
    env: tuple[tuple[str, str], ...] = ()
    secret: tuple[str, str] | None = None  # (variable, Secrets Manager secret) in `secrets`
    start_period: int = 30    # healthCheck.startPeriod of the load-balanced container
    grace: int = 60           # healthCheckGracePeriodSeconds
    hosts: tuple[int, ...] = ()  # EC2: the container instance (index) of each task
    max_tasks: int = 12       # MaxCapacity of its scalable target

    @property
    def tg(self) -> str:
        return f"{bn.ELB}:targetgroup/prod-{self.name}/{hexid(self.name, 16)}"

    @property
    def tg_dim(self) -> str:
        return self.tg.split(":", 5)[5]


def hexid(text: str, width: int) -> str:
    """A stable hex id derived from a name (target group, security group suffixes)."""
    return "".join(f"{ord(c) * 7919 % 251:02x}" for c in text * 8)[:width]


SPECS = (
    Spec("web", 57, 3, True, 512, 1024, "ghcr.io/acme-corp/storefront:4.12.0", 8080, 38, 52,
         2400, 0.085, (("NODE_ENV", "production"), ("NODE_OPTIONS", "--max-old-space-size=640"),
                       ("API_BASE_URL", "http://api.prod.internal:8080")),
         ("SESSION_SECRET", "prod/web/session")),
    Spec("api", 112, 3, True, 1024, 2048, f"{ECR}/api:2.31.4", 8080, 45, 61, 3600, 0.12,
         (("JAVA_OPTS", "-Xms1024m -Xmx1280m -XX:+UseG1GC"), ("SPRING_PROFILES_ACTIVE", "prod"),
          ("DB_HOST", "prod-db.cluster-c8x2q1abcd.us-east-1.rds.amazonaws.com")),
         ("DB_PASSWORD", "prod/api/db"), start_period=60, grace=120),
    Spec("checkout", 41, 2, True, 512, 1024, f"{ECR}/checkout:1.18.0", 8080, 32, 48, 600, 0.15,
         (("NODE_ENV", "production"), ("PAYMENTS_REGION", "us-east-1")),
         ("STRIPE_API_KEY", "prod/checkout/stripe"), max_tasks=8),
    Spec("worker", 23, 2, True, 512, 1024, f"{ECR}/worker:3.4.1", None, 41, 44,
         env=(("QUEUE_URL", f"https://sqs.us-east-1.amazonaws.com/{b.ACCOUNT}/prod-jobs"),),
         secret=("DB_PASSWORD", "prod/worker/db"), max_tasks=8),
    Spec("orders", 88, 3, False, 768, 2048, f"{ECR}/orders:2.8.0", 8080, 40, 57, 900, 0.09,
         (("SERVER_PORT", "8080"),), ("DB_PASSWORD", "prod/orders/db"), hosts=(0, 1, 2)),
    Spec("reports", 19, 2, False, 512, 1024, f"{ECR}/reports:1.9.3", None, 22, 38,
         env=(("REPORT_BUCKET", "acme-prod-reports"),), hosts=(0, 2), max_tasks=8),
)
SPEC = {s.name: s for s in SPECS}


class Ids:
    """Deterministic ids (task ids, event ids) from the seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def hex(self, width: int = 32) -> str:
        return f"{self.rng.getrandbits(width * 4):0{width}x}"

    def uuid(self) -> str:
        h = self.hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"

    def seed(self) -> int:
        return self.rng.randrange(10**6)


def task_sg(name: str) -> str:
    """The security group of a Fargate service's tasks."""
    return f"sg-0{hexid('sg' + name, 16)}"


# -- task definitions and services ------------------------------------------------------------
def container(spec: Spec) -> Item:
    ctr: Item = {
        "cpu": 0 if spec.fargate else spec.cpu, "essential": True,
        "environment": [{"name": k, "value": v} for k, v in spec.env],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": f"/ecs/prod/{spec.name}", "awslogs-region": b.REGION,
            "awslogs-stream-prefix": spec.name}},
        "linuxParameters": {"initProcessEnabled": True},
        "readonlyRootFilesystem": spec.name in ("worker", "reports"),
    }
    if not spec.fargate:
        ctr["memory"] = spec.memory
        ctr["ulimits"] = [{"name": "nofile", "softLimit": 65535, "hardLimit": 65535}]
    if spec.port:
        ctr["portMappings"] = [{"containerPort": spec.port, "hostPort": 0 if not spec.fargate
                                else spec.port, "protocol": "tcp", "name": f"{spec.name}-http"}]
        ctr["healthCheck"] = {"command": ["CMD-SHELL", f"curl -fsS http://localhost:{spec.port}"
                                          "/healthz || exit 1"], "interval": 15, "timeout": 5,
                              "retries": 3, "startPeriod": spec.start_period}
    if spec.secret:
        variable, secret = spec.secret
        ctr["secrets"] = [{"name": variable,
                           "valueFrom": f"{SECRET}:{secret}-{hexid(secret, 6)}"}]
    if spec.image.startswith("ghcr.io"):
        ctr["repositoryCredentials"] = {"credentialsParameter": f"{SECRET}:prod/ghcr-pull-Xy12Ab"}
    return b.container_def(spec.name, spec.image, **ctr)


def task_definition(spec: Spec, revision: int | None = None, **changes: Any) -> Item:
    extra: Item = {"taskRoleArn": f"{ROLE}/prod-{spec.name}-task",
                   "executionRoleArn": f"{ROLE}/prod-ecs-task-execution",
                   "registeredAt": b.ago(days=3, hours=spec.revision % 5),
                   "registeredBy": f"arn:aws:sts::{b.ACCOUNT}:assumed-role/github-deploy/ci"}
    if spec.fargate:
        extra.update(networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                     cpu=str(spec.cpu), memory=str(spec.memory),
                     runtimePlatform={"cpuArchitecture": "X86_64",
                                      "operatingSystemFamily": "LINUX"})
    else:
        extra.update(networkMode="bridge", requiresCompatibilities=["EC2"])
    extra.update(changes)
    containers = extra.pop("containers", None) or [container(spec)]
    return b.task_definition(spec.name, revision or spec.revision, containers, **extra)


def _service(spec: Spec, ids: Ids) -> Item:
    extra: Item = {
        "healthCheckGracePeriodSeconds": spec.grace if spec.port else None,
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                                    "maximumPercent": 200, "minimumHealthyPercent": 100},
        "deploymentController": {"type": "ECS"}, "enableExecuteCommand": True,
        "schedulingStrategy": "REPLICA", "createdAt": b.ago(days=400), "propagateTags": "SERVICE",
        "deployments": [deployment(spec, spec.revision, ids, minutes_ago=3 * 1440)],
        "events": [event(ids, f"(service {spec.name}) has reached a steady state.", 38 + len(
            spec.name)), event(ids, f"(service {spec.name}) has reached a steady state.", 398)],
    }
    if spec.port:
        extra["loadBalancers"] = [{"targetGroupArn": spec.tg, "containerName": spec.name,
                                   "containerPort": spec.port}]
    else:
        del extra["healthCheckGracePeriodSeconds"]
    if spec.fargate:
        extra.update(platformVersion="LATEST", platformFamily="Linux",
                     networkConfiguration={"awsvpcConfiguration": {
                         "subnets": list(PRIVATE), "securityGroups": [task_sg(spec.name)],
                         "assignPublicIp": "DISABLED"}})
    else:
        extra.update(capacityProviderStrategy=[{"capacityProvider": CAPACITY_PROVIDER,
                                                "weight": 1, "base": 0}],
                     placementStrategy=[
                         {"type": "spread", "field": "attribute:ecs.availability-zone"},
                         {"type": "spread", "field": "instanceId"}])
    svc = b.service(spec.name, CLUSTER, desired=spec.desired, family=spec.name,
                    revision=spec.revision, **extra)
    if not spec.fargate:
        del svc["launchType"]
    return svc


def deployment(spec: Spec, revision: int, ids: Ids, *, minutes_ago: float,
               status: str = "PRIMARY", rollout: str = "COMPLETED", running: int | None = None,
               failed_tasks: int = 0) -> Item:
    dep = bs.deployment(status=status, rollout=rollout, minutes_ago=minutes_ago, family=spec.name,
                        revision=revision, desired=spec.desired,
                        running=spec.desired if running is None else running,
                        failed_tasks=failed_tasks)
    dep["id"] = f"ecs-svc/{ids.rng.randrange(10**18, 10**19)}"
    if spec.fargate:
        dep.update(launchType="FARGATE", platformVersion="1.4.0", platformFamily="Linux")
    return b.shaped("ecs", "Deployment", dep)


def event(ids: Ids, message: str, minutes_ago: float) -> Item:
    ev = bs.event(message, minutes_ago)
    ev["id"] = ids.uuid()
    return ev


# -- tasks -----------------------------------------------------------------------------------
def fargate_task(spec: Spec, az: int, ids: Ids, *, status: str = "RUNNING",
                 revision: int | None = None, started_min: float = 3 * 1440 - 5,
                 **kw: Any) -> Item:
    ip = f"10.0.{az + 1}.{ids.rng.randrange(20, 250)}"
    task = bn.eni_task(spec.name, PRIVATE[az], AZS[az], ip, status=status, family=spec.name,
                       revision=revision or spec.revision, started=b.ago(minutes=started_min),
                       launchType="FARGATE", platformVersion="1.4.0", platformFamily="Linux",
                       capacityProviderName="FARGATE", cpu=str(spec.cpu),
                       memory=str(spec.memory), connectivity="CONNECTED",
                       createdAt=b.ago(minutes=started_min + 1), enableExecuteCommand=True,
                       containers=kw.pop("containers", None) or [
                           _running_container(spec, status)], **kw)
    return _finish(task, ids)


def ec2_task(spec: Spec, host: int, ids: Ids, *, status: str = "RUNNING",
             revision: int | None = None, started_min: float = 3 * 1440 - 8, **kw: Any) -> Item:
    given = kw.pop("containers", None)
    ctr = given or [_running_container(spec, status)]
    if spec.port and status == "RUNNING" and given is None:
        ctr[0]["networkBindings"] = [{"bindIP": "0.0.0.0", "containerPort": spec.port,
                                      "hostPort": 32768 + ids.rng.randrange(0, 2000),
                                      "protocol": "tcp"}]
    task = b.task(spec.name, CLUSTER, status=status, family=spec.name,
                  revision=revision or spec.revision, started=b.ago(minutes=started_min),
                  containers=ctr, launchType="EC2", availabilityZone=AZS[host],
                  containerInstanceArn=bh.ci_arn(INSTANCES[host]),
                  capacityProviderName=CAPACITY_PROVIDER, createdAt=b.ago(minutes=started_min + 1),
                  enableExecuteCommand=True, connectivity="CONNECTED", **kw)
    return _finish(task, ids)


def _running_container(spec: Spec, status: str) -> Item:
    extra: Item = {"image": spec.image, "lastStatus": status}
    if status == "RUNNING":
        extra["healthStatus"] = "HEALTHY" if spec.port else "UNKNOWN"
        extra["managedAgents"] = [{"name": "ExecuteCommandAgent", "lastStatus": "RUNNING"}]
    return b.shaped("ecs", "Container", {"name": spec.name, **extra})


def _finish(task: Item, ids: Ids) -> Item:
    task["taskArn"] = f"arn:aws:ecs:{b.REGION}:{b.ACCOUNT}:task/{CLUSTER}/{ids.hex()}"
    return task


def _tasks(ids: Ids) -> list[Item]:
    out: list[Item] = []
    for spec in SPECS:
        for n in range(spec.desired):
            if spec.fargate:
                out.append(fargate_task(spec, n % 3, ids))
            else:
                out.append(ec2_task(spec, spec.hosts[n], ids))
    api = SPEC["api"]
    out.append(scheduler_stop(fargate_task(api, 0, ids, status="STOPPED", started_min=128,
                                           stoppedAt=b.ago(minutes=49)), ids))
    web = SPEC["web"]
    out.append(scheduler_stop(fargate_task(web, 2, ids, status="STOPPED", started_min=95,
                                           stoppedAt=b.ago(minutes=33)), ids))
    return out


def scheduler_stop(task: Item, ids: Ids) -> Item:
    """A task the service scheduler stopped (scale-in or deployment): normal noise."""
    task.update(stopCode="ServiceSchedulerInitiated", desiredStatus="STOPPED",
                stoppedReason=f"Scaling activity initiated by (deployment ecs-svc/"
                              f"{ids.rng.randrange(10**18, 10**19)})")
    task["containers"][0].update(exitCode=143, lastStatus="STOPPED")
    return task


# -- scaling ---------------------------------------------------------------------------------
def _scaling() -> dict[str, list[Item]]:
    return {"scalable_targets": [bs.scalable_target(s.name, min_capacity=s.desired,
                                                    max_capacity=s.max_tasks) for s in SPECS],
            "scaling_policies": [bs.target_tracking(s.name, target=60.0) for s in SPECS]}


# -- the bundle ------------------------------------------------------------------------------
def healthy_cluster(seed: int = 7) -> Item:
    """The healthy `prod` cluster (module docstring), as a bundle v1."""
    from tests.incidents._infra import hosts, load_balancing, network
    from tests.incidents._metrics import healthy_metrics

    ids = Ids(seed)
    tasks = _tasks(ids)
    cluster = b.cluster(CLUSTER, settings=[{"name": "containerInsights", "value": "enabled"}],
                        capacityProviders=[CAPACITY_PROVIDER, "FARGATE", "FARGATE_SPOT"],
                        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE",
                                                          "weight": 1, "base": 0}],
                        registeredContainerInstancesCount=3, activeServicesCount=len(SPECS),
                        tags=[{"key": "team", "value": "platform"}])
    out = b.bundle(clusters=[cluster], services=[_service(s, ids) for s in SPECS], tasks=tasks,
                   task_definitions=[task_definition(s) for s in SPECS], **network(),
                   **load_balancing(tasks), **hosts(), **_scaling())
    out["metrics"] = healthy_metrics(seed)
    _scale_in_events(out, ids)
    sync_hosts(out)
    return out


def _scale_in_events(bundle: Item, ids: Ids) -> None:
    """The events that go with the two scale-in stops of `_tasks` (normal noise)."""
    for svc in bundle["resources"]["services"]:
        name = svc["serviceName"]
        for task in bundle["resources"]["tasks"]:
            if task["group"] != f"service:{name}" or task["lastStatus"] != "STOPPED":
                continue
            tid = task["taskArn"].rsplit("/", 1)[1]
            start = _minutes_before_now(task["startedAt"])
            stop = _minutes_before_now(task["stoppedAt"])
            svc["events"] += [
                event(ids, f"(service {name}) has started 1 tasks: (task {tid}).", start),
                event(ids, f"(service {name}) registered 1 targets in (target-group "
                      f"{SPEC[name].tg})", start - 1),
                event(ids, f"(service {name}) has begun draining connections on 1 tasks.",
                      stop + 1.5),
                event(ids, f"(service {name}) deregistered 1 targets in (target-group "
                      f"{SPEC[name].tg})", stop + 1.4),
                event(ids, f"(service {name}) has stopped 1 running tasks: (task {tid}).", stop)]
        svc["events"].sort(key=lambda e: e["createdAt"], reverse=True)


def _minutes_before_now(stamp: str) -> float:
    return (b.NOW - dt.datetime.fromisoformat(stamp)).total_seconds() / 60.0


def sync_hosts(bundle: Item) -> None:
    """Free CPU/memory/ports and task counts of each container instance from the tasks on
    it (what ECS itself would report after the tasks were placed)."""
    res = bundle["resources"]
    tds = {td["taskDefinitionArn"]: td for td in res["task_definitions"]}
    for ci in res["container_instances"]:
        holding = [t for t in res["tasks"] if t.get("containerInstanceArn") == ci[
            "containerInstanceArn"] and t["lastStatus"] not in ("STOPPED", "DEPROVISIONING")]
        cpu = mem = 0
        ports = list(bh.RESERVED_PORTS)
        for t in holding:
            td = tds.get(t["taskDefinitionArn"], {})
            for c in td.get("containerDefinitions", []):
                cpu += int(c.get("cpu") or 0)
                mem += int(c.get("memory") or c.get("memoryReservation") or 0)
                ports += [str(p["hostPort"]) for p in c.get("portMappings", [])
                          if p.get("hostPort")]
        reg = {r["name"]: r for r in ci["registeredResources"]}
        rem = {r["name"]: r for r in ci["remainingResources"]}
        rem["CPU"]["integerValue"] = reg["CPU"]["integerValue"] - cpu
        rem["MEMORY"]["integerValue"] = reg["MEMORY"]["integerValue"] - mem
        rem["PORTS"]["stringSetValue"] = sorted(set(ports), key=int)
        ci["runningTasksCount"] = sum(1 for t in holding if t["lastStatus"] == "RUNNING")
        ci["pendingTasksCount"] = len(holding) - ci["runningTasksCount"]
