"""Task sets (EXTERNAL and CODE_DEPLOY services), shape-validated like tests/builders.py.

DescribeServices returns a service's task sets in its `taskSets`; each names its own task
definition, network configuration, launch type and platform version.
"""

from __future__ import annotations

from typing import Any

from tests import builders as b


def task_set(service_name: str, set_id: str, *, family: str | None = None, revision: int = 1,
             status: str = "PRIMARY", public_ip: str | None = None,
             subnets: tuple[str, ...] = ("subnet-0aaa000000000000a",),
             groups: tuple[str, ...] = ("sg-0c2d000000000c2d0",), cluster: str = "prod",
             **extra: Any) -> dict[str, Any]:
    """A Fargate task set of `service_name`; `public_ip` set gives it an awsvpc config."""
    item: dict[str, Any] = {
        "id": f"ecs-svc/{set_id}",
        "taskSetArn": f"arn:aws:ecs:{b.REGION}:{b.ACCOUNT}:task-set/{cluster}/{service_name}/"
                      f"ecs-svc/{set_id}",
        "serviceArn": b.service_arn(cluster, service_name),
        "clusterArn": b.cluster_arn(cluster), "status": status,
        "taskDefinition": b.td_arn(family or service_name, revision),
        "computedDesiredCount": 2, "runningCount": 2, "pendingCount": 0,
        "launchType": "FARGATE", "platformVersion": "LATEST", "stabilityStatus": "STEADY_STATE",
        "scale": {"value": 100.0, "unit": "PERCENT"}, **extra}
    if public_ip is not None:
        item["networkConfiguration"] = {"awsvpcConfiguration": {
            "subnets": list(subnets), "securityGroups": list(groups),
            "assignPublicIp": public_ip}}
    return b.shaped("ecs", "TaskSet", item)


def external_service(name: str, *sets: dict[str, Any], controller: str = "EXTERNAL",
                     **extra: Any) -> dict[str, Any]:
    """A service whose tasks its task sets launch: no task definition or network
    configuration of its own (EXTERNAL), as DescribeServices returns it."""
    svc = b.service(name, deploymentController={"type": controller}, taskSets=list(sets),
                    **extra)
    if controller == "EXTERNAL":
        svc.pop("taskDefinition", None)
        svc.pop("launchType", None)
    return svc
