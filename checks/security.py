"""Security checks on container definitions: privilege, writable root, plaintext secrets.

Findings about secrets name the kind and where it is (the variable, flag, label or log
option), never the value: not in the message, not in the data. What a secret looks like is
checker/secrets.py over checks/data/secret_patterns.yaml, the same detector the collector's
redaction uses, so what is found here is what a saved bundle no longer holds.
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check
from checker.secrets import Found, classify, patterns, scan_container
from checks.lib.taskdefs import (
    PARAMS_DOCS,
    Use,
    container_name,
    each_container,
    env,
    environment_path,
    is_windows,
)


@check(id="container-privileged", area="security", severity=Severity.HIGH,
       title="Container runs privileged",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_security",
       emits=("affected_tasks", "container"))
def container_privileged(facts: Facts, prior: Prior) -> Iterator[Result]:
    """`privileged: true` gives the container root on its host: every device, every
    capability, a way out of the container. One compromised process owns the instance and
    every other task on it."""
    for use, ctr in each_container(facts):
        where, name = use.where(ctr), container_name(ctr)
        path = use.path(ctr, "privileged")
        if ctr.get("privileged") is True:
            yield failed(use.arn, f"{where}: privileged — root on the host{use.suffix}",
                         service=use.service_arn, path=path, **use.data(container=name))
        else:
            yield passed(use.arn, f"{where}: not privileged{use.suffix}",
                         service=use.service_arn, path=path, container=name)


@check(id="container-root-filesystem-writable", area="security", severity=Severity.LOW,
       title="Container root filesystem is writable",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_storage",
       emits=("affected_tasks", "container"))
def container_root_filesystem_writable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A read-only root filesystem stops an intruder from dropping tools or changing the
    application's files; writes then go to declared volumes only. Not supported for
    Windows containers, so those are skipped."""
    for use, ctr in each_container(facts):
        where, name, svc = use.where(ctr), container_name(ctr), use.service_arn
        path = use.path(ctr, "readonlyRootFilesystem")
        if is_windows(use.td, ctr):
            yield skipped(use.arn, f"{where}: readonlyRootFilesystem is not supported on "
                          f"Windows{use.suffix}", service=svc, path=path, container=name)
        elif ctr.get("readonlyRootFilesystem") is True:
            yield passed(use.arn, f"{where}: read-only root filesystem{use.suffix}",
                         service=svc, path=path, container=name)
        else:
            yield failed(use.arn, f"{where}: root filesystem is writable "
                         f"(readonlyRootFilesystem not true){use.suffix}", service=svc,
                         path=path, **use.data(container=name))


def secret_kind(name: str, value: str) -> str | None:
    """The kind of secret `value` of variable `name` is (`password`, `jwt`, …), or None —
    None for a placeholder too."""
    hit = classify(name, value)
    return None if hit is None or hit.placeholder else hit.kind


def _path(use: Use, ctr: Item, first: Found) -> str:
    """Where the first secret is, for a code-scanning line: its `environment` entry, or
    the field it is in (`containerDefinitions[0].logConfiguration.options`)."""
    if first.place == "environment":
        return environment_path(use.td, ctr, first.name)
    return use.path(ctr, first.place)


def _found_text(found: list[Found]) -> str:
    return ", ".join(dict.fromkeys(f.text() for f in found))


@check(id="environment-plaintext-secrets", area="security", severity=Severity.HIGH,
       title="Secrets in plaintext in a container definition",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/specifying-sensitive-data.html",
       emits={"affected_tasks": None, "container": None, "names": None, "found": None,
              "placeholders": None, "kinds": frozenset(patterns().kinds)})
def environment_plaintext_secrets(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A value in `environment`, `command`, `entryPoint`, `dockerLabels` or
    `logConfiguration.options` is stored in the task definition in clear: anyone with
    ecs:DescribeTaskDefinition reads it, every revision keeps it, and it travels into CI
    logs. `secrets` and `secretOptions` (Secrets Manager / Parameter Store) keep it out.
    Matches a value's shape (access keys, private keys, JWTs, tokens, URLs with a
    password), a secret's name with a literal value, and password flags; names the kind and
    where it is, never the value. A placeholder (`${DB_PASSWORD}`) is said to be one."""
    for use, ctr in each_container(facts):
        where, name, svc = use.where(ctr), container_name(ctr), use.service_arn
        everything = scan_container(ctr)
        found = [f for f in everything if not f.placeholder]
        placeholders = sorted({f.label() for f in everything if f.placeholder})
        extra = {"placeholders": placeholders} if placeholders else {}
        held = (f"; placeholders, not secrets: {', '.join(placeholders)}"
                if placeholders else "")
        if not found:
            count = len(env(ctr))
            what = (f"none of {count} environment variables looks like a secret" if count
                    else "no environment variables")
            yield passed(use.arn, f"{where}: {what}, nor any label, log option or command "
                         f"line{held}{use.suffix}", service=svc,
                         path=environment_path(use.td, ctr, None), container=name, **extra)
            continue
        names = sorted({f.label() for f in found})
        kinds = sorted({f.kind for f in found})
        yield failed(use.arn, f"{where}: {_found_text(found)} in plaintext — move them to "
                     f"secrets{held}{use.suffix}", service=svc,
                     path=_path(use, ctr, found[0]),
                     **use.data(container=name, names=names, kinds=kinds,
                                found=[{"in": f.place, "name": f.name, "kind": f.kind}
                                       for f in found], **extra))
