"""Container logs: what the last lines of a failing service's containers say.

The lines are the ``log_events`` the logs collector read (checker/collect/logs.py: the
essential container of the newest failing stopped tasks, one running task of a slow or
erroring service). Each line is classified once by checks/data/log_signatures.yaml
(checks/lib/log_signatures.py); each check below reports one class, per service, quoting the
newest matching line, shortened, with its time. ``container-logs-read`` says, per service,
whether there were lines to read at all: another log driver or a missing stream is
``unknown`` with the reason, no logConfiguration a failure (the output is lost). An exec
format error is judged against the image's manifest, which the scan reads for exactly those
containers (checker/collect/images.py; checks/lib/image_platform.py judges it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, attribute, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.image_platform import MATCH, MISMATCH, UNKNOWN, verdict
from checks.lib.labels import service_label
from checks.lib.log_signatures import Match, matches, read, streams_by_service

LOGS_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html"
MATCH_DATA = ("container", "count", "kind", "kinds", "line", "signature", "source", "task",
              "time")
NO_CONFIGURATION = "no logConfiguration"


def _label(facts: Facts, arn: str) -> str:
    svc = facts.service_of_arn(arn)
    return service_label(svc) if svc else arn.rsplit("/", 2)[-2] + "/" + arn.rsplit("/", 1)[-1]


def _lines(streams: list[Item]) -> int:
    return sum(len(objs(s.get("events"))) for s in streams)


def _data(found: list[Match]) -> dict[str, Any]:
    newest = found[0]
    kinds = Counter(m.signature.kind for m in found)
    return {"kind": newest.signature.kind, "kinds": sorted(kinds), "count": len(found),
            "line": newest.line, "time": newest.time.isoformat() if newest.time else None,
            "task": newest.task, "container": newest.container,
            "signature": newest.signature.id, "source": newest.signature.source,
            **newest.groups}


def by_class(facts: Facts, cls: str, what: str) -> Iterator[tuple[str, list[Match] | Result]]:
    """Per service with log lines: its matches of ``cls`` (newest first), or the pass or
    skipped result when there are none."""
    for arn, streams in sorted(streams_by_service(facts).items()):
        done = list(read(streams))
        label = _label(facts, arn)
        if not done:
            yield arn, skipped(arn, f"service {label}: no log lines could be read "
                               "(container-logs-read says why)", service=arn)
            continue
        found = matches(done, cls)
        if found:
            yield arn, found
        else:
            yield arn, passed(arn, f"service {label}: none of {_lines(done)} log lines of "
                              f"{len(done)} container(s) shows {what}", service=arn)


def _head(facts: Facts, arn: str, found: list[Match], what: str,
          quote: Match | None = None) -> str:
    tasks = len({m.task for m in found})
    return (f"service {_label(facts, arn)}: {len(found)} log line(s) of {tasks} task(s) show "
            f"{what}; {'newest ' if quote is None else ''}{(quote or found[0]).quote()}")


@check(id="container-logs-read", area="logs", severity=Severity.LOW,
       title="A failing service's container logs can be read",
       needs=("log_events",), docs=LOGS_DOCS, emits=("lines", "reasons", "streams"))
def container_logs_read(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without the lines the log checks cannot say anything: another driver (FireLens,
    Splunk) keeps them elsewhere (unknown, with where), no logConfiguration loses them."""
    for arn, streams in sorted(streams_by_service(facts).items()):
        label, done = _label(facts, arn), list(read(streams))
        reasons = sorted({str(s["unavailable"]) for s in streams if "unavailable" in s})
        data: dict[str, Any] = {"streams": len(streams), "lines": _lines(done),
                                "reasons": reasons}
        if done:
            yield passed(arn, f"service {label}: read {data['lines']} log lines of "
                         f"{len(done)} of {len(streams)} container(s)", service=arn, **data)
        elif any(NO_CONFIGURATION in r for r in reasons):
            yield failed(arn, f"service {label}: its failing container's output is lost: "
                         f"{reasons[0]}", service=arn, **data)
        else:
            yield unknown(arn, f"service {label}: no log lines read: {'; '.join(reasons)}",
                          service=arn, **data)


def _task(facts: Facts, task_arn: str) -> Item | None:
    return next((t for t in [*facts.tasks, *facts.stopped_tasks_with_history()]
                 if t.get("taskArn") == task_arn), None)


def architecture(facts: Facts, task_arn: str) -> tuple[str, str]:
    """(CPU architecture the task ran on, where that was read): the task definition's
    runtimePlatform, Fargate's default (X86_64), or the container instance's
    ``ecs.cpu-architecture`` attribute; ("unknown", why) when none says."""
    task = _task(facts, task_arn)
    if task is None:
        return "unknown", "task not in the bundle"
    td = facts.task_definition(task.get("taskDefinitionArn")) or {}
    declared = (td.get("runtimePlatform") or {}).get("cpuArchitecture")
    if declared:
        return str(declared), "task definition runtimePlatform"
    if task.get("launchType") == "FARGATE":
        return "X86_64", "Fargate default (no runtimePlatform)"
    ci = facts.container_instance(task.get("containerInstanceArn")) or {}
    arch = attribute(ci, "ecs.cpu-architecture")
    if arch:
        return arch.upper(), f"container instance {ci.get('ec2InstanceId', '?')}"
    return "unknown", "no runtimePlatform and no container instance attribute"


@check(id="log-exec-format-error", area="logs", severity=Severity.CRITICAL,
       title="Container logs show exec format error (image built for another CPU)",
       needs=("log_events",), after=("container-logs-read",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-arm64.html",
       emits={**dict.fromkeys(MATCH_DATA), "architecture": None, "architecture_from": None,
              "image": None, "image_platforms": None,
              "image_arch": (MATCH, MISMATCH, UNKNOWN), "image_why": None})
def log_exec_format_error(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The kernel refuses to run a binary with exactly these words (ENOEXEC). The task's
    architecture is named, and the image's, from its manifest (the scan reads it for these
    containers, checker/collect/images.py): ``image_arch`` says whether the image lacks the
    task's CPU (mismatch), carries it (match: something inside the image is the cause), or
    could not be told (unknown, with why)."""
    for arn, got in by_class(facts, "exec-format", "exec format error"):
        if isinstance(got, Result):
            yield got
            continue
        arch, source = architecture(facts, got[0].task)
        task = _task(facts, got[0].task)
        td = facts.task_definition(task.get("taskDefinitionArn")) if task else None
        image = verdict(facts, td, got[0].container, arch)
        yield failed(arn, f"{_head(facts, arn, got, 'exec format error')} — the task ran on "
                     f"{arch} ({source}); {image.why}", service=arn, architecture=arch,
                     architecture_from=source, image=image.image,
                     image_platforms=image.platforms, image_arch=image.arch,
                     image_why=image.why, **_data(got))


@check(id="log-no-space-left", area="logs", severity=Severity.HIGH,
       title="Container logs show no space left on device",
       needs=("log_events",), after=("container-logs-read",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-storage.html",
       emits=MATCH_DATA)
def log_no_space_left(facts: Facts, prior: Prior) -> Iterator[Result]:
    """ENOSPC / EDQUOT: the container's writable layer, a bind mount or the task's
    ephemeral storage is full."""
    for arn, got in by_class(facts, "disk-full", "a full disk"):
        if isinstance(got, Result):
            yield got
        else:
            yield failed(arn, _head(facts, arn, got, "no space left on device"), service=arn,
                         **_data(got))


@check(id="log-access-denied", area="logs", severity=Severity.HIGH,
       title="Container logs show AWS calls denied (AccessDenied / not authorized)",
       needs=("log_events",), after=("container-logs-read",),
       docs="https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html",
       emits=(*MATCH_DATA, "action", "actions", "principal"))
def log_access_denied(facts: Facts, prior: Prior) -> Iterator[Result]:
    """IAM's message names the principal and the action ("User: arn:…:assumed-role/web-task/…
    is not authorized to perform: s3:GetObject"); both are captured when the line has them."""
    for arn, got in by_class(facts, "access-denied", "an AWS call denied"):
        if isinstance(got, Result):
            yield got
            continue
        data = _data(got)
        actions = sorted({m.groups["action"] for m in got if "action" in m.groups})
        data["actions"] = actions
        named = f" ({', '.join(actions)})" if actions else ""
        yield failed(arn, _head(facts, arn, got, f"AWS calls denied{named}"), service=arn,
                     **data)


@check(id="log-dependency-unreachable", area="logs", severity=Severity.HIGH,
       title="Container logs show a dependency refusing, timing out or not resolving",
       needs=("log_events",), after=("container-logs-read",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/troubleshoot-service-load-balancers.html",
       emits=(*MATCH_DATA, "host", "hosts", "port"))
def log_dependency_unreachable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Connection refused, timed out or an unresolvable name: the service waits on
    something else. The host:port is captured where the runtime prints it."""
    for arn, got in by_class(facts, "dependency", "an unreachable dependency"):
        if isinstance(got, Result):
            yield got
            continue
        data = _data(got)
        hosts = sorted({f"{m.groups['host']}:{m.groups['port']}" if "port" in m.groups
                        else m.groups["host"] for m in got if "host" in m.groups})
        data["hosts"] = hosts
        named = f" ({', '.join(hosts[:3])})" if hosts else ""
        yield failed(arn, _head(facts, arn, got, f"{data['kind']}{named}"), service=arn,
                     **data)


@check(id="log-app-errors", area="logs", severity=Severity.HIGH,
       title="Container logs show a crash: out of memory, panic, traceback, exception",
       needs=("log_events",), after=("container-logs-read",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html",
       emits=(*MATCH_DATA, "exception"))
def log_app_errors(facts: Facts, prior: Prior) -> Iterator[Result]:
    """What the application printed as it died: the reason behind 'exit code 1'."""
    for arn, got in by_class(facts, "app-error", "a crash"):
        if isinstance(got, Result):
            yield got
            continue
        data = _data(got)
        # the exception line says more than the "Traceback" line above it
        named = next((m for m in got if "exception" in m.groups), None)
        if named is not None:
            data.update(line=named.line, exception=named.groups["exception"],
                        time=named.time.isoformat() if named.time else None)
        kinds = ", ".join(data["kinds"])
        yield failed(arn, _head(facts, arn, got, kinds, named), service=arn, **data)
