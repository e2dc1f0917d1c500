"""Classify why a stopped task stopped, from the data table checks/data/stop_reasons.yaml.

Order matters and follows the AWS guidance: the reason text first (an OOM can come with
exit code 0 or none), then the stopCode, then the essential containers' exit codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from checker.facts import Item
from checks._common import table

_REQUESTED_STOP = {"ServiceSchedulerInitiated", "UserInitiated", "SpotInterruption",
                   "TerminationNotice"}


@dataclass(frozen=True, slots=True)
class Stop:
    """The verdict for one stopped task: category plus the container that decided it."""

    category: str
    container: str | None
    exit_code: int | None
    reason: str

    @property
    def problem(self) -> bool:
        return bool(categories()[self.category]["problem"])


@cache
def categories() -> dict[str, Any]:
    return dict(table("stop_reasons")["categories"])


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    return [(p["category"], re.compile(p["match"], re.IGNORECASE))
            for p in table("stop_reasons")["reason_patterns"]]


def match_reason(text: str | None) -> str | None:
    if not text:
        return None
    for category, pattern in _patterns():
        if pattern.search(text):
            return category
    return None


def _exit_category(code: int, stop_code: str | None) -> str:
    mapped = table("stop_reasons")["exit_codes"].get(str(code))
    if code == 137 and stop_code not in _REQUESTED_STOP:
        return "oom"  # SIGKILL nobody asked for: the OOM killer (reason text was missing)
    return str(mapped) if mapped else "app-error"


def _essential(task: Item) -> list[Item]:
    containers = list(task.get("containers", []) or [])
    # Task containers do not carry `essential`; a non-zero exit of any container under
    # EssentialContainerExited is what ECS acted on, so consider the exited ones first.
    return sorted(containers, key=lambda c: (c.get("exitCode") in (None, 0), c.get("name", "")))


def classify(task: Item) -> Stop:
    stop_code = task.get("stopCode")
    task_reason = str(task.get("stoppedReason") or "")
    for ctr in _essential(task):
        category = match_reason(ctr.get("reason"))
        if category:
            return Stop(category, ctr.get("name"), ctr.get("exitCode"), str(ctr.get("reason")))
    category = match_reason(task_reason)
    if category:
        ctr = next(iter(_essential(task)), {})
        return Stop(category, ctr.get("name"), ctr.get("exitCode"), task_reason)
    if stop_code in table("stop_reasons")["stop_codes"]:
        return Stop(table("stop_reasons")["stop_codes"][stop_code], None, None, task_reason)
    for ctr in _essential(task):
        code = ctr.get("exitCode")
        if isinstance(code, int) and not isinstance(code, bool):
            return Stop(_exit_category(code, stop_code), ctr.get("name"), code,
                        str(ctr.get("reason") or task_reason))
    return Stop("unknown", None, None, task_reason)
