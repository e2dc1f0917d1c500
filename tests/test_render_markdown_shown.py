"""Markdown sanitizes only what it shows (checker.render.markdown._shown): the counts still
cover every finding, the passing ones included, and what it shows is the same as before."""

from __future__ import annotations

from dataclasses import replace

from checker.model import Finding, Severity, Status
from checker.render import RenderOptions, render
from tests.test_render import WEB, make_report


def test_counts_cover_every_finding_and_shown_text_is_still_sanitized() -> None:
    base = make_report()
    passing = tuple(Finding(f"check-{i}", Status.PASS, Severity.LOW, WEB, "ok\x1b[2J")
                    for i in range(5))
    failing = Finding("evil", Status.FAIL, Severity.HIGH, WEB, "bad\x1b[2J\u202e",
                      {"raw": "\x1b]8;;x"})
    report = replace(base, findings=(*base.findings, *passing, failing))
    out = render(report, "markdown", RenderOptions(verbose=True))
    assert "**Findings** 6 pass, 4 fail, 1 unknown, 1 skipped" in out
    assert "bad\\\\x1b\\[2J\\\\u202e" in out and "\x1b" not in out and "\u202e" not in out
    assert "check-0" not in out  # a passing finding is counted, never listed
    empty = replace(report, diagnoses=())
    assert "No diagnoses: 6 checks passed, 1 could not run" in render(empty, "markdown")
