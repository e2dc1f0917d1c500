"""Tasks held back by what sits around them: a sidecar they wait on, hosts pinned at full
CPU, subnets out of addresses, a network ACL, Fargate out of capacity, an account quota."""

from __future__ import annotations

import copy
from collections.abc import Callable

from tests import builders as b
from tests import builders_network as bn
from tests.incidents import _metrics as m
from tests.incidents.healthy import AZS, ECR, INSTANCES, PRIVATE, SPEC
from tests.incidents.scenarios import Cluster, fires, scenario

UNABLE = "(service {name}) was unable to place a task. Reason: {why}"
CAPACITY = ("Capacity is unavailable at this time. Please try again later or in a different "
            "availability zone.")
VCPU_LIMIT = "You’ve reached the limit on the number of vCPUs you can run concurrently"
NO_ADDRESS = ("Unexpected EC2 error while attempting to Create Network Interface in subnet "
              "'{subnet}': InsufficientFreeAddressesInSubnet")


def step(before: float, after: float, since: float, ramp: float) -> Callable[[float], float]:
    """before → after, starting `since` minutes ago over `ramp` minutes."""
    def f(mins: float) -> float:
        if mins >= since:
            return before
        return before + (after - before) * min(1.0, (since - mins) / ramp)
    return f


@scenario("sidecar-dependency", "sidecar-dependency-failure",
          fires("stopped-task-dependency-unmet", "api", condition="SUCCESS"),
          fires("stopped-task-app-exit", "api"), services=("api",),
          summary_has=("db-migrate",))
def sidecar_dependency(c: Cluster) -> None:
    """api 2.32.0 (api:113, 24 minutes ago) adds a db-migrate init container that the api
    container waits on (dependsOn SUCCESS). The migration finds a lock left by last
    night's aborted run and exits 1 every time, so the api container never starts: six
    tasks stopped in a row, and the three api:112 tasks keep serving."""
    td = c.td("api")
    migrate = {"name": "db-migrate", "image": f"{ECR}/api-migrate:2.32.0", "essential": False,
               "cpu": 128, "memory": 256, "command": ["migrate", "up"]}
    containers = [*copy.deepcopy(td["containerDefinitions"]), migrate]
    next(x for x in containers if x["name"] == "api")["dependsOn"] = [
        {"containerName": "db-migrate", "condition": "SUCCESS"}]
    c.deploy("api", 24, rollout="IN_PROGRESS", failed=6, image=f"{ECR}/api:2.32.0",
             td={"containerDefinitions": containers})
    for i, stopped in enumerate((22, 19, 15, 11, 7, 3)):
        task = c.stopped("api", i % 3, stopped_min=stopped, uptime_s=40,
                         reason="Essential container in task exited")
        task["containers"] = [
            b.shaped("ecs", "Container", {"name": "api", "image": f"{ECR}/api:2.32.0",
                                          "lastStatus": "STOPPED"}),
            b.shaped("ecs", "Container", {"name": "db-migrate", "lastStatus": "STOPPED",
                                          "image": str(migrate["image"]), "exitCode": 1})]
    c.event("api", "(service api) is unable to consistently start tasks successfully. For more "
            "information, see the Troubleshooting section.", 6)


@scenario("host-cpu-saturation", "host-cpu-saturation",
          fires("instance-cpu-saturated", "orders", scope="service"),
          fires("instance-cpu-saturated", "reports", scope="service"),
          fires("target-response-time-high", "orders"))
def host_cpu_saturation(c: Cluster) -> None:
    """reports 1.10.0 renders month-end PDFs with a new library that spins every core it
    finds: a container's cpu on EC2 is a share, not a cap, so from 80 minutes ago the two
    m5.large hosts that run reports sit at ~97% CPU. orders tasks on those hosts stay
    within their own reservation, yet their responses slow from 90 ms to over a second."""
    reports_hosts_cpu(c, step(31, 97, 80, 5))
    c.put(m.ecs("reports", "CPUUtilization", "Average", c.series(step(22, 96, 80, 5), 1.5)),
          m.ecs("orders", "CPUUtilization", "Average", c.series(step(40, 62, 80, 5), 2.0)),
          m.alb(SPEC["orders"].tg_dim, "TargetResponseTime", "Average",
                c.series(step(0.09, 1.3, 78, 6), 0.08, 0.01)))


def reports_hosts_cpu(c: Cluster, f: Callable[[float], float]) -> None:
    """AWS/EC2 CPUUtilization of the hosts that run reports, from f(minutes ago)."""
    for i in SPEC["reports"].hosts:
        c.put(m.ec2(INSTANCES[i], "CPUUtilization", "Average", c.series(f, 1.0)))


@scenario("subnet-ip-exhaustion", "subnet-ip-exhaustion",
          fires("task-subnets-free-ips", "web", kind="blocked"),
          fires("stopped-task-start-failure", "web", cause="eni"), services=("web",))
def subnet_ip_exhaustion(c: Cluster) -> None:
    """A data team's Lambda functions were attached to the prod private subnets last week,
    and tonight's backfill fanned them out to hundreds of network interfaces: the three /24
    subnets have 3 free addresses between them. web's policy scaled it from 3 to 8 tasks 25
    minutes ago; every new task stops before its containers start, unable to create its
    network interface."""
    for sid, free in zip(PRIVATE, (0, 2, 1), strict=True):
        c.find("subnets", "SubnetId", sid)["AvailableIpAddressCount"] = free
    c.scale("web", 8, 3, 25)
    for i, stopped in enumerate((23, 19, 16, 12, 9, 5)):
        reason = NO_ADDRESS.format(subnet=PRIVATE[i % 3])
        c.stopped("web", i % 3, stopped_min=stopped, uptime_s=None, reason=reason,
                  stop_code="TaskFailedToStart")


@scenario("nacl-blocks-traffic", "nacl-blocks-traffic",
          fires("nacl-blocks-task-egress", "web"),
          fires("nacl-blocks-task-egress", "checkout"),
          fires("stopped-task-image-pull", "web", cause="network"),
          services=("web", "checkout"), min_services=3)
def nacl_blocks_traffic(c: Cluster) -> None:
    """A network hardening change 40 minutes ago gave the us-east-1b private subnet its own
    ACL: inbound it admits only the load balancer on 8080 from the VPC. Outbound is open,
    but the replies to the tasks' HTTPS calls come back to ephemeral ports that the ACL now
    drops: every web task launched in us-east-1b times out pulling its image from ghcr.io,
    and web runs 2 of 3 tasks. Routes and security groups are unchanged."""
    acl = "acl-0b7e3d1f5a9c24680"
    inbound = [bn.acl_entry(100, egress=False, proto="6", cidr="10.0.0.0/16",
                            ports=(8080, 8080)),
               bn.acl_entry(32767, "deny", egress=False)]
    outbound = [bn.acl_entry(100, egress=True), bn.acl_entry(32767, "deny", egress=True)]
    default = c.res["network_acls"][0]
    default["Associations"] = [a for a in default["Associations"] if a["SubnetId"] != PRIVATE[1]]
    c.res["network_acls"].append(bn.network_acl(acl, inbound + outbound, (PRIVATE[1],)))
    web = c.tasks("web")
    c.res["tasks"].remove(next(t for t in web if t["availabilityZone"] == AZS[1]))
    c.counts("web", running=2)
    c.targets("web")
    image = SPEC["web"].image
    repo, _, tag = image.rpartition(":")
    reason = (f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
              f"failed to resolve ref {image}: failed to do request: Head \"https://ghcr.io/v2/"
              f"{repo.split('/', 1)[1]}/manifests/{tag}\": dial tcp 140.82.112.34:443: i/o "
              "timeout")[:252] + "..."
    for stopped in (37, 24, 11):
        task = c.stopped("web", 1, stopped_min=stopped, uptime_s=None, reason=reason,
                         stop_code="TaskFailedToStart", container_reason=reason)
        task["pullStartedAt"] = b.ago(minutes=stopped + 1.5)
    c.put(m.insights("web", "RunningTaskCount", m.counts(2, ((42, 3),))),
          m.alb(SPEC["web"].tg_dim, "HealthyHostCount", "Average", m.counts(2, ((42, 3),))))


@scenario("fargate-capacity-unavailable", "fargate-capacity-unavailable",
          fires("service-fargate-capacity-unavailable", "worker", spot=True),
          fires("service-running-below-desired", "worker"), services=("worker",))
def fargate_capacity_unavailable(c: Cluster) -> None:
    """worker moved to Fargate Spot last week to cut cost, with no On-Demand base. For the
    nightly backlog it was scaled to 6 tasks 30 minutes ago; Spot has no capacity for its
    size in the three zones, so 2 tasks run and ECS keeps reporting that capacity is
    unavailable."""
    svc = c.service("worker")
    svc.pop("launchType", None)
    spot = [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    svc["capacityProviderStrategy"] = spot
    for dep in svc["deployments"]:
        dep.pop("launchType", None)
        dep["capacityProviderStrategy"] = spot
    for task in c.tasks("worker", None):
        task["capacityProviderName"] = "FARGATE_SPOT"
    c.scale("worker", 6, 2, 30)
    for minutes in (28, 19, 8):
        c.event("worker", UNABLE.format(name="worker", why=CAPACITY), minutes)


@scenario("service-quota-reached", "service-quota-reached",
          fires("service-quota-blocks-tasks", "api", reasons="vcpu-limit"),
          fires("service-running-below-desired", "api"), services=("api",))
def service_quota_reached(c: Cluster) -> None:
    """A load test in the same account and Region started 200 one-vCPU Fargate tasks an hour
    ago and is still running. When api's policy scaled it from 3 to 7 tasks 20 minutes
    ago, the account's Fargate On-Demand vCPU quota was already used up: ECS places no new
    api task and says why in the service events."""
    c.scale("api", 7, 3, 20)
    for minutes in (19, 13, 6):
        c.event("api", UNABLE.format(name="api", why=VCPU_LIMIT), minutes)

