"""Incidents whose remediation commands are easy to get wrong when pasted: services with two
security groups (behind a load balancer with two), a Fargate service in public subnets with
public IPs, a subnet left on the VPC's main route table, an image pinned by digest, an ECR
pull that fails for a reason ECS does not explain. tests/test_remediation_commands.py reads
their reports against botocore's service model and against the bundle itself."""

from __future__ import annotations

from tests import builders as b
from tests import builders_network as bn
from tests.incidents.healthy import AZS, ECR, MAIN_RT, PRIVATE, PRIVATE_RTS, PUBLIC, Item, task_sg
from tests.incidents.s_capacity2 import NO_ADDRESS
from tests.incidents.s_network import failing_rollout
from tests.incidents.s_start import START_FAILURES, cut
from tests.incidents.scenarios import Cluster, fires, scenario

#: A second group on the worker and checkout tasks (shared "monitoring" rules), and a
#: second one on the load balancer (the WAF team's).
EXTRA_TASK_SG, EXTRA_ALB_SG = "sg-0c4d5e6f7a8b90c03", "sg-0d5e6f7a8b9c01d04"
DIGEST = "sha256:" + "4f1c9e2a7b3d5c8e" * 4


def _add_group(c: Cluster, service: str, group: str, ingress: list[Item] | None = None,
               egress: list[Item] | None = None) -> None:
    """`group` joins the service's task security groups (service and running tasks)."""
    c.res["security_groups"].append(bn.security_group(group, f"prod-{service}-extra",
                                                      ingress or [], egress))
    conf = c.service(service)["networkConfiguration"]["awsvpcConfiguration"]
    conf["securityGroups"] = [*conf["securityGroups"], group]


@scenario("two-groups-block-egress", "security-group-blocks-egress",
          fires("task-sg-egress-https", "worker"),
          fires("stopped-task-secrets-pull", "worker", cause="network"))
def two_groups_block_egress(c: Cluster) -> None:
    """The worker tasks carry two security groups, their own and a shared monitoring
    group. A "least privilege" change 35 minutes ago left both with PostgreSQL-only egress:
    new worker tasks cannot reach the Secrets Manager endpoint and stop before starting."""
    only_db = [bn.rule("tcp", 5432, cidrs=("10.0.0.0/16",))]
    c.find("security_groups", "GroupId", task_sg("worker"))["IpPermissionsEgress"] = only_db
    _add_group(c, "worker", EXTRA_TASK_SG, egress=list(only_db))
    reason = cut("ResourceInitializationError: unable to pull secrets or registry auth: "
                 "execution resource retrieval failed: unable to retrieve secret from asm: "
                 "service call has been retried 5 time(s): RequestCanceled: request context "
                 "canceled caused by: context deadline exceeded.")
    failing_rollout(c, "worker", 35, reason, (33, 26, 18, 10, 3))


@scenario("two-groups-block-lb", "security-group-blocks-lb",
          fires("lb-to-task-security-group", "checkout"))
def two_groups_block_lb(c: Cluster) -> None:
    """The ALB carries two security groups (its own and the WAF team's) and the checkout
    tasks two (their own and a monitoring group). A rule clean-up 20 minutes ago removed the
    ALB's admission on 8080 from the checkout group: health checks time out."""
    c.find("security_groups", "GroupId", task_sg("checkout"))["IpPermissions"] = []
    _add_group(c, "checkout", EXTRA_TASK_SG, [bn.rule("tcp", 9100, cidrs=("10.0.0.0/16",))])
    c.res["security_groups"].append(bn.security_group(EXTRA_ALB_SG, "prod-alb-waf", []))
    lb = c.res["load_balancers"][0]
    lb["SecurityGroups"] = [*lb["SecurityGroups"], EXTRA_ALB_SG]
    c.targets("checkout", [("unhealthy", "Target.Timeout", "Request timed out")] * 2)


@scenario("public-subnets-full", "subnet-ip-exhaustion",
          fires("task-subnets-free-ips", "web", kind="blocked"), services=("web",))
def public_subnets_full(c: Cluster) -> None:
    """web runs in the public subnets with public IPs (assignPublicIp ENABLED, no NAT
    gateway on its path). A load test's instances took the public subnets' addresses:
    3 left between them, and web's scale-out from 3 to 8 tasks 25 minutes ago stalls."""
    conf = c.service("web")["networkConfiguration"]["awsvpcConfiguration"]
    conf.update(subnets=list(PUBLIC), assignPublicIp="ENABLED")
    for task in c.tasks("web", None):
        for att in task.get("attachments", []):
            for d in att["details"]:
                if d["name"] == "subnetId":
                    d["value"] = PUBLIC[PRIVATE.index(d["value"])]
    for sid, free in zip(PUBLIC, (0, 2, 1), strict=True):
        c.find("subnets", "SubnetId", sid)["AvailableIpAddressCount"] = free
    c.scale("web", 8, 3, 25)
    for i, stopped in enumerate((23, 19, 16, 12, 9, 5)):
        c.stopped("web", i % 3, stopped_min=stopped, uptime_s=None,
                  reason=NO_ADDRESS.format(subnet=PUBLIC[i % 3]), stop_code="TaskFailedToStart")


@scenario("main-route-table", "egress-route-missing",
          fires("task-subnet-default-route", "web", egress="none"),
          fires("stopped-task-image-pull", "web", cause="network"), services=("web",))
def main_route_table(c: Cluster) -> None:
    """A Terraform refactor dropped the association of the us-east-1b private subnet 50
    minutes ago: the subnet fell back to the VPC's main route table, which has no default
    route. Every web task launched there times out pulling its image from ghcr.io."""
    rt = c.find("route_tables", "RouteTableId", PRIVATE_RTS[1])
    rt["Associations"] = [a for a in rt["Associations"] if a.get("SubnetId") != PRIVATE[1]]
    assert c.find("route_tables", "RouteTableId", MAIN_RT)["Routes"][-1].get(
        "DestinationCidrBlock") != "0.0.0.0/0"
    web = c.tasks("web")
    c.res["tasks"].remove(next(t for t in web if t["availabilityZone"] == AZS[1]))
    c.counts("web", running=2)
    c.targets("web")
    image = str(c.ctr("web")["image"])
    reason = cut(f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                 f"failed to resolve ref {image}: failed to do request: Head \"https://ghcr.io/"
                 "v2/acme-corp/storefront/manifests/4.12.0\": dial tcp 140.82.112.34:443: i/o "
                 "timeout")
    for stopped in (47, 31, 14):
        c.stopped("web", 1, stopped_min=stopped, uptime_s=None, reason=reason,
                  stop_code="TaskFailedToStart", container_reason=reason)


@scenario("digest-not-found", "image-pull-failure",
          fires("stopped-task-image-pull", "checkout", cause="not-found"))
def digest_not_found(c: Cluster) -> None:
    """checkout:42 (18 minutes ago) pins its image by digest; the pipeline wrote the digest
    of an image it then failed to push, so ECR has no such manifest and every new task stops
    with CannotPullContainerError. The checkout:41 tasks keep serving."""
    image = f"{ECR}/checkout@{DIGEST}"
    c.deploy("checkout", 18, rollout="IN_PROGRESS", failed=4, image=image)
    reason = cut(f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                 f"failed to resolve ref {image}: {image}: not found")
    for i, stopped in enumerate((16, 12, 8, 4)):
        c.stopped("checkout", i % 3, stopped_min=stopped, uptime_s=None, reason=reason,
                  stop_code="TaskFailedToStart", container_reason=reason)
    c.event("checkout", START_FAILURES.format(name="checkout"), 6)


@scenario("ecr-pull-unexplained", "image-pull-failure",
          fires("stopped-task-image-pull", "api", cause="other"))
def ecr_pull_unexplained(c: Cluster) -> None:
    """api 2.32.0 (api:113, 15 minutes ago) was built by a new pipeline step whose image
    the Fargate agent cannot unpack; ECS says only that the pull failed. The api:112 tasks
    keep serving."""
    image = f"{ECR}/api:2.32.0"
    c.deploy("api", 15, rollout="IN_PROGRESS", failed=3, image=image)
    reason = cut(f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                 f"failed to unpack image on snapshotter overlayfs: {image}: unexpected media "
                 "type text/html")
    for i, stopped in enumerate((13, 9, 5)):
        task = c.stopped("api", i % 3, stopped_min=stopped, uptime_s=None, reason=reason,
                         stop_code="TaskFailedToStart", container_reason=reason)
        task["pullStartedAt"] = b.ago(minutes=stopped + 0.5)
    c.event("api", START_FAILURES.format(name="api"), 5)
