"""The ranking formula (docs/ranking.md): score = 10 × weight × confidence × impact."""

from __future__ import annotations

from checker import rank
from checker.model import Severity
from checker.pipeline import Engine
from tests import builders as b


def test_formula() -> None:
    assert rank.score(Severity.CRITICAL.weight, 0.9, 1.0) == 90.0
    assert rank.score(Severity.HIGH.weight, 0.5, 0.5) == 17.5
    assert rank.score(Severity.LOW.weight, 0.8, 0.1) == 1.6


def test_critical_outage_outranks_partial_high() -> None:
    bundle = b.ecs_bundle(
        [b.service("worker", desired=2, running=0), b.service("web", desired=10, running=9)],
        [*[b.crash_task("worker") for _ in range(4)], *[b.oom_task("web", 3) for _ in range(1)]])
    report = Engine().analyze(bundle)
    assert [d.id for d in report.diagnoses] == ["app-crash-loop", "memory-undersized"]
    assert [d.rank for d in report.diagnoses] == [1, 2]
    crash, oom = report.diagnoses
    assert crash.impact == 1.0 and oom.impact == 0.25  # 1 OOM of 10 desired, floored
    assert crash.score > oom.score


def test_same_bundle_same_report() -> None:
    bundle = b.ecs_bundle(
        [b.service(n, desired=2, running=1) for n in ("a", "b", "c")],
        [b.oom_task(n, 3) for n in ("c", "b", "a")])
    one = Engine().analyze(bundle, generated_at="t").to_dict()
    two = Engine().analyze(bundle, generated_at="t").to_dict()
    assert one == two
    # equal scores: ties break on severity, id, then resource
    assert [d["resources"][0].rsplit("/", 1)[1] for d in one["diagnoses"]] == ["a", "b", "c"]


def test_fill_templates() -> None:
    ctx = {"family": "web", "tasks": ["a", "b"]}
    assert rank.fill("{family}:{previous_revision|<previous>}", ctx) == "web:<previous>"
    assert rank.fill("{family|x}", ctx) == "web"
    assert rank.fill("--tasks {tasks}", ctx, " ") == "--tasks a b"
    assert rank.fill("{missing}", ctx) == "{missing}"  # visible, and caught by playbook tests
    assert rank.fill("{{literal}} {family}", ctx) == "{literal} web"
