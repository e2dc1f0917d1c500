"""Bundles for the memory-oom playbook tests: a service, its task definition, its stopped
tasks and its memory series, put together the way the collectors would (shape-validated
through tests/builders.py and tests/builders_hosts.py).

Task definitions here log through awslogs and carry task-level sizes, as real ones do, so
the hygiene playbook stays quiet and each test sees only the memory story it tells.
"""

from __future__ import annotations

from typing import Any

from tests import builders as b
from tests import builders_hosts as h
from tests import builders_metrics as m

CLUSTER = "prod"


def logs(name: str) -> dict[str, Any]:
    return {"logDriver": "awslogs", "options": {"awslogs-group": f"/ecs/{name}",
                                                "awslogs-region": b.REGION,
                                                "awslogs-stream-prefix": name}}


def app(name: str, *, memory: int | None = 1024, reservation: int | None = None,
        env: dict[str, str] | None = None) -> dict[str, Any]:
    """The service's essential container: a hard limit (`memory`), a soft one, or both."""
    extra: dict[str, Any] = {"logConfiguration": logs(name), "cpu": 512}
    if memory is not None:
        extra["memory"] = memory
    if reservation is not None:
        extra["memoryReservation"] = reservation
    if env:
        extra["environment"] = [{"name": k, "value": v} for k, v in env.items()]
    return b.container_def(name, **extra)


def fargate_td(name: str, revision: int = 1, *, memory: int = 1024,
               env: dict[str, str] | None = None) -> dict[str, Any]:
    return b.task_definition(name, revision, [app(name, memory=memory, env=env)],
                             requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                             cpu="512", memory=str(memory))


def ec2_td(name: str, revision: int = 1, *, memory: int | None = 1024,
           reservation: int | None = None) -> dict[str, Any]:
    """An EC2 (bridge) task definition without task-level memory: the containers' own
    limits are all that bound them."""
    return b.task_definition(name, revision, [app(name, memory=memory, reservation=reservation)],
                             requiresCompatibilities=["EC2"], networkMode="bridge")


def service(name: str, *, desired: int = 4, running: int = 3, revision: int = 1,
            launch: str = "FARGATE", **extra: Any) -> dict[str, Any]:
    return b.service(name, desired=desired, running=running, revision=revision,
                     launchType=launch, **extra)


def ooms(name: str, *uptime_min: float, revision: int = 1) -> list[dict[str, Any]]:
    """Tasks of `name` OOM-killed (exit 137, OutOfMemoryError) after these uptimes."""
    return [b.oom_task(name, u, revision=revision) for u in uptime_min]


def running(name: str, count: int, revision: int = 1) -> list[dict[str, Any]]:
    return [b.task(name, revision=revision, started=b.ago(hours=1)) for _ in range(count)]


def memory(name: str, values: m.Values, period: int = 300) -> dict[str, Any]:
    """AWS/ECS MemoryUtilization (Maximum) of service `name`, ending at collection."""
    return m.ecs(name, "MemoryUtilization", "Maximum", values, period, CLUSTER)


FLAT = m.noisy(m.flat(8, 300, 55), 1.5)
SAWTOOTH = m.noisy(m.sawtooth(8, 300, 35, 18, 98), 1.5)       # an OOM kill every 3.5 h
PEAKING = m.noisy(m.steps(8, 300, [(0, 70), (2, 97), (2.5, 70), (5, 98), (5.5, 72)]), 0.5)


def climb_after_deploy(name: str, revision: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A service deployed 4 h ago at `revision` (flat memory before, +10 %/h after) and
    its memory series: the leak starts with that revision."""
    values: m.Values = [55.0 if hr < 4 else 38 + 10 * (hr - 4) for hr in m.grid(8, 300)]
    svc = service(name, revision=revision, deployments=[
        m.deployment(name, revision, b.ago(hours=4)),
        m.deployment(name, revision - 1, b.ago(days=3), status="ACTIVE")])
    return svc, memory(name, m.noisy(values, 1.0))


def bundle(services: list[dict[str, Any]], tasks: list[dict[str, Any]],
           tds: list[dict[str, Any]], metrics: list[dict[str, Any]] | None = None,
           **collections: list[dict[str, Any]]) -> dict[str, Any]:
    """A bundle of these resources; `metrics=None` means CloudWatch was not collected."""
    out = b.bundle(clusters=[b.cluster(CLUSTER)], services=services, tasks=tasks,
                   task_definitions=tds, **collections)
    if metrics is None:
        del out["metrics"]
    else:
        out["metrics"] = metrics
    return out


def overcommitted_hosts(name: str, *, instances: tuple[str, ...] = ("i-0aaa1111",),
                        per_host: int = 2, reservation: int = 1024,
                        hard: int | None = None) -> dict[str, Any]:
    """An EC2 service whose containers reserve `reservation` MiB (soft) with no hard limit
    unless `hard` is given, `per_host` RUNNING tasks on each of `instances` (m5.large,
    7680 MiB registered)."""
    tasks = [h.placed_task(name, i, started=b.ago(hours=6)) for i in instances
             for _ in range(per_host)]
    hosts = [h.container_instance(i, running=per_host) for i in instances]
    svc = service(name, desired=len(tasks), running=len(tasks), launch="EC2")
    return bundle([svc], tasks, [ec2_td(name, memory=hard, reservation=reservation)], [],
                  container_instances=hosts)
