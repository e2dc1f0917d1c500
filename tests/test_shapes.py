"""Bundle items against botocore's shapes (checker.shapes): warnings, never silent passes.

The bug this guards: `"privilege": true` in a container definition went through
`ecsdoctor analyze` as a clean pass, because the check reads the real key `privileged`.
Now every read of a bundle (Engine.analyze) reports such a key in the report's `errors`
with `"level": "warning"`, every format shows it, and nothing else about the report
changes: the exit code stays, the collection is not "missing", the findings are the same.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from checker import bundle as bundle_v1
from checker import shapes
from checker.cli import app
from checker.facts import Facts
from checker.model import Report
from checker.pipeline import Engine
from checker.render import render
from checker.render.asff import to_asff
from tests import builders as b
from tests.incidents.healthy import healthy_cluster

HANDWRITTEN = Path(__file__).parent / "bundles" / "handwritten-oom.json"
runner = CliRunner()
ENGINE = Engine()


def _warnings(report: dict[str, Any] | Report) -> list[dict[str, Any]]:
    errors = report.errors if isinstance(report, Report) else report["errors"]
    return [dict(e) for e in errors if e.get("level") == "warning"]


def _typo_bundle() -> dict[str, Any]:
    """A healthy bundle whose `web` container definition says `privilege` (Checkov's typo)."""
    bundle = b.ecs_bundle([b.service("web")], [b.task("web")])
    bundle["resources"]["task_definitions"][0]["containerDefinitions"][0]["privilege"] = True
    return bundle


def _write(tmp_path: Path, bundle: dict[str, Any], name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return path


# -- the CLI: every human format shows the warning; the exit code does not change -----------
@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_typo_is_a_warning_in_analyze_output(tmp_path: Path, fmt: str) -> None:
    clean = runner.invoke(app, ["analyze", str(_write(tmp_path, b.ecs_bundle(
        [b.service("web")], [b.task("web")]), "clean.json")), "-f", fmt])
    result = runner.invoke(app, ["analyze", str(_write(tmp_path, _typo_bundle())), "-f", fmt])
    assert result.exit_code == clean.exit_code == 0, result.output
    out = result.stdout if fmt == "json" else " ".join(result.stdout.split())  # unwrapped
    assert "privilege" in out and "did you mean 'privileged'?" in out
    assert "did you mean" not in clean.stdout
    if fmt == "json":
        [warning] = _warnings(json.loads(out))
        assert warning == {
            "collection": "task_definitions", "operation": "bundle-validation",
            "code": "UnknownKey", "level": "warning", "count": 1,
            "message": "task_definitions[0] (web:1): containerDefinitions[0].privilege: "
                       "unknown key (did you mean 'privileged'?)"}
    else:
        assert "Bundle warnings (1)" in out and "Collection errors" not in out


def test_warning_changes_nothing_else_in_the_report() -> None:
    """Not an error: the collection is read, its checks run, the findings are the same."""
    clean = b.ecs_bundle([b.service("web")], [b.task("web")])
    typo = copy.deepcopy(clean)
    typo["resources"]["task_definitions"][0]["containerDefinitions"][0]["privilege"] = True
    before, after = ENGINE.analyze(clean), ENGINE.analyze(typo)
    assert after.findings == before.findings and after.diagnoses == before.diagnoses
    assert [e for e in after.errors if e.get("level") != "warning"] == list(before.errors)
    facts = Facts({**typo, "errors": _warnings(after)})  # even if a warning lands in a bundle
    assert facts.has("task_definitions") and facts.missing_reason("task_definitions") is None


def test_exit_codes_unchanged_by_warnings(tmp_path: Path) -> None:
    """A warning is not a failed collection: --strict (exit 3) is for collections that
    could not be read."""
    path = _write(tmp_path, _typo_bundle())
    for args, code in (([], 0), (["--fail-on", "critical"], 0), (["--strict"], 0)):
        assert runner.invoke(app, ["analyze", str(path), "-f", "json", *args]).exit_code == code
    report = ENGINE.analyze(_typo_bundle())
    assert report.warnings and not report.failed_collections


# -- what is a problem -------------------------------------------------------------------------
def test_wrong_type_string_for_integer() -> None:
    bundle = b.ecs_bundle([b.service("web")], [b.task("web")])
    bundle["resources"]["task_definitions"][0]["containerDefinitions"][0]["memory"] = "512"
    [warning] = _warnings(ENGINE.analyze(bundle))
    assert warning["code"] == "WrongType"
    assert warning["message"] == ("task_definitions[0] (web:1): containerDefinitions[0].memory: "
                                  "expected an integer, got a string ('512')")


@pytest.mark.parametrize(("collection", "edit", "expected"), [
    ("task_definitions",
     lambda td: td["containerDefinitions"][0]["logConfiguration"].update(option={}),
     "containerDefinitions[0].logConfiguration.option: unknown key (did you mean 'options'?)"),
    ("tasks", lambda t: t.update(containers=[{"name": "web", "networkBindings": [
        {"containerPort": 80, "hostport": 8080}]}]),
     "containers[0].networkBindings[0].hostport: unknown key (did you mean 'hostPort'?)"),
    ("services", lambda s: s.update(deploymentConfiguration={"deploymentCircuitBreaker": {
        "enable": "yes", "rollback": True}}),
     "deploymentConfiguration.deploymentCircuitBreaker.enable: expected a boolean, "
     "got a string ('yes')"),
    ("tasks", lambda t: t.update(startedAt="yesterday"),
     "startedAt: expected an ISO-8601 timestamp, got a string ('yesterday')"),
    ("tasks", lambda t: t["containers"].append({"name": "web", "exitCode": True}),
     "containers[0].exitCode: expected an integer, got a boolean"),
    ("tasks", lambda t: t.update(tags={"team": "web"}),
     "tags: expected a list, got an object"),
])
def test_nested_problems_name_their_path(collection: str, edit: Any, expected: str) -> None:
    bundle = b.ecs_bundle([b.service("web")], [b.task("web", containers=[])])
    edit(bundle["resources"][collection][0])
    [warning] = _warnings(ENGINE.analyze(bundle))
    assert warning["message"].split(": ", 1)[1] == expected


def test_what_a_bundle_may_hold() -> None:
    """ISO strings with `Z` or an offset and epoch numbers for timestamps; ints for
    doubles; the bundle's own additions (vpcs[].Attributes, the target_health wrapper)."""
    assert shapes.problems("ecs", "Task", {"startedAt": "2026-11-20T10:00:00.123Z",
                                           "stoppedAt": 1796566569, "createdAt": 1.5e9}) == []
    assert shapes.problems("elbv2", "TargetGroup", {"HealthCheckIntervalSeconds": 30}) == []
    assert shapes.problems("autoscaling", "AutoScalingGroup", {"DesiredCapacity": 2.0}) == [
        "AutoScalingGroup.DesiredCapacity: expected an integer, got a number (2.0)"]
    bundle = b.bundle(
        vpcs=[{"VpcId": "vpc-1", "Attributes": {"EnableDnsSupport": True,
                                                "EnableDnsHostnames": False}}],
        target_health=[{"TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:"
                                          "targetgroup/prod-web/0123",
                        "TargetHealthDescriptions": [{"Target": {"Id": "10.0.0.1",
                                                                 "Port": 80}}]}],
        task_history=[{"anything": "goes"}], ecs_events=[{"detail-type": "x"}])
    assert shapes.validate_bundle(bundle) == []
    bundle["resources"]["vpcs"][0]["Attributes"]["EnableDnsSupport"] = "true"
    bundle["resources"]["target_health"][0]["TargetHealthDescriptions"][0]["Target"][
        "Port"] = "80"
    assert [w["message"] for w in shapes.validate_bundle(bundle)] == [
        "vpcs[0] (vpc-1): Attributes.EnableDnsSupport: expected a boolean, got a string "
        "('true')",
        "target_health[0] (prod-web): TargetHealthDescriptions[0].Target.Port: expected an "
        "integer, got a string ('80')"]


def test_alarms_and_cloudtrail_events_are_checked() -> None:
    bundle = b.bundle(alarms=[{"AlarmName": "cpu-high", "StateValue": "ALARM",
                               "Threshhold": 80.0}],
                      cloudtrail_events=[{"EventId": "e1", "EventName": "UpdateService",
                                          "EventTime": "2026-11-20T09:00:00+00:00",
                                          "CloudTrailEvent": "{}"}])
    assert [w["message"] for w in shapes.validate_bundle(bundle)] == [
        "alarms[0] (cpu-high): Threshhold: unknown key (did you mean 'Threshold'?)"]


# -- real bundles are clean --------------------------------------------------------------------
def test_real_bundles_have_no_warning() -> None:
    assert shapes.validate_bundle(json.loads(HANDWRITTEN.read_text())) == []
    assert shapes.validate_bundle(healthy_cluster()) == []


def test_demo_account_has_no_warning(tmp_path: Path) -> None:
    """moto's answers go through botocore's parsers like AWS's do, so a warning here would be
    our own seeding or collector adding a key AWS does not have."""
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["demo", "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _warnings(json.loads(out.read_text())) == []


# -- a huge bad bundle does not flood the report -----------------------------------------------
def test_identical_problems_are_one_warning_with_a_count() -> None:
    tds = [b.task_definition("web", revision=n) for n in range(1, 101)]
    for td in tds:
        td["containerDefinitions"][0]["privilege"] = True
    bundle = b.ecs_bundle([b.service("web")], [], task_definitions=tds)
    [warning] = shapes.validate_bundle(bundle)
    assert warning["count"] == 100
    assert warning["message"] == (
        "task_definitions[0] (web:1): containerDefinitions[0].privilege: unknown key (did you "
        "mean 'privileged'?) (and 99 more at task_definitions[].containerDefinitions[].privilege)")


def test_warnings_are_capped_per_collection() -> None:
    td = b.task_definition("web")
    td.update({f"typo{n:02d}": n for n in range(50)})
    bundle = b.ecs_bundle([b.service("web")], [], task_definitions=[td, copy.deepcopy(td)])
    warnings = shapes.validate_bundle(bundle)
    assert len(warnings) == shapes.PER_COLLECTION + 1
    assert all(w["count"] == 2 for w in warnings[:-1])
    assert warnings[-1]["code"] == "MoreWarnings" and warnings[-1]["count"] == 60
    assert warnings[-1]["message"] == ("… and 30 more kinds of problem in task_definitions "
                                       "(60 in all), not listed")
    assert len(shapes.validate_bundle(bundle, per_collection=5)) == 6


def test_odd_containers_do_not_crash() -> None:
    """Bundle structure is bundle.validate's job; here an odd shape is skipped or a warning."""
    assert shapes.validate_bundle({"resources": []}) == []
    assert shapes.validate_bundle({"resources": {"tasks": {"not": "a list"}}}) == []
    [warning] = shapes.validate_bundle({"resources": {"tasks": ["task"]}})
    assert warning["message"] == "tasks[0]: expected an object, got a string ('task')"


def test_every_bundle_collection_has_a_shape() -> None:
    # EventBridge details are not a botocore output shape, nor is the log_events wrapper
    # around GetLogEvents' events (checker/shapes.py says so)
    unshaped = {"task_history", "ecs_events", "log_events", "task_role_simulations"}
    assert set(bundle_v1.COLLECTIONS) - unshaped <= set(shapes.SHAPES)
    assert not unshaped & set(shapes.SHAPES)
    for service, shape in shapes.SHAPES.values():
        assert shapes.validator(service, shape) is not None


def test_validators_are_compiled_once() -> None:
    assert shapes.validator("ecs", "Task") is shapes.validator("ecs", "Task")
    assert shapes.item_validator("tasks") is shapes.item_validator("tasks")
    assert shapes.item_validator("task_history") is None


# -- machine formats -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def typo_report() -> Report:
    return ENGINE.analyze(_typo_bundle(), generated_at="2026-11-20T10:00:00+00:00")


def test_sarif_carries_warnings_as_tool_notifications(typo_report: Report) -> None:
    run = json.loads(render(typo_report, "sarif"))["runs"][0]
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning" and note["descriptor"] == {"id": "UnknownKey"}
    assert "containerDefinitions[0].privilege" in note["message"]["text"]
    assert note["properties"] == {"collection": "task_definitions", "count": 1}


def test_junit_carries_warnings_on_the_suite_stderr(typo_report: Report) -> None:
    suite = ET.fromstring(render(typo_report, "junit")).find("testsuite")
    assert suite is not None
    err = suite.find("system-err")
    assert err is not None and err.text is not None
    assert err.text.startswith("warning UnknownKey: task_definitions[0] (web:1): ")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["bundle_warnings"] == "1"
    clean = ET.fromstring(render(ENGINE.analyze(b.ecs_bundle([b.service("web")],
                                                              [b.task("web")])), "junit"))
    assert suite.get("failures") == clean.get("failures")  # a warning is not a failing test


def test_asff_carries_warnings_as_one_valid_informational_finding(typo_report: Report) -> None:
    [finding] = [f for f in to_asff(typo_report) if f["GeneratorId"].endswith(
        "bundle-validation")]
    assert finding["Severity"]["Label"] == "INFORMATIONAL"
    assert finding["Resources"][0] == {"Type": "AwsAccount", "Id": f"AWS::::Account:{b.ACCOUNT}",
                                       "Partition": "aws", "Region": b.REGION}
    assert "privilege" in finding["Description"]
    assert shapes.problems("securityhub", "AwsSecurityFinding", finding) == []


def test_no_warning_no_trace_in_any_format() -> None:
    report = ENGINE.analyze(b.ecs_bundle([b.service("web")], [b.task("web")]))
    assert not _warnings(report)
    for fmt in ("table", "markdown", "sarif", "junit"):
        text = render(report, fmt)
        assert "Bundle warnings" not in text and "toolExecutionNotifications" not in text
        assert "system-err" not in text and "bundle_warnings" not in text
    assert not [f for f in to_asff(report) if "bundle-validation" in f["GeneratorId"]]
