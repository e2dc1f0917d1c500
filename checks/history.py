"""Whether the past could be read: the history log group and CloudTrail.

ECS forgets a stopped task about an hour after it stops (AWS-FACTS.md §5): without the
history log group (deploy/history.yaml) a night of OOM kills, a crash loop that stopped at
6 a.m. and the deployment that fixed an incident are all invisible, and the stopped-task
checks judge the last hour alone. A failed read is not a quiet pass: the check says
`unknown` with what went wrong and the one command that sets the source up, so a report
that could not see the past says so next to its findings, not only in the error list.
A bundle read without history (`--history 0`, or a bundle saved without it) is `skipped`:
nothing was asked for, nothing failed.

It fails when the group exists but is not being fed: ECS still shows tasks that stopped
minutes ago and the group holds none of them — the EventBridge rule is gone or disabled,
or its target lost the resource policy that lets EventBridge write (a group that exists
but stays empty is the quiet way this breaks: every scan then sees "no history" as "no
incidents").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from checker.facts import Facts, Item, arn_name
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.task_window import stopped_at

HISTORY_DOCS = ("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
                "ecs_cwe_events.html")
#: The bundle collections of each source (CONTRACTS.md §5) and how a report names it.
LOG_GROUP = "history log group"
CLOUDTRAIL = "CloudTrail"
SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (LOG_GROUP, ("task_history", "ecs_events")),
    (CLOUDTRAIL, ("cloudtrail_events",)),
)
#: A stop younger than this may not have reached the group yet: EventBridge delivers
#: within seconds, this leaves room for retries.
DELIVERY_LAG = dt.timedelta(minutes=5)
LISTED = 5


@check(id="history-unavailable", area="history", severity=Severity.LOW,
       title="The past (stopped-task history, CloudTrail) could not be read",
       needs=(), docs=HISTORY_DOCS,
       emits={"source": [LOG_GROUP, CLOUDTRAIL], "events": None, "setup": None,
              "missing_tasks": None})
def history_unavailable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """One result per source of the past: `unknown` when the scan tried to read it and
    could not (no log group, access denied, throttled past retries), with the setup
    command when the collector knows one; `skipped` when the bundle has none and no read
    failed; `fail` when the group is read but misses every stop ECS still shows; `pass`
    with how many events it holds."""
    subject = facts.subject
    for source, collections in SOURCES:
        broken = [c for c in collections if facts.error_for(c) is not None]
        if broken:
            err = facts.error_for(broken[0]) or {}
            reason = facts.missing_reason(broken[0]) or "collection failed"
            yield unknown(subject, f"{source} not read ({reason}): the findings judge only "
                                   "what ECS still shows, about the last hour",
                          source=source, setup=err.get("setup"))
            continue
        if any(c not in facts.resources for c in collections):
            yield skipped(subject, f"{source} not in the bundle: stopped tasks older than "
                                   "about an hour and past changes are not considered "
                                   "(`scan --history 24h` reads them)", source=source)
            continue
        count = sum(len(facts.resources.get(c) or ()) for c in collections)
        missing = _undelivered(facts) if source == LOG_GROUP else []
        if missing:
            names = ", ".join(arn_name(str(t.get("taskArn"))) for t in missing[:LISTED])
            more = f" and {len(missing) - LISTED} more" if len(missing) > LISTED else ""
            yield failed(subject, f"{source} is not being fed: ECS shows {len(missing)} task"
                                  f"{'' if len(missing) == 1 else 's'} stopped in the last "
                                  f"hour ({names}{more}) that the group never received; "
                                  "check that the EventBridge rule of deploy/history.yaml is "
                                  "enabled and can write to the group",
                         source=source, events=count, missing_tasks=len(missing))
            continue
        yield passed(subject, f"{source} read: {count} event{'' if count == 1 else 's'}",
                     source=source, events=count)


def _undelivered(facts: Facts) -> list[Item]:
    """The API's stopped tasks old enough to have been delivered, when the history has
    none of them (some present: the rule works, a few were filtered or are late)."""
    if not facts.has("tasks"):
        return []
    cutoff = facts.collected_at - DELIVERY_LAG
    due = [t for t in facts.stopped_tasks()
           if (when := stopped_at(t)) is not None and when <= cutoff]
    kept = {str(e.get("taskArn")) for e in facts.resources.get("task_history") or ()
            if isinstance(e, dict)}
    return [] if any(str(t.get("taskArn")) in kept for t in due) else due
