"""Network incidents: NAT saturation on a traffic spike, a deleted egress route, an egress
security group without 443, VPC DNS off, no VPC endpoints."""

from __future__ import annotations

from collections.abc import Callable

from tests import builders as b
from tests import builders_network as bn
from tests.incidents import _metrics as m
from tests.incidents.healthy import NATS, PRIVATE_RTS, SPEC, task_sg
from tests.incidents.s_start import cut
from tests.incidents.scenarios import Cluster, fires, scenario


def _after(since: float, before: float, after: float) -> Callable[[float], float]:
    return lambda mins: before if mins >= since else after


@scenario("nat-saturation", "nat-connection-exhaustion",
          fires("nat-gateway-port-exhaustion", "web", nat_gateway_id=NATS[0]),
          fires("nat-gateway-port-exhaustion", "api", nat_gateway_id=NATS[0]),
          fires("nat-gateway-dropping-connections", "api", nat_gateway_id=NATS[0]),
          min_services=2)
def nat_saturation(c: Cluster) -> None:
    """A flash sale from 80 minutes ago. Every task in us-east-1a leaves through NAT gateway
    nat-0a9e1c3b5d7f90a11, which holds one address: its connections to the payment
    provider reach the 55,000 limit, ErrorPortAllocation climbs and new connections are
    dropped. web and api answer slowly and api returns 5xx; the other AZs' NATs are fine."""
    nat = NATS[0]
    active = c.series(lambda mins: 2600.0 if mins > 75 else min(54800.0, 2600 + 5200 * (75 - mins)),
                      300.0)
    attempts = c.series(_after(80, 900.0, 9200.0), 300.0)
    ratio = _after(70, 0.998, 0.71)
    c.put(m.nat(nat, "ActiveConnectionCount", "Maximum", [min(55000.0, v or 0) for v in active]),
          m.nat(nat, "ConnectionAttemptCount", "Sum", attempts),
          m.nat(nat, "ConnectionEstablishedCount", "Sum",
                [round((v or 0) * ratio(float(m.POINTS - i))) for i, v in enumerate(attempts)]),
          m.nat(nat, "ErrorPortAllocation", "Sum", c.series(_after(62, 0.0, 140.0), 60.0)),
          m.nat(nat, "PacketsDropCount", "Sum", c.series(_after(65, 0.0, 420.0), 90.0)),
          m.nat(nat, "PacketsOutToDestination", "Sum",
                c.series(_after(80, 150_000.0, 410_000.0), 9000.0)),
          m.nat(nat, "PacketsOutToSource", "Sum",
                c.series(_after(80, 210_000.0, 520_000.0), 12000.0)))
    for name, latency, errors in (("web", 1.1, 0.004), ("api", 1.8, 0.07)):
        spec = SPEC[name]
        c.put(m.alb(spec.tg_dim, "RequestCount", "Sum",
                    c.series(_after(80, spec.rpm, spec.rpm * 1.8), spec.rpm * 0.05)),
              m.alb(spec.tg_dim, "TargetResponseTime", "Average",
                    c.series(_after(66, spec.latency_s, latency), latency * 0.1, 0.01)),
              m.alb(spec.tg_dim, "HTTPCode_Target_5XX_Count", "Sum",
                    c.series(_after(64, spec.rpm * 0.0008, spec.rpm * 1.8 * errors), 2.0)),
              m.ecs(name, "CPUUtilization", "Average",
                    c.series(_after(80, spec.cpu_pct, 62.0), 2.0)))


@scenario("egress-route-missing", "egress-route-missing",
          fires("task-subnet-default-route", "web", egress="none"),
          fires("image-registry-unreachable", "web"),
          fires("stopped-task-image-pull", "web", cause="network"),
          services=("web",))
def egress_route_missing(c: Cluster) -> None:
    """A Terraform refactor deleted the 0.0.0.0/0 route of the us-east-1b private route
    table 50 minutes ago. ECR, Logs and Secrets Manager still answer through the VPC
    endpoints, but the storefront image lives on ghcr.io: every web task launched in
    us-east-1b times out pulling it, and web runs 2 of 3 tasks."""
    rt = c.find("route_tables", "RouteTableId", PRIVATE_RTS[1])
    rt["Routes"] = [r for r in rt["Routes"] if r.get("DestinationCidrBlock") != "0.0.0.0/0"]
    web = c.tasks("web")
    c.res["tasks"].remove(next(t for t in web if t["availabilityZone"] == "us-east-1b"))
    c.counts("web", running=2)
    c.targets("web")
    image = SPEC["web"].image
    repo, _, tag = image.rpartition(":")
    path = repo.split("/", 1)[1]
    reason = cut(f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                 f"failed to resolve ref {image}: failed to do request: Head \"https://ghcr.io/v2/"
                 f"{path}/manifests/{tag}\": dial tcp 140.82.112.34:443: i/o timeout")
    for stopped in (47, 31, 14):
        task = c.stopped("web", 1, stopped_min=stopped, uptime_s=None, reason=reason,
                         stop_code="TaskFailedToStart", container_reason=reason)
        task["pullStartedAt"] = b.ago(minutes=stopped + 1.5)
    c.put(m.insights("web", "RunningTaskCount", m.counts(2, ((52, 3),))),
          m.alb(SPEC["web"].tg_dim, "HealthyHostCount", "Average", m.counts(2, ((52, 3),))))


REGISTRY_AUTH = ("ResourceInitializationError: unable to pull secrets or registry auth: "
                 "execution resource retrieval failed: unable to retrieve ecr registry auth: "
                 "service call has been retried 3 time(s): RequestError: send request failed "
                 "caused by: Post \"https://api.ecr.us-east-1.amazonaws.com/\": {why}")


def failing_rollout(c: Cluster, name: str, minutes: float, reason: str,
                     stops: tuple[float, ...]) -> None:
    c.deploy(name, minutes, rollout="IN_PROGRESS", failed=len(stops))
    for i, stopped in enumerate(stops):
        c.stopped(name, i % 3, stopped_min=stopped, uptime_s=None, reason=reason,
                  stop_code="TaskFailedToStart")


@scenario("sg-blocks-egress", "security-group-blocks-egress",
          fires("task-sg-egress-https", "worker"), fires("task-sg-egress-dns", "worker"),
          fires("stopped-task-secrets-pull", "worker", cause="network"))
def sg_blocks_egress(c: Cluster) -> None:
    """A "least privilege" change 35 minutes ago replaced the worker tasks' egress rules
    with PostgreSQL to the VPC only. New worker tasks (the config change deployed with it)
    cannot reach the Secrets Manager endpoint on 443 and stop with
    ResourceInitializationError (context deadline exceeded) before any container starts."""
    sg = c.find("security_groups", "GroupId", task_sg("worker"))
    sg["IpPermissionsEgress"] = [bn.rule("tcp", 5432, cidrs=("10.0.0.0/16",))]
    reason = cut("ResourceInitializationError: unable to pull secrets or registry auth: "
                 "execution resource retrieval failed: unable to retrieve secret from asm: "
                 "service call has been retried 5 time(s): RequestCanceled: request context "
                 "canceled caused by: context deadline exceeded.")
    failing_rollout(c, "worker", 35, reason, (33, 26, 18, 10, 3))


@scenario("vpc-dns-disabled", "vpc-dns-disabled",
          fires("vpc-dns-attributes", "checkout"), fires("vpc-dns-attributes", "web"),
          fires("stopped-task-secrets-pull", "checkout"))
def vpc_dns_disabled(c: Cluster) -> None:
    """While wiring a Route 53 Resolver rule, someone turned enableDnsSupport off on the
    prod VPC 50 minutes ago. Nothing resolves any more: the checkout rollout started since
    cannot even get its ECR credentials ("no such host", cut off by ECS's 255-character
    limit on the reason), and every service is one restart away from the same."""
    c.res["vpcs"][0]["Attributes"]["EnableDnsSupport"] = False
    reason = cut(REGISTRY_AUTH.format(why="dial tcp: lookup api.ecr.us-east-1.amazonaws.com on "
                                          "10.0.0.2:53: no such host"))
    failing_rollout(c, "checkout", 30, reason, (28, 21, 13, 5))


@scenario("missing-vpc-endpoints", "missing-vpc-endpoints",
          fires("vpc-endpoints-behind-nat", "api"), fires("vpc-endpoints-behind-nat", "orders"))
def missing_vpc_endpoints(c: Cluster) -> None:
    """The stack that owned the VPC endpoints was deleted in a clean-up. Everything still
    works, through the NAT gateways: every image layer, secret and log line of every
    service is now NAT data processing, and one NAT failure takes an AZ's pulls down."""
    c.res["vpc_endpoints"] = []
