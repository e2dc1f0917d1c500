"""Service-level checks: does the service run what it was asked to run, and if not, why?

The decorated checks live here (so discovery and `ecsdoctor explain` find them with their
reasons); their logic lives in checks/_service_rollout.py, _service_placement.py,
_service_scaling.py and _events.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts
from checker.model import Result, Severity
from checker.registry import Prior, check
from checks import _service_placement as placement
from checks import _service_rollout as rollout
from checks import _service_scaling as scaling
from checks.lib.service_events import event_results

_GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
_EVENTS_DOCS = _GUIDE + "service-event-messages-list.html"


@check(id="service-running-below-desired", area="service", severity=Severity.HIGH,
       title="Service runs fewer tasks than desired",
       needs=("services",),
       docs=_GUIDE + "service_definition_parameters.html")
def service_running_below_desired(facts: Facts, prior: Prior) -> Iterator[Result]:
    """runningCount below desiredCount is the symptom users feel first (capacity lost,
    latency up); the playbooks then look for why. A service with no running task at all
    is an outage, so its finding is critical. The counts are one instant: when Container
    Insights RunningTaskCount/DesiredTaskCount series are in the bundle (read when present,
    not required) the check also says whether the service stayed below desired for the
    whole window, and fails on that even if the counts just caught up."""
    return rollout.running_below_desired(facts)


@check(id="service-pending-tasks", area="service", severity=Severity.HIGH,
       title="Service tasks stay PENDING",
       needs=("services", "tasks"),
       docs=_GUIDE + "task-lifecycle-explanation.html")
def service_pending_tasks(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A task that stays PENDING (or PROVISIONING) for more than five minutes (createdAt
    vs collected_at) is waiting for something that will not come by itself: capacity, an
    ENI, a host port, an image. pendingCount > 0 with no PENDING task to date it fails at
    medium severity, since it may be a deployment that is just starting."""
    return rollout.pending_tasks(facts)


@check(id="service-deployment-stuck", area="service", severity=Severity.HIGH,
       title="Service deployment failed or is stuck",
       needs=("services",),
       docs=_GUIDE + "deployment-type-ecs.html")
def service_deployment_stuck(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A rolling deployment whose rolloutState is FAILED, still IN_PROGRESS after 30
    minutes, or that leaves several deployments side by side for 30 minutes, means the new
    revision cannot reach a steady state (tasks crash, never get healthy, or cannot be
    placed). The age comes from the primary deployment's createdAt vs collected_at."""
    return rollout.deployment_stuck(facts)


@check(id="service-circuit-breaker-off", area="service", severity=Severity.LOW,
       title="Deployment circuit breaker is off",
       needs=("services",),
       docs=_GUIDE + "deployment-circuit-breaker.html")
def service_circuit_breaker_off(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without deploymentCircuitBreaker.enable, a rolling (ECS controller) deployment of a
    revision whose tasks never start retries for hours instead of failing fast and, with
    rollback, returning to the last good revision. CODE_DEPLOY and EXTERNAL controllers do
    not use it and are skipped."""
    return rollout.circuit_breaker_off(facts)


@check(id="service-health-check-grace-too-short", area="service", severity=Severity.HIGH,
       title="Health check grace period shorter than the container's start-up",
       needs=("services", "task_definitions", "tasks"),
       docs=_GUIDE + "troubleshoot-service-load-balancers.html")
def service_health_check_grace_too_short(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The load balancer starts judging a task when healthCheckGracePeriodSeconds ends; an
    application still warming up is declared unhealthy and stopped, again and again. Two
    signals: the load-balanced container's healthCheck.startPeriod (its own declared start
    time) above the grace, or tasks stopped for "failed ELB health checks" after running
    less than grace + the target group's UnhealthyThresholdCount × interval (ALB defaults
    2 × 30 s when target_groups were not collected) + 30 s registration slack. The second
    alone can also mean the app never gets healthy (wrong path, blocked security group),
    which the playbook rules out with the network checks."""
    return rollout.grace_too_short(facts)


@check(id="service-event-placement-failures", area="service", severity=Severity.HIGH,
       title="Service events: tasks cannot be placed",
       needs=("services",), docs=_EVENTS_DOCS)
def service_event_placement_failures(facts: Facts, prior: Prior) -> Iterator[Result]:
    """ECS writes "was unable to place a task because no container instance met all of its
    requirements" with its closest-match reason (CPU, memory, ENI, ports, attribute,
    placement constraint, no instances, agent): the scheduler names the capacity problem.
    The reason goes into data.reason and data.diagnosis so playbooks can tell
    insufficient-cluster-capacity from eni-exhaustion, host-port-conflict,
    placement-constraint-unsatisfiable and agent-disconnected. Current = within the last
    hour, or within six hours with no steady state since (ECS hides duplicates that long)."""
    return event_results(facts, frozenset({"placement-failure"}), "placement failure")


@check(id="service-event-start-failures", area="service", severity=Severity.HIGH,
       title="Service events: tasks fail to start or deployments fail",
       needs=("services",), docs=_GUIDE + "service-throttle-logic.html")
def service_event_start_failures(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The event "is unable to consistently start tasks successfully" means the scheduler has
    begun backing off between launch attempts; "deployment failed: tasks failed to start" and
    "rolling back to deployment" mean the circuit breaker gave up on a revision. The
    stopped tasks say why they failed; this check says the service has stopped trying."""
    return event_results(
        facts, frozenset({"start-failures", "deployment-failed", "deployment-rollback"}),
        "start failure")


@check(id="service-event-unhealthy-targets", area="service", severity=Severity.MEDIUM,
       title="Service events: tasks fail load balancer or container health checks",
       needs=("services",),
       docs=_GUIDE + "service-unhealthy-event-messages.html")
def service_event_unhealthy_targets(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The events "is unhealthy in (target-group …) due to (reason …)" and "failed container
    health checks" name the failing check and its reason (HTTP codes, timeout, target group
    deleted); ECS replaces such tasks, so they surface as churn and reduced capacity."""
    return event_results(facts, frozenset({"lb-unhealthy", "container-unhealthy"}),
                         "health check failure")


@check(id="service-event-scheduler-blocked", area="service", severity=Severity.HIGH,
       title="Service events: quotas, throttling or deployment settings block the scheduler",
       needs=("services",), docs=_EVENTS_DOCS)
def service_event_scheduler_blocked(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Some events say the scheduler is blocked by something other than the cluster's
    capacity: account quotas (tasks, vCPUs, task size, PROVISIONING tasks), API throttling,
    Fargate capacity unavailable, an internal error (often an unsupported AZ), deployment
    settings that leave no room (minimumHealthyPercent/maximumPercent), task scale-in
    protection, an agent that never started, or a deployment that could not launch all its
    tasks. Each is fixed somewhere else than the task definition."""
    return event_results(
        facts, frozenset({"throttled", "quota-limit", "capacity-unavailable", "internal-error",
                          "deployment-config-blocked", "task-protection", "agent-timeout",
                          "launch-incomplete"}),
        "scheduler-blocking")


@check(id="service-placement-distinct-instance", area="service", severity=Severity.HIGH,
       title="Placement distinctInstance needs more instances than the cluster has",
       needs=("services", "container_instances"),
       docs=_GUIDE + "task-placement-constraints.html")
def service_placement_distinct_instance(facts: Facts, prior: Prior) -> Iterator[Result]:
    """With a distinctInstance constraint each task needs its own container instance: more
    desired tasks than ACTIVE instances with a connected agent (that also satisfy the
    service's memberOf expressions) leaves the surplus PENDING forever."""
    return placement.distinct_instance(facts)


@check(id="service-placement-member-of", area="service", severity=Severity.HIGH,
       title="Placement memberOf constraint matches no container instance",
       needs=("services", "container_instances"),
       docs=_GUIDE + "cluster-query-language.html")
def service_placement_member_of(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A memberOf expression (service or task definition) that no ACTIVE, connected
    container instance satisfies makes every placement fail with "MemberOf placement
    constraint unsatisfied" — typically an instance type or AZ that the ASG no longer
    launches, or a custom attribute nobody set. The expression is evaluated with the
    cluster query language (checks/lib/placement_expr.py); one it cannot parse is `unknown`."""
    return placement.member_of(facts)


@check(id="service-placement-binpack-hotspot", area="service", severity=Severity.MEDIUM,
       title="Binpack placement piles the service's tasks on one instance",
       needs=("services", "tasks", "container_instances"),
       docs=_GUIDE + "task-placement-strategies.html")
def service_placement_binpack_hotspot(facts: Facts, prior: Prior) -> Iterator[Result]:
    """binpack fills the fullest instance first; for a busy service that means most of its
    tasks compete for one host's CPU and network while other instances sit idle, and one
    instance failure takes most of the service down. Fails when one instance runs more
    than half of the service's RUNNING tasks (at least two) while another runs none."""
    return placement.binpack_hotspot(facts)


@check(id="service-tasks-single-az", area="service", severity=Severity.MEDIUM,
       title="All running tasks of the service are in one Availability Zone",
       needs=("services", "tasks"),
       docs=_GUIDE + "strategy-examples.html")
def service_tasks_single_az(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A service with two or more desired tasks is meant to survive losing a host or an
    AZ; when every RUNNING task sits in the same AZ (task availabilityZone, or the
    ecs.availability-zone attribute of its container instance) one AZ event is an outage."""
    return placement.tasks_single_az(facts)


@check(id="service-subnets-single-az", area="service", severity=Severity.MEDIUM,
       title="The service's awsvpc subnets are all in one Availability Zone",
       needs=("services", "subnets"),
       docs=_GUIDE + "task-networking-awsvpc.html")
def service_subnets_single_az(facts: Facts, prior: Prior) -> Iterator[Result]:
    """ECS can only spread awsvpc tasks over the AZs of the subnets the service names;
    subnets all in one AZ make every task single-AZ no matter the placement strategy."""
    return placement.subnets_single_az(facts)


@check(id="service-autoscaling-missing", area="service", severity=Severity.MEDIUM,
       title="Service runs hot without auto scaling",
       needs=("services", "scalable_targets", "scaling_policies"),
       docs=_GUIDE + "service-auto-scaling.html")
def service_autoscaling_missing(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A service without a scalable target and policy (or with scale-out suspended) keeps
    its task count while load grows. It fails only when it runs hot: AWS/ECS CPU or memory
    utilisation ≥ 80 % for the last three datapoints (metrics are read when present; without
    them the result is unknown)."""
    return scaling.autoscaling_missing(facts)


@check(id="service-autoscaling-at-max", area="service", severity=Severity.HIGH,
       title="Service auto scaling is at its MaxCapacity under load",
       needs=("services", "scalable_targets"),
       docs=_GUIDE + "service-auto-scaling.html")
def service_autoscaling_at_max(facts: Facts, prior: Prior) -> Iterator[Result]:
    """At MaxCapacity the scaling policy can add nothing more: if the service is also hot
    (CPU/memory ≥ 80 % for three datapoints) or has pending tasks, the ceiling — not the
    policy — is what limits it."""
    return scaling.autoscaling_at_max(facts)


@check(id="service-scaling-policy-unusual", area="service", severity=Severity.LOW,
       title="Scaling policy target or cooldown is unusual",
       needs=("scaling_policies",),
       docs="https://docs.aws.amazon.com/autoscaling/application/APIReference/"
            "API_TargetTrackingScalingPolicyConfiguration.html")
def service_scaling_policy_unusual(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A CPU/memory target above 90 % leaves no headroom for the minutes a scale-out takes
    (and ECS reports utilisation against reservations, so it can sit above 100 %); below
    10 % it never scales in. A scale-out cooldown above 300 s (Application Auto Scaling's
    default for ECS, per the API reference) makes the service scale out too slowly."""
    return scaling.scaling_policy_unusual(facts)


@check(id="service-asg-at-max", area="service", severity=Severity.HIGH,
       title="Tasks pend while the capacity provider's Auto Scaling group is at MaxSize",
       needs=("services", "capacity_providers", "auto_scaling_groups"),
       docs=_GUIDE + "asg-capacity-providers.html")
def service_asg_at_max(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Managed scaling adds instances for pending tasks only up to the Auto Scaling group's
    MaxSize; when every ASG behind the service's capacity providers (its strategy, else the
    cluster default) is at MaxSize, pending tasks wait for a human to raise it."""
    return scaling.asg_at_max(facts)
