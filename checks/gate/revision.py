"""The candidate against the revision the service runs now.

A deployment changes more than the author remembers: the diff (field path, running →
candidate) is the reviewer's view, and four of its kinds of change are checks of their own
because they cause incidents: a memory limit below what the service actually used
(AWS/ECS MemoryUtilization Maximum × the running limit), CPU or memory going down, and a
health check or log configuration that disappears. Containers are paired by name, as ECS
pairs them. Environment values and commands may hold secrets: the diff says that they
changed, never what they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, arn_name, obj
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.gate import DEV_DOCS, Target, target
from checks.lib.labels import human_duration, td_label
from checks.lib.series import parse
from checks.lib.taskdefs import (
    PARAMS_DOCS,
    container_name,
    containers,
    cpu_units,
    memory_bound,
    memory_mib,
    memory_path,
)
from checks.lib.values import int_or_none

#: A new limit within this share above the observed peak is too tight to call safe.
HEADROOM = 0.10
HIDDEN = "(changed)"


@dataclass(frozen=True)
class Change:
    path: str
    running: Any
    candidate: Any

    def text(self) -> str:
        return f"{self.path}: {_show(self.running)} → {_show(self.candidate)}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "running": self.running, "candidate": self.candidate}


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "…"


def pairs(running: Item, candidate: Item) -> Iterator[tuple[int | None, Item | None, Item]]:
    """(candidate index or None, candidate container or None, running container)."""
    new = {container_name(c): (i, c) for i, c in enumerate(containers(candidate))}
    for old in containers(running):
        index, ctr = new.get(container_name(old), (None, None))
        yield index, ctr, old


def _ports(ctr: Item) -> list[str]:
    out = []
    for pm in ctr.get("portMappings", []) or []:
        if isinstance(pm, dict):
            host = pm.get("hostPort")
            out.append(f"{pm.get('containerPort')}/{pm.get('protocol', 'tcp')}"
                       + (f" (host {host})" if host not in (None, 0) else ""))
    return sorted(out)


def _health(ctr: Item) -> str | None:
    command = obj(ctr.get("healthCheck")).get("command")
    if not command:
        return None
    return " ".join(str(c) for c in command) if isinstance(command, list) else str(command)


def _logs(ctr: Item) -> str | None:
    log = obj(ctr.get("logConfiguration"))
    driver = log.get("logDriver")
    if not driver:
        return None
    group = obj(log.get("options")).get("awslogs-group")
    return f"{driver} ({group})" if group else str(driver)


def _named(ctr: Item, key: str, field: str) -> dict[str, str]:
    return {str(e.get("name")): str(e.get(field)) for e in ctr.get(key, []) or []
            if isinstance(e, dict) and e.get("name")}


_TOP = ("cpu", "memory", "networkMode", "taskRoleArn", "executionRoleArn",
        "requiresCompatibilities", "runtimePlatform", "pidMode", "ipcMode")
_PLAIN = ("image", "cpu", "memory", "memoryReservation", "essential")


#: What ECS fills in when a field is left out: not a change.
_TOP_DEFAULTS: dict[str, Any] = {"networkMode": "bridge"}
_CONTAINER_DEFAULTS: dict[str, Any] = {"essential": True, "cpu": 0}


def _value(item: Item, key: str, defaults: dict[str, Any]) -> Any:
    value = item.get(key)
    return defaults.get(key) if value in (None, [], {}) else value


def diff(running: Item, candidate: Item) -> list[Change]:
    out = [Change(k, _value(running, k, _TOP_DEFAULTS), _value(candidate, k, _TOP_DEFAULTS))
           for k in _TOP
           if _value(running, k, _TOP_DEFAULTS) != _value(candidate, k, _TOP_DEFAULTS)]
    for index, ctr, old in pairs(running, candidate):
        if ctr is None:
            out.append(Change("containerDefinitions", container_name(old), None))
            continue
        out += _container_diff(f"containerDefinitions[{index}]", old, ctr)
    old_names = {container_name(c) for c in containers(running)}
    out += [Change(f"containerDefinitions[{i}]", None, container_name(c))
            for i, c in enumerate(containers(candidate)) if container_name(c) not in old_names]
    return out


def _container_diff(base: str, old: Item, new: Item) -> list[Change]:
    out = [Change(f"{base}.{k}", _value(old, k, _CONTAINER_DEFAULTS),
                  _value(new, k, _CONTAINER_DEFAULTS)) for k in _PLAIN
           if _value(old, k, _CONTAINER_DEFAULTS) != _value(new, k, _CONTAINER_DEFAULTS)]
    for key, get in (("portMappings", _ports), ("healthCheck", _health),
                     ("logConfiguration", _logs)):
        if get(old) != get(new):
            out.append(Change(f"{base}.{key}", get(old), get(new)))
    for key in ("command", "entryPoint"):
        if (old.get(key) or None) != (new.get(key) or None):
            out.append(Change(f"{base}.{key}", HIDDEN if old.get(key) else None,
                              HIDDEN if new.get(key) else None))
    for key, field in (("environment", "value"), ("secrets", "valueFrom")):
        before, after = _named(old, key, field), _named(new, key, field)
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                shown = key == "secrets"  # valueFrom is an ARN, not the secret
                out.append(Change(f"{base}.{key}.{name}",
                                  (before.get(name) if shown else HIDDEN) if name in before
                                  else None,
                                  (after.get(name) if shown else HIDDEN) if name in after
                                  else None))
    return out


# -- checks --------------------------------------------------------------------------------

#: What the revision checks need: the candidate, and the target service (with the revision
#: it runs now, kept in the gate's input).
NEEDS = ("gate", "task_definitions", "services")


def _nothing_to_compare(t: Target) -> Result | None:
    """Why there is no running revision to compare with, or None when there is one."""
    if t.service is None:
        return skipped(t.arn, "needs --service (the revision it runs now)", path="")
    if t.running is None:
        return unknown(t.arn, f"service {t.service_label}: running task definition "
                       f"{t.running_arn} was not collected", service=t.service_arn, path="")
    return None


@check(id="gate-revision-diff", area="gate", severity=Severity.INFO,
       title="What changes compared with the running revision", needs=NEEDS,
       docs=f"{DEV_DOCS}/update-task-definition-console-v2.html", emits=("diff", "running"))
def gate_revision_diff(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Field by field, running → candidate (environment and secrets by name only), so the
    reviewer sees what the deployment changes. A candidate of another family is not a new
    revision of what the service runs but another task definition: usually the wrong file."""
    t = target(facts)
    why, running = _nothing_to_compare(t), t.running
    if why is not None or running is None:
        yield why or skipped(t.arn, "nothing to compare", path="")
        return
    changes = diff(running, t.td)
    head = f"{t.label} vs running {td_label(running)} (service {t.service_label})"
    family, running_family = t.td.get("family"), running.get("family")
    if family != running_family:
        yield failed(t.arn, f"{head}: family {family} replaces {running_family}: another task "
                     "definition, not a new revision of the one the service runs (wrong file?)",
                     service=t.service_arn, severity=Severity.MEDIUM, path="family",
                     running=td_label(running), diff=[c.to_dict() for c in changes])
        return
    if not changes:
        yield passed(t.arn, f"{head}: no change in the compared fields", service=t.service_arn,
                     path="", diff=[])
        return
    shown = "; ".join(c.text() for c in changes[:8])
    more = f"; and {len(changes) - 8} more" if len(changes) > 8 else ""
    yield passed(t.arn, f"{head}: {len(changes)} change(s): {shown}{more}",
                 service=t.service_arn, path="", running=td_label(running),
                 diff=[c.to_dict() for c in changes])


def _peak(facts: Facts, svc: Item, metric: str) -> tuple[float | None, str]:
    """Highest AWS/ECS `metric` Maximum of the service, and the window it covers."""
    dims = {"ClusterName": arn_name(str(svc.get("clusterArn", ""))),
            "ServiceName": str(svc.get("serviceName", ""))}
    times: list[float] = []
    values: list[float] = []
    for raw in facts.metric("AWS/ECS", metric, dims, "Maximum"):
        series = parse(raw)
        times += series.times
        values += series.values
    if not values:
        return None, ""
    return max(values), human_duration(max(times) - min(times)) if len(times) > 1 else ""


@check(id="gate-memory-below-peak", area="gate", severity=Severity.HIGH,
       title="Memory limit is below what the running revision used",
       needs=(*NEEDS, "metrics"), docs=f"{DEV_DOCS}/service_utilization.html",
       emits=("candidate_mib", "peak_mib", "peak_pct", "running_mib"))
def gate_memory_below_peak(facts: Facts, prior: Prior) -> Iterator[Result]:
    """AWS/ECS MemoryUtilization Maximum × the running limit is the most a task of the
    service used; a new limit below it is an OOM kill (exit 137) at the next busy hour."""
    t = target(facts)
    why, running, service = _nothing_to_compare(t), t.running, t.service
    if why is not None or running is None or service is None:
        yield why or skipped(t.arn, "needs --service", path="")
        return
    old, _ = memory_bound(running)
    new, new_kind = memory_bound(t.td)
    svc = t.service_arn
    if old is None or new is None:
        which = "running revision" if old is None else "candidate"
        yield skipped(t.arn, f"{which} is sized by soft limits (memoryReservation) only: "
                      "utilisation is relative to them", service=svc, path="")
        return
    pct, window = _peak(facts, service, "MemoryUtilization")
    if pct is None:
        yield unknown(t.arn, f"service {t.service_label}: needs AWS/ECS MemoryUtilization "
                      "(Maximum); no datapoint in the window (no task running?)", service=svc,
                      path="")
        return
    used = pct / 100 * old
    span = f" over {window}" if window else ""
    text = (f"{t.label}: {new_kind} {new} MiB vs {used:.0f} MiB the running "
            f"{td_label(running)} peaked at (MemoryUtilization Maximum {pct:.0f}% of {old} MiB"
            f"{span})")
    data: dict[str, Any] = {"candidate_mib": new, "running_mib": old,
                            "peak_pct": round(pct, 1), "peak_mib": round(used)}
    path = memory_path(t.td)
    if new < used:
        yield failed(t.arn, text + " — below what a task already used: an OOM kill (exit 137) "
                     "at the next busy hour", service=svc, path=path, **data)
    elif new < used * (1 + HEADROOM):
        yield failed(t.arn, text + f" — less than {HEADROOM:.0%} headroom", service=svc,
                     severity=Severity.MEDIUM, path=path, **data)
    else:
        yield passed(t.arn, text, service=svc, path=path, **data)


def _reductions(running: Item, td: Item) -> list[Change]:
    out = []
    for key, parse_size in (("cpu", cpu_units), ("memory", memory_mib)):
        before, after = parse_size(running.get(key)), parse_size(td.get(key))
        if before and after is not None and after < before:
            out.append(Change(key, before, after))
    for index, ctr, old in pairs(running, td):
        for key in ("cpu", "memory", "memoryReservation"):
            before = int_or_none(old.get(key))
            after = int_or_none(ctr.get(key)) if ctr is not None else None
            if ctr is not None and before and after is not None and after < before:
                out.append(Change(f"containerDefinitions[{index}].{key}", before, after))
    return out


@check(id="gate-resources-reduced", area="gate", severity=Severity.MEDIUM,
       title="CPU or memory goes down compared with the running revision", needs=NEEDS,
       docs=f"{PARAMS_DOCS}#task_size", emits=("diff",))
def gate_resources_reduced(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Shrinking a task is sometimes the point, but it is also the usual typo; the gate
    shows each reduction with the peak the service reached."""
    t = target(facts)
    why, running = _nothing_to_compare(t), t.running
    if why is not None or running is None or t.service is None:
        yield why or skipped(t.arn, "needs --service", path="")
        return
    svc, changes = t.service_arn, _reductions(running, t.td)
    head = f"{t.label} vs running {td_label(running)}"
    if not changes:
        yield passed(t.arn, f"{head}: no CPU or memory reduction", service=svc, path="")
        return
    note, severity = _cpu_note(t, running, changes)
    yield failed(t.arn, f"{head}: reduces " + "; ".join(c.text() for c in changes) + note,
                 service=svc, severity=severity, path=changes[0].path,
                 diff=[c.to_dict() for c in changes])


def _cpu_note(t: Target, running: Item, changes: list[Change]) -> tuple[str, Severity | None]:
    """With the CPU peak known, a task CPU below it is worse than a plain reduction."""
    cut, service = next((c for c in changes if c.path == "cpu"), None), t.service
    if cut is None or service is None or not t.facts.has("metrics"):
        return "", None
    pct, window = _peak(t.facts, service, "CPUUtilization")
    if pct is None:
        return "", None
    used = pct / 100 * cut.running
    span = f" over {window}" if window else ""
    note = f" (CPU peaked at {pct:.0f}% of {cut.running} units = {used:.0f} units{span})"
    return note, Severity.HIGH if cut.candidate < used else None


def _healthy_dependents(td: Item, name: str) -> list[str]:
    return sorted(container_name(c) for c in containers(td)
                  for dep in c.get("dependsOn", []) or []
                  if isinstance(dep, dict) and dep.get("containerName") == name
                  and dep.get("condition") == "HEALTHY")


def _kept_or_removed(facts: Facts, field: str, read: Callable[[Item], str | None],
                     what: str) -> Iterator[Result | tuple[Target, str, str, Change]]:
    """The containers whose running revision had `field`, paired with the candidate's
    (by name, as ECS pairs them): a Result when there is nothing to compare, else
    (target, path, container name, change) for the check to judge."""
    t = target(facts)
    why, running = _nothing_to_compare(t), t.running
    if why is not None or running is None:
        yield why or skipped(t.arn, "nothing to compare", path="")
        return
    had = False
    for index, ctr, old in pairs(running, t.td):
        if read(old) is None or ctr is None:
            continue
        had = True
        path = f"containerDefinitions[{index}].{field}"
        yield t, path, container_name(old), Change(path, read(old), read(ctr))
    if not had:
        yield skipped(t.arn, f"running {td_label(running)} has no {what}",
                      service=t.service_arn, path="")


@check(id="gate-health-check-removed", area="gate", severity=Severity.MEDIUM,
       title="Container health check disappears", needs=NEEDS,
       docs=f"{PARAMS_DOCS}#container_definition_healthcheck", emits=("container", "diff"))
def gate_health_check_removed(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without its health check ECS no longer replaces a hung container, and dependsOn
    HEALTHY conditions on it cannot be met."""
    for item in _kept_or_removed(facts, "healthCheck", _health, "container health check"):
        if isinstance(item, Result):
            yield item
            continue
        t, path, name, change = item
        if change.candidate is not None:
            yield passed(t.arn, f"{t.label} container {name}: health check kept",
                         service=t.service_arn, path=path, container=name)
            continue
        waiting = _healthy_dependents(t.td, name)
        tail = (f"; {', '.join(waiting)} wait(s) for it to be HEALTHY and will never start"
                if waiting else "; ECS no longer replaces it when it hangs")
        yield failed(t.arn, f"{t.label} container {name}: health check removed ({change.text()})"
                     + tail, service=t.service_arn, severity=Severity.HIGH if waiting else None,
                     path=path, container=name, diff=[change.to_dict()])


@check(id="gate-log-configuration-removed", area="gate", severity=Severity.MEDIUM,
       title="Container log configuration disappears", needs=NEEDS,
       docs=f"{PARAMS_DOCS}#container_definition_storage", emits=("container", "diff"))
def gate_log_configuration_removed(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A container that loses its log driver loses the one message that says why it
    crashed."""
    for item in _kept_or_removed(facts, "logConfiguration", _logs, "log configuration"):
        if isinstance(item, Result):
            yield item
            continue
        t, path, name, change = item
        if change.candidate is None:
            yield failed(t.arn, f"{t.label} container {name}: log configuration removed "
                         f"({change.text()}): its output will be lost", service=t.service_arn,
                         path=path, container=name, diff=[change.to_dict()])
        else:
            yield passed(t.arn, f"{t.label} container {name}: logs kept ({change.text()})",
                         service=t.service_arn, path=path, container=name)
