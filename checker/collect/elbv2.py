"""Elastic Load Balancing v2 → load_balancers, target_groups, target_health (CONTRACTS.md §1)
and load_balancer_attributes.

Only what the scanned services route through: the target groups their ``loadBalancers``
(and their task sets', for blue/green) name, the load balancers those target groups are
attached to, and the health of each target group's targets. The call plan (AWS-FACTS.md §1c,
§9): DescribeTargetGroups by 20 ARNs, DescribeLoadBalancers by 20 ARNs, then one
DescribeTargetHealth per target group (it takes a single ARN). All share the account-wide
ELB bucket of 40 tokens refilled at 10/s (§2c), which the adaptive retries pace.

DescribeTargetGroups also takes one ``LoadBalancerArn`` and then answers every target group
of that load balancer, 400 a page: one call where ARN batches take 20. Which load balancers
carry the referenced groups is only known once some are described, so the first batch of 20
goes by ARN; a load balancer that carries a share of that batch large enough that, for the
groups still to read, it should cover more than a batch (more than 20 expected) is then
read whole, and only the groups no such load balancer answered go by ARN. Groups of those
load balancers that no scanned service references are dropped.

Two API traps shape the code. The ARN filters accept no more than 20 ARNs (DescribeLoadBalancers
documents it; DescribeTargetGroups has no model limit but answers "You cannot describe more
than '20' target groups at a time", ansible-collections/amazon.aws#1593). And one unknown ARN
fails the whole call (TargetGroupNotFound / LoadBalancerNotFound): a service still pointing
at a deleted target group must not hide its 19 batch-mates, so such a batch is retried one
ARN at a time and the missing one is left out (a check can see a service naming a target
group that is not in ``target_groups``). ELB pages with ``Marker``/``NextMarker``, not
``NextToken``, so the page loop is written here.

``load_balancer_attributes`` holds, per Application Load Balancer, DescribeLoadBalancerAttributes'
answer as ``{"LoadBalancerArn", "Attributes": [{"Key", "Value"}]}``: the idle timeout
(``idle_timeout.timeout_seconds``) that, longer than a target's keep-alive, turns reused
connections into 502s. One call per ALB (the API takes one ARN); which load balancers are ALBs
is read from the target groups' ``LoadBalancerArns`` (``loadbalancer/app/…``), so these calls
go out with DescribeLoadBalancers, in the same round. Budget: :data:`ATTRIBUTE_BUDGET` ALBs a
scan; past it a ``"level": "warning"`` entry says how many were left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from checker.collect.aws import Context, Item, batched, iam_action

#: Every ELBv2 action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
})

PAGE_SIZE = 400  # DescribeTargetGroups / DescribeLoadBalancers PageSize maximum
ARN_BATCH = 20  # ARNs per DescribeTargetGroups / DescribeLoadBalancers call
ATTRIBUTES = "load_balancer_attributes"
#: Application Load Balancers whose attributes a scan reads (one call each).
ATTRIBUTE_BUDGET = 50
TRUNCATED = "Truncated"

Job = Callable[[], list[Any]]


@dataclass(frozen=True)
class DescribePlan:
    """A describe filtered by ARNs: its collection, parameter, result key, batch size and the
    error code AWS answers when one of the ARNs does not exist."""

    collection: str
    op: str
    param: str
    key: str
    batch: int
    not_found: str


DESCRIBE_TARGET_GROUPS = DescribePlan("target_groups", "describe_target_groups",
                                      "TargetGroupArns", "TargetGroups", ARN_BATCH,
                                      "TargetGroupNotFound")
DESCRIBE_LOAD_BALANCERS = DescribePlan("load_balancers", "describe_load_balancers",
                                       "LoadBalancerArns", "LoadBalancers", ARN_BATCH,
                                       "LoadBalancerNotFound")


def collect_elbv2(ctx: Context) -> None:
    """Fill target_groups, load_balancers, target_health and load_balancer_attributes in
    ``ctx.resources`` for the target groups of the services the ECS collector stored."""
    referenced = target_group_arns(ctx.resources.get("services", []))
    groups = ctx.store("target_groups", describe_target_groups(ctx, referenced),
                       "TargetGroupArn")
    lb_arns = sorted({arn for g in groups for arn in g.get("LoadBalancerArns", []) or []})
    jobs: list[tuple[str, Job]] = describe_jobs(ctx, DESCRIBE_LOAD_BALANCERS, lb_arns)
    jobs += [("target_health", partial(describe_target_health, ctx, arn))
             for arn in health_arns(ctx, referenced, groups)]
    jobs += [(ATTRIBUTES, partial(describe_attributes, ctx, arn))
             for arn in attribute_arns(ctx, lb_arns)]
    found = ctx.gather(jobs)
    ctx.store("load_balancers", found.get("load_balancers", []), "LoadBalancerArn")
    ctx.store("target_health", found.get("target_health", []), "TargetGroupArn")
    if not ctx.recorder.failed("target_groups"):
        ctx.store(ATTRIBUTES, found.get(ATTRIBUTES, []), "LoadBalancerArn")


def is_alb(lb_arn: str) -> bool:
    """``…:loadbalancer/app/name/id``: an Application Load Balancer (``net/``, ``gwy/``: not)."""
    return lb_arn.rsplit(":", 1)[-1].startswith("loadbalancer/app/")


def attribute_arns(ctx: Context, lb_arns: list[str]) -> list[str]:
    """The ALBs whose attributes to read, at most ATTRIBUTE_BUDGET (in ARN order)."""
    albs = [a for a in lb_arns if is_alb(a)]
    if len(albs) > ATTRIBUTE_BUDGET:
        left = len(albs) - ATTRIBUTE_BUDGET
        ctx.recorder.add({
            "collection": ATTRIBUTES,
            "operation": "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "code": TRUNCATED, "level": "warning", "count": left,
            "message": f"{left} load balancer(s) not read: the budget of {ATTRIBUTE_BUDGET} "
                       "Application Load Balancers a scan ran out (in ARN order)"})
    return albs[:ATTRIBUTE_BUDGET]


def describe_attributes(ctx: Context, arn: str) -> list[Item]:
    """One ALB's attributes as the bundle's ``{"LoadBalancerArn", "Attributes"}`` item;
    nothing if it was deleted meanwhile."""
    pages = fetch(ctx, ATTRIBUTES, "describe_load_balancer_attributes", resource_name(arn),
                  "LoadBalancerNotFound", LoadBalancerArn=arn)
    if not pages:
        return []
    return [{"LoadBalancerArn": arn,
             "Attributes": [a for page in pages for a in page.get("Attributes", [])]}]


def target_group_arns(services: Iterable[Item]) -> list[str]:
    """Every target group a service or one of its task sets (CODE_DEPLOY / EXTERNAL
    deployments keep theirs there) routes to; classic load balancers have none."""
    arns: set[str] = set()
    for service in services:
        for owner in (service, *(service.get("taskSets", []) or [])):
            arns.update(lb.get("targetGroupArn", "") for lb in owner.get("loadBalancers", []) or [])
    return sorted(a for a in arns if a)


def describe_target_groups(ctx: Context, referenced: list[str]) -> list[Item]:
    """The referenced target groups, in the fewest calls this module can tell in advance
    (module docstring: the first batch by ARN, then whole load balancers where they pay)."""
    if len(referenced) <= ARN_BATCH:
        return describe(ctx, DESCRIBE_TARGET_GROUPS, referenced)
    seed, rest = referenced[:ARN_BATCH], referenced[ARN_BATCH:]
    found = describe(ctx, DESCRIBE_TARGET_GROUPS, seed)
    share = Counter(lb for g in found for lb in set(g.get("LoadBalancerArns") or []))
    whole = sorted(lb for lb, n in share.items() if len(rest) * n / len(seed) > ARN_BATCH)
    wanted = set(rest)
    by_lb = ctx.gather(("target_groups", partial(groups_of_load_balancer, ctx, lb))
                       for lb in whole).get("target_groups", [])
    found += [g for g in by_lb if g.get("TargetGroupArn") in wanted]
    answered = {str(g.get("TargetGroupArn")) for g in found}
    return found + describe(ctx, DESCRIBE_TARGET_GROUPS, [a for a in rest if a not in answered])


def groups_of_load_balancer(ctx: Context, lb_arn: str) -> list[Item]:
    """Every target group of one load balancer (nothing if it was deleted meanwhile)."""
    pages = fetch(ctx, "target_groups", "describe_target_groups", resource_name(lb_arn),
                  "LoadBalancerNotFound", LoadBalancerArn=lb_arn, PageSize=PAGE_SIZE)
    return [g for page in pages or [] for g in page.get("TargetGroups", [])]


def health_arns(ctx: Context, referenced: list[str], groups: list[Item]) -> list[str]:
    """The target groups whose health to ask for: those described, or, when DescribeTargetGroups
    failed (it needs its own permission), every referenced one (DescribeTargetHealth works
    without the describe)."""
    if ctx.recorder.failed("target_groups"):
        return referenced
    return sorted(str(g["TargetGroupArn"]) for g in groups if g.get("TargetGroupArn"))


def describe(ctx: Context, plan: DescribePlan, arns: list[str]) -> list[Item]:
    """All items of ``plan`` for ``arns``, batched, fanned out on the pool."""
    return ctx.gather(describe_jobs(ctx, plan, arns)).get(plan.collection, [])


def describe_jobs(ctx: Context, plan: DescribePlan, arns: Iterable[str]) -> list[tuple[str, Job]]:
    return [(plan.collection, partial(describe_batch, ctx, plan, batch))
            for batch in batched(sorted(set(arns)), plan.batch)]


def describe_batch(ctx: Context, plan: DescribePlan, arns: list[str]) -> list[Item]:
    """One batch; if AWS says one of its ARNs does not exist, each ARN alone (runs in the
    calling job's thread, never waits on the pool)."""
    where = resource_name(arns[0]) if len(arns) == 1 else f"({len(arns)})"
    pages = fetch(ctx, plan.collection, plan.op, where, plan.not_found,
                  **{plan.param: arns, "PageSize": PAGE_SIZE})
    if pages is None:
        if len(arns) == 1:
            return []
        return [item for arn in arns for item in describe_batch(ctx, plan, [arn])]
    return [item for page in pages for item in page.get(plan.key, [])]


def describe_target_health(ctx: Context, arn: str) -> list[Item]:
    """One target group's targets (the API takes one ARN), as the bundle's
    ``{"TargetGroupArn", "TargetHealthDescriptions"}`` item; nothing if it was deleted."""
    pages = fetch(ctx, "target_health", "describe_target_health", resource_name(arn),
                  "TargetGroupNotFound", TargetGroupArn=arn)
    if not pages:
        return []
    descriptions = [d for page in pages for d in page.get("TargetHealthDescriptions", [])]
    return [{"TargetGroupArn": arn, "TargetHealthDescriptions": descriptions}]


def fetch(
    ctx: Context, collection: str, op: str, where: str, not_found: str, **kw: Any
) -> list[Item] | None:
    """Every response page of ``op`` (following ``NextMarker``). None when AWS answers
    ``not_found``; on any other failure the error is recorded and the pages so far kept."""
    api = ctx.client("elbv2")
    action = iam_action(api, op)
    out: list[Item] = []
    seen: set[str] = set()
    try:
        while True:
            page: Item = getattr(api, op)(**kw)
            out.append(page)
            ctx.step(f"{action} {where}")
            marker = page.get("NextMarker")
            if not marker:
                return out
            if marker in seen:
                raise RuntimeError(f"{op}: the service returned the same NextMarker twice")
            seen.add(str(marker))
            kw = {**kw, "Marker": marker}
    except Exception as exc:
        if error_code(exc) == not_found:
            ctx.step(f"{action} {where} not found")
            return None
        ctx.fail(collection, action, exc)
        ctx.step(f"{action} {where} failed")
        return out


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def resource_name(arn: str) -> str:
    """``…:targetgroup/web/0a7f…`` → ``web`` (for progress labels)."""
    parts = arn.rsplit(":", 1)[-1].split("/")
    return parts[-2] if len(parts) >= 3 else parts[-1]
