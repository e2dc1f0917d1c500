"""JUnit XML renderer: one test case per check, for Jenkins, GitLab and Azure test reports.

Why per check and not per finding: CI test reports track test cases by name across runs
("container-privileged started failing in this pipeline"), and a check is the stable unit;
its findings go into the case's text. A check fails when a finding fails at or above the
gate's `--fail-on` (every failing finding of a scan, which has none): a pipeline is red for
exactly the test cases that made it red, and a finding below the threshold stays in the
case's output. It is skipped (with the reason) when it could not be checked (`unknown`, never
a silent pass) or when nothing applied or everything was waived; otherwise it passes. One
`<testsuite>` per task definition file (one for a scan) inside `<testsuites>`, in the
attributes the Jenkins junit-10 schema and GitLab's reader accept (`skipped` on the suites
only), deterministic order (by check id) and no wall-clock time, so the same report gives the
same bytes. Text from AWS is stripped of characters XML 1.0
cannot carry. Warnings about the bundle's items (checker.shapes) go to the suite's
`<system-err>`, one `warning <code>: <message>` line each: visible in CI, yet not a test
case, so a typo in a hand-written bundle does not turn a pipeline red by itself.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from checker.model import Finding, Report, Severity, Status, short_name
from checker.render._text import bundle_warnings, warning_line

if TYPE_CHECKING:
    from checker.render import RenderOptions

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MESSAGE_MAX = 300


def render_junit(report: Report, options: RenderOptions) -> str:
    del options
    fail_on = _fail_on(report)
    areas = _areas(report)
    suites = [_suite(report, name, found, areas, fail_on)
              for name, found in _by_file(report).items()]
    totals = {key: str(sum(int(s.get(key) or 0) for s in suites))
              for key in ("tests", "failures", "errors")}
    root = ET.Element("testsuites", {"name": "ecsdoctor", **totals, "time": "0"})
    root.extend(suites)
    warnings = bundle_warnings(report)
    if warnings:  # the suite's stderr: shown by CI, not a test case that could go red
        ET.SubElement(suites[0], "system-err").text = _clean("\n".join(
            warning_line(e) for e in warnings))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _fail_on(report: Report) -> Severity | None:
    """The gate's threshold (scope `fail_on`); None for a scan: every failure counts."""
    value = report.scope.get("fail_on")
    try:
        return Severity(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _by_file(report: Report) -> dict[str, list[Finding]]:
    """Findings per task definition file (data `file`; several files in one gate run), in
    the order the report names the files; one group for a scan."""
    files = report.scope.get("task_definition_files")
    order = [str(f) for f in files] if isinstance(files, list) and len(files) > 1 else []
    groups: dict[str, list[Finding]] = {name: [] for name in order}
    for f in report.findings:
        file = f.data.get("file")
        key = str(file) if order and isinstance(file, str) else ""  # a waiver file: its own
        groups.setdefault(key, []).append(f)
    return {k: v for k, v in groups.items() if v or not order} or {"": []}


def _suite(report: Report, file: str, found: list[Finding], areas: dict[str, str],
           fail_on: Severity | None) -> ET.Element:
    groups: dict[str, list[Finding]] = {}
    for f in found:
        groups.setdefault(f.check, []).append(f)
    cases = [_case(check_id, fs, areas.get(check_id), fail_on)
             for check_id, fs in sorted(groups.items())]
    failures = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0",
              "skipped": str(skipped), "time": "0"}
    name = f"ecsdoctor gate {file}" if file else _suite_name(report)
    suite = ET.Element("testsuite", {"name": name, **counts,
                                     "timestamp": _clean(report.generated_at)})
    props = ET.SubElement(suite, "properties")
    for key, value in _properties(report, file):
        ET.SubElement(props, "property", {"name": key, "value": _clean(value)})
    suite.extend(cases)
    return suite


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _suite_name(report: Report) -> str:
    source = report.scope.get("task_definition_file")
    if isinstance(source, str) and source:
        return f"ecsdoctor gate {source}"
    clusters = report.scope.get("clusters") or []
    return "ecsdoctor " + (", ".join(str(c) for c in clusters) or "report")


def _properties(report: Report, file: str = "") -> list[tuple[str, str]]:
    out = [("account", report.account or ""), ("region", report.region or "")]
    if file:
        out.append(("task_definition_file", file))
    for key in ("task_definition_file", "task_definition", "mode", "fail_on", "waivers_file"):
        value = report.scope.get(key)
        if isinstance(value, str) and value and not (file and key.startswith("task_def")):
            out.append((key, value))
    out.append(("diagnoses", ", ".join(d.id for d in report.diagnoses)))
    warnings = bundle_warnings(report)
    if warnings:
        out.append(("bundle_warnings", str(len(warnings))))
    return out


def _areas(report: Report) -> dict[str, str]:
    """Check id → its area (the test case's class name), from the checks that ran."""
    return {c.id: c.area or "ecsdoctor" for c in report.checks}


def _line(f: Finding) -> str:
    where = f.data.get("json_path")
    at = f" [{where}]" if isinstance(where, str) and where else ""
    return f"{f.status.value.upper()} {f.severity.value} {short_name(f.resource)}{at}: {f.message}"


def _case(check_id: str, found: Sequence[Finding], area: str | None,
          fail_on: Severity | None = None) -> ET.Element:
    case = ET.Element("testcase", {"classname": f"ecsdoctor.{area or 'checks'}",
                                   "name": check_id, "time": "0"})
    failing = [f for f in found if f.status is Status.FAIL
               and (fail_on is None or f.severity.at_least(fail_on))]
    unknown = [f for f in found if f.status is Status.UNKNOWN]
    if failing:
        worst = min((f.severity for f in failing), key=lambda s: s.order)
        head = f"{len(failing)} of {len(found)} failing ({worst.value}): {failing[0].message}"
        element = ET.SubElement(case, "failure", {"message": _short(head), "type": worst.value})
        element.text = _clean("\n".join(_line(f) for f in failing))
    elif unknown:
        ET.SubElement(case, "skipped", {"message": _short(
            f"could not check {len(unknown)} of {len(found)}: {unknown[0].message}")})
    elif all(f.status is Status.SKIPPED for f in found) and found:
        ET.SubElement(case, "skipped", {"message": _short(_skip_reason(found))})
    out = ET.SubElement(case, "system-out")
    out.text = _clean("\n".join(_line(f) for f in found))
    return case


def _skip_reason(found: Sequence[Finding]) -> str:
    waived = [f for f in found if isinstance(f.data.get("waived"), Mapping)]
    if waived:
        info: Any = waived[0].data["waived"]
        return (f"waived ({len(waived)}): {info.get('reason', '')} until "
                f"{info.get('expires', '?')}")
    return found[0].message


def _short(text: str) -> str:
    text = _clean(" ".join(text.split()))
    return text if len(text) <= MESSAGE_MAX else text[:MESSAGE_MAX - 1] + "…"

