"""SARIF 2.1.0 renderer: findings as code-scanning alerts (GitHub, GitLab, Azure DevOps).

Why this shape: code scanning shows an alert on a line of a file and groups alerts by rule.
So the run's driver lists one rule per check that produced a finding (title, help link and
default level from the checks that ran, `Report.checks`), and each failing finding is a
result located in the task definition file at the line of the field it is about (the gate
turns a finding's path into `data["json_path"]` and `data["line"]`). `unknown` findings are results
at level `note` — "could not check" must be visible, not silently green — and waived
findings are results with an accepted external suppression, which is how SARIF says "known
and accepted". Passes and skips are not results: SARIF lists problems.

`partialFingerprints` are stable across runs (file, check, resource, JSON path, container,
rule), so an alert keeps its identity when the file moves lines or the message's numbers
change, and two files of the same family (staging and prod) never share one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from checker.model import CheckInfo, Finding, Report, Severity, Status
from checker.render._text import bundle_warnings

if TYPE_CHECKING:
    from checker.render import RenderOptions

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
         Severity.LOW: "note", Severity.INFO: "note"}
#: GitHub ranks security alerts by this CVSS-like score (rules tagged "security").
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0", Severity.INFO: "1.0"}


def render_sarif(report: Report, options: RenderOptions) -> str:
    """Options are ignored: SARIF is for machines."""
    del options
    rules = _rules(report)
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = [_result(f, index, report.scope) for f in report.findings if _reported(f)]
    run: dict[str, Any] = {
        "tool": {"driver": _driver(report, rules)},
        "invocations": [_invocation(report)],
        "results": results,
        "properties": {"account": report.account, "region": report.region,
                       "findings": report.status_counts(),
                       "diagnoses": [d.id for d in report.diagnoses]},
    }
    files = report.scope.get("task_definition_files")
    named = files if isinstance(files, list) else [report.scope.get("task_definition_file")]
    uris = [u for u in (_uri(f) for f in named) if u]
    if uris:
        run["artifacts"] = [{"location": {"uri": u}, "roles": ["analysisTarget"]} for u in uris]
    doc = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def _invocation(report: Report) -> dict[str, Any]:
    """The run; warnings about the bundle's items (a typo'd key, a wrong type) are its
    `toolExecutionNotifications` at level warning: SARIF's place for "the tool ran, but
    here is what it could not read", shown beside the results, never as a code alert."""
    invocation: dict[str, Any] = {"executionSuccessful": True,
                                  "endTimeUtc": report.generated_at}
    notes = [{"level": "warning", "message": {"text": str(e.get("message") or "")},
              "descriptor": {"id": str(e.get("code") or "BundleWarning")},
              "properties": {"collection": e.get("collection"), "count": e.get("count", 1)}}
             for e in bundle_warnings(report)]
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation


def _reported(f: Finding) -> bool:
    waived = f.data.get("waived")
    was_fail = isinstance(waived, Mapping) and waived.get("status") == Status.FAIL.value
    return f.status in (Status.FAIL, Status.UNKNOWN) or was_fail


def _driver(report: Report, rules: list[dict[str, Any]]) -> dict[str, Any]:
    driver: dict[str, Any] = {"name": "ecsdoctor", "informationUri": INFORMATION_URI,
                              "rules": rules}
    version = report.scope.get("ecsdoctor_version")
    if isinstance(version, str) and version:
        driver["semanticVersion"] = version
    return driver


def _catalog(report: Report) -> dict[str, CheckInfo]:
    """What the report says about the checks that ran, else the little the findings say."""
    out = {c.id: c for c in report.checks}
    for f in report.findings:
        if f.check not in out:
            out[f.check] = CheckInfo(id=f.check, title=f.check, severity=f.severity, docs="",
                                     area="ecsdoctor")
    return out


def _rules(report: Report) -> list[dict[str, Any]]:
    used = {f.check for f in report.findings if _reported(f)}
    catalog = _catalog(report)
    out = []
    for check_id in sorted(used):
        meta = catalog[check_id]
        severity = meta.severity
        title = meta.title or check_id
        rule: dict[str, Any] = {"id": check_id, "name": _pascal(check_id),
                                "shortDescription": {"text": title},
                                "defaultConfiguration": {"level": LEVEL[severity]}}
        description, docs = meta.description, meta.docs
        if description:
            rule["fullDescription"] = {"text": description}
        if docs.startswith(("https://", "http://")):
            rule["helpUri"] = docs
        rule["help"] = {"text": " ".join(p for p in (description or title,
                                                     f"See {docs}" if docs else "") if p)}
        area = meta.area or "ecsdoctor"
        props: dict[str, Any] = {"tags": sorted({"ecs", area}), "severity": severity.value}
        if area == "security":
            props["tags"] = sorted({"ecs", "security"})
            props["security-severity"] = SECURITY_SEVERITY[severity]
        rule["properties"] = props
        out.append(rule)
    return out


def _pascal(check_id: str) -> str:
    return "".join(part.capitalize() for part in check_id.split("-"))


def _uri(path: Any) -> str | None:
    """Repository-relative paths stay relative (what code scanning maps to the checkout);
    absolute ones become file:// URIs."""
    if not isinstance(path, str) or not path:
        return None
    pure: PurePath = PureWindowsPath(path) if "\\" in path else PurePosixPath(path)
    if pure.is_absolute():
        return pure.as_uri()
    return pure.as_posix().removeprefix("./")


def _result(f: Finding, index: Mapping[str, int], scope: Mapping[str, Any]) -> dict[str, Any]:
    level = "note" if f.status is Status.UNKNOWN else LEVEL[f.severity]
    text = f.message if f.status is not Status.UNKNOWN or f.message.lower().startswith(
        "could not check") else f"Could not check: {f.message}"
    result: dict[str, Any] = {"ruleId": f.check, "ruleIndex": index[f.check], "level": level,
                              "message": {"text": text}}
    location = _location(f, scope)
    if location:
        result["locations"] = [location]
    result["partialFingerprints"] = {"ecsdoctorFinding/v1": _fingerprint(f, scope)}
    props: dict[str, Any] = {"resource": f.resource, "status": f.status.value,
                             "severity": f.severity.value}
    if f.service:
        props["service"] = f.service
    result["properties"] = props
    waived = f.data.get("waived")
    if isinstance(waived, Mapping):
        result["suppressions"] = [{
            "kind": "external", "status": "accepted",
            "justification": f"{waived.get('reason', '')} (until {waived.get('expires', '?')})"}]
    return result


def _location(f: Finding, scope: Mapping[str, Any]) -> dict[str, Any] | None:
    uri = _uri(f.data.get("file") or scope.get("task_definition_file"))
    path = f.data.get("json_path")
    location: dict[str, Any] = {}
    if uri:
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        line = f.data.get("line")
        known = isinstance(line, int) and not isinstance(line, bool) and line >= 1
        # code scanning wants a region: a finding about the file as a whole sits on line 1
        physical["region"] = {"startLine": line if known else 1}
        location["physicalLocation"] = physical
    logical = [{"fullyQualifiedName": path, "kind": "property"}] if isinstance(path, str) and \
        path else []
    logical.append({"fullyQualifiedName": f.resource, "kind": "object"})
    location["logicalLocations"] = logical
    return location


def _fingerprint(f: Finding, scope: Mapping[str, Any]) -> str:
    file = _uri(f.data.get("file") or scope.get("task_definition_file")) or ""
    key = "|".join(str(x) for x in (file, f.check, f.resource, f.data.get("json_path", ""),
                                    f.data.get("container", ""), f.data.get("rule", "")))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
