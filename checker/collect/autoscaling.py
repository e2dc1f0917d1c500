"""EC2 Auto Scaling and Application Auto Scaling → auto_scaling_groups, scalable_targets,
scaling_policies (CONTRACTS.md §1), for what the scanned clusters and services use.

- auto_scaling_groups: the groups behind the clusters' capacity providers
  (``autoScalingGroupProvider.autoScalingGroupArn``), by name. DescribeAutoScalingGroups takes
  50 names by default and "you can optionally increase this limit using the MaxRecords
  property" (botocore model): with ``MaxRecords=100`` (its maximum) a call takes 100 names.
  Absent when the capacity providers were not collected (their ASGs are then unknown, not
  none).
- scalable_targets: ``ServiceNamespace=ecs`` with the scanned services' ResourceIds
  (``service/<cluster>/<service>``), 50 per call, ``MaxResults=50`` (AWS-FACTS.md §1d).
- scaling_policies: DescribeScalingPolicies takes one ``ResourceId`` (no list), so per target
  it costs one paged call (``MaxResults=10``, its maximum) per scalable target found (a
  service without a target has no policy: a policy needs its target). Without a
  ``ResourceId`` it lists the whole namespace, 10 policies a page: for a scan that covers
  most of the account's scaled services (50 targets, 50 policies: 5 calls instead of 50)
  that is far fewer. Which one is cheaper is not known before asking, so the namespace is
  read first, at most T − 1 pages for T targets (strictly fewer calls than per target); a
  namespace longer than that falls back to one call per target (then at most 2T − 1 calls
  in all). What lies outside the scope is dropped. When DescribeScalableTargets failed,
  every scanned service counts as a target.

Both phases fan out on the bounded pool; the two services have their own throttle buckets
(AWS-FACTS.md §2f).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from checker.collect.aws import (
    MAX_PAGES,
    Context,
    Item,
    PageLimitExceeded,
    batched,
    iam_action,
    pages,
)

#: Every action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "autoscaling:DescribeAutoScalingGroups",
})

NAMESPACE = "ecs"
ASG_PAGE = 100  # DescribeAutoScalingGroups MaxRecords maximum ...
ASG_BATCH = 100  # ... which also raises the names-per-call limit from 50 to it
TARGET_BATCH = 50  # DescribeScalableTargets ResourceIds maximum
TARGET_PAGE = 50  # DescribeScalableTargets MaxResults maximum
POLICY_PAGE = 10  # DescribeScalingPolicies MaxResults maximum
ASG_NAME_MARK = ":autoScalingGroupName/"

Job = tuple[str, Callable[[], list[Any]]]


def collect_autoscaling(ctx: Context) -> None:
    """Fill auto_scaling_groups (when capacity providers were collected), scalable_targets
    and scaling_policies."""
    providers = ctx.resources.get("capacity_providers")
    resource_ids = service_resource_ids(ctx.resources.get("services", []))
    jobs = target_jobs(ctx, resource_ids)
    if providers is not None:
        jobs += group_jobs(ctx, group_names(providers))
    found = ctx.gather(jobs)
    if providers is not None:
        ctx.store("auto_scaling_groups", found.get("auto_scaling_groups", []),
                  "AutoScalingGroupARN")
    targets = ctx.store("scalable_targets", in_scope(found.get("scalable_targets", []),
                                                      resource_ids), _target_key)
    if ctx.recorder.failed("scalable_targets"):
        with_policies = resource_ids
    else:
        with_policies = sorted({str(t.get("ResourceId")) for t in targets})
    complete: list[bool] = []
    policies: list[Item] = ctx.gather([("scaling_policies", partial(
        namespace_policies, ctx, len(with_policies) - 1, complete))]).get("scaling_policies", [])
    if not complete:
        found = ctx.gather(("scaling_policies", partial(describe_policies, ctx, rid))
                           for rid in with_policies)
        policies = found.get("scaling_policies", [])
    ctx.store("scaling_policies", in_scope(policies, resource_ids), "PolicyARN")


def group_names(providers: Iterable[Item]) -> list[str]:
    """``arn:…:autoScalingGroup:<uuid>:autoScalingGroupName/<name>`` → ``<name>``."""
    names = set()
    for provider in providers:
        arn = str((provider.get("autoScalingGroupProvider") or {}).get("autoScalingGroupArn")
                  or "")
        if ASG_NAME_MARK in arn:
            names.add(arn.split(ASG_NAME_MARK, 1)[1])
    return sorted(n for n in names if n)


def service_resource_ids(services: Iterable[Item]) -> list[str]:
    """Application Auto Scaling's id of each scanned service: ``service/<cluster>/<name>``."""
    ids = set()
    for service in services:
        cluster = str(service.get("clusterArn") or "").rsplit("/", 1)[-1]
        name = service.get("serviceName")
        if cluster and name:
            ids.add(f"service/{cluster}/{name}")
    return sorted(ids)


def in_scope(items: Iterable[Item], resource_ids: Iterable[str]) -> list[Item]:
    """Only the scanned services' targets and policies, whatever the service answered."""
    wanted = set(resource_ids)
    return [item for item in items if item.get("ResourceId") in wanted]


def group_jobs(ctx: Context, names: list[str]) -> list[Job]:
    return [("auto_scaling_groups",
             partial(ctx.paginate, "auto_scaling_groups", ctx.client("autoscaling"),
                     "describe_auto_scaling_groups", "AutoScalingGroups", "capacity providers",
                     AutoScalingGroupNames=batch, MaxRecords=ASG_PAGE))
            for batch in batched(names, ASG_BATCH)]


def target_jobs(ctx: Context, resource_ids: list[str]) -> list[Job]:
    return [("scalable_targets",
             partial(ctx.paginate, "scalable_targets", ctx.client("application-autoscaling"),
                     "describe_scalable_targets", "ScalableTargets", "services",
                     ServiceNamespace=NAMESPACE, ResourceIds=batch, MaxResults=TARGET_PAGE))
            for batch in batched(resource_ids, TARGET_BATCH)]


def describe_policies(ctx: Context, resource_id: str) -> list[Item]:
    return ctx.paginate("scaling_policies", ctx.client("application-autoscaling"),
                        "describe_scaling_policies", "ScalingPolicies", resource_id,
                        ServiceNamespace=NAMESPACE, ResourceId=resource_id,
                        MaxResults=POLICY_PAGE)


def namespace_policies(ctx: Context, max_pages: int, complete: list[bool]) -> list[Item]:
    """Every ECS scaling policy of the account and region, if that takes at most
    ``max_pages`` calls (capped at MAX_PAGES); ``complete`` gets True appended when it did
    (a pool job returns only its items), else the caller asks per target. A failure is
    recorded and what was read is kept (the per-target calls need the same permission)."""
    if max_pages < 1:
        return []
    api = ctx.client("application-autoscaling")
    action = iam_action(api, "describe_scaling_policies")
    out: list[Item] = []
    try:
        for page in pages(api, "describe_scaling_policies", max_pages=min(max_pages, MAX_PAGES),
                          ServiceNamespace=NAMESPACE, MaxResults=POLICY_PAGE):
            items = page.get("ScalingPolicies", [])
            out.extend(items)
            ctx.step(f"{action} {NAMESPACE} namespace ({len(items)})")
    except PageLimitExceeded:
        ctx.step(f"{action} {NAMESPACE} namespace: more than {max_pages} pages, per target")
        return []
    except Exception as exc:
        ctx.fail("scaling_policies", action, exc)
        ctx.step(f"{action} {NAMESPACE} namespace failed")
    complete.append(True)
    return out


def _target_key(target: Item) -> str:
    return f"{target.get('ResourceId', '')}\n{target.get('ScalableDimension', '')}"
