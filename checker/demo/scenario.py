"""The demo account's ``prod`` cluster, as data: the one place to read or extend the scenario.

``checker/demo/run.py`` builds it in a moto server. Times are minutes before the moment the demo
starts, so the account always looks "live": every stopped task stopped within the last hour, as
ECS shows stopped tasks for about an hour. Messages use the exact wording of real ECS messages
(shared/corpus/messages/ecs-messages.tsv); the builder adds what follows from the task
timeline by itself ("has started N tasks", "has stopped N running tasks"). The vocabulary
(Service, Stopped, the timeline arithmetic) is in :mod:`checker.demo.model`.

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
payments       FARGATE  2 / 0            egress-route-missing / image-pull-failure: its
                                         subnets' default route points to a NAT gateway
                                         deleted 55 min ago (blackhole); 10 tasks stopped
                                         with CannotPullContainerError ... i/o timeout
notifications  FARGATE  2 / 2 (unhealthy) security-group-blocks-lb: its task group admits
                                         the ALB on 80, the container listens on 8080;
                                         targets Target.Timeout, 10 tasks killed by ELB
                                         health checks in 16 min
billing-batch  EC2      2 / 2            cpu-credit-exhaustion: its t3.large (standard
                                         credits) drained CPUCreditBalance in the
                                         month-end run; held at the 30% baseline ~1.5 h
reports        EC2      2 / 2            soft limit only (memoryReservation, no hard limit)
web            FARGATE  4 / 4            healthy; one scale-in stop that is NOT an incident
catalog        EC2      2 / 2            healthy
auth           FARGATE  2 / 2            healthy
============== ======== ================ ================================================

CloudWatch has every series the checks read for the healthy services too (AWS/ECS, Container
Insights, AWS/EC2 incl. CPU credits, AWS/NATGateway, AWS/ApplicationELB), so they pass
instead of being unknown.

To add an incident: add or change a :class:`Service` below (or the network and capacity
constants), then seed what moto cannot express in ``demo_build.py`` with
``checker.demo.moto_seed``.
"""

from __future__ import annotations

import math

from checker.demo.model import (
    CIRCUIT_BREAKER,
    DEPLOYMENT_FAILED,
    ELB_KILLED,
    ELB_UNHEALTHY,
    ESSENTIAL_EXITED,
    OOM,
    PULL_MINUTES,
    PULL_TIMEOUT,
    REASON_LIMIT,
    SCALE_IN,
    STEADY,
    UNABLE_TO_START,
    Balancer,
    Capacity,
    Container,
    CreditHost,
    PlannedTask,
    Service,
    Stopped,
    crash,
    derived_events,
    desired_at,
    elb_killed,
    every_6h,
    flat,
    image_digest,
    leak,
    oom,
    plan_tasks,
    pull_timeout,
    steady,
    utilisation,
    warm_up,
)

__all__ = [  # the vocabulary, for readers of the scenario (``sc.Service``, ``sc.OOM``)
    "CIRCUIT_BREAKER", "DEPLOYMENT_FAILED", "ELB_KILLED", "ELB_UNHEALTHY", "ESSENTIAL_EXITED",
    "OOM", "PULL_MINUTES", "PULL_TIMEOUT", "REASON_LIMIT", "SCALE_IN", "STEADY",
    "UNABLE_TO_START", "Balancer", "Capacity", "Container", "CreditHost", "PlannedTask",
    "Service", "Stopped", "derived_events", "desired_at", "image_digest", "plan_tasks",
    "utilisation",
]

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
# payments has subnets of its own (PCI scope) with one route table. Its NAT gateway looked
# idle to a cost clean-up and was deleted this long ago (minutes); the route to it is now a
# blackhole. The endpoints' group admits the shared private subnets only, and the S3 gateway
# is not on the payments table, so nothing else gets its image in.
PAYMENTS_CIDRS = ("10.0.112.0/22", "10.0.116.0/22")
PAYMENTS_NAT_DELETED = 55.0
# Subnet groups: (CIDR, AZ index) per subnet; a Fargate service names one.
SUBNET_GROUPS = {"private": tuple(zip(PRIVATE_CIDRS, (0, 1, 2), strict=True)),
                 "payments": tuple(zip(PAYMENTS_CIDRS, (0, 1), strict=True))}
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")  # plus an S3 gateway
# Task security groups (awsvpc). Each admits the ALB on the ports of its services
# (Service.admits); notifications' still says 80, the port before it moved to 8080.
TASK_GROUPS = {"prod-ecs-tasks": "ECS tasks (awsvpc)",
               "prod-notifications-tasks": "notifications tasks (awsvpc)",
               "prod-payments-tasks": "payments tasks (awsvpc, PCI scope)"}

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

# Minutes of AWS/ECS, ECS/ContainerInsights and AWS/EC2 history: since just after the checkout
# deploy, so every datapoint comes from tasks in the timeline below.
METRIC_WINDOW = 8 * 60.0
METRIC_PERIOD = 5.0  # minutes per datapoint; each carries 5 one-minute samples
# NAT gateway and target group history: a scan reads 3 hours; they are steady before that.
TRAFFIC_WINDOW = 4 * 60.0

# The batch host: a t3.large in standard credit mode (36 credits/h, 2 vCPU: 30% baseline).
# The month-end billing run began BILLING_RUN minutes ago at ~86% CPU, spent the balance in
# about two hours and has been held at the baseline since.
BILLING_RUN = 200.0
BILLING_STARTED = 4031.0  # the billing-batch tasks have run since then


def _billing_demand(t: float) -> float:
    if t <= BILLING_RUN:
        return 86.0 + 3.0 * math.sin(t / 7.0)
    return 22.0 + 4.0 * math.sin(t / 31.0)


BILLING_HOST = CreditHost(vcpus=2, earn_per_hour=36.0, since=METRIC_WINDOW, balance=90.0,
                          demand=_billing_demand)
# Groups of container instances, by capacity provider name.
CAPACITY = {
    "prod-ec2": Capacity("prod-ec2", INSTANCE_TYPE, (0, 1, 2), REGISTERED_CPU,
                         REGISTERED_MEMORY),
    "prod-batch": Capacity("prod-batch", "t3.large", (0,), 2048, 7680, credits=BILLING_HOST),
}
# The Auto Scaling group (and launch template) behind each capacity provider.
ASG_NAMES = {"prod-ec2": "prod-ecs", "prod-batch": "prod-ecs-batch"}


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
    balancer=Balancer("/*", 100, requests_per_minute=1400.0, response_time_s=0.085),
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
    balancer=Balancer("/checkout*", 20, "/actuator/health", 160.0, 0.16),
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
    balancer=Balancer("/api/search*", 10, requests_per_minute=420.0, response_time_s=0.12),
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
    balancer=Balancer("/api/catalog*", 30, requests_per_minute=650.0, response_time_s=0.05),
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
    balancer=Balancer("/api/auth*", 40, requests_per_minute=380.0, response_time_s=0.06),
    scaling=(2, 4, 60.0),
    cpu=flat(17.0), memory=flat(39.0, 2.0),
)

PAYMENTS_IMAGE = _ecr("payments", "2026.11.19")
PAYMENTS = Service(
    name="payments", revision=1, launch_type="FARGATE", task_cpu=512, task_memory=1024,
    containers=(
        Container("payments", PAYMENTS_IMAGE, cpu=512, memory=1024, port=8080,
                  environment=_env(PORT="8080", PSP_API_URL="https://api.psp.example/v2",
                                   LOG_LEVEL="info"),
                  secrets=(("PSP_API_KEY", f"{SECRET}:prod/payments/psp-api-key-7Hq2Lm"),
                           ("DATABASE_URL", f"{SECRET}:prod/payments/db-url-Kd93Zs")),
                  health_check="curl -fsS http://localhost:8080/health || exit 1"),
    ),
    # Launched after its NAT gateway was gone: no task ever pulls its image. The scheduler
    # retries in pairs, backing off; the circuit breaker is off, so it never gives up.
    desired_history=((42.0, 2),), created=42.0, deployed=42.0,
    running=(),
    stopped=tuple(pull_timeout(created, seconds, "payments", PAYMENTS_IMAGE)
                  for created, seconds in ((41.6, 148), (41.6, 151), (37.1, 146), (37.1, 152),
                                           (31.4, 149), (31.4, 147), (22.3, 150), (22.3, 153),
                                           (8.8, 146), (8.8, 149))),
    events=((30.6, UNABLE_TO_START.format(service="payments")),),
    rollout=("IN_PROGRESS", "ECS deployment {deployment} in progress."),
    circuit_breaker=False,
    subnets="payments", security_group="prod-payments-tasks",
)

_TIMEOUT = ("unhealthy", "Target.Timeout", "Request timed out")
NOTIFICATIONS = Service(
    name="notifications", revision=9, launch_type="FARGATE", task_cpu=256, task_memory=512,
    containers=(
        Container("notifications", _ecr("notifications", "2026.11.17"), cpu=256, memory=512,
                  port=8080,
                  environment=_env(NODE_ENV="production", PORT="8080", LOG_LEVEL="info",
                                   SES_REGION=REGION),
                  secrets=(("SMS_AUTH_TOKEN", f"{SECRET}:prod/notifications/sms-token-9aQw2e"),),
                  health_check="wget -qO- http://localhost:8080/healthz || exit 1"),
    ),
    # Revision 9 moved the app from 80 to 8080 three days ago, with a hand-made rule for
    # 8080; a Terraform apply 16.5 minutes ago put the task group back to "ALB on 80".
    # The healthy pair was replaced, and every replacement since dies ~3 min after start.
    desired_history=((26000.0, 2),), created=52000.0, deployed=4330.0,
    running=(1.7, 1.7),
    stopped=(elb_killed(4329.5, 15.4, "notifications", _TIMEOUT[2]),
             elb_killed(4329.5, 15.1, "notifications", _TIMEOUT[2]),
             *(elb_killed(start, start - ran, "notifications", _TIMEOUT[2])
               for start, ran in ((14.9, 2.8), (14.9, 2.9), (11.6, 2.8), (11.6, 2.95),
                                  (8.3, 2.8), (8.3, 3.0), (5.0, 2.8), (5.0, 2.95)))),
    events=steady("notifications", *every_6h(4326.0, until=17.0)),
    balancer=Balancer("/api/notifications*", 50, requests_per_minute=90.0,
                      response_time_s=0.045),
    security_group="prod-notifications-tasks", admits=(80,),
    target_health=_TIMEOUT, unhealthy_since=16.5,
    cpu=flat(9.0, 2.0), memory=flat(41.0, 2.0),
)

BILLING_BATCH = Service(
    name="billing-batch", revision=12, launch_type="EC2",
    containers=(
        Container("billing-batch", _ecr("billing-batch", "2026.11.14"), cpu=1024,
                  memory=2048, command=("python", "-m", "billing.batch", "--worker"),
                  environment=_env(BATCH_CONCURRENCY="8", LOG_LEVEL="INFO", TZ="UTC"),
                  secrets=(("LEDGER_DB_URL", f"{SECRET}:prod/billing/ledger-db-Qm4TzV"),)),
    ),
    desired_history=((30000.0, 2),), created=60000.0, deployed=BILLING_STARTED + 1.0,
    running=(BILLING_STARTED, BILLING_STARTED),
    events=steady("billing-batch", *every_6h(BILLING_STARTED - 3.0)),
    capacity="prod-batch",
    placement_constraints=(("memberOf", "attribute:ecs.instance-type == t3.large"),),
    # Each task reserves one of the host's two vCPUs: its share is the host's CPU, less
    # what the agent and the OS use.
    cpu=lambda age: round(BILLING_HOST.cpu_at(BILLING_STARTED - age) - 1.5, 2),
    memory=flat(58.0, 4.0),
)

SERVICES: tuple[Service, ...] = (WEB, CHECKOUT, SEARCH, ORDERS_WORKER, REPORTS, CATALOG, AUTH,
                                 PAYMENTS, NOTIFICATIONS, BILLING_BATCH)


def zones_of(service: Service) -> tuple[int, ...]:
    """The AZ index of each slot the service's tasks are spread over: its subnets (Fargate)
    or its capacity group's instances (EC2)."""
    if service.launch_type == "FARGATE":
        return tuple(zone for _, zone in SUBNET_GROUPS[service.subnets])
    return CAPACITY[service.capacity].zones
