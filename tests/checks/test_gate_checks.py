"""The gate's checks (checks/gate/): a passing and a failing row each, over gate bundles
(tests/builders_gate.py) run by the registry's gate selection through the real runner."""

from __future__ import annotations

from typing import Any

import pytest

from checker import graph
from checker.facts import Facts
from checker.model import Finding, Status
from tests import builders as b
from tests import builders_gate as g
from tests import builders_hosts as h
from tests import builders_metrics as m
from tests.checks.harness import OBSERVED, REGISTRY

GATE = REGISTRY.select("gate")
REPO = f"{b.ACCOUNT}.dkr.ecr.{b.REGION}.amazonaws.com/web"
EXEC = f"arn:aws:iam::{b.ACCOUNT}:role/web-exec"
SECRET = f"arn:aws:secretsmanager:{b.REGION}:{b.ACCOUNT}:secret:web/db"


def run_gate_check(check_id: str, bundle: dict[str, Any]) -> list[Finding]:
    """The gate's checks over `bundle`; each finding's data keys must be declared, and each
    failing or unknown finding about the candidate must say which field it is about (the
    gate points code scanning at that line)."""
    facts = Facts(bundle)
    findings = graph.run(GATE, facts)
    OBSERVED.update((f.check, f.status.value) for f in findings if f.check == check_id)
    undeclared = graph.undeclared_data(GATE, findings)
    assert not undeclared, f"data keys missing from the checks' emits=: {undeclared}"
    pathless = sorted({f.check for f in findings if f.resource == facts.subject
                       and f.status in (Status.FAIL, Status.UNKNOWN) and f.path is None})
    assert not pathless, f"findings about the candidate without a path (Result.path): {pathless}"
    return [f for f in findings if f.check == check_id]


def statuses(check_id: str, bundle: dict[str, Any]) -> list[str]:
    return [f.status.value for f in run_gate_check(check_id, bundle)]


def ctr(**extra: Any) -> dict[str, Any]:
    return {"name": "web", "image": f"{REPO}:1.4", "memory": 1024, "cpu": 256,
            "portMappings": [{"containerPort": 8080}],
            "healthCheck": {"command": ["CMD-SHELL", "true"]},
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-region": b.REGION}}, **extra}


def req(*containers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"family": "web", "containerDefinitions": list(containers) or [ctr()], **extra}


# -- the file alone ----------------------------------------------------------------------------
@pytest.mark.parametrize(("nulls", "expected"), [((), "pass"), (("ipcMode",), "fail")])
def test_gate_input_null_fields(nulls: tuple[str, ...], expected: str) -> None:
    (f,) = run_gate_check("gate-input-null-fields", g.gate_bundle(req(), nulls=nulls))
    assert f.status.value == expected and f.path == (nulls[0] if nulls else "")


@pytest.mark.parametrize(("value", "expected"), [
    (None, "pass"), ("default", "fail"), ("{{mode}}", "unknown")])
def test_gate_input_invalid_value(value: str | None, expected: str) -> None:
    invalid = ({"path": "networkMode", "value": value,
                "allowed": ["bridge", "host", "awsvpc", "none"]},) if value else ()
    (f,) = run_gate_check("gate-input-invalid-value", g.gate_bundle(req(), invalid=invalid))
    assert f.status.value == expected and f.path == ("networkMode" if value else "")


@pytest.mark.parametrize(("extra", "expected"), [
    ({"executionRoleArn": EXEC}, "pass"),
    ({}, "pass"),  # EC2, no secrets: the container instance role pulls and logs
    ({"requiresCompatibilities": ["FARGATE"]}, "fail"),
])
def test_gate_execution_role_missing(extra: dict[str, Any], expected: str) -> None:
    (f,) = run_gate_check("gate-execution-role-missing", g.gate_bundle(req(**extra)))
    assert f.status.value == expected
    if expected == "fail":
        assert f.path == "executionRoleArn" and "awslogs on Fargate" in f.message


@pytest.mark.parametrize(("extra", "expected"), [
    ({}, ["pass"]),
    ({"requiresCompatibilities": ["FARGATE"], "networkMode": "bridge", "cpu": "256",
      "memory": "512"}, ["fail", "fail", "fail"]),
])
def test_gate_aws_would_reject(extra: dict[str, Any], expected: list[str]) -> None:
    found = run_gate_check("gate-aws-would-reject", g.gate_bundle(req(**extra)))
    assert [f.status.value for f in found] == expected
    if "fail" in expected:
        assert {(f.data["rule"], f.path) for f in found} == {
            ("fargate-awsvpc", "networkMode"),
            ("container-memory-within-task", "containerDefinitions[0].memory"),
            ("awslogs-options", "containerDefinitions[0].logConfiguration.options")}
        assert all(f.severity.value == "critical" for f in found)


@pytest.mark.parametrize(("found", "expected"), [
    ([], ["pass"]),
    ([{"path": "containerDefinitions[0].image", "text": "${TAG}"},
      {"path": "taskRoleArn", "text": "{{ role }}"}], ["fail", "fail"]),
])
def test_gate_input_placeholder(found: list[dict[str, str]], expected: list[str]) -> None:
    bundle = g.gate_bundle(req())
    bundle["gate"]["placeholders"] = found
    got = run_gate_check("gate-input-placeholder", bundle)
    assert [f.status.value for f in got] == expected
    assert [f.path for f in got] == ([p["path"] for p in found] or [""])


# -- the target ------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "expected"), [("ACTIVE", "pass"), ("INACTIVE", "fail")])
def test_gate_cluster_active(status: str, expected: str) -> None:
    live = b.bundle(clusters=[b.cluster(status=status)])
    (f,) = run_gate_check("gate-cluster-active", g.gate_bundle(req(), live=live))
    assert f.status.value == expected


@pytest.mark.parametrize(("memory", "expected"), [(1024, "pass"), (9000, "fail")])
def test_gate_capacity_fit(memory: int, expected: str) -> None:
    svc = h.ec2_service("web")
    live = h.hosts_bundle([h.container_instance("i-0aaa", memory=7680, mem_free=2048)], [svc])
    bundle = g.gate_bundle(req(ctr(memory=memory, portMappings=[])), live=live, service=svc)
    (f,) = run_gate_check("gate-capacity-fit", bundle)
    assert f.status.value == expected
    if expected == "fail":
        assert f.path == "memory" and "than any instance registers" in f.message


TG = f"arn:aws:elasticloadbalancing:{b.REGION}:{b.ACCOUNT}:targetgroup/web/1"


@pytest.mark.parametrize(("port", "expected"), [(8080, "pass"), (9090, "fail")])
def test_gate_load_balancer_container(port: int, expected: str) -> None:
    svc = h.ec2_service("web", loadBalancers=[
        {"targetGroupArn": TG, "containerName": "web", "containerPort": 8080}])
    tg = b.shaped("elbv2", "TargetGroup", {"TargetGroupArn": TG, "TargetGroupName": "web",
                                           "Port": 80, "TargetType": "instance"})
    live = h.hosts_bundle([], [svc], target_groups=[tg])
    bundle = g.gate_bundle(req(ctr(portMappings=[{"containerPort": port}])), live=live,
                           service=svc)
    (f,) = run_gate_check("gate-load-balancer-container", bundle)
    assert f.status.value == expected
    if expected == "fail":
        assert f.path == "containerDefinitions[0].portMappings"


@pytest.mark.parametrize(("mode", "expected"), [("bridge", "pass"), ("awsvpc", "fail")])
def test_gate_network_configuration(mode: str, expected: str) -> None:
    svc = h.ec2_service("web")
    live = h.hosts_bundle([], [svc], subnets=[], security_groups=[])
    bundle = g.gate_bundle(req(networkMode=mode), live=live, service=svc)
    (f,) = run_gate_check("gate-network-configuration", bundle)
    assert f.status.value == expected
    if expected == "fail":
        assert f.path == "networkMode"


# -- against the running revision --------------------------------------------------------------
def _revision(candidate: dict[str, Any], running: dict[str, Any] | None = None,
              peak: float = 70.0) -> dict[str, Any]:
    svc = h.ec2_service("web")
    old = b.task_definition("web", containers=[running or b.container_def(
        "web", memory=1024, cpu=256, healthCheck={"command": ["CMD-SHELL", "true"]},
        logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}})])
    live = h.hosts_bundle([], [svc], [], [old])
    live["metrics"] = [m.ecs("web", "MemoryUtilization", "Maximum", m.flat(1, 300, peak))]
    return g.gate_bundle(candidate, live=live, service=svc)


@pytest.mark.parametrize(("memory", "expected"), [(1024, "pass"), (512, "fail")])
def test_gate_memory_below_peak(memory: int, expected: str) -> None:
    (f,) = run_gate_check("gate-memory-below-peak", _revision(req(ctr(memory=memory))))
    assert f.status.value == expected and f.path == "containerDefinitions[0].memory"


@pytest.mark.parametrize(("memory", "expected"), [(1024, "pass"), (768, "fail")])
def test_gate_resources_reduced(memory: int, expected: str) -> None:
    (f,) = run_gate_check("gate-resources-reduced", _revision(req(ctr(memory=memory))))
    assert f.status.value == expected
    if expected == "fail":
        assert f.path == "containerDefinitions[0].memory"


@pytest.mark.parametrize(("health", "expected"), [
    ({"command": ["CMD-SHELL", "true"]}, "pass"), (None, "fail")])
def test_gate_health_check_removed(health: dict[str, Any] | None, expected: str) -> None:
    container = ctr(healthCheck=health) if health else {
        k: v for k, v in ctr().items() if k != "healthCheck"}
    (f,) = run_gate_check("gate-health-check-removed", _revision(req(container)))
    assert f.status.value == expected and f.path == "containerDefinitions[0].healthCheck"


@pytest.mark.parametrize(("logs", "expected"), [(True, "pass"), (False, "fail")])
def test_gate_log_configuration_removed(logs: bool, expected: str) -> None:
    container = ctr() if logs else {k: v for k, v in ctr().items() if k != "logConfiguration"}
    (f,) = run_gate_check("gate-log-configuration-removed", _revision(req(container)))
    assert f.status.value == expected
    assert f.path == "containerDefinitions[0].logConfiguration"


@pytest.mark.parametrize(("family", "expected"), [("web", "pass"), ("web-worker", "fail")])
def test_gate_revision_diff(family: str, expected: str) -> None:
    """It informs (pass, with the diff); it fails only when the candidate is another task
    definition than the one the service runs (another family: the wrong file?)."""
    (f,) = run_gate_check("gate-revision-diff", _revision(req(family=family)))
    assert f.status.value == expected
    assert [d["path"] for d in f.data["diff"]] == ["containerDefinitions[0].image",
                                                  "containerDefinitions[0].portMappings"]
    if expected == "fail":
        assert f.severity.value == "medium" and f.path == "family"


# -- what the file names, as AWS knows it -------------------------------------------------------
def _refs(request: dict[str, Any], **collections: list[Any]) -> dict[str, Any]:
    return g.gate_bundle(request, live=b.bundle(services=[]), refs=collections)


@pytest.mark.parametrize(("roles", "expected"), [
    ([g.role("web-exec")], "pass"),
    ([], "fail"),  # no such role
    ([g.role("web-exec", {"Version": "2012-10-17", "Statement": []})], "fail"),  # no trust
])
def test_gate_role_assumable(roles: list[Any], expected: str) -> None:
    (f,) = run_gate_check("gate-role-assumable", _refs(req(executionRoleArn=EXEC),
                                                        iam_roles=roles))
    assert f.status.value == expected and f.path == "executionRoleArn"


@pytest.mark.parametrize(("images", "expected"), [([g.image("web", "1.4")], "pass"),
                                                   ([g.image("web", "1.3")], "fail")])
def test_gate_image_exists(images: list[Any], expected: str) -> None:
    (f,) = run_gate_check("gate-image-exists", _refs(req(), ecr_images=images))
    assert f.status.value == expected and f.path == "containerDefinitions[0].image"


@pytest.mark.parametrize(("arch", "expected"), [("amd64", "pass"), ("arm64", "fail")])
def test_gate_image_platform(arch: str, expected: str) -> None:
    request = req(runtimePlatform={"cpuArchitecture": "X86_64",
                                   "operatingSystemFamily": "LINUX"})
    bundle = _refs(request, ecr_images=[g.image("web", "1.4")],
                   ecr_manifests=[g.manifest("web", "1.4", ("linux", arch))])
    (f,) = run_gate_check("gate-image-platform", bundle)
    assert f.status.value == expected and f.path == "runtimePlatform"


SECRETS = [{"name": "DB", "valueFrom": SECRET}, {"name": "KEY", "valueFrom": "/web/key"}]


@pytest.mark.parametrize(("secrets", "parameters", "expected"), [
    ([g.secret("web/db")], [g.parameter("/web/key")], ["pass", "pass"]),
    ([], [g.parameter("/web/key")], ["fail", "pass"]),
    ([g.secret("web/db", DeletedDate=b.iso(b.NOW))], [], ["fail", "fail"]),
])
def test_gate_secret_exists(secrets: list[Any], parameters: list[Any],
                            expected: list[str]) -> None:
    bundle = _refs(req(ctr(secrets=SECRETS)), secrets=secrets, ssm_parameters=parameters)
    found = run_gate_check("gate-secret-exists", bundle)
    by_path = {f.path: f.status.value for f in found}
    assert by_path == {"containerDefinitions[0].secrets[0].valueFrom": expected[0],
                       "containerDefinitions[0].secrets[1].valueFrom": expected[1]}


@pytest.mark.parametrize(("groups", "create", "expected"), [
    ([g.log_group("/ecs/web")], False, "pass"),
    ([], True, "pass"),  # awslogs-create-group creates it
    ([], False, "fail"),
    ([g.log_group("/ecs/web", "eu-west-1")], False, "fail"),  # another Region's
])
def test_gate_log_group_exists(groups: list[Any], create: bool, expected: str) -> None:
    options = {"awslogs-group": "/ecs/web", "awslogs-region": b.REGION}
    if create:
        options["awslogs-create-group"] = "true"
    container = ctr(logConfiguration={"logDriver": "awslogs", "options": options})
    (f,) = run_gate_check("gate-log-group-exists", _refs(req(container), log_groups=groups))
    assert f.status.value == expected
    assert f.path == "containerDefinitions[0].logConfiguration.options.awslogs-group"


@pytest.mark.parametrize(("verdict", "expected"), [("allowed", "pass"),
                                                    ("implicitDeny", "fail")])
def test_gate_execution_role_permissions(verdict: str, expected: str) -> None:
    secret = g.secret("web/db")
    bundle = _refs(req(ctr(secrets=SECRETS[:1]), executionRoleArn=EXEC), secrets=[secret],
                   policy_simulations=[g.decision("secretsmanager:GetSecretValue", SECRET,
                                                  verdict)])
    (f,) = run_gate_check("gate-execution-role-permissions", bundle)
    assert f.status.value == expected and f.path == "containerDefinitions[0].secrets[0].valueFrom"


def test_a_failed_reference_read_is_unknown_with_the_permission() -> None:
    denied = {"collection": "iam_roles", "operation": "iam:GetRole", "code": "AccessDenied",
              "message": "no"}
    bundle = g.gate_bundle(req(executionRoleArn=EXEC), live=b.bundle(services=[]),
                           errors=(denied,))
    (f,) = run_gate_check("gate-role-assumable", bundle)
    assert f.status.value == "unknown" and "needs permission iam:GetRole" in f.message
    assert f.path == ""


# -- waivers -----------------------------------------------------------------------------------
def _waivers(expires: str) -> dict[str, Any]:
    return {"file": ".ecsdoctor.yaml", "today": "2026-12-07", "waivers": [
        {"index": 0, "check": "container-privileged", "resource": "web:*",
         "reason": "SEC-42", "expires": expires, "container": None, "line": 2}]}


@pytest.mark.parametrize(("expires", "expected"), [("2026-12-07", "pass"),
                                                    ("2026-12-06", "fail")])
def test_waiver_expired(expires: str, expected: str) -> None:
    (f,) = run_gate_check("waiver-expired", g.gate_bundle(req(), waivers=_waivers(expires)))
    assert f.status.value == expected and f.resource == ".ecsdoctor.yaml#waivers[0]"
    assert f.data["line"] == 2 and f.path is None


def test_offline_the_checks_that_need_aws_data_are_skipped() -> None:
    found = graph.run(GATE, Facts(g.gate_bundle(req())))
    offline = {f.check for f in found if f.message.startswith("offline: pass --cluster")}
    assert {"gate-cluster-active", "gate-image-exists", "gate-revision-diff",
            "lb-container-no-health-check", "task-subnet-default-route"} <= offline
    assert {"gate-input-null-fields", "container-privileged"}.isdisjoint(offline)
