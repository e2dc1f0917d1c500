"""Which task definitions are in scope, and which services run them (a task definition
matters through the services that use it).

A service with an EXTERNAL or CODE_DEPLOY deployment controller runs *task sets*: each
names its own task definition, network configuration, launch type and platform version,
and DescribeServices returns them in the service's `taskSets`. What a task set runs and
how it is networked counts as its service's: its containers' missing logs and its public
IP are the service's findings.
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskSet.html
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts, Item, obj, objs, task_sets


def runners(svc: Item) -> list[Item]:
    """What launches the service's tasks: the service itself (its own settings, for the
    ECS controller) and each live task set. Each carries `taskDefinition`,
    `networkConfiguration`, `launchType`, `capacityProviderStrategy` and
    `platformVersion` under the same names."""
    return [svc, *task_sets(svc)]


def runner_label(runner: Item) -> str:
    """`task set ecs-svc/123` for a task set, `service` for the service itself."""
    if "taskSetArn" in runner or ("id" in runner and "serviceName" not in runner):
        return f"task set {runner.get('id') or runner.get('taskSetArn')}"
    return "service"


def awsvpc_configs(svc: Item) -> list[tuple[Item, Item]]:
    """(runner, awsvpcConfiguration) for the service and each task set that has one."""
    out = []
    for runner in runners(svc):
        config = obj(obj(runner.get("networkConfiguration")).get("awsvpcConfiguration"))
        if config:
            out.append((runner, config))
    return out


def services_using(facts: Facts) -> dict[str, list[Item]]:
    """Task definition ARN → services whose current deployments or task sets run it."""
    out: dict[str, list[Item]] = {}
    for svc in facts.services if facts.has("services") else []:
        arns = {svc.get("taskDefinition")} | {
            d.get("taskDefinition") for d in objs(svc.get("deployments"))
        } | {t.get("taskDefinition") for t in task_sets(svc)}
        keys: set[str] = set()
        for arn in sorted(a for a in arns if isinstance(a, str) and a):
            td = facts.task_definition(arn)
            keys.add(str(td.get("taskDefinitionArn")) if td else arn)
        for key in sorted(keys):
            out.setdefault(key, []).append(svc)
    return out


def task_definitions_in_scope(facts: Facts) -> Iterator[tuple[Item, list[Item]]]:
    """Every collected task definition with the services that use it (maybe none)."""
    using = services_using(facts)
    for td in sorted(facts.items("task_definitions"),
                     key=lambda t: str(t.get("taskDefinitionArn", ""))):
        yield td, using.get(str(td.get("taskDefinitionArn")), [])
