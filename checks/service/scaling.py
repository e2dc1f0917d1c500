"""Can the service grow with its load? Application Auto Scaling of the task count, and the
Auto Scaling groups that give EC2 capacity providers their instances.

A service's scalable target has ResourceId `service/<cluster>/<service>` and dimension
`ecs:service:DesiredCount`; its EC2 capacity comes from the Auto Scaling groups of the
capacity providers it (or its cluster's default strategy) uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, arn_name, dig, obj, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.labels import service_label
from checks.lib.taskdefs import memory_bound
from checks.service.fields import PENDING_STATES, count, services

_GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
DIMENSION = "ecs:service:DesiredCount"
#: "Runs hot": CPU (or memory) utilisation at or above this percentage …
HOT_PCT = 80.0
#: … in each of at least this many consecutive datapoints, ending with the newest one.
HOT_POINTS = 3
#: Target tracking targets outside this range scale too late (or never scale in).
TARGET_RANGE = (10.0, 90.0)
#: Application Auto Scaling's default (and AWS's documented value) for ECS cooldowns.
COOLDOWN_S = 300
PREDEFINED = ("ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization")


def resource_id(svc: Item) -> str:
    return f"service/{arn_name(str(svc.get('clusterArn', '')))}/{svc.get('serviceName', '')}"


def target_of(facts: Facts, svc: Item) -> Item | None:
    return next((t for t in _by_resource(facts, "scalable_targets").get(resource_id(svc), ())
                 if t.get("ScalableDimension", DIMENSION) == DIMENSION), None)


def policies_of(facts: Facts, svc: Item) -> list[Item]:
    return list(_by_resource(facts, "scaling_policies").get(resource_id(svc), ()))


def _by_resource(facts: Facts, collection: str) -> dict[str, list[Item]]:
    """``collection`` grouped by ResourceId, in bundle order: asked once per service."""
    def build() -> dict[str, list[Item]]:
        out: dict[str, list[Item]] = {}
        for item in facts.items(collection):
            rid = item.get("ResourceId")
            if isinstance(rid, str):
                out.setdefault(rid, []).append(item)
        return out

    return facts.memo(("service_scaling", collection), build)


def _hot_run(values: list[Any]) -> int:
    run = 0
    for value in reversed(values):
        if not isinstance(value, int | float) or value < HOT_PCT:
            break
        run += 1
    return run


def hot(facts: Facts, svc: Item) -> tuple[bool | None, str]:
    """Whether the service runs hot now (AWS/ECS CPU or memory, Average else Maximum),
    with a sentence saying so; None when no series for the service was collected. Memory
    counts only when a hard limit bounds the task: against soft reservations the metric
    passes 100 % at a steady load."""
    if not facts.has("metrics"):
        return None, "needs AWS/ECS CPUUtilization (metrics not collected)"
    dims = {"ClusterName": arn_name(str(svc.get("clusterArn", ""))),
            "ServiceName": str(svc.get("serviceName", ""))}
    seen: list[str] = []
    td = (facts.task_definition(svc.get("taskDefinition"))
          if facts.has("task_definitions") else None)
    soft = td is not None and memory_bound(td)[0] is None
    for metric in ("CPUUtilization", "MemoryUtilization"):
        if metric == "MemoryUtilization" and soft:
            # against soft reservations the percentage passes 100 % at a steady load:
            # it says the reservation is low, not that more tasks are needed
            if seen:
                seen.append("MemoryUtilization not counted (measured against soft "
                            "reservations)")
            continue
        for stat in ("Average", "Maximum"):
            for series in facts.metric("AWS/ECS", metric, dims, stat):
                values = [v for v in series.get("values") or []
                          if isinstance(v, int | float) and not isinstance(v, bool)]
                if not values:
                    continue
                if _hot_run(values) >= HOT_POINTS:
                    return True, (f"{metric} {stat} ≥ {HOT_PCT:g}% for the last "
                                  f"{_hot_run(values)} datapoints (now {values[-1]:.0f}%)")
                seen.append(f"{metric} {stat} peak {max(values):.0f}%")
            if seen:
                break
    if not seen:
        return None, "needs AWS/ECS CPUUtilization for the service (no series collected)"
    return False, ", ".join(seen)


def _suspended_out(target: Item) -> bool:
    return dig(target, "SuspendedState", "DynamicScalingOutSuspended") is True


@check(id="service-autoscaling-missing", area="service", severity=Severity.MEDIUM,
       title="Service runs hot without auto scaling",
       needs=("services", "scalable_targets", "scaling_policies"),
       docs=_GUIDE + "service-auto-scaling.html",
       emits=("desired", "scaling"))
def service_autoscaling_missing(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A service without a scalable target and policy (or with scale-out suspended) keeps
    its task count while load grows. It fails only when it runs hot: AWS/ECS CPU or memory
    utilisation ≥ 80 % for the last three datapoints (metrics are read when present; without
    them the result is unknown)."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        if svc.get("schedulingStrategy") == "DAEMON":
            yield skipped(arn, f"service {label}: DAEMON service (one task per instance)",
                          service=arn)
            continue
        target = target_of(facts, svc)
        policies = policies_of(facts, svc)
        if target is not None and policies and not _suspended_out(target):
            names = ", ".join(str(p.get("PolicyName")) for p in policies)
            yield passed(arn, f"service {label}: scales {target.get('MinCapacity')}–"
                         f"{target.get('MaxCapacity')} tasks with {names}", service=arn)
            continue
        what = ("scale-out suspended" if target is not None and policies else
                "no scaling policy" if target is not None else "no scalable target")
        is_hot, why = hot(facts, svc)
        if is_hot is None:
            yield unknown(arn, f"service {label}: {what}; {why} to tell whether it runs hot",
                          service=arn, scaling=what)
        elif is_hot:
            yield failed(arn, f"service {label}: {what} while it runs hot: {why}", service=arn,
                         scaling=what, desired=count(svc.get("desiredCount")))
        else:
            yield passed(arn, f"service {label}: {what}, but it does not run hot ({why})",
                         service=arn, scaling=what)


@check(id="service-autoscaling-at-max", area="service", severity=Severity.HIGH,
       title="Service auto scaling is at its MaxCapacity under load",
       needs=("services", "scalable_targets"),
       docs=_GUIDE + "service-auto-scaling.html",
       emits=("desired", "max_capacity", "pending"))
def service_autoscaling_at_max(facts: Facts, prior: Prior) -> Iterator[Result]:
    """At MaxCapacity the scaling policy can add nothing more: if the service is also hot
    (CPU/memory ≥ 80 % for three datapoints) or has pending tasks, the ceiling — not the
    policy — is what limits it."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        target = target_of(facts, svc)
        if target is None:
            yield skipped(arn, f"service {label}: no scalable target", service=arn)
            continue
        desired, top = count(svc.get("desiredCount")), count(target.get("MaxCapacity"))
        if desired < top:
            yield passed(arn, f"service {label}: desired {desired} below MaxCapacity {top}",
                         service=arn, desired=desired, max_capacity=top)
            continue
        pending = count(svc.get("pendingCount"))
        is_hot, why = hot(facts, svc)
        pressure = [why] if is_hot else []
        pressure += [f"{pending} task(s) pending"] if pending else []
        data: dict[str, Any] = {"desired": desired, "max_capacity": top, "pending": pending}
        if pressure:
            yield failed(arn, f"service {label}: desired {desired} = MaxCapacity {top} of its "
                         f"scalable target while {' and '.join(pressure)}", service=arn, **data)
        elif is_hot is None:
            yield unknown(arn, f"service {label}: at MaxCapacity {top}; {why} to tell whether "
                          "it is under load", service=arn, **data)
        else:
            yield passed(arn, f"service {label}: at MaxCapacity {top} but not under load "
                         f"({why})", service=arn, **data)


def _policy_problems(policy: Item) -> list[str]:
    out = []
    tt = obj(policy.get("TargetTrackingScalingPolicyConfiguration"))
    metric = dig(tt, "PredefinedMetricSpecification", "PredefinedMetricType")
    value = tt.get("TargetValue")
    if metric in PREDEFINED and isinstance(value, int | float) and not isinstance(
            value, bool) and not (
            TARGET_RANGE[0] <= value <= TARGET_RANGE[1]):
        out.append(f"target {metric} {value:g}% is outside {TARGET_RANGE[0]:g}–"
                   f"{TARGET_RANGE[1]:g}%")
    step = obj(policy.get("StepScalingPolicyConfiguration"))
    cooldown = tt.get("ScaleOutCooldown", step.get("Cooldown"))
    if isinstance(cooldown, int) and not isinstance(cooldown, bool) and cooldown > COOLDOWN_S:
        out.append(f"scale-out cooldown {cooldown}s > {COOLDOWN_S}s")
    return out


@check(id="service-scaling-policy-unusual", area="service", severity=Severity.LOW,
       title="Scaling policy target or cooldown is unusual",
       needs=("scaling_policies",),
       docs="https://docs.aws.amazon.com/autoscaling/application/APIReference/"
            "API_TargetTrackingScalingPolicyConfiguration.html",
       emits=("policy", "problems"))
def service_scaling_policy_unusual(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A CPU/memory target above 90 % leaves no headroom for the minutes a scale-out takes
    (and ECS reports utilisation against reservations, so it can sit above 100 %); below
    10 % it never scales in. A scale-out cooldown above 300 s (Application Auto Scaling's
    default for ECS, per the API reference) makes the service scale out too slowly."""
    by_rid = {resource_id(s): s for s in facts.services} if facts.has("services") else {}
    for policy in sorted(facts.items("scaling_policies"), key=lambda p: str(p.get("PolicyARN"))):
        rid = str(policy.get("ResourceId", ""))
        if not rid.startswith("service/"):
            continue
        svc = by_rid.get(rid)
        service = str(svc["serviceArn"]) if svc else None
        resource = str(policy.get("PolicyARN") or policy.get("PolicyName"))
        who = f"{rid.removeprefix('service/')} policy {policy.get('PolicyName')}"
        problems = _policy_problems(policy)
        if problems:
            yield failed(resource, f"{who}: " + "; ".join(problems), service=service,
                         policy=policy.get("PolicyName"), problems=problems)
        else:
            yield passed(resource, f"{who}: target and cooldowns in the usual range",
                         service=service, policy=policy.get("PolicyName"))


def _providers(facts: Facts, svc: Item) -> list[str]:
    """Capacity providers the service's tasks can land on: its own strategy; for the EC2
    launch type, every provider of the cluster (its instances come from their ASGs); with
    neither, the cluster's default strategy."""
    strategy = objs(svc.get("capacityProviderStrategy"))
    if strategy:
        return [str(s.get("capacityProvider")) for s in strategy]
    launch_type = svc.get("launchType")
    if launch_type not in (None, "EC2") or not facts.has("clusters"):
        return []
    cluster = obj(facts.lookup("clusters", "clusterArn", svc.get("clusterArn")))
    if launch_type == "EC2":
        names = cluster.get("capacityProviders")
        return [str(p) for p in names] if isinstance(names, list) else []
    return [str(s.get("capacityProvider"))
            for s in objs(cluster.get("defaultCapacityProviderStrategy"))]


def _pending(facts: Facts, svc: Item) -> int:
    tasks = facts.tasks_of_service(svc) if facts.has("tasks") else []
    return max(count(svc.get("pendingCount")),
               sum(1 for t in tasks if t.get("lastStatus") in PENDING_STATES))


def _asgs(facts: Facts, svc: Item) -> tuple[list[Item], list[str]]:
    """ASGs behind the service's capacity providers, and ASG ARNs not in the bundle."""
    found, missing = [], []
    for name in _providers(facts, svc):
        cp = facts.lookup("capacity_providers", "name", name)
        asg_arn = dig(cp, "autoScalingGroupProvider", "autoScalingGroupArn")
        if not asg_arn:
            continue
        asg = facts.lookup("auto_scaling_groups", "AutoScalingGroupARN", asg_arn)
        if asg:
            found.append(asg)
        else:
            missing.append(str(asg_arn))
    return found, missing


@check(id="service-asg-at-max", area="service", severity=Severity.HIGH,
       title="Tasks pend while the capacity provider's Auto Scaling group is at MaxSize",
       needs=("services", "capacity_providers", "auto_scaling_groups"),
       docs=_GUIDE + "asg-capacity-providers.html",
       emits=("affected_tasks", "asgs", "pending"))
def service_asg_at_max(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Managed scaling adds instances for pending tasks only up to the Auto Scaling group's
    MaxSize; when every ASG behind the service's capacity providers (its strategy, else the
    cluster default) is at MaxSize, pending tasks wait for a human to raise it."""
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        asgs, missing = _asgs(facts, svc)
        if not asgs and not missing:
            yield skipped(arn, f"service {label}: no Auto Scaling group capacity provider",
                          service=arn)
            continue
        pending = _pending(facts, svc)
        full = [a for a in asgs if count(a.get("DesiredCapacity")) >= count(a.get("MaxSize"))]
        sizes = ", ".join(f"{a.get('AutoScalingGroupName')} {a.get('DesiredCapacity')}/"
                          f"{a.get('MaxSize')}" for a in asgs)
        data: dict[str, Any] = {"pending": pending, "asgs": [a.get("AutoScalingGroupName")
                                                             for a in asgs]}
        if missing:
            yield unknown(arn, f"service {label}: Auto Scaling group(s) not in the bundle: "
                          f"{', '.join(arn_name(m) for m in missing)}", service=arn, **data)
        elif pending and len(full) == len(asgs):
            yield failed(arn, f"service {label}: {pending} task(s) pending and every capacity "
                         f"provider ASG is at MaxSize (desired/max {sizes})", service=arn,
                         severity=Severity.HIGH, affected_tasks=pending, **data)
        else:
            state = "no pending task" if not pending else "room to grow"
            yield passed(arn, f"service {label}: {state} (ASG desired/max {sizes})",
                         service=arn, **data)
