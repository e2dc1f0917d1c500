"""bench/fleet.py still runs, at a tiny size (two accounts × two Regions, one service each):
the timings mean nothing there, but the per-target API calls of the fleet and of the
one-by-one scans must match operation by operation at any size (the bench exits 1 if not)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO


def test_the_fleet_bench_runs_and_calls_per_target_are_unchanged() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}
    done = subprocess.run(
        [sys.executable, "bench/fleet.py", "--accounts", "2", "--services", "1",
         "--fleet-workers", "2"], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=600)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[-2].startswith("wall time: fleet ") and "over 4 targets" in lines[-2]
    assert lines[-1].endswith("(unchanged, operation by operation)"), lines[-1]
