"""The benches in bench/ still run: each at a tiny size, through the same `run()` the
command line uses, in a few seconds. The numbers they print at this size mean nothing
(except the call count, which is exact at any size); this only keeps them from rotting when
the collectors, the moto seeding or the engine change under them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench() -> Iterator[Any]:
    """bench/ is a directory of scripts, not a package: import them as the scripts do."""
    sys.path.insert(0, str(BENCH))
    try:
        import moto_account

        yield moto_account
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def smoke_size(bench: Any) -> Any:
    """Three services (two EC2 behind an ALB, one Fargate), two instances."""
    return bench.Size(services=3, running=6, stopped=3, instances=2, fargate=1, balanced=2,
                      scaled=1)


def _lines() -> tuple[list[str], Any]:
    out: list[str] = []
    return out, out.append


def test_api_calls_are_the_lower_bound(bench: Any, smoke_size: Any) -> None:
    import api_calls

    out, show = _lines()
    result = api_calls.run(smoke_size, show=show)
    assert out[-1].startswith("API calls: ")
    above = [line for line in out if "above the bound" in line or "not expected" in line]
    assert result["ratio"] == 1.0, "\n".join(above or out)


def test_wall_time_runs_both_scans(bench: Any, smoke_size: Any) -> None:
    import wall_time

    out, show = _lines()
    result = wall_time.run(smoke_size, runs=1, show=show)
    assert out[-1].startswith("wall time: ecsdoctor ")
    assert "differ" not in "\n".join(out)  # both scans read the same account
    assert result["ecsdoctor"] > 0 and result["naive"] > 0
    # the critical path is a sum of per-level slowest calls, each timed while the scan's
    # other calls queue at the same moto server: it may exceed the scan's own wall time
    # (bench/wall_time.py), so only its presence is asserted here
    assert result["critical"] > 0 and result["over_critical"] > 0
    assert out[-2].startswith("critical path: ")


def test_analyze_scale_runs_small(bench: Any) -> None:
    """Two tiny sizes through the whole `analyze` process: the bench's plumbing (bundle
    file, subprocess, wait4, the engine beside it) works; the numbers mean nothing here."""
    import analyze_scale

    out, show = _lines()
    result = analyze_scale.run(sizes=(1, 2), repeat=1, show=show, unit=4)
    assert out[-1].startswith("analyze: x2 ")
    assert result["x2"]["wall"] > 0 and result["x2"]["rss"] > 0
    assert result["x2"]["serial"] > 0 and result["x2"]["serial_rss"] > 0
    assert result["x1"]["diagnoses"] >= 1


def test_scale_bundle_is_the_unhealthy_account_it_describes(bench: Any) -> None:
    """The bench account has the shape bench/scale_bundle.py states: every service awsvpc
    on EC2 with 10 tasks of which one stopped, and one diagnosis over every service
    (the blackholed route), beside per-service ones."""
    import scale_bundle

    from checker.pipeline import Engine

    bundle = scale_bundle.build(1, unit=50)
    res = bundle["resources"]
    assert len(res["services"]) == 50 and len(res["tasks"]) == 500
    assert sum(t["lastStatus"] == "STOPPED" for t in res["tasks"]) == 50
    assert {s["launchType"] for s in res["services"]} == {"EC2"}
    report = Engine().analyze(bundle)
    widest = max(report.diagnoses, key=lambda d: len(d.resources))
    assert widest.id == "egress-route-missing"
    assert sum(":service/" in r for r in widest.resources) == 50
    assert {d.id for d in report.diagnoses} >= {"image-pull-failure", "memory-undersized"}


def test_startup_help_loads_no_aws_sdk(bench: Any) -> None:
    import startup

    out, show = _lines()
    result = startup.run(runs=1, show=show)
    assert out[-1].startswith("startup: ecsdoctor --help ")
    assert result["help_imports_boto3"] == 0.0, "\n".join(out)
