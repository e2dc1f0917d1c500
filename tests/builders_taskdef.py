"""Builders for task-definition and security check fixtures (shape-validated like
tests/builders.py: a typo'd field fails here, not silently in a check)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from checker.roles import XRAY
from tests import builders as b

XRAY_IMAGE = "public.ecr.aws/xray/aws-xray-daemon:3.3.7"
MONITOR_IMAGE = "mcr.microsoft.com/dotnet/monitor:8"


def env(**pairs: str) -> list[dict[str, str]]:
    """`environment` list from keyword pairs (order kept)."""
    return [{"name": k, "value": v} for k, v in pairs.items()]


def ctr(name: str = "app", **extra: Any) -> dict[str, Any]:
    """A container definition; `env=` is a dict turned into `environment`."""
    pairs = extra.pop("env", None)
    if pairs is not None:
        extra["environment"] = env(**pairs)
    return b.container_def(name, **extra)


def td(family: str = "web", *containers: dict[str, Any], revision: int = 1,
       **extra: Any) -> dict[str, Any]:
    return b.task_definition(family, revision, list(containers) or [ctr(family, memory=512)],
                             **extra)


def fargate_td(family: str = "web", *containers: dict[str, Any], cpu: str = "256",
               memory: str = "512", **extra: Any) -> dict[str, Any]:
    return td(family, *containers, requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
              cpu=cpu, memory=memory, **extra)


def ec2_td(family: str = "web", *containers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return td(family, *containers, requiresCompatibilities=["EC2"], networkMode="bridge",
              **extra)


def web_ctr(name: str = "app", port: int = 8080, **extra: Any) -> dict[str, Any]:
    return ctr(name, portMappings=[{"containerPort": port, "protocol": "tcp"}], **extra)


def xray(**extra: Any) -> dict[str, Any]:
    """A well-configured X-Ray daemon sidecar; override fields to break it (None drops)."""
    base: dict[str, Any] = {"image": XRAY_IMAGE, "essential": False, "cpu": 32,
                            "memoryReservation": 256,
                            "portMappings": [{"containerPort": 2000, "protocol": "udp"}]}
    return ctr("xray-daemon", **{k: v for k, v in {**base, **extra}.items() if v is not None})


#: A task role, and its simulation as the scan stores it (task_role_simulations).
TASK_ROLE = f"arn:aws:iam::{b.ACCOUNT}:role/web-task"


def role_simulation(role: str = TASK_ROLE, denied: tuple[str, ...] = ()) -> dict[str, Any]:
    """The scan's iam:SimulatePrincipalPolicy of `role` on what the X-Ray daemon needs."""
    return {"PolicySourceArn": role, "EvaluationResults": [
        {"EvalActionName": a, "EvalResourceName": "*",
         "EvalDecision": "implicitDeny" if a in denied else "allowed"} for a in XRAY]}


def lb_service(name: str = "web", container: str = "app", port: int = 8080,
               **extra: Any) -> dict[str, Any]:
    tg = f"arn:aws:elasticloadbalancing:{b.REGION}:{b.ACCOUNT}:targetgroup/{name}/0123456789abcdef"
    return b.service(name, loadBalancers=[{"targetGroupArn": tg, "containerName": container,
                                           "containerPort": port}], **extra)


def bundle(tds: list[dict[str, Any]], services: list[dict[str, Any]] | None = None,
           metrics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out = b.bundle(clusters=[b.cluster()], services=services or [], tasks=[],
                   task_definitions=tds)
    out["metrics"] = metrics or []
    return out


def memory_max(service: str, values: list[Any], cluster: str = "prod",
               stat: str = "Maximum") -> dict[str, Any]:
    """AWS/ECS MemoryUtilization series for a service, one point a minute up to NOW."""
    start = b.NOW - dt.timedelta(minutes=len(values))
    return {"namespace": "AWS/ECS", "name": "MemoryUtilization",
            "dimensions": {"ClusterName": cluster, "ServiceName": service},
            "stat": stat, "period": 60,
            "timestamps": [b.iso(start + dt.timedelta(minutes=i)) for i in range(len(values))],
            "values": values}
