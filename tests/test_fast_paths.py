"""The fast paths give the reference's answers, byte for byte (bench/analyze_scale.py
measures how much faster; here only that nothing a user reads changes):

- the report JSON through orjson equals `json.dumps(indent=2)`: tests/test_render_json.py;
- YAML through libyaml's loader equals PyYAML's pure-Python safe loader on every data file;
- the check order without networkx equals networkx's lexicographical topological sort;
- the walk's incremental grouping merges services and evidence as before;
- the analysis leaves the garbage collector as it found it;
- the sanitizer's safety net over a report-sized text equals its regexes' answer;
- bundle items are validated against shapes exported from botocore's models, equal to
  what the installed botocore compiles, without importing botocore.
"""

from __future__ import annotations

import gc
import random
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker import gcpause, graph, registry, sanitize, shapes, yamlload
from checker.pipeline import Engine
from tests.incidents.scenarios import all_scenarios

ENGINE = Engine()
HANDWRITTEN = Path(__file__).parent / "bundles" / "handwritten-oom.json"
SCENARIOS = all_scenarios()


def _data_files() -> list[Path]:
    roots = [Path(str(resources.files("checker").joinpath("data"))),
             Path(str(resources.files("checks").joinpath("data"))),
             Path(__file__).resolve().parents[1] / "playbooks"]
    return sorted(p for root in roots for p in root.rglob("*.yaml"))


def test_every_data_file_loads_the_same_through_the_c_loader() -> None:
    files = _data_files()
    assert len(files) > 10
    for path in files:
        text = path.read_text("utf-8")
        assert yamlload.safe_load(text) == yaml.safe_load(text), path


def test_the_c_loader_is_used_when_pyyaml_has_it() -> None:
    expected = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader
    assert yamlload.Loader is expected


def test_yaml_errors_stay_yaml_errors() -> None:
    with pytest.raises(yaml.YAMLError) as info:
        yamlload.safe_load("a: [1, 2\nb: 3\n")
    assert getattr(info.value, "problem_mark", None) is not None


def test_check_order_is_networkx_lexicographical_topological_sort() -> None:
    networkx = pytest.importorskip("networkx")
    reg = registry.load()
    assert graph.order(reg) == list(networkx.lexicographical_topological_sort(graph.build(reg)))


def test_analysis_restores_the_garbage_collector() -> None:
    scenario = SCENARIOS[0]
    assert gc.isenabled()
    ENGINE.analyze(scenario.bundle()).to_dict()
    assert gc.isenabled()
    gc.disable()
    try:
        ENGINE.analyze(scenario.bundle()).to_dict()
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()


def test_a_pause_hands_its_survivors_to_the_oldest_generation() -> None:
    """After a pause the young generation is empty (no collection walks what the pause made
    at the next allocation), a cycle dropped inside is still collected by a full collection,
    and objects the process froze itself stay frozen."""
    class Node:
        other: object = None

    gc.collect()
    with gcpause.paused():
        kept = [{"task": i} for i in range(50_000)]
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle, dropped below
        del a, b
    assert gc.isenabled()
    assert gc.get_count()[0] < 1_000  # not 50,000 objects waiting for a young collection
    assert gc.collect() >= 2  # the cycle is garbage a full collection finds
    assert kept[-1] == {"task": 49_999}
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gcpause.paused():
            more = [{} for _ in range(1_000)]
        assert gc.get_freeze_count() == frozen and more  # the process's own freeze is kept
    finally:
        gc.unfreeze()


_COMMAND_REFERENCE = re.compile(r"^((?:[ \t]|\x1b\[[0-9;]*m)*)::", re.MULTILINE)


def _safe_text_reference(text: str) -> str:
    """The sanitizer's safety net as the regexes alone define it (no fast path)."""
    escaped = sanitize.UNSAFE_KEEP_NEWLINE.sub(sanitize._escaped, text.replace("\t", " "))
    return _COMMAND_REFERENCE.sub(lambda m: f"{m.group(1)}\\::", escaped)


_REPORT_LINES = '    "resource": "arn:aws:iam::123456789012:role/app",\n' * 30_000


@pytest.mark.parametrize("inserted", [
    "", "\t", "\x7f", "\x00", "\x1b", "caf\u00e9", "\u202e", "\ud800", "\n::error x",
    "\n  \x1b[1m::warning", "\n\t::x", "\nx::y", ":::",
])
@pytest.mark.parametrize("where", [0, len(_REPORT_LINES) // 2, len(_REPORT_LINES)])
def test_safe_text_fast_path_equals_the_regexes(inserted: str, where: int) -> None:
    # a report-sized text (over the fast path's 1 MB threshold), full of `::` in ARNs, with
    # one hostile piece at its start, middle or end
    text = _REPORT_LINES[:where] + inserted + _REPORT_LINES[where:]
    assert sanitize.safe_text(text) == _safe_text_reference(text)


def test_safe_text_fast_path_on_short_hostile_texts() -> None:
    pieces = [" ", "\t", ":", "::", "a", "\n", "\x1b[1m", "\x1b", "[", "m", "\x7f", "\x00",
              "\u00e9", "\u202e"]
    rng = random.Random(7)
    for _ in range(5_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        assert sanitize.safe_text(text) == _safe_text_reference(text), repr(text)


def test_exported_shapes_are_the_installed_botocore_ones() -> None:
    exported = (Path(shapes.__file__).parent / shapes.EXPORTED).read_text(encoding="utf-8")
    assert exported == shapes.exported_text(), (
        "checker/data/shapes.json is stale: run `python -m checker.shapes` to rewrite it")


def _shape(v: shapes.Validator, seen: dict[int, str]) -> Any:
    """A validator as plain data (recursive shapes by name), to compare two compilations."""
    if id(v) in seen:
        return ("ref", v.name)
    seen[id(v)] = v.name
    if isinstance(v, shapes._Struct):
        return ("struct", v.name, list(v.kinds.items()),
                [(k, _shape(m, seen)) for k, m in v.nested.items()])
    if isinstance(v, shapes._List):
        return ("list", v.name, _shape(v.member, seen))
    if isinstance(v, shapes._Map):
        return ("map", v.name, _shape(v.value, seen))
    if isinstance(v, shapes._Scalar):
        return ("scalar", v.name, v.kind)
    return (type(v).__name__, v.name)


@pytest.mark.parametrize("collection", sorted(shapes.SHAPES))
def test_exported_shapes_compile_to_botocores_validators(collection: str) -> None:
    service, name = shapes.SHAPES[collection]
    from_export = shapes._compile_exported(shapes._exported()[service], name, {})
    from_botocore = shapes._compile(shapes._model(service).shape_for(name), {})
    assert _shape(from_export, {}) == _shape(from_botocore, {})


def test_an_analysis_loads_no_botocore() -> None:
    # the bundle's items are validated from the exported shapes: what every start of
    # `ecsdoctor analyze` saves
    code = ("import sys, json; from checker.pipeline import Engine; "
            f"report = Engine().analyze(json.load(open({str(HANDWRITTEN)!r}))); "
            "assert report.findings; print(sorted(m for m in sys.modules if m.startswith("
            "('botocore', 'boto3'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
