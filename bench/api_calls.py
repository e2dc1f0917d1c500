"""AWS calls of one scan against the fewest the API limits allow, per operation.

The account is bench/moto_account.py's (default: 1 cluster, 200 services, 2,000 running and 500
stopped tasks, 50 container instances, two ALBs with 40 target groups, 50 services with
target-tracking scaling), in-process under moto's ``mock_aws``. ``checker.collect.collect``
scans it with the default pool; a botocore ``before-call.*.*`` hook on the session counts
every API call (one per request the collectors make, whatever retries happen below it).

The lower bound is computed from what the account holds and the batch and page limits of
AWS-FACTS.md §1 and §9, for a scan of this cluster (resources outside it are not read):

- lists page at 100 on AWS, but moto ignores page sizes and answers in one page, so every
  list counts 1 call per chain here; the AWS-paged bound is shown beside it;
- describes batch at their limits (DescribeServices 10, DescribeTasks 100, ...), one
  DescribeTaskDefinition per revision, one DescribeTargetHealth per target group, one
  DescribeLoadBalancerAttributes per Application Load Balancer (the idle timeout), one
  DescribeVpcAttribute per VPC and attribute, ⌈queries/500⌉ GetMetricData;
- a second round only where the data makes one necessary: security groups referenced by
  the scanned groups but not among them, main route tables when a scanned subnet has no
  explicit route table association;
- Application Auto Scaling: DescribeScalableTargets by 50 of the scanned services;
  DescribeScalingPolicies for the whole ECS namespace, 10 a page, when that is fewer calls
  than one per scalable target found (it takes one ResourceId): min(targets, ⌈policies/10⌉)
  (moto pages it at 10 as AWS does). §9 counts the targets namespace-wide too; that figure
  is printed as well.
- DescribeTargetGroups: by 20 ARNs, or one call per load balancer (400 a page) when a load
  balancer carries enough of them (checker/collect/elbv2.py): the fewer of ⌈TG/20⌉ and
  one ARN batch plus one call per load balancer.

History (issue 11) is measured apart, after that scan, and printed on the line before the
summary: a day of it is written into the account (a STOPPED task event per stopped task and
a deployment event per service in the history log group; an UpdateService per service and
as many tagging events, which are dropped, in CloudTrail), then only the two history
collectors run over what the scan found. Their floor: one FilterLogEvents page per slice of
the window (checker/collect/history.py) and ⌈write events/50⌉ LookupEvents calls; their
ceilings: the budgets, 25 and 40 calls a scan. LookupEvents is paced at 2 calls a second: the
time that costs is printed, not slept (an injected clock).

The image probe (checker/collect/images.py) is measured after the logs collector: no ECR
call when no log line says exec format error (the bench account's case), then the worst
case, one task of every service saying it with its image an index in ECR: two calls an
image, at most 10 images (20 calls) a scan.

The last line is the summary: ``API calls: N actual vs M lower bound — ratio X.XX``.

Run from the repository root: ``python bench/api_calls.py [--tiny]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import moto_account as acct  # bench/ is not a package

from checker.collect import Scope, cloudwatch, collect, ec2
from checker.collect.aws import iam_prefix


@dataclass(frozen=True)
class Bound:
    """The fewest calls of one operation: as moto pages (one page per list) and on AWS."""

    moto: int
    aws: int
    formula: str
    section_9: int | None = None  # the namespace-wide §9 figure (moto pages), when it differs


class CallCounter:
    """Counts API calls per IAM action through the session's ``before-call`` event, which
    every client made from the session afterwards inherits; thread-safe (the scan's pool)."""

    def __init__(self, session: Any) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        session.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        action = f"{iam_prefix(model.service_model.service_id.hyphenize())}:{model.name}"
        with self._lock:
            self.counts[action] += 1


def _pages(n: int, page: int) -> int:
    """List calls for n items: at least one (an empty list is one call too)."""
    return max(1, math.ceil(n / page))


def _batches(n: int, batch: int) -> int:
    """Describe calls for n ids: none without ids."""
    return math.ceil(n / batch)


def bounds(account: acct.Account, bundle: dict[str, Any]) -> dict[str, Bound]:
    """The lower bound per operation for ``account`` (module docstring)."""
    size, res = account.size, bundle["resources"]
    s, t, x, i = len(account.services), size.running, size.stopped, size.instances
    tg, targets = len(account.target_groups), size.scaled
    queries = len(cloudwatch.plan_queries(res, cloudwatch.FINE_PERIOD))
    alarms = len(res.get("alarms", []))
    vpcs = 1
    return {
        "sts:GetCallerIdentity": Bound(1, 1, "1 (the account id)"),
        "ecs:DescribeClusters": Bound(1, 1, "⌈C/100⌉"),
        "ecs:ListServices": Bound(1, _pages(s, 100), f"⌈S/100⌉ = ⌈{s}/100⌉"),
        "ecs:DescribeServices": Bound(_batches(s, 10), _batches(s, 10), f"⌈S/10⌉ = ⌈{s}/10⌉"),
        "ecs:ListTasks": Bound(2, _pages(t, 100) + _pages(x, 100),
                               f"⌈T/100⌉ + ⌈X/100⌉ = ⌈{t}/100⌉ + ⌈{x}/100⌉ (per status)"),
        "ecs:DescribeTasks": Bound(_batches(t + x, 100), _batches(t + x, 100),
                                   f"⌈(T+X)/100⌉ = ⌈{t + x}/100⌉"),
        "ecs:ListContainerInstances": Bound(1, _pages(i, 100), f"⌈I/100⌉ = ⌈{i}/100⌉"),
        "ecs:DescribeContainerInstances": Bound(_batches(i, 100), _batches(i, 100),
                                                f"⌈I/100⌉ = ⌈{i}/100⌉"),
        "ecs:DescribeTaskDefinition": Bound(s, s, f"D = {s} revisions (no batch API)"),
        "ecs:DescribeCapacityProviders": Bound(1, 1, "⌈CP/10⌉ = ⌈3/10⌉ (2 FARGATE + 1 ASG)"),
        "ecs:ListAccountSettings": Bound(1, 2, "1 page on moto (empty); ~15 settings / 10"),
        "elasticloadbalancing:DescribeTargetGroups": _target_group_bound(tg, size.albs),
        "elasticloadbalancing:DescribeLoadBalancers": Bound(
            _batches(size.albs, 20), _batches(size.albs, 20), f"⌈LB/20⌉ = ⌈{size.albs}/20⌉"),
        "elasticloadbalancing:DescribeTargetHealth": Bound(tg, tg, f"TG = {tg} (one per call)"),
        "elasticloadbalancing:DescribeLoadBalancerAttributes": Bound(
            size.albs, size.albs, f"ALB = {size.albs} (one per call)"),
        **_ec2_bounds(account, res, vpcs),
        "autoscaling:DescribeAutoScalingGroups": Bound(1, 1, "⌈ASG/100⌉ = ⌈1/100⌉"),
        "application-autoscaling:DescribeScalableTargets": Bound(
            _batches(s, 50), _batches(s, 50), f"⌈S/50⌉ = ⌈{s}/50⌉ (ResourceIds ≤ 50)",
            section_9=_pages(targets, 50)),
        "application-autoscaling:DescribeScalingPolicies": Bound(
            min(targets, _pages(targets, 10)), min(targets, _pages(targets, 10)),
            f"min(targets, ⌈policies/10⌉) = min({targets}, ⌈{targets}/10⌉) (namespace-wide "
            "pages)"),
        "cloudwatch:GetMetricData": Bound(_batches(queries, 500), _batches(queries, 500),
                                          f"⌈queries/500⌉ = ⌈{queries}/500⌉"),
        "cloudwatch:DescribeAlarms": Bound(
            max(1, _batches(alarms, 100)), max(1, _batches(alarms, 100)),
            f"⌈alarms/100⌉ = ⌈{alarms}/100⌉ (no filter by dimension: the Region's alarms)"),
    }


def _target_group_bound(tg: int, lbs: int) -> Bound:
    """⌈TG/20⌉ by ARN, or one ARN batch and one call per load balancer (≤ 400 groups each)."""
    by_lb = 1 + lbs * _pages(math.ceil(tg / max(lbs, 1)), 400) if tg > 20 else _batches(tg, 20)
    best = min(_batches(tg, 20), by_lb)
    return Bound(best, best, f"min(⌈TG/20⌉, 1 + LB) = min(⌈{tg}/20⌉, 1 + {lbs})")


def _ec2_bounds(account: acct.Account, res: dict[str, Any], vpcs: int) -> dict[str, Bound]:
    """One filtered call per collection (≤ 200 ids a filter, ≤ 1000 a page), plus the
    rounds this account's data requires."""
    scoped = ec2.scope_refs(res)
    for instance in res.get("ec2_instances", []):
        scoped.group_ids.update(g["GroupId"] for g in instance.get("SecurityGroups", []))
    referenced = ec2.referenced_groups(res.get("security_groups", []), None)
    sg_rounds = 1 + bool(referenced - scoped.group_ids)
    associated = {a.get("SubnetId") for rt in res.get("route_tables", [])
                  for a in rt.get("Associations", [])}
    rt_rounds = 1 + bool({s["SubnetId"] for s in res.get("subnets", [])} - associated)
    burstable = len(res.get("credit_specifications", []))
    one = Bound(1, 1, "1 (≤ 200 ids in the filter)")
    return {
        "ec2:DescribeInstances": Bound(_batches(account.size.instances, 200),
                                       _batches(account.size.instances, 200),
                                       f"⌈I/200⌉ = ⌈{account.size.instances}/200⌉"),
        "ec2:DescribeInstanceTypes": Bound(1, 1, "⌈types/100⌉ = ⌈1/100⌉"),
        "ec2:DescribeInstanceCreditSpecifications": Bound(
            _batches(burstable, 1000), _batches(burstable, 1000),
            f"⌈burstable/1000⌉ = ⌈{burstable}/1000⌉"),
        "ec2:DescribeSubnets": one,
        "ec2:DescribeSecurityGroups": Bound(sg_rounds, sg_rounds,
                                            f"{sg_rounds} round(s): referenced groups"),
        "ec2:DescribeRouteTables": Bound(rt_rounds, rt_rounds,
                                         f"{rt_rounds} round(s): by subnet (+ main if used)"),
        "ec2:DescribeNetworkAcls": one,
        "ec2:DescribeVpcs": one,
        "ec2:DescribeVpcAttribute": Bound(2 * vpcs, 2 * vpcs, "2 × VPC (one attribute a call)"),
        "ec2:DescribeVpcEndpoints": one,
        "ec2:DescribeNatGateways": one,
    }


def table(counts: Counter[str], expected: dict[str, Bound]) -> list[str]:
    ops = sorted(set(counts) | {op for op, b in expected.items() if b.moto or counts[op]})
    width = max(len(op) for op in ops)
    lines = [f"{'operation':<{width}}  actual  bound  AWS-paged  formula",
             f"{'-' * width}  ------  -----  ---------  -------"]
    for op in ops:
        b = expected.get(op, Bound(0, 0, "not expected"))
        mark = "  ▲ above the bound" if counts[op] > b.moto else ""
        lines.append(f"{op:<{width}}  {counts[op]:6d}  {b.moto:5d}  {b.aws:9d}  "
                     f"{b.formula}{mark}")
    return lines


def history_calls(account: acct.Account, bundle: dict[str, Any]) -> tuple[Counter[str], str]:
    """Seed a day of history (module docstring), run the history collectors on the scan's
    resources, and count their calls; returns the counts and the line that reports them."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    from checker.collect import Context, cloudtrail, history
    from checker.collect.aws import DEFAULT_HISTORY, HISTORY_LOG_GROUP
    from checker.demo import moto_history as mh

    now = dt.datetime.now(dt.UTC)
    arn = f"arn:aws:ecs:{acct.REGION}:123456789012"
    services = account.services or [acct.service_name(0)]
    events = [mh.ecs_event("ECS Task State Change", {
        "taskArn": f"{arn}:task/{acct.CLUSTER}/{i:032x}", "lastStatus": "STOPPED",
        "clusterArn": f"{arn}:cluster/{acct.CLUSTER}", "version": 3,
        "group": f"service:{services[i % len(services)]}"},
        when=now - dt.timedelta(minutes=1 + i * 1400 // max(1, account.size.stopped)))
        for i in range(account.size.stopped)]
    events += [mh.ecs_event("ECS Deployment State Change",
                            {"eventName": "SERVICE_DEPLOYMENT_COMPLETED"},
                            when=now - dt.timedelta(hours=2),
                            resources=[f"{arn}:service/{acct.CLUSTER}/{name}"])
               for name in services]
    session = account.session()
    mh.put_ecs_events(session.client("logs", endpoint_url=account.endpoint_url),
                      HISTORY_LOG_GROUP, events)
    mh.patch_lookup_events()
    for name in services:
        when = now - dt.timedelta(hours=3)
        mh.put_cloudtrail_event(mh.cloudtrail_record(
            "UpdateService", "ecs.amazonaws.com", {"cluster": acct.CLUSTER, "service": name},
            when=when))
        mh.put_cloudtrail_event(mh.cloudtrail_record(
            "TagResource", "ecs.amazonaws.com", {"resourceArn": name}, when=when))
    counter = CallCounter(session)
    paced: list[float] = []
    clock = cloudtrail.Clock(monotonic=lambda: sum(paced), sleep=paced.append)
    scope = Scope(clusters=(acct.CLUSTER,), history=DEFAULT_HISTORY)
    with ThreadPoolExecutor(max_workers=8) as pool:
        ctx = Context(scope=scope, region=acct.REGION, pool=pool, session=session,
                      endpoint_url=account.endpoint_url, resources=dict(bundle["resources"]))
        history.read_history(ctx, now)
        cloudtrail.read_trail(ctx, now, clock=clock)
    mh.unpatch_lookup_events()
    mh.reset_history()
    logs, trail = counter.counts["logs:FilterLogEvents"], counter.counts["cloudtrail:LookupEvents"]
    slices = len(history.slices(now - DEFAULT_HISTORY, now))
    writes = 2 * len(services)
    line = (f"history ({DEFAULT_HISTORY.total_seconds() / 3600:.0f} h) adds {logs + trail} "
            f"calls: logs:FilterLogEvents {logs} (floor {slices}: one page a slice), "
            f"cloudtrail:LookupEvents {trail} (floor ⌈{writes} writes/50⌉ = "
            f"{math.ceil(writes / 50)}; paced {sum(paced):.1f} s); at most "
            f"{history.PAGE_BUDGET} + {cloudtrail.MAX_CALLS} a scan; kept "
            f"{len(ctx.resources.get('task_history', []))} stopped tasks, "
            f"{len(ctx.resources.get('ecs_events', []))} ECS events, "
            f"{len(ctx.resources.get('cloudtrail_events', []))} CloudTrail events")
    return counter.counts, line


def log_calls(account: acct.Account, bundle: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The logs collector (scan --log-lines 50) over the scan's resources: its
    GetLogEvents calls against its budgets (checker/collect/logs.py)."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    from checker.collect import Context, logs
    from checker.collect.aws import DEFAULT_LOG_LINES

    session = account.session()
    counter = CallCounter(session)
    scope = Scope(clusters=(acct.CLUSTER,), log_lines=DEFAULT_LOG_LINES)
    with ThreadPoolExecutor(max_workers=8) as pool:
        ctx = Context(scope=scope, region=acct.REGION, pool=pool, session=session,
                      endpoint_url=account.endpoint_url, resources=dict(bundle["resources"]))
        ctx.metrics = bundle.get("metrics")
        logs.read_logs(ctx, dt.datetime.now(dt.UTC), logs.SCAN_BUDGET)
    items = ctx.resources.get("log_events", [])
    failing = len({i.get("serviceArn") for i in items})
    calls = counter.counts["logs:GetLogEvents"]
    return (f"logs (--log-lines {DEFAULT_LOG_LINES}) add {calls} logs:GetLogEvents calls for "
            f"{failing} failing service(s), {len(items)} container(s) (at most "
            f"{logs.PER_SERVICE} a failing service, {logs.SCAN_BUDGET} a scan; a container "
            f"with another log driver costs none)"), ctx.resources


def image_calls(account: acct.Account, resources: dict[str, Any]) -> str:
    """The image probe (checker/collect/images.py) after the logs collector: as the bench
    account is, no line says exec format error and it makes no call. Then the worst case:
    one task of every service logging exec format error, each service's image an index in
    ECR: DescribeImages and BatchGetImage an image, up to its budget of images."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from checker.collect import Context, images

    def probe(res: dict[str, Any]) -> Counter[str]:
        session = account.session()
        counter = CallCounter(session)
        with ThreadPoolExecutor(max_workers=8) as pool:
            ctx = Context(scope=Scope(clusters=(acct.CLUSTER,)), region=acct.REGION,
                          pool=pool, session=session, endpoint_url=account.endpoint_url,
                          resources=res)
            images.read_images(ctx, images.IMAGE_BUDGET)
        return counter.counts

    quiet = sum(probe(dict(resources)).values())
    one_task = {str(t.get("group")): t for t in resources.get("tasks", [])}
    broken = {**resources, "log_events": [
        {"taskArn": t["taskArn"], "containerName": "app",
         "events": [{"timestamp": 0, "message": f"exec /app: {images.EXEC_FORMAT}"}]}
        for t in one_task.values()]}
    wanted = images.wanted(broken)
    ecr = account.session().client("ecr", endpoint_url=account.endpoint_url)
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"platform": {"os": "linux", "architecture": "arm64"},
                                       "digest": "sha256:" + "a" * 64, "size": 1,
                                       "mediaType": "application/vnd.oci.image.manifest.v1+json"}]})
    for ref in wanted.values():
        ecr.create_repository(repositoryName=ref.repository)
        ecr.put_image(repositoryName=ref.repository, imageManifest=index,
                      imageTag=ref.tag or "latest")
    worst = probe(broken)
    described, fetched = worst["ecr:DescribeImages"], worst["ecr:BatchGetImage"]
    return (f"images add {quiet} ECR calls (no log line says exec format error); with one "
            f"task of every service saying it ({len(wanted)} images): ecr:DescribeImages "
            f"{described} + ecr:BatchGetImage {fetched} (at most {images.IMAGE_BUDGET} images "
            f"a scan, {images.CALLS_PER_IMAGE * images.IMAGE_BUDGET} calls)")


def role_calls(counts: Mapping[str, int], bundle: dict[str, Any]) -> str:
    """The task-role simulations the scan made (checker/collect/task_roles.py) against
    their budget: what ECS Exec and X-Ray need, one SimulatePrincipalPolicy page a call."""
    from checker.collect import task_roles

    roles = len(bundle["resources"].get(task_roles.COLLECTION) or ())
    calls = counts.get("iam:SimulatePrincipalPolicy", 0)
    return (f"task roles add {calls} iam:SimulatePrincipalPolicy calls for {roles} role(s) "
            f"(at most {task_roles.ROLE_BUDGET} roles a scan)")


def run(size: acct.Size = acct.FULL, show: Callable[[str], None] = print) -> dict[str, float]:
    """Build, scan, compare, print; returns the totals (the smoke test runs it tiny)."""
    started = time.perf_counter()
    with acct.in_process(size) as account:
        built = time.perf_counter() - started
        session = account.session()
        counter = CallCounter(session)
        start = time.perf_counter()
        bundle = collect(session, Scope(clusters=(acct.CLUSTER,)))
        scanned = time.perf_counter() - start
        extra, history_line = history_calls(account, bundle)
        log_line, logged = log_calls(account, bundle)
        image_line = image_calls(account, logged)
    res = bundle["resources"]
    show(f"account: {len(res['services'])} services, {len(res['tasks'])} tasks, "
         f"{len(res['container_instances'])} container instances, "
         f"{len(res['target_groups'])} target groups, {len(res['scalable_targets'])} "
         f"scalable targets, {len(bundle['metrics'])} metric series "
         f"(built in {built:.1f} s, scanned in {scanned:.1f} s, {len(bundle['errors'])} errors)")
    expected = bounds(account, bundle)
    for line in table(counter.counts, expected):
        show(line)
    actual = sum(counter.counts.values())
    bound = sum(b.moto for b in expected.values())
    aws = sum(b.aws for b in expected.values())
    section_9 = sum(b.moto if b.section_9 is None else b.section_9 for b in expected.values())
    show(f"on AWS (lists paged at their maximum) the lower bound is {aws} calls")
    show(f"§9 counts Application Auto Scaling namespace-wide (every ECS target and policy "
         f"in the account): {section_9} calls on moto; the collector stays in scope "
         f"(checker/collect/autoscaling.py) — ratio against that figure "
         f"{actual / section_9:.2f}")
    ratio = actual / bound
    show(history_line)
    show(log_line)
    show(image_line)
    show(role_calls(counter.counts, bundle))
    show(f"API calls: {actual} actual vs {bound} lower bound — ratio {ratio:.2f}")
    return {"actual": actual, "bound": bound, "ratio": ratio, "aws": aws,
            "section_9": section_9, "history": sum(extra.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a 6-service account (seconds)")
    args = parser.parse_args()
    run(acct.TINY if args.tiny else acct.FULL)


if __name__ == "__main__":
    main()
