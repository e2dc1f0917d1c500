"""awsvpc ENI slots of a container instance.

Each awsvpc task on EC2 gets its own ENI and the primary interface counts as one, so an
instance takes `MaximumNetworkInterfaces - 1` awsvpc tasks. With ENI trunking (the
`awsvpcTrunking` account setting at launch time; the instance then carries the
`ecs.awsvpc-trunk-id` attribute) the limit comes from the documentation table in
checks/data/trunking_limits.yaml: no API returns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, attribute, obj, objs
from checks.lib.hosts import Host, tasks_on
from checks.lib.knowledge import table
from checks.lib.values import int_or_none

ENI_ATTACHMENT = "ElasticNetworkInterface"


@dataclass(frozen=True, slots=True)
class Slots:
    limit: int | None
    used: int
    basis: str              # how the limit was found, for the message
    trunked: bool
    trunk_limit: int | None  # what trunking would allow on this type (None: unsupported)
    max_interfaces: int | None

    @property
    def free(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


def _row(instance_type: str | None) -> tuple[int | None, int | None]:
    limits: dict[str, Any] = table("trunking_limits")["limits"]
    row = limits.get(instance_type or "")
    if not isinstance(row, list) or len(row) != 2:
        return None, None
    without, with_trunk = int_or_none(row[0]), int_or_none(row[1])
    return without, with_trunk if with_trunk is not None and with_trunk >= 1 else None


def trunk_limit(instance_type: str | None) -> int | None:
    """Task limit with trunking for a supported type, else None."""
    if not instance_type:
        return None
    data = table("trunking_limits")
    family = instance_type.split(".", 1)[0]
    if family in data["unsupported_families"] or instance_type in data["unsupported_types"]:
        return None
    return _row(instance_type)[1]


def trunking_setting(facts: Facts) -> str | None:
    """`enabled`/`disabled` from the effective awsvpcTrunking setting; None when unknown."""
    if not facts.has("account_settings"):
        return None
    for setting in facts.items("account_settings"):
        if setting.get("name") == "awsvpcTrunking":
            return str(setting.get("value") or "") or None
    return None


def is_awsvpc_task(facts: Facts, task: Item) -> bool:
    if any(a.get("type") == ENI_ATTACHMENT for a in objs(task.get("attachments"))):
        return True
    td = facts.task_definition(task.get("taskDefinitionArn"))
    return bool(td and td.get("networkMode") == "awsvpc")


def slots(facts: Facts, h: Host) -> Slots:
    """The awsvpc task limit of `h` and how many awsvpc tasks hold an ENI on it now."""
    used = sum(1 for t in tasks_on(facts, h.arn) if is_awsvpc_task(facts, t))
    trunked = bool(attribute(h.ci, "ecs.awsvpc-trunk-id"))
    without, with_trunk = _row(h.instance_type)
    info = facts.instance_type_of(h.ci) if facts.has("instance_types") else None
    max_eni = int_or_none(obj(obj(info).get("NetworkInfo")).get("MaximumNetworkInterfaces"))
    common: dict[str, Any] = {"used": used, "trunked": trunked,
                              "trunk_limit": trunk_limit(h.instance_type),
                              "max_interfaces": max_eni}
    if trunked and with_trunk is not None:
        return Slots(limit=with_trunk, basis=f"trunked (ecs.awsvpc-trunk-id), doc limit "
                     f"{with_trunk} for {h.instance_type}", **common)
    if max_eni is not None:
        return Slots(limit=max(max_eni - 1, 0),
                     basis=f"MaximumNetworkInterfaces {max_eni} − 1 primary", **common)
    if without is not None and not trunked:
        return Slots(limit=without, basis=f"doc limit {without} for {h.instance_type}",
                     **common)
    return Slots(limit=None, basis="", **common)


def trunking_note(s: Slots, setting: str | None, instance_type: str | None) -> str:
    """Why trunking does or does not raise this instance's limit, in a few words."""
    if s.trunked:
        return "trunking on"
    setting_txt = f"awsvpcTrunking {setting}" if setting else "awsvpcTrunking setting not seen"
    if s.trunk_limit is None:
        return f"trunking off ({instance_type or 'this type'} does not support trunking)"
    if setting == "enabled":
        return (f"trunking off although {setting_txt}: the instance predates the opt-in, "
                f"a replacement would take {s.trunk_limit} awsvpc tasks")
    return f"trunking off ({setting_txt}; {instance_type} would take {s.trunk_limit} with it)"
