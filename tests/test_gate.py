"""`ecsdoctor gate`: bad input is one line and exit 2, the static checks on hand-written files,
waivers, the live target against moto, SimulatePrincipalPolicy with Stubber (moto does
not implement it), and the gate's checks as checks: one registry, a path on every finding
about the candidate (the meta-test below)."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from checker import graph, registry
from checker.cli import app, main
from checker.collect import refs
from checker.facts import Facts
from checker.gate.candidate import value_lines
from checker.gate.commands import LOG_GROUP, fix_command
from checker.gate.run import GateOptions, run_gate
from checker.model import Finding, Severity, Status
from checker.names import ecr_image, secret_ref
from checker.render import render
from checks.lib.references import manifest_platforms, target_platform, trusts_ecs_tasks
from tests import builders as b
from tests import builders_gate as g
from tests import builders_hosts as h

runner = CliRunner()
REGION, ACCOUNT = b.REGION, b.ACCOUNT
REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def container(**extra: Any) -> dict[str, Any]:
    return {"name": "web", "image": f"{REPO}:1.4", "memory": 1024, "cpu": 256,
            "essential": True, "readonlyRootFilesystem": True,
            "portMappings": [{"containerPort": 8080, "hostPort": 0}],
            "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
            "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:8080/health"]},
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-region": REGION,
                "awslogs-stream-prefix": "web"}}, **extra}


def request(*containers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"family": "web", "containerDefinitions": list(containers) or [container()],
            **extra}


def write(tmp_path: Path, doc: Any, name: str = "td.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    return path


def gate(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["gate", *args])
    return result.exit_code, result.stdout, result.stderr


def findings(path: Path, **opts: Any) -> dict[str, list[Finding]]:
    verdict = run_gate(GateOptions(path, **opts))
    out: dict[str, list[Finding]] = {}
    for f in verdict.report.findings:
        out.setdefault(f.check, []).append(f)
    return out


def statuses(found: dict[str, list[Finding]], check: str) -> list[str]:
    return [f.status.value for f in found[check]]


# -- bad input: one line, exit 2 ---------------------------------------------------------------

@pytest.mark.parametrize(("doc", "message"), [
    ("{not json", "td.json: not valid JSON (line 1, column 2"),
    ([1, 2], "td.json: expected a JSON object"),
    ({"containerDefinitions": [container()]}, "td.json: family: missing (required"),
    ({"family": "web"}, "td.json: containerDefinitions: missing (required"),
    ({"family": "web", "containerDefinitions": []}, "td.json: containerDefinitions: empty"),
    (request(container(), container(name="b", memory="1gb")),
     'td.json: containerDefinitions[1].memory: expected an integer, got "1gb"'),
    (request(container(memroy=5)),
     "td.json: containerDefinitions[0].memroy: unknown key (did you mean 'memory'?)"),
    (request(cpu=256), "td.json: cpu: expected a string, got 256"),
    (request(container(environment=[{"name": "DB_PASSWORD", "value": 12345}])),
     "td.json: containerDefinitions[0].environment[0].value: expected a string, got a number"),
    (request(container(essential="yes")),
     'containerDefinitions[0].essential: expected true or false, got "yes"'),
    ({"taskDefinition": request(), "nextToken": "x"}, "td.json: nextToken: unknown key beside"),
    ({"taskDefinition": request(revision="7")}, "taskDefinition.revision"),
])
def test_bad_file_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     doc: Any, message: str) -> None:
    path = write(tmp_path, doc)
    if "revision" in message:  # a read-only field is accepted whatever its type
        assert main(["gate", "-t", str(path)]) in (0, 1)
        return
    assert main(["gate", "-t", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert message in lines[0] and "Traceback" not in captured.err
    assert "12345" not in captured.err  # a value that may be a secret is never echoed


@pytest.mark.parametrize(("args", "message"), [
    (["--service", "web"], "--service needs --cluster"),
    (["--since", "soon"], "--since 'soon'"),
    (["--fail-on", "severe"], "Invalid value for '--fail-on'"),
    (["--waivers", "missing.yaml"], "missing.yaml: no such waiver file"),
])
def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                      message: str) -> None:
    path = write(tmp_path, request())
    assert main(["gate", "-t", str(path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_no_such_file() -> None:
    code, _, err = gate("-t", "nope.json")
    assert code == 2 and "nope.json: no such file" in err


# -- the static path -----------------------------------------------------------------------------

def test_clean_file_passes_offline(tmp_path: Path) -> None:
    path = write(tmp_path, request(executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/x"))
    code, out, err = gate("-t", str(path), "-f", "json")
    assert code == 0, out
    report = json.loads(out)
    assert report["scope"]["mode"] == "offline"
    assert report["scope"]["task_definition_file"] == str(path)
    assert "ecsdoctor gate: PASS" in err
    by_check = {f["check"]: f for f in report["findings"]}
    assert by_check["gate-image-exists"]["status"] == "skipped"
    assert "offline" in by_check["gate-image-exists"]["message"]
    assert by_check["lb-container-no-health-check"]["status"] == "skipped"
    assert by_check["container-privileged"]["status"] == "pass"


def test_privileged_fails_with_json_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, request(container(), container(name="agent", privileged=True)))
    found = findings(path)
    bad = [f for f in found["container-privileged"] if f.status is Status.FAIL]
    assert len(bad) == 1
    assert bad[0].data["json_path"] == "containerDefinitions[1].privileged"
    line = path.read_text().splitlines()[bad[0].data["line"] - 1]
    assert '"privileged": true' in line
    code, _, err = gate("-t", str(path))
    assert code == 1 and "container-privileged" in err
    assert gate("-t", str(path), "--fail-on", "critical")[0] == 0


def test_describe_output_is_accepted_with_paths_in_the_file(tmp_path: Path) -> None:
    described = {"taskDefinition": {**request(container(privileged=True)),
                                    "taskDefinitionArn": b.td_arn("web", 7), "revision": 7,
                                    "status": "ACTIVE", "compatibilities": ["EC2"],
                                    "registeredAt": "2026-11-20T10:00:00+00:00"},
                 "tags": [{"key": "team", "value": "a"}]}
    path = write(tmp_path, described)
    bad = [f for f in findings(path)["container-privileged"] if f.status is Status.FAIL]
    assert bad[0].data["json_path"] == "taskDefinition.containerDefinitions[0].privileged"
    assert '"privileged": true' in path.read_text().splitlines()[bad[0].data["line"] - 1]


def test_nulls_are_dropped_and_reported(tmp_path: Path) -> None:
    path = write(tmp_path, request(container(dnsSearchDomains=None), ipcMode=None))
    found = findings(path)
    (null,) = found["gate-input-null-fields"]
    assert null.status is Status.FAIL and null.severity is Severity.LOW
    assert null.data["nulls"] == ["containerDefinitions[0].dnsSearchDomains", "ipcMode"]


@pytest.mark.parametrize(("value", "status"), [("default", "fail"), ("{{mode}}", "unknown")])
def test_value_outside_the_enum(tmp_path: Path, value: str, status: str) -> None:
    found = findings(write(tmp_path, request(networkMode=value)), allow_placeholders=True)
    assert statuses(found, "gate-input-invalid-value") == [status]
    assert found["gate-input-invalid-value"][0].data["json_path"] == "networkMode"


# -- templates -------------------------------------------------------------------------------
TEMPLATE = request(container(image="${ECR_URI}:${IMAGE_TAG}", environment=[
    {"name": "DB_PASSWORD", "value": "${DB_PASSWORD}"},
    {"name": "DD_API_KEY", "value": "<YOUR_API_KEY>"}],
    command=["sh", "-c", "exec app --port ${PORT}"]), taskRoleArn="{{ task_role_arn }}")


def test_a_template_is_exit_2_saying_where(tmp_path: Path) -> None:
    code, out, err = gate("-t", str(write(tmp_path, TEMPLATE)))
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert "5 template placeholder(s)" in line and "render the template first" in line
    assert "containerDefinitions[0].image '${ECR_URI}' (line " in line
    assert "--allow-placeholders" in line and "and 2 more" in line
    assert "${PORT}" not in line  # a shell word in a command is the shell's, not a template's


def test_allow_placeholders_gives_one_finding_each(tmp_path: Path) -> None:
    found = findings(write(tmp_path, TEMPLATE), allow_placeholders=True)
    got = sorted((f.data["json_path"], f.data["placeholder"], f.status.value)
                 for f in found["gate-input-placeholder"])
    assert got == [
        ("containerDefinitions[0].environment[0].value", "${DB_PASSWORD}", "fail"),
        ("containerDefinitions[0].environment[1].value", "<YOUR_API_KEY>", "fail"),
        ("containerDefinitions[0].image", "${ECR_URI}", "fail"),
        ("containerDefinitions[0].image", "${IMAGE_TAG}", "fail"),
        ("taskRoleArn", "{{ task_role_arn }}", "fail")]
    assert all(f.severity is Severity.MEDIUM and f.data["line"] > 1
               for f in found["gate-input-placeholder"])
    assert statuses(findings(write(tmp_path, request(), "ok.json")),
                    "gate-input-placeholder") == ["pass"]


# -- several files ---------------------------------------------------------------------------
def test_several_files_one_report_each_finding_names_its_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two files of one family (staging and prod): one report, every finding names its file
    (data and message), the exit code is the worst of them, SARIF fingerprints differ."""
    monkeypatch.chdir(tmp_path)
    Path("deploy").mkdir()
    write(tmp_path, request(), "deploy/staging.json")
    write(tmp_path, request(container(privileged=True)), "deploy/prod.json")
    staging, prod = Path("deploy/staging.json"), Path("deploy/prod.json")
    verdict = run_gate(GateOptions((staging, prod)))
    assert verdict.exit_code == 1
    report = verdict.report
    assert report.scope["task_definition_files"] == [str(staging), str(prod)]
    files = {f.data.get("file") for f in report.findings}
    assert files == {str(staging), str(prod)}
    for f in report.findings:
        assert f.message.startswith(f"{f.data['file']}: ")
    blocking = {(f.check, f.data["file"]) for f in verdict.blocking}
    assert blocking == {("container-privileged", str(prod))}
    sarif = json.loads(render(report, "sarif"))
    results = sarif["runs"][0]["results"]
    prints = [r["partialFingerprints"]["ecsdoctorFinding/v1"] for r in results]
    assert len(prints) == len(set(prints))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert str(prod) in uris and uris <= {str(staging), str(prod)}
    assert [a["location"]["uri"] for a in sarif["runs"][0]["artifacts"]] == [
        str(staging), str(prod)]
    junit = ET.fromstring(render(report, "junit"))
    assert [s.get("name") for s in junit.findall("testsuite")] == [
        f"ecsdoctor gate {staging}", f"ecsdoctor gate {prod}"]


def test_a_quoted_glob_names_the_files_it_matches(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("deploy").mkdir()
    for name in ("b", "a"):
        write(tmp_path, request(), f"deploy/{name}.json")
    code, out, err = gate("-t", "deploy/*.json", "-f", "json")
    assert code == 0, err
    assert json.loads(out)["scope"]["task_definition_files"] == [
        "deploy/a.json", "deploy/b.json"]
    code, _, err = gate("-t", "deploy/*.yaml")
    assert code == 2 and "deploy/*.yaml: no file matches this pattern" in err


def test_several_files_take_no_service(tmp_path: Path) -> None:
    a, b = write(tmp_path, request(), "a.json"), write(tmp_path, request(), "b.json")
    code, _, err = gate("-t", str(a), "-t", str(b), "--cluster", "prod", "--service", "web")
    assert code == 2 and "--service takes one task definition file, got 2" in err


# -- what the report suggests ----------------------------------------------------------------
def test_offline_table_header_names_the_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, request())
    code, out, _ = gate("-t", "td.json")
    assert code == 0
    assert "task definition td.json  offline (no AWS access)" in out
    assert "region ?" not in out and "clusters (all)" not in out


@pytest.mark.parametrize(("command", "cluster", "service", "expected"), [
    ("aws ecs update-service --cluster  --service web:candidate --force-new-deployment",
     None, None, "aws ecs update-service --cluster <cluster> --service <service> "
                 "--force-new-deployment"),
    ("aws ecs update-service --cluster  --service web:candidate --force-new-deployment",
     "prod", "web", "aws ecs update-service --cluster prod --service web "
                    "--force-new-deployment"),
    ("aws ecs update-cluster-settings --cluster  --settings name=containerInsights,value=enabled",
     None, None,
     "aws ecs update-cluster-settings --cluster <cluster> --settings "
     "name=containerInsights,value=enabled"),
    ("aws logs create-log-group --log-group-name /ecs/web:candidate", None, None,
     "aws logs create-log-group --log-group-name /ecs/web"),
    ("aws ecs describe-services --cluster prod --services checkout", "prod", None,
     "aws ecs describe-services --cluster prod --services checkout"),
])
def test_suggested_commands_name_the_target(command: str, cluster: str | None,
                                            service: str | None, expected: str) -> None:
    assert fix_command(command, candidate="web:candidate", family="web", cluster=cluster,
                       service=service) == expected


def test_offline_markdown_opens_with_the_verdict_and_valid_commands(tmp_path: Path) -> None:
    path = write(tmp_path, request(container(logConfiguration=None, privileged=True)))
    code, out, _ = gate("-t", str(path), "-f", "markdown")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("**ecsdoctor gate: FAIL** — 1 finding(s) at or above high")
    assert "container-privileged" in lines[0]
    assert "region ?" not in out.lower() and "(all)" not in out
    assert f"**Task definition** `{path}` · offline (no AWS access)" in out
    commands = [line.strip() for line in lines if line.strip().startswith("aws ")]
    assert commands, out
    for command in commands:
        assert "web:candidate" not in command, command
        assert not re.search(r"--cluster\s+(--|$)", command), command
        for group in re.findall(r"--log-group-name (\S+)", command):
            assert LOG_GROUP.match(group), command
    assert "aws logs create-log-group --log-group-name /ecs/web" in commands
    code, out, _ = gate("-t", str(write(tmp_path, request(), "ok.json")), "-f", "markdown")
    assert code == 0 and out.startswith("**ecsdoctor gate: PASS** — nothing at or above high")


@pytest.mark.parametrize(("extra", "status"), [
    ({}, "fail"),
    ({"executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec"}, "pass"),
])
def test_fargate_awslogs_needs_an_execution_role(tmp_path: Path, extra: dict[str, Any],
                                                 status: str) -> None:
    path = write(tmp_path, request(requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                                   cpu="256", memory="1024", **extra))
    found = findings(path)
    assert statuses(found, "gate-execution-role-missing") == [status]
    if status == "fail":
        assert "logs with awslogs on Fargate" in found["gate-execution-role-missing"][0].message


def test_value_lines_follow_the_file() -> None:
    text = '{\n "a": [\n  {"b": 1},\n  2\n ],\n "c d": {"e": null}\n}'
    lines = value_lines(text)
    assert lines["a[0].b"] == 3 and lines["a[1]"] == 4 and lines['["c d"].e'] == 6


# -- waivers ------------------------------------------------------------------------------------

WAIVER = """waivers:
  - check: container-privileged
    resource: "web:*"
    container: agent
    reason: the agent needs the host's cgroups (SEC-42)
    expires: {expires}
"""


def _privileged(tmp_path: Path) -> Path:
    return write(tmp_path, request(container(), container(name="agent", privileged=True)))


def test_waiver_turns_a_failure_into_waived(tmp_path: Path) -> None:
    path = _privileged(tmp_path)
    waivers = write(tmp_path, WAIVER.format(expires="2026-12-31"), ".ecsdoctor.yaml")
    verdict = run_gate(GateOptions(path, waivers=waivers, today=dt.date(2026, 12, 31)))
    assert verdict.exit_code == 0 and verdict.waived == 1
    waived = [f for f in verdict.report.findings if "waived" in f.data]
    assert waived[0].status is Status.SKIPPED and waived[0].data["waived"]["status"] == "fail"
    (status,) = [f for f in verdict.report.findings if f.check == "waiver-expired"]
    assert status.status is Status.PASS and "waives 1 finding" in status.message


def test_default_waiver_file_in_the_working_directory(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = _privileged(tmp_path)
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)  # within the year allowed
    write(tmp_path, WAIVER.format(expires=soon.isoformat()), ".ecsdoctor.yaml")
    monkeypatch.chdir(tmp_path)
    assert gate("-t", str(path))[0] == 0


def test_expired_waiver_fails_and_waives_nothing(tmp_path: Path) -> None:
    path = _privileged(tmp_path)
    waivers = write(tmp_path, WAIVER.format(expires="2026-01-31"), ".ecsdoctor.yaml")
    verdict = run_gate(GateOptions(path, waivers=waivers, today=dt.date(2026, 2, 1)))
    assert verdict.exit_code == 1
    failing = {f.check for f in verdict.blocking}
    assert failing == {"container-privileged", "waiver-expired"}
    expired = next(f for f in verdict.blocking if f.check == "waiver-expired")
    assert "waivers[0] (container-privileged on web:*, container agent) expired on 2026-01-31" \
        in expired.message
    assert expired.data["line"] == 2


@pytest.mark.parametrize(("text", "message"), [
    ("waivers: [\n", "not valid YAML"),
    ("waiver: []\n", "waiver: unknown key (did you mean 'waivers'?)"),
    ("- a\n", "expected a mapping with a `waivers:` list"),
    ("waivers:\n  - check: container-privileged\n", "waivers[0].resource: missing"),
    (WAIVER.format(expires="next week"), "waivers[0].expires: expected a date YYYY-MM-DD"),
    (WAIVER.replace("container-privileged", "container-privilged").format(expires="2030-1-1"),
     "waivers[0].check: unknown check 'container-privilged' (did you mean"),
    (WAIVER.replace("reason:", "raison:").format(expires="2030-01-01"),
     "waivers[0].raison: unknown key (did you mean 'reason'?)"),
])
def test_malformed_waiver_file_is_one_line_exit_2(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  text: str, message: str) -> None:
    path = _privileged(tmp_path)
    waivers = write(tmp_path, text, "w.yaml")
    assert main(["gate", "-t", str(path), "--waivers", str(waivers)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


# -- live checks on hand-built facts (no AWS) --------------------------------------------------

GATE = registry.load().select("gate")


def gate_check(check_id: str, req: dict[str, Any], bundle: dict[str, Any],
               service: dict[str, Any] | None) -> list[Finding]:
    """One gate check over the gate's bundle for `req` going to `service` of `bundle`."""
    facts = Facts(g.gate_bundle(req, live=bundle, service=service))
    return graph.run_one(GATE[check_id], facts, registry.Prior({}))


@pytest.mark.parametrize(("memory", "min_healthy", "status", "words"), [
    (1024, 100, "pass", "fits on 1 of 2 instance(s) now"),
    (3000, 50, "pass", "in place of an old task"),
    (3000, 100, "fail", "minimumHealthyPercent 100%"),
    (9000, 100, "fail", "than any instance registers"),
])
def test_capacity_fit(memory: int, min_healthy: int, status: str, words: str) -> None:
    svc = h.ec2_service("web", deploymentConfiguration={"minimumHealthyPercent": min_healthy})
    running = b.task_definition("web", containers=[b.container_def("web", memory=2048)])
    instances = [h.container_instance("i-0aaa", memory=7680, mem_free=1500),
                 h.container_instance("i-0bbb", memory=7680, mem_free=100)]
    tasks = [h.placed_task("web", "i-0aaa"), h.placed_task("web", "i-0bbb")]
    bundle = h.hosts_bundle(instances, [svc], tasks, [running])
    req = request(container(memory=memory, portMappings=[]))
    (result,) = gate_check("gate-capacity-fit", req, bundle, svc)
    assert result.status.value == status and words in result.message, result.message


def test_capacity_fit_names_a_taken_static_port() -> None:
    svc = h.ec2_service("web")
    bundle = h.hosts_bundle([h.container_instance("i-0aaa", ports=(80,))], [svc], [])
    req = request(container(portMappings=[{"containerPort": 80, "hostPort": 80}]))
    (result,) = gate_check("gate-capacity-fit", req, bundle, svc)
    assert result.status is Status.FAIL and "1 have port 80/tcp taken" in result.message


@pytest.mark.parametrize(("used", "status"), [(0, "pass"), (1, "fail")])
def test_capacity_fit_counts_eni_slots(used: int, status: str) -> None:
    """m5.large-like type with 2 interfaces: one awsvpc task per instance (primary ENI)."""
    svc = h.ec2_service("web")
    tasks = [h.placed_task("other", "i-0aaa", awsvpc=True) for _ in range(used)]
    bundle = h.hosts_bundle([h.container_instance("i-0aaa")], [svc], tasks,
                            instance_types=[h.instance_type(max_eni=2)])
    req = request(container(portMappings=[]), networkMode="awsvpc")
    (result,) = gate_check("gate-capacity-fit", req, bundle, svc)
    assert result.status.value == status, result.message
    if status == "fail":
        assert "1 have no ENI slot left" in result.message


AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-0aaa"], "securityGroups": ["sg-0aaa"]}}


@pytest.mark.parametrize(("mode", "config", "status", "words"), [
    ("bridge", None, "pass", "no awsvpc configuration needed"),
    ("awsvpc", None, "fail", "has no network configuration"),
    ("bridge", AWSVPC, "fail", "not valid for the given networkMode"),
    ("awsvpc", AWSVPC, "fail", "subnet-0aaa, sg-0aaa, which no longer exist"),
])
def test_network_configuration(mode: str, config: dict[str, Any] | None, status: str,
                               words: str) -> None:
    svc = h.ec2_service("web", **({"networkConfiguration": config} if config else {}))
    bundle = h.hosts_bundle([], [svc], [], subnets=[], security_groups=[])
    (result,) = gate_check("gate-network-configuration", request(networkMode=mode), bundle,
                           svc)
    assert result.status.value == status and words in result.message, result.message


@pytest.mark.parametrize(("req", "target_type", "status", "words"), [
    (request(), "instance", "pass", "fits bridge"),
    (request(container(name="api")), "instance", "fail", "has no container web"),
    (request(container(portMappings=[{"containerPort": 9090}])), "instance", "fail",
     "maps 9090"),
    (request(networkMode="awsvpc"), "instance", "fail", "awsvpc tasks need ip"),
])
def test_load_balancer_container(req: dict[str, Any], target_type: str, status: str,
                                 words: str) -> None:
    tg_arn = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web/1"
    svc = h.ec2_service("web", loadBalancers=[
        {"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}])
    tg = b.shaped("elbv2", "TargetGroup", {"TargetGroupArn": tg_arn, "TargetGroupName": "web",
                                           "Port": 80, "TargetType": target_type})
    bundle = h.hosts_bundle([], [svc], [], target_groups=[tg])
    (result,) = gate_check("gate-load-balancer-container", req, bundle, svc)
    assert result.status.value == status and words in result.message, result.message


# -- names and judgements -------------------------------------------------------------------

@pytest.mark.parametrize(("value", "kind", "name", "arn"), [
    (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf:password::", "secretsmanager",
     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf",
     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"),
    (f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/prod/db", "ssm", "/prod/db",
     f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/prod/db"),
    ("/prod/db", "ssm", "/prod/db", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/prod/db"),
    ("dbpass", "ssm", "dbpass", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/dbpass"),
])
def test_secret_ref(value: str, kind: str, name: str, arn: str) -> None:
    ref = secret_ref(value, REGION, ACCOUNT)
    assert ref is not None and (ref.kind, ref.name, ref.arn) == (kind, name, arn)


def test_image_and_platform_parsing() -> None:
    ref = ecr_image(f"{REPO}/api@sha256:{'a' * 64}")
    assert ref is not None and ref.repository == "web/api" and ref.image_id == {
        "imageDigest": f"sha256:{'a' * 64}"}
    assert ecr_image("nginx:1.25") is None and ecr_image("public.ecr.aws/x/y:1") is None
    assert ecr_image(f"{REPO}").image_id == {"imageTag": "latest"}  # type: ignore[union-attr]
    index = {"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"platform": {"os": "linux", "architecture": "arm64"}},
        {"platform": {"os": "unknown", "architecture": "unknown"}}]}
    assert manifest_platforms(json.dumps(index)) == [("linux", "arm64")]
    assert manifest_platforms(json.dumps({"schemaVersion": 2, "config": {}})) is None
    assert target_platform({}, "FARGATE", set()) == ("linux", "amd64")
    assert target_platform({"runtimePlatform": {"cpuArchitecture": "ARM64"}}, "EC2", set()) \
        == ("linux", "arm64")
    assert target_platform({}, "EC2", {"x86_64", "arm64"}) is None


@pytest.mark.parametrize(("statements", "ok"), [
    ([TRUST["Statement"][0]], True),
    ([{"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]},
       "Action": "sts:AssumeRole"}], False),
    ([TRUST["Statement"][0], {"Effect": "Deny", "Principal": "*", "Action": "sts:*"}], False),
])
def test_trust_policy(statements: list[dict[str, Any]], ok: bool) -> None:
    doc = {"Version": "2012-10-17", "Statement": statements}
    assert trusts_ecs_tasks(doc)[0] is ok
    assert trusts_ecs_tasks(json.dumps(doc))[0] is ok  # the raw API's string form


# -- SimulatePrincipalPolicy (moto does not implement it: Stubber) -----------------------------

EXEC = f"arn:aws:iam::{ACCOUNT}:role/web-exec"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:web/db-AbCdEf"


def _simulated(decisions: list[tuple[str, str]] | Exception) -> list[Finding]:
    """The reference collector's simulation (a stubbed IAM client), then the check over
    what it stored."""
    iam = boto3.client("iam", region_name=REGION)
    stub = Stubber(iam)
    expected = {"PolicySourceArn": EXEC, "ActionNames": ["secretsmanager:GetSecretValue"],
                "ResourceArns": [SECRET]}
    if isinstance(decisions, Exception):
        stub.add_client_error("simulate_principal_policy", "AccessDenied", "no",
                              expected_params=expected)
    else:
        stub.add_response("simulate_principal_policy", {"EvaluationResults": [
            {"EvalActionName": a, "EvalResourceName": SECRET, "EvalDecision": d}
            for a, d in decisions], "IsTruncated": False}, expected)
    probe = refs.Probe(session=None, region=REGION, account=ACCOUNT)
    probe.clients[("iam", REGION)] = iam
    ctr = container(image="nginx:1.25", secrets=[{"name": "DB", "valueFrom": SECRET}])
    del ctr["logConfiguration"]  # the secret is the only thing the role is asked about
    req = request(ctr, executionRoleArn=EXEC)
    with stub:
        simulations = refs._simulations(probe, g.candidate(req), {})
        stub.assert_no_pending_responses()
    bundle = g.gate_bundle(req, live=b.bundle(), refs={"policy_simulations": simulations},
                           errors=tuple(probe.recorder.errors()))
    return graph.run_one(GATE["gate-execution-role-permissions"], Facts(bundle),
                         registry.Prior({}))


def test_simulation_allowed() -> None:
    (result,) = _simulated([("secretsmanager:GetSecretValue", "allowed")])
    assert result.status is Status.PASS and "read secret" in result.message


def test_simulation_denied_names_role_action_and_resource() -> None:
    (result,) = _simulated([("secretsmanager:GetSecretValue", "implicitDeny")])
    assert result.status is Status.FAIL
    assert result.message.startswith(
        f"execution role web-exec lacks secretsmanager:GetSecretValue (implicitDeny) on {SECRET}")


def test_simulation_not_permitted_is_unknown_with_the_permission() -> None:
    (result,) = _simulated(RuntimeError())
    assert result.status is Status.UNKNOWN
    assert "needs permission iam:SimulatePrincipalPolicy" in result.message
    assert result.data["needs"] == "policy_simulations"
    assert "iam:SimulatePrincipalPolicy AccessDenied" in result.data["reason"]


# -- the live target against moto ---------------------------------------------------------------

def build_account() -> dict[str, str]:
    """Cluster `prod` with two EC2 hosts behind an ALB, service `web` running web:1 (ECR
    image 1.3, awslogs, two secrets), the roles, repository, log group, secret and parameter
    it names, and a MemoryUtilization peak of 70% of 1024 MiB."""
    c = {s: boto3.client(s, region_name=REGION) for s in (
        "ec2", "ecs", "ssm", "iam", "ecr", "secretsmanager", "logs", "elbv2", "cloudwatch")}
    net = _network(c["ec2"], c["elbv2"])
    c["ecs"].create_cluster(clusterName="prod")
    image = c["ssm"].get_parameter(
        Name="/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id")["Parameter"]
    for inst in c["ec2"].run_instances(ImageId=image["Value"], MinCount=2, MaxCount=2,
                                       InstanceType="m5.large", SubnetId=net["subnet"],
                                       SecurityGroupIds=[net["hosts"]])["Instances"]:
        c["ecs"].register_container_instance(cluster="prod", instanceIdentityDocument=json.dumps(
            {"instanceId": inst["InstanceId"], "region": REGION, "accountId": ACCOUNT}))
    refs = _references(c)
    c["ecs"].register_task_definition(**live_request(refs, "1.3"))
    c["ecs"].create_service(cluster="prod", serviceName="web", taskDefinition="web:1",
                            desiredCount=2, launchType="EC2", loadBalancers=[{
                                "targetGroupArn": net["tg"], "containerName": "web",
                                "containerPort": 8080}])
    c["ecs"].run_task(cluster="prod", taskDefinition="web:1", count=2, launchType="EC2",
                      group="service:web", startedBy="ecs-svc/1")
    now = dt.datetime.now(dt.UTC)
    c["cloudwatch"].put_metric_data(Namespace="AWS/ECS", MetricData=[{
        "MetricName": "MemoryUtilization", "Timestamp": now - dt.timedelta(minutes=m),
        "Value": v, "Unit": "Percent", "Dimensions": [
            {"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "web"}]}
        for m, v in ((30, 50.0), (20, 70.0), (10, 60.0))])
    return refs


def _network(ec2: Any, elbv2: Any) -> dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    ec2.modify_subnet_attribute(SubnetId=subnets[0], MapPublicIpOnLaunch={"Value": True})
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    ec2.create_route(RouteTableId=table["RouteTables"][0]["RouteTableId"],
                     DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    lb_sg = ec2.create_security_group(GroupName="lb", Description="lb", VpcId=vpc)["GroupId"]
    hosts = ec2.create_security_group(GroupName="hosts", Description="h", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=hosts, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 32768, "ToPort": 65535,
        "UserIdGroupPairs": [{"GroupId": lb_sg}]}])
    lb = elbv2.create_load_balancer(Name="web", Subnets=subnets, SecurityGroups=[lb_sg])
    tg = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=vpc,
                                   TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"],
                          Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    return {"subnet": subnets[0], "hosts": hosts, "tg": tg}


def _references(c: dict[str, Any]) -> dict[str, str]:
    roles = {name: c["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
        TRUST))["Role"]["Arn"] for name in ("web-exec", "web-task")}
    ec2_trust = {**TRUST, "Statement": [{**TRUST["Statement"][0],
                                         "Principal": {"Service": "ec2.amazonaws.com"}}]}
    roles["untrusted"] = c["iam"].create_role(
        RoleName="untrusted", AssumeRolePolicyDocument=json.dumps(ec2_trust))["Role"]["Arn"]
    c["ecr"].create_repository(repositoryName="web")
    for tag, arch in (("1.3", "amd64"), ("1.4", "amd64"), ("arm", "arm64")):
        index = {"schemaVersion": 2,
                 "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                 "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                "size": 1, "digest": "sha256:" + "a" * 64,
                                "platform": {"architecture": arch, "os": "linux"}}]}
        c["ecr"].put_image(repositoryName="web", imageManifest=json.dumps(index), imageTag=tag,
                           imageManifestMediaType=index["mediaType"])
    secret = c["secretsmanager"].create_secret(Name="web/db", SecretString="s3cr3t-value")["ARN"]
    c["ssm"].put_parameter(Name="/web/api-key", Value="p4ram-value", Type="SecureString")
    c["logs"].create_log_group(logGroupName="/ecs/web")
    return {"exec": roles["web-exec"], "task": roles["web-task"],
            "untrusted": roles["untrusted"], "secret": secret}


def live_request(refs: dict[str, str], tag: str, **extra: Any) -> dict[str, Any]:
    ctr = container(image=f"{REPO}:{tag}", secrets=[
        {"name": "DB", "valueFrom": refs["secret"]}, {"name": "KEY", "valueFrom": "/web/api-key"}])
    return request(ctr, executionRoleArn=refs["exec"], taskRoleArn=refs["task"], **extra)


@pytest.fixture
def account(aws: None) -> dict[str, str]:
    return build_account()


def _live(tmp_path: Path, req: dict[str, Any]) -> Any:
    path = write(tmp_path, req)
    return run_gate(GateOptions(path, cluster="prod", service="web", region=REGION),
                    session=boto3.session.Session(region_name=REGION))


def test_live_good_revision_passes(tmp_path: Path, account: dict[str, str]) -> None:
    verdict = _live(tmp_path, live_request(account, "1.4"))
    by = {f.check: f for f in verdict.report.findings}
    assert verdict.exit_code == 0, [f.message for f in verdict.blocking]
    for check in ("gate-cluster-active", "gate-capacity-fit", "gate-load-balancer-container",
                  "gate-memory-below-peak", "gate-image-exists", "gate-log-group-exists",
                  "lb-to-task-security-group", "task-subnet-default-route"):
        assert by[check].status is Status.PASS, (check, by[check].message)
    assert "717 MiB" in by["gate-memory-below-peak"].message
    assert by["gate-execution-role-permissions"].status is Status.UNKNOWN  # moto: not implemented
    diff = by["gate-revision-diff"].data["diff"]
    assert [d["path"] for d in diff] == ["containerDefinitions[0].image"]
    text = json.dumps(verdict.report.to_dict())
    assert "s3cr3t-value" not in text and "p4ram-value" not in text
    # every finding keeps a JSON path and a line; the network checks' (about subnets and
    # security groups) sit at the field of the candidate nearest to them, not on line 1
    for f in verdict.report.findings:
        assert isinstance(f.data.get("json_path"), str) and f.data.get("line"), f.check
    secrets = by["secrets-logs-unreachable"].data
    assert secrets["located"] == "nearest"
    assert secrets["json_path"] == "containerDefinitions[0].secrets" and secrets["line"] > 1


def test_live_bad_revision_names_every_problem(tmp_path: Path, account: dict[str, str]) -> None:
    req = live_request({**account, "secret": account["secret"] + "x",
                        "task": account["untrusted"]}, "9.9")
    ctr = req["containerDefinitions"][0]
    ctr.update(memory=512, portMappings=[{"containerPort": 9090}])
    del ctr["healthCheck"], ctr["logConfiguration"]
    verdict = _live(tmp_path, req)
    failing = {f.check: f for f in verdict.report.findings if f.status is Status.FAIL}
    assert verdict.exit_code == 1
    assert {"gate-memory-below-peak", "gate-resources-reduced", "gate-health-check-removed",
            "gate-log-configuration-removed", "gate-load-balancer-container",
            "gate-image-exists", "gate-secret-exists", "gate-role-assumable"} <= set(failing)
    assert "512 MiB vs 717 MiB" in failing["gate-memory-below-peak"].message
    assert failing["gate-health-check-removed"].data["diff"][0]["candidate"] is None
    assert "untrusted" in failing["gate-role-assumable"].message
    assert failing["gate-memory-below-peak"].data["json_path"] == "containerDefinitions[0].memory"


def test_live_image_platform_mismatch(tmp_path: Path, account: dict[str, str]) -> None:
    req = live_request(account, "arm", runtimePlatform={"cpuArchitecture": "X86_64",
                                                       "operatingSystemFamily": "LINUX"})
    (platform,) = [f for f in _live(tmp_path, req).report.findings
                   if f.check == "gate-image-platform"]
    assert platform.status is Status.FAIL and "linux/arm64" in platform.message


def test_live_calls_only_declared_read_only_operations(tmp_path: Path,
                                                        account: dict[str, str]) -> None:
    from checker.collect import OPERATIONS
    from tests.collect.support import Calls

    session = boto3.session.Session(region_name=REGION)
    calls = Calls(session)
    req = live_request(account, "1.4", runtimePlatform={"cpuArchitecture": "X86_64"})
    run_gate(GateOptions(write(tmp_path, req), cluster="prod", service="web"), session=session)
    # botocore's service id for Secrets Manager is "secrets-manager"; IAM's prefix has no dash
    called = {a.replace("secrets-manager:", "secretsmanager:") for a in calls.actions}
    assert called - OPERATIONS - refs.OPERATIONS == set()
    assert refs.OPERATIONS - called == set()


def test_gate_policy_equals_the_declared_operations() -> None:
    policy = json.loads((Path(__file__).parents[1] / "deploy" / "gate-iam-policy.json")
                        .read_text())
    (statement,) = policy["Statement"]
    assert statement["Action"] == sorted(refs.OPERATIONS)
    assert statement["Effect"] == "Allow"
    read_only = {"ecr:BatchGetImage", "iam:SimulatePrincipalPolicy"}
    assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) or a in read_only
               for a in statement["Action"])


def test_unknown_cluster_is_exit_2(tmp_path: Path, account: dict[str, str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, request())
    assert main(["gate", "-t", str(path), "--cluster", "nope"]) == 2
    assert "cluster 'nope' not found" in capsys.readouterr().err


def test_docs_name_every_gate_check() -> None:
    text = (Path(__file__).parents[1] / "docs" / "gate.md").read_text()
    assert [s.id for s in GATE if s.area == "gate" and f"`{s.id}`" not in text] == []


def test_live_cluster_without_service(tmp_path: Path, account: dict[str, str]) -> None:
    path = write(tmp_path, live_request(account, "1.4"))
    verdict = run_gate(GateOptions(path, cluster="prod"),
                       session=boto3.session.Session(region_name=REGION))
    by = {f.check: f for f in verdict.report.findings}
    assert by["gate-capacity-fit"].status is Status.PASS
    assert by["gate-image-exists"].status is Status.PASS
    assert by["gate-revision-diff"].status is Status.SKIPPED
    assert "needs --service" in by["gate-revision-diff"].message
    assert verdict.report.scope["mode"] == "live" and verdict.exit_code == 0


def test_diff_names_environment_changes_but_never_values() -> None:
    from checks.gate.revision import diff

    running = request(container(environment=[{"name": "TOKEN", "value": "old-s3cret"},
                                             {"name": "GONE", "value": "x"}],
                                command=["run", "--password=hunter2"]))
    candidate = request(container(environment=[{"name": "TOKEN", "value": "new-s3cret"}],
                                  memory=2048))
    changes = {c.path: c for c in diff(running, candidate)}
    assert set(changes) == {"containerDefinitions[0].memory",
                            "containerDefinitions[0].environment.TOKEN",
                            "containerDefinitions[0].environment.GONE",
                            "containerDefinitions[0].command"}
    assert changes["containerDefinitions[0].environment.GONE"].candidate is None
    text = json.dumps([c.to_dict() for c in changes.values()])
    assert "s3cret" not in text and "hunter2" not in text


# -- the gate's checks are checks ----------------------------------------------------------------

def test_the_gate_runs_a_selection_of_the_one_registry() -> None:
    known = registry.load()
    scan = known.select("scan")
    assert {s.area for s in GATE} == {"taskdef", "security", "network", "gate"}
    assert not any(s.area == "gate" for s in scan)
    assert "task-memory-near-limit" in scan and "task-memory-near-limit" not in GATE
    assert {s.id for s in GATE if s.area == "network"} == {
        "image-registry-unreachable", "lb-to-task-security-group", "nacl-blocks-lb-traffic",
        "secrets-logs-unreachable", "task-sg-egress-https", "task-subnet-default-route"}
    assert all(s.emits is not None for s in GATE if s.area == "gate")


def test_every_failing_or_unknown_finding_about_the_candidate_has_a_path(
        shared_dir: Path) -> None:
    """Meta-test: over every task definition of the corpus, each check the gate runs says
    which field a failing or unknown finding about the candidate is about (Result.path),
    so code scanning can point at its line. A new gate-relevant check without a path fails
    here (and in tests/checks/test_gate_checks.py, for the live rows)."""
    from checker.errors import InputError

    missing: set[str] = set()
    ran = 0
    for path in sorted((shared_dir / "corpus" / "taskdefs").glob("*.json")):
        try:
            report = run_gate(GateOptions(path)).report
        except InputError:
            continue  # not a RegisterTaskDefinition request (tests/test_gate_corpus.py)
        ran += 1
        arn = report.scope["task_definition"]
        missing |= {f.check for f in report.findings if f.resource == arn
                    and f.status in (Status.FAIL, Status.UNKNOWN) and f.path is None}
        assert {c.id for c in report.checks} == set(GATE.specs)
    assert ran >= 50 and not missing, sorted(missing)
