"""Renderers: what an engineer reads must be complete, unambiguous and stable.

Reports are built by hand from the model, so these tests pin the renderers alone. They
assert behaviour, not golden bytes: every diagnosis, evidence line and command is shown,
unknown never reads as pass, colour only when asked for, JSON is report v1, output is stable.
"""

from __future__ import annotations

import ast
import json
import re
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
from checker.render import IN_PIECES, RENDERERS, RenderOptions, render, render_pieces

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


@pytest.mark.parametrize("fmt", FORMATS)
def test_pieces_joined_are_the_rendered_text(fmt: str) -> None:
    """What the command line writes a piece at a time (`render_pieces`) is `render`'s text:
    the JSON report in ASCII pieces that end lines, the other formats whole."""
    options = RenderOptions(verbose=True)
    pieces = list(render_pieces(make_report(), fmt, options))
    text = "".join(p.decode("utf-8") if isinstance(p, bytes) else p for p in pieces)
    assert text == render(make_report(), fmt, options)
    assert len(pieces) > 1 if RENDERERS[fmt] in IN_PIECES else len(pieces) == 1
    if RENDERERS[fmt] in IN_PIECES:
        assert all(isinstance(p, bytes) and p.isascii() and p.endswith(b"\n") for p in pieces)


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


def test_table_leads_with_one_line_per_diagnosis(report: Report) -> None:
    """The answer first: rank, severity, id, main resource and confidence of every
    diagnosis, before any detail."""
    lines = table(report).splitlines()
    start = lines.index("Diagnoses (3), most urgent first  highest critical")
    rows = [line.split() for line in lines[start + 2:start + 5]]
    assert rows == [["#1", "CRITICAL", "memory-leak", "90%", "prod/web"],
                    ["#2", "MEDIUM", "nat-connection-exhaustion", "60%", "prod/api"],
                    ["#3", "LOW", "single-az", "100%", "prod/api"]]
    first_detail = next(i for i, line in enumerate(lines) if line.startswith("#1  CRITICAL"))
    assert start < first_detail


def test_table_shows_every_diagnosis_in_rank_order_with_evidence_and_steps(
        report: Report) -> None:
    for out in (table(report), table(report, verbose=True)):
        positions = [out.index(d.title) for d in report.diagnoses]
        assert positions == sorted(positions)
        assert "#1  CRITICAL  Memory of web climbs until OOM kills" in out
        assert "    memory-leak  confidence 90%" in out and "single-az  confidence 100%" in out
        for d in report.diagnoses:
            assert all(text in out for text in (d.summary, d.evidence[0].check))
        assert "container app exit 137 4× in 1h" in out
        assert "memory 38% → 97% [bold]6h" in out  # report text is never read as rich markup
        assert "1. Raise the hard limit" in out and "2. Capture a heap dump" in out
    verbose = table(report, verbose=True)
    assert "memory-leak  confidence 90%  score 42.0" in verbose
    assert all(why in verbose for d in report.diagnoses for why in d.why)
    assert REF in verbose and REF not in table(report)  # references: --verbose


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
        "findings: 1 pass, 3 fail, 1 unknown, 1 skipped"]


def test_table_never_passes_off_unknown_as_pass(report: Report) -> None:
    out = table(report)
    section = out[out.index("Could not check (1 finding(s) of 1 check(s))"):]
    assert "runtime-heap-exceeds-limit  prod/web" in section
    assert "needs task_definitions (AccessDenied)" in section
    head = out[:out.index("Diagnoses (3)")]  # what could not be read: under the header
    assert all(text in head for text in (
        "task_definitions", "ecs:DescribeTaskDefinition", "AccessDeniedException"))
    verbose = table(report, verbose=True)
    assert "could not check: needs task_definitions (AccessDenied)" in verbose
    assert "Collection errors (1)" in verbose


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
    other = default[default.index("Other failing findings (1, not part of a diagnosis)"):]
    assert "plaintext-secrets  prod/api" in other
    assert "Other failing findings" in render(report, "markdown")
    assert "not part of a diagnosis" not in table(report, verbose=True)
    out = table(report, verbose=True)
    section = out[out.index("Failing findings (3)"):out.index("Could not check")]
    cited = {row.split()[2]: row.split()[0] for row in section.splitlines()[1:]
             if row.startswith("  ") and not row.startswith("      ")}
    assert cited["plaintext-secrets"] == "-" and cited["single-az"] == "#3"


# -- the default fits two screens; nothing is lost under --verbose ------------------------------

SUBNETS = [f"subnet-0{i:02d}a1b2c3d4e5f6a7" for i in range(26)]
LONG_ARN = (f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/"
            "prod-notifications-internal-blue/81d368272afda56c")


def _nat_everywhere() -> Diagnosis:
    """One fault stated 26 times: the NAT gateway as seen from each service's subnet."""
    rows = tuple(_ev("nat-gateway-dropping-connections", Status.FAIL, NAT,
                     f"service prod/svc{i}: subnet {SUBNETS[i]} (us-east-1{'abc'[i % 3]}) routes "
                     "through nat-0a1b2c3d4e5f67890: PacketsDropCount 31,473")
                 for i in range(26))
    return Diagnosis("nat-connection-exhaustion", "NAT drops connections", "egress",
                     Severity.CRITICAL, 0.9, 50.0, (NAT,), "The NAT gateway drops connections.",
                     rows, (Remediation("Inspect the gateway", NAT_CMD),), (), rank=1)


def test_evidence_stating_one_fact_is_one_row_with_the_count_and_resources() -> None:
    report = replace(make_report(), diagnoses=(_nat_everywhere(),))
    out = table(report)
    rows = [line for line in out.splitlines() if "nat-gateway-dropping-connections" in line]
    assert len(rows) == 1 and "×26" in rows[0]
    assert "nat-0a1b2c3d4e5f67890, prod/svc0, prod/svc1, prod/svc2, +23 more" in " ".join(
        out.split())
    assert out.count("PacketsDropCount 31,473") == 1
    verbose = table(report, verbose=True)
    assert verbose.count("PacketsDropCount 31,473") == 26  # every row under --verbose
    assert all(f"prod/svc{i}:" in verbose for i in range(26))


def test_different_facts_of_one_check_stay_apart() -> None:
    rows = (_ev("memory-trend-rising", Status.FAIL, WEB, "service prod/web: +5 %/h"),
            _ev("memory-trend-rising", Status.FAIL, API, "service prod/api: +9 %/h"),
            _ev("memory-trend-rising", Status.FAIL, TASK, "service prod/web: +5 %/h"))
    d = replace(_diagnoses()[0], evidence=rows)
    out = table(replace(make_report(), diagnoses=(d,)))
    grouped = [line.strip() for line in out.splitlines() if "memory-trend-rising" in line]
    assert grouped[0].endswith("memory-trend-rising ×2  prod/web, task/prod/"
                               "0f3c9a1b2c3d4e5f6a7b8c9d0e1f2a3b")
    assert grouped[1].endswith("memory-trend-rising  prod/api")


def test_could_not_check_is_grouped_per_check() -> None:
    unknown = tuple(Finding("nat-gateway-metrics", Status.UNKNOWN, Severity.HIGH,
                            f"{PREFIX}:service/prod/svc{i}", "needs cloudwatch (AccessDenied)")
                    for i in range(12))
    report = replace(make_report(), findings=make_report().findings + unknown)
    out = table(report)
    section = out[out.index("Could not check (13 finding(s) of 2 check(s))"):].splitlines()
    assert "  nat-gateway-metrics ×12  prod/svc0, prod/svc1, prod/svc2, +9 more" in section
    assert out.count("needs cloudwatch (AccessDenied)") == 1
    assert table(report, verbose=True).count("needs cloudwatch (AccessDenied)") == 12


def _many_diagnoses(n: int) -> Report:
    base = _nat_everywhere()
    ds = tuple(replace(base, id=f"diagnosis-{i}", rank=i, title=f"Fault number {i}",
                       severity=Severity.CRITICAL if i < 4 else Severity.LOW,
                       evidence=tuple(replace(ev, check=f"check-{i}-{j}")
                                      for j, ev in enumerate(base.evidence[:8])),
                       remediation=tuple(Remediation(f"Step {k} of fault {i}", NAT_CMD)
                                         for k in range(6)))
               for i in range(1, n + 1))
    return replace(make_report(), diagnoses=ds)


@pytest.mark.parametrize("width", [80, 100])
def test_the_default_report_fits_two_screens_and_verbose_has_the_rest(width: int) -> None:
    report = _many_diagnoses(20)
    out = table(report, width=width)
    assert len(out.splitlines()) < 150
    summary = [line.split()[2] for line in out.splitlines() if line.startswith(" ")
               and line.split()[0].startswith("#")]
    assert summary == [f"diagnosis-{i}" for i in range(1, 21)]  # every one in the summary
    assert "#1  CRITICAL  Fault number 1" in out and "--verbose" in out
    assert re.search(r"Details of #\d+–#20: --verbose", out)
    verbose = table(report, width=width, verbose=True)
    assert all(f"Step {k} of fault 20" in verbose for k in range(6))
    assert all(f"check-20-{j}" in verbose for j in range(8))


def test_a_diagnosis_explained_by_another_points_at_it() -> None:
    cause, effect = _diagnoses()[1], _diagnoses()[0]
    effect = replace(effect, rank=2, explained_by=(cause.id,))
    out = table(replace(make_report(), diagnoses=(replace(cause, rank=1), effect)))
    block = out[out.index("#2  CRITICAL"):]
    assert "explained by #1 nat-connection-exhaustion" in block
    assert OOM_CMD not in out and OOM_CMD in table(
        replace(make_report(), diagnoses=(replace(cause, rank=1), effect)), verbose=True)


@pytest.mark.parametrize("width", [60, 80, 100])
def test_ids_and_arns_are_never_split_and_the_header_fits(width: int) -> None:
    d = replace(_diagnoses()[0], resources=(LONG_ARN, WEB, *SUBNETS[:6]),
                evidence=(_ev("lb-target-health", Status.FAIL, LONG_ARN,
                              f"targets of {LONG_ARN} unhealthy: Target.Timeout in "
                              f"{' '.join(SUBNETS[:8])}"),))
    report = replace(make_report(), diagnoses=(d,))
    names = {LONG_ARN, short_name(LONG_ARN), *SUBNETS[:8]}
    for verbose in (False, True):
        out = table(report, width=width, verbose=verbose)
        tokens = {t for line in out.splitlines() for t in line.replace(",", " ").split()}
        cut = [t for t in tokens if t.startswith(("arn:", "targetgroup/", "subnet-"))
               and t not in names]
        assert not cut, f"split at width {width}: {cut}"
        # the default cuts the evidence message short (at a space); --verbose has it whole
        assert names <= tokens if verbose else {LONG_ARN, *SUBNETS[:6]} <= tokens
        head = out.splitlines()[:3]
        assert all(len(line) <= width for line in head)
        # longer lines: a command, a summary row ending in a long resource, or a line
        # holding one word that is too long for any line
        for line in out.splitlines():
            if len(line) > width and not line.startswith(("           ", "  #")):
                assert len(max(line.split(), key=len)) > width // 2, line


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
    assert "Could not check (1 finding(s)" in table(empty)  # listed when nothing was diagnosed
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
