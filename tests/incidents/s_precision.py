"""Look-alikes that must be told apart precisely: kernel OOM kills after hours on hosts
over-committed by soft limits (not a leak), pulls that fail for the network rather than
for a secret, an isolated VPC by design that lacks one endpoint, a stop reason that only
looks truncated. Each names what the report must say, and tests/test_precision.py states
what it must not."""

from __future__ import annotations

from tests import builders_network as bn
from tests.incidents.healthy import ALB_SG, ECR, PRIVATE_RTS, task_sg
from tests.incidents.s_hygiene import plaintext_secrets, single_az
from tests.incidents.s_lb import elb_kills
from tests.incidents.s_memory import memory_series, oom_kill, restart_at
from tests.incidents.s_network import egress_route_missing
from tests.incidents.s_start import cut
from tests.incidents.scenarios import Cluster, fires, mixed, scenario


@scenario("soft-limit-oom-after-hours", "host-memory-overcommit",
          fires("stopped-task-oom", "reports"), fires("oom-after-long-uptime", "reports"),
          fires("container-no-memory-limit", "reports"), services=("reports",))
def soft_limit_oom_after_hours(c: Cluster) -> None:
    """reports:20 (three days ago) runs on a 1 GiB soft reservation and no hard limit. Its
    memory is flat at 160% of the reservation, but its hosts are full: every few hours the
    kernel OOM killer picks a reports container (exit 137, no ECS memory message), each
    after three to five hours of uptime. Nothing leaks; the hosts are over-committed."""
    c.deploy("reports", 3 * 1440, memory=None, memoryReservation=1024)
    for (stopped, uptime), host in zip(((50, 200), (28, 260), (9, 310)), (0, 2, 0),
                                       strict=True):
        oom_kill(c, "reports", host, stopped, uptime, text=None)
    restart_at(c, "reports", 8, 27)
    memory_series(c, "reports", lambda mins: 160.0, 4.0, average_gap=20.0, cap=400.0)


@scenario("soft-limit-leak", "memory-leak",
          fires("stopped-task-oom", "reports", hard_limit=False),
          fires("memory-trend-rising", "reports"), services=("reports",),
          summary_has=("climbs",))
def soft_limit_leak(c: Cluster) -> None:
    """reports:20 runs on a 1 GiB soft reservation and no hard limit, and leaks: from every
    start its memory climbs ~40 points of the reservation an hour until the host runs out
    and the kernel kills it (exit 137, no ECS memory message), after about three hours."""
    c.deploy("reports", 3 * 1440, memory=None, memoryReservation=1024)

    def climb(mins: float) -> float:
        start = 200.0 if mins >= 15 else 15.0
        return 60.0 + 0.66 * (start - mins)
    memory_series(c, "reports", climb, 1.5, average_gap=10.0, cap=400.0)
    for stopped, uptime, host in ((15, 185, 0), (17, 183, 2)):
        oom_kill(c, "reports", host, stopped, uptime, text=None)
    restart_at(c, "reports", 14, 16)


@scenario("no-container-health-check", "observability-gaps",
          fires("lb-container-no-health-check", "checkout"))
def no_container_health_check(c: Cluster) -> None:
    """checkout:42 (yesterday) was registered from a template without the container
    healthCheck: only the load balancer's HTTP check sees a hung checkout container, and
    ECS cannot replace one that the load balancer does not route to."""
    c.deploy("checkout", 26 * 60, healthCheck=None)


# Two unrelated gaps on one service, and two unrelated faults on one service's path: each
# diagnosis cites its own evidence, never the other's symptom.
mixed("mixed-plaintext-and-no-health-check", plaintext_secrets, no_container_health_check)


@scenario("sg-blocks-lb-on-web", "security-group-blocks-lb",
          fires("lb-to-task-security-group", "web"), services=("web",))
def sg_blocks_lb_on_web(c: Cluster) -> None:
    """A security-group tidy-up 25 minutes ago left the web tasks admitting the ALB on 8443
    only, while the containers listen on 8080: every web task fails its health checks."""
    sg = c.find("security_groups", "GroupId", task_sg("web"))
    sg["IpPermissions"] = [bn.rule("tcp", 8443, groups=(ALB_SG,))]
    elb_kills(c, "web", ((23, 118), (16, 109), (9, 117)), "Request timed out")
    c.targets("web", [("unhealthy", "Target.Timeout", "Request timed out")] * 2)


# The same afternoon, the us-east-1b route table also lost its default route: a web task
# launched there cannot pull its ghcr.io image. Two faults on one service's path; each
# diagnosis cites its own, not the other's symptoms.
mixed("mixed-sg-blocks-lb-and-dead-route", sg_blocks_lb_on_web, egress_route_missing)


@scenario("soft-reservation-above-100", "host-memory-overcommit",
          fires("instance-memory-overcommit"), fires("container-no-memory-limit", "reports"))
def soft_reservation_above_100(c: Cluster) -> None:
    """reports:20 runs on a 1 GiB soft reservation, no hard limit and no auto scaling (a
    nightly batch service at a fixed count). AWS/ECS MemoryUtilization is measured against
    that reservation, so it reads a steady 160%: no load is growing and more tasks would
    not help, but the hosts are over-committed."""
    c.deploy("reports", 3 * 1440, memory=None, memoryReservation=1024)
    rid = "service/prod/reports"
    for key in ("scalable_targets", "scaling_policies"):
        c.res[key] = [t for t in c.res.get(key, []) if t.get("ResourceId") != rid]
    memory_series(c, "reports", lambda mins: 160.0, 4.0, average_gap=20.0, cap=400.0)


@scenario("isolated-vpc-missing-endpoint", "missing-vpc-endpoints",
          fires("task-subnet-default-route", "api", egress="none"),
          fires("stopped-task-image-pull", "api", cause="network"), services=("api",),
          summary_has=("ecr.dkr",))
def isolated_vpc_missing_endpoint(c: Cluster) -> None:
    """The prod VPC is private by design: no NAT gateway, no default route in the private
    subnets; VPC endpoints serve ECR, S3, Logs and Secrets Manager. A network stack update
    35 minutes ago replaced the endpoints and left ecr.dkr out: api's rollout (api:113)
    cannot fetch its image manifest and every new task stops before it starts."""
    c.res["nat_gateways"] = []
    for rt in PRIVATE_RTS:
        table = c.find("route_tables", "RouteTableId", rt)
        table["Routes"] = [r for r in table["Routes"]
                           if r.get("DestinationCidrBlock") != "0.0.0.0/0"]
    c.res["vpc_endpoints"] = [e for e in c.res["vpc_endpoints"]
                              if not str(e["ServiceName"]).endswith(".ecr.dkr")]
    c.deploy("api", 35, rollout="IN_PROGRESS", failed=4, image=f"{ECR}/api:2.32.0")
    reason = cut(f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                 f"failed to resolve ref {ECR}/api:2.32.0: failed to do request: Head "
                 f"\"https://{ECR}/v2/api/manifests/2.32.0\": dial tcp 10.0.11.23:443: i/o "
                 "timeout")
    for i, stopped in enumerate((31, 24, 16, 8)):
        c.stopped("api", i % 3, stopped_min=stopped, uptime_s=None, reason=reason,
                  stop_code="TaskFailedToStart", container_reason=reason)


@scenario("single-az-beside-no-alarms", "single-az",
          fires("service-subnets-single-az", "worker"), fires("service-no-alarms"))
def single_az_beside_no_alarms(c: Cluster) -> None:
    """The account's alarms were never created (the monitoring stack was not deployed in
    this Region), and worker runs in one Availability Zone. Six services without alarms is
    a low hygiene gap however many services share it; one service an AZ outage stops is
    the medium risk to read first."""
    single_az(c)
    c.res["alarms"] = []
