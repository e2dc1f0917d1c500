"""The findings written ahead by a child (checker/cli/ahead.py) are the bytes the report
would have had, sanitized; without the child, or with one that fails, nothing changes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checker import parallel
from checker.cli import ahead, main
from checker.model import Finding, Report, Severity, Status
from checker.pipeline import Engine
from checker.render import RenderOptions, render_pieces
from checker.sanitize import Sanitized, safe_pieces
from tests.test_hostile_output import hostile_bundle
from tests.test_parallel_checks import count_forks

GENERATED_AT = "2026-12-08T00:00:00+00:00"


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Children whatever the machine and the report's size, and whatever threads an earlier
    test left idle in this worker; the pids of the children forked, in order."""
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(ahead, "MIN_FINDINGS", 0)
    monkeypatch.setattr(parallel, "forkable", lambda: True)
    return count_forks(monkeypatch)


@pytest.fixture(scope="module")
def report() -> Report:
    """Findings full of what the sanitizer must catch (control characters, bidi overrides,
    workflow commands), and non-ASCII text the JSON renderer escapes."""
    return Engine().analyze(hostile_bundle(), generated_at=GENERATED_AT)


def _written(report: Report, ready: Any = None) -> bytes:
    pieces = render_pieces(report, "json", RenderOptions(color=False), ready)
    return b"".join(p if isinstance(p, bytes) else p.encode() for p in safe_pieces(pieces))


def _no_child_left() -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@pytest.mark.parametrize("source", ["marshalled", "the findings themselves"])
def test_the_child_writes_the_findings_the_report_would_have(
        report: Report, forking: list[int], monkeypatch: pytest.MonkeyPatch,
        source: str) -> None:
    if source == "marshalled":
        assert parallel.Packed.of(report.findings) is not None
    else:  # what a finding marshal refuses makes the child read them as they are
        monkeypatch.setattr(parallel.Packed, "of", lambda findings: None)
    started = ahead.start(report.findings, color=False)
    assert started is not None and len(forking) == 1
    try:
        written = _written(report, {"findings": started})
    finally:
        started.close()
    assert written == _written(report)
    assert b"\\u202e" in written and b"\\u001b" in written, "hostile text, escaped"
    _no_child_left()


@pytest.mark.parametrize("output", ["file", "stdout"])
def test_analyze_json_is_the_same_bytes_with_or_without_children(
        tmp_path: Path, forking: list[int], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], output: str) -> None:
    monkeypatch.setattr(parallel, "MIN_SUBJECTS", 0)
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(hostile_bundle()))

    def analyze(jobs: str) -> str:
        monkeypatch.setenv(parallel.JOBS_ENV, jobs)
        out = tmp_path / f"report-{jobs}.json"
        argv = ["analyze", str(bundle), "--format", "json", "--output",
                str(out) if output == "file" else "-"]
        assert main(argv) == 0
        text = out.read_text() if output == "file" else capsys.readouterr().out
        return "\n".join(line for line in text.splitlines() if "generated_at" not in line)

    forked = analyze("2")
    assert len(forking) == 2, "the checks' child and the findings' child"
    assert forked == analyze("1") and len(forking) == 2
    _no_child_left()


def test_a_child_that_fails_leaves_the_findings_to_this_process(
        report: Report, forking: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Iterator[bytes]:
        raise RuntimeError("the child fails before it writes")

    monkeypatch.setattr(ahead, "entry_pieces", broken)  # the child's copy, not the renderer's
    started = ahead.start(report.findings, color=False)
    assert started is not None
    try:
        assert started.child.result() is None
        assert _written(report, {"findings": started}) == _written(report)
    finally:
        started.close()
    _no_child_left()


def test_a_spill_cut_mid_line_is_not_used(report: Report, forking: list[int],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def cut(pieces: Any, color: bool) -> Iterator[bytes]:
        yield b"".join(pieces)[:-3]

    monkeypatch.setattr(ahead, "safe_pieces", cut)
    started = ahead.start(report.findings, color=False)
    assert started is not None
    try:
        assert started.child.result() is not None, "the child itself succeeded"
        assert started(_findings_value(report), False) is None
        assert _written(report, {"findings": started}) == _written(report)
    finally:
        started.close()


def _findings_value(report: Report) -> Any:
    return report.to_dict_in_batches()["findings"]


def test_only_the_findings_it_rendered_are_taken(report: Report, forking: list[int]) -> None:
    started = ahead.start(report.findings, color=False)
    assert started is not None
    try:
        other = Report(generated_at=GENERATED_AT, account=None, region=None, scope={},
                       diagnoses=(), timeline=(), findings=tuple(list(report.findings)), errors=(),
                       checks=())
        assert other.findings is not report.findings
        assert started(_findings_value(other), False) is None
        assert started(_findings_value(report), True) is None, "not the last entry"
        assert started(_findings_value(report), False) is not None
    finally:
        started.close()


def test_closing_ends_a_child_still_writing(report: Report, forking: list[int],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*_: Any) -> Iterator[bytes]:
        time.sleep(60)
        yield b"never\n"

    monkeypatch.setattr(ahead, "entry_pieces", slow)
    started = ahead.start(report.findings, color=False)
    assert started is not None
    began = time.monotonic()
    started.close()
    assert time.monotonic() - began < 5
    _no_child_left()


def test_small_reports_one_cpu_and_threads_write_here(report: Report,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    findings = [Finding("c", Status.PASS, Severity.LOW, "r", "m")] * 10
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(parallel, "forkable", lambda: True)
    assert ahead.start(findings, color=False) is None, "below MIN_FINDINGS"
    monkeypatch.setattr(ahead, "MIN_FINDINGS", 0)
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    assert ahead.start(findings, color=False) is None
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(parallel, "forkable", lambda: False)
    assert ahead.start(findings, color=False) is None


def test_the_sanitizer_passes_its_own_bytes_on_only_at_a_lines_start() -> None:
    command = b"::error::x\n"
    assert list(safe_pieces([Sanitized(command)])) == [command]
    joined = b"".join(p if isinstance(p, bytes) else p.encode()
                      for p in safe_pieces([b"  ", Sanitized(command)]))
    assert joined == b"  \\::error::x\n", "mid-line, it is sanitized as any other piece"
