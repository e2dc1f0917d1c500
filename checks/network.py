"""Network-path checks: can the tasks reach what they need, and can the load balancer reach
the tasks? Evaluated from the VPC configuration alone (routes, NAT gateways, endpoints,
security groups, network ACLs), so they predict failures before a task tries.

Each result is per (service, subnet) or per (service, target group, load balancer); the
helpers live in checks/_net_*.py (rule evaluators, origins, flows).
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks._net_checks import dns_results, egress_sg_result, open_ingress_results, reachability
from checks._net_flows import egress_flows, evaluate
from checks._net_lb import client_ephemeral, security_groups
from checks._net_lbchecks import (
    lb_az_results,
    lb_nacl_results,
    lb_sg_results,
    target_health_results,
)
from checks._net_paths import (
    endpoint_for,
    endpoint_gaps,
    gap_text,
    reaches_internet,
    subnet_item,
    task_needs,
)
from checks._net_placed import Placed, placed
from checks._net_rules import sg_admits_any, strs

NET = ("services", "tasks", "task_definitions", "subnets")
ROUTES = (*NET, "route_tables", "nat_gateways", "vpc_endpoints")
LB = (*NET, "load_balancers", "target_groups")
FARGATE_NET = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html"


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
    return failed(p.subnet_id, f"{p.label}: {p.where} {p.no_path_text}, and no VPC endpoint "
                  f"makes up for it: {missing}{p.tasks_text}", service=p.arn,
                  **p.data(missing_endpoints=sorted({n.service_name for n, _ in gaps})))


@check(id="task-subnet-default-route", area="network", severity=Severity.CRITICAL,
       title="Task subnets have no working default route", needs=ROUTES, docs=FARGATE_NET)
def task_subnet_default_route(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A task subnet's 0.0.0.0/0 route decides whether image pulls, secrets and logs get
    out: the route table is the subnet's explicit association else the VPC main table, a
    NAT gateway must exist and be `available` (public), an internet gateway only carries
    ENIs with a public IP (assignPublicIp on Fargate; never awsvpc tasks on EC2), and a
    blackhole route drops everything. A subnet with no internet path passes only when VPC
    endpoints serve everything its tasks need."""
    for item in placed(facts):
        yield item if isinstance(item, Result) else _route_result(facts, item)


@check(id="image-registry-unreachable", area="network", severity=Severity.HIGH,
       title="Tasks have no network path to their image registry", needs=ROUTES,
       docs="https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html")
def image_registry_unreachable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Predicts CannotPullContainerError before a deployment hits it: without internet
    egress, an ECR image needs the ecr.api and ecr.dkr interface endpoints (private DNS on)
    and S3 (layers live there: a gateway endpoint on the subnet's route table); Docker Hub,
    public.ecr.aws or any other registry needs internet, no endpoint helps."""
    yield from reachability(facts, {"image-pull-failure"}, "image registry",
                            "image pulls will fail (CannotPullContainerError)")


@check(id="secrets-logs-unreachable", area="network", severity=Severity.HIGH,
       title="Tasks have no path to Secrets Manager, SSM or CloudWatch Logs", needs=ROUTES,
       docs="https://repost.aws/knowledge-center/ecs-fargate-docker-timeout-error")
def secrets_logs_unreachable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """`secrets` valueFrom (Secrets Manager or SSM), repositoryCredentials and the awslogs
    driver are resolved before the containers start; without internet egress each needs
    its interface endpoint, or the task stops with ResourceInitializationError."""
    yield from reachability(facts, {"secrets-pull-failure"}, "Secrets Manager / SSM / Logs",
                            "tasks will stop with ResourceInitializationError before starting")


@check(id="vpc-endpoints-behind-nat", area="network", severity=Severity.LOW,
       title="Private tasks reach ECR, S3 and Logs only through NAT", needs=ROUTES,
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html")
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


@check(id="vpc-dns-attributes", area="network", severity=Severity.HIGH,
       title="VPC DNS support or hostnames off where tasks need them",
       needs=(*NET, "vpcs", "vpc_endpoints"),
       docs="https://docs.aws.amazon.com/vpc/latest/userguide/AmazonDNS-concepts.html")
def vpc_dns_attributes(facts: Facts, prior: Prior) -> Iterator[Result]:
    """With enableDnsSupport off the Amazon DNS server does not answer, so no registry or
    AWS API name resolves; interface endpoints' private DNS names need both enableDnsSupport
    and enableDnsHostnames, else the names resolve to public addresses that a private
    subnet cannot reach."""
    yield from dns_results(facts)


@check(id="lb-to-task-security-group", area="network", severity=Severity.HIGH,
       title="Task security groups do not admit the load balancer", needs=(*LB, "security_groups"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-considerations.html")
def lb_to_task_security_group(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The targets' security groups must admit the load balancer on the traffic and
    health-check ports — the container port for target type ip (awsvpc), the host port or
    the dynamic range 32768-60999 for bridge — by referencing the LB's group or a CIDR that
    covers its subnets; the LB's own egress must allow the same. Otherwise health checks
    time out and ECS replaces healthy tasks in a loop. Bridge/host services read the
    container instances' groups (container_instances, ec2_instances) when collected."""
    yield from lb_sg_results(facts)


@check(id="task-sg-egress-https", area="network", severity=Severity.HIGH,
       title="Task security groups block HTTPS the tasks need",
       needs=(*ROUTES, "security_groups"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html")
def task_sg_egress_https(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Image pulls, secrets and awslogs are HTTPS (tcp/443) from the ENI that carries them:
    to the internet through NAT, to an interface endpoint's addresses or group, or to S3
    through a gateway endpoint (its prefix list). A restricted egress list that misses one
    of them fails the task at start even though routes are right."""
    for item in placed(facts, pulls_only=True):
        yield item if isinstance(item, Result) else egress_sg_result(facts, item)


@check(id="task-sg-egress-dns", area="network", severity=Severity.LOW,
       title="Task security groups block DNS out", needs=(*NET, "security_groups"),
       docs="https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html")
def task_sg_egress_dns(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Security groups do not filter traffic to the Amazon DNS server, so an egress list
    without port 53 is harmless with the default DHCP options — and breaks every lookup
    when the VPC's DHCP options point at your own DNS servers. Low severity for that."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for item in placed(facts, with_egress=False):
        if isinstance(item, Result):
            yield item
            continue
        key = (item.arn, item.origin.groups)
        if key in seen or not item.origin.groups:
            continue
        seen.add(key)
        groups, absent = security_groups(facts, list(item.origin.groups))
        ids = ", ".join(item.origin.groups)
        if absent:
            yield unknown(ids, f"{item.label}: groups {', '.join(absent)} not in the bundle",
                          service=item.arn)
            continue
        closed = [p for p in ("udp", "tcp") if not sg_admits_any(
            groups, egress=True, proto=p, ports=(53, 53))]
        data = item.data(security_groups=list(item.origin.groups), dns_blocked=closed)
        if closed:
            yield failed(ids, f"{item.label}: egress of {ids} allows no DNS ({'+'.join(closed)}"
                         "/53): fine with the Amazon DNS server, which security groups do not "
                         "filter; breaks name resolution with custom DNS servers",
                         service=item.arn, **data)
        else:
            yield passed(ids, f"{item.label}: egress of {ids} allows DNS (53)", service=item.arn,
                         **data)


@check(id="security-group-open-admin-ports", area="network", severity=Severity.HIGH,
       title="Task security groups open admin ports to the internet",
       needs=(*NET, "security_groups"),
       docs="https://docs.aws.amazon.com/securityhub/latest/userguide/ec2-controls.html")
def security_group_open_admin_ports(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Ingress from 0.0.0.0/0 or ::/0 on all traffic, or on SSH, RDP, the Docker API, or
    database ports, exposes the tasks (or their hosts) to the whole internet. Data ports
    of the application itself are not flagged."""
    yield from open_ingress_results(facts)


@check(id="nacl-blocks-lb-traffic", area="network", severity=Severity.HIGH,
       title="Network ACLs drop load balancer traffic to the tasks",
       needs=(*LB, "network_acls"),
       docs="https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html")
def nacl_blocks_lb_traffic(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Network ACLs are stateless and first-match: between the LB subnets and the task
    subnets the target port must be allowed one way and the LB's ephemeral ports
    (1024-65535) the other way, in both subnets' ACLs, before the final `*` deny."""
    yield from lb_nacl_results(facts)


@check(id="nacl-blocks-task-egress", area="network", severity=Severity.HIGH,
       title="Network ACLs drop the tasks' HTTPS or its replies",
       needs=(*ROUTES, "network_acls"),
       docs="https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html")
def nacl_blocks_task_egress(facts: Facts, prior: Prior) -> Iterator[Result]:
    """An outbound 443 allow is not enough: the replies come back to the task's ephemeral
    ports (32768-60999 Linux, 49152-65535 Windows) and must be allowed inbound; on the NAT
    gateway's subnet its own ports (1024-65535) too. A missing return rule looks exactly
    like a missing route: pulls time out."""
    for item in placed(facts):
        if isinstance(item, Result):
            yield item
            continue
        yield _nacl_egress_result(facts, item)


def _endpoint_subnets(facts: Facts, p: Placed) -> list[str]:
    needs = [n for n in task_needs(facts, p.origin.service) or [] if n.endpoint != "internet"]
    subnets: set[str] = set()
    for need in needs if p.origin.pulls else []:
        ep, _ = endpoint_for(facts, need, p.vpc, p.egress.route_table)
        if ep and ep.get("VpcEndpointType") == "Interface":
            subnets.update(strs(ep.get("SubnetIds")))
    return sorted(subnets)


def _nacl_egress_result(facts: Facts, p: Placed) -> Result:
    internet = reaches_internet(p.egress, p.origin)
    reply, family = client_ephemeral(facts, p.origin.service)
    flows = egress_flows(facts, p.origin, p.egress, reply, _endpoint_subnets(facts, p), internet)
    if not flows:
        return skipped(p.subnet_id, f"{p.label}: {p.where}: no path out to evaluate",
                       service=p.arn)
    problems, acls, unknowns = evaluate(facts, flows)
    nat = facts.lookup("nat_gateways", "NatGatewayId", p.egress.target) if internet and (
        p.egress.kind == "nat") else None
    nat_subnet = str((nat or {}).get("SubnetId") or "")
    blind = [nat_subnet] if nat_subnet and subnet_item(facts, nat_subnet) is None else []
    data = p.data(network_acls=acls, problems=problems, reply_ports=list(reply),
                  not_evaluated=blind)
    if problems:
        return failed(p.subnet_id, f"{p.label}: {p.where}: {problems[0]}" + (
            f" (+{len(problems) - 1} more)" if len(problems) > 1 else "") + p.tasks_text,
            service=p.arn, **data)
    if unknowns:
        return unknown(p.subnet_id, f"{p.label}: {p.where}: {unknowns[0]}", service=p.arn,
                       **data)
    note = f" (NAT gateway subnet {blind[0]} not in the bundle: its ACL not checked)" if (
        blind) else ""
    return passed(p.subnet_id, f"{p.label}: {p.where}: network ACLs {', '.join(acls)} allow "
                  f"HTTPS out and replies to {family} ephemeral ports{note}", service=p.arn,
                  **data)


@check(id="lb-az-coverage", area="network", severity=Severity.MEDIUM,
       title="Tasks run in AZs the load balancer does not serve", needs=LB,
       docs="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-subnets.html")
def lb_az_coverage(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A load balancer routes only to targets in Availability Zones it is enabled in;
    tasks placed in other AZs register but never receive traffic (Target.NotInUse) while
    the service counts them as running."""
    yield from lb_az_results(facts)


@check(id="lb-target-health", area="network", severity=Severity.HIGH,
       title="Load balancer targets of the service are unhealthy",
       needs=("services", "target_health"),
       after=("lb-az-coverage", "lb-to-task-security-group", "nacl-blocks-lb-traffic"),
       docs="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html")
def lb_target_health(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The target group's own verdict, reason by reason (Target.Timeout, ResponseCodeMismatch,
    FailedHealthChecks, NotInUse, …) with the ELB's descriptions; the upstream network
    findings for the same service are named as likely causes."""
    causes: dict[str, list[str]] = {}
    for check_id in ("lb-to-task-security-group", "nacl-blocks-lb-traffic", "lb-az-coverage"):
        for svc in prior.failed_services(check_id):
            causes.setdefault(svc, []).append(check_id)
    yield from target_health_results(facts, causes)

