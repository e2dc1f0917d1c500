"""Which task definitions are in scope, and which services run them (a task definition
matters through the services that use it)."""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts, Item, objs


def services_using(facts: Facts) -> dict[str, list[Item]]:
    """Task definition ARN → services whose current deployments run it."""
    out: dict[str, list[Item]] = {}
    for svc in facts.services if facts.has("services") else []:
        arns = {svc.get("taskDefinition")} | {
            d.get("taskDefinition") for d in objs(svc.get("deployments"))
        }
        for arn in sorted(a for a in arns if a):
            td = facts.task_definition(arn)
            key = str(td.get("taskDefinitionArn")) if td else str(arn)
            out.setdefault(key, []).append(svc)
    return out


def task_definitions_in_scope(facts: Facts) -> Iterator[tuple[Item, list[Item]]]:
    """Every collected task definition with the services that use it (maybe none)."""
    using = services_using(facts)
    for td in sorted(facts.items("task_definitions"),
                     key=lambda t: str(t.get("taskDefinitionArn", ""))):
        yield td, using.get(str(td.get("taskDefinitionArn")), [])
