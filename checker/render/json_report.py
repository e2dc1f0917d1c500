"""JSON renderer: report v1 (CONTRACTS.md §2), exactly `Report.to_dict()`.

Named `json_report` so that `checker.render.json` never shadows the standard library module
for readers or tools. The shape is owned by the model, not here: this module only fixes
the serialisation (indent 2, key order as built, ASCII-only escapes, trailing newline) so
that the same report is the same bytes and diffs between two scans stay small.

Those bytes are `json.dumps(indent=2)`'s (`reference_dumps`). With an indent the standard
library encodes in pure Python (seconds and hundreds of MB for a 1,000-service report);
orjson writes the same layout in C. Its bytes are used only where they are proven to be the
reference's, piece by piece (`_proven`); a piece that cannot be proven is encoded by the
reference itself, so the report is the reference's bytes either way and nothing written
before it has to be taken back. Why the proof holds:

- orjson refuses (TypeError) non-string keys, integers beyond 64 bits, lone surrogates,
  subclasses, dataclasses and datetimes (the `OPT_PASSTHROUGH_*` options send those to a
  `default` that refuses them);
- `marshal` refuses every object that is not exactly a built-in type, which leaves out what
  orjson takes and the reference does not (UUIDs, plain enums, orjson.Fragment) or writes
  otherwise (a str, int or float enum member: orjson writes its value, the reference its
  content);
- what is left is dicts, lists, tuples, strings, 64-bit integers, floats, booleans and None,
  which both encoders write alike (the same escapes, layout and integer digits: checked once
  per process on a probe, `_orjson_agrees`, and on every character in the tests) except
  floats: NaN and infinities (orjson writes null) and some spellings (orjson 0.00001, the
  reference 1e-05). marshal's walk finds them too: in its format version 1 it writes every
  float as its own record, the type byte ``f``, a length byte and the float in 17
  significant digits (``%.17g``: "nan", "inf" and "-inf" for the others), which read back
  to the very same value. A regular expression over marshal's bytes finds every such
  record (`_FLOAT_RECORD`; anything else it finds is not a float and is passed over or,
  if it reads as one, checked as well, which can only send a piece to the reference), and
  each distinct float is checked: finite, and spelled by orjson as the reference spells it
  (float.__repr__).

One C walk over a piece (marshal's) and a scan of its bytes cost about 60 % of the two walks
the proof made before (marshal in its newest format for the types, then the standard
library's C encoder writing no strings, to find the floats; x10: 0.36 s against 0.6 s),
which had themselves cost half of encoding the piece a second time with the standard
library's compact encoder and comparing (1.1 s).

A report is rendered a top-level entry or a batch of list items at a time (`json_pieces`):
the items' dictionaries are built a batch at a time (`Report.to_dict_in_batches`), a batch
or item orjson writes in more than a few MB is split further, and each piece ends a line,
so a writer can sanitize and write it at once and the text of a large report is never held
whole. Non-ASCII text is escaped as `json.dumps` escapes it (`_ascii`), so every piece is
ASCII bytes.
"""

from __future__ import annotations

import codecs
import functools
import json
import marshal
import math
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from checker.model import ItemDicts, Report

if TYPE_CHECKING:
    from checker.render import RenderOptions

try:
    import orjson
except ImportError:  # an install without it (a slim Lambda package): the reference
    orjson = None  # type: ignore[assignment]

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
    return "".join(map(_escape, bytes(data[err.start:end]).decode("utf-8"))), end


codecs.register_error(_ESCAPE_ERRORS, _json_escapes)


def render_json(report: Report, options: RenderOptions) -> str:
    """Options are ignored: colour, width and verbosity mean nothing to a machine reader."""
    del options
    return b"".join(json_pieces(report)).decode("ascii")


def json_pieces(report: Report) -> Iterator[bytes]:
    """`render_json`'s text as ASCII bytes, a top-level entry or a batch of list items at a
    time, each piece ending a line: the command line writes them as they come."""
    yield from _document(report.to_dict_in_batches())


def dumps(value: Any) -> str:
    """`json.dumps(value, indent=2) + "\\n"`, byte for byte, faster when orjson agrees."""
    return b"".join(_document(value)).decode("ascii")


def reference_dumps(value: Any) -> str:
    """The definition of the report's bytes (what `dumps` must equal)."""
    return json.dumps(value, indent=2, sort_keys=False) + "\n"


#: A piece's target size in bytes: each batch of list items is sized from the bytes of the
#: batch before, so pieces stay about this large whether an item is a 700-byte finding or a
#: 20 KB diagnosis.
_PIECE_BYTES = 1 << 20
_FIRST_BATCH = 8
_MAX_BATCH = 1 << 14
#: A value or batch orjson writes in more bytes than this is split rather than written as
#: one piece (its bytes dropped before they are proven): a batch into its items, an item
#: into its entries and lists, so that a diagnosis with 18,000 pieces of evidence (26 MB)
#: is not held whole either.
_SPLIT_BYTES = 4 * _PIECE_BYTES
_INDENT = b"  "


def _document(value: Any) -> Iterator[bytes]:
    """`reference_dumps(value)` as ASCII bytes in pieces that each end a line."""
    yield from _pieces(value, 0, b"", b"\n")


def _pieces(value: Any, depth: int, head: bytes, end: bytes,
            large: bool = False) -> Iterator[bytes]:
    """`head`, then `value` as the reference writes it at `depth` (its indentation level),
    then `end`, in pieces that end lines: the document's dict an entry at a time and its
    lists a batch of items at a time, anything below whole unless orjson's bytes for it are
    too many (`_SPLIT_BYTES`; `large`: known to be)."""
    if type(value) is ItemDicts:
        value = value if len(value) else []
    if value and (type(value) is ItemDicts or (depth <= 1 and type(value) is list)):
        yield from _list_pieces(value, depth, head, end)
        return
    raw = None if depth == 0 or large else _orjson(value, depth)
    if (depth == 0 or large or (raw is not None and len(raw) > _SPLIT_BYTES)) \
            and _splits(value):
        del raw
        yield from (_list_pieces(value, depth, head, end) if type(value) is list else
                    _dict_pieces(value, depth, head, end))
    else:
        yield b"".join((head, _encoded(value, depth, raw), end))


def _splits(value: Any) -> bool:
    """Whether `value` can be written a part at a time: a non-empty list, or a non-empty
    dict with string keys (the reference writes other keys converted)."""
    return bool(value) and (type(value) is list or (type(value) is dict and all(
        type(key) is str for key in value)))


def _dict_pieces(value: dict[str, Any], depth: int, head: bytes,
                 end: bytes) -> Iterator[bytes]:
    """A dict at `depth`, `{` … `}`, an entry at a time."""
    yield head + b"{\n"
    last, indent = len(value) - 1, _INDENT * (depth + 1)
    for n, (key, item) in enumerate(value.items()):
        yield from _pieces(item, depth + 1, b"%s%s: " % (indent, json.dumps(key).encode()),
                           b",\n" if n < last else b"\n")
    yield _INDENT * depth + b"}" + end


def _list_pieces(items: list[Any] | ItemDicts, depth: int, head: bytes,
                 end: bytes) -> Iterator[bytes]:
    """A list at `depth`, `[` … `]`, a batch of items at a time (a report's items made
    into dictionaries a batch at a time)."""
    yield head + b"[\n"
    total, start, size = len(items), 0, _FIRST_BATCH
    while start < total:
        stop = min(start + size, total)
        batch = items.batch(start, stop) if isinstance(items, ItemDicts) else items[start:stop]
        written = 0
        for piece in _batch_pieces(batch, depth + 1, b",\n" if stop < total else b"\n"):
            written += len(piece)
            yield piece
        size = max(1, min(_MAX_BATCH, (stop - start) * _PIECE_BYTES // max(written, 1)))
        start = stop
    yield _INDENT * depth + b"]" + end


def _batch_pieces(batch: list[Any], depth: int, end: bytes) -> Iterator[bytes]:
    """Consecutive list items at `depth`, each `,\\n` from the next, then `end`: one piece,
    or when orjson's bytes for them are too many, smaller batches (one item: its parts)."""
    raw = _orjson(batch, depth - 1)
    if raw is not None and len(raw) > _SPLIT_BYTES:
        step = -(-len(batch) * _PIECE_BYTES // len(raw))  # rounded up: 1 MB a batch
        del raw
        if len(batch) == 1:
            yield from _pieces(batch[0], depth, _INDENT * depth, end, large=True)
            return
        for start in range(0, len(batch), step):
            more = start + step < len(batch)
            yield from _batch_pieces(batch[start:start + step], depth, b",\n" if more else end)
        return
    # the list's encoding at its depth, less `[` and its newline, and the newline and `]`
    yield b"".join((_encoded(batch, depth - 1, raw)[2:-(2 * depth)], end))


def _wrapped(value: Any, depth: int) -> Any:
    """`value` inside `depth` dicts: encoded with indent 2, it is at `depth`."""
    for _ in range(depth):
        value = {"k": value}
    return value


def _orjson(value: Any, depth: int) -> bytes | None:
    """orjson's indented UTF-8 for `value` at `depth` (in `_wrapped`), None when orjson is
    not there, disagrees with the reference on the probe, or refuses the value."""
    if not _provable():  # no proof possible: no fast path
        return None
    try:
        return orjson.dumps(_wrapped(value, depth), default=_refuse, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one
        return None


def _encoded(value: Any, depth: int, raw: bytes | None) -> memoryview:
    """`value` as `json.dumps(indent=2)` writes it at `depth`, as ASCII bytes: orjson's
    (`raw`) when proven equal, else the reference's own (always ASCII: ensure_ascii). Cut
    out of its `_wrapped` encoding: json.dumps's text of a value depends only on the value
    and its depth, so the pieces joined are the whole's bytes."""
    data = _proven(value, raw) if raw is not None else None
    if data is None:
        data = _reference(value, depth)
    if not depth:
        return memoryview(data)
    before = sum(len(b'{\n%s"k": ' % (_INDENT * level)) for level in range(1, depth + 1))
    after = sum(len(b"\n%s}" % (_INDENT * level)) for level in range(depth))
    return memoryview(data)[before:-after]


def _reference(value: Any, depth: int) -> bytes:
    """The reference's own bytes for `value` at `depth` (in `_wrapped`), for a piece orjson
    refused or that could not be proven."""
    return json.dumps(_wrapped(value, depth), indent=2).encode("ascii")


def _refuse(value: Any) -> Any:
    """orjson's `default`: what it does not encode natively is not proven."""
    raise TypeError(f"not proven: {type(value).__name__}")


#: Subclasses, dataclasses and datetimes go to `_refuse` rather than being encoded.
_OPTIONS = 0 if orjson is None else (
    orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME)


def _proven(value: Any, raw: bytes) -> bytes | None:
    """orjson's bytes `raw` for `value` as the reference's ASCII bytes, or None when they
    cannot be proven equal to what `json.dumps(indent=2)` writes (the module docstring):
    orjson took it; marshal takes it; every float marshal wrote is finite and orjson spells
    it as the reference does."""
    try:
        # ValueError for anything not exactly a built-in type, or nested too deep
        data = marshal.dumps(value, _MARSHAL_VERSION)
    except (TypeError, ValueError, RecursionError):
        return None
    if b"f" in data:  # no float record without its type byte
        for match in _FLOAT_RECORD.finditer(data):
            start = match.end()
            if not _same_float(data[start:start + data[start - 1]]):
                return None
    return _ascii(raw)


#: marshal's last format version that writes floats as text (TYPE_FLOAT: ``f``, a length
#: byte, ``%.17g``); from version 2 on they are 8 binary bytes, which nothing marks out,
#: and from version 3 on a float met again is a reference to the first.
_MARSHAL_VERSION = 1
#: The type byte and length byte of a float record (``%.17g`` is at most 24 characters:
#: "-2.2250738585072014e-308"). A match cannot overlap a record's own type byte, as "f" is
#: not a length, so none is skipped.
_FLOAT_RECORD = re.compile(rb"f[\x01-\x18]")


@functools.lru_cache(maxsize=4096)
def _same_float(text: bytes) -> bool:
    """Whether the float marshal wrote as `text` is finite and orjson spells it as the
    reference does (float.__repr__). `text` is ``%.17g``, which float() reads back to the
    very same value; bytes that do not read as a float were not a float record (matched
    inside a string or a length) and are passed over."""
    assert orjson is not None
    try:
        value = float(text)
    except ValueError:
        return True
    return math.isfinite(value) and orjson.dumps(value) == repr(value).encode("ascii")


@functools.cache
def _provable() -> bool:
    """Whether pieces can be proven at all: orjson is there and writes the probe as the
    reference does, and marshal writes floats as the records `_proven` reads. Otherwise
    every piece is the reference's."""
    return orjson is not None and _orjson_agrees() and _marshal_writes_float_records()


def _marshal_writes_float_records() -> bool:
    """Whether marshal writes each float of a probe as a record `_FLOAT_RECORD` finds, with
    its ``%.17g`` text. A marshal that wrote them otherwise (binary, as its later versions
    do) would leave every float unchecked: the fast path is turned off instead."""
    floats = [0.1, -1e-05, 5e-324, -2.2250738585072014e-308, math.inf, math.nan]
    data = marshal.dumps([*floats, "f"], _MARSHAL_VERSION)
    found = [data[m.end():m.end() + data[m.end() - 1]] for m in _FLOAT_RECORD.finditer(data)]
    return found == [b"%.17g" % number for number in floats]


_ASCII = "".join(map(chr, range(0x80)))
#: Every ASCII character and a few beyond (Latin-1, a line separator, the BOM, the last BMP
#: character, an emoji, the last code point), in keys and values, every layout (empty and
#: nested containers) and integers at orjson's limits: what the proof takes as equal.
_PROBE: dict[str, Any] = {
    _ASCII + "\u00e9\u2028\ufeff\uffff\U0001f600\U0010ffff": [_ASCII, "\u00ff\u0100\U00010000"],
    "layout": [[], {}, [{}], [[]], {"a": [1, {"b": None}], "c": {"d": []}}, (1, "x")],
    "scalars": [True, False, None, 0, -1, 2**63 - 1, -2**63, 2**64 - 1, 0.0, -0.0, 0.1, 1.5],
    "": "",
}


def _orjson_agrees() -> bool:
    """Whether the installed orjson writes the probe as the reference does: its escapes,
    layout and integers are what the proof takes as equal (an upgrade that changed them
    turns the fast path off instead of changing a report)."""
    assert orjson is not None
    return _ascii(orjson.dumps(_PROBE, option=_OPTIONS)) == json.dumps(
        _PROBE, indent=2).encode("ascii")


#: Characters escaped one pass each in a piece with at most this many distinct non-ASCII
#: characters; beyond, the decoding error handler escapes the piece.
_REPLACED_CHARACTERS = 8
#: A character found in fewer than one byte in this many of a piece is escaped by a regular
#: expression (`_escaper`), more often by `bytes.replace`.
_SPARSE = 128
_ASCII_BYTES = bytes(range(0x80))


def _ascii(data: bytes) -> bytes:
    """orjson's UTF-8 with what `json.dumps(ensure_ascii=True)` escapes beyond it: every
    non-ASCII character and DEL (orjson writes ASCII only outside strings, so this never
    touches the structure). A report is ASCII but for a few characters (an em dash, an
    arrow) used over and over: what is left of a piece with its ASCII bytes deleted holds
    them, and each is replaced by its escape where it occurs (in UTF-8, a character's bytes
    found in valid text are that character: a lead byte always starts one)."""
    if not data.isascii():
        beyond = data.translate(None, _ASCII_BYTES)
        distinct = set(beyond.decode("utf-8"))
        if len(distinct) > _REPLACED_CHARACTERS:
            data = data.decode("ascii", _ESCAPE_ERRORS).encode("ascii")
        else:
            for char in distinct:
                encoded = char.encode("utf-8")
                if beyond.count(encoded) * _SPARSE < len(data):
                    data = _escaper(char)(data)
                else:
                    data = data.replace(encoded, _escape(char).encode("ascii"))
    return data.replace(b"\x7f", b"\\u007f") if b"\x7f" in data else data


@functools.lru_cache(maxsize=256)
def _escaper(char: str) -> Callable[[bytes], bytes]:
    """`char`'s UTF-8 bytes replaced by its escape, by a regular expression: its search
    for a literal runs through a piece at about four times `bytes.replace`'s speed, which
    passes twice (counting, then copying), but it pays for every occurrence. A report's
    arrows and dashes are a few in a thousand bytes (x10: 0.19 s -> 0.09 s for the 65 MB
    that hold any); a character on every line is left to `bytes.replace`."""
    literal = _escape(char).encode("ascii").replace(b"\\", b"\\\\")  # a template's escape
    return functools.partial(re.compile(re.escape(char.encode("utf-8"))).sub, literal)


def _escape(char: str) -> str:
    """A character beyond ASCII as `json.dumps` escapes it (outside the BMP a UTF-16
    surrogate pair)."""
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xd800 | (code >> 10):04x}\\u{0xdc00 | (code & 0x3ff):04x}"
