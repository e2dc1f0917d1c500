from __future__ import annotations

import pytest

from tests import builders as b
from tests.checks._run import run_check, statuses

WEB = b.service_arn("prod", "web")


def _bundle(*tasks: dict, desired: int = 4, running: int = 3) -> dict:
    return b.ecs_bundle([b.service("web", desired=desired, running=running)], list(tasks))


@pytest.mark.parametrize(("tasks", "expected"), [
    ([b.oom_task("web", 30), b.oom_task("web", 40)], "fail"),
    # OOM text with exit code 0 still counts: ECS reports OOM kills inconsistently.
    ([b.task("web", status="STOPPED", stop_code="EssentialContainerExited",
             containers=[b.container("web", 0, b.OOM_REASON)])], "fail"),
    # exit 137 nobody asked for: the OOM killer without its reason text.
    ([b.task("web", status="STOPPED", stop_code="EssentialContainerExited",
             containers=[b.container("web", 137)])], "fail"),
    # exit 137 after a requested stop is the stopTimeout SIGKILL, not OOM.
    ([b.task("web", status="STOPPED", stop_code="ServiceSchedulerInitiated",
             reason="Scaling activity initiated by (deployment ecs-svc/123)",
             containers=[b.container("web", 137)])], "pass"),
    ([b.crash_task("web")], "pass"),
    ([b.task("web")], "skipped"),  # nothing stopped at all
])
def test_stopped_task_oom(tasks: list, expected: str) -> None:
    assert {f.status.value for f in run_check("stopped-task-oom", _bundle(*tasks))} == {expected}


def test_oom_message_names_service_numbers_and_limit() -> None:
    td = b.task_definition("web", containers=[b.container_def("web", memory=1024)])
    bundle = b.ecs_bundle([b.service("web", desired=4, running=3)],
                          [b.oom_task("web", 300), b.oom_task("web", 420)], [td])
    (f,) = run_check("stopped-task-oom", bundle)
    assert f.status.value == "fail"
    assert "service prod/web: 2 of 2 stopped tasks OOM-killed" in f.message
    assert "memory hard limit 1024 MiB" in f.message
    assert f.data["count"] == 2 and f.data["affected_tasks"] == 2


@pytest.mark.parametrize(("uptimes", "expected"), [
    ([300, 420, 510], "fail"),       # hours: leak signature
    ([3, 5, 4], "pass"),             # minutes after start: undersized
])
def test_oom_after_long_uptime(uptimes: list[int], expected: str) -> None:
    bundle = _bundle(*[b.oom_task("web", u) for u in uptimes])
    assert statuses("oom-after-long-uptime", bundle)[WEB] == expected


def test_oom_after_long_uptime_unknown_without_times() -> None:
    t = b.oom_task("web", 30)
    del t["startedAt"]
    assert statuses("oom-after-long-uptime", _bundle(t))[WEB] == "unknown"


@pytest.mark.parametrize(("tasks", "running", "expected"), [
    ([b.crash_task("web") for _ in range(3)], 1, "fail"),
    ([b.crash_task("web", 255) for _ in range(2)], 0, "fail"),  # nothing left running
    ([b.crash_task("web") for _ in range(2)], 3, "pass"),
    ([b.oom_task("web", 3) for _ in range(4)], 0, "pass"),       # OOM is not an app error
    ([b.crash_task("web", 143) for _ in range(4)], 3, "pass"),   # SIGTERM: a normal stop
])
def test_stopped_task_app_exit(tasks: list, running: int, expected: str) -> None:
    assert statuses("stopped-task-app-exit", _bundle(*tasks, running=running))[WEB] == expected


def test_crash_loop_message() -> None:
    bundle = _bundle(*[b.crash_task("web", 1, 15) for _ in range(5)], running=0, desired=2)
    (f,) = run_check("stopped-task-app-exit", bundle)
    assert "exited with code 1 in 5 of 5 stopped tasks" in f.message
    assert f.data["affected_tasks"] == 2


def test_standalone_tasks_are_grouped_by_their_group() -> None:
    t = b.oom_task("web", 10)
    t["group"] = "family:batch-job"
    (f,) = run_check("stopped-task-oom", _bundle(t))
    assert f.status.value == "fail" and f.service is None and f.resource == "family:batch-job"
