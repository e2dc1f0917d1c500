"""The demo account's ``prod`` cluster, as data: the one place to read or extend the scenario.

``checker/demo.py`` builds it in a moto server. Times are minutes before the moment the demo
starts, so the account always looks "live": every stopped task stopped within the last hour, as
ECS shows stopped tasks for about an hour. Messages use the exact wording of real ECS messages
(shared/corpus/messages/ecs-messages.tsv); the builder adds what follows from the task
timeline by itself ("has started N tasks", "has stopped N running tasks").

Incidents, besides healthy services:

============== ======== ================ ================================================
service        launch   desired/running  what the scan should find
============== ======== ================ ================================================
checkout       EC2      4 / 3 (+1 pend.) memory-leak: 4 OOM kills (137) after 8-9 h uptime,
                                         memory climbing since the 2026.11.3 deploy
search         FARGATE  3 / 2 (+1 pend.) memory-undersized: 3 OOM kills 2-6 min after start;
                                         runtime-heap-exceeds-limit (Node heap 1536 > 1024)
orders-worker  FARGATE  2 / 0            app-crash-loop: 6 exits with code 1 after 10-40 s,
                                         circuit breaker FAILED
reports        EC2      2 / 2            soft limit only (memoryReservation, no hard limit)
web            FARGATE  4 / 4            healthy; one scale-in stop that is NOT an incident
catalog        EC2      2 / 2            healthy
auth           FARGATE  2 / 2            healthy
============== ======== ================ ================================================

To add an incident: add or change a :class:`Service` below (or the network constants for
NAT/VPC incidents), then seed what moto cannot express in ``demo.py`` with
``checker.moto_seed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "prod"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret"
PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"

# --- network: one VPC, three AZs, private subnets for tasks and instances --------------------
VPC_CIDR = "10.0.0.0/16"
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")
PRIVATE_CIDRS = ("10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19")
PUBLIC_CIDRS = ("10.0.96.0/22", "10.0.100.0/22", "10.0.104.0/22")
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")  # plus an S3 gateway

# --- EC2 capacity: an ASG of ECS-optimised m5.large behind a capacity provider ----------------
INSTANCE_TYPE = "m5.large"
INSTANCE_COUNT = 3  # one per AZ
REGISTERED_CPU = 2048  # what the ECS agent registers on an m5.large (2 vCPU)
REGISTERED_MEMORY = 7680  # MiB: 8 GiB less what the OS and agent keep
INSTANCES_LAUNCHED = 20160.0  # minutes ago (two weeks)
ECS_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended"
# What the agent on the ECS-optimised AMI registers besides ecs.ami-id/instance-type/AZ/os-type.
INSTANCE_ATTRIBUTES = {"ecs.cpu-architecture": "x86_64", **dict.fromkeys((
    "ecs.capability.task-eni", "ecs.capability.execution-role-awslogs",
    "ecs.capability.execution-role-ecr-pull", "ecs.capability.container-health-check",
    "ecs.capability.secrets.asm.environment-variables",
    "ecs.capability.secrets.ssm.environment-variables",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "com.amazonaws.ecs.capability.ecr-auth", "com.amazonaws.ecs.capability.task-iam-role"), "")}

# --- the real ECS messages (ecs-messages.tsv) -------------------------------------------------
STEADY = "(service {service}) has reached a steady state."
UNABLE_TO_START = (
    "(service {service}) is unable to consistently start tasks successfully. "
    "For more information, see the Troubleshooting section."
)
DEPLOYMENT_FAILED = "(service {service}) deployment failed: tasks failed to start."
CIRCUIT_BREAKER = "ECS deployment circuit breaker: tasks failed to start."
ESSENTIAL_EXITED = "Essential container in task exited"
OOM = "OutOfMemoryError: Container killed due to memory usage"
SCALE_IN = "Scaling activity initiated by (deployment {deployment})"


@dataclass(frozen=True)
class Container:
    """One container definition. ``memory`` is the hard limit, ``memory_reservation`` the
    soft one (MiB); moto needs at least one of them to run the task."""

    name: str
    image: str
    cpu: int = 0
    memory: int | None = None
    memory_reservation: int | None = None
    port: int | None = None
    protocol: str = "tcp"
    essential: bool = True
    environment: tuple[tuple[str, str], ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()  # (name, valueFrom ARN): never a value
    command: tuple[str, ...] = ()
    health_check: str | None = None  # CMD-SHELL command
    logs: bool = True  # awslogs to /ecs/prod/<service>


@dataclass(frozen=True)
class Stopped:
    """A task that stopped: when it started and stopped (minutes ago), and how.
    ``exits`` maps container name to (exit code, container reason)."""

    started: float
    stopped: float
    stop_code: str
    reason: str
    exits: tuple[tuple[str, int | None, str | None], ...]


@dataclass(frozen=True)
class Balancer:
    """Where the public ALB sends traffic to the service."""

    path: str  # listener rule path pattern; "/*" is the default action
    priority: int
    health_path: str = "/healthz"


def flat(level: float, wobble: float = 3.0) -> Callable[[float], float]:
    """A steady utilisation (percent) with a small deterministic wobble; the argument is the
    task's age in minutes."""
    return lambda age: level + wobble * math.sin(age / 23.0)


def leak(start: float, per_hour: float) -> Callable[[float], float]:
    """Memory that only ever grows with task age until the OOM killer stops the task."""
    return lambda age: min(100.0, start + per_hour * age / 60.0)


def warm_up(survivor: float, minutes_to_full: float) -> Callable[[float], float]:
    """A fresh task loads its cache to the limit in the first minutes; survivors settle."""
    return lambda age: min(100.0, 62.0 + 38.0 * age / minutes_to_full) if age < 6 else survivor


@dataclass(frozen=True)
class Service:
    """One ECS service and its recent history (all times are minutes ago).

    ``running``/``pending`` hold the start (creation) time of each RUNNING/PENDING task;
    tasks with equal times were launched together. ``desired_history`` lists
    (since, desiredCount) changes, oldest first; the last one is the current desiredCount.
    ``events`` are the messages not derived from the task timeline.
    """

    name: str
    launch_type: str  # "EC2" (bridge) or "FARGATE" (awsvpc)
    containers: tuple[Container, ...]
    desired_history: tuple[tuple[float, int], ...]
    created: float
    deployed: float
    running: tuple[float, ...]
    pending: tuple[float, ...] = ()
    stopped: tuple[Stopped, ...] = ()
    events: tuple[tuple[float, str], ...] = ()
    task_cpu: int | None = None  # required for FARGATE
    task_memory: int | None = None
    rollout: tuple[str, str] | None = None  # (rolloutState, rolloutStateReason) if not done
    circuit_breaker_rollback: bool = True
    balancer: Balancer | None = None
    scaling: tuple[int, int, float] | None = None  # (min, max, target CPU %)
    cpu: Callable[[float], float] = field(default_factory=lambda: flat(25.0))
    memory: Callable[[float], float] = field(default_factory=lambda: flat(50.0))
    revision: int = 1  # the task definition revision running: real services have history

    @property
    def desired(self) -> int:
        return self.desired_history[-1][1]



def every_6h(first: float, until: float = 0.0) -> tuple[float, ...]:
    """ECS repeats "has reached a steady state" about every 6 hours while nothing changes."""
    times = []
    t = first
    while t > until:
        times.append(t)
        t -= 360.0
    return tuple(times)


def steady(service: str, *times: float) -> tuple[tuple[float, str], ...]:
    return tuple((t, STEADY.format(service=service)) for t in times)


def oom(started: float, stopped: float, container: str) -> Stopped:
    return Stopped(started, stopped, "EssentialContainerExited", ESSENTIAL_EXITED,
                   ((container, 137, OOM),))


def crash(started: float, ran_seconds: float, container: str) -> Stopped:
    return Stopped(started, started - ran_seconds / 60.0, "EssentialContainerExited",
                   ESSENTIAL_EXITED, ((container, 1, None),))


def _ecr(repo: str, tag: str) -> str:
    return f"{ECR}/{repo}:{tag}"


def _env(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(values.items())


# --- the services ---------------------------------------------------------------------------

WEB = Service(
    name="web", revision=31, launch_type="FARGATE", task_cpu=512, task_memory=1024,
    containers=(
        Container("web", _ecr("web", "2026.11.18"), cpu=448, memory_reservation=896, port=3000,
                  environment=_env(NODE_ENV="production", PORT="3000", LOG_LEVEL="info",
                                   CHECKOUT_URL="http://checkout.prod.internal",
                                   SEARCH_URL="http://search.prod.internal"),
                  secrets=(("SESSION_SECRET", f"{SECRET}:prod/web/session-Xw7TqB"),),
                  health_check="wget -qO- http://localhost:3000/healthz || exit 1"),
        # A sidecar without log configuration is common (and worth a low finding).
        Container("xray-daemon", "public.ecr.aws/xray/aws-xray-daemon:3.3.13", cpu=32,
                  memory_reservation=64, port=2000, protocol="udp", essential=False,
                  logs=False),
    ),
    desired_history=((1560.0, 4), (121.0, 5), (18.5, 4)),  # scaled out, then back in
    created=30240.0, deployed=1560.0,
    running=(1559.5, 1559.5, 1559.5, 1559.5),
    stopped=(Stopped(120.5, 18.0, "ServiceSchedulerInitiated", SCALE_IN,
                     (("web", 143, None), ("xray-daemon", 0, None))),),
    events=steady("web", *every_6h(1556.0), 116.0, 16.0),
    balancer=Balancer("/*", 100),
    scaling=(2, 10, 60.0),
    cpu=lambda age: 38.0 + 9.0 * math.sin(age / 180.0), memory=flat(58.0, 2.0),
)

CHECKOUT = Service(
    name="checkout", revision=14, launch_type="EC2",
    containers=(
        Container("checkout", _ecr("checkout", "2026.11.3"), cpu=512, memory=1024, port=8080,
                  environment=_env(JAVA_OPTS="-Xmx768m", SPRING_PROFILES_ACTIVE="prod",
                                   SERVER_PORT="8080",
                                   DB_HOST="checkout.cluster-cq8x2vexample.us-east-1.rds.amazonaws.com"),
                  secrets=(("DB_PASSWORD", f"{SECRET}:prod/checkout/db-4rTq9Z"),),
                  health_check="curl -fsS http://localhost:8080/actuator/health || exit 1"),
    ),
    desired_history=((30000.0, 4),),
    created=43200.0, deployed=541.0,  # 2026.11.3 went out nine hours ago
    # The four tasks of the deployment leak in step; each dies after 8-9 hours.
    stopped=(oom(540.0, 55.0, "checkout"), oom(540.0, 41.0, "checkout"),
             oom(540.0, 24.0, "checkout"), oom(540.0, 3.0, "checkout")),
    running=(54.5, 40.5, 23.5),
    pending=(2.7,),  # the replacement for the kill three minutes ago is pulling its image
    events=steady("checkout", 537.0, 177.0, 52.0, 38.0, 21.0),
    balancer=Balancer("/checkout*", 20, "/actuator/health"),
    scaling=(4, 8, 70.0),
    cpu=flat(34.0), memory=leak(start=32.0, per_hour=7.6),
)

SEARCH = Service(
    name="search", revision=7, launch_type="FARGATE", task_cpu=512, task_memory=1024,
    containers=(
        Container("search", _ecr("search", "2026.11.12"), cpu=512, memory=1024, port=3000,
                  environment=_env(NODE_ENV="production", PORT="3000",
                                   NODE_OPTIONS="--max-old-space-size=1536",
                                   OPENSEARCH_URL="https://vpc-prod-catalog-7hdq2example"
                                                  ".us-east-1.es.amazonaws.com"),
                  health_check="wget -qO- http://localhost:3000/healthz || exit 1"),
    ),
    # Target tracking added a third task 14 minutes ago; each new one dies warming up.
    desired_history=((4320.0, 2), (14.5, 3)),
    created=50400.0, deployed=4320.0,
    running=(1300.0, 1300.0),
    stopped=(oom(14.0, 10.0, "search"), oom(9.5, 4.5, "search"), oom(4.0, 1.2, "search")),
    pending=(0.8,),
    events=steady("search", *every_6h(1297.0)),
    balancer=Balancer("/api/search*", 10),
    scaling=(2, 6, 60.0),
    cpu=lambda age: 58.0 + 4.0 * math.sin(age / 17.0), memory=warm_up(78.0, 3.2),
)

ORDERS_WORKER = Service(
    name="orders-worker", revision=23, launch_type="FARGATE", task_cpu=256, task_memory=512,
    containers=(
        Container("orders-worker", _ecr("orders-worker", "2026.11.20"), cpu=256, memory=512,
                  command=("python", "-m", "orders.worker"),
                  environment=_env(PYTHONUNBUFFERED="1", LOG_LEVEL="INFO", WORKER_CONCURRENCY="4",
                                   QUEUE_URL=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders"),
                  secrets=(("DATABASE_URL", f"{PARAMETER}/prod/orders-worker/database-url"),)),
    ),
    desired_history=((39.0, 2),),
    created=39.0, deployed=39.0,  # a new service: nothing to roll back to
    running=(),
    stopped=(crash(38.5, 12, "orders-worker"), crash(38.5, 35, "orders-worker"),
             crash(35.0, 18, "orders-worker"), crash(35.0, 27, "orders-worker"),
             crash(28.0, 10, "orders-worker"), crash(28.0, 40, "orders-worker")),
    events=((34.4, UNABLE_TO_START.format(service="orders-worker")),
            (27.2, DEPLOYMENT_FAILED.format(service="orders-worker"))),
    rollout=("FAILED", CIRCUIT_BREAKER),
    circuit_breaker_rollback=False,
    cpu=flat(4.0, 2.0), memory=flat(21.0, 2.0),
)

REPORTS = Service(
    name="reports", revision=3, launch_type="EC2",
    containers=(
        # Only a soft limit: the container may take all the host's free memory.
        Container("reports", _ecr("reports", "2026.10.28"), cpu=256, memory_reservation=1024,
                  command=("python", "-m", "reports.scheduler"),
                  environment=_env(TZ="UTC", REPORTS_BUCKET="acme-prod-reports",
                                   LOG_LEVEL="INFO")),
    ),
    desired_history=((10080.0, 2),),
    created=40320.0, deployed=10080.0,
    running=(10079.0, 10079.0),
    events=steady("reports", *every_6h(10076.0)),
    cpu=flat(12.0, 4.0), memory=flat(47.0, 6.0),
)

CATALOG = Service(
    name="catalog", revision=6, launch_type="EC2",
    containers=(
        Container("catalog", _ecr("catalog", "2026.11.10"), cpu=256, memory=768, port=8080,
                  environment=_env(PORT="8080", GOMEMLIMIT="600MiB",
                                   CACHE_TTL_SECONDS="300"),
                  health_check="wget -qO- http://localhost:8080/healthz || exit 1"),
    ),
    desired_history=((2900.0, 2),),
    created=47000.0, deployed=2900.0,
    running=(2899.5, 2899.5),
    events=steady("catalog", *every_6h(2897.0)),
    balancer=Balancer("/api/catalog*", 30),
    cpu=flat(21.0), memory=flat(44.0),
)

AUTH = Service(
    name="auth", revision=4, launch_type="FARGATE", task_cpu=256, task_memory=512,
    containers=(
        Container("auth", _ecr("auth", "2026.11.5"), cpu=256, memory=512, port=8080,
                  environment=_env(PORT="8080", JWKS_CACHE_TTL="300", ISSUER="https://auth.acme.example"),
                  secrets=(("JWT_SIGNING_KEY", f"{SECRET}:prod/auth/jwt-signing-key-P2mLxQ"),),
                  health_check="wget -qO- http://localhost:8080/healthz || exit 1"),
    ),
    desired_history=((5000.0, 2),),
    created=46000.0, deployed=5000.0,
    running=(4999.5, 4999.5),
    events=steady("auth", *every_6h(4997.0)),
    balancer=Balancer("/api/auth*", 40),
    scaling=(2, 4, 60.0),
    cpu=flat(17.0), memory=flat(39.0, 2.0),
)

SERVICES: tuple[Service, ...] = (WEB, CHECKOUT, SEARCH, ORDERS_WORKER, REPORTS, CATALOG, AUTH)

# Minutes of AWS/ECS, ECS/ContainerInsights and AWS/EC2 history: since just after the checkout
# deploy, so every datapoint comes from tasks in the timeline above.
METRIC_WINDOW = 8 * 60.0
METRIC_PERIOD = 5.0  # minutes per datapoint; each carries 5 one-minute samples


# --- the timeline, derived from the data above (pure: no AWS, no moto) ------------------------

PULL_MINUTES = 25.0 / 60.0  # from task creation to RUNNING: ENI, image pull, start


@dataclass(frozen=True)
class PlannedTask:
    """One task of a service's timeline. Times are minutes ago; ``number`` is its position in
    the timeline; ``slot`` is the AZ index: the subnet (Fargate) or the container instance
    (EC2) it runs in."""

    number: int
    status: str  # RUNNING | PENDING | STOPPED
    created: float
    started: float | None  # None while PENDING
    stopped: float | None
    stop: Stopped | None
    slot: int

    def alive_at(self, t: float) -> bool:
        """RUNNING at ``t`` minutes ago."""
        return self.started is not None and self.started >= t and (
            self.stopped is None or t > self.stopped
        )

    def pending_at(self, t: float) -> bool:
        return self.created >= t and (self.started is None or t > self.started)


def plan_tasks(service: Service, offset: int) -> tuple[PlannedTask, ...]:
    """The service's visible tasks, oldest first, spread round-robin over the AZs (as the
    default AZ-spread placement does), starting at AZ ``offset``."""
    items: list[tuple[float, str, float | None, float | None, Stopped | None]] = [
        (s.started + PULL_MINUTES, "STOPPED", s.started, s.stopped, s) for s in service.stopped
    ]
    items += [(r + PULL_MINUTES, "RUNNING", r, None, None) for r in service.running]
    items += [(p, "PENDING", None, None, None) for p in service.pending]
    items.sort(key=lambda item: -item[0])
    return tuple(
        PlannedTask(i, status, created, started, stopped, stop, (offset + i) % len(AZS))
        for i, (created, status, started, stopped, stop) in enumerate(items)
    )


def derived_events(
    service: Service, tasks: tuple[PlannedTask, ...], task_ids: tuple[str, ...]
) -> list[tuple[float, str]]:
    """The events ECS writes by itself for this timeline: one "has started" per launch (tasks
    created together share one) and one "has stopped" per scheduler-initiated stop."""
    launches: dict[float, list[str]] = {}
    events: list[tuple[float, str]] = []
    for task, task_id in zip(tasks, task_ids, strict=True):
        launches.setdefault(round(task.created, 4), []).append(task_id)
        if task.stop is not None and task.stop.stop_code == "ServiceSchedulerInitiated":
            assert task.stopped is not None
            message = f"(service {service.name}) has stopped 1 running tasks: (task {task_id})."
            events.append((task.stopped + 0.5, message))
    for created, ids in launches.items():
        listed = " ".join(f"(task {task_id})" for task_id in ids)
        message = f"(service {service.name}) has started {len(ids)} tasks: {listed}."
        events.append((created, message))
    return events


def desired_at(service: Service, t: float) -> int | None:
    """desiredCount ``t`` minutes ago; None before the service existed."""
    if t > service.created:
        return None
    current = None
    for since, count in service.desired_history:
        if t <= since:
            current = count
    return current if current is not None else service.desired_history[0][1]


def utilisation(
    service: Service, tasks: tuple[PlannedTask, ...], t: float, *, metric: str
) -> list[float]:
    """Per-task CPU or memory utilisation (percent) of the tasks RUNNING ``t`` minutes ago."""
    model = service.cpu if metric == "CPUUtilization" else service.memory
    return [
        round(model(task.started - t), 2)
        for task in tasks
        if task.started is not None and task.alive_at(t)
    ]
