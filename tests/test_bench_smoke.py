"""The benches in bench/ still run: each at a tiny size, through the same `run()` the
command line uses, in a few seconds. The numbers they print at this size mean nothing
(except the call count, which is exact at any size); this only keeps them from rotting when
the collectors, the moto seeding or the engine change under them."""

from __future__ import annotations

import math
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


def test_analyze_scale_runs_small(bench: Any) -> None:
    import analyze_scale

    out, show = _lines()
    result = analyze_scale.run(copies=1, repeat=1, big_copies=2, target=100, show=show)
    assert out[-1].startswith("analyze: 1x ")
    assert math.isfinite(result["ratio"]) and result["big_tasks"] >= 100


def test_scaled_bundle_is_still_healthy(bench: Any) -> None:
    """Renamed copies and multiplied tasks keep the healthy cluster healthy: the bench
    measures the engine on realistic data, not on a pile of findings it caused itself."""
    import analyze_scale

    from checker.pipeline import Engine

    bundle = analyze_scale.scaled_bundle(2, per_service=3)
    report = Engine().analyze(bundle)
    assert [d.id for d in report.diagnoses] == []
    services = bundle["resources"]["services"]
    assert len({s["serviceArn"] for s in services}) == len(services) == 12


def test_startup_help_loads_no_aws_sdk(bench: Any) -> None:
    import startup

    out, show = _lines()
    result = startup.run(runs=1, show=show)
    assert out[-1].startswith("startup: ecsdoctor --help ")
    assert result["help_imports_boto3"] == 0.0, "\n".join(out)
