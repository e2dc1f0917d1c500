"""How fragile the ranking is: each constant of checker/ranking.py moved by ±20 %.

For every constant and both directions, every incident of tests/incidents (single and
mixed) is ranked again with only that constant moved; its top-1 diagnosis must stay the
default table's, unless docs/ranking.md lists the (constant, direction, scenario) as
sensitive, with the top-1 it changes to. The list is read from the doc, so the doc cannot
drift: an unlisted change fails, and so does a listed change that no longer happens.

Moving a weight changes only the walk and rank stages, so the checks run once per bundle
and each variant re-runs `Engine.diagnose` on the same findings (the equivalence with a
full `Engine.analyze` is tested below). Everything is cached per process and nothing is
patched, so the tests hold under `-k` and in any order.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from checker import graph
from checker.facts import Facts
from checker.model import Finding
from checker.pipeline import Engine
from checker.ranking import AT_MOST_ONE, DEFAULT, Weights
from tests.incidents.scenarios import Scenario, all_scenarios

DOC = Path(__file__).resolve().parent.parent / "docs" / "ranking.md"
FACTORS = {"×0.8": 0.8, "×1.2": 1.2}
SCENARIOS: dict[str, Scenario] = {s.name: s for s in all_scenarios()}
NAMES = [f.name for f in fields(Weights)]
VARIANTS = [(name, direction) for name in NAMES for direction in FACTORS]


# -- the variants -----------------------------------------------------------------------------
def moved(name: str, direction: str) -> tuple[float | None, str]:
    """The moved value, or None with the reason when there is no honest ±20 % move."""
    value = getattr(DEFAULT, name)
    if isinstance(value, int) and not isinstance(value, float):
        return None, f"{name} is a count of decimals (an int): ±20 % rounds back to {value}"
    new = round(value * FACTORS[direction], 6)  # 0.05 × 1.2 is 0.06, not 0.060000000000000005
    if name in AT_MOST_ONE and new > 1.0:
        if value == 1.0:
            return None, f"{name} is a share already at its bound 1: it cannot move up"
        return 1.0, f"clamped to 1 (a share cannot exceed 1), not {new}"
    return new, ""


@cache
def _default_engine() -> Engine:
    return Engine()


@cache
def _engine(weights: Weights) -> Engine:
    """Shares the loaded checks and playbooks: only the table differs."""
    base = _default_engine()
    return Engine(base.registry, base.playbooks, weights=weights)


@cache
def _checked(scenario: str) -> tuple[Facts, list[Finding]]:
    """The checks' findings, run once per bundle whatever the variant."""
    facts = Facts(SCENARIOS[scenario].bundle())
    return facts, graph.run(_default_engine().registry, facts)


@cache
def _top1(scenario: str, weights: Weights) -> str | None:
    diagnoses = _engine(weights).diagnose(*_checked(scenario))
    return diagnoses[0].id if diagnoses else None


# -- the doc ----------------------------------------------------------------------------------
def _section(heading: str) -> str:
    """The text of one `## heading` section of docs/ranking.md."""
    text = DOC.read_text("utf-8")
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/ranking.md has no section '## {heading}'"
    return match.group(1)


def _rows(section: str, columns: int) -> list[list[str]]:
    """Cells of the section's table rows whose first cell is a `code` name (header and
    separator rows are not), backticks stripped."""
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= columns:
            rows.append([c.strip("`") for c in cells[:columns]])
    return rows


@cache
def sensitive() -> dict[tuple[str, str], dict[str, tuple[str, str]]]:
    """(constant, direction) → {scenario: (top-1 at default, top-1 moved)} from the doc."""
    out: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    for name, direction, scenario, before, after in _rows(_section("Sensitivity"), 5):
        out.setdefault((name, direction), {})[scenario] = (before, after)
    return out


# -- tests ------------------------------------------------------------------------------------
def test_doc_table_is_the_weights_table() -> None:
    rows = _rows(_section("The table"), 2)
    assert [r[0] for r in rows] == NAMES, "docs/ranking.md lists other constants, or in " \
        "another order, than checker/ranking.py"
    for name, value in rows:
        assert float(value) == getattr(DEFAULT, name), f"{name}: doc says {value}"


def test_listed_triples_name_real_moves() -> None:
    rows = _rows(_section("Sensitivity"), 5)
    assert len({tuple(r[:3]) for r in rows}) == len(rows), "a triple is listed twice"
    for name, direction, scenario, _, _ in rows:
        assert name in NAMES, f"docs/ranking.md: unknown constant {name}"
        assert direction in FACTORS, f"docs/ranking.md: direction {direction} not in {FACTORS}"
        assert scenario in SCENARIOS, f"docs/ranking.md: unknown scenario {scenario}"
        assert moved(name, direction)[0] is not None, f"{name} {direction} is not moved"


@pytest.mark.parametrize(("name", "direction"), VARIANTS,
                         ids=[f"{n}-{'down' if FACTORS[d] < 1 else 'up'}" for n, d in VARIANTS])
def test_top1_stays_unless_listed(name: str, direction: str) -> None:
    value, note = moved(name, direction)
    if value is None:
        pytest.skip(note)
    change: dict[str, Any] = {name: value}
    weights = replace(DEFAULT, **change)
    changed = {s: (str(before), str(after)) for s in SCENARIOS
               if (before := _top1(s, DEFAULT)) != (after := _top1(s, weights))}
    listed = sensitive().get((name, direction), {})
    unlisted = {s: v for s, v in changed.items() if listed.get(s) != v}
    stale = {s: v for s, v in listed.items() if changed.get(s) != v}
    assert not unlisted and not stale, (
        f"{name} {direction} ({getattr(DEFAULT, name)} → {value}{', ' + note if note else ''})"
        f"\n  top-1 changed but docs/ranking.md does not say so (default → moved): {unlisted}"
        f"\n  docs/ranking.md lists a change that does not happen (as listed): {stale}")


def test_diagnose_on_reused_findings_is_analyze() -> None:
    """The shortcut the variants take gives what a full run gives, for a moved table too."""
    weights = replace(DEFAULT, risk_factor=0.3, support_bonus=0.07)
    for scenario in (next(iter(SCENARIOS)), list(SCENARIOS)[-1]):  # a single, a mixed
        full = _engine(weights).analyze(SCENARIOS[scenario].bundle(), generated_at="t")
        assert list(full.diagnoses) == _engine(weights).diagnose(*_checked(scenario))


def test_an_injected_table_reaches_the_scores_and_leaks_nowhere() -> None:
    scenario = next(iter(SCENARIOS))
    default = _default_engine().diagnose(*_checked(scenario))
    doubled = {(d.id, d.resources): d.score
               for d in _engine(replace(DEFAULT, score_scale=20.0)).diagnose(*_checked(scenario))}
    assert default and len(doubled) == len(default)
    for d in default:  # twice the score, give or take rounding and the explains margin
        assert abs(doubled[d.id, d.resources] - 2 * d.score) <= 0.03, d.id
    assert _default_engine().diagnose(*_checked(scenario)) == default


@pytest.mark.parametrize("bad", [{"max_confidence": 1.2}, {"min_confidence": 0.99},
                                 {"risk_factor": -0.1}, {"min_impact": 1.0, "max_impact": 0.5},
                                 {"digits": 2.5}, {"support_bonus": True}])
def test_the_table_refuses_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="ranking weight"):
        Weights(**bad)  # type: ignore[arg-type]
