"""Every change the bundle records, one record per change: CloudTrail write calls and ECS
deployments, merged where they are the same change.

A deployment is seen up to three times: the CloudTrail UpdateService that asked for it,
the `ECS Deployment State Change` events (`ecs_events`), and the service's `deployments`.
They are one change (CONTRACTS.md §5), with `source: deployment`, the time of its first
sighting, the actor from CloudTrail (else whoever registered the revision), and a revert
back to the revision the service ran before. A rollback the circuit breaker started is a
recovery, never a trigger; so is a change an AWS service made on its own (Application Auto
Scaling adjusting a desired count). Tagging is not a change here at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, obj, objs, task_definition_label
from checker.past import cloudtrail
from checker.past.cloudtrail import TrailEvent
from checker.past.records import collection
from checker.past.refs import ref_of
from checker.past.revert import revert, update_service
from checker.past.text import clean, when
from checker.past.windows import DEFAULT, Windows

DEPLOYMENT, CLOUDTRAIL = "deployment", "cloudtrail"
#: requestParameters keys naming what a call changed, most specific first.
_PRIMARY = ("routeTableId", "groupId", "networkAclId", "natGatewayId", "subnetId", "vpcId",
            "targetGroupArn", "listenerArn", "loadBalancerArn", "roleName",
            "autoScalingGroupName", "resourceId", "policyName")


@dataclass(frozen=True, slots=True)
class Change:
    """One change: what was done (`event`), to what, by whom, and how to undo it."""

    time: dt.datetime
    event: str
    actor: str
    resource: str
    source: str
    refs: frozenset[str]
    revert: str | None = None
    service: str | None = None
    #: never a trigger: a rollback, or an AWS service acting on its own
    routine: bool = False
    #: made by an AWS service on its own (Application Auto Scaling): not a fix either
    automatic: bool = False
    #: the `family:revision` a deployment rolls out
    task_definition: str | None = None
    #: a few words on what changed (`0.0.0.0/0`, `tcp 8080`), for the timeline
    detail: str = ""

    @property
    def summary(self) -> str:
        what = f"{self.event} {self.detail}".strip()
        on = "" if self.source == DEPLOYMENT else f" on {self.resource}"
        return f"{what}{on} by {self.actor}"


@dataclass(slots=True)
class _Deployment:
    service: str
    time: dt.datetime
    ident: str
    task_definition: str | None
    rollback: bool = False


def _label(value: Any) -> str | None:
    return task_definition_label(value) if isinstance(value, str) and value else None


def _deployments(facts: Facts) -> list[_Deployment]:
    """Deployments from the services' `deployments` and the ECS deployment events, one per
    deployment id (its earliest sighting)."""
    found: dict[tuple[str, str], _Deployment] = {}

    def add(dep: _Deployment) -> None:
        key = (dep.service, dep.ident or dep.time.isoformat())
        old = found.get(key)
        if old is None:
            found[key] = dep
            return
        old.time = min(old.time, dep.time)
        old.task_definition = old.task_definition or dep.task_definition
        old.rollback = old.rollback or dep.rollback

    for svc in collection(facts, "services"):
        for dep in objs(svc.get("deployments")):
            time = when(dep.get("createdAt"))
            if time is not None:
                add(_Deployment(str(svc.get("serviceArn")), time, str(dep.get("id") or ""),
                                _label(dep.get("taskDefinition"))))
    for ev in collection(facts, "ecs_events"):
        detail = obj(ev.get("detail"))
        if (ev.get("detail-type") != "ECS Deployment State Change"
                or detail.get("eventName") != "SERVICE_DEPLOYMENT_IN_PROGRESS"):
            continue
        time = when(ev.get("time")) or when(detail.get("updatedAt"))
        services = [r for r in ev.get("resources") or [] if isinstance(r, str)]
        if time is not None and services:
            reason = str(detail.get("reason") or "").lower()
            add(_Deployment(services[0], time, str(detail.get("deploymentId") or ""), None,
                            "rollback" in reason or "rolling back" in reason))
    return sorted(found.values(), key=lambda d: (d.time, d.service, d.ident))


def trail_events(facts: Facts) -> tuple[list[TrailEvent], int]:
    """The write calls of `cloudtrail_events`, oldest first, and how many items were
    skipped (not JSON, undated, read-only or failed calls)."""
    items = collection(facts, "cloudtrail_events")
    parsed = [cloudtrail.parse(i, facts.region or "", facts.account or "") for i in items]
    events = sorted((e for e in parsed if e is not None),
                    key=lambda e: (e.time, e.name, e.event_id))
    return events, len(items) - len(events)


def _primary(ev: TrailEvent) -> str:
    if ev.service:
        return ev.service
    for key in _PRIMARY:
        value = ev.params.get(key)
        if isinstance(value, str) and value:
            return clean(ref_of(value) or (f"role/{value}" if key == "roleName" else value), 200)
    return min(ev.refs) if ev.refs else clean(ev.source, 80)


def _detail(ev: TrailEvent) -> str:
    """`0.0.0.0/0`, `tcp 8080`, `enableDnsSupport=false`: what a reader needs to see."""
    p = ev.params
    if p.get("destinationCidrBlock"):
        return clean(p["destinationCidrBlock"], 60)
    perms = objs(obj(p.get("ipPermissions")).get("items"))
    if perms:
        first = perms[0]
        port = first.get("fromPort")
        return clean(f"{first.get('ipProtocol', '')} {port if port is not None else ''}", 40)
    for key in ("enableDnsSupport", "enableDnsHostnames"):
        if isinstance(obj(p.get(key)).get("value"), bool):
            return f"{key}={str(obj(p[key])['value']).lower()}"
    return ""


def _previous(service: str, time: dt.datetime, current: str | None,
              known: Sequence[tuple[str, dt.datetime, str]]) -> str | None:
    """The revision `service` ran before `time`: the last other one deployed before it,
    else `family:revision-1`."""
    before = [td for svc, t, td in known if svc == service and t < time and td != current]
    if before:
        return before[-1]
    family, _, rev = (current or "").rpartition(":")
    return f"{family}:{int(rev) - 1}" if family and rev.isdigit() and int(rev) > 1 else None


def _registered_by(facts: Facts, label: str | None) -> str | None:
    if not label or not facts.has("task_definitions"):
        return None
    td = facts.task_definition(label)
    arn = obj(td).get("registeredBy")
    return cloudtrail.actor_from_arn(arn) if isinstance(arn, str) else None


def changes(facts: Facts, windows: Windows = DEFAULT) -> list[Change]:
    """Every change, oldest first (module docstring); built once per analysis."""
    return facts.memo(("past", "changes", windows), lambda: _changes(facts, windows))


def _changes(facts: Facts, windows: Windows) -> list[Change]:
    events, _ = trail_events(facts)
    events = [e for e in events if not e.tagging]
    deployments = _deployments(facts)
    known = sorted([(d.service, d.time, d.task_definition) for d in deployments
                    if d.task_definition] + [
        (e.service, e.time, lbl) for e in events if e.service and e.name == "UpdateService"
        and (lbl := _label(e.params.get("taskDefinition")))], key=lambda k: k[1])
    used: set[int] = set()
    out: list[Change] = []
    for dep in deployments:
        call = _matching_call(dep, events, used, windows)
        label = dep.task_definition or (_label(call.params.get("taskDefinition")) if call
                                        else None)
        out.append(Change(
            time=min(dep.time, call.time) if call else dep.time,
            event=f"{'rollback to' if dep.rollback else 'deployment of'} "
                  f"{label or dep.ident or 'a new revision'}",
            actor=call.actor if call else _registered_by(facts, label) or "unknown",
            resource=dep.service, source=DEPLOYMENT,
            refs=frozenset({dep.service, *([f"task-definition/{label}"] if label else [])}),
            revert=update_service(dep.service, _previous(dep.service, dep.time, label, known)),
            service=dep.service, routine=dep.rollback, task_definition=label))
    for i, ev in enumerate(events):
        if i in used:
            continue
        label = _label(ev.params.get("taskDefinition"))
        undo = (update_service(ev.service, _previous(ev.service, ev.time, label, known))
                if ev.service and ev.name == "UpdateService" and label else
                revert(ev, events[:i], facts))
        out.append(Change(time=ev.time, event=ev.name, actor=ev.actor, resource=_primary(ev),
                          source=CLOUDTRAIL, refs=ev.refs, revert=undo, service=ev.service,
                          routine=ev.invoked_by is not None,
                          automatic=ev.invoked_by is not None, task_definition=label,
                          detail=_detail(ev)))
    return sorted(out, key=lambda c: (c.time, c.source, c.event, c.resource))


def _deploys(ev: TrailEvent) -> bool:
    """A call that starts a deployment: CreateService, or UpdateService with a task
    definition or forceNewDeployment (a desired count alone scales, it deploys nothing)."""
    if ev.invoked_by is not None:
        return False
    return ev.name == "CreateService" or (ev.name == "UpdateService" and bool(
        ev.params.get("taskDefinition") or ev.params.get("forceNewDeployment")))


def _matching_call(dep: _Deployment, events: Sequence[TrailEvent], used: set[int],
                   windows: Windows) -> TrailEvent | None:
    """The UpdateService/CreateService call behind a deployment: same service, within
    `merge_s`, the closest one not already taken."""
    best: tuple[float, int] | None = None
    for i, ev in enumerate(events):
        if i in used or ev.service != dep.service or not _deploys(ev):
            continue
        distance = abs((ev.time - dep.time).total_seconds())
        if distance <= windows.merge_s and (best is None or distance < best[0]):
            best = (distance, i)
    if best is None:
        return None
    used.add(best[1])
    return events[best[1]]

