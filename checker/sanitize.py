"""The one sanitizer for text a person reads: terminal, Markdown, CI logs, SNS messages.

Strings from AWS (stop reasons, event messages, environment variable names, image names,
CloudTrail actors) are attacker-controlled: anyone who can call `ecs:StopTask --reason`
writes into our report. Printed raw, an ESC sequence clears the screen or plants an
OSC-8 link, U+202E reverses what follows, and a line that starts with `::` is a GitHub
Actions workflow command. So every human-facing format passes through here:

- :func:`escape` shows C0/C1 control characters, bidi overrides, line and paragraph
  separators and lone surrogates as `\\x1b` / `\\u202e` (visible, never emitted; a lone
  surrogate cannot even be encoded);
- :func:`sanitize_report` applies it to every string of a report before a renderer lays it
  out, so no field can be forgotten and widths are measured on what is printed;
- :func:`guard_lines` runs on the finished text: no line, after leading blanks and colour
  codes, may begin with `::` (it gets a backslash; the GitHub runner trims leading
  whitespace before looking: https://github.com/actions/runner/blob/main/src/Runner.Worker/ActionCommandManager.cs);
- :func:`safe_pieces` is that safety net over a text written in pieces (a 100 MB JSON
  report is never held whole): the same result, and a clean ASCII piece is not copied;
- :func:`links_as_code` wraps `@mentions`, e-mail addresses and bare URLs in code spans,
  the only Markdown form GitHub neither links nor pings from
  (https://docs.github.com/en/get-started/writing-on-github/getting-started-with-writing-and-formatting-on-github/basic-writing-and-formatting-syntax#mentioning-people-and-teams).

Escaping is idempotent: what it writes is printable ASCII, so text escaped twice reads the
same. Deliberately free of imports from the rest of ecsdoctor: the engine (past events),
the renderers and the audit sinks all use it.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import Enum
from typing import Any, TypeVar

#: Characters never printed: C0 (tab and newline handled apart), DEL, C1, the Arabic letter
#: mark, LRM/RLM, line/paragraph separators, the bidi embeddings, overrides and isolates,
#: lone surrogates, and the zero-width no-break space (U+FEFF).
UNSAFE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ud800-\udfff\ufeff]")
UNSAFE_KEEP_NEWLINE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ud800-\udfff\ufeff]")
#: A line that would start a workflow command: blanks and SGR colour codes, then `::`.
_COMMAND_LINE = re.compile(r"^((?:[ \t]|\x1b\[[0-9;]*m)*)::", re.MULTILINE)
#: Bare URLs (GFM autolinks them, `www.` too) and `@name`, `@org/team`, `a@b.c`
#: (GitHub pings the first two and autolinks the third). Neither may hold a backtick
#: or a pipe, so a code span around it is always well formed, even in a table cell.
_LINKISH = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>`|]+"
    r"|[\w.+-]*@\w[\w./-]*")

T = TypeVar("T")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str, *, newlines: bool = False) -> str:
    """`text` with every unsafe character shown as an escape; tabs become a space, and
    newlines stay only when `newlines` (multi-line messages and commands)."""
    if newlines and _clean_ascii(text):
        return text
    text = text.replace("\t", " ")
    return (UNSAFE_KEEP_NEWLINE if newlines else UNSAFE).sub(_escaped, text)


#: Every ASCII byte the `newlines` escape leaves alone: printable ASCII and the newline.
_PRINTABLE_ASCII = bytes([0x0a, *range(0x20, 0x7f)])
#: Characters per slice of the fast path's check: a bounded copy, however large the text.
_SLICE = 1 << 20


def _clean_ascii(text: str) -> bool:
    """True when `text` holds only printable ASCII and newlines, so escaping (newlines
    kept) changes nothing. A finished JSON report of a large account is 100 MB of exactly
    that (`ensure_ascii` escapes every other character); the regex walks it character by
    character for seconds, while ``isascii`` is a flag and ``bytes.translate`` deletes
    the allowed bytes in C, leaving only what would need escaping."""
    if len(text) < _SLICE or not text.isascii():
        return False  # small or not ASCII: the regex is as quick, and exact by definition
    return not any(text[i:i + _SLICE].encode("ascii").translate(None, _PRINTABLE_ASCII)
                   for i in range(0, len(text), _SLICE))


def one_line(value: Any) -> str:
    """Any value as one line of safe text: whitespace (newlines included) folded to single
    spaces, then the rest escaped."""
    text = value if isinstance(value, str) else str(value if value is not None else "")
    return escape(" ".join(text.split()))


def guard_lines(text: str) -> str:
    """No line may begin (after blanks and colour codes) with `::`: a backslash goes first,
    so a CI log shows `\\::error` instead of running it as a workflow command."""
    if not _command_line_possible(text):
        return text
    return _COMMAND_LINE.sub(lambda m: f"{m.group(1)}\\::", text)


#: What may stand before a workflow command's `::` on its line (_COMMAND_LINE's prefix).
_COMMAND_PREFIX = re.compile(r"(?:[ \t]|\x1b\[[0-9;]*m)*")


def _command_line_possible(text: str) -> bool:
    """Whether some `::` in `text` starts its line (after blanks and colour codes), found
    by looking only at the `::`s: ``str.find`` skips the rest in C, where the multi-line
    regex tries every position of a 100 MB report in turn. A `::` that is not at the end
    of its line's prefix rules out its line, so the search moves on to the next line."""
    at = text.find("::")
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        if _COMMAND_PREFIX.fullmatch(text, start, at):
            return True
        nxt = text.find("\n", at)
        if nxt < 0:
            return False
        at = text.find("::", nxt)
    return False


def safe_text(text: str) -> str:
    """Finished plain-text output (no colour codes in it): escaped, newlines kept, and
    guarded. A safety net after the renderers, which already sanitized their fields."""
    return guard_lines(escape(text, newlines=True))


def safe_pieces(pieces: Iterable[str | bytes], *, color: bool = False) -> Iterator[str | bytes]:
    """`safe_text` (`guard_lines` alone when `color`: the renderer's colour codes stay) of a
    text given in pieces, bytes ones in UTF-8, piece by piece: what a report is written as
    (checker.render.render_pieces) when it is too large to hold twice.

    Joined, what comes out is the function's result on the joined text: the line guard sees
    whole lines (the end of a piece that is not the end of a line waits for the next piece;
    a renderer's pieces end lines, so nothing waits), and escaping is character by
    character. A piece of printable ASCII and newlines (colour mode: any ASCII without an
    ESC) with no line that could start a workflow command is passed on as the very same
    bytes; anything else comes out as a str."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    tail: str | bytes = b""
    for piece in pieces:
        if isinstance(piece, bytes) and isinstance(tail, bytes) and piece.isascii() \
                and not decoder.getstate()[0]:
            data = tail + piece if tail else piece
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            if cut:
                yield _safe_ascii(data if cut == len(data) else data[:cut], color)
            continue
        text = tail.decode("ascii") if isinstance(tail, bytes) else tail
        text += decoder.decode(piece) if isinstance(piece, bytes) else (
            decoder.decode(b"", final=True) + piece)
        cut = text.rfind("\n") + 1
        tail = text[cut:] or b""
        if cut:
            yield _safe(text[:cut], color)
    rest = (tail.decode("ascii") if isinstance(tail, bytes) else tail) + decoder.decode(
        b"", final=True)
    if rest:
        yield _safe(rest, color)


def _safe(text: str, color: bool) -> str:
    return guard_lines(text) if color else safe_text(text)


def _safe_ascii(data: bytes, color: bool) -> str | bytes:
    """`_safe` of ASCII bytes (whole lines), as the same bytes when it changes nothing: no
    character the escape would show (colour mode: no ESC, so the only prefix of a command
    line is blanks), and no `::` after the blanks that start a line, found with the blanks
    deleted (in C: a `::` it finds there may be one `_safe` leaves alone, then `_safe` has
    the last word, but one it does not find is not there)."""
    if (data.find(b"\x1b") >= 0) if color else bool(data.translate(None, _PRINTABLE_ASCII)):
        return _safe(data.decode("ascii"), color)
    if b"::" in data:
        unblanked = data.translate(None, b" \t")
        if unblanked.startswith(b"::") or b"\n::" in unblanked:
            return _safe(data.decode("ascii"), color)
    return data


def links_as_code(text: str, plain: Callable[[str], str], code: Callable[[str], str]) -> str:
    """Markdown: each bare URL, `@mention` or e-mail address in `text` (raw, one line)
    goes through `code` (a code span, which GitHub neither links nor pings) and the text
    between them through `plain` (the caller's Markdown escaping)."""
    out: list[str] = []
    start = 0
    for match in _LINKISH.finditer(text):
        out += [plain(text[start:match.start()]), code(match.group())]
        start = match.end()
    out.append(plain(text[start:]))
    return "".join(out)


def sanitize(value: T) -> T:
    """Every string inside `value` escaped (newlines kept), recursively through
    dataclasses, mappings, lists and tuples; enums and other values unchanged."""
    return _walk(value)  # type: ignore[no-any-return]


def sanitize_report(report: T) -> T:
    """A copy of `report` (checker.model.Report) whose every string is safe to print."""
    return sanitize(report)


def _walk(value: Any) -> Any:
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return escape(value, newlines=True) if _needs(value) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _walk(getattr(value, f.name))
                   for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    if isinstance(value, Mapping):
        return {_walk(k): _walk(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_walk(v) for v in value)
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value


def _needs(text: str) -> bool:
    return "\t" in text or UNSAFE_KEEP_NEWLINE.search(text) is not None
