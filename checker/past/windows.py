"""Every window and cap the reasoning over the past uses, in one table (issue 11).

A sibling of checker/ranking.py's `Weights`: these numbers decide which change is named as
a trigger, when an incident counts as over and how much of the past a report carries, so
each is a reviewed, one-line change with its reason beside it, and a variant is injected
(`annotate(..., windows=...)`), never patched into a module. Kept out of `Weights` because
they are durations and counts, not ranking weights: the ±20 % sensitivity test of the
ranking does not apply to them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Windows:
    """The table; `DEFAULT` is what every report uses. Durations in seconds."""

    #: A change is a trigger candidate when it falls at most this long before the onset, or
    #: before the launch of the first failing task (a leak or a slow crash shows up one run
    #: after the change that caused it). Half an hour covers a rolling deployment and the
    #: first failures of the tasks it starts; a change older than that is rarely the cause
    #: an engineer is looking for, and naming a wrong culprit costs more than naming none.
    trigger_s: float = 1800.0
    #: A CloudTrail UpdateService and an ECS deployment of the same service this close
    #: together are one change (the deployment starts seconds after the call).
    merge_s: float = 300.0
    #: `resolved` needs positive evidence of recovery (steady state, a completed deployment,
    #: an alarm back to OK) at least this old, with no failure since (CONTRACTS.md §5).
    recovery_s: float = 900.0
    #: The timeline keeps what happened this close (before or after) to a diagnosis' onset.
    near_s: float = 1800.0
    #: At most this many timeline entries around each onset (the closest to it win).
    per_onset: int = 40
    #: At most this many changes and deployments in the timeline (the newest win): a day of
    #: CI deployments should not push the failures out.
    changes: int = 50
    #: Without any onset, the timeline keeps this many of the newest entries.
    recent: int = 40
    #: The most entries a report's timeline carries, whatever the history holds.
    cap: int = 200
    #: Log lines kept per log stream (the last ones before the task stopped).
    log_lines: int = 5

    def __post_init__(self) -> None:
        """Refuse a table that cannot work (a negative window), at construction."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"history window {f.name} must be a number ≥ 0, not {value!r}")


DEFAULT = Windows()
