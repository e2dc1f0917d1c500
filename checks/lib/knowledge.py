"""Knowledge tables (checks/data/*.yaml, each with its `source:`), loaded once, and the
lookups built on them."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from checker.yamlload import safe_load


@cache
def table(name: str) -> Mapping[str, Any]:
    """A knowledge table from checks/data, loaded once (STYLE.md rule 4)."""
    text = resources.files("checks").joinpath("data", f"{name}.yaml").read_text("utf-8")
    data = safe_load(text)
    assert isinstance(data, dict) and "source" in data, f"checks/data/{name}.yaml needs source:"
    return data


def burstable(instance_type: str | None) -> dict[str, Any] | None:
    """Baseline facts for a burstable type (`t3.medium`), or None for any other type."""
    if not instance_type or "." not in instance_type:
        return None
    family, size = instance_type.split(".", 1)
    data = table("burstable_baselines")
    row = data["families"].get(family, {}).get(size)
    if row is None:
        return None
    per_hour, max_credits, vcpus, baseline = row
    return {"family": family, "credits_per_hour": per_hour, "max_credits": max_credits,
            "vcpus": vcpus, "baseline_pct": baseline,
            "default_mode": data["default_mode"][family]}
