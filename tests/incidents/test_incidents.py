"""The incident suite: every scenario through the real engine (checks → playbooks → rank).

Two kinds of assertion, kept apart on purpose:
- fixture assertions (`test_fixture_*`, `test_*_checks_fire`): the bundle is valid bundle v1
  in botocore shapes, its timeline is possible, and the checks that must see the broken
  thing do fail on it. A failure here is a fixture bug (or a check bug).
- outcome assertions (`test_top_diagnosis`, `test_mixed_causes_in_top_three`, the healthy
  cluster): what the playbooks and the ranking make of those findings. A failure message
  says what ranked above, or which playbook step did not happen (tests.incidents.scenarios
  `explain`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from checker import bundle as bundle_v1
from checker import shapes
from checker.facts import parse_time
from checker.model import Finding, Report, Severity, Status
from checker.pipeline import Engine
from checker.playbook import catalog
from tests.incidents.healthy import healthy_cluster
from tests.incidents.scenarios import Expect, Scenario, all_scenarios, explain, service_arn

ENGINE = Engine()
SCENARIOS = all_scenarios()
SINGLE = [s for s in SCENARIOS if not s.mixed]
MIXED = [s for s in SCENARIOS if s.mixed]
BY_NAME = {s.name: s for s in SCENARIOS}
IDS = [s.name for s in SCENARIOS]

@cache
def _bundle(name: str) -> dict[str, Any]:
    return healthy_cluster() if name == "healthy" else BY_NAME[name].bundle()


@cache
def _report(name: str) -> Report:
    return ENGINE.analyze(_bundle(name), generated_at="2026-11-20T10:00:00+00:00")


def _matches(value: Any, wanted: Any) -> bool:
    return wanted in value if isinstance(value, list | tuple) else value == wanted


def _failing(report: Report, expect: Expect) -> list[Finding]:
    arn = service_arn(expect.service) if expect.service else None
    return [f for f in report.findings if f.check == expect.check and f.status is Status.FAIL
            and (arn is None or f.service == arn)
            and all(_matches(f.data.get(k), v) for k, v in expect.where)]


def _seen(report: Report, expect: Expect) -> str:
    arn = service_arn(expect.service) if expect.service else None
    rows = [f for f in report.findings if f.check == expect.check
            and (arn is None or f.service == arn)]
    lines = [f"  {f.status.value}: {f.message[:160]} "
             f"{ {k: f.data.get(k) for k, _ in expect.where} }" for f in rows[:4]]
    return "\n".join(lines) or "  none"


# -- the healthy cluster ----------------------------------------------------------------------
def test_healthy_cluster_has_no_diagnosis_above_low() -> None:
    above = [d for d in _report("healthy").diagnoses if not Severity.LOW.at_least(d.severity)]
    assert not above, explain(_report("healthy"), ENGINE.playbooks, "(none)")


def test_healthy_cluster_fails_no_check_above_low() -> None:
    bad = [f"{f.check} ({f.severity.value}): {f.message}" for f in _report("healthy").findings
           if f.status is Status.FAIL and not Severity.LOW.at_least(f.severity)]
    assert not bad, "\n".join(bad)


def test_healthy_cluster_is_the_same_for_a_seed_and_noisy_across_seeds() -> None:
    assert healthy_cluster(7) == healthy_cluster(7)
    assert healthy_cluster(7)["metrics"] != healthy_cluster(8)["metrics"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_healthy_cluster_stays_healthy_whatever_the_noise(seed: int) -> None:
    report = ENGINE.analyze(healthy_cluster(seed))
    assert all(Severity.LOW.at_least(d.severity) for d in report.diagnoses)


# -- fixtures ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["healthy", *IDS])
def test_fixture_is_bundle_v1_in_botocore_shapes(name: str) -> None:
    bundle = bundle_v1.validate(bundle_v1.to_jsonable(_bundle(name)))
    warnings = shapes.validate_bundle(bundle)
    assert not warnings, "\n".join(str(w["message"]) for w in warnings)


@pytest.mark.parametrize("name", ["healthy", *IDS])
def test_fixture_timelines_are_possible(name: str) -> None:
    """created ≤ started ≤ stopped ≤ collected_at for every task; metrics end before it."""
    bundle = _bundle(name)
    now = parse_time(bundle["collected_at"])
    assert now is not None
    for task in bundle["resources"]["tasks"]:
        times = [parse_time(task.get(k)) for k in ("createdAt", "startedAt", "stoppedAt")]
        known = [t for t in times if t is not None]
        assert known == sorted(known) and all(t <= now for t in known), task["taskArn"]
        if task["lastStatus"] == "STOPPED":
            assert task.get("stoppedReason") and task.get("stoppedAt"), task["taskArn"]
    for series in bundle["metrics"]:
        stamps = [t for s in series["timestamps"] if (t := parse_time(s)) is not None]
        assert len(stamps) == len(series["timestamps"]) == len(series["values"])
        assert stamps == sorted(stamps) and all(t < now for t in stamps)


@pytest.mark.parametrize("name", IDS)
def test_fixture_checks_fire(name: str) -> None:
    """The checks that see the broken thing fail on the scenario's bundle: if the top
    diagnosis is wrong, the playbook (not the fixture) is what to look at."""
    report = _report(name)
    missing = [e for e in BY_NAME[name].checks if not _failing(report, e)]
    assert not missing, "\n".join(f"{e.describe()} did not fail; seen:\n{_seen(report, e)}"
                                  for e in missing)


@pytest.mark.parametrize("name", ["healthy", *IDS])
def test_findings_carry_only_declared_data(name: str) -> None:
    """Playbooks are validated against each check's `emits`: a key a check puts on its
    findings without declaring it could be misspelt in a playbook unnoticed."""
    from checker.graph import undeclared_data

    assert undeclared_data(ENGINE.registry, _report(name).findings) == []


# -- outcomes ---------------------------------------------------------------------------------
def _expected_diagnosis(sc: Scenario, report: Report) -> None:
    """Scenario-specific promises about the expected diagnosis (revision named, one
    diagnosis across services, the right service)."""
    diag = next(d for d in report.diagnoses if d.id == sc.expected[0])
    for text in sc.summary_has:
        assert text in diag.summary, f"{diag.id} summary does not name {text!r}: {diag.summary}"
    services = [r for r in diag.resources if ":service/" in r]
    assert len(services) >= sc.min_services, (
        f"{diag.id} covers {len(services)} service(s), expected one diagnosis across "
        f"{sc.min_services}+: {diag.resources}")
    for svc in sc.services:
        assert service_arn(svc) in diag.resources, f"{diag.id} is not about {svc}"


@pytest.mark.parametrize("name", [s.name for s in SINGLE])
def test_top_diagnosis(name: str) -> None:
    sc, report = BY_NAME[name], _report(name)
    top = report.diagnoses[0].id if report.diagnoses else None
    assert top == sc.expected[0], (f"{name}: expected {sc.expected[0]} first\n"
                                   + explain(report, ENGINE.playbooks, sc.expected[0]))
    _expected_diagnosis(sc, report)


@pytest.mark.parametrize("name", [s.name for s in MIXED])
def test_mixed_causes_in_top_three(name: str) -> None:
    sc, report = BY_NAME[name], _report(name)
    top3 = {d.id for d in report.diagnoses[:3]}
    missing = [e for e in sc.expected if e not in top3]
    assert not missing, "\n".join(f"{name}: {e} not in the top 3\n"
                                  + explain(report, ENGINE.playbooks, e) for e in missing)


def test_every_catalog_diagnosis_is_the_expected_top_of_a_scenario() -> None:
    covered = {s.expected[0] for s in SINGLE}
    assert set(catalog()) - covered == set()
    assert covered <= set(catalog())
    assert len(MIXED) >= 3
