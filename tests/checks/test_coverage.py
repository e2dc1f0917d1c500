"""Every check is seen failing and passing in the check tests (STYLE.md rule 6).

The check tests of this folder run in a child pytest process, whatever this run selected
(-k, one file, any order), and report what they saw through tests/checks/observe.py: the
proof does not depend on which tests ran before it in this process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.checks.harness import REGISTRY
from tests.checks.observe import ENV

HERE = Path(__file__).parent


def _in_process() -> list[str]:
    """The child must run the tests itself (not in pytest-xdist workers): what they saw is
    read from its own process at the end of its session."""
    return ["-n", "0"] if importlib.util.find_spec("xdist") is not None else []


def test_every_check_has_a_failing_and_a_passing_case(tmp_path: Path) -> None:
    if os.environ.get(ENV):
        pytest.skip("this is the child run that collects the cases")
    observed_file = tmp_path / "observed.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *_in_process(),
         "-p", "tests.checks.observe", str(HERE)],
        env={**os.environ, ENV: str(observed_file)}, cwd=HERE.parents[1],
        capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"the check tests fail:\n{proc.stdout[-3000:]}"
    observed = {tuple(pair) for pair in json.loads(observed_file.read_text())}
    missing = [(spec.id, status) for spec in REGISTRY for status in ("fail", "pass")
               if (spec.id, status) not in observed]
    assert not missing, f"checks without a test case for that status: {missing}"
