from __future__ import annotations

import pytest

from tests import builders as b
from tests.checks._run import run_check


@pytest.mark.parametrize(("desired", "running", "status", "severity"), [
    (4, 3, "fail", "high"),
    (2, 0, "fail", "critical"),
    (3, 3, "pass", "high"),
    (0, 0, "skipped", "high"),
])
def test_service_running_below_desired(desired: int, running: int, status: str,
                                       severity: str) -> None:
    bundle = b.ecs_bundle([b.service("web", desired=desired, running=running)], [])
    (f,) = run_check("service-running-below-desired", bundle)
    assert (f.status.value, f.severity.value) == (status, severity)
    if status == "fail":
        assert f"running {running} of {desired} desired" in f.message
        assert f.data["affected_tasks"] == desired - running
