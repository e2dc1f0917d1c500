"""The one sanitizer (checker.sanitize), piece by piece; tests/test_hostile_output.py runs it
end to end through every format."""

from __future__ import annotations

import random

import pytest

from checker.model import Finding, Report, Severity, Status
from checker.render.markdown import text as markdown_text
from checker.sanitize import (
    escape,
    guard_lines,
    one_line,
    safe_pieces,
    safe_text,
    sanitize_report,
)


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[2J", "\\x1b[2J"),
    ("a\x00b\x07c\x7f", "a\\x00b\\x07c\\x7f"),
    ("\x9b31m\x85", "\\x9b31m\\x85"),
    ("\u202eexe.txt\u2066\u2069", "\\u202eexe.txt\\u2066\\u2069"),
    ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
    ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
    ("tab\there", "tab here"),
    ("plain ASCII, ünïcödé and 日本語 stay", "plain ASCII, ünïcödé and 日本語 stay"),
])
def test_escape_shows_what_it_will_not_print(raw: str, shown: str) -> None:
    assert escape(raw) == shown
    assert escape(shown) == shown  # idempotent: what it writes is safe already
    assert shown.encode("utf-8")  # nothing left that cannot be encoded


def test_newlines_are_kept_only_when_asked() -> None:
    assert escape("a\nb\rc", newlines=True) == "a\nb\\x0dc"
    assert escape("a\nb") == "a\\x0ab"
    assert one_line(" a \n\t b\x1b ") == "a b\\x1b"
    assert one_line(None) == "" and one_line(42) == "42"


@pytest.mark.parametrize(("text", "guarded"), [
    ("::error::x\n", "\\::error::x\n"),
    ("ok\n   ::warning file=a::b\n", "ok\n   \\::warning file=a::b\n"),
    ("\x1b[1m::notice::c\x1b[0m\n", "\x1b[1m\\::notice::c\x1b[0m\n"),
    ("a :: b\nkey::value\n", "a :: b\nkey::value\n"),  # not at the start: harmless
])
def test_no_line_begins_with_a_workflow_command(text: str, guarded: str) -> None:
    assert guard_lines(text) == guarded


def test_safe_text_is_the_net_after_a_renderer() -> None:
    assert safe_text("x\x1b]8;;u\x07\n::set-output\n") == "x\\x1b]8;;u\\x07\n\\::set-output\n"


@pytest.mark.parametrize(("raw", "rendered"), [
    ("ping @octocat now", "ping `@octocat` now"),
    ("team @org/sre-team", "team `@org/sre-team`"),
    ("mail ops@example.com", "mail `ops@example.com`"),
    ("see https://evil.example/a_b?x=1 and www.evil.example",
     "see `https://evil.example/a_b?x=1` and `www.evil.example`"),
    ("a|b *c* <d>", "a\\|b \\*c\\* \\<d\\>"),
    ("esc \x1b[2J", "esc \\\\x1b\\[2J"),
])
def test_markdown_neutralises_mentions_and_bare_urls(raw: str, rendered: str) -> None:
    assert markdown_text(raw) == rendered


def test_sanitize_report_reaches_every_string_and_keeps_the_enums() -> None:
    finding = Finding("check-id", Status.FAIL, Severity.HIGH, "arn:\x1b[31m",
                      "msg \u202e", {"key\x07": ["v\x9b"]})
    report = Report("2026-11-20T10:00:00+00:00", "1\x1b", None,
                    {"clusters": ["prod\x1b"]}, (), (finding,),
                    ({"collection": "tasks", "message": "no\x00"},))
    safe = sanitize_report(report)
    got = safe.findings[0]
    assert got.status is Status.FAIL and got.severity is Severity.HIGH
    assert (got.resource, got.message) == ("arn:\\x1b[31m", "msg \\u202e")
    assert got.data == {"key\\x07": ["v\\x9b"]}
    assert safe.account == "1\\x1b" and safe.scope == {"clusters": ["prod\\x1b"]}
    assert safe.errors[0]["message"] == "no\\x00"
    assert report.findings[0].message == "msg \u202e"  # the original is untouched


def _joined(pieces: list[str | bytes]) -> str:
    return "".join(p.decode("utf-8") if isinstance(p, bytes) else p for p in pieces)


_HOSTILE = [" ", "\t", ":", "::", "a", "\n", "\x1b[1m", "\x1b", "[", "m", "\x7f", "\x00",
            "\r", "\u00e9", "\u202e", "\U0001f600", '"resource": "arn:aws:iam::1:role/x",\n']


@pytest.mark.parametrize("color", [False, True])
def test_safe_pieces_equal_the_net_over_the_joined_text(color: bool) -> None:
    """However a text is cut (mid-line, mid-character for bytes, between `:` and `:`), the
    pieces' sanitized text is the whole's: the line guard waits for a line's end."""
    rng = random.Random(11)
    net = guard_lines if color else safe_text
    for _ in range(3_000):
        text = "".join(rng.choice(_HOSTILE) for _ in range(rng.randint(0, 30)))
        cuts = sorted(rng.sample(range(len(text) + 1), rng.randint(0, min(4, len(text) + 1))))
        parts: list[str | bytes] = [
            text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        if rng.random() < 0.5:  # as UTF-8 bytes, cut anywhere (inside a character too)
            data = text.encode("utf-8")
            cuts = sorted(rng.sample(range(len(data) + 1), min(3, len(data) + 1)))
            parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        got = list(safe_pieces(parts, color=color))
        assert _joined(got) == net(text), (parts, color)


def test_a_clean_piece_is_passed_on_as_the_same_bytes() -> None:
    # the JSON report's pieces: printable ASCII whole lines, `::` only inside lines
    piece = b'  "resource": "arn:aws:iam::123456789012:role/app",\n' * 1000
    assert [p for p in safe_pieces([piece]) if p] == [piece]
    assert next(iter(safe_pieces([piece]))) is piece  # not copied
    assert next(iter(safe_pieces([piece], color=True))) is piece


@pytest.mark.parametrize("hostile", [
    b"  ::error::x\n", b"\t::warning\n", b"x\x1b]8;;u\x07\n", b"x\x7f\n", b"x\ty\n",
])
def test_an_unsafe_ascii_piece_is_sanitized_on_its_own(hostile: bytes) -> None:
    text = ('  "a": 1,\n' + hostile.decode("ascii") + '  "b": 2\n')
    got = _joined(list(safe_pieces([b'  "a": 1,\n', hostile, b'  "b": 2\n'])))
    assert got == safe_text(text) != text


def test_a_command_cut_across_pieces_is_still_guarded() -> None:
    got = _joined(list(safe_pieces([b"ok\n  :", b":error::x\n"])))
    assert got == "ok\n  \\::error::x\n"
    assert _joined(list(safe_pieces(["  :", ":x"]))) == "  \\::x"  # no final newline


def test_a_truncated_utf8_piece_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnicodeDecodeError):
        list(safe_pieces([b"caf\xc3"]))
