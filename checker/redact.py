"""Redact secret-looking environment values before they enter a bundle.

Why here and not in the renderers: a bundle is saved (`--save-bundle`), attached to tickets
and shared, and every report is built from one. A value that never enters the bundle cannot
leak from any output format, present or future. The collector calls this on every task
definition (``containerDefinitions[].environment``) and every task
(``overrides.containerOverrides[].environment``) it stores, and :func:`redact_nested` on every
history and CloudTrail event (checker/collect/history.py, cloudtrail.py).

What "looks like a secret" is the same table the `environment-plaintext-secrets` check
reads (``checks/data/secret_patterns.yaml``, loaded from the ``checks`` package: one source
of truth), with the same rules: a value shape (access key, JWT, URL with a password, …) or a
secret-sounding variable name with a literal value. A redacted value becomes the table's
``redacted_markers`` entry, which the check still reports as a secret by name, so redaction
never turns a finding into a pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

#: The file the check reads too (checks/security.py).
PATTERNS_FILE = ("data", "secret_patterns.yaml")


@dataclass(frozen=True, slots=True)
class Patterns:
    names: tuple[re.Pattern[str], ...]
    values: tuple[re.Pattern[str], ...]
    not_secret: tuple[re.Pattern[str], ...]
    markers: tuple[str, ...]
    min_length: int

    @property
    def marker(self) -> str:
        """What a redacted value becomes (the first of ``redacted_markers``)."""
        return self.markers[0]


@cache
def patterns() -> Patterns:
    """The secret patterns, compiled once."""
    text = resources.files("checks").joinpath(*PATTERNS_FILE).read_text("utf-8")
    data = yaml.safe_load(text)
    markers = tuple(str(m) for m in data.get("redacted_markers") or ())
    if not markers:
        raise ValueError("checks/data/secret_patterns.yaml: redacted_markers is empty")
    return Patterns(
        names=tuple(re.compile(p, re.IGNORECASE) for p in data["names"]),
        values=tuple(re.compile(v) for v in data["values"].values()),
        not_secret=tuple(re.compile(p) for p in data["not_secret"]),
        markers=markers,
        min_length=int(data["min_length"]),
    )


def _placeholder(text: str, pats: Patterns) -> bool:
    return any(p.fullmatch(text.strip()) for p in pats.not_secret)


def looks_secret(name: str, value: str) -> bool:
    """Whether the `environment-plaintext-secrets` check would call this value a secret
    (already-redacted values excepted: there is nothing left to hide)."""
    pats = patterns()
    if value.strip() in pats.markers:
        return False
    for pattern in pats.values:
        match = pattern.search(value)
        if match is None:
            continue
        password = match.groupdict().get("password")
        if password is not None and _placeholder(password, pats):
            continue
        return True
    if len(value.strip()) < pats.min_length or _placeholder(value, pats):
        return False
    return any(p.fullmatch(name) for p in pats.names)


def redact_environment(environment: Any) -> Any:
    """An ``environment`` list with secret-looking values replaced by the marker; anything
    that is not a list of ``{"name", "value"}`` pairs is returned as it is. Values are read
    the way the check reads them (``str(value)``), so a number under DB_PASSWORD goes too."""
    if not isinstance(environment, list):
        return environment
    out: list[Any] = []
    for pair in environment:
        if isinstance(pair, dict) and isinstance(pair.get("name"), str) \
                and pair.get("value") is not None \
                and looks_secret(pair["name"], str(pair["value"])):
            pair = {**pair, "value": patterns().marker}
        out.append(pair)
    return out


def _redact_containers(containers: Any) -> Any:
    if not isinstance(containers, list):
        return containers
    return [{**c, "environment": redact_environment(c["environment"])}
            if isinstance(c, dict) and "environment" in c else c for c in containers]


def redact_task_definition(task_definition: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a DescribeTaskDefinition ``taskDefinition`` with its containers'
    environment values redacted (the input is not changed)."""
    td = dict(task_definition)
    if "containerDefinitions" in td:
        td["containerDefinitions"] = _redact_containers(td["containerDefinitions"])
    return td


def redact_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a DescribeTasks task with ``overrides.containerOverrides[].environment``
    redacted: `run-task --overrides` can carry the same secrets as a task definition."""
    out = dict(task)
    overrides = out.get("overrides")
    if isinstance(overrides, dict) and "containerOverrides" in overrides:
        out["overrides"] = {**overrides, "containerOverrides":
                            _redact_containers(overrides["containerOverrides"])}
    return out


def redact_nested(value: Any) -> Any:
    """A copy of any JSON value with every ``environment`` list in it redacted, wherever it
    sits: history and CloudTrail events carry task definitions and overrides at depths and
    under names the two functions above do not know (``detail.overrides…`` in a task state
    change, ``requestParameters.containerDefinitions[]`` in RegisterTaskDefinition,
    ``responseElements.tasks[].overrides…`` in RunTask). The input is not changed."""
    if isinstance(value, list):
        return [redact_nested(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: redact_environment(redact_nested(v)) if k == "environment" else redact_nested(v)
            for k, v in value.items()}


#: `NAME=value`, `NAME: value`, `"name": "value"` in free text: the pairs a log line carries.
_PAIR = re.compile(r"""(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,80})"""
                   r"""(?P<sep>["']?\s{0,3}[=:]\s{0,3}["']?)(?P<value>[^\s"',;&]{1,500})""")


def redact_line(line: str) -> str:
    """A log line with what looks like a secret replaced by the marker: value shapes
    (access keys, JWTs, URLs with a password, …) wherever they are, and the value of a
    ``NAME=value`` / ``"name": "value"`` pair whose name is a secret's (``DB_PASSWORD=…``),
    by the rules of :func:`looks_secret`. Why: a container that prints its configuration
    or a connection string at start-up puts the credentials in the very lines a crash loop
    makes worth reading (checker/collect/logs.py keeps them in the bundle)."""
    pats = patterns()

    def shape(match: re.Match[str]) -> str:
        password = match.groupdict().get("password")
        if password is None:
            return pats.marker
        if _placeholder(password, pats):
            return match.group(0)
        start, end = match.span("password")
        base = match.start()
        text = match.group(0)
        return text[:start - base] + pats.marker + text[end - base:]

    for pattern in pats.values:
        line = pattern.sub(shape, line)

    def pair(match: re.Match[str]) -> str:
        value = match.group("value")
        if value == pats.marker or not looks_secret(match.group("name"), value):
            return match.group(0)
        return f"{match.group('name')}{match.group('sep')}{pats.marker}"

    return _PAIR.sub(pair, line)
