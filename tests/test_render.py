"""Renderers: what an engineer reads must be complete, unambiguous and stable.

Reports are built by hand from the model, so these tests pin the renderers alone. They
assert behaviour, not golden bytes: every diagnosis, evidence line and command is shown,
unknown never reads as pass, colour only when asked for, JSON is report v1, output is stable.
"""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import checker.render
from checker.model import (
    Diagnosis,
    Evidence,
    Finding,
    Remediation,
    Report,
    Severity,
    Status,
    short_name,
)
from checker.render import RENDERERS, RenderOptions, render

ACCOUNT = "123456789012"
PREFIX = f"arn:aws:ecs:us-east-1:{ACCOUNT}"
WEB = f"{PREFIX}:service/prod/web"
API = f"{PREFIX}:service/prod/api"
TASK = f"{PREFIX}:task/prod/0f3c9a1b2c3d4e5f6a7b8c9d0e1f2a3b"
NAT = f"arn:aws:ec2:us-east-1:{ACCOUNT}:natgateway/nat-0a1b2c3d4e5f67890"
OOM_CMD = ("aws ecs update-service --cluster prod --service web --task-definition web:8 "
           "--force-new-deployment --deployment-configuration maximumPercent=200")
NAT_CMD = "aws ec2 describe-nat-gateways --nat-gateway-ids nat-0a1b2c3d4e5f67890"
TICK_CMD = "echo `date` | tee /tmp/x"
REF = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/out-of-memory.html"
FORMATS = sorted(RENDERERS)


def _ev(check: str, st: Status, res: str, msg: str, role: str = "confirm", **kw: Any) -> Evidence:
    return Evidence(check, st, res, msg, role, kw)


def _diagnoses() -> tuple[Diagnosis, ...]:
    oom = Diagnosis(
        "memory-leak", "Memory of web climbs until OOM kills", "memory-oom", Severity.CRITICAL,
        0.9, 42.0, (WEB,), "Memory of prod/web climbs until the OOM killer stops the task.",
        (_ev("stopped-task-oom", Status.FAIL, TASK, "container app exit 137 4× in 1h",
             "symptom", exitCode=137),
         _ev("memory-trend-rising", Status.FAIL, WEB, "memory 38% → 97% [bold]6h"),
         _ev("runtime-heap-exceeds-limit", Status.UNKNOWN, WEB,
             "needs task_definitions (AccessDenied)", "missing")),
        (Remediation("Raise the hard limit", OOM_CMD),
         Remediation("Capture a heap dump before the next kill")),
        (REF,), why=("symptom stopped-task-oom failed", "confirmed by memory-trend-rising"),
        rank=1)
    nat = Diagnosis(
        "nat-connection-exhaustion", "NAT | port allocation errors", "egress", Severity.MEDIUM,
        0.6, 9.6, (API, NAT), "The NAT gateway drops new connections from <none> and prod/api.",
        (_ev("nat-port-allocation-errors", Status.FAIL, NAT, "PortAllocation max 312 | 5min"),),
        (Remediation("Inspect the gateway", NAT_CMD), Remediation("Check the clock", TICK_CMD)),
        (), why=("confirmed by nat-port-allocation-errors",), rank=2)
    single = Diagnosis(
        "single-az", "All tasks of api in one AZ", "availability", Severity.LOW, 1.0, 2.0, (API,),
        "A zone outage takes api down.",
        (_ev("single-az", Status.FAIL, API, "3 tasks in us-east-1a"),), (), (), rank=3)
    return (oom, nat, single)


def make_report(*, diagnoses: bool = True) -> Report:
    findings = (
        Finding("log-configuration", Status.PASS, Severity.LOW, WEB, "awslogs configured"),
        Finding("memory-trend-rising", Status.FAIL, Severity.HIGH, WEB, "memory 38% → 97%"),
        Finding("plaintext-secrets", Status.FAIL, Severity.HIGH, API, "DB_PASSWORD in env"),
        Finding("runtime-heap-exceeds-limit", Status.UNKNOWN, Severity.HIGH, WEB,
                "needs task_definitions (AccessDenied)"),
        Finding("single-az", Status.FAIL, Severity.LOW, API, "3 tasks in us-east-1a"),
        Finding("t3-credits", Status.SKIPPED, Severity.MEDIUM, WEB, "no burstable instances"),
    )
    error = {"collection": "task_definitions", "operation": "ecs:DescribeTaskDefinition",
             "code": "AccessDeniedException", "message": "not authorized"}
    return Report("2026-11-20T10:05:00+00:00", ACCOUNT, "us-east-1", {"clusters": ["prod"]},
                  _diagnoses() if diagnoses else (), findings, (error,))


@pytest.fixture
def report() -> Report:
    return make_report()


def test_unknown_format_is_a_value_error_naming_the_formats(report: Report) -> None:
    assert {"table", "json", "markdown"} <= set(RENDERERS)
    with pytest.raises(ValueError, match="nope") as excinfo:
        render(report, "nope")
    assert not isinstance(excinfo.value, KeyError)
    assert all(fmt in str(excinfo.value) for fmt in FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_is_deterministic(fmt: str) -> None:
    first = render(make_report(), fmt, RenderOptions(verbose=True))
    assert first == render(make_report(), fmt, RenderOptions(verbose=True)) and first[-1] == "\n"


def test_json_is_report_v1(report: Report) -> None:
    out = render(report, "json")
    assert out == json.dumps(report.to_dict(), indent=2) + "\n"
    doc = json.loads(out)
    assert {"format", "version", "generated_at", "account", "region", "scope", "summary",
            "diagnoses", "findings", "errors"} <= set(doc)
    assert (doc["format"], doc["version"], doc["scope"]) == (
        "ecsdoctor-report", 1, {"clusters": ["prod"]})
    assert doc["summary"] == {"diagnoses": 3, "highest_severity": "critical",
                              "findings": {"pass": 1, "fail": 3, "unknown": 1, "skipped": 1}}
    assert [d["rank"] for d in doc["diagnoses"]] == [1, 2, 3]
    assert isinstance(doc["errors"], list) and doc["errors"][0]["code"] == "AccessDeniedException"
    diagnosis = doc["diagnoses"][0]
    _assert_types(diagnosis, {
        "rank": int, "id": str, "title": str, "scenario": str, "severity": str,
        "confidence": float, "score": float, "resources": list, "summary": str,
        "evidence": list, "remediation": list, "references": list})
    assert diagnosis["severity"] in {s.value for s in Severity}
    _assert_types(diagnosis["evidence"][0], {
        "check": str, "status": str, "resource": str, "message": str, "data": dict})
    assert diagnosis["evidence"][0]["data"] == {"exitCode": 137}
    assert diagnosis["remediation"][0] == {"step": "Raise the hard limit", "command": OOM_CMD}
    assert diagnosis["remediation"][1] == {"step": "Capture a heap dump before the next kill"}
    for finding in doc["findings"]:
        _assert_types(finding, {"check": str, "status": str, "severity": str,
                                "resource": str, "message": str, "data": dict})
        assert finding["status"] in {s.value for s in Status}


def _assert_types(item: dict[str, Any], types: dict[str, type]) -> None:
    for key, expected in types.items():
        assert isinstance(item[key], expected), (key, item[key])


def table(report: Report, **options: Any) -> str:
    return render(report, "table", RenderOptions(**options))


def test_table_shows_every_diagnosis_in_rank_order_with_evidence_and_steps(
        report: Report) -> None:
    out = table(report)
    positions = [out.index(d.title) for d in report.diagnoses]
    assert positions == sorted(positions)
    assert "#1  CRITICAL  Memory of web climbs until OOM kills  (memory-leak)" in out
    assert "confidence 90%  score 42.0" in out and "(single-az)  confidence 100%" in out
    for d in report.diagnoses:
        assert all(text in out for text in (d.summary, *d.why, *(e.check for e in d.evidence)))
    assert "container app exit 137 4× in 1h" in out
    assert "memory 38% → 97% [bold]6h" in out  # report text is never read as rich markup
    assert "1. Raise the hard limit" in out and "2. Capture a heap dump" in out
    assert REF in out


def test_table_prints_commands_whole_on_their_own_line(report: Report) -> None:
    """A command wrapped by the renderer would paste into a shell as two commands."""
    lines = [line.strip() for line in table(report, width=60).splitlines()]
    assert {OOM_CMD, NAT_CMD, TICK_CMD} <= set(lines)


def test_multiline_commands_keep_every_line(report: Report) -> None:
    command = "aws ecs describe-services \\\n  --cluster prod --services web"
    step = replace(report.diagnoses[0], remediation=(Remediation("Look", command),))
    patched = replace(report, diagnoses=(step,))
    assert "           aws ecs describe-services \\\n             --cluster prod" in table(patched)
    assert "   ```sh\n   aws ecs describe-services \\\n     --cluster prod" in render(
        patched, "markdown")


def test_table_short_names_and_header(report: Report) -> None:
    out = table(report)
    assert "resources: prod/api, nat-0a1b2c3d4e5f67890" in out and WEB not in out
    assert out.splitlines()[:3] == [
        "ecsdoctor report  generated 2026-11-20T10:05:00+00:00",
        f"account {ACCOUNT}  region us-east-1  clusters prod",
        "findings: 1 pass, 3 fail, 1 unknown, 1 skipped  diagnoses: 3  highest critical"]


def test_table_never_passes_off_unknown_as_pass(report: Report) -> None:
    out = table(report)
    assert "could not check: needs task_definitions (AccessDenied)" in out
    section = out[out.index("Could not check ("):]
    assert all(text in section for text in (
        "runtime-heap-exceeds-limit", "ecs:DescribeTaskDefinition", "AccessDeniedException"))


def test_table_has_no_ansi_without_color(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert "\x1b[" not in table(report, verbose=True)
    assert "\x1b[" not in table(make_report(diagnoses=False))


def test_table_colors_when_asked(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = table(report, color=True)
    # critical is bold red, medium yellow
    assert "\x1b[1;31mCRITICAL" in out and "\x1b[33mMEDIUM" in out


@pytest.mark.parametrize("color", [False, True])
def test_table_ignores_the_environment(
        report: Report, color: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller decides colour and width; TERM/COLUMNS must not change the bytes."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    before = table(report, color=color)
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("TERM", "dumb")
    assert table(report, color=color) == before


def test_table_verbose_lists_failing_findings_and_what_explains_them(report: Report) -> None:
    default = table(report)
    assert "Failing findings" not in default
    # unexplained failures are listed by default, so "no diagnosis" never reads as clean
    other = default[default.index("Other failing findings (not part of a diagnosis)"):]
    assert "plaintext-secrets" in other
    assert "Other failing findings" in render(report, "markdown")
    assert "not part of a diagnosis" not in table(report, verbose=True)
    out = table(report, verbose=True)
    section = out[out.index("Failing findings"):]
    cited = {row.split()[2]: row.split()[0] for row in section.splitlines()[3:]}
    assert cited["plaintext-secrets"] == "-" and cited["single-az"] == "#3"


def test_markdown_summary_table_in_rank_order_with_escaped_pipes(report: Report) -> None:
    out = render(report, "markdown")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "%" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2", "3"]
    assert "NAT \\| port allocation errors" in rows[1]
    assert rows[1].count(" | ") == 5  # six cells: the title's pipe did not split the row
    assert "| 90% | 42.0 |" in rows[0]
    assert "`prod/api`, `nat-0a1b2c3d4e5f67890`" in rows[1]


def test_markdown_sections_evidence_and_fenced_commands(report: Report) -> None:
    out = render(report, "markdown")
    assert out.startswith("# ecsdoctor report\n")
    assert "## 1. Memory of web climbs until OOM kills" in out
    assert "## 3. All tasks of api in one AZ" in out
    assert f"1. Raise the hard limit\n   ```sh\n   {OOM_CMD}\n   ```" in out
    assert all(f"   ```sh\n   {c}\n   ```" in out for c in (NAT_CMD, TICK_CMD))
    assert "could not check: needs task\\_definitions (AccessDenied)" in out
    assert f"[{REF.replace('_', chr(92) + '_')}](<{REF}>)" in out
    assert "from \\<none\\> and prod/api" in out  # would vanish as an HTML tag
    assert "PortAllocation max 312 \\| 5min" in out
    section = out[out.index("## Could not check (1)"):]
    assert "| `runtime-heap-exceeds-limit` | `prod/web` |" in section
    assert "| task\\_definitions | ecs:DescribeTaskDefinition | AccessDeniedException |" in out


def test_markdown_fence_outlasts_backticks_in_a_command() -> None:
    base = make_report()
    odd = replace(base.diagnoses[2], remediation=(Remediation("Odd", "printf '```'"),))
    out = render(replace(base, diagnoses=(odd,)), "markdown")
    assert "````sh\n   printf '```'\n   ````" in out


def test_empty_report_says_no_diagnoses_in_every_format() -> None:
    empty = make_report(diagnoses=False)
    line = "No diagnoses: 1 checks passed, 1 could not run"
    assert line in table(empty) and line in render(empty, "markdown")
    doc = json.loads(render(empty, "json"))
    assert doc["diagnoses"] == [] and doc["summary"]["diagnoses"] == 0
    assert doc["summary"]["highest_severity"] is None
    assert "Could not check (1)" in table(empty)  # still listed when nothing was diagnosed
    bare = Report("t", None, None, {}, (), ())
    # ASFF refuses a report without account and region (it cannot name findings)
    assert all(render(bare, fmt) for fmt in FORMATS if fmt != "asff")
    assert "Could not check" not in table(bare)
    assert "No diagnoses: 0 checks passed, 0 could not run" in table(bare)


@pytest.mark.parametrize(("resource", "expected"), [
    (WEB, "prod/web"), ("service/prod/web", "prod/web"), (f"{PREFIX}:service/legacy", "legacy"),
    (TASK, "task/prod/0f3c9a1b2c3d4e5f6a7b8c9d0e1f2a3b"), (NAT, "nat-0a1b2c3d4e5f67890"),
    (f"{PREFIX}:task-definition/web:8", "task-definition/web:8"), ("sg-0123abcd", "sg-0123abcd"),
    ("i-0123456789abcdef0", "i-0123456789abcdef0"), ("", "")])
def test_short_name(resource: str, expected: str) -> None:
    assert short_name(resource) == expected


def _imported_modules(tree: ast.AST) -> list[str]:
    """Absolute names; `from .x import` resolves into checker.render, deeper stays relative."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = {0: "", 1: "checker.render"}.get(node.level, "." * node.level)
            names.append(".".join(part for part in (base, node.module) if part))
    return names


def test_render_package_imports_only_the_model() -> None:
    """STYLE rule 8: renderers read the Report and nothing else (no Facts, no AWS); the one
    sanitizer every human-facing output shares is the exception."""
    modules = sorted(Path(checker.render.__file__).parent.glob("*.py"))
    assert len(modules) >= 4
    for module in modules:
        for name in _imported_modules(ast.parse(module.read_text(), str(module))):
            root = name.split(".")[0]
            assert root and root not in {"boto3", "botocore"}, f"{module.name} imports {name}"
            assert root != "checker" or name in {"checker.model", "checker.render",
                                                 "checker.sanitize"} or \
                name.startswith("checker.render."), f"{module.name} imports {name}"
