"""Property: whatever a bundle holds, `analyze` ends with a contract exit code (0, 1, 2 or
3: never 70), prints no traceback, and no text format lets a raw control character out.

Bundles are real ones (services, tasks, a task definition, events, errors) with values
replaced at random places by hostile strings (terminal escapes, bidi overrides, lone
surrogates, workflow commands), huge or odd numbers, and values of the wrong type, deep
inside or at the top. Derandomized, so a failure reproduces everywhere.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.cli import main
from tests import builders as b
from tests.test_hostile_output import EVIL, RAW

HOSTILE = st.sampled_from([
    EVIL, "\ud800", "web\udfff", "\x1b]0;title\x07", "\u202e\u2066x\u2069", "\x85\x9b2J",
    "::error file=x::y", "@here <!channel>", "a\x00b", "\u2028::set-output name=x::1",
    "", " ", "[bold]not markup[/bold]", "<script>", "|a|b|", "`x` ```", "\\x1b",
])
TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2070,
                                      blacklist_categories=()), max_size=40)
NUMBER = st.one_of(st.integers(min_value=-(10**40), max_value=10**40),
                   st.sampled_from([2**63, -(2**63) - 1, 10**308, 1e308, -0.0, 1e-320]),
                   st.floats(allow_nan=False, allow_infinity=False))
LEAF = st.one_of(HOSTILE, TEXT, NUMBER, st.booleans(), st.none())
VALUE = st.recursive(LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(HOSTILE, TEXT), inner,
                                                 max_size=3)), max_leaves=6)


def base_bundle() -> dict[str, Any]:
    svc = b.service("web", desired=3, running=1, events=[
        {"id": "e1", "createdAt": b.ago(minutes=5), "message": "(service web) has started"}])
    tasks = [b.oom_task("web", 30), b.task("web")]
    bundle = b.ecs_bundle([svc], tasks)
    bundle["errors"] = [{"collection": "container_instances",
                         "operation": "ecs:DescribeContainerInstances",
                         "code": "AccessDeniedException", "message": "not authorized"}]
    bundle["metrics"] = [{"namespace": "AWS/ECS", "name": "MemoryUtilization",
                          "dimensions": {"ClusterName": "prod", "ServiceName": "web"},
                          "stat": "Average", "period": 300,
                          "timestamps": [b.ago(minutes=10), b.ago(minutes=5)],
                          "values": [61.0, 97.5]}]
    return bundle


def places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into the bundle (containers and leaves), the root excepted."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += places(item, (*path, index))
    return found


def replaced(bundle: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    holder: Any = out
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = new
    return out


BASE = base_bundle()
PLACES = places(BASE)


@st.composite
def mutated_bundles(draw: st.DrawFn) -> dict[str, Any]:
    bundle = BASE
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(PLACES))
        try:
            bundle = replaced(bundle, path, draw(VALUE))
        except (KeyError, IndexError, TypeError):  # an earlier change removed the place
            continue
    return bundle


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(bundle=mutated_bundles())
def test_any_bundle_ends_with_a_contract_exit_code_and_no_raw_control_character(
        bundle: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.json"
        path.write_text(json.dumps(bundle))  # ASCII JSON: lone surrogates as \ud800
        for fmt in ("table", "markdown", "json"):
            code = main(["analyze", str(path), "-f", fmt, "--fail-on", "high"])
            out, err = capsys.readouterr()
            assert code in (0, 1, 2, 3), (code, err)
            assert "Traceback" not in err and "internal error" not in err, err
            raw = {f"U+{ord(c):04X}" for c in RAW.findall(out + err)}
            assert not raw, (fmt, raw)
            if code == 2:
                assert len(err.strip().splitlines()) == 1 and out == "", err
                break
