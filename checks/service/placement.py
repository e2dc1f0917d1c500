"""Where the service's tasks may go and where they went: placement constraints and
strategies, and Availability Zones.

Constraints and strategies only apply to tasks placed on container instances (EC2 or
EXTERNAL, or an ASG capacity provider); Fargate services are skipped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from checker.facts import Facts, Item, arn_name, dig, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.labels import service_label
from checks.lib.placement_expr import Verdict, attr, match_instances, parse, subjects
from checks.service.fields import count, services, td_of

_GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
RUNNING = "RUNNING"
#: binpack hot spot: one instance holds more than this share of the service's tasks…
HOTSPOT_SHARE = 0.5
#: … and at least this many of them.
HOTSPOT_MIN_TASKS = 2


def on_instances(svc: Item) -> bool:
    if svc.get("launchType") in ("EC2", "EXTERNAL"):
        return True
    strategy = objs(svc.get("capacityProviderStrategy"))
    return any(not str(s.get("capacityProvider", "")).startswith("FARGATE") for s in strategy)


def cluster_instances(facts: Facts, svc: Item) -> list[Item]:
    """ACTIVE container instances with a connected agent: where ECS can place a task now."""
    cluster = str(svc.get("clusterArn", ""))
    found = facts.instances_of_cluster(cluster)
    if not found and all(str(ci.get("containerInstanceArn", "")).count("/") == 1
                         for ci in facts.container_instances):
        found = list(facts.container_instances)  # old ARN format: no cluster in the ARN
    return sorted((ci for ci in found if ci.get("status") == "ACTIVE"
                   and ci.get("agentConnected") is True),
                  key=lambda ci: str(ci.get("ec2InstanceId") or ci.get("containerInstanceArn")))


def _name(ci: Item) -> str:
    return str(ci.get("ec2InstanceId") or arn_name(str(ci.get("containerInstanceArn", ""))))


# -- constraints ---------------------------------------------------------------------------
def member_of_expressions(facts: Facts, svc: Item) -> list[str]:
    found = objs(svc.get("placementConstraints"))
    if facts.has("task_definitions"):
        found += objs((td_of(facts, svc) or {}).get("placementConstraints"))
    return [str(c.get("expression", "")) for c in found if c.get("type") == "memberOf"]


def _groups(facts: Facts) -> dict[str, set[str]] | None:
    if not facts.has("tasks"):
        return None
    out: dict[str, set[str]] = defaultdict(set)
    for task in facts.tasks:
        if task.get("lastStatus") != "STOPPED" and task.get("containerInstanceArn"):
            out[str(task["containerInstanceArn"])].add(str(task.get("group", "")))
    return out


def _seen_values(node_text: str, instances: list[Item]) -> str:
    """`ecs.instance-type: m5.large ×3` for the attributes an expression looks at."""
    parts = []
    for subject in sorted(subjects(parse(node_text))):
        if subject.startswith("attribute:"):
            name = subject.removeprefix("attribute:")
            values = Counter(attr(ci, name) or "(absent)" for ci in instances)
            parts.append(f"{name}: " + ", ".join(f"{v} ×{n}" for v, n in sorted(values.items())))
    return "; ".join(parts)


def _satisfying(facts: Facts, svc: Item, instances: list[Item]) -> tuple[list[Verdict], set[str]]:
    """Each memberOf verdict, and the instances that satisfy all of them."""
    groups = _groups(facts)
    verdicts = [match_instances(e, instances, groups) for e in member_of_expressions(facts, svc)]
    ok = {_name(ci) for ci in instances}
    for v in verdicts:
        ok &= set(v.matching) if v.error is None else ok
    return verdicts, ok


@check(id="service-placement-distinct-instance", area="service", severity=Severity.HIGH,
       title="Placement distinctInstance needs more instances than the cluster has",
       needs=("services", "container_instances"),
       docs=_GUIDE + "task-placement-constraints.html",
       emits=("affected_tasks", "desired", "instances"))
def service_placement_distinct_instance(facts: Facts, prior: Prior) -> Iterator[Result]:
    """With a distinctInstance constraint each task needs its own container instance: more
    desired tasks than ACTIVE instances with a connected agent (that also satisfy the
    service's memberOf expressions) leaves the surplus PENDING forever."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        types = {c.get("type") for c in objs(svc.get("placementConstraints"))}
        if "distinctInstance" not in types or not on_instances(svc):
            yield skipped(arn, f"service {label}: no distinctInstance constraint",
                          service=arn)
            continue
        instances = cluster_instances(facts, svc)
        _, ok = _satisfying(facts, svc, instances)
        desired = count(svc.get("desiredCount"))
        names = ", ".join(sorted(ok)[:6]) or "none"
        if desired > len(ok):
            yield failed(arn, f"service {label}: distinctInstance needs {desired} instances "
                         f"but only {len(ok)} ACTIVE connected instance(s) qualify ({names})",
                         service=arn, desired=desired, instances=len(ok),
                         affected_tasks=desired - len(ok))
        else:
            yield passed(arn, f"service {label}: distinctInstance: {desired} tasks on "
                         f"{len(ok)} qualifying instances", service=arn, desired=desired,
                         instances=len(ok))


@check(id="service-placement-member-of", area="service", severity=Severity.HIGH,
       title="Placement memberOf constraint matches no container instance",
       needs=("services", "container_instances"),
       docs=_GUIDE + "cluster-query-language.html",
       emits=("affected_tasks", "expression", "expressions", "instances", "matching"))
def service_placement_member_of(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A memberOf expression (service or task definition) that no ACTIVE, connected
    container instance satisfies makes every placement fail with "MemberOf placement
    constraint unsatisfied" — typically an instance type or AZ that the ASG no longer
    launches, or a custom attribute nobody set. The expression is evaluated with the
    cluster query language (checks/lib/placement_expr.py); one it cannot parse is `unknown`."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        exprs = member_of_expressions(facts, svc)
        if not exprs or not on_instances(svc):
            yield skipped(arn, f"service {label}: no memberOf constraint on instances",
                          service=arn)
            continue
        instances = cluster_instances(facts, svc)
        if not instances:
            yield skipped(arn, f"service {label}: no ACTIVE container instance with a "
                          "connected agent to evaluate memberOf against", service=arn)
            continue
        verdicts, ok = _satisfying(facts, svc, instances)
        bad = [v for v in verdicts if v.error]
        if bad:
            yield unknown(arn, f"service {label}: cannot parse memberOf {bad[0].expression!r}"
                          f" ({bad[0].error})", service=arn, expression=bad[0].expression)
        elif ok:
            yield passed(arn, f"service {label}: memberOf satisfied by {len(ok)} of "
                         f"{len(instances)} instances ({', '.join(sorted(ok)[:5])})",
                         service=arn, expressions=exprs, matching=sorted(ok))
        elif any(v.undecided for v in verdicts):
            undecided = next(v for v in verdicts if v.undecided)
            yield unknown(arn, f"service {label}: memberOf {undecided.expression!r} needs "
                          "data the bundle lacks (e.g. task:group without tasks)",
                          service=arn, expression=undecided.expression)
        else:
            worst = next((v for v in verdicts if not v.matching), verdicts[0])
            seen = _seen_values(worst.expression, instances)
            yield failed(arn, f"service {label}: no ACTIVE instance satisfies memberOf "
                         f"{' and '.join(repr(e) for e in exprs)} ({len(instances)} "
                         f"examined{'; ' + seen if seen else ''})", service=arn,
                         expressions=exprs, instances=len(instances),
                         affected_tasks=count(svc.get("desiredCount")))


# -- strategies ----------------------------------------------------------------------------
@check(id="service-placement-binpack-hotspot", area="service", severity=Severity.MEDIUM,
       title="Binpack placement piles the service's tasks on one instance",
       needs=("services", "tasks", "container_instances"),
       docs=_GUIDE + "task-placement-strategies.html",
       emits=("hotspot", "idle_instances", "running", "tasks_on_hotspot"))
def service_placement_binpack_hotspot(facts: Facts, prior: Prior) -> Iterator[Result]:
    """binpack fills the fullest instance first; for a busy service that means most of its
    tasks compete for one host's CPU and network while other instances sit idle, and one
    instance failure takes most of the service down. Fails when one instance runs more
    than half of the service's RUNNING tasks (at least two) while another runs none."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        strategy = [s for s in objs(svc.get("placementStrategy")) if s.get("type") == "binpack"]
        if not strategy or not on_instances(svc):
            yield skipped(arn, f"service {label}: no binpack strategy", service=arn)
            continue
        per = Counter(str(t.get("containerInstanceArn")) for t in facts.tasks_of_service(
            svc, RUNNING) if t.get("containerInstanceArn"))
        total = sum(per.values())
        instances = cluster_instances(facts, svc)
        idle = [_name(ci) for ci in instances if count(ci.get("runningTasksCount")) == 0]
        top, top_n = per.most_common(1)[0] if per else ("", 0)
        host = _name(facts.container_instance(top) or {"containerInstanceArn": top})
        field = strategy[0].get("field", "?")
        if total and top_n >= HOTSPOT_MIN_TASKS and top_n / total > HOTSPOT_SHARE and idle:
            yield failed(arn, f"service {label}: binpack({field}) put {top_n} of {total} "
                         f"running tasks on {host} while {len(idle)} instance(s) run no task "
                         f"({', '.join(idle[:5])})", service=arn, hotspot=host,
                         tasks_on_hotspot=top_n, running=total, idle_instances=idle)
        else:
            yield passed(arn, f"service {label}: binpack({field}): at most {top_n} of "
                         f"{total} running tasks on one instance, {len(idle)} idle instance(s)",
                         service=arn, running=total, idle_instances=idle)


# -- Availability Zones --------------------------------------------------------------------
def _task_az(facts: Facts, task: Item) -> str | None:
    if task.get("availabilityZone"):
        return str(task["availabilityZone"])
    if facts.has("container_instances"):
        ci = facts.container_instance(task.get("containerInstanceArn"))
        return attr(ci, "ecs.availability-zone") if ci else None
    return None


@check(id="service-tasks-single-az", area="service", severity=Severity.MEDIUM,
       title="All running tasks of the service are in one Availability Zone",
       needs=("services", "tasks"),
       docs=_GUIDE + "strategy-examples.html",
       emits=("affected_tasks", "running", "zone", "zones"))
def service_tasks_single_az(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A service with two or more desired tasks is meant to survive losing a host or an
    AZ; when every RUNNING task sits in the same AZ (task availabilityZone, or the
    ecs.availability-zone attribute of its container instance) one AZ event is an outage."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        running = facts.tasks_of_service(svc, RUNNING)
        if count(svc.get("desiredCount")) < 2 or len(running) < 2:
            yield skipped(arn, f"service {label}: fewer than 2 tasks desired or running",
                          service=arn)
            continue
        zones = Counter(_task_az(facts, t) for t in running)
        known = {z: n for z, n in zones.items() if z}
        if zones.get(None):
            yield unknown(arn, f"service {label}: the AZ of {zones[None]} running task(s) is "
                          "unknown (needs task availabilityZone or container instances)",
                          service=arn, zones=known)
        elif len(known) == 1:
            (zone,) = known
            yield failed(arn, f"service {label}: all {len(running)} running tasks are in "
                         f"{zone} — losing that AZ stops the service", service=arn,
                         zone=zone, running=len(running), affected_tasks=len(running))
        else:
            spread = ", ".join(f"{z} ×{n}" for z, n in sorted(known.items()))
            yield passed(arn, f"service {label}: running tasks spread over {spread}",
                         service=arn, zones=known)


@check(id="service-subnets-single-az", area="service", severity=Severity.MEDIUM,
       title="The service's awsvpc subnets are all in one Availability Zone",
       needs=("services", "subnets"),
       docs=_GUIDE + "task-networking-awsvpc.html",
       emits=("affected_tasks", "missing", "subnets", "zone", "zones"))
def service_subnets_single_az(facts: Facts, prior: Prior) -> Iterator[Result]:
    """ECS can only spread awsvpc tasks over the AZs of the subnets the service names;
    subnets all in one AZ make every task single-AZ no matter the placement strategy."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        raw = dig(svc, "networkConfiguration", "awsvpcConfiguration", "subnets")
        subnet_ids = [str(s) for s in raw if isinstance(s, str)] if isinstance(raw, list) else []
        if not subnet_ids:
            yield skipped(arn, f"service {label}: no awsvpc subnets", service=arn)
            continue
        zones = {s: dig(facts.lookup("subnets", "SubnetId", s), "AvailabilityZone")
                 for s in subnet_ids}
        missing = sorted(s for s, z in zones.items() if not z)
        known = sorted({z for z in zones.values() if z})
        if len(known) >= 2:
            yield passed(arn, f"service {label}: subnets span {', '.join(known)}",
                         service=arn, zones=known)
        elif missing:
            yield unknown(arn, f"service {label}: subnet(s) {', '.join(missing)} not in the "
                          "bundle", service=arn, missing=missing, zones=known)
        else:
            yield failed(arn, f"service {label}: all {len(subnet_ids)} awsvpc subnet(s) are "
                         f"in {known[0]} — ECS cannot spread its tasks over AZs", service=arn,
                         zone=known[0], subnets=subnet_ids,
                         affected_tasks=count(svc.get("desiredCount")))
