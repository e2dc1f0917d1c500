from __future__ import annotations

import pytest

from tests import builders as b
from tests.checks._run import run_check


@pytest.mark.parametrize(("container", "task_memory", "expected"), [
    ({"memoryReservation": 256}, None, "fail"),
    ({}, None, "fail"),
    ({"memory": 512}, None, "pass"),
    ({"memoryReservation": 256}, "1024", "pass"),  # Fargate-style task-level memory bounds it
])
def test_container_no_memory_limit(container: dict, task_memory: str | None,
                                   expected: str) -> None:
    extra = {"memory": task_memory} if task_memory else {}
    td = b.task_definition("reports", containers=[b.container_def("reports", **container)],
                           **extra)
    bundle = b.ecs_bundle([b.service("reports")], [], [td])
    (f,) = run_check("container-no-memory-limit", bundle)
    assert f.status.value == expected
    assert f.service == b.service_arn("prod", "reports")
    if expected == "fail":
        assert f.message.startswith("task def reports:1 container reports:")


def test_unused_task_definition_is_still_checked() -> None:
    td = b.task_definition("batch", containers=[b.container_def("batch", memoryReservation=64)])
    (f,) = run_check("container-no-memory-limit", b.ecs_bundle([], [], [td]))
    assert f.status.value == "fail" and f.service is None
