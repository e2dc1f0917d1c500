"""Can the tasks get out of their subnets to what they need before their containers start?
Default routes, NAT gateways and VPC endpoints, per (service, subnet), read from the VPC
configuration alone so a failure is predicted before a task tries."""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.network import ROUTES
from checks.lib.network.egress import Placed, placed, reaches_internet
from checks.lib.network.endpoints import Need, endpoint_gaps, gap_text, task_needs

FARGATE_NET = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html"


@check(id="task-subnet-default-route", area="network", severity=Severity.CRITICAL,
       title="Task subnets have no working default route", needs=ROUTES, docs=FARGATE_NET,
       emits={"affected_tasks": None, "availability_zone": None, "egress": None,
              "endpoints": None, "isolated_vpc": (True, False), "main_route_table": None,
              "missing_endpoints": None, "route_table": None, "subnet": None, "target": None,
              "via": None, "vpc": None},
       products=("scan", "gate"))  # the gate runs it as if the service ran the candidate
def task_subnet_default_route(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A task subnet's 0.0.0.0/0 route decides whether image pulls, secrets and logs get
    out: the route table is the subnet's explicit association else the VPC main table, a
    NAT gateway must exist and be `available` (public), an internet gateway only carries
    ENIs with a public IP (assignPublicIp on Fargate; never awsvpc tasks on EC2), and a
    blackhole route drops everything. A subnet with no internet path passes only when VPC
    endpoints serve everything its tasks need."""
    for item in placed(facts):
        yield item if isinstance(item, Result) else _route_result(facts, item)


def _route_result(facts: Facts, p: Placed) -> Result:
    if p.egress.kind == "broken":
        return failed(p.subnet_id, f"{p.label}: {p.where}: {p.egress.detail}{p.tasks_text}",
                      service=p.arn, **p.data())
    if reaches_internet(p.egress, p.origin):
        return passed(p.subnet_id, f"{p.label}: {p.where}: {p.egress.detail}", service=p.arn,
                      **p.data())
    if not p.origin.pulls:
        if p.egress.kind == "igw":
            return failed(p.subnet_id, f"{p.label}: {p.where}: awsvpc tasks on EC2 never get a "
                          f"public IP, so the internet gateway route gives them no internet "
                          f"access{p.tasks_text}", service=p.arn, severity=Severity.MEDIUM,
                          **p.data())
        return passed(p.subnet_id, f"{p.label}: {p.where}: no internet route for application "
                      "traffic (images, secrets and logs go through the container instance)",
                      service=p.arn, **p.data())
    needs = task_needs(facts, p.origin.service)
    if needs is None:
        return unknown(p.subnet_id, f"{p.label}: {p.where} {p.no_path_text}; whether VPC "
                       "endpoints make up for it needs the task definition, not in the bundle",
                       service=p.arn, **p.data())
    gaps = endpoint_gaps(facts, needs, p.vpc, p.egress.route_table)
    if not gaps:
        served = ", ".join(sorted({n.endpoint for n in needs})) or "nothing to reach"
        return passed(p.subnet_id, f"{p.label}: {p.where}: no internet route; VPC endpoints "
                      f"serve what the tasks need ({served})", service=p.arn,
                      **p.data(endpoints=sorted({n.service_name for n in needs})))
    missing = gap_text(gaps)
    isolated = _isolated(facts, p)
    design = " (a private VPC: no NAT gateway, no default route)" if isolated else ""
    return failed(p.subnet_id, f"{p.label}: {p.where} {p.no_path_text}{design}, and no VPC "
                  f"endpoint makes up for it: {missing}{p.tasks_text}", service=p.arn,
                  **p.data(missing_endpoints=sorted({n.service_name for n, _ in gaps}),
                           isolated_vpc=isolated))


def _isolated(facts: Facts, p: Placed) -> bool:
    """Private by design: no default route and no NAT gateway in the VPC at all (not even
    a deleted or failed one), so nothing was taken away — VPC endpoints are meant to be
    the only way out, and the fix is the missing endpoint, not a route."""
    if p.egress.kind != "none" or not facts.has("nat_gateways") or p.vpc is None:
        return False
    return not any(n.get("VpcId") == p.vpc for n in facts.items("nat_gateways"))


@check(id="image-registry-unreachable", area="network", severity=Severity.HIGH,
       title="Tasks have no network path to their image registry", needs=ROUTES,
       docs="https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html",
       emits=("affected_tasks", "availability_zone", "egress", "main_route_table", "missing",
              "predicts", "route_table", "subnet", "target", "via", "vpc"),
       products=("scan", "gate"))  # the gate runs it as if the service ran the candidate
def image_registry_unreachable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Predicts CannotPullContainerError before a deployment hits it: without internet
    egress, an ECR image needs the ecr.api and ecr.dkr interface endpoints (private DNS on)
    and S3 (layers live there: a gateway endpoint on the subnet's route table); Docker Hub,
    public.ecr.aws or any other registry needs internet, no endpoint helps."""
    yield from _reachability(facts, {"image-pull-failure"}, "image registry",
                             "image pulls will fail (CannotPullContainerError)")


@check(id="secrets-logs-unreachable", area="network", severity=Severity.HIGH,
       title="Tasks have no path to Secrets Manager, SSM or CloudWatch Logs", needs=ROUTES,
       docs="https://repost.aws/knowledge-center/ecs-fargate-docker-timeout-error",
       emits=("affected_tasks", "availability_zone", "egress", "main_route_table", "missing",
              "predicts", "route_table", "subnet", "target", "via", "vpc"),
       products=("scan", "gate"))  # the gate runs it as if the service ran the candidate
def secrets_logs_unreachable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """`secrets` valueFrom (Secrets Manager or SSM), repositoryCredentials and the awslogs
    driver are resolved before the containers start; without internet egress each needs
    its interface endpoint, or the task stops with ResourceInitializationError."""
    yield from _reachability(facts, {"secrets-pull-failure"}, "Secrets Manager / SSM / Logs",
                             "tasks will stop with ResourceInitializationError before starting")


def _reachability(facts: Facts, kinds: set[str], what: str,
                  consequence: str) -> Iterator[Result]:
    """Per (service, subnet): can the tasks reach the `kinds` of things they need?"""
    said: set[str] = set()
    for item in placed(facts, pulls_only=True):
        if isinstance(item, Result):
            yield item
            continue
        needs = task_needs(facts, item.origin.service)
        mine, asked = _needs_of(facts, item.origin.service, kinds)
        if mine:
            yield _reach_result(facts, item, mine, asked, what, consequence)
        elif item.arn not in said:
            said.add(item.arn)
            yield (unknown(item.arn, f"{item.label}: task definition "
                           f"{item.origin.service.get('taskDefinition')} is not in the bundle",
                           service=item.arn) if needs is None else
                   skipped(item.arn, f"{item.label}: the tasks use no {what}", service=item.arn))


#: What a judgement of needs depends on, need by need: the endpoint and region, and why it
#: is needed only where that is said (a need of the internet is named by its reason).
Asked = tuple[tuple[str, str, str], ...]


def _needs_of(facts: Facts, svc: Item, kinds: set[str]) -> tuple[list[Need], Asked]:
    """The service's needs of `kinds`, and what judging them depends on: once per service,
    which is asked once per origin subnet. Shared: do not change them."""
    def build() -> tuple[list[Need], Asked]:
        mine = [n for n in task_needs(facts, svc) or [] if n.predicts in kinds]
        return mine, tuple((n.endpoint, n.region, n.why if n.endpoint == "internet" else "")
                           for n in mine)
    return facts.memo_of(svc, "routes.needs:" + ",".join(sorted(kinds)), build)


#: (needs' names, the gaps' text, missing endpoints, what they predict); no text when
#: nothing is missing.
Reach = tuple[list[str], str | None, list[str], list[str]]


def _reach(facts: Facts, p: Placed, needs: list[Need], asked: Asked, internet: bool) -> Reach:
    """What the (service, subnet) lacks, judged once per (needs, VPC, route table, internet)
    and analysis: every service with the same images and secrets in the same subnets asks
    the same question. The needs are keyed by `asked`, not by the needs themselves, whose
    reasons name each service's own image and containers though the answer does not read
    them (but for needs of the internet). Shared: copy the lists before handing them out."""
    key = ("routes.reach", asked, p.vpc, p.egress.route_table, internet)

    def judge() -> Reach:
        names = sorted({n.service_name if n.endpoint != "internet" else n.why for n in needs})
        gaps = [] if internet else endpoint_gaps(facts, needs, p.vpc, p.egress.route_table)
        if not gaps:
            return names, None, [], []
        return (names, gap_text(gaps), sorted({n.service_name for n, _ in gaps}),
                sorted({n.predicts for n, _ in gaps}))

    return facts.memo(key, judge)


def _reach_result(facts: Facts, p: Placed, needs: list[Need], asked: Asked, what: str,
                  consequence: str) -> Result:
    internet = reaches_internet(p.egress, p.origin)
    names, reasons, missing, predicts = _reach(facts, p, needs, asked, internet)
    if internet:
        return passed(p.subnet_id, f"{p.label}: {p.where}: {what} reachable ({p.egress.detail})",
                      service=p.arn, **p.data(needs=list(names)))
    if reasons is None:
        return passed(p.subnet_id, f"{p.label}: {p.where}: no internet route; VPC endpoints "
                      f"serve {', '.join(names)}", service=p.arn, **p.data(needs=list(names)))
    return failed(p.subnet_id, f"{p.label}: {p.where} {p.no_path_text}, and {reasons}: "
                  f"{consequence}{p.tasks_text}", service=p.arn,
                  **p.data(needs=list(names), missing=list(missing), predicts=list(predicts)))


@check(id="vpc-endpoints-behind-nat", area="network", severity=Severity.LOW,
       title="Private tasks reach ECR, S3 and Logs only through NAT", needs=ROUTES,
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html",
       emits=("affected_tasks", "availability_zone", "egress", "main_route_table",
              "missing_endpoints", "route_table", "subnet", "target", "via", "vpc"))
def vpc_endpoints_behind_nat(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Through a NAT gateway every image layer and log line is billed as NAT data processing
    and depends on that one gateway; ECR/S3/Logs endpoints take that traffic off it. Cost
    and resilience, not an outage."""
    for item in placed(facts, pulls_only=True):
        if isinstance(item, Result):
            yield item
            continue
        p, needs = item, task_needs(facts, item.origin.service) or []
        wanted = [n for n in needs if n.endpoint != "internet"]
        if p.egress.kind != "nat" or not wanted:
            why = "no AWS service traffic" if not wanted else f"egress is {p.egress.kind}"
            yield skipped(p.subnet_id, f"{p.label}: {p.where}: {why}", service=p.arn)
            continue
        gaps = endpoint_gaps(facts, wanted, p.vpc, p.egress.route_table)
        names = sorted({n.service_name for n, _ in gaps})
        if gaps:
            short = ", ".join(sorted({n.endpoint for n, _ in gaps}))
            yield failed(p.subnet_id, f"{p.label}: {p.where} sends {short} traffic through NAT "
                         f"gateway {p.egress.target} ({gap_text(gaps)})",
                         service=p.arn, **p.data(missing_endpoints=names))
        else:
            yield passed(p.subnet_id, f"{p.label}: {p.where}: VPC endpoints serve ECR/S3/Logs/"
                         "secrets traffic", service=p.arn, **p.data())
