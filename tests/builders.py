"""Small builders for AWS-shaped fixtures, validated against botocore's output shapes.

Every builder output goes through `shaped()`, which checks each key and type against the
botocore model of the API response (checker.shapes): a fixture with a typo (`privilege`
for `privileged`) fails here instead of making a check that can never fire on real data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from checker import shapes

ACCOUNT = "123456789012"
REGION = "us-east-1"
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def shaped(service: str, shape_name: str, item: dict[str, Any]) -> dict[str, Any]:
    """`item` if it is botocore's `shape_name` of `service` (checker.shapes, the validator
    the engine runs on every bundle); a fixture that is not fails here."""
    problems = shapes.problems(service, shape_name, item)
    assert not problems, "; ".join(problems)
    return item


def iso(when: dt.datetime) -> str:
    return when.isoformat()


def ago(**delta: float) -> str:
    return iso(NOW - dt.timedelta(**delta))


def cluster_arn(cluster: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}"


def service_arn(cluster: str, name: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"


def td_arn(family: str, revision: int) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"


def cluster(name: str = "prod", **extra: Any) -> dict[str, Any]:
    return shaped("ecs", "Cluster", {"clusterArn": cluster_arn(name), "clusterName": name,
                                     "status": "ACTIVE", **extra})


def container_def(name: str, image: str | None = None, **extra: Any) -> dict[str, Any]:
    """A well-configured container (awslogs logging) unless `extra` says otherwise; pass
    logConfiguration=None to leave logging out."""
    item: dict[str, Any] = {
        "name": name,
        "image": image or f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}:1.4.2",
        "essential": True,
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": f"/ecs/{name}", "awslogs-region": REGION,
            "awslogs-stream-prefix": name}},
        **extra}
    return shaped("ecs", "ContainerDefinition", {k: v for k, v in item.items() if v is not None})


def task_definition(family: str, revision: int = 1, containers: list[dict[str, Any]] | None
                    = None, **extra: Any) -> dict[str, Any]:
    return shaped("ecs", "TaskDefinition", {
        "taskDefinitionArn": td_arn(family, revision), "family": family, "revision": revision,
        "containerDefinitions": containers or [container_def(family, memory=512)],
        "status": "ACTIVE", **extra})


def service(name: str, cluster_name: str = "prod", *, desired: int = 2,
            running: int | None = None, pending: int = 0, family: str | None = None,
            revision: int = 1, **extra: Any) -> dict[str, Any]:
    return shaped("ecs", "Service", {
        "serviceArn": service_arn(cluster_name, name), "serviceName": name,
        "clusterArn": cluster_arn(cluster_name), "status": "ACTIVE",
        "desiredCount": desired, "runningCount": desired if running is None else running,
        "pendingCount": pending, "launchType": "FARGATE",
        "taskDefinition": td_arn(family or name, revision), "events": [], **extra})


def container(name: str, exit_code: int | None = None, reason: str | None = None,
              **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "lastStatus": "STOPPED", **extra}
    if exit_code is not None:
        out["exitCode"] = exit_code
    if reason is not None:
        out["reason"] = reason
    return shaped("ecs", "Container", out)


_SEQ = iter(range(10**9))


def task(service_name: str, cluster_name: str = "prod", *, status: str = "RUNNING",
         family: str | None = None, revision: int = 1,
         containers: list[dict[str, Any]] | None = None, started: str | None = None,
         stopped: str | None = None, stop_code: str | None = None,
         reason: str | None = None, **extra: Any) -> dict[str, Any]:
    tid = f"{next(_SEQ):032x}"
    out: dict[str, Any] = {
        "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster_name}/{tid}",
        "clusterArn": cluster_arn(cluster_name), "group": f"service:{service_name}",
        "taskDefinitionArn": td_arn(family or service_name, revision), "lastStatus": status,
        "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
        "launchType": "FARGATE", "containers": containers or [],
        "startedAt": started or ago(hours=2), **extra}
    if stopped:
        out["stoppedAt"] = stopped
    if stop_code:
        out["stopCode"] = stop_code
    if reason:
        out["stoppedReason"] = reason
    return shaped("ecs", "Task", out)


OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


def oom_task(service_name: str, uptime_min: float, **kw: Any) -> dict[str, Any]:
    return task(service_name, status="STOPPED", started=ago(minutes=uptime_min + 10),
                stopped=ago(minutes=10), stop_code="EssentialContainerExited",
                reason="Essential container in task exited",
                containers=[container(kw.pop("container", service_name), 137, OOM_REASON)], **kw)


def crash_task(service_name: str, exit_code: int = 1, uptime_s: float = 20,
               **kw: Any) -> dict[str, Any]:
    return task(service_name, status="STOPPED", started=ago(minutes=20, seconds=uptime_s),
                stopped=ago(minutes=20), stop_code="EssentialContainerExited",
                reason="Essential container in task exited",
                containers=[container(kw.pop("container", service_name), exit_code)], **kw)


def bundle(**resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A bundle v1 holding exactly the given collections (absent ones are not collected)."""
    return {"format": "ecsdoctor-bundle", "version": 1, "collected_at": iso(NOW),
            "account": ACCOUNT, "region": REGION, "scope": {"clusters": ["prod"]},
            "resources": resources, "metrics": [], "errors": []}


def ecs_bundle(services: list[dict[str, Any]], tasks: list[dict[str, Any]],
               task_definitions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    tds = task_definitions if task_definitions is not None else [
        task_definition(s["serviceName"]) for s in services]
    return bundle(clusters=[cluster()], services=services, tasks=tasks, task_definitions=tds)
