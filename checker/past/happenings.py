"""What happened, other than changes, as dated records: stopped tasks (API and history),
service events, ECS events, alarm transitions and the last log lines of stopped tasks.

Each record says whether it is a failure or a recovery signal for the services it is
about, which the `resolved` status reads (a steady state, a completed deployment, an alarm
back to OK; a failed deployment, a warning or error event, an alarm in ALARM). Whether a
stopped task is a failure is the checks' call (checks/lib/stop_reasons.py): the
diagnoses' evidence names those tasks, so records of tasks carry no such flag. Records
without a readable time are left out: the timeline is a time axis.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from checker.facts import Facts, Item, obj, objs
from checker.model import short_name
from checker.past.records import collection, stopped_tasks
from checker.past.refs import alarm_refs
from checker.past.text import clean, when
from checker.past.windows import DEFAULT, Windows

STOPPED, SERVICE_EVENT, DEPLOYMENT, ALARM, LOG = (
    "stopped-task", "service-event", "deployment", "alarm", "log")
#: Service event messages that say the service is healthy again (ECS's own wording).
_STEADY = re.compile(r"has reached a steady state|deployment completed", re.IGNORECASE)
_FAILED_DEPLOYMENT = "SERVICE_DEPLOYMENT_FAILED"
_RECOVERED = frozenset({"SERVICE_STEADY_STATE", "SERVICE_DEPLOYMENT_COMPLETED",
                        "TASKSET_STEADY_STATE", "CAPACITY_PROVIDER_STEADY_STATE"})


@dataclass(frozen=True, slots=True)
class Happening:
    time: dt.datetime
    kind: str
    resource: str
    summary: str
    #: the ECS services (ARNs) it is about
    services: frozenset[str] = frozenset()
    #: other resources it is about (an alarm's dimensions), as checker.past.refs names them
    refs: frozenset[str] = frozenset()
    failure: bool = False
    recovery: bool = False


def _task_text(task: Item) -> str:
    """`stopped (EssentialContainerExited): Essential container in task exited; web exit
    137: OutOfMemoryError…`: the texts ECS wrote, cleaned."""
    said = task.get("stoppedReason")
    parts = [f"stopped ({clean(task.get('stopCode') or 'no stop code', 40)}): "
             f"{clean(said or 'no reason', 110)}"]
    for ctr in objs(task.get("containers")):
        code = ctr.get("exitCode")
        reason = ctr.get("reason") if ctr.get("reason") != said else None
        name = clean(ctr.get("name") or "?", 40)
        text = f"{name} exit {code}" if code is not None else name
        if code is not None or reason:
            parts.append(f"{text}: {clean(reason, 90)}" if reason else text)
    return "; ".join(parts[:3])


def _tasks(facts: Facts) -> list[Happening]:
    out = []
    for task in stopped_tasks(facts):
        time = when(task.get("stoppedAt")) or when(task.get("stoppingAt"))
        arn = task.get("taskArn")
        if time is None or not isinstance(arn, str):
            continue
        svc = facts.service_of_task(task)
        services = frozenset({str(svc["serviceArn"])}) if svc else frozenset()
        owner = f"{short_name(next(iter(services)))} " if services else ""
        out.append(Happening(time, STOPPED, arn,
                             f"{owner}task {arn.rsplit('/', 1)[-1][:8]} {_task_text(task)}",
                             services))
    return out


def _service_events(facts: Facts) -> list[Happening]:
    out = []
    for svc in collection(facts, "services"):
        arn = str(svc.get("serviceArn"))
        for ev in objs(svc.get("events")):
            time, message = when(ev.get("createdAt")), ev.get("message")
            if time is not None and isinstance(message, str):
                out.append(Happening(time, SERVICE_EVENT, arn, clean(message),
                                     frozenset({arn}), recovery=bool(_STEADY.search(message))))
    return out


def _ecs_event(ev: Item) -> Happening | None:
    """One EventBridge event of `ecs_events` (deployment starts are changes, not here)."""
    detail, kind = obj(ev.get("detail")), ev.get("detail-type")
    time = when(ev.get("time"))
    resources = sorted(r for r in ev.get("resources") or [] if isinstance(r, str))
    if time is None:
        return None
    name = clean(detail.get("eventName") or "", 60)
    if kind == "ECS Deployment State Change" and name != "SERVICE_DEPLOYMENT_IN_PROGRESS":
        text = f"deployment {clean(detail.get('deploymentId') or '', 60)} {name.split('_')[-1]}"
        reason = clean(detail.get("reason") or "", 110)
        return Happening(time, DEPLOYMENT, resources[0] if resources else "",
                         f"{text.lower()}: {reason}" if reason else text.lower(),
                         frozenset(resources), failure=name == _FAILED_DEPLOYMENT,
                         recovery=name in _RECOVERED)
    if kind == "ECS Service Action":
        level = clean(detail.get("eventType") or "INFO", 10)
        return Happening(time, SERVICE_EVENT, resources[0] if resources else "",
                         f"{name} ({level})", frozenset(resources),
                         failure=level in ("WARN", "ERROR"), recovery=name in _RECOVERED)
    if kind == "ECS Container Instance State Change":
        agent = "connected" if detail.get("agentConnected") else "disconnected"
        return Happening(time, SERVICE_EVENT, resources[0] if resources else "",
                         f"container instance {clean(detail.get('ec2InstanceId') or '?', 40)} "
                         f"{clean(detail.get('status') or '?', 20)}, agent {agent}")
    return None


def _alarms(facts: Facts) -> list[Happening]:
    out = []
    for alarm in collection(facts, "alarms"):
        time = when(alarm.get("StateTransitionedTimestamp")) or when(
            alarm.get("StateUpdatedTimestamp"))
        state, name = alarm.get("StateValue"), clean(alarm.get("AlarmName") or "?", 100)
        if time is None or not isinstance(state, str):
            continue
        refs = alarm_refs(alarm.get("Dimensions"), facts.region or "", facts.account or "")
        out.append(Happening(time, ALARM, str(alarm.get("AlarmArn") or name),
                             f"alarm {name} → {clean(state, 20)}: "
                             f"{clean(alarm.get('StateReason') or '', 110)}",
                             frozenset(r for r in refs if ":service/" in r), frozenset(refs),
                             failure=state == "ALARM", recovery=state == "OK"))
    return out


def _logs(facts: Facts, windows: Windows) -> list[Happening]:
    out = []
    for stream in collection(facts, "log_events"):
        where = stream.get("taskArn") or stream.get("logStreamName")
        who = clean(stream.get("containerName") or "log", 40)
        lines = [(t, e) for e in objs(stream.get("events"))
                 if (t := when(e.get("timestamp"), epoch_ms=True)) is not None]
        for time, line in sorted(lines, key=lambda p: p[0])[-windows.log_lines:]:
            out.append(Happening(time, LOG, str(where or ""),
                                 f"{who}: {clean(line.get('message'))}"))
    return out


def happenings(facts: Facts, windows: Windows = DEFAULT) -> list[Happening]:
    """Everything but changes, oldest first; built once per analysis."""
    def build() -> list[Happening]:
        found = [*_tasks(facts), *_service_events(facts), *_alarms(facts), *_logs(facts, windows)]
        found += [h for ev in collection(facts, "ecs_events") if (h := _ecs_event(ev))]
        return sorted(found, key=lambda h: (h.time, h.kind, h.resource, h.summary))
    return facts.memo(("past", "happenings", windows), build)
