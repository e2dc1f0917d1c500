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
integer beyond 64 bits falls back to `json.dumps` rather than changing a byte. Non-ASCII
text is then escaped as `json.dumps` escapes it, by a codec error handler (in C).
"""

from __future__ import annotations

import codecs
import json
from typing import TYPE_CHECKING, Any

from checker.model import Report

if TYPE_CHECKING:
    from checker.render import RenderOptions

_ESCAPE_ERRORS = "ecsdoctor-json-ascii"


def _json_escapes(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: each non-ASCII character of the run as `json.dumps` escapes
    it (``\\u00e9``; outside the BMP a UTF-16 surrogate pair). Encoding with it runs in C,
    calling back once per run of non-ASCII text (a regex over the whole report took
    seconds)."""
    assert isinstance(err, UnicodeEncodeError)
    out = []
    for char in err.object[err.start:err.end]:
        code = ord(char)
        if code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            code -= 0x10000
            out.append(f"\\u{0xd800 | (code >> 10):04x}\\u{0xdc00 | (code & 0x3ff):04x}")
    return "".join(out), err.end


codecs.register_error(_ESCAPE_ERRORS, _json_escapes)


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


def _ascii(data: bytes) -> str:
    """orjson's UTF-8 with what `json.dumps(ensure_ascii=True)` escapes beyond it: every
    non-ASCII character and DEL (orjson writes ASCII only outside strings, so this never
    touches the structure)."""
    text = data.decode("utf-8")
    if not text.isascii():
        text = text.encode("ascii", _ESCAPE_ERRORS).decode("ascii")
    return text.replace("\x7f", "\\u007f") if "\x7f" in text else text


def _orjson_dumps(value: Any) -> str | None:
    try:
        import orjson
    except ImportError:  # an install without it (a slim Lambda package): the reference
        return None
    try:
        compact = orjson.dumps(value).decode("utf-8")
    except (TypeError, ValueError):  # non-string keys, big ints, types orjson refuses
        return None
    # unescaped on both sides: equal here means equal once both escape non-ASCII alike
    if compact != json.dumps(value, separators=(",", ":"), ensure_ascii=False):
        return None
    return _ascii(orjson.dumps(value, option=orjson.OPT_INDENT_2)) + "\n"
