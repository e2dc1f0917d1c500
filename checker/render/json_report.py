"""JSON renderer: report v1 (CONTRACTS.md §2), exactly `Report.to_dict()`.

Named `json_report` so that `checker.render.json` never shadows the standard library module
for readers or tools. The shape is owned by the model, not here: this module only fixes
the serialisation (indent 2, key order as built, ASCII-only escapes, trailing newline) so
that the same report is the same bytes and diffs between two scans stay small.

Those bytes are `json.dumps(indent=2)`'s. With an indent the standard library encodes in
pure Python (about 1.5 s and +400 MB for a 1,000-service report); orjson writes the same
layout in C. Its output is used only when it provably equals the standard library's: both
compact encodings (the standard library's compact one is its C encoder) are compared first,
so a number orjson would spell differently (1e-05 vs 1e-5), a NaN, a non-string key or an
integer beyond 64 bits falls back to `json.dumps` rather than changing a byte.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from checker.model import Report

if TYPE_CHECKING:
    from checker.render import RenderOptions

#: What `json.dumps(ensure_ascii=True)` escapes beyond what orjson does: DEL and every
#: non-ASCII character (outside strings orjson writes ASCII only).
_NON_ASCII = re.compile(r"[\x7f-\U0010ffff]")


def render_json(report: Report, options: RenderOptions) -> str:
    """Options are ignored: colour, width and verbosity mean nothing to a machine reader."""
    del options
    return dumps(report.to_dict())


def dumps(value: Any) -> str:
    """`json.dumps(value, indent=2) + "\\n"`, byte for byte, faster when orjson agrees."""
    fast = _orjson_dumps(value)
    return fast if fast is not None else reference_dumps(value)


def reference_dumps(value: Any) -> str:
    """The definition of the report's bytes (what `dumps` must equal)."""
    return json.dumps(value, indent=2, sort_keys=False) + "\n"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # outside the BMP: a UTF-16 surrogate pair, as json.dumps writes it
    return f"\\u{0xd800 | (code >> 10):04x}\\u{0xdc00 | (code & 0x3ff):04x}"


def _ascii(data: bytes) -> str:
    text = data.decode("utf-8")
    return _NON_ASCII.sub(_escape, text) if not text.isascii() or "\x7f" in text else text


def _orjson_dumps(value: Any) -> str | None:
    try:
        import orjson
    except ImportError:  # an install without it (a slim Lambda package): the reference
        return None
    try:
        compact = _ascii(orjson.dumps(value))
    except (TypeError, ValueError):  # non-string keys, big ints, types orjson refuses
        return None
    if compact != json.dumps(value, separators=(",", ":"), sort_keys=False):
        return None
    return _ascii(orjson.dumps(value, option=orjson.OPT_INDENT_2)) + "\n"
