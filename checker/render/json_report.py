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
text is escaped as `json.dumps` escapes it by a decoding error handler, so every copy is
an ASCII string (one byte a character).
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
    """Decoding error handler for UTF-8 bytes read as ASCII: the run of non-ASCII bytes at
    the error, decoded as UTF-8 and written as `json.dumps` escapes it (``\\u00e9``;
    outside the BMP a UTF-16 surrogate pair). The decoder runs in C and calls back once
    per run, and the result is an ASCII string (one byte a character): a regex over the
    decoded report, or a UTF-8 decode of it (two or four bytes a character once one
    character is not Latin-1), cost seconds and hundreds of MB on a large report."""
    assert isinstance(err, UnicodeDecodeError)
    data, end = err.object, err.start
    while end < len(data) and data[end] >= 0x80:
        end += 1
    out = []
    for char in bytes(data[err.start:end]).decode("utf-8"):
        code = ord(char)
        if code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            code -= 0x10000
            out.append(f"\\u{0xd800 | (code >> 10):04x}\\u{0xdc00 | (code & 0x3ff):04x}")
    return "".join(out), end


codecs.register_error(_ESCAPE_ERRORS, _json_escapes)


def render_json(report: Report, options: RenderOptions) -> str:
    """Options are ignored: colour, width and verbosity mean nothing to a machine reader."""
    del options
    value = report.to_dict()
    fast = _orjson_dumps(value, consume=True)
    return fast if fast is not None else reference_dumps(value)


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
    text = data.decode("ascii", _ESCAPE_ERRORS)
    return text.replace("\x7f", "\\u007f") if "\x7f" in text else text


#: List items encoded at once: a bounded piece of a 100 MB report at a time.
_BATCH = 500
#: The standard library's compact encoding with non-ASCII left as it is: its UTF-8 is
#: byte for byte orjson's when the two agree, and `_ascii` of it is `json.dumps`'s own
#: (both escape `"`, `\\` and the controls alike; ensure_ascii only adds `\\uXXXX` for
#: DEL and beyond, which `_ascii` writes the same way).
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _pieces(value: Any) -> list[Any] | None:
    """The parts of a report-shaped value (a dict with string keys) that are encoded one
    at a time: each top-level value, each list cut in batches. None for any other value
    (encoded whole)."""
    if type(value) is not dict or any(type(k) is not str for k in value):
        return None
    out: list[Any] = []
    for item in value.values():
        if type(item) is list and item:
            out += [item[i:i + _BATCH] for i in range(0, len(item), _BATCH)]
        else:
            out.append(item)
    return out


def _orjson_dumps(value: Any, *, consume: bool = False) -> str | None:
    """The reference's bytes through orjson, or None when they cannot be proven equal.

    The proof: orjson's compact encoding of every piece equals the standard library's
    compact one (its C encoder) in UTF-8, piece by piece, so no copy of the whole report
    is made for it. The indented text is then assembled from the pieces' indented encodings
    (orjson writes a raw newline only between tokens: strings hold ``\\n``) and joined
    once. With `consume`, each list's items are dropped from `value` once written
    (render_json owns its `to_dict()`), so the dicts shrink as the text grows: at most
    the text twice (its pieces and the joined copy), where encoding the whole value at
    once held the dicts, the encoded bytes and their decoded copy."""
    try:
        import orjson
    except ImportError:  # an install without it (a slim Lambda package): the reference
        return None
    pieces = _pieces(value)
    try:
        for piece in [value] if pieces is None else pieces:
            if orjson.dumps(piece) != _COMPACT.encode(piece).encode("utf-8"):
                return None
    except (TypeError, ValueError):  # non-string keys, big ints, types orjson refuses,
        # a lone surrogate (not UTF-8: orjson refuses it, the reference escapes it)
        return None
    del pieces
    indent = orjson.OPT_INDENT_2
    if type(value) is not dict or not value:
        return _ascii(orjson.dumps(value, option=indent)) + "\n"
    parts = ["{\n"]
    for n, (key, item) in enumerate(value.items()):
        parts.append((",\n" if n else "") + f"  {json.dumps(key)}: ")
        if type(item) is not list or not item:
            parts.append(_ascii(orjson.dumps(item, option=indent)).replace("\n", "\n  "))
            continue
        parts.append("[\n")
        for i in range(0, len(item), _BATCH):
            batch = item[i:i + _BATCH]
            body = _ascii(orjson.dumps(batch, option=indent))[2:-2]  # inside "[\n" … "\n]"
            parts.append(("  " if not i else ",\n  ") + body.replace("\n", "\n  "))
            if consume:
                item[i:i + _BATCH] = [None] * len(batch)
        parts.append("\n  ]")
    parts.append("\n}\n")
    return "".join(parts)
