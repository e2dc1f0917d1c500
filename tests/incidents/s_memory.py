"""Memory incidents: a leak, a leak a deployment introduced, a limit too small for the load,
a runtime heap above the container memory, soft limits that over-commit the hosts."""

from __future__ import annotations

from collections.abc import Callable

from tests import builders as b
from tests.incidents import _metrics as m
from tests.incidents.healthy import ECR
from tests.incidents.scenarios import Cluster, fires, scenario

OOM = "OutOfMemoryError: Container killed due to memory usage"
EXITED = "Essential container in task exited"


def oom_kill(c: Cluster, name: str, where: int, stopped_min: float, uptime_min: float,
         text: str | None = OOM) -> None:
    c.stopped(name, where, stopped_min=stopped_min, uptime_s=uptime_min * 60, reason=EXITED,
              exit_code=137, container_reason=text)


def restart_at(c: Cluster, name: str, *started_min: float) -> None:
    """The running tasks are the replacements of the killed ones."""
    for task, started in zip(c.tasks(name), started_min, strict=False):
        task["startedAt"] = b.ago(minutes=started)
        task["createdAt"] = b.ago(minutes=started + 0.5)
        c.event(name, f"(service {name}) has started 1 tasks: (task "
                f"{task['taskArn'].rsplit('/', 1)[1]}).", started)


def memory_series(c: Cluster, name: str, f: Callable[[float], float], sigma: float = 0.6,
            average_gap: float = 3.0, cap: float = 100.0) -> None:
    """MemoryUtilization: Maximum from f (the busiest task), Average `average_gap` below;
    a hard limit caps it at 100% (soft limits do not)."""
    peak: m.Values = [min(cap, v or 0.0) for v in c.series(f, sigma)]
    c.put(m.ecs(name, "MemoryUtilization", "Maximum", peak),
          m.ecs(name, "MemoryUtilization", "Average",
                [max(0.0, (v or 0.0) - average_gap) for v in peak]))


@scenario("memory-leak", "memory-leak",
          fires("stopped-task-oom", "checkout"), fires("oom-after-long-uptime", "checkout"),
          fires("memory-trend-rising", "checkout"), fires("task-memory-near-limit", "checkout"))
def memory_leak(c: Cluster) -> None:
    """checkout (Node.js, 1 GiB tasks) leaks: memory climbs ~30 points an hour from 45%
    after every start, and each task is OOM-killed (exit 137) after ~1 h 50 min. Both tasks
    died in the last half hour and were replaced; the saw-tooth has been going for hours."""
    def tooth(mins: float) -> float:
        start = 245.0 if mins >= 135 else 135.0 if mins >= 25 else 25.0
        return 45.0 + 0.5 * (start - mins)
    memory_series(c, "checkout", tooth)
    oom_kill(c, "checkout", 0, 25, 110)
    oom_kill(c, "checkout", 1, 31, 104)
    restart_at(c, "checkout", 24, 30)


@scenario("memory-leak-after-deploy", "memory-leak",
          fires("stopped-task-oom", "worker"), fires("oom-after-long-uptime", "worker"),
          fires("memory-trend-rising", "worker", onset_revision="worker:24"),
          summary_has=("worker:24",))
def memory_leak_after_deploy(c: Cluster) -> None:
    """worker 3.5.0 (task definition worker:24), deployed 2 h 15 min ago, leaks: memory sat
    flat at 44% under worker:23 and now climbs 45 points an hour from every start; the
    first two tasks of the new revision were OOM-killed after ~1 h 33 min."""
    c.deploy("worker", 135, image=f"{ECR}/worker:3.5.0")

    def climb(mins: float) -> float:
        if mins > 135:
            return 44.0
        return 30.0 + 0.75 * ((135.0 if mins > 41 else 41.0) - mins)
    memory_series(c, "worker", climb)
    oom_kill(c, "worker", 0, 41, 94)
    oom_kill(c, "worker", 1, 43, 92)
    restart_at(c, "worker", 40, 42)


@scenario("memory-undersized", "memory-undersized",
          fires("stopped-task-oom", "checkout"), fires("task-memory-near-limit", "checkout"))
def memory_undersized(c: Cluster) -> None:
    """A cost review cut checkout to 0.25 vCPU / 512 MiB yesterday (checkout:42). Under the
    afternoon load the busiest task sits at 96-100% of its memory and tasks are OOM-killed
    3-9 minutes after they start; one of the two is still coming back."""
    c.deploy("checkout", 20 * 60, td={"cpu": "256", "memory": "512"})
    memory_series(c, "checkout", lambda mins: 97.5, 0.9, average_gap=12.0)
    for stopped, uptime in ((52, 8.5), (38, 6.0), (21, 4.5), (7, 3.2)):
        oom_kill(c, "checkout", int(stopped) % 2, stopped, uptime)
    running = c.tasks("checkout")
    running[0]["startedAt"] = b.ago(minutes=4)
    c.res["tasks"].remove(running[1])
    pending = c.run("checkout", 1, 1, status="PENDING")
    pending.pop("startedAt")
    c.counts("checkout", running=1, pending=1)
    c.put(m.insights("checkout", "RunningTaskCount",
                     c.series(lambda mins: 1.0 if mins < 8 or 21 < mins < 24 else 2.0)))


@scenario("runtime-heap", "runtime-heap-exceeds-limit",
          fires("runtime-heap-exceeds-limit", "api"), fires("stopped-task-oom", "api"))
def runtime_heap(c: Cluster) -> None:
    """To cut GC pauses someone raised the api heap to -Xmx2048m (api:113, three hours
    ago) but left the task at 2 GiB: heap plus metaspace and threads outgrow the container,
    and every task is OOM-killed 22-29 minutes after it starts."""
    env = [{"name": "JAVA_OPTS", "value": "-Xms1024m -Xmx2048m -XX:+UseG1GC"},
           {"name": "SPRING_PROFILES_ACTIVE", "value": "prod"},
           {"name": "DB_HOST", "value": "prod-db.cluster-c8x2q1abcd.us-east-1.rds.amazonaws.com"}]
    c.deploy("api", 190, environment=env)
    memory_series(c, "api", lambda mins: 55.0 + 1.8 * (-mins % 25.0))
    for i, (stopped, uptime) in enumerate(((57, 27), (49, 24), (36, 29), (28, 22), (14, 25),
                                           (3, 26))):
        oom_kill(c, "api", i % 3, stopped, uptime)
    restart_at(c, "api", 2, 13, 27)


@scenario("host-memory-overcommit", "host-memory-overcommit",
          fires("instance-memory-overcommit"), fires("container-no-memory-limit", "reports"),
          fires("stopped-task-oom", "reports"))
def host_memory_overcommit(c: Cluster) -> None:
    """reports:20 (two days ago) dropped its hard memory limit for a 1 GiB soft reservation
    "so month-end reports can burst", and added a FireLens log router with a soft limit
    only. On the hosts it shares with orders, the kernel OOM killer now picks the biggest
    process: reports containers die with exit 137 and no ECS memory message."""
    td = c.deploy("reports", 2 * 1440, memory=None, memoryReservation=1024)
    td["containerDefinitions"].append(b.container_def(
        "log-router", "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2",
        essential=False, memoryReservation=64, cpu=0, user="0",
        firelensConfiguration={"type": "fluentbit"},
        logConfiguration={"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/prod/firelens", "awslogs-region": b.REGION,
            "awslogs-stream-prefix": "reports"}}))
    for (stopped, uptime), host in zip(((54, 31), (33, 14), (12, 47)), (0, 2, 0), strict=True):
        oom_kill(c, "reports", host, stopped, uptime, text=None)
    restart_at(c, "reports", 11, 32)
    memory_series(c, "reports", lambda mins: 165.0, 6.0, average_gap=25.0, cap=400.0)
