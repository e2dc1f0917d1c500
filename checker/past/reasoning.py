"""When each diagnosis began, what change most plausibly started it, and whether it is over.

- `onset`: the earliest failure evidence behind the diagnosis: the stopped tasks and
  service events its failing evidence names (`tasks`, `first_at`, `events`), and the
  alarms in ALARM on its path. Null when nothing behind it is dated (a configuration or
  metric finding).
- `trigger` (only when the bundle holds history): the change to a resource on the
  diagnosis' evidence path — its services, its findings' resources and the ids their data
  names, the services' own task definitions, roles, security groups, subnets and target
  groups — made at most `Windows.trigger_s` before the onset, or before the launch of the
  first failing task; the latest such change wins. Rollbacks and changes AWS services make
  on their own are never named, tags are not changes (checker.past.changes), and a change
  to another service is on no path but its own.
- `status` (only with history): `resolved` when every failure behind it predates a change
  on its path after which a recovery signal (steady state, completed deployment, alarm back
  to OK) is at least `Windows.recovery_s` old (a rollback counts as that change, an AWS
  service scaling on its own does not), nothing on its path fails since, its
  services run their desired count, and all its failing evidence is about the past
  (stopped tasks, dated events): a failing configuration or metric check means it is not
  over. A resolved diagnosis weighs as `low` at most and ranks below every active one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from checker.facts import Facts, obj, objs
from checker.model import RESOLVED, Diagnosis, Severity, Status, Trigger, short_name
from checker.past.changes import Change, changes
from checker.past.happenings import Happening, happenings
from checker.past.records import has_history, tasks_by_id
from checker.past.refs import refs_in
from checker.past.text import clean, clock, gap, iso, when
from checker.past.windows import DEFAULT, Windows
from checker.rank import score
from checker.ranking import DEFAULT as DEFAULT_WEIGHTS
from checker.ranking import Weights

#: Calls that take something away: what breaks a working path far more often than what
#: adds to it (Terraform revokes the old rule before it authorizes the new one).
SUBTRACTIVE = ("Delete", "Revoke", "Detach", "Disassociate", "Deregister", "Remove",
               "Disable", "Terminate")
#: Evidence roles that stand behind a diagnosis (a contradicting finding does not, and a
#: missing one did not fail).
_BEHIND = frozenset({"symptom", "confirm", "support"})


@dataclass(frozen=True, slots=True)
class Failures:
    """The dated failures behind a diagnosis, and the launch of its first failing task."""

    times: tuple[dt.datetime, ...]
    first_launch: dt.datetime | None

    @property
    def onset(self) -> dt.datetime | None:
        return min(self.times) if self.times else None


def services_of(d: Diagnosis) -> list[str]:
    return [r for r in d.resources if ":service/" in r]


def named(d: Diagnosis) -> frozenset[str]:
    """The resources the failing evidence itself names (its findings' resources and the
    ids in their data), services aside: a change to one of these is the most telling."""
    refs = set(refs_in([r for r in d.resources if ":service/" not in r]))
    for ev in d.evidence:
        if ev.role in _BEHIND and ev.status is Status.FAIL:
            refs.update(refs_in(ev.resource))
            refs.update(refs_in(ev.data))
    return frozenset(r for r in refs if ":service/" not in r)


def path(facts: Facts, d: Diagnosis) -> frozenset[str]:
    """Every resource on the diagnosis' evidence path (module docstring), as refs."""
    refs = set(named(d)) | set(services_of(d))
    for arn in services_of(d):
        svc = facts.service_of_arn(arn) if facts.has("services") else None
        if svc is None:
            continue
        tds = [svc.get("taskDefinition"), *(dep.get("taskDefinition")
                                            for dep in objs(svc.get("deployments")))]
        for td_arn in tds:
            refs.update(refs_in(td_arn))
            td = facts.task_definition(td_arn) if facts.has("task_definitions") else None
            refs.update(refs_in([obj(td).get("taskRoleArn"), obj(td).get("executionRoleArn")]))
        vpc = obj(obj(svc.get("networkConfiguration")).get("awsvpcConfiguration"))
        refs.update(refs_in([vpc.get("securityGroups"), vpc.get("subnets")]))
        refs.update(refs_in([lb.get("targetGroupArn") for lb in objs(svc.get("loadBalancers"))]))
    return frozenset(refs)


def _on_path(h: Happening, services: set[str], refs: frozenset[str]) -> bool:
    return bool(h.services & services or h.refs & refs)


def failures(facts: Facts, d: Diagnosis, refs: frozenset[str]) -> Failures:
    """What `onset` reads (module docstring)."""
    times: list[dt.datetime] = []
    launches: list[tuple[dt.datetime, dt.datetime]] = []
    known = tasks_by_id(facts)
    for ev in d.evidence:
        if ev.role not in _BEHIND or ev.status is not Status.FAIL:
            continue
        data = ev.data
        times += [t for key in ("first_at", "last_at") if (t := when(data.get(key)))]
        named = data.get("tasks")
        for tid in named if isinstance(named, list) else []:
            task = known.get(str(tid))
            stop = when(obj(task).get("stoppedAt")) if obj(task).get(
                "lastStatus") == "STOPPED" else None
            if stop is not None:
                times.append(stop)
                launch = when(obj(task).get("createdAt")) or when(obj(task).get("startedAt"))
                launches.append((stop, launch or stop))
        events = [*objs(data.get("events")), obj(data.get("latest"))]
        times += [t for e in events if (t := when(e.get("created_at")))]
    services = set(services_of(d))
    times += [h.time for h in happenings(facts) if h.kind == "alarm" and h.failure
              and _on_path(h, services, refs)]
    first = min(launches)[1] if launches else None
    return Failures(tuple(sorted(times)), first)


def trigger(d: Diagnosis, refs: frozenset[str], found: Failures, all_changes: Sequence[Change],
            windows: Windows) -> Change | None:
    """The most plausible change on the path within the window before the onset, or None:
    one to a resource the failing evidence names before one that reaches the path only
    through the service; one that takes something away (a deleted route, a revoked rule)
    before one that adds; then the latest."""
    onset = found.onset
    if onset is None:
        return None
    start = min(onset, found.first_launch or onset) - dt.timedelta(seconds=windows.trigger_s)
    fits = [c for c in all_changes if not c.routine and c.refs & refs and start <= c.time <= onset]
    if not fits:
        return None
    specific = named(d)
    return max(fits, key=lambda c: (bool(c.refs & specific), c.event.startswith(SUBTRACTIVE),
                                    c.time, c.source, c.event, c.resource))


def _steady_now(facts: Facts, d: Diagnosis) -> bool:
    """Every service of the diagnosis runs at least its desired count right now."""
    for arn in services_of(d):
        svc = facts.service_of_arn(arn) if facts.has("services") else None
        desired, running = obj(svc).get("desiredCount"), obj(svc).get("runningCount")
        if isinstance(desired, int) and isinstance(running, int) and running < desired:
            return False
    return True


def resolution(facts: Facts, d: Diagnosis, refs: frozenset[str], found: Failures,
               all_changes: Sequence[Change], past_checks: frozenset[str],
               windows: Windows) -> str | None:
    """The why line saying what fixed it, or None while the diagnosis is active."""
    if not found.times or not _steady_now(facts, d):
        return None
    if any(ev.role in _BEHIND and ev.status is Status.FAIL and ev.check not in past_checks
           and not ev.data.get("events") for ev in d.evidence):
        return None  # a configuration or metric check fails now: not over
    services = set(services_of(d))
    mine = [h for h in happenings(facts) if _on_path(h, services, refs)]
    if any(h.kind == "alarm" and h.failure for h in mine):
        return None
    last = max([*found.times, *(h.time for h in mine if h.failure)])
    latest_ok = facts.collected_at - dt.timedelta(seconds=windows.recovery_s)
    for fix in (c for c in all_changes if c.time > last and c.refs & refs and not c.automatic):
        signal = next((h for h in mine if h.recovery and fix.time <= h.time <= latest_ok), None)
        if signal is not None:
            now = facts.collected_at
            return clean(f"resolved: {fix.event} at {clock(fix.time, now)} by {fix.actor}; "
                         f"{_signal(signal)} at {clock(signal.time, now)}, no failure since "
                         f"the last at {clock(last, now)}", 400)
    return None


def _signal(h: Happening) -> str:
    if h.kind == "alarm":
        return "alarm back to OK"
    return "deployment completed" if "deployment" in h.summary.lower() and (
        "completed" in h.summary.lower()) else "steady state"


def began_line(onset: dt.datetime, change: Change | None, now: dt.datetime) -> str:
    """`began 14:04, 2 min after DeleteRoute on rtb-… by user/ops-admin`."""
    line = f"began {clock(onset, now)}"
    if change is None:
        return line
    return (f"{line}, {gap((onset - change.time).total_seconds())} after "
            f"{clean(change.event, 120)} on {clean(short_name(change.resource), 120)} by "
            f"{clean(change.actor, 120)}")


def to_trigger(change: Change) -> Trigger:
    """The report's trigger: every text from AWS cleaned (checker.past.text.clean); a
    revert whose values hold control characters is dropped rather than printed."""
    revert = change.revert if change.revert and change.revert.isprintable() else None
    return Trigger(time=iso(change.time), actor=clean(change.actor, 200),
                   event=clean(change.event, 200), resource=clean(change.resource, 400),
                   source=change.source, revert=revert)


def annotate(facts: Facts, diagnoses: Sequence[Diagnosis], past_checks: Iterable[str],
             weights: Weights = DEFAULT_WEIGHTS, windows: Windows = DEFAULT) -> list[Diagnosis]:
    """Onset on every diagnosis; with history also trigger, status and their why lines;
    then resolved ones weighed as `low` at most and placed after every active one."""
    history = has_history(facts)
    all_changes = changes(facts, windows) if history else []
    past = frozenset(past_checks)
    # the evidence path is matched against changes (history) and failing alarms only:
    # without either it is not worked out (x10 of the bench: 0.19 s for 82 diagnoses)
    on_path = history or any(h.kind == "alarm" and h.failure for h in happenings(facts))
    out: list[Diagnosis] = []
    for d in diagnoses:
        refs = path(facts, d) if on_path else frozenset()
        found = failures(facts, d, refs)
        onset = found.onset
        if not history:
            out.append(replace(d, onset=iso(onset) if onset else None))
            continue
        cause = trigger(d, refs, found, all_changes, windows)
        why = [began_line(onset, cause, facts.collected_at)] if onset else []
        fixed = resolution(facts, d, refs, found, all_changes, past, windows)
        new = replace(d, onset=iso(onset) if onset else None,
                      trigger=to_trigger(cause) if cause else None,
                      why=(*([fixed] if fixed else []), *why, *d.why))
        out.append(_resolved(new, weights) if fixed else new)
    return _order(out)


def _resolved(d: Diagnosis, weights: Weights) -> Diagnosis:
    severity = Severity.LOW if d.severity.at_least(Severity.LOW) else d.severity
    return replace(d, status=RESOLVED, severity=severity,
                   score=score(weights.severity(severity), d.confidence, d.impact, weights))


def _order(diagnoses: list[Diagnosis]) -> list[Diagnosis]:
    """Active ones in the ranking's order, then resolved ones by score: a fixed incident
    never outranks one that is going on."""
    active = [d for d in diagnoses if d.status != RESOLVED]
    done = sorted((d for d in diagnoses if d.status == RESOLVED),
                  key=lambda d: (-d.score, d.severity.order, d.id, d.resources))
    return [replace(d, rank=i) for i, d in enumerate(active + done, 1)]
