"""Tasks that never get going, on real checks: the image-pull and secrets-pull playbooks (one
hypothesis per cause the stopped reason names, each with its own remediation, supported by
the network checks when they fail) and the crash-loop playbook's deployment and
circuit-breaker evidence. Bundles start from the healthy network World
(tests/builders_network.py) and add the service's stopped tasks and events, worded as ECS
words them."""

from __future__ import annotations

from typing import Any

import pytest

from checker.model import Diagnosis, Report, Severity
from checker.pipeline import Engine
from tests import builders as b
from tests import builders_network as n
from tests import builders_service as s
from tests.test_playbooks import assert_filled

ENGINE = Engine()
WEB = b.service_arn("prod", "web")
ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2.1"
EXEC_ROLE = "arn:aws:sts::123456789012:assumed-role/prod-web-exec/3f2a9c"

PULL = {
    "network": (f'CannotPullContainerError: pull image manifest has been retried 5 time(s): '
                f'failed to resolve ref "{ECR_IMAGE}": failed to do request: Head "https://'
                f'123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/web/manifests/2.1": dial tcp '
                f'10.0.3.17:443: i/o timeout'),
    "auth": (f"CannotPullContainerError: pull access denied for {ECR_IMAGE}, repository does "
             f"not exist or may require 'docker login': denied: User: {EXEC_ROLE} is not "
             "authorized to perform: ecr:BatchGetImage"),
    "not-found": (f'CannotPullContainerError: pull image manifest has been retried 5 time(s): '
                  f'failed to resolve ref "{ECR_IMAGE}": {ECR_IMAGE}: not found'),
    "rate-limit": ("CannotPullContainerError: inspect image has been retried 5 time(s): "
                   "httpReaderSeeker: failed open: unexpected status code https://registry-1."
                   "docker.io/v2/library/nginx/manifests/sha256:ab12: 429 Too Many Requests - "
                   "Server message: toomanyrequests: You have reached your pull rate limit."),
    "disk": ("CannotPullContainerError: failed to register layer: Error processing tar file"
             "(exit status 1): write /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1: no space left "
             "on device"),
    "other": "CannotPullContainerError: ref pull has been retried 5 time(s): unexpected EOF",
}
SECRETS = {
    "network": ("ResourceInitializationError: unable to pull secrets or registry auth: "
                "execution resource retrieval failed: unable to retrieve secrets from ssm: "
                "service call has been retried 5 time(s): RequestCanceled: request context "
                "canceled caused by: context deadline exceeded"),
    "secrets-manager": ("ResourceInitializationError: unable to pull secrets or registry auth: "
                        "execution resource retrieval failed: unable to retrieve secret from "
                        "asm: service call has been retried 1 time(s): AccessDeniedException: "
                        f"User: {EXEC_ROLE} is not authorized to perform: "
                        "secretsmanager:GetSecretValue"),
    "ssm": ("ResourceInitializationError: unable to pull secrets or registry auth: execution "
            "resource retrieval failed: unable to retrieve secrets from ssm: service call has "
            "been retried 1 time(s): invalid ssm parameters: /prod/web/db_password"),
    "registry-auth": ("ResourceInitializationError: unable to pull secrets or registry auth: "
                      "execution resource retrieval failed: unable to retrieve ecr registry "
                      "auth: service call has been retried 1 time(s): AccessDeniedException: "
                      f"User: {EXEC_ROLE} is not authorized to perform: "
                      "ecr:GetAuthorizationToken"),
    # ECS's usual prefix "unable to pull secrets or registry auth" reads as registry-auth in
    # checks/data/stop_reasons.yaml, so a cause-less reason needs another wording
    "other": "ResourceInitializationError: cannot retrieve secrets: unexpected EOF",
}
SCALE_IN = "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)"


def _stopped(reason: str, image: str | None = None, code: str = "TaskFailedToStart",
             exit_code: int | None = None) -> dict[str, Any]:
    extra = {"image": image} if image else {}
    return b.task("web", status="STOPPED", started=b.ago(minutes=12), stopped=b.ago(minutes=11),
                  stop_code=code, reason=reason,
                  containers=[b.container("web", exit_code, reason, **extra)])


def _world(*stopped: dict[str, Any], egress: bool = True, **service: Any) -> dict[str, Any]:
    """Service web (4 desired, 2 running) in the healthy World; `egress=False` removes the
    private subnets' NAT routes and the ECR / Secrets Manager endpoints."""
    world = n.World()
    world.services = [n.web_service(**{"desired": 4, "running": 2, **service})]
    world.tasks += list(stopped)
    if not egress:
        for rt in n.PRIVATE_RTS:
            world.rt(rt)["Routes"] = [n.LOCAL]
        world.drop_endpoints("ecr.api", "ecr.dkr", "secretsmanager")
    return world.bundle()


def _analyze(bundle: dict[str, Any]) -> Report:
    report = ENGINE.analyze(bundle)
    for diag in report.diagnoses:
        assert_filled(diag)
    return report


def _one(report: Report, diagnosis: str) -> Diagnosis:
    found = [d for d in report.diagnoses if d.id == diagnosis and d.resources[0] == WEB]
    assert len(found) == 1, [d.id for d in report.diagnoses]
    return found[0]


def _checks(diag: Diagnosis, role: str) -> set[str]:
    return {e.check for e in diag.evidence if e.role == role}


def _text(diag: Diagnosis) -> str:
    return "\n".join([diag.summary, *(f"{r.step} {r.command or ''}" for r in diag.remediation)])


# -- image-pull-failure -----------------------------------------------------------------------
@pytest.mark.parametrize(("cause", "image", "title", "says"), [
    ("network", None, "no network path to the registry", "aws ec2 describe-vpc-endpoints"),
    ("auth", None, "not authorised", "aws ecr get-repository-policy"),
    ("not-found", None, "image or tag not found",
     "aws ecr describe-images --registry-id 123456789012 --repository-name web "
     "--image-ids imageTag=2.1"),
    ("rate-limit", "nginx:1.27", "registry rate limit",
     "aws ecr create-pull-through-cache-rule --ecr-repository-prefix docker-hub"),
    ("disk", ECR_IMAGE, "host disk full", "docker system prune"),
])
def test_each_pull_cause_has_its_own_hypothesis(cause: str, image: str | None, title: str,
                                                says: str) -> None:
    report = _analyze(_world(*(_stopped(PULL[cause], image) for _ in range(2))))
    diag = _one(report, "image-pull-failure")
    assert diag.title.endswith(title) and diag.severity is Severity.CRITICAL
    assert _checks(diag, "confirm") == {"stopped-task-image-pull"}
    assert diag.summary.startswith("2 of 2 stopped tasks of prod/web could not pull")
    assert (image or ECR_IMAGE) in diag.summary and says in _text(diag)
    assert diag.confidence >= 0.85


def test_a_reason_that_names_no_cause_gets_the_generic_hypothesis() -> None:
    diag = _one(_analyze(_world(_stopped(PULL["other"], ECR_IMAGE))), "image-pull-failure")
    assert diag.title == "Tasks cannot pull their container image"
    assert "(cause: other)" in diag.summary and diag.confidence == 0.65


def test_the_most_frequent_cause_decides() -> None:
    bundle = _world(*(_stopped(PULL["network"]) for _ in range(3)), _stopped(PULL["auth"]))
    diag = _one(_analyze(bundle), "image-pull-failure")
    assert diag.title.endswith("no network path to the registry")
    assert diag.summary.startswith("4 of 4 stopped tasks of prod/web could not pull "
                                   f"{ECR_IMAGE}. Main cause: the connection to ECR timed out")


def test_network_pull_failure_is_supported_by_the_broken_path() -> None:
    broken = _one(_analyze(_world(_stopped(PULL["network"]), egress=False)),
                  "image-pull-failure")
    assert {"image-registry-unreachable", "task-subnet-default-route"} <= _checks(broken,
                                                                                  "support")
    assert "SubnetId==`\"subnet-0aaa000000000000a\"`" in _text(broken)  # from the evidence
    assert f"Values={n.VPC}" in _text(broken)
    healthy = _one(_analyze(_world(_stopped(PULL["network"]))), "image-pull-failure")
    assert _checks(healthy, "support") == {"service-running-below-desired"}
    assert "SubnetId==`\"<subnet-id>\"`" in _text(healthy)      # not known: a placeholder
    assert broken.confidence > healthy.confidence


@pytest.mark.parametrize("stopped", [
    _stopped(SCALE_IN, code="ServiceSchedulerInitiated", exit_code=143),
    _stopped(SECRETS["network"]),
], ids=["scale-in", "secrets-not-image"])
def test_no_image_pull_failure_without_a_pull_error(stopped: dict[str, Any]) -> None:
    report = _analyze(_world(stopped))
    assert "image-pull-failure" not in {d.id for d in report.diagnoses}


# -- secrets-pull-failure ---------------------------------------------------------------------
@pytest.mark.parametrize(("cause", "title", "says"), [
    ("secrets-manager", "Secrets Manager secret missing or not readable",
     "--action-names secretsmanager:GetSecretValue kms:Decrypt"),
    ("ssm", "SSM parameter missing or not readable", "aws ssm get-parameters --names"),
    ("registry-auth", "fetch their registry credentials",
     "--action-names secretsmanager:GetSecretValue ecr:GetAuthorizationToken"),
])
def test_each_secrets_cause_has_its_own_hypothesis(cause: str, title: str, says: str) -> None:
    report = _analyze(_world(_stopped(SECRETS[cause]), _stopped(SECRETS[cause])))
    diag = _one(report, "secrets-pull-failure")
    assert diag.title.endswith(title) and diag.severity is Severity.CRITICAL
    assert _checks(diag, "confirm") == {"stopped-task-secrets-pull"}
    assert diag.summary.startswith("2 of 2 stopped tasks of prod/web could not fetch their")
    assert says in _text(diag)
    assert "image-pull-failure" not in {d.id for d in report.diagnoses}


def test_secrets_target_is_named_from_the_reason() -> None:
    ssm = _one(_analyze(_world(_stopped(SECRETS["ssm"]))), "secrets-pull-failure")
    assert "could not read a parameter from SSM Parameter Store" in ssm.summary
    asm = _one(_analyze(_world(_stopped(SECRETS["secrets-manager"]))), "secrets-pull-failure")
    assert "could not read a secret from Secrets Manager" in asm.summary


def test_secrets_network_failure_is_told_by_the_broken_path() -> None:
    """A secrets call that timed out is no secret or permission problem: the route that
    broke it is the diagnosis, with the stopped tasks as its evidence."""
    report = _analyze(_world(_stopped(SECRETS["network"]), egress=False))
    assert "secrets-pull-failure" not in {d.id for d in report.diagnoses}
    route = _one(report, "egress-route-missing")
    assert {"secrets-logs-unreachable", "stopped-task-secrets-pull"} <= _checks(route, "support")


def test_registry_auth_failure_names_the_call() -> None:
    diag = _one(_analyze(_world(_stopped(SECRETS["registry-auth"]))), "secrets-pull-failure")
    assert "the ECR (registry auth) call was refused" in diag.summary


def test_secrets_reason_without_a_cause_gets_the_generic_hypothesis() -> None:
    diag = _one(_analyze(_world(_stopped(SECRETS["other"]))), "secrets-pull-failure")
    assert diag.title == "Tasks cannot fetch secrets or registry auth"
    assert "(cause: other)" in diag.summary


@pytest.mark.parametrize("stopped", [
    _stopped(SCALE_IN, code="ServiceSchedulerInitiated", exit_code=143),
    _stopped(PULL["network"]),
], ids=["scale-in", "image-not-secrets"])
def test_no_secrets_pull_failure_without_a_secrets_error(stopped: dict[str, Any]) -> None:
    report = _analyze(_world(stopped))
    assert "secrets-pull-failure" not in {d.id for d in report.diagnoses}


# -- app-crash-loop: deployment and circuit-breaker evidence ------------------------------------
UNABLE = ("(service web) is unable to consistently start tasks successfully. For more "
          "information, see the Troubleshooting section.")
FAILED = "(service web) deployment failed: tasks failed to start."
BREAKER_ON = {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
              "maximumPercent": 200, "minimumHealthyPercent": 100}


def _failing_rollout(*stopped: dict[str, Any], breaker: bool) -> dict[str, Any]:
    """Revision 7 of web deployed 40 min ago never gets healthy; with the circuit breaker
    on, ECS failed the deployment."""
    dep = s.deployment(revision=7, minutes_ago=40, desired=4, running=0, failed_tasks=6,
                       rollout="FAILED" if breaker else "IN_PROGRESS",
                       reason="ECS deployment circuit breaker: tasks failed to start."
                       if breaker else None)
    events = [s.event(FAILED, 25), s.event(UNABLE, 30)] if breaker else [s.event(UNABLE, 30)]
    extra: dict[str, Any] = {"deploymentConfiguration": BREAKER_ON} if breaker else {}
    return _world(*stopped, desired=4, running=0, revision=7, deployments=[dep],
                  events=events, **extra)


def _crashes(n_tasks: int = 4) -> list[dict[str, Any]]:
    return [b.crash_task("web", revision=7, container="web") for _ in range(n_tasks)]


def test_crash_loop_carries_the_stuck_deployment_and_the_breaker() -> None:
    diag = _one(_analyze(_failing_rollout(*_crashes(), breaker=False)), "app-crash-loop")
    assert _checks(diag, "confirm") == {"stopped-task-app-exit"}
    assert _checks(diag, "support") == {"service-running-below-desired",
                                        "service-deployment-stuck",
                                        "service-event-start-failures",
                                        "service-circuit-breaker-off"}
    assert diag.confidence == 0.99 and diag.rank == 1
    assert "--task-definition web:6" in _text(diag)          # roll back to the revision before
    assert "deploymentCircuitBreaker={enable=true,rollback=true}" in _text(diag)


def test_breaker_on_is_not_counted_for_the_crash_loop() -> None:
    diag = _one(_analyze(_failing_rollout(*_crashes(), breaker=True)), "app-crash-loop")
    assert "service-circuit-breaker-off" not in _checks(diag, "support")
    assert {"service-deployment-stuck", "service-event-start-failures"} <= _checks(diag,
                                                                                   "support")


def test_failed_rollout_after_the_stopped_tasks_aged_out() -> None:
    """No stopped task left to read: the events and the FAILED deployment still say the
    revision never starts, at a lower confidence."""
    diag = _one(_analyze(_failing_rollout(breaker=True)), "app-crash-loop")
    assert "stopped tasks are no longer visible" in diag.title
    assert _checks(diag, "confirm") == {"service-event-start-failures",
                                        "service-deployment-stuck"}
    assert diag.confidence == 0.5                             # 0.45 + below desired
    assert "ECS reports deployment-failed (2 current event(s))" in diag.summary


@pytest.mark.parametrize(("stopped", "instead"), [
    (_stopped(PULL["network"]), "image-pull-failure"),
    (_stopped(SECRETS["ssm"]), "secrets-pull-failure"),
], ids=["image-pull", "secrets-pull"])
def test_failed_rollout_with_a_visible_start_cause_is_no_crash_loop(
        stopped: dict[str, Any], instead: str) -> None:
    report = _analyze(_failing_rollout(stopped, breaker=True))
    assert "app-crash-loop" not in {d.id for d in report.diagnoses}
    assert report.diagnoses[0].id == instead
