"""Reasoning over the past (issue 11): history merged with the present, changes and who
made them, and when each diagnosis began, what started it and whether it is over.

Reads the bundle's history collections (`task_history`, `ecs_events`, `cloudtrail_events`;
CONTRACTS.md §5) beside what the API shows (stopped tasks, the services' deployments and
events, `alarms`, `log_events`). Without history a report gains only the new fields:
status `active`, onsets from what the API shows, no trigger, the timeline of what is there.

- records.py      task history merged with the API's tasks (by taskArn, the API winning)
- cloudtrail.py   CloudTrail items as write calls, with readable actors
- changes.py      every change: CloudTrail calls and ECS deployments, merged
- revert.py       the command that undoes a change
- happenings.py   stopped tasks, events, alarms and log lines as dated records
- reasoning.py    onset, trigger and status of each diagnosis
- timeline.py     the report's bounded timeline
- windows.py      every window and cap above, in one table
"""

from checker.past.reasoning import annotate
from checker.past.records import HISTORY, has_history, stopped_tasks
from checker.past.timeline import timeline
from checker.past.windows import DEFAULT, Windows

__all__ = ["DEFAULT", "HISTORY", "Windows", "annotate", "has_history", "stopped_tasks",
           "timeline"]
