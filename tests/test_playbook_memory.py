"""The memory-oom playbook on real checks: for each hypothesis a bundle that confirms it and
one where the alternative explanation wins (tests/builders_pb_memory.py builds them)."""

from __future__ import annotations

from typing import Any

import pytest

from checker.model import Diagnosis, Report, Severity
from checker.pipeline import Engine
from tests import builders as b
from tests import builders_pb_memory as pb
from tests.builders_metrics import Values
from tests.test_playbooks import assert_filled

ENGINE = Engine()
WEB = b.service_arn("prod", "web")
REPORTS = b.service_arn("prod", "reports")
NODE_OVER = {"NODE_OPTIONS": "--max-old-space-size=1536"}      # heap 1536 MiB > 1024 limit
JVM_OVER = {"JAVA_OPTS": "-Xms256m -Xmx1536m"}


def _analyze(bundle: dict[str, Any]) -> Report:
    report = ENGINE.analyze(bundle)
    for diag in report.diagnoses:
        assert_filled(diag)
    return report


def _diags(report: Report) -> dict[tuple[str, str], Diagnosis]:
    return {(d.id, d.resources[0]): d for d in report.diagnoses}


def _on(report: Report, resource: str) -> list[str]:
    """Diagnosis ids about `resource`, most likely first."""
    return [d.id for d in report.diagnoses if d.resources[0] == resource]


def _checks(diag: Diagnosis, role: str) -> set[str]:
    return {e.check for e in diag.evidence if e.role == role}


def _web(tasks: list[dict[str, Any]], *, env: dict[str, str] | None = None,
         series: Values | None = pb.FLAT, running: int = 3) -> dict[str, Any]:
    """Service web (Fargate, 1024 MiB, 4 desired) with these tasks and memory series."""
    metrics = None if series is None else [pb.memory("web", series)]
    return pb.bundle([pb.service("web", running=running)], tasks,
                     [pb.fargate_td("web", env=env)], metrics)


# -- memory-leak ------------------------------------------------------------------------------
def test_leak_after_a_deployment_names_the_revision_it_started_with() -> None:
    svc, series = pb.climb_after_deploy("web", 42)
    bundle = pb.bundle([svc], pb.ooms("web", 300, 320, 340, revision=42),
                       [pb.fargate_td("web", 42), pb.fargate_td("web", 41)], [series])
    report = _analyze(bundle)
    assert _on(report, WEB) == ["memory-leak"]
    leak = _diags(report)[("memory-leak", WEB)]
    assert _checks(leak, "confirm") == {"stopped-task-oom", "oom-after-long-uptime"}
    assert "memory-trend-rising" in _checks(leak, "support")
    assert "OOM-killed after 5h20m of uptime" in leak.summary
    assert "The climb starts after the deployment of web:42." in leak.summary
    assert "(web:42)" in leak.remediation[0].step
    assert leak.confidence == 0.9 and leak.severity is Severity.CRITICAL


def test_leak_from_the_memory_trend_alone_before_any_kill_is_visible() -> None:
    report = _analyze(_web([], series=pb.SAWTOOTH, running=4))
    leak = _diags(report)[("memory-leak", WEB)]
    assert _checks(leak, "confirm") == {"memory-trend-rising"}
    assert "climbs 17.986 %/h in 3 of 3 task lifetimes" in leak.summary
    assert "after the deployment of a revision deployed before the metric window" in leak.summary
    assert "memory-undersized" not in _on(report, WEB)


@pytest.mark.parametrize("series", [pb.FLAT, None], ids=["flat-memory", "no-metrics"])
def test_kills_soon_after_start_are_no_leak(series: Values | None) -> None:
    """Neither the uptime nor the metric says memory grows with time: an unknown trend is
    no leak signal, only a reason to cap the alternative's confidence."""
    report = _analyze(_web(pb.ooms("web", 2, 4, 6), series=series))
    assert _on(report, WEB) == ["memory-undersized"]
    undersized = _diags(report)[("memory-undersized", WEB)]
    if series is None:
        assert undersized.confidence <= 0.75
        assert "memory-trend-rising" in _checks(undersized, "missing")


# -- memory-undersized ------------------------------------------------------------------------
def test_undersized_when_every_alternative_is_ruled_out() -> None:
    report = _analyze(_web(pb.ooms("web", 2, 4, 6)))
    diag = _diags(report)[("memory-undersized", WEB)]
    assert diag.severity is Severity.HIGH and diag.confidence == 0.8
    assert "(2m–6m (median 4m) of uptime)" in diag.summary
    assert "the 1024 MiB limit is too small" in diag.summary
    for check_id in ("oom-after-long-uptime", "memory-trend-rising",
                     "runtime-heap-exceeds-limit", "container-no-memory-limit"):
        assert f"alternative ruled out: {check_id} passed" in diag.why


def _soft_only_with_ooms() -> dict[str, Any]:
    bundle = pb.overcommitted_hosts("reports")
    bundle["resources"]["tasks"] += pb.ooms("reports", 5, 9, 12)
    return bundle


@pytest.mark.parametrize(("bundle", "resource", "instead"), [
    (_web(pb.ooms("web", 300, 400, 500)), WEB, "memory-leak"),
    (_web(pb.ooms("web", 2, 4, 6), series=pb.SAWTOOTH), WEB, "memory-leak"),
    (_web(pb.ooms("web", 2, 4, 6), env=NODE_OVER), WEB, "runtime-heap-exceeds-limit"),
    (_soft_only_with_ooms(), REPORTS, "host-memory-overcommit"),
], ids=["long-uptime", "climbing-memory", "heap-flag", "soft-limit-only"])
def test_undersized_ruled_out_by_the_other_explanations(bundle: dict[str, Any], resource: str,
                                                        instead: str) -> None:
    ids = _on(_analyze(bundle), resource)
    assert ids[0] == instead and "memory-undersized" not in ids


def test_undersized_before_the_first_kill_when_tasks_peak_at_the_limit() -> None:
    report = _analyze(_web(pb.running("web", 4), series=pb.PEAKING, running=4))
    diag = _diags(report)[("memory-undersized", WEB)]
    assert diag.severity is Severity.MEDIUM and "no OOM kill seen yet" in diag.title
    assert _checks(diag, "confirm") == {"task-memory-near-limit"}
    assert "peaked at 98.3% of its 1024 MiB task memory" in diag.summary


def test_peaks_that_keep_climbing_are_a_leak_not_undersized() -> None:
    report = _analyze(_web(pb.running("web", 4), series=pb.SAWTOOTH, running=4))
    assert _on(report, WEB) == ["memory-leak"]


# -- runtime-heap-exceeds-limit ---------------------------------------------------------------
def test_heap_above_the_limit_explains_the_kills_instead_of_undersized() -> None:
    report = _analyze(_web(pb.ooms("web", 2, 4, 6), env=NODE_OVER))
    assert _on(report, WEB) == ["runtime-heap-exceeds-limit"]
    heap = _diags(report)[("runtime-heap-exceeds-limit", WEB)]
    assert _checks(heap, "confirm") == {"runtime-heap-exceeds-limit", "stopped-task-oom"}
    assert heap.severity is Severity.HIGH and heap.rank == 1
    assert heap.summary.startswith("--max-old-space-size=1536 (set in NODE_OPTIONS) lets the "
                                   "node heap of container web take 150.0% of its 1024 MiB")
    assert "--max-old-space-size ≈ 0.75 × 1024" in heap.remediation[1].step


def test_heap_flag_ranks_above_the_leak_it_imitates() -> None:
    report = _analyze(_web(pb.ooms("web", 300, 400, 500), env=JVM_OVER, series=None))
    assert _on(report, WEB) == ["runtime-heap-exceeds-limit", "memory-leak"]
    heap, leak = (_diags(report)[(i, WEB)] for i in ("runtime-heap-exceeds-limit",
                                                      "memory-leak"))
    assert heap.explains == ("memory-leak on prod/web",)
    assert leak.explained_by == ("runtime-heap-exceeds-limit",)
    assert "runtime-heap-exceeds-limit" in _checks(leak, "contradict")
    assert heap.score > leak.score and leak.confidence == 0.65  # 0.8 − 0.2 + 0.05


def test_heap_flag_without_kills_is_a_medium_warning() -> None:
    report = _analyze(_web(pb.running("web", 4), env=JVM_OVER, series=None, running=4))
    diag = _diags(report)[("runtime-heap-exceeds-limit", WEB)]
    assert diag.severity is Severity.MEDIUM and "no OOM kill seen yet" in diag.title
    assert "-Xmx1536m (set in JAVA_OPTS)" in diag.summary


def test_heap_flag_that_fits_is_no_diagnosis() -> None:
    fits = {"JAVA_OPTS": "-XX:MaxRAMPercentage=75"}
    report = _analyze(_web(pb.ooms("web", 2, 4, 6), env=fits))
    assert _on(report, WEB) == ["memory-undersized"]


# -- host-memory-overcommit -------------------------------------------------------------------
def test_kills_on_a_host_overcommitted_by_soft_limits() -> None:
    report = _analyze(_soft_only_with_ooms())
    diag = _diags(report)[("host-memory-overcommit", REPORTS)]
    assert diag.severity is Severity.HIGH and diag.rank == 1
    assert _checks(diag, "confirm") == {"stopped-task-oom", "container-no-memory-limit"}
    assert "only a soft limit (memoryReservation 1024 MiB)" in diag.summary


def test_hard_limits_rule_out_the_host() -> None:
    bundle = pb.overcommitted_hosts("reports", hard=1024)
    bundle["resources"]["tasks"] += pb.ooms("reports", 5, 9, 12)
    report = _analyze(bundle)
    assert "host-memory-overcommit" not in {d.id for d in report.diagnoses}
    assert _on(report, REPORTS)[0] == "memory-undersized"


def test_overcommitted_hosts_without_kills_are_one_low_finding_per_cluster() -> None:
    report = _analyze(pb.overcommitted_hosts("reports", instances=("i-0aaa1111", "i-0bbb2222")))
    (diag,) = [d for d in report.diagnoses if d.id == "host-memory-overcommit"]
    assert diag.resources == ("prod",) and diag.severity is Severity.LOW
    assert len({e.resource for e in diag.evidence}) == 2  # both instances
    assert "reserve 2048 of the 7680 MiB registered" in diag.summary
