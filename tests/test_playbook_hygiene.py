"""The hygiene playbook on real checks: single AZ, observability gaps, plaintext secrets and
old hosts. Each is confirmed on a small bundle and absent once fixed; a healthy but
unhardened cluster shows nothing above `low`."""

from __future__ import annotations

from typing import Any

import pytest

from checker.model import Diagnosis, Report, Severity
from checker.pipeline import Engine
from tests import builders as b
from tests import builders_hosts as h
from tests import builders_service as s
from tests import builders_taskdef as t
from tests.builders_pb_memory import logs
from tests.test_playbooks import assert_filled

ENGINE = Engine()
WEB = b.service_arn("prod", "web")
AZ_A, AZ_B = "us-east-1a", "us-east-1b"
SUBNETS = {"subnet-0aaa000000000000a": AZ_A, "subnet-0bbb000000000000b": AZ_B,
           "subnet-0ccc000000000000c": AZ_A}
AWS_KEY = "AKIAZ7EXAMPLE3KQ2WXA"         # the shape of an access key id, not a real one
HC = {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
      "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 60}


def _ctr(name: str = "web", *, logged: bool = True, health: bool = True,
         env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    extra["logConfiguration"] = logs(name) if logged else None
    if health:
        extra["healthCheck"] = HC
    if env:
        extra["env"] = env
    return t.web_ctr(name, **extra)


def _bundle(*containers: dict[str, Any], azs: tuple[str, ...] = (AZ_A, AZ_B),
            subnets: tuple[str, ...] = ("subnet-0aaa000000000000a", "subnet-0bbb000000000000b"),
            **collections: list[dict[str, Any]]) -> dict[str, Any]:
    """Fargate service web behind a load balancer, one RUNNING task per entry of `azs`,
    in `subnets`; its task definition holds `containers` (a healthy, logged app when
    none are given)."""
    svc = t.lb_service("web", container="web", desired=len(azs),
                       healthCheckGracePeriodSeconds=120, networkConfiguration={
        "awsvpcConfiguration": {"subnets": list(subnets), "assignPublicIp": "DISABLED"}})
    td = t.fargate_td("web", *(containers or (_ctr(),)), cpu="512", memory="1024")
    tasks = [b.task("web", availabilityZone=az) for az in azs]
    return b.bundle(clusters=[b.cluster()], services=[svc], tasks=tasks, task_definitions=[td],
                    subnets=[s.subnet(i, az) for i, az in SUBNETS.items()], **collections)


def _analyze(bundle: dict[str, Any]) -> Report:
    report = ENGINE.analyze(bundle)
    for diag in report.diagnoses:
        assert_filled(diag)
    return report


def _ids(report: Report) -> set[str]:
    return {d.id for d in report.diagnoses}


def _one(report: Report, diagnosis: str) -> Diagnosis:
    (found,) = [d for d in report.diagnoses if d.id == diagnosis]
    return found


def _checks(diag: Diagnosis, role: str) -> set[str]:
    return {e.check for e in diag.evidence if e.role == role}


def test_a_healthy_but_unhardened_cluster_shows_nothing_above_low() -> None:
    """No logs, no container health check, an old agent, a writable root filesystem and
    the circuit breaker off: worth saying, not worth waking anyone for."""
    hosts = [h.container_instance("i-0aaa1111", agent="1.45.0"),
             h.container_instance("i-0bbb2222", agent="1.45.0")]
    report = _analyze(_bundle(_ctr(logged=False, health=False), container_instances=hosts))
    assert {"observability-gaps", "stale-agent-or-ami"} <= _ids(report)
    assert all(d.severity in (Severity.LOW, Severity.INFO) for d in report.diagnoses)


def test_a_hardened_cluster_shows_nothing() -> None:
    hosts = [h.container_instance("i-0aaa1111"), h.container_instance("i-0bbb2222")]
    report = _analyze(_bundle(container_instances=hosts))
    assert [d.id for d in report.diagnoses if d.scenario == "hygiene"] == []
    assert all(d.severity in (Severity.LOW, Severity.INFO) for d in report.diagnoses)


# -- single-az --------------------------------------------------------------------------------
def test_every_task_in_one_zone() -> None:
    report = _analyze(_bundle(azs=(AZ_A, AZ_A), subnets=("subnet-0aaa000000000000a",
                                                           "subnet-0ccc000000000000c")))
    diag = _one(report, "single-az")
    assert diag.severity is Severity.MEDIUM and diag.resources == (WEB,)
    assert _checks(diag, "confirm") == {"service-tasks-single-az"}
    assert _checks(diag, "support") == {"service-subnets-single-az"}
    assert diag.summary.startswith("All 2 running tasks of prod/web are in us-east-1a")
    # the service's own subnets stay in the new network configuration
    assert "subnets=[subnet-0aaa000000000000a,subnet-0ccc000000000000c,<subnet-in-another-az>]" \
        in diag.remediation[0].command  # type: ignore[operator]


def test_tasks_spread_over_zones_rule_out_single_az() -> None:
    assert "single-az" not in _ids(_analyze(_bundle(azs=(AZ_A, AZ_B))))


def test_one_task_in_single_zone_subnets_is_low() -> None:
    report = _analyze(_bundle(azs=(AZ_A,), subnets=("subnet-0aaa000000000000a",
                                                      "subnet-0ccc000000000000c")))
    diag = _one(report, "single-az")
    assert diag.severity is Severity.LOW and "subnets are all in one" in diag.title
    assert "(subnet-0aaa000000000000a, subnet-0ccc000000000000c) are in us-east-1a" in \
        diag.summary


# -- observability-gaps -----------------------------------------------------------------------
def test_container_without_logs() -> None:
    diag = _one(_analyze(_bundle(_ctr(logged=False, health=False))), "observability-gaps")
    assert diag.severity is Severity.LOW and diag.title == (
        "Missing logs, Container Insights or alarmable metrics")
    assert _checks(diag, "confirm") == {"container-no-log-configuration"}
    assert _checks(diag, "support") == {"lb-container-no-health-check"}
    assert diag.summary.startswith("Container web of prod/web has no logConfiguration")
    assert '"awslogs-group": "/ecs/web"' in diag.remediation[1].step


def test_misconfigured_tracing_sidecar() -> None:
    daemon = t.xray(portMappings=None, logConfiguration=logs("xray-daemon"))
    diag = _one(_analyze(_bundle(_ctr(), daemon)), "observability-gaps")
    assert "sidecar cannot do its job" in diag.title
    assert "no portMapping 2000/udp" in diag.summary and "xray-daemon" in diag.summary


def test_load_balanced_container_without_health_check() -> None:
    diag = _one(_analyze(_bundle(_ctr(health=False))), "observability-gaps")
    assert "without a container health check" in diag.title
    assert _checks(diag, "confirm") == {"lb-container-no-health-check"}


@pytest.mark.parametrize("containers", [
    (_ctr(),),
    (_ctr(), t.xray(logConfiguration=logs("xray-daemon"))),
], ids=["logged-app", "with-good-sidecar"])
def test_logs_health_check_and_good_sidecars_rule_out_gaps(
        containers: tuple[dict[str, Any], ...]) -> None:
    bundle = _bundle(*containers)
    if len(containers) > 1:
        # a good X-Ray sidecar includes a task role the scan's simulation lets upload traces
        (td,) = bundle["resources"]["task_definitions"]
        td["taskRoleArn"] = t.TASK_ROLE
        bundle["resources"]["task_role_simulations"] = [t.role_simulation()]
    assert "observability-gaps" not in _ids(_analyze(bundle))


def test_a_tracing_sidecar_without_a_task_role_is_an_observability_gap() -> None:
    """The daemon runs, but nothing lets it upload: traces are dropped silently."""
    bundle = _bundle(_ctr(), t.xray(logConfiguration=logs("xray-daemon")))
    assert "observability-gaps" in _ids(_analyze(bundle))


# -- plaintext-secrets ------------------------------------------------------------------------
def test_credential_shaped_value_is_high() -> None:
    report = _analyze(_bundle(_ctr(env={"AWS_ACCESS_KEY_ID": AWS_KEY, "LOG_LEVEL": "info"})))
    diag = _one(report, "plaintext-secrets")
    assert diag.severity is Severity.HIGH
    assert "(aws-access-key-id)" in diag.summary and "AWS_ACCESS_KEY_ID" in diag.summary
    assert AWS_KEY not in report.to_dict().__repr__()      # names only, never the value


def test_secret_name_with_a_literal_value_is_medium() -> None:
    report = _analyze(_bundle(_ctr(env={"DB_PASSWORD": "correct-horse-battery"})))
    diag = _one(report, "plaintext-secrets")
    assert diag.severity is Severity.MEDIUM and "named like secrets" in diag.title
    assert "sets DB_PASSWORD" in diag.summary
    assert "correct-horse-battery" not in report.to_dict().__repr__()


@pytest.mark.parametrize("env", [
    {"DB_PASSWORD": "${DB_PASSWORD}", "SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:x"},
    {"PASSWORD_MIN_LENGTH": "12", "LOG_LEVEL": "debug"},
], ids=["references", "not-secrets"])
def test_references_and_lookalike_names_rule_out_plaintext_secrets(env: dict[str, str]) -> None:
    assert "plaintext-secrets" not in _ids(_analyze(_bundle(_ctr(env=env))))


# -- stale-agent-or-ami -----------------------------------------------------------------------
def test_old_agents_are_one_diagnosis_per_cluster() -> None:
    hosts = [h.container_instance("i-0aaa1111", agent="1.45.0"),
             h.container_instance("i-0bbb2222", agent="1.45.0")]
    diag = _one(_analyze(_bundle(container_instances=hosts)), "stale-agent-or-ami")
    assert diag.resources == ("prod",) and diag.severity is Severity.LOW
    assert len({e.resource for e in diag.evidence if e.role == "confirm"}) == 2
    assert "agent 1.45.0" in diag.summary and "cluster prod" in diag.summary


def test_old_host_image_alone_is_enough() -> None:
    hosts = [h.container_instance("i-0aaa1111"), h.container_instance("i-0bbb2222")]
    ec2 = [h.ec2_instance("i-0aaa1111", image="ami-0old", launched_days=400),
           h.ec2_instance("i-0bbb2222", image="ami-0new", launched_days=3)]
    diag = _one(_analyze(_bundle(container_instances=hosts, ec2_instances=ec2)),
                "stale-agent-or-ami")
    assert _checks(diag, "confirm") == {"instance-ami-stale"}
    assert "AMI ami-0old" in diag.summary and "agent not flagged" in diag.summary


def test_current_agents_and_images_rule_out_stale_hosts() -> None:
    hosts = [h.container_instance("i-0aaa1111"), h.container_instance("i-0bbb2222")]
    ec2 = [h.ec2_instance("i-0aaa1111"), h.ec2_instance("i-0bbb2222")]
    report = _analyze(_bundle(container_instances=hosts, ec2_instances=ec2))
    assert "stale-agent-or-ami" not in _ids(report)
