"""Every check is seen failing and passing in the check tests (STYLE.md rule 6).

Runs last in this directory (file order) and reads what the other check tests observed
through tests/checks/_run.py; when only some of them ran (-k, a single file), it skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checks._run import CALLERS, OBSERVED, REGISTRY

HERE = Path(__file__).parent


def test_every_check_has_a_failing_and_a_passing_case() -> None:
    modules = {p.name for p in HERE.glob("test_*.py")} - {Path(__file__).name}
    if not modules <= CALLERS:
        pytest.skip(f"only part of tests/checks ran (missing {sorted(modules - CALLERS)})")
    missing = [(spec.id, status) for spec in REGISTRY for status in ("fail", "pass")
               if (spec.id, status) not in OBSERVED]
    assert not missing, f"checks without a test case for that status: {missing}"
