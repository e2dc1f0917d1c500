from __future__ import annotations

from typing import Any

import pytest

from checker import graph
from checker.facts import Facts
from tests import builders as b
from tests import builders_service as s
from tests import builders_taskset as ts
from tests.checks.harness import REGISTRY, run_check, statuses

WEB = b.service_arn("prod", "web")
CI = "ECS/ContainerInsights"


def _one(check_id: str, bundle: dict[str, Any]) -> Any:
    (finding,) = [f for f in run_check(check_id, bundle) if f.service == WEB]
    return finding


# -- running below desired -------------------------------------------------------------------
@pytest.mark.parametrize(("desired", "running", "status", "severity"), [
    (4, 3, "fail", "high"),
    (2, 0, "fail", "critical"),
    (3, 3, "pass", "high"),
    (0, 0, "skipped", "high"),
])
def test_service_running_below_desired(desired: int, running: int, status: str,
                                       severity: str) -> None:
    bundle = b.ecs_bundle([b.service("web", desired=desired, running=running)], [])
    (f,) = run_check("service-running-below-desired", bundle)
    assert (f.status.value, f.severity.value) == (status, severity)
    if status == "fail":
        assert f"running {running} of {desired} desired" in f.message
        assert f.data["affected_tasks"] == desired - running
        assert "window could not be checked" in f.message and not f.data["window_checked"]


@pytest.mark.parametrize(("running_now", "series_running", "status", "whole"), [
    (2, [2, 2, 2, 2], "fail", True),    # below desired (4) for the whole window
    (2, [4, 4, 3, 2], "fail", False),   # a recent drop: at desired earlier in the window
    (4, [2, 2, 2, 2], "fail", True),    # counts just caught up; the window says otherwise
    (4, [4, 4, 4, 4], "pass", False),
])
def test_running_below_desired_reads_container_insights(
        running_now: int, series_running: list[float], status: str, whole: bool) -> None:
    bundle = s.with_metrics(
        b.ecs_bundle([b.service("web", desired=4, running=running_now)], []),
        s.series(CI, "RunningTaskCount", series_running),
        s.series(CI, "DesiredTaskCount", [4.0] * len(series_running)))
    f = _one("service-running-below-desired", bundle)
    assert f.status.value == status and f.data["window_checked"]
    assert f.data["below_whole_window"] is whole
    assert ("for the whole 15m" in f.message) is whole


# -- pending tasks ----------------------------------------------------------------------------
@pytest.mark.parametrize(("tasks", "pending", "status", "severity"), [
    ([b.task("web", status="PENDING", createdAt=b.ago(minutes=12))], 1, "fail", "high"),
    ([b.task("web", status="PROVISIONING", createdAt=b.ago(minutes=1))], 1, "pass", "high"),
    ([], 2, "fail", "medium"),   # pendingCount without a PENDING task to date it
    ([b.task("web")], 0, "pass", "high"),
])
def test_service_pending_tasks(tasks: list[dict[str, Any]], pending: int, status: str,
                               severity: str) -> None:
    bundle = b.ecs_bundle([b.service("web", desired=2, running=2, pending=pending)], tasks)
    f = _one("service-pending-tasks", bundle)
    assert (f.status.value, f.severity.value) == (status, severity)
    if status == "fail" and tasks:
        assert "pending for more than 5m (oldest 12m" in f.message


# -- deployments --------------------------------------------------------------------------------
CB_REASON = "ECS deployment circuit breaker: tasks failed to start."


@pytest.mark.parametrize(("deployments", "status", "text"), [
    ([s.deployment(rollout="FAILED", reason=CB_REASON, minutes_ago=20, failed_tasks=6)],
     "fail", "FAILED: ECS deployment circuit breaker: tasks failed to start"),
    ([s.deployment(rollout="IN_PROGRESS", minutes_ago=45)], "fail", "IN_PROGRESS for 45m"),
    ([s.deployment(rollout="IN_PROGRESS", minutes_ago=10)], "pass", "PRIMARY/IN_PROGRESS"),
    ([s.deployment(rollout=None, minutes_ago=120, revision=2),
      s.deployment(status="ACTIVE", rollout=None, minutes_ago=900)],
     "fail", "2 deployments at once for 2h00m"),
    ([s.deployment()], "pass", "PRIMARY/COMPLETED"),
    ([], "skipped", "no deployments listed"),
])
def test_service_deployment_stuck(deployments: list[dict[str, Any]], status: str,
                                  text: str) -> None:
    bundle = b.ecs_bundle([b.service("web", deployments=deployments)], [])
    f = _one("service-deployment-stuck", bundle)
    assert f.status.value == status and text in f.message


@pytest.mark.parametrize(("extra", "status"), [
    ({"deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": False,
                                                               "rollback": False}}}, "fail"),
    ({}, "fail"),
    ({"deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True,
                                                               "rollback": True}}}, "pass"),
    ({"deploymentController": {"type": "CODE_DEPLOY"}}, "skipped"),
])
def test_service_circuit_breaker_off(extra: dict[str, Any], status: str) -> None:
    bundle = b.ecs_bundle([b.service("web", **extra)], [])
    assert statuses("service-circuit-breaker-off", bundle)[WEB] == status


# -- health check grace ---------------------------------------------------------------------
ELB_REASON = ("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:"
              "us-east-1:123456789012:targetgroup/prod-web/69ffe37c0167f71c)")


def _elb_kill(uptime_s: float) -> dict[str, Any]:
    return b.task("web", status="STOPPED", started=b.ago(minutes=10, seconds=uptime_s),
                  stopped=b.ago(minutes=10), stop_code="ServiceSchedulerInitiated",
                  reason=ELB_REASON)


def _grace_bundle(grace: int, start_period: int | None, tasks: list[dict[str, Any]],
                  **resources: Any) -> dict[str, Any]:
    hc = {"command": ["CMD-SHELL", "curl -f localhost:8080/healthz"], "interval": 30,
          "timeout": 5, "retries": 3}
    if start_period is not None:
        hc["startPeriod"] = start_period
    td = b.task_definition("web", containers=[b.container_def("web", memory=512,
                                                              healthCheck=hc)])
    svc = b.service("web", healthCheckGracePeriodSeconds=grace, loadBalancers=[
        {"targetGroupArn": s.tg_arn(), "containerName": "web", "containerPort": 8080}])
    return b.bundle(clusters=[b.cluster()], services=[svc], tasks=tasks,
                    task_definitions=[td], **resources)


@pytest.mark.parametrize(("grace", "start_period", "tasks", "status", "severity"), [
    (30, 120, [], "fail", "medium"),                    # declared start-up > grace
    (0, None, [_elb_kill(70)], "fail", "high"),         # killed before it could get healthy
    (120, 60, [_elb_kill(7200)], "pass", "high"),       # ran for hours, then went unhealthy
    (60, 60, [], "pass", "high"),
])
def test_service_health_check_grace_too_short(grace: int, start_period: int | None,
                                              tasks: list[dict[str, Any]], status: str,
                                              severity: str) -> None:
    f = _one("service-health-check-grace-too-short", _grace_bundle(grace, start_period, tasks))
    assert (f.status.value, f.severity.value) == (status, severity)
    if status == "fail":
        assert f"healthCheckGracePeriodSeconds {grace}s too short" in f.message


def test_grace_uses_the_target_group_health_check_timing() -> None:
    # 3 × 10 s checks + 30 s slack = 60 s: a kill after 80 s is past grace + checks.
    tg = s.target_group(s.tg_arn(), interval=10, unhealthy=3)
    bundle = _grace_bundle(0, None, [_elb_kill(80)], target_groups=[tg])
    assert _one("service-health-check-grace-too-short", bundle).status.value == "pass"
    # with the ALB defaults (2 × 30 s + 30 s = 90 s) the same kill is too early
    f = _one("service-health-check-grace-too-short", _grace_bundle(0, None, [_elb_kill(80)]))
    assert f.status.value == "fail" and "2×30s default checks" in f.message


def test_grace_skips_services_without_load_balancer() -> None:
    bundle = b.ecs_bundle([b.service("web")], [])
    assert statuses("service-health-check-grace-too-short", bundle)[WEB] == "skipped"


# -- service events -----------------------------------------------------------------------
PLACE = ("(service web) was unable to place a task because no container instance met all of "
         "its requirements. The closest matching (container-instance "
         "3f4de1c5-ffdd-4954-af7e-75b4be0c8841) {}. For more information, see the "
         "Troubleshooting section of the Amazon ECS Developer Guide.")
STEADY = "(service web) has reached a steady state."


def _events_bundle(*events: dict[str, Any], pending: int = 1) -> dict[str, Any]:
    return b.ecs_bundle([b.service("web", desired=3, running=2, pending=pending,
                                   events=list(events))], [])


@pytest.mark.parametrize(("detail", "reason", "diagnosis"), [
    ("has insufficient memory available", "insufficient-memory",
     "insufficient-cluster-capacity"),
    ("has insufficient CPU units available", "insufficient-cpu",
     "insufficient-cluster-capacity"),
    ('encountered error "RESOURCE:ENI"', "eni", "eni-exhaustion"),
    ("is already using a port required by your task", "port-in-use", "host-port-conflict"),
    ("is missing an attribute required by your task", "missing-attribute",
     "placement-constraint-unsatisfiable"),
    ('encountered error "MemberOf placement constraint unsatisfied."', "placement-constraint",
     "placement-constraint-unsatisfiable"),
    ('encountered error "AGENT"', "agent-disconnected", "agent-disconnected"),
])
def test_service_event_placement_failures_reason(detail: str, reason: str,
                                                 diagnosis: str) -> None:
    f = _one("service-event-placement-failures",
             _events_bundle(s.event(PLACE.format(detail), 12), s.event(STEADY, 200)))
    assert f.status.value == "fail"
    assert (f.data["reason"], f.data["diagnosis"]) == (reason, diagnosis)
    assert f.data["latest"]["container_instance"] == "3f4de1c5-ffdd-4954-af7e-75b4be0c8841"
    assert f.data["affected_tasks"] == 1 and "latest 12m ago" in f.message


@pytest.mark.parametrize(("events", "status"), [
    # ECS hides duplicates for 6 h: 3 h old and unresolved is still going on
    ([s.event(PLACE.format("has insufficient memory available"), 180)], "fail"),
    ([s.event(STEADY, 120), s.event(PLACE.format("has insufficient memory available"), 180)],
     "pass"),
    ([s.event(PLACE.format("has insufficient memory available"), 480)], "pass"),
    # within the last hour counts even when a steady state followed
    ([s.event(STEADY, 10), s.event(PLACE.format("has insufficient memory available"), 30)],
     "fail"),
    ([s.event(STEADY, 10)], "pass"),
    ([s.event("(service web) was unable to place a task because no container instance met "
              "all of its requirements. Reason: No Container Instances were found in your "
              "cluster.", 5)], "fail"),
])
def test_service_event_placement_failures_recency(events: list[dict[str, Any]],
                                                  status: str) -> None:
    f = _one("service-event-placement-failures", _events_bundle(*events))
    assert f.status.value == status


@pytest.mark.parametrize(("check_id", "message", "reason"), [
    ("service-event-start-failures", "(service web) is unable to consistently start tasks "
     "successfully. For more information, see the Troubleshooting section.", None),
    ("service-event-start-failures", "(service web) (deployment ecs-svc/9214183178940874271) "
     "deployment failed: tasks failed to start.", "tasks-failed-to-start"),
    ("service-event-unhealthy-targets", "(service web) (task 0b4c6b0e47a94c5c8c1b7b5f3a3e1d2c) "
     "(port 8080) is unhealthy in (target-group arn:aws:elasticloadbalancing:us-east-1:"
     "123456789012:targetgroup/prod-web/69ffe37c0167f71c) due to (reason Health checks failed "
     "with these codes: [502]).", "http-codes"),
    ("service-event-unhealthy-targets", "(service web) (task 0b4c6b0e47a94c5c8c1b7b5f3a3e1d2c) "
     "failed container health checks.", None),
    ("service-event-scheduler-blocked", "(service web) operations are being throttled. Will "
     "try again later.", None),
    ("service-event-scheduler-blocked", "(service web) was unable to place a task. Reason: "
     "You've reached the limit on the number of tasks you can run concurrently", "task-limit"),
    ("service-event-scheduler-blocked", "(service web) was unable to stop or start tasks "
     "during a deployment because of the service deployment configuration. Update the "
     "minimumHealthyPercent or maximumPercent value and try again.", None),
])
def test_service_event_checks_fail(check_id: str, message: str, reason: str | None) -> None:
    f = _one(check_id, _events_bundle(s.event(message, 8), s.event(STEADY, 300)))
    assert f.status.value == "fail" and f.data["reason"] == reason
    assert f.data["latest"]["message"] == message


@pytest.mark.parametrize("check_id", [
    "service-event-start-failures", "service-event-unhealthy-targets",
    "service-event-scheduler-blocked", "service-event-placement-failures"])
def test_service_event_checks_pass_on_steady_services(check_id: str) -> None:
    bundle = _events_bundle(s.event(STEADY, 5), s.event(
        "(service web) has started 1 tasks: (task 0b4c6b0e47a94c5c8c1b7b5f3a3e1d2c).", 30))
    assert _one(check_id, bundle).status.value == "pass"


# -- placement -------------------------------------------------------------------------------
A, B_, C = "i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002", "i-0a1b2c3d4e5f60003"


def _ec2_bundle(svc_extra: dict[str, Any], cis: list[dict[str, Any]],
                tasks: list[dict[str, Any]] | None = None, desired: int = 2,
                td_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    svc = b.service("web", desired=desired, launchType="EC2", **svc_extra)
    return b.bundle(clusters=[b.cluster()], services=[svc], tasks=tasks or [],
                    task_definitions=[b.task_definition("web", **(td_extra or {}))],
                    container_instances=cis)


DISTINCT = {"placementConstraints": [{"type": "distinctInstance"}]}


@pytest.mark.parametrize(("desired", "cis", "status"), [
    (3, [s.container_instance(A), s.container_instance(B_),
         s.container_instance(C, connected=False)], "fail"),  # 2 usable instances for 3 tasks
    (2, [s.container_instance(A), s.container_instance(B_)], "pass"),
    (3, [s.container_instance(A), s.container_instance(B_, status="DRAINING"),
         s.container_instance(C)], "fail"),
])
def test_service_placement_distinct_instance(desired: int, cis: list[dict[str, Any]],
                                             status: str) -> None:
    f = _one("service-placement-distinct-instance", _ec2_bundle(DISTINCT, cis, desired=desired))
    assert f.status.value == status
    if status == "fail":
        assert f"distinctInstance needs {desired} instances but only 2" in f.message
        assert f.data["affected_tasks"] == desired - 2


def test_distinct_instance_counts_only_instances_that_satisfy_member_of() -> None:
    extra = {"placementConstraints": [
        {"type": "distinctInstance"},
        {"type": "memberOf", "expression": "attribute:ecs.availability-zone == us-east-1a"}]}
    cis = [s.container_instance(A), s.container_instance(B_, az="us-east-1b")]
    f = _one("service-placement-distinct-instance", _ec2_bundle(extra, cis))
    assert f.status.value == "fail" and f.data["instances"] == 1


def _member_of(expression: str) -> dict[str, Any]:
    return {"placementConstraints": [{"type": "memberOf", "expression": expression}]}


M5 = [s.container_instance(A), s.container_instance(B_, az="us-east-1b", attrs={"team": "a"})]


@pytest.mark.parametrize(("expression", "status"), [
    ("attribute:ecs.instance-type == t3.medium", "fail"),
    ("attribute:ecs.instance-type =~ m5.*", "pass"),
    ("attribute:ecs.instance-type in [t3.medium, t3.large]", "fail"),
    ("attribute:team exists and attribute:ecs.availability-zone != us-east-1b", "fail"),
    ("attribute:team == a or attribute:ecs.availability-zone == us-east-1c", "pass"),
    ("attribute:ecs.instance-type === t3", "unknown"),   # not the documented grammar
])
def test_service_placement_member_of(expression: str, status: str) -> None:
    f = _one("service-placement-member-of", _ec2_bundle(_member_of(expression), M5))
    assert f.status.value == status
    if status == "fail":
        assert "no ACTIVE instance satisfies memberOf" in f.message
    if status == "unknown":
        assert expression in f.message


def test_member_of_from_the_task_definition_names_the_seen_values() -> None:
    td_extra = {"placementConstraints": [
        {"type": "memberOf", "expression": "attribute:ecs.instance-type == t3.medium"}]}
    f = _one("service-placement-member-of", _ec2_bundle({}, M5, td_extra=td_extra))
    assert f.status.value == "fail" and "ecs.instance-type: m5.large ×2" in f.message


def test_member_of_skips_fargate_services() -> None:
    bundle = b.bundle(clusters=[b.cluster()], services=[b.service("web", **_member_of(
        "attribute:ecs.instance-type == t3.medium"))], container_instances=M5)
    assert statuses("service-placement-member-of", bundle)[WEB] == "skipped"


BINPACK = {"placementStrategy": [{"type": "binpack", "field": "memory"}]}


@pytest.mark.parametrize(("on_a", "on_b", "status"), [(4, 0, "fail"), (2, 2, "pass")])
def test_service_placement_binpack_hotspot(on_a: int, on_b: int, status: str) -> None:
    ci_a = s.container_instance(A, running=on_a)
    ci_b = s.container_instance(B_, running=on_b)
    tasks = [s.task_on("web", ci_a) for _ in range(on_a)] + [
        s.task_on("web", ci_b) for _ in range(on_b)]
    f = _one("service-placement-binpack-hotspot", _ec2_bundle(BINPACK, [ci_a, ci_b], tasks, 4))
    assert f.status.value == status
    if status == "fail":
        assert f"put 4 of 4 running tasks on {A} while 1 instance(s) run no task" in f.message


@pytest.mark.parametrize(("zones", "status"), [
    (["us-east-1a", "us-east-1a", "us-east-1a"], "fail"),
    (["us-east-1a", "us-east-1b", "us-east-1a"], "pass"),
])
def test_service_tasks_single_az(zones: list[str], status: str) -> None:
    tasks = [b.task("web", availabilityZone=z) for z in zones]
    bundle = b.ecs_bundle([b.service("web", desired=3)], tasks)
    assert statuses("service-tasks-single-az", bundle)[WEB] == status


def test_single_az_reads_the_container_instance_attribute() -> None:
    cis = [s.container_instance(A), s.container_instance(B_)]  # both us-east-1a
    f = _one("service-tasks-single-az", _ec2_bundle({}, cis, [s.task_on("web", c) for c in cis]))
    assert f.status.value == "fail" and f.data["zone"] == "us-east-1a"
    bundle = b.ecs_bundle([b.service("web")], [b.task("web"), b.task("web")])
    assert statuses("service-tasks-single-az", bundle)[WEB] == "unknown"


def _awsvpc(*subnet_ids: str) -> dict[str, Any]:
    return {"networkConfiguration": {"awsvpcConfiguration": {
        "subnets": list(subnet_ids), "securityGroups": ["sg-0a1b2c3d"],
        "assignPublicIp": "DISABLED"}}}


SUBNETS = [s.subnet("subnet-0a1", "us-east-1a"), s.subnet("subnet-0a2", "us-east-1a"),
           s.subnet("subnet-0b1", "us-east-1b")]


@pytest.mark.parametrize(("subnet_ids", "status"), [
    (("subnet-0a1", "subnet-0a2"), "fail"),
    (("subnet-0a1", "subnet-0b1"), "pass"),
    (("subnet-0a1", "subnet-0ff"), "unknown"),   # one subnet not in the bundle
])
def test_service_subnets_single_az(subnet_ids: tuple[str, ...], status: str) -> None:
    bundle = b.bundle(clusters=[b.cluster()], services=[b.service("web", **_awsvpc(
        *subnet_ids))], subnets=SUBNETS)
    assert statuses("service-subnets-single-az", bundle)[WEB] == status


# -- auto scaling -----------------------------------------------------------------------------
HOT = s.series("AWS/ECS", "CPUUtilization", [40, 85, 91, 88, 93])
COOL = s.series("AWS/ECS", "CPUUtilization", [40, 55, 61, 48, 52])


def _scaling_bundle(targets: list[dict[str, Any]], policies: list[dict[str, Any]],
                    *metrics: dict[str, Any], desired: int = 4,
                    pending: int = 0) -> dict[str, Any]:
    bundle = b.bundle(clusters=[b.cluster()], services=[b.service(
        "web", desired=desired, pending=pending)], scalable_targets=targets,
        scaling_policies=policies)
    if metrics:
        s.with_metrics(bundle, *metrics)
    else:
        del bundle["metrics"]
    return bundle


@pytest.mark.parametrize(("targets", "policies", "metrics", "status"), [
    ([], [], [HOT], "fail"),
    ([s.scalable_target("web")], [], [HOT], "fail"),                   # target, no policy
    ([s.scalable_target("web", suspended_out=True)], [s.target_tracking("web")], [HOT], "fail"),
    ([], [], [COOL], "pass"),
    ([s.scalable_target("web")], [s.target_tracking("web")], [HOT], "pass"),
    ([], [], [], "unknown"),                                          # no metrics collected
])
def test_service_autoscaling_missing(targets: list[dict[str, Any]],
                                     policies: list[dict[str, Any]],
                                     metrics: list[dict[str, Any]], status: str) -> None:
    f = _one("service-autoscaling-missing", _scaling_bundle(targets, policies, *metrics))
    assert f.status.value == status
    if status == "fail":
        assert "CPUUtilization Average ≥ 80% for the last 4 datapoints" in f.message


@pytest.mark.parametrize(("desired", "pending", "metrics", "status"), [
    (10, 2, [COOL], "fail"),     # at max with tasks pending
    (10, 0, [HOT], "fail"),      # at max and hot
    (10, 0, [COOL], "pass"),     # at max but idle
    (10, 0, [], "unknown"),      # at max, cannot tell the load
    (5, 3, [HOT], "pass"),       # room left: the policy can still scale
])
def test_service_autoscaling_at_max(desired: int, pending: int,
                                    metrics: list[dict[str, Any]], status: str) -> None:
    bundle = _scaling_bundle([s.scalable_target("web", max_capacity=10)],
                             [s.target_tracking("web")], *metrics, desired=desired,
                             pending=pending)
    f = _one("service-autoscaling-at-max", bundle)
    assert f.status.value == status
    if status == "fail":
        assert "desired 10 = MaxCapacity 10" in f.message


@pytest.mark.parametrize(("policy", "status", "text"), [
    (s.target_tracking("web", target=95.0), "fail", "outside 10–90%"),
    (s.target_tracking("web", target=5.0, metric="ECSServiceAverageMemoryUtilization"), "fail",
     "outside 10–90%"),
    (s.target_tracking("web", scale_out_cooldown=600), "fail", "scale-out cooldown 600s > 300s"),
    (s.target_tracking("web", target=70.0, scale_out_cooldown=None), "pass", "usual range"),
])
def test_service_scaling_policy_unusual(policy: dict[str, Any], status: str, text: str) -> None:
    bundle = _scaling_bundle([s.scalable_target("web")], [policy])
    (f,) = run_check("service-scaling-policy-unusual", bundle)
    assert f.status.value == status and text in f.message and f.service == WEB


@pytest.mark.parametrize(("asg", "pending", "status"), [
    (s.auto_scaling_group("prod-ecs", desired=6, max_size=6), 3, "fail"),
    (s.auto_scaling_group("prod-ecs", desired=3, max_size=6), 3, "pass"),
    (s.auto_scaling_group("prod-ecs", desired=6, max_size=6), 0, "pass"),
    (None, 3, "unknown"),        # the capacity provider's ASG was not collected
])
def test_service_asg_at_max(asg: dict[str, Any] | None, pending: int, status: str) -> None:
    bundle = b.bundle(
        clusters=[s.ec2_cluster(providers=("prod-ec2",))],
        services=[b.service("web", desired=4, running=4 - pending, pending=pending,
                            launchType="EC2")],
        capacity_providers=[s.capacity_provider("prod-ec2", "prod-ecs")],
        auto_scaling_groups=[asg] if asg else [])
    f = _one("service-asg-at-max", bundle)
    assert f.status.value == status
    if status == "fail":
        assert "3 task(s) pending and every capacity provider ASG is at MaxSize" in f.message


def test_asg_at_max_follows_the_service_capacity_provider_strategy() -> None:
    svc = b.service("web", desired=4, running=2, pending=2, capacityProviderStrategy=[
        {"capacityProvider": "prod-ec2", "weight": 1, "base": 0}])
    del svc["launchType"]  # a strategy and a launch type are mutually exclusive
    bundle = b.bundle(clusters=[b.cluster()], services=[svc],
                      capacity_providers=[s.capacity_provider("prod-ec2", "prod-ecs")],
                      auto_scaling_groups=[s.auto_scaling_group("prod-ecs", desired=4,
                                                                max_size=4)])
    assert statuses("service-asg-at-max", bundle)[WEB] == "fail"


def test_asg_at_max_skips_fargate_services() -> None:
    bundle = b.bundle(clusters=[b.cluster()], services=[b.service("web", pending=2)],
                      capacity_providers=[], auto_scaling_groups=[])
    assert statuses("service-asg-at-max", bundle)[WEB] == "skipped"


# -- odd input ------------------------------------------------------------------------------
def test_service_checks_survive_messy_hand_written_bundles() -> None:
    """Strings for numbers, nulls for lists, odd nesting: every service check still answers
    (pass/fail/unknown/skipped), none fails internally."""
    messy = dict(b.service("web"), desiredCount="3", runningCount=None, pendingCount="1 task",
                 deployments=None, events=[{"message": None}, "garbage", {"createdAt": 5}],
                 loadBalancers=[{"containerName": None}], placementConstraints=None,
                 placementStrategy=[{"type": "binpack"}], launchType="EC2",
                 deploymentConfiguration={"deploymentCircuitBreaker": "yes"},
                 networkConfiguration={"awsvpcConfiguration": {"subnets": None}},
                 capacityProviderStrategy="prod-ec2", taskDefinition=None)
    bundle = b.bundle(clusters=[b.cluster()], services=[messy], task_definitions=[],
                      tasks=[dict(b.task("web"), createdAt="yesterday", startedAt=None)],
                      container_instances=[{"containerInstanceArn": "x", "attributes": "a"}],
                      subnets=[], scalable_targets=[{"ResourceId": "service/prod/web",
                                                     "MaxCapacity": "10"}],
                      scaling_policies=[{"ResourceId": "service/prod/web",
                                         "TargetTrackingScalingPolicyConfiguration": None}],
                      capacity_providers=[], auto_scaling_groups=[])
    findings = graph.run(REGISTRY, Facts(bundle))
    mine = [f for f in findings if REGISTRY[f.check].area == "service"]
    assert len({f.check for f in mine}) == len([s for s in REGISTRY if s.area == "service"])
    assert not [(f.check, f.message) for f in mine if "internal_error" in f.data]


# -- fargate-platform-version-old -------------------------------------------------------------
def _platform(services: list[dict[str, Any]], tasks: list[dict[str, Any]] | None = None,
              collected_at: str | None = None) -> list[Any]:
    bundle = b.ecs_bundle(services, tasks or [])
    if collected_at:
        bundle["collected_at"] = collected_at
    return run_check("fargate-platform-version-old", bundle)


@pytest.mark.parametrize(("version", "task_versions", "collected_at", "status", "severity"), [
    ("1.4.0", ["1.4.0"], None, "pass", "medium"),
    ("LATEST", ["1.4.0", "1.4.0"], None, "pass", "medium"),
    (None, [], None, "pass", "medium"),                      # absent means LATEST
    ("1.3.0", ["1.3.0"], None, "fail", "high"),              # retired on 2026-03-16
    ("1.3.0", [], "2026-01-10T10:00:00+00:00", "fail", "medium"),  # old, not retired yet
    ("LATEST", ["1.4.0", "1.3.0"], None, "fail", "high"),    # tasks from before LATEST moved
    ("1.4", ["1.4.0"], None, "pass", "medium"),
    ("next", [], None, "unknown", "medium"),
])
def test_fargate_platform_version_old(version: str | None, task_versions: list[str],
                                      collected_at: str | None, status: str,
                                      severity: str) -> None:
    extra = {"platformVersion": version} if version else {}
    tasks = [b.task("web", platformVersion=v) for v in task_versions]
    (f,) = _platform([b.service("web", **extra)], tasks, collected_at)
    assert (f.status.value, f.severity.value, f.service) == (status, severity, WEB)
    if status == "fail" and version == "1.3.0":
        assert f.message.startswith("service prod/web: pinned to 1.3.0")
        assert "current is 1.4.0" in f.message
        assert ("aws ecs update-service --cluster prod --service web --platform-version "
                "LATEST --force-new-deployment") in f.message
    if status == "fail" and version == "LATEST":
        assert "running tasks on 1.3.0 ×1" in f.message and f.data["affected_tasks"] == 1


def test_windows_platform_versions_are_their_own() -> None:
    """Windows 1.0.0 is current: Linux and Windows numbers are independent."""
    (f,) = _platform([b.service("web", platformVersion="1.0.0",
                                platformFamily="WINDOWS_SERVER_2022_CORE")])
    assert f.status.value == "pass" and f.data["family"] == "windows"
    (f,) = _platform([b.service("web", platformVersion="1.0.0")])
    assert f.status.value == "fail" and f.data["family"] == "linux"


def test_platform_version_is_skipped_off_fargate() -> None:
    (f,) = _platform([b.service("web", launchType="EC2", platformVersion="1.3.0")])
    assert f.status.value == "skipped"


def test_a_task_sets_platform_version_is_its_services() -> None:
    svc = ts.external_service("web", ts.task_set("web", "1", platformVersion="1.4.0"),
                              ts.task_set("web", "2", status="ACTIVE",
                                          platformVersion="1.3.0"))
    (f,) = _platform([svc])
    assert (f.status.value, f.service) == ("fail", WEB)
    assert f.data["pinned"] == ["task set ecs-svc/2 1.3.0"]
    assert "create a new task set with --platform-version LATEST" in f.message


def test_standalone_fargate_tasks_on_an_old_version_are_reported() -> None:
    old = b.task("batch", group="family:batch", platformVersion="1.3.0")
    new = b.task("batch", group="family:batch", platformVersion="1.4.0")
    found = _platform([b.service("web")], [old, new])
    assert [(f.resource, f.status.value) for f in found if f.service is None] == [
        (old["taskArn"], "fail")]
