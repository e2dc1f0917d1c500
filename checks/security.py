"""Security checks on container definitions: privilege, writable root, plaintext secrets.

Findings about secrets name the variable, never its value: not in the message, not in the
data. Patterns are data (checks/data/secret_patterns.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check
from checks.lib.knowledge import table
from checks.lib.taskdefs import (
    PARAMS_DOCS,
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


@dataclass(frozen=True, slots=True)
class _Patterns:
    names: tuple[re.Pattern[str], ...]
    values: tuple[tuple[str, re.Pattern[str]], ...]
    not_secret: tuple[re.Pattern[str], ...]
    redacted: frozenset[str]
    min_length: int


@cache
def _patterns() -> _Patterns:
    data = table("secret_patterns")
    return _Patterns(
        names=tuple(re.compile(p, re.IGNORECASE) for p in data["names"]),
        values=tuple((str(k), re.compile(v)) for k, v in data["values"].items()),
        not_secret=tuple(re.compile(p) for p in data["not_secret"]),
        redacted=frozenset(str(m) for m in data.get("redacted_markers", [])),
        min_length=int(data["min_length"]),
    )


def _not_secret(value: str, pats: _Patterns) -> bool:
    text = value.strip()
    return any(p.fullmatch(text) for p in pats.not_secret)


def secret_kind(name: str, value: str) -> str | None:
    """Why `value` of variable `name` looks like a secret (`name`, `jwt`, …), or None."""
    pats = _patterns()
    if value.strip() in pats.redacted:
        return "redacted"
    for kind, pattern in pats.values:
        match = pattern.search(value)
        if match is None:
            continue
        password = match.groupdict().get("password")
        if password is not None and _not_secret(password, pats):
            continue
        return kind
    if len(value.strip()) < pats.min_length or _not_secret(value, pats):
        return None
    if any(p.fullmatch(name) for p in pats.names):
        return "name"
    return None


def _secret_names(ctr: Item) -> list[tuple[str, str]]:
    """(variable name, why) for every secret-looking variable, names only."""
    return [(name, kind) for name, value in env(ctr)
            if (kind := secret_kind(name, value)) is not None]


@check(id="environment-plaintext-secrets", area="security", severity=Severity.HIGH,
       title="Secret-looking values in plaintext environment variables",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/specifying-sensitive-data.html",
       emits=("affected_tasks", "container", "kinds", "names"))
def environment_plaintext_secrets(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A value in `environment` is stored in the task definition in clear: anyone with
    ecs:DescribeTaskDefinition reads it, every revision keeps it, and it travels into CI
    logs and saved bundles. `secrets` (Secrets Manager / Parameter Store) keeps it out.
    Matches by variable name with a literal value, or by the value's shape (access keys,
    private keys, JWTs, URLs with a password); reports names only."""
    for use, ctr in each_container(facts):
        where, name, svc = use.where(ctr), container_name(ctr), use.service_arn
        found = _secret_names(ctr)
        count = len(env(ctr))
        if not found:
            what = (f"none of {count} environment variables looks like a secret" if count
                    else "no environment variables")
            yield passed(use.arn, f"{where}: {what}{use.suffix}", service=svc,
                         path=environment_path(use.td, ctr, None), container=name)
            continue
        names = sorted({n for n, _ in found})
        kinds = sorted({k for _, k in found})
        yield failed(use.arn, f"{where}: plaintext secret-looking environment variable(s) "
                     f"{', '.join(names)} — move them to secrets{use.suffix}", service=svc,
                     path=environment_path(use.td, ctr, names[0]),
                     **use.data(container=name, names=names, kinds=kinds))
