from __future__ import annotations

from typing import Any

import pytest

from checks.lib.knowledge import table
from checks.lib.stop_reasons import classify, shorten
from tests import builders as b
from tests.checks.harness import run_check, statuses

WEB = b.service_arn("prod", "web")


def _bundle(*tasks: dict, desired: int = 4, running: int = 3) -> dict:
    return b.ecs_bundle([b.service("web", desired=desired, running=running)], list(tasks))


@pytest.mark.parametrize(("tasks", "expected"), [
    ([b.oom_task("web", 30), b.oom_task("web", 40)], "fail"),
    # OOM text with exit code 0 still counts: ECS reports OOM kills inconsistently.
    ([b.task("web", status="STOPPED", stop_code="EssentialContainerExited",
             containers=[b.container("web", 0, b.OOM_REASON)])], "fail"),
    # exit 137 nobody asked for: the OOM killer without its reason text.
    ([b.task("web", status="STOPPED", stop_code="EssentialContainerExited",
             containers=[b.container("web", 137)])], "fail"),
    # exit 137 after a requested stop is the stopTimeout SIGKILL, not OOM.
    ([b.task("web", status="STOPPED", stop_code="ServiceSchedulerInitiated",
             reason="Scaling activity initiated by (deployment ecs-svc/123)",
             containers=[b.container("web", 137)])], "pass"),
    ([b.crash_task("web")], "pass"),
    ([b.task("web")], "skipped"),  # nothing stopped at all
])
def test_stopped_task_oom(tasks: list, expected: str) -> None:
    assert {f.status.value for f in run_check("stopped-task-oom", _bundle(*tasks))} == {expected}


def test_oom_message_names_service_numbers_and_limit() -> None:
    td = b.task_definition("web", containers=[b.container_def("web", memory=1024)])
    bundle = b.ecs_bundle([b.service("web", desired=4, running=3)],
                          [b.oom_task("web", 300), b.oom_task("web", 420)], [td])
    (f,) = run_check("stopped-task-oom", bundle)
    assert f.status.value == "fail"
    assert "service prod/web: 2 of 2 stopped tasks OOM-killed" in f.message
    assert "memory hard limit 1024 MiB" in f.message
    assert f.data["count"] == 2 and f.data["affected_tasks"] == 2


@pytest.mark.parametrize(("uptimes", "expected"), [
    ([300, 420, 510], "fail"),       # hours: leak signature
    ([3, 5, 4], "pass"),             # minutes after start: undersized
])
def test_oom_after_long_uptime(uptimes: list[int], expected: str) -> None:
    bundle = _bundle(*[b.oom_task("web", u) for u in uptimes])
    assert statuses("oom-after-long-uptime", bundle)[WEB] == expected


def test_oom_after_long_uptime_unknown_without_times() -> None:
    t = b.oom_task("web", 30)
    del t["startedAt"]
    assert statuses("oom-after-long-uptime", _bundle(t))[WEB] == "unknown"


@pytest.mark.parametrize(("tasks", "running", "expected"), [
    ([b.crash_task("web") for _ in range(3)], 1, "fail"),
    ([b.crash_task("web", 255) for _ in range(2)], 0, "fail"),  # nothing left running
    ([b.crash_task("web") for _ in range(2)], 3, "pass"),
    ([b.oom_task("web", 3) for _ in range(4)], 0, "pass"),       # OOM is not an app error
    ([b.crash_task("web", 143) for _ in range(4)], 3, "pass"),   # SIGTERM: a normal stop
])
def test_stopped_task_app_exit(tasks: list, running: int, expected: str) -> None:
    assert statuses("stopped-task-app-exit", _bundle(*tasks, running=running))[WEB] == expected


def test_crash_loop_message() -> None:
    bundle = _bundle(*[b.crash_task("web", 1, 15) for _ in range(5)], running=0, desired=2)
    (f,) = run_check("stopped-task-app-exit", bundle)
    assert "exited with code 1 in 5 of 5 stopped tasks" in f.message
    assert f.data["affected_tasks"] == 2


def test_standalone_tasks_are_grouped_by_their_group() -> None:
    t = b.oom_task("web", 10)
    t["group"] = "family:batch-job"
    (f,) = run_check("stopped-task-oom", _bundle(t))
    assert f.status.value == "fail" and f.service is None and f.resource == "family:batch-job"


# --- the classifier (checks/lib/stop_reasons.py) ------------------------------------------------

ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2.1"
# Fargate (containerd) form, as ECS delivers it: cut at 255 characters, "i/o timeout" lost.
PULL_TIMEOUT = (
    f'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to '
    f'resolve ref "{ECR_IMAGE}": failed to do request: Head "https://123456789012.dkr.ecr.'
    f'us-east-1.amazonaws.com/v2/web/manifests/2.1": dial tcp 10.0.3.17:443: i/o timeout'
)[:252] + "..."
# EC2 (Docker) form.
PULL_DOCKER_TIMEOUT = (
    "CannotPullContainerError: Error response from daemon: Get https://123456789012.dkr.ecr."
    "us-east-1.amazonaws.com/v2/: net/http: request canceled while waiting for connection "
    "(Client.Timeout exceeded while awaiting headers)")
PULL_NOT_FOUND = (f'CannotPullContainerError: pull image manifest has been retried 5 time(s): '
                  f'failed to resolve ref "{ECR_IMAGE}": {ECR_IMAGE}: not found')
PULL_RATE_LIMIT = (
    "CannotPullContainerError: inspect image has been retried 5 time(s): httpReaderSeeker: "
    "failed open: unexpected status code https://registry-1.docker.io/v2/library/nginx/"
    "manifests/sha256:ab12: 429 Too Many Requests - Server message: toomanyrequests: You have "
    "reached your pull rate limit.")
SECRETS_SSM_TIMEOUT = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
    "retrieval failed: unable to retrieve secrets from ssm: service call has been retried 5 "
    "time(s): RequestCanceled: request context canceled caused by: context deadline exceeded")
SECRETS_ASM_DENIED = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
    "retrieval failed: unable to retrieve secret from asm: service call has been retried 1 "
    "time(s): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/exec/abc is "
    "not authorized to perform: secretsmanager:GetSecretValue")
LOG_GROUP_MISSING = (
    "ResourceInitializationError: failed to validate logger args: create stream has been "
    "retried 1 time(s): failed to create Cloudwatch log stream: ResourceNotFoundException: The "
    "specified log group does not exist. : exit status 1")
ELB_KILL = ("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:"
            "us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067)")
SCALING = "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)"


def _stopped(*containers: dict, stop_code: str | None = None, reason: str | None = None,
             uptime_s: float = 600, service: str = "web", **extra: Any) -> dict:
    return b.task(service, status="STOPPED", started=b.ago(minutes=10, seconds=uptime_s),
                  stopped=b.ago(minutes=10), stop_code=stop_code, reason=reason,
                  containers=list(containers), **extra)


EXITED = {"stop_code": "EssentialContainerExited", "reason": "Essential container in task exited"}


@pytest.mark.parametrize(("task", "label", "container"), [
    (_stopped(b.container("web", 0, b.OOM_REASON), **EXITED), "oom", "web"),
    (_stopped(b.container("web", None, b.OOM_REASON), **EXITED), "oom", "web"),
    (_stopped(b.container("web", 137), **EXITED), "oom/exit-137", "web"),
    (_stopped(b.container("web", 137), stop_code="ServiceSchedulerInitiated", reason=SCALING),
     "sigkill-after-stop/scheduler", "web"),
    (_stopped(b.container("web", 137), stop_code="UserInitiated",
              reason="Task stopped by user"), "sigkill-after-stop/user", "web"),
    (_stopped(b.container("web", 143), stop_code="ServiceSchedulerInitiated", reason=SCALING),
     "scheduler", "web"),
    (_stopped(b.container("web", 143), **EXITED), "sigterm", "web"),
    (_stopped(b.container("web", 139), **EXITED), "segfault", "web"),
    (_stopped(b.container("web", 255), **EXITED), "app-error", "web"),
    (_stopped(b.container("web", 0), **EXITED), "clean-exit", "web"),
    # the app crashed; ECS then SIGKILLed the sidecar: the app's exit explains the stop
    (_stopped(b.container("envoy", 137), b.container("web", 1), **EXITED), "app-error", "web"),
    (_stopped(b.container("web", 137), stop_code="ServiceSchedulerInitiated", reason=ELB_KILL),
     "elb-health", "web"),
    (_stopped(b.container("web", 137), stop_code="ServiceSchedulerInitiated",
              reason="Task failed container health checks"), "container-health", "web"),
    (_stopped(b.container("web", 137), stop_code="TerminationNotice",
              reason="Your Spot Task was interrupted."), "host-lost/spot", "web"),
    (_stopped(b.container("web", 0), stop_code="ServiceSchedulerInitiated",
              reason="ECS is performing maintenance on the underlying infrastructure hosting "
                     "the task"), "host-lost/maintenance", "web"),
    (_stopped(stop_code="ServiceSchedulerInitiated",
              reason="Service web: container instance is in DRAINING state"),
     "host-lost/drained", None),
    (_stopped(stop_code="InfrastructureHealth"), "host-lost/infrastructure", None),
    (_stopped(b.container("web"), stop_code="TaskFailedToStart"),
     "start-failure/failed-to-start", None),
    (_stopped(stop_code="TaskFailedToStart",
              reason="Timeout waiting for network interface provisioning to complete."),
     "start-failure/eni", None),
    (_stopped(b.container("web", None, PULL_TIMEOUT), stop_code="TaskFailedToStart",
              reason=PULL_TIMEOUT), "image-pull/network", "web"),
    (_stopped(stop_code="TaskFailedToStart", reason=PULL_NOT_FOUND), "image-pull/not-found",
     None),
    (_stopped(stop_code="TaskFailedToStart", reason=PULL_RATE_LIMIT), "image-pull/rate-limit",
     None),
    (_stopped(stop_code="TaskFailedToStart", reason=SECRETS_ASM_DENIED),
     "secrets-pull/secrets-manager", None),
    (_stopped(stop_code="TaskFailedToStart", reason=LOG_GROUP_MISSING),
     "resource-init/log-group", None),
    (_stopped(b.container("web"), **EXITED), "exited-no-code", None),
    (_stopped(reason="Something ECS says tomorrow"), "unknown", None),
])
def test_classify(task: dict, label: str, container: str | None) -> None:
    stop = classify(task)
    assert (stop.label, stop.container) == (label, container)
    # the original text, never a summary of it (empty when ECS gave only a stopCode)
    texts = [task.get("stoppedReason")] + [c.get("reason") for c in task["containers"]]
    assert stop.reason in [t for t in texts if t] or (stop.reason == "" and not any(texts))


@pytest.mark.parametrize(("task", "label"), [
    ({"containers": [{"name": "a", "exitCode": "1"}], "stopCode": "EssentialContainerExited"},
     "app-error"),
    ({"containers": None, "stoppedReason": None}, "unknown"),
    ({"containers": ["junk", {"exitCode": True}], "stopCode": 7}, "unknown"),
    ({}, "unknown"),
])
def test_classify_never_crashes_on_messy_input(task: dict, label: str) -> None:
    assert classify(task).label == label


def test_unknown_reason_is_kept_verbatim() -> None:
    text = "  Something ECS says tomorrow, with   spacing  "
    stop = classify(_stopped(reason=text))
    assert (stop.category, stop.reason, stop.problem) == ("unknown", text, False)


def test_shorten_keeps_head_and_tail() -> None:
    short = shorten(PULL_DOCKER_TIMEOUT)
    assert short.startswith("CannotPullContainerError:") and short.endswith("headers)")
    assert len(short) <= 110 and " … " in short
    assert shorten("AGENT") == "AGENT"


# --- the checks ------------------------------------------------------------------------

def _svc_bundle(*tasks: dict, desired: int = 5, running: int = 2, tds: list | None = None,
                **svc: Any) -> dict:
    return b.ecs_bundle([b.service("web", desired=desired, running=running, **svc)],
                        list(tasks), tds)


def _pull(reason: str = PULL_TIMEOUT, image: str | None = ECR_IMAGE) -> dict:
    extra = {"image": image} if image else {}
    return _stopped(b.container("web", None, reason, **extra), stop_code="TaskFailedToStart",
                    reason=reason)


def _scaled() -> dict:
    return _stopped(b.container("web", 143), stop_code="ServiceSchedulerInitiated",
                    reason=SCALING)


@pytest.mark.parametrize(("tasks", "expected"), [
    ([_pull(), _scaled()], "fail"),
    ([_scaled(), _scaled(), _stopped(b.container("web", 0), stop_code="UserInitiated",
                                     reason="Task stopped by user")], "pass"),
    ([b.task("web")], "pass"),  # nothing stopped: still a line in the breakdown
])
def test_stopped_task_summary(tasks: list, expected: str) -> None:
    assert statuses("stopped-task-summary", _svc_bundle(*tasks))[WEB] == expected


def test_summary_counts_categories_and_keeps_unknown_text() -> None:
    odd = _stopped(reason="Something ECS says tomorrow")
    (f,) = run_check("stopped-task-summary", _svc_bundle(_pull(), _pull(), _scaled(), odd))
    assert f.status.value == "fail" and f.severity.value == "info"
    assert "4 stopped tasks (~last hour): 2 image-pull/network, 1 scheduler, 1 unknown" \
        in f.message
    assert f.data["categories"] == {"image-pull": 2, "scheduler": 1, "unknown": 1}
    assert f.data["unknown_reasons"] == ["Something ECS says tomorrow"]
    assert f.data["problems"] == 2


@pytest.mark.parametrize(("tasks", "expected", "cause"), [
    ([_pull(), _pull(), _pull(), _scaled(), _scaled()], "fail", "network"),
    ([_pull(PULL_NOT_FOUND, None)], "fail", "not-found"),
    ([_pull("CannotPullContainerError: pull access denied for web, repository does not exist "
            "or may require 'docker login'", "web:2.1")], "fail", "auth"),
    ([_pull(PULL_RATE_LIMIT, "nginx:1.27")], "fail", "rate-limit"),
    ([_scaled(), b.crash_task("web")], "pass", None),
])
def test_stopped_task_image_pull(tasks: list, expected: str, cause: str | None) -> None:
    (f,) = run_check("stopped-task-image-pull", _svc_bundle(*tasks))
    assert f.status.value == expected
    assert f.data.get("cause") == cause


def test_image_pull_message_names_image_reason_and_route() -> None:
    pulls = [_pull(PULL_DOCKER_TIMEOUT) for _ in range(3)]
    (f,) = run_check("stopped-task-image-pull", _svc_bundle(*pulls, _scaled(), _scaled()))
    assert f.message.startswith(
        f"service prod/web: 3 of 5 stopped tasks (~last hour) could not pull image {ECR_IMAGE} "
        "(CannotPullContainerError: Error response")
    assert f.message.endswith("awaiting headers)) — no route to ECR")
    assert f.data["reason"] == PULL_DOCKER_TIMEOUT and f.data["registry"] == "ECR"
    assert f.data["count"] == 3 and f.data["affected_tasks"] == 3  # desired 5, running 2


def test_image_pull_says_when_ecs_cut_the_reason() -> None:
    (f,) = run_check("stopped-task-image-pull", _svc_bundle(_pull(PULL_TIMEOUT, None)))
    assert f.data["cause"] == "network" and f.data["image"] == ECR_IMAGE
    assert f.message.endswith("/v2/web/manifests/2....; reason truncated by ECS) — no route to "
                              "ECR")


def test_image_pull_finds_the_image_in_text_or_task_definition() -> None:
    (f,) = run_check("stopped-task-image-pull", _svc_bundle(_pull(PULL_NOT_FOUND, None)))
    assert f.data["image"] == ECR_IMAGE and "image or tag not found in ECR" in f.message
    td = b.task_definition("web", containers=[b.container_def("web", image="nginx:1.27")])
    bundle = _svc_bundle(_pull(PULL_RATE_LIMIT, None), tds=[td])
    (f,) = run_check("stopped-task-image-pull", bundle)
    assert f.data["image"] == "nginx:1.27" and "Docker Hub pull rate limit reached" in f.message


@pytest.mark.parametrize(("reason", "expected", "cause", "target"), [
    (SECRETS_SSM_TIMEOUT, "fail", "network", "SSM Parameter Store"),
    (SECRETS_ASM_DENIED, "fail", "secrets-manager", "Secrets Manager"),
    (PULL_TIMEOUT, "pass", None, None),
])
def test_stopped_task_secrets_pull(reason: str, expected: str, cause: str | None,
                                   target: str | None) -> None:
    bundle = _svc_bundle(_stopped(stop_code="TaskFailedToStart", reason=reason))
    (f,) = run_check("stopped-task-secrets-pull", bundle)
    assert (f.status.value, f.data.get("cause"), f.data.get("target")) == (expected, cause,
                                                                           target)
    if expected == "fail":
        assert f"could not fetch secrets from {target}" in f.message


@pytest.mark.parametrize(("reason", "expected", "cause"), [
    ("Timeout waiting for network interface provisioning to complete.", "fail", "eni"),
    (LOG_GROUP_MISSING, "fail", "log-group"),
    ("CannotCreateContainerError: API error (500): devmapper: Thin Pool has 4350 free data "
     "blocks which is less than minimum required 4454 free data blocks.", "fail", "disk"),
    ("AGENT", "fail", "agent"),
    (PULL_TIMEOUT, "pass", None),
])
def test_stopped_task_start_failure(reason: str, expected: str, cause: str | None) -> None:
    bundle = _svc_bundle(_stopped(stop_code="TaskFailedToStart", reason=reason))
    (f,) = run_check("stopped-task-start-failure", bundle)
    assert (f.status.value, f.data.get("cause")) == (expected, cause)


def _elb_kill(uptime_s: float) -> dict:
    return _stopped(b.container("web", 143), stop_code="ServiceSchedulerInitiated",
                    reason=ELB_KILL, uptime_s=uptime_s)


@pytest.mark.parametrize(("tasks", "grace", "expected", "starting"), [
    ([_elb_kill(75), _elb_kill(90), _elb_kill(82)], 0, "fail", True),
    ([_elb_kill(5 * 3600), _elb_kill(3 * 3600)], 60, "fail", False),
    ([_scaled(), b.crash_task("web")], 0, "pass", None),
])
def test_stopped_task_elb_health(tasks: list, grace: int, expected: str,
                                 starting: bool | None) -> None:
    bundle = _svc_bundle(*tasks, healthCheckGracePeriodSeconds=grace)
    (f,) = run_check("stopped-task-elb-health", bundle)
    assert (f.status.value, f.data.get("while_starting")) == (expected, starting)


def test_elb_health_message_gives_uptimes_and_grace() -> None:
    bundle = _svc_bundle(_elb_kill(75), _elb_kill(90), _elb_kill(82), _scaled())
    (f,) = run_check("stopped-task-elb-health", bundle)
    assert f.data["uptimes_s"] == [75, 90, 82] and f.data["grace_period_s"] == 0
    assert f.data["target_groups"] == ["web-tg"]
    assert ("3 of 4 stopped tasks (~last hour) were killed by ELB health checks (target group "
            "web-tg) after running 75s–90s (median 82s); health check grace period 0s") \
        in f.message
    assert "killed while still starting" in f.message


def _unhealthy(uptime_s: float) -> dict:
    return _stopped(b.container("web", 137, healthStatus="UNHEALTHY"),
                    stop_code="ServiceSchedulerInitiated",
                    reason="Task failed container health checks", uptime_s=uptime_s)


@pytest.mark.parametrize(("tasks", "expected"), [
    ([_unhealthy(40), _unhealthy(45)], "fail"),
    ([_elb_kill(90), _scaled()], "pass"),
])
def test_stopped_task_container_health(tasks: list, expected: str) -> None:
    td = b.task_definition("web", containers=[b.container_def(
        "web", memory=512, healthCheck={"command": ["CMD-SHELL", "curl -f localhost/health"],
                                        "startPeriod": 10})])
    (f,) = run_check("stopped-task-container-health", _svc_bundle(*tasks, tds=[td]))
    assert f.status.value == expected
    if expected == "fail":
        assert f.data["start_period_s"] == 10 and f.data["while_starting"] is True
        assert f.data["containers"] == ["web"] and f.data["uptimes_s"] == [40, 45]
        assert "healthCheck startPeriod 10s" in f.message


@pytest.mark.parametrize(("reasons", "expected", "severity"), [
    (["Your Spot Task was interrupted.", "Host EC2 (instance i-0abc1234def567890) "
      "stopped/terminated."], "fail", "medium"),
    (["ECS is performing maintenance on the underlying infrastructure hosting the task"],
     "fail", "low"),
    ([SCALING], "pass", "medium"),
])
def test_stopped_task_host_lost(reasons: list[str], expected: str, severity: str) -> None:
    tasks = [_stopped(b.container("web", 143), stop_code="ServiceSchedulerInitiated", reason=r)
             for r in reasons]
    (f,) = run_check("stopped-task-host-lost", _svc_bundle(*tasks))
    assert (f.status.value, f.severity.value) == (expected, severity)
    if severity == "medium" and expected == "fail":
        assert f.data["instances"] == ["i-0abc1234def567890"]
        assert f.data["causes"] == {"spot": 1, "terminated": 1}


def test_new_checks_group_standalone_tasks_by_group() -> None:
    t = _pull()
    t["group"] = "family:nightly"
    (f,) = run_check("stopped-task-image-pull", _svc_bundle(t))
    assert f.resource == "family:nightly" and f.service is None
    assert f.message.startswith("tasks of family:nightly: 1 of 1 stopped tasks")


def test_app_exit_ignores_the_sidecar_sigkill() -> None:
    tasks = [_stopped(b.container("envoy", 137), b.container("web", 2), **EXITED)
             for _ in range(3)]
    (f,) = run_check("stopped-task-app-exit", _bundle(*tasks))
    assert f.status.value == "fail" and f.data["exit_codes"] == [2]
    assert f.data["containers"] == ["web"]
    (oom,) = run_check("stopped-task-oom", _bundle(*tasks))
    assert oom.status.value == "pass"


def test_stop_reason_table_is_consistent() -> None:
    """Every category the table can produce is declared; every hint fills only the names
    the checks pass; a typo'd regex fails here, not in a customer's scan."""
    data = table("stop_reasons")
    known = set(data["categories"])
    produced = {r["category"] for r in data["rules"]} | {data["exited_without_code"]["category"]}
    produced |= {str(v).split("/")[0] for v in [*data["stop_codes"].values(),
                                                 *data["exit_codes"].values()]}
    assert produced <= known, produced - known
    assert set(data["requested_stops"]) <= known
    for rule in data["rules"]:
        for cause in rule.get("causes", []):
            assert cause["hint"].format(registry="ECR", target="SSM"), cause
    assert {"app-error", "unknown", "sigkill-after-stop"} <= known
