"""The JSON report is `json.dumps(indent=2)`'s bytes (the reference), whichever way it is
made: through orjson where the proof holds, in pieces a batch at a time, split where a
piece would be large, and with the reference for any piece the proof refuses (values orjson
writes differently, or types only one of the two encoders takes).

bench/analyze_scale.py measures how much faster; here only that nothing a reader gets
changes, and that the fast path is really taken where it should be.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import enum
import json
import math
import random
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from checker.cli import main
from checker.pipeline import Engine
from checker.render import json_report
from tests.incidents.scenarios import all_scenarios

ENGINE = Engine()
SCENARIOS = all_scenarios()
WHEN = "2026-11-20T10:00:00+00:00"
HANDWRITTEN = Path(__file__).parent / "bundles" / "handwritten-oom.json"


@pytest.fixture
def references(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The values encoded by the reference rather than orjson, in order."""
    seen: list[Any] = []
    encode = json_report._reference

    def counted(value: Any, depth: int) -> bytes:
        seen.append(value)
        return encode(value, depth)

    monkeypatch.setattr(json_report, "_reference", counted)
    return seen


def _same_as_reference(value: Any) -> None:
    """`dumps(value)` is the reference's bytes, or raises what the reference raises."""
    try:
        expected = json_report.reference_dumps(value)
    except (TypeError, ValueError, RecursionError) as exc:
        with pytest.raises(type(exc)):
            json_report.dumps(value)
        return
    assert json_report.dumps(value) == expected


@pytest.mark.parametrize("scenario", SCENARIOS[::3], ids=lambda s: s.name)
def test_report_json_is_the_reference_bytes(scenario: Any, references: list[Any]) -> None:
    report = ENGINE.analyze(scenario.bundle(), generated_at=WHEN)
    expected = json_report.reference_dumps(report.to_dict())
    assert json_report.render_json(report, None) == expected  # type: ignore[arg-type]
    assert json_report.dumps(report.to_dict()) == expected
    assert references == [], "the fast path was not taken"


def test_the_report_comes_in_ascii_pieces_that_end_lines() -> None:
    report = ENGINE.analyze(SCENARIOS[0].bundle(), generated_at=WHEN)
    pieces = list(json_report.json_pieces(report))
    assert len(pieces) > 10
    assert all(type(p) is bytes and p.isascii() and p.endswith(b"\n") for p in pieces)
    assert b"".join(pieces).decode() == json_report.reference_dumps(report.to_dict())
    assert json_report.reference_dumps(report.to_dict()) == b"".join(pieces).decode()  # intact


class Shade(enum.StrEnum):  # value and content agree: written alike
    DARK = "dark"


class Code(str, enum.Enum):  # noqa: UP042 - content "1", value 1: orjson writes 1
    ONE = 1


class Pair(int, enum.Enum):  # content 3, value (3, "high"): orjson would write a list
    HIGH = (3, "high")

    def __new__(cls, number: int, label: str) -> Pair:
        member = int.__new__(cls, number)
        member._value_ = (number, label)
        return member


class Ratio(float, enum.Enum):
    HALF = 0.5


class Tiny(float, enum.Enum):  # orjson writes its value 0.00001, the reference 1e-05
    SMALL = 1e-05


class Level(enum.IntEnum):  # value and content agree: written alike
    HIGH = 3


class Plain(enum.Enum):
    A = 1


class Key(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


class Ordered(collections.OrderedDict):  # type: ignore[type-arg]
    pass


@dataclasses.dataclass
class Point:
    x: int


Tuple2 = collections.namedtuple("Tuple2", "a b")


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


AWKWARD: list[Any] = [
    float("nan"), float("inf"), -float("inf"), 1e-05, 1e-07, 5e-324, 1.7976931348623157e308,
    1e16, 1e22, 123456789012345680.0, 0.1 + 0.2, -0.0, 0.0001, 1e15, 2.5e-300,
    2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**40,
    {1: "int key"}, {1.5: "float key"}, {True: "bool key"}, {None: "none key"},
    {Key("k"): 1}, Key("text"), Number(7), Real(1.5), Shade.DARK, Code.ONE, Pair.HIGH,
    Ratio.HALF, Tiny.SMALL, Level.HIGH, Plain.A, uuid.UUID(int=1), orjson.Fragment(b"1"), Point(1),
    dt.datetime(2026, 1, 1), dt.date(2026, 1, 1), Tuple2(1, 2), collections.OrderedDict(a=1),
    Ordered(a=1), (1, "x"), b"bytes", {1, 2}, "lone \ud800 surrogate", {"\udfff": 1},
    _nested(300), [[], {}, [{}], {"": ""}], "caf\u00e9 \u2028 \U0001f600 \x7f \x00 \x1b \"q\" \\",
]


#: Stable ids (xdist workers must collect the same names; some reprs hold addresses).
AWKWARD_IDS = [f"{n}-{type(value).__name__}" for n, value in enumerate(AWKWARD)]


@pytest.mark.parametrize("value", AWKWARD, ids=AWKWARD_IDS)
def test_awkward_values_keep_the_reference_bytes(value: Any) -> None:
    _same_as_reference(value)
    _same_as_reference({"data": value})


@pytest.mark.parametrize("value", AWKWARD, ids=AWKWARD_IDS)
def test_an_awkward_value_among_findings_falls_back_for_its_piece_only(
        value: Any, references: list[Any]) -> None:
    findings: list[dict[str, Any]] = [
        {"check": f"c{i}", "message": "m" * 1000, "data": {"n": i, "ratio": i / 8}}
        for i in range(3000)]
    findings[1500]["data"]["odd"] = value
    document = {"format": "ecsdoctor-report", "findings": findings, "errors": []}
    _same_as_reference(document)
    # the other batches (about a thousand findings each) stayed orjson's
    assert sum(len(v) for v in references if isinstance(v, list)) <= 1500


@pytest.mark.parametrize("value", [
    0.0, 1.5, -2.25, 0.1, 33000.0, 333.33, 0.99, 1e-4, 123456.789, 9007199254740993.0,
    "caf\u00e9", {"k\u00e9y": ["\U0001f600"]}, 2**64 - 1, -(2**63), True, None,
])
def test_values_both_write_alike_take_the_fast_path(value: Any, references: list[Any]) -> None:
    _same_as_reference({"data": [value, {"v": value}]})
    assert references == []


def test_every_character_is_escaped_as_the_reference_escapes_it(
        references: list[Any]) -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    value = {every[::97]: [every[i:i + 4096] for i in range(0, len(every), 4096)]}
    assert json_report.dumps(value) == json_report.reference_dumps(value)
    assert references == []


@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
def test_a_few_characters_are_escaped_as_the_reference_escapes_them(
        dense: bool, references: list[Any]) -> None:
    """Pieces with at most `_REPLACED_CHARACTERS` distinct characters beyond ASCII (a
    report's case), each character once in thousands of bytes (a regular expression
    escapes it) or on every few bytes (`bytes.replace`), next to escaped quotes and
    backslashes: the reference's escapes."""
    chars = [chr(c) for c in range(0x80, 0x110000, 997) if not 0xD800 <= c < 0xE000] + [
        "\u00e9", "\u2028", "\ufeff", "\uffff", "\U0001f600", "\U0010ffff", "\x7f"]
    for start in range(0, len(chars), json_report._REPLACED_CHARACTERS):
        group = "".join(chars[start:start + json_report._REPLACED_CHARACTERS])
        text = group * 200 if dense else group + "x" * 4000
        value = {"k" + group[0]: ['\\"' + text + '\\', {group[-1]: "q\"" + group}]}
        assert json_report.dumps(value) == json_report.reference_dumps(value)
    assert references == []


def test_every_float_spelling_is_proven_or_left_to_the_reference() -> None:
    rng = random.Random(3)
    floats = [10.0**e for e in range(-320, 309)] + [
        math.ldexp(rng.random(), rng.randint(-1074, 1023)) * rng.choice((1, -1))
        for _ in range(20_000)]
    floats += [math.nextafter(f, math.inf) for f in floats[:700]]
    for start in range(0, len(floats), 500):
        _same_as_reference({"floats": floats[start:start + 500], "one": {"f": floats[start]}})


#: Floats orjson spells otherwise than float.__repr__ (orjson first): 0.00001 / 1e-05,
#: 1e-7 / 1e-07, and the longest such text marshal writes ("-1.2345678901234566e-07").
MISSPELT = [1e-05, 1e-07, -1.2345678901234566e-07, 9.999999999999999e-05, 2.5e-09]
NON_FINITE = [math.nan, math.inf, -math.inf]


def _placed(value: Any) -> list[Any]:
    """`value` where a float can be: alone, first, middle and last in a list, a dict's value,
    in a tuple, and at depths 2 to 6."""
    deep: Any = value
    shapes: list[Any] = [value, [value, 1, "a"], [1, value, "a"], ["a", 1, value],
                         {"k": value, "n": None}, (0.5, value)]
    for _ in range(5):
        deep = {"d": [deep]}
        shapes.append(deep)
    return shapes


@pytest.mark.parametrize("value", MISSPELT + NON_FINITE, ids=repr)
def test_a_float_orjson_writes_otherwise_falls_back_wherever_it_is(
        value: float, references: list[Any]) -> None:
    for shape in _placed(value):
        references.clear()
        findings = [{"check": f"c{i}", "ratio": i / 4, "odd": None} for i in range(200)]
        findings[100]["odd"] = shape
        _same_as_reference({"findings": findings})
        _same_as_reference(shape)
        assert references, "orjson's bytes were taken"


@pytest.mark.parametrize("text", [
    "1.5", "x\": 1.5", "1e-05", "0.00001", "NaN", "nan", "-Infinity", "null",
    "f", "xf", "ff\x15", "f\x031.5", "f\x151.0000000000000001e-05", "f\x03nan", "\x00f\x01",
])
def test_float_lookalikes_in_strings_do_not_hide_a_float(text: str) -> None:
    """Keys and values that look like a float in JSON or like marshal's record of one
    (type byte f, length, text), right before a float the proof must check: the bytes are
    the reference's."""
    for value in ([text, 1e-05], {text: 1e-05}, {"k": text, "v": 1e-05}, [text, [1e-05]],
                  [text + text, 2.5, text, -1.2345678901234566e-07], {text: {text: math.nan}}):
        _same_as_reference(value)
        _same_as_reference({"findings": [{"check": "c", "message": text, "v": 0.5}, value]})


@pytest.mark.parametrize("text", ["1.5", "x\": 1.5", "1e-05", "NaN", "f", "xf", "null"])
def test_float_lookalikes_in_strings_take_the_fast_path(
        text: str, references: list[Any]) -> None:
    _same_as_reference({text: [text, {"k": text}], "v": [0.5, 1.5, None, 2**63 - 1]})
    assert references == []


@pytest.mark.parametrize(("name", "value", "probe", "document"), [
    # marshal's later formats write floats as 8 binary bytes, which the scan cannot find:
    # with one of them every float would go unchecked
    ("_MARSHAL_VERSION", 2, "_marshal_writes_float_records", {"a": [1e-05, math.nan]}),
    # an orjson that escaped otherwise than the reference (here: no ensure_ascii escapes)
    ("_ascii", lambda data: data, "_orjson_agrees", {"a": ["caf\u00e9"]}),
], ids=["marshal writes binary floats", "orjson escapes otherwise"])
def test_a_failed_probe_turns_the_fast_path_off(
        monkeypatch: pytest.MonkeyPatch, references: list[Any], name: str, value: Any,
        probe: str, document: dict[str, Any]) -> None:
    """What the proof takes for granted is checked once per process; when it does not hold,
    every piece is the reference's own."""
    monkeypatch.setattr(json_report, name, value)
    json_report._provable.cache_clear()
    try:
        assert not getattr(json_report, probe)()
        _same_as_reference(document)
        assert references  # the reference wrote it
    finally:
        monkeypatch.undo()
        json_report._provable.cache_clear()
    assert getattr(json_report, probe)() and json_report._provable()


def test_a_large_item_is_split_into_bounded_pieces_with_the_same_bytes() -> None:
    evidence = [{"check": "c", "message": "m" * 60, "n": j, "ratio": j / 3} for j in range(40_000)]
    items = [{"id": "small"}, {"id": "huge", "evidence": evidence, "why": ["w"] * 5},
             {"id": "small too"}]
    document = {"format": "f", "diagnoses": items, "scope": {"big": evidence}}
    pieces = list(json_report._document(document))
    assert b"".join(pieces).decode() == json_report.reference_dumps(document)
    assert max(map(len, pieces)) <= json_report._SPLIT_BYTES
    assert all(p.endswith(b"\n") for p in pieces)


def test_batches_follow_the_size_of_the_items() -> None:
    items = [{"check": f"c{i}", "message": "x" * (20 if i < 5000 else 2000)}
             for i in range(10_000)]
    document = {"findings": items}
    pieces = list(json_report._document(document))
    assert b"".join(pieces).decode() == json_report.reference_dumps(document)
    sizes = [len(p) for p in pieces if len(p) > 10_000]
    assert len(sizes) > 10 and max(sizes) <= json_report._SPLIT_BYTES


def test_render_json_leaves_the_report_as_it_was() -> None:
    report = ENGINE.analyze(SCENARIOS[0].bundle(), generated_at=WHEN)
    before = json.dumps(report.to_dict())
    json_report.render_json(report, None)  # type: ignore[arg-type]
    assert json.dumps(report.to_dict()) == before


def test_the_command_line_writes_and_prints_the_reference_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`-o FILE` and stdout get the report a piece at a time: the same text, the
    reference's (what json.dumps(indent=2) writes of what it reads back)."""
    out = tmp_path / "report.json"
    assert main(["analyze", str(HANDWRITTEN), "-f", "json", "-o", str(out)]) == 0
    written = out.read_text()
    assert written == json.dumps(json.loads(written), indent=2) + "\n"
    capsys.readouterr()
    assert main(["analyze", str(HANDWRITTEN), "-f", "json"]) == 0
    printed = capsys.readouterr().out

    def undated(text: str) -> list[str]:
        return [line for line in text.splitlines() if '"generated_at"' not in line]

    assert undated(printed) == undated(written) and len(undated(written)) > 50
