"""Stopped tasks: why they stopped, grouped per service (per task group for standalone tasks).

ECS keeps stopped tasks visible for about an hour (AWS-FACTS.md §5), so "the window" of
these checks is what the bundle shows: roughly the last hour before collection, or, with
`task_history`, as far back as the history reaches (checks/lib/task_window.py: the tasks
counted once by taskArn, the API's item winning; the messages say the window and when the
first stop was). Every task is classified once by checks/lib/stop_reasons.py; each check
below reads one problem category.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Callable, Iterator
from typing import Any

from checker.facts import Facts, Item, arn_name, obj, objs, task_definition_label
from checker.model import Result, Severity, failed, passed, unknown
from checker.registry import Prior, check
from checks.lib.labels import human_duration, span, task_id, uptime_seconds
from checks.lib.stop_reasons import (
    Stop,
    Subject,
    causes,
    hint,
    image_of,
    memory_limit_of,
    registry_of,
    shorten,
    soft_limit_of,
    subjects,
    tally,
    task_definition_of,
)
from checks.lib.task_window import HOUR, first_text, newest, past_data, stopped_at
from checks.lib.values import int_or_none

ERRORS_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html"

#: Below this median uptime an OOM is "at start / under load"; above LEAK_UPTIME it is the
#: signature of a leak (memory grows with time, not with a burst).
LEAK_UPTIME_S = 3600.0
START_UPTIME_S = 900.0
#: This many application-error exits of one service in the window make a crash loop.
CRASH_LOOP_MIN = 3
#: A health-check kill within this long after the grace period ended hit a task that was
#: most likely still starting.
EARLY_KILL_S = 300.0

Hits = list[tuple[Item, Stop]]
Describe = Callable[[Facts, Subject, Hits], Result]


def _tasks(n: int) -> str:
    return f"{n} stopped task{'' if n == 1 else 's'}"


def _hits(sub: Subject, *cats: str) -> Hits:
    return [(t, s) for t, s in sub.stops if s.category in cats]


def _each(facts: Facts, cats: tuple[str, ...], what: str, describe: Describe) -> Iterator[Result]:
    """One result per service with stopped tasks: `describe` when any is in `cats`."""
    for sub in subjects(facts):
        hits = _hits(sub, *cats)
        if hits:
            yield describe(facts, sub, hits)
        else:
            yield passed(sub.key, f"{sub.label}: none of {_tasks(len(sub.stops))} {what} "
                         f"({sub.window.paren})", service=sub.arn)


def _head(sub: Subject, hits: Hits) -> str:
    return f"{sub.label}: {len(hits)} of {len(sub.stops)} stopped tasks ({sub.window.paren})"


def _data(sub: Subject, hits: Hits, shortfall: bool = False) -> dict[str, Any]:
    """What every stopped-task finding carries; `cause` is the most frequent one."""
    stops = [s for _, s in hits]
    causes = tally(s.cause or "other" for s in stops)
    cause = next(iter(causes))
    rep = _rep(hits, cause)
    return {"count": len(hits), "stopped": len(sub.stops), "cause": cause, "causes": causes,
            "tasks": _ids(sub, hits), "reason": rep.reason, "target": rep.target,
            "containers": sorted({s.container for s in stops if s.container}),
            "affected_tasks": sub.affected(len(hits), shortfall), **_past(sub, hits)}


def _ids(sub: Subject, hits: Hits) -> list[str]:
    """The task ids a finding lists (the newest ones when history makes them many)."""
    return [task_id(t) for t, _ in newest(sub.window, hits, lambda h: h[0])]


def _listed_uptimes(sub: Subject, hits: Hits) -> list[int]:
    """The uptimes a finding lists (those of the newest stops when history makes them
    many): what oom-after-long-uptime and the health-check verdicts read."""
    return [round(u) for u in _uptimes(newest(sub.window, hits, lambda h: h[0]))]


def _past(sub: Subject, hits: Hits) -> dict[str, Any]:
    """`first_at`, `last_at`, `window` with task history; nothing without."""
    return past_data(sub.window, [t for t, _ in hits])


def _first(sub: Subject, hits: Hits) -> str:
    """`; first 01:12 UTC, 8h48m ago` with task history; "" without."""
    return first_text(sub.window, [t for t, _ in hits])


def _causes_text(causes: dict[str, int]) -> str:
    return ", ".join(f"{n} {c}" for c, n in causes.items())


def _why(reason: str, explanation: str, truncated: bool) -> str:
    cut = "; reason truncated by ECS" if truncated else ""
    return f"({shorten(reason) if reason else 'no reason text'}{cut}) — {explanation}"


def _rep(hits: Hits, cause: str) -> Stop:
    return next(s for _, s in hits if (s.cause or "other") == cause)


def _uptimes(hits: Hits) -> list[float]:
    return [u for t, _ in hits if (u := uptime_seconds(t)) is not None]


def _revision_data(task: Item) -> dict[str, Any]:
    """`family`, `revision` and `previous_revision` of the task's task definition, so a
    playbook can print a concrete rollback command."""
    label = task_definition_label(str(task.get("taskDefinitionArn", "")))
    family, _, rev = label.rpartition(":")
    if not family or not rev.isdigit():
        return {}
    out: dict[str, Any] = {"family": family, "revision": rev, "task_definition": label}
    if int(rev) > 1:
        out["previous_revision"] = str(int(rev) - 1)
    return out


@check(id="stopped-task-summary", area="stopped_tasks", severity=Severity.INFO,
       title="Why tasks stopped in the last hour, counted per service",
       needs=("tasks", "services"), docs=ERRORS_DOCS,
       emits=("categories", "causes", "problems", "stopped", "unknown_reasons"))
def stopped_task_summary(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The breakdown an engineer reads first in an incident: every stopped task of each
    service classified (category/cause). Deployments, scale-in and user stops are normal;
    any other category makes this fail (at info severity — the specific checks carry the
    weight). Unrecognised reasons are kept verbatim so nothing is silently dropped."""
    seen: set[str] = set()
    subs = subjects(facts)
    for sub in subs:
        seen.add(sub.key)
        stops = [s for _, s in sub.stops]
        problems = [s for s in stops if s.problem]
        labels = tally(s.label for s in stops)
        breakdown = ", ".join(f"{n} {label}" for label, n in labels.items())
        data: dict[str, Any] = {
            "stopped": len(stops), "problems": len(problems), "causes": labels,
            "categories": tally(s.category for s in stops),
            "unknown_reasons": sorted({s.reason for s in stops if s.category == "unknown"})}
        msg = f"{sub.label}: {_tasks(len(stops))} ({sub.window.paren}): {breakdown}"
        if problems:
            yield failed(sub.key, msg, service=sub.arn, **data)
        else:
            yield passed(sub.key, msg + " — all normal stops", service=sub.arn, **data)
    for svc in sorted(facts.services, key=lambda s: str(s.get("serviceArn"))):
        if str(svc.get("serviceArn")) not in seen:
            label = Subject(str(svc.get("serviceArn")), svc, []).label
            span = subs[0].window.paren if subs else HOUR.paren
            yield passed(str(svc.get("serviceArn")), f"{label}: no stopped tasks ({span})",
                         service=str(svc.get("serviceArn")), stopped=0)


@check(id="stopped-task-oom", area="stopped_tasks", severity=Severity.HIGH,
       title="Stopped tasks killed for exceeding their memory limit",
       needs=("tasks", "services"), docs=ERRORS_DOCS,
       emits={"affected_tasks": None, "containers": None, "count": None, "first_at": None,
              "hard_limit": (True, False), "last_at": None, "limit_text": None,
              "memory_limit_mib": None, "stopped": None, "tasks": None, "uptime": None,
              "uptimes_s": None, "window": None})
def stopped_task_oom(facts: Facts, prior: Prior) -> Iterator[Result]:
    """An OOM kill is reported as exit 137 and/or "OutOfMemoryError: Container killed due
    to memory usage" — and sometimes with exit 0 or no exit code, so the reason text is
    read first. Exit 137 after a requested stop is the stopTimeout kill, not OOM. The
    memory limit comes from task_definitions when they were collected; `hard_limit` says
    whether one bounded the container (a container with a soft reservation only is killed
    by its host's kernel when the host runs out, whatever it used), and `limit_text` names
    what it hit in words a summary can quote either way."""
    yield from _each(facts, ("oom",), "were OOM-killed", _describe_oom)


def _describe_oom(facts: Facts, sub: Subject, ooms: Hits) -> Result:
    first_task, first = ooms[0]
    containers = sorted({s.container or "?" for _, s in ooms})
    limit = memory_limit_of(facts, first_task, first.container)
    uptimes = _uptimes(ooms)
    limit_txt = f", memory hard limit {limit} MiB" if limit else ""
    soft = soft_limit_of(facts, first_task, first.container)
    what = (f"the {limit} MiB hard limit" if limit else
            f"its host's memory (no hard limit; a soft reservation of {soft} MiB)" if soft
            else "its host's memory (no hard limit)")
    return failed(
        sub.key,
        f"{sub.label}: {len(ooms)} of {len(sub.stops)} stopped tasks OOM-killed "
        f"{sub.window.within} (container {', '.join(containers)}, exit {first.exit_code}: "
        f"{first.reason[:90]!r}){limit_txt}; uptime before kill {span(uptimes)}"
        f"{_first(sub, ooms)}",
        service=sub.arn, count=len(ooms), stopped=len(sub.stops), containers=containers,
        memory_limit_mib=limit, hard_limit=limit is not None, limit_text=what,
        uptimes_s=_listed_uptimes(sub, ooms), uptime=span(uptimes),
        tasks=_ids(sub, ooms), affected_tasks=sub.affected(len(ooms)), **_past(sub, ooms),
    )


@check(id="oom-after-long-uptime", area="stopped_tasks", severity=Severity.HIGH,
       title="OOM kills come after hours of uptime (leak signature)",
       needs=("tasks", "services"), after=("stopped-task-oom",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/memory-management.html",
       emits=("median_uptime", "uptimes_s"))
def oom_after_long_uptime(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Memory that is too small for the load runs out soon after start; memory that leaks
    runs out after a long, similar uptime. Without metrics this uptime is the best leak
    evidence the bundle holds; the CloudWatch memory trend confirms it when collected."""
    for finding in prior.failed("stopped-task-oom"):
        uptimes = [float(u) for u in finding.data.get("uptimes_s", [])]
        who = finding.message.split(":", 1)[0]
        if not uptimes:
            yield unknown(finding.resource, f"{who}: startedAt/stoppedAt missing, cannot "
                          "tell a leak from an undersized limit", service=finding.service)
            continue
        median = statistics.median(uptimes)
        if median >= LEAK_UPTIME_S and min(uptimes) >= START_UPTIME_S:
            yield failed(finding.resource,
                         f"{who}: OOM-killed after {span(uptimes)} of uptime — memory grows "
                         "with time, the signature of a leak", service=finding.service,
                         median_uptime=human_duration(median), uptimes_s=uptimes)
        else:
            yield passed(finding.resource,
                         f"{who}: OOM-killed {span(uptimes)} after start — the limit is too "
                         "small for the load rather than a slow leak", service=finding.service,
                         median_uptime=human_duration(median), uptimes_s=uptimes)


@check(id="stopped-task-app-exit", area="stopped_tasks", severity=Severity.HIGH,
       title="Essential container keeps exiting with an error (crash loop)",
       needs=("tasks", "services"), docs=ERRORS_DOCS,
       emits=("affected_tasks", "cluster", "containers", "count", "exit_codes", "family",
              "first_at", "last_at", "previous_revision", "revision", "task_definition",
              "tasks", "uptime", "uptimes_s", "window"))
def stopped_task_app_exit(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Three or more application-error exits (non-zero, not OOM, not a requested stop) of
    one service within the visible window — or two with nothing left running — is a crash
    loop: ECS restarts the task, it dies again, and the service scheduler backs off."""
    for sub in subjects(facts):
        errs = _hits(sub, "app-error", "segfault")
        desired = int_or_none(sub.service.get("desiredCount")) or 0 if sub.service else 0
        running = int_or_none(sub.service.get("runningCount")) if sub.service else None
        if len(errs) < CRASH_LOOP_MIN and not (len(errs) >= 2 and running == 0):
            yield passed(sub.key, f"{sub.label}: {len(errs)} application-error exits among "
                         f"{_tasks(len(sub.stops))} ({sub.window.paren})", service=sub.arn)
            continue
        codes = sorted({s.exit_code for _, s in errs if s.exit_code is not None})
        containers = sorted({s.container or "?" for _, s in errs})
        uptimes = _uptimes(errs)
        yield failed(
            sub.key,
            f"{sub.label}: essential container {', '.join(containers)} exited with code "
            f"{', '.join(map(str, codes))} in {len(errs)} of {len(sub.stops)} stopped tasks "
            f"({sub.window.paren}); each ran {span(uptimes)}{_first(sub, errs)}",
            service=sub.arn, count=len(errs), exit_codes=codes, containers=containers,
            tasks=_ids(sub, errs), uptimes_s=_listed_uptimes(sub, errs),
            uptime=span(uptimes), cluster=arn_name(str(errs[0][0].get("clusterArn", ""))),
            **_revision_data(_newest(sub, errs)), **_past(sub, errs),
            affected_tasks=desired - (running or 0) if desired else len(errs),
        )


def _newest(sub: Subject, hits: Hits) -> Item:
    """The task whose revision a rollback names: with history, the last to stop (older
    ones may run a revision long gone); without, the first by ARN, as always."""
    if not sub.window.history:
        return hits[0][0]
    return max(hits, key=lambda h: (stopped_at(h[0]) or dt.datetime.min.replace(
        tzinfo=dt.UTC), str(h[0].get("taskArn"))))[0]


@check(id="stopped-task-image-pull", area="stopped_tasks", severity=Severity.HIGH,
       title="Tasks stopped because their image could not be pulled",
       needs=("tasks", "services"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html",
       emits={"affected_tasks": None, "cause": causes("image-pull"), "causes": None,
              "containers": None, "count": None, "first_at": None, "image": None,
              "last_at": None, "registry": None, "stopped": None, "target": None,
              "tasks": None, "window": None})
def stopped_task_image_pull(facts: Facts, prior: Prior) -> Iterator[Result]:
    """CannotPullContainerError never gets the application to start, so its logs are empty:
    the cause is only in the reason text — no route to the registry (i/o timeout, no NAT or
    endpoint), no permission, a missing tag, a Docker Hub rate limit, or a full disk."""
    yield from _each(facts, ("image-pull",), "failed to pull their image", _describe_pull)


def _describe_pull(facts: Facts, sub: Subject, hits: Hits) -> Result:
    data = _data(sub, hits, shortfall=True)
    rep = _rep(hits, data["cause"])
    task = next(t for t, s in hits if s is rep)
    image = image_of(facts, task, rep)
    registry = registry_of(image)
    why = hint("image-pull", data["cause"], registry=registry)
    more = f"; causes: {_causes_text(data['causes'])}" if len(data["causes"]) > 1 else ""
    return failed(sub.key, f"{_head(sub, hits)} could not pull image {image or '?'} "
                  f"{_why(rep.reason, why, rep.truncated)}{more}{_first(sub, hits)}",
                  service=sub.arn,
                  image=image, registry=registry, **data)


@check(id="stopped-task-secrets-pull", area="stopped_tasks", severity=Severity.HIGH,
       title="Tasks stopped because secrets or registry auth could not be fetched",
       needs=("tasks", "services"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/resource-initialization-error.html",
       emits={"affected_tasks": None, "cause": causes("secrets-pull"), "causes": None,
              "containers": None, "count": None, "first_at": None, "last_at": None,
              "stopped": None, "target": None, "tasks": None, "window": None})
def stopped_task_secrets_pull(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Before any container starts, the task execution role fetches `secrets` from Secrets
    Manager or SSM and registry credentials; a missing secret, a missing permission or no
    network path to those endpoints stops the task with ResourceInitializationError."""
    yield from _each(facts, ("secrets-pull",), "failed to fetch secrets", _describe_secrets)


def _describe_secrets(facts: Facts, sub: Subject, hits: Hits) -> Result:
    data = _data(sub, hits, shortfall=True)
    rep = _rep(hits, data["cause"])
    target = rep.target or "Secrets Manager / SSM"
    why = hint("secrets-pull", data["cause"], target=target)
    more = f"; causes: {_causes_text(data['causes'])}" if len(data["causes"]) > 1 else ""
    return failed(sub.key, f"{_head(sub, hits)} could not fetch secrets from {target} "
                  f"{_why(rep.reason, why, rep.truncated)}{more}{_first(sub, hits)}",
                  service=sub.arn, **data)


@check(id="stopped-task-start-failure", area="stopped_tasks", severity=Severity.HIGH,
       title="Tasks stopped before their containers could start",
       needs=("tasks", "services"), docs=ERRORS_DOCS,
       emits=("affected_tasks", "cause", "causes", "containers", "count", "first_at",
              "last_at", "stopped", "target", "tasks", "window"))
def stopped_task_start_failure(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Tasks that never ran: the container could not be created or started
    (CannotCreate/CannotStartContainerError, runtime errors), the ENI could not be
    attached, the task timed out moving to RUNNING, the agent was gone, or a log group,
    EFS volume or env file could not be set up (ResourceInitializationError)."""
    yield from _each(facts, ("start-failure", "resource-init"), "failed to start",
                     _describe_start)


def _describe_start(facts: Facts, sub: Subject, hits: Hits) -> Result:
    data = _data(sub, hits, shortfall=True)
    rep = _rep(hits, data["cause"])
    why = hint(rep.category, data["cause"])
    return failed(sub.key, f"{_head(sub, hits)} failed to start: {_causes_text(data['causes'])}"
                  f" {_why(rep.reason, why, rep.truncated)}{_first(sub, hits)}",
                  service=sub.arn, **data)


def _killed_while_starting(uptimes: list[float], grace: float) -> bool:
    return bool(uptimes) and max(uptimes) <= grace + EARLY_KILL_S


def _health_data(sub: Subject, hits: Hits) -> dict[str, Any]:
    uptimes = _uptimes(hits)
    data = _data(sub, hits)
    del data["cause"], data["causes"], data["target"]
    return {**data, "uptimes_s": _listed_uptimes(sub, hits), "uptime": span(uptimes),
            "median_uptime": human_duration(statistics.median(uptimes)) if uptimes else "unknown"}


@check(id="stopped-task-elb-health", area="stopped_tasks", severity=Severity.HIGH,
       title="Tasks killed by load balancer health checks",
       needs=("tasks", "services"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/troubleshoot-service-load-balancers.html",
       emits={"affected_tasks": None, "containers": None, "count": None, "first_at": None,
              "grace_period_s": None, "last_at": None, "median_uptime": None, "stopped": None,
              "target_groups": None, "tasks": None, "window": None,
              "uptime": None, "uptimes_s": None, "while_starting": (True, False)})
def stopped_task_elb_health(facts: Facts, prior: Prior) -> Iterator[Result]:
    """ECS replaces a task its target group reports unhealthy. How long the task ran first
    tells the story: killed within minutes of the health check grace period ending means
    it was still starting (grace too short); killed after a long healthy run means the
    application itself became unhealthy."""
    yield from _each(facts, ("elb-health",), "were killed by ELB health checks", _describe_elb)


_TARGET_GROUP = re.compile(r"\((?:target-group|elb) ([^)\s]+)\)")


def _describe_elb(facts: Facts, sub: Subject, hits: Hits) -> Result:
    data = _health_data(sub, hits)
    grace = int_or_none(obj(sub.service).get("healthCheckGracePeriodSeconds")) or 0
    groups = sorted({m.group(1).split("/")[-2] if m.group(1).count("/") >= 2 else m.group(1)
                     for _, s in hits if (m := _TARGET_GROUP.search(s.reason))})
    early = _killed_while_starting(data["uptimes_s"], grace)
    verdict = (f"all within {round(EARLY_KILL_S / 60)} min after the grace period: killed while "
               "still starting" if early else "some after a healthy start: the application "
               "became unhealthy" if data["uptimes_s"] else "uptime unknown (no startedAt)")
    tg = f" (target group {', '.join(groups)})" if groups else ""
    return failed(sub.key, f"{_head(sub, hits)} were killed by ELB health checks{tg} after "
                  f"running {data['uptime']}; health check grace period {grace}s — {verdict}",
                  service=sub.arn, grace_period_s=grace, target_groups=groups,
                  while_starting=early, **data)


@check(id="stopped-task-container-health", area="stopped_tasks", severity=Severity.MEDIUM,
       title="Tasks killed by their container health check",
       needs=("tasks", "services"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/healthcheck.html",
       emits=("affected_tasks", "containers", "count", "first_at", "last_at", "median_uptime",
              "start_period_s", "stopped", "tasks", "uptime", "uptimes_s", "while_starting",
              "window"))
def stopped_task_container_health(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A container `healthCheck` that fails makes ECS replace the task; a startPeriod
    shorter than the application's start, or a check command missing from the image
    (curl), kills healthy tasks. startPeriod is read from task_definitions when present."""
    yield from _each(facts, ("container-health",), "were killed by a container health check",
                     _describe_container_health)


def _start_period(facts: Facts, task: Item, names: list[str]) -> int | None:
    defs = objs(obj(task_definition_of(facts, task)).get("containerDefinitions"))
    periods = [int_or_none(obj(d.get("healthCheck")).get("startPeriod")) or 0
               for d in defs if d.get("healthCheck") and (not names or d.get("name") in names)]
    return max(periods) if periods else None


def _describe_container_health(facts: Facts, sub: Subject, hits: Hits) -> Result:
    data = _health_data(sub, hits)
    names = sorted({str(c.get("name")) for t, _ in hits for c in objs(t.get("containers"))
                    if c.get("healthStatus") == "UNHEALTHY"}) or data["containers"]
    period = _start_period(facts, hits[0][0], names)
    early = period is not None and _killed_while_starting(data["uptimes_s"], period)
    period_txt = f"; healthCheck startPeriod {period}s" if period is not None else ""
    verdict = " — killed while still starting" if early else ""
    return failed(sub.key, f"{_head(sub, hits)} were killed by the container health check of "
                  f"{', '.join(names) or '?'} after running {data['uptime']}{period_txt}"
                  f"{verdict}", service=sub.arn, **{**data, "containers": names},
                  start_period_s=period, while_starting=early)


_PLANNED = {"maintenance", "drained"}
_INSTANCE = re.compile(r"\b(i-[0-9a-f]{8,17})\b")


@check(id="stopped-task-host-lost", area="stopped_tasks", severity=Severity.MEDIUM,
       title="Tasks stopped because their host went away",
       needs=("tasks", "services"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/spot-interruption-errors.html",
       emits=("affected_tasks", "cause", "causes", "containers", "count", "first_at",
              "instances", "last_at", "planned", "stopped", "target", "tasks", "window"))
def stopped_task_host_lost(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Spot reclaims, terminated or drained instances and Fargate maintenance stop tasks
    the application did nothing wrong in. Planned ones (drain, maintenance) are low
    severity; unplanned ones (Spot, termination) cost capacity until replacements start."""
    yield from _each(facts, ("host-lost",), "lost their host", _describe_host)


def _describe_host(facts: Facts, sub: Subject, hits: Hits) -> Result:
    data = _data(sub, hits)
    instances = sorted({m.group(1) for _, s in hits if (m := _INSTANCE.search(s.reason))})
    planned = set(data["causes"]) <= _PLANNED
    on = f" on {', '.join(instances)}" if instances else ""
    return failed(sub.key, f"{_head(sub, hits)} lost their host{on}: "
                  f"{_causes_text(data['causes'])} ({shorten(data['reason'], 80)}) — "
                  f"{hint('host-lost', data['cause'])}",
                  service=sub.arn, severity=Severity.LOW if planned else None,
                  instances=instances, planned=planned, **data)
