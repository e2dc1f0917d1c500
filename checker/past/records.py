"""The bundle's history collections, read defensively: task history merged with the API's
tasks, and what the services and ECS events say happened.

`task_history` (CONTRACTS.md §5) holds 'ECS Task State Change' details: the DescribeTasks
shape, several per task (RUNNING, then STOPPED) told apart by `version`. The reader keeps
the highest version per taskArn, and a task the API still shows is the API's item (it is
the newer, complete one); history adds only what the API no longer has.
"""

from __future__ import annotations

from collections.abc import Mapping

from checker.facts import Facts, Item

#: The history collections of issue 11. Without any of them in the bundle, reports gain
#: only the new fields: status `active`, onsets from what the API shows, no trigger.
HISTORY = ("task_history", "ecs_events", "cloudtrail_events")


def collection(facts: Facts, name: str) -> list[Item]:
    """The objects of a collection, or none when it was not collected or failed."""
    if not facts.has(name):
        return []
    return [i for i in facts.items(name) if isinstance(i, Mapping)]


def has_history(facts: Facts) -> bool:
    return any(name in facts.resources and facts.has(name) for name in HISTORY)


def _version(item: Item) -> int:
    value = item.get("version")
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def history_tasks(facts: Facts) -> dict[str, Item]:
    """taskArn → its newest `task_history` entry (highest version; on a tie, the later
    entry in the collection)."""
    def build() -> dict[str, Item]:
        out: dict[str, Item] = {}
        for item in collection(facts, "task_history"):
            arn = item.get("taskArn")
            if isinstance(arn, str) and arn and (
                    arn not in out or _version(item) >= _version(out[arn])):
                out[arn] = item
        return out
    return facts.memo(("past", "history_tasks"), build)


def stopped_tasks(facts: Facts) -> list[Item]:
    """The API's stopped tasks, then the stopped history tasks the API no longer shows
    (by taskArn, the API item winning): the API's alone when there is no history."""
    api = facts.stopped_tasks() if facts.has("tasks") else []
    history = history_tasks(facts)
    if not history:
        return api
    shown = {t.get("taskArn") for t in (facts.tasks if facts.has("tasks") else [])}
    return api + [t for arn, t in sorted(history.items())
                  if arn not in shown and t.get("lastStatus") == "STOPPED"]


def tasks_by_id(facts: Facts) -> dict[str, Item]:
    """Every task the bundle knows (API first, then history), by task id: evidence names
    tasks by id (`checks.lib.labels.task_id`)."""
    def build() -> dict[str, Item]:
        out: dict[str, Item] = {}
        api = facts.tasks if facts.has("tasks") else []
        for task in [*history_tasks(facts).values(), *api]:  # the API item wins
            arn = task.get("taskArn")
            if isinstance(arn, str) and arn:
                out[arn.rsplit("/", 1)[-1]] = task
        return out
    return facts.memo(("past", "tasks_by_id"), build)
