"""Redact secrets before they enter a bundle.

Why here and not in the renderers: a bundle is saved (`--save-bundle`), attached to tickets
and shared, and every report is built from one. A value that never enters the bundle cannot
leak from any output format, present or future. The collector calls
:func:`redact_task_definition` on every task definition and :func:`redact_task` on every
task it stores (``overrides.containerOverrides[]``), and :func:`redact_nested` on every
history and CloudTrail event (checker/collect/history.py, cloudtrail.py).

What is a secret is decided by checker/secrets.py, the detector the
`environment-plaintext-secrets` check uses too, field by field: whatever the check can see
— `environment`, `command`, `entryPoint`, `healthCheck.command`, `dockerLabels`,
`logConfiguration.options` — is redacted here. A variable, label or option value becomes
the marker of its kind (``***REDACTED:password***``); in a command line only the secret
goes (``mysql -uroot -p***REDACTED:password*** app``), so the rest (heap flags, ports) still
reaches the checks. The marker keeps the kind, so the finding read from the bundle names
what was there. Placeholders and references are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from checker.secrets import classify, marker_kind, patterns, scan_words

__all__ = ["patterns", "redact_environment", "redact_line", "redact_nested", "redact_task",
           "redact_task_definition", "redact_words"]


def _redacted(name: Any, value: Any) -> Any:
    """`value` or its marker: values are read the way the check reads them (`str(value)`),
    so a number under DB_PASSWORD goes too."""
    if not isinstance(name, str) or value is None or isinstance(value, dict | list) \
            or marker_kind(str(value)) is not None:
        return value
    hit = classify(name, str(value))
    if hit is None or hit.placeholder:
        return value
    return patterns().marker(hit.kind)


def redact_environment(environment: Any) -> Any:
    """An ``environment`` list with secret values replaced by their marker; anything that is
    not a list of ``{"name", "value"}`` pairs is returned as it is."""
    if not isinstance(environment, list):
        return environment
    out: list[Any] = []
    for pair in environment:
        if isinstance(pair, dict) and "value" in pair:
            value = _redacted(pair.get("name"), pair["value"])
            if value is not pair["value"]:
                pair = {**pair, "value": value}
        out.append(pair)
    return out


def redact_mapping(mapping: Any) -> Any:
    """`dockerLabels` or `logConfiguration.options` with secret values replaced."""
    if not isinstance(mapping, dict):
        return mapping
    return {k: _redacted(k, v) for k, v in mapping.items()}


def redact_words(command: Any) -> Any:
    """A command line (a list of words, or one string) with each secret in it replaced
    by its marker, the rest of each word kept."""
    words = [command] if isinstance(command, str) else command
    if not isinstance(words, list) or not any(isinstance(w, str) for w in words):
        return command
    strings = [w if isinstance(w, str) else "" for w in words]
    hits = [h for h in scan_words(strings) if not h.placeholder
            and not patterns().markers.fullmatch(strings[h.word][h.start:h.end])]
    if not hits:
        return command
    out = list(words)
    for hit in sorted(hits, key=lambda h: (h.word, -h.start)):
        word = out[hit.word]
        out[hit.word] = word[:hit.start] + patterns().marker(hit.kind) + word[hit.end:]
    return out[0] if isinstance(command, str) else out


#: `NAME: value`, `"name": "value"` in free text (JSON, YAML, logfmt with colons).
_PAIR = re.compile(r"""(?<![A-Za-z0-9_.-])(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,80})"""
                   r"""(?P<sep>["']?\s{0,3}[=:]\s{0,3}["']?)(?P<value>[^\s"',;&]{1,500})""")


def redact_line(line: str) -> str:
    """A log line with each secret in it replaced by its marker: read like a command line
    (``NAME=value``, ``--password x``, credential shapes), then ``name: value`` and
    ``"name": "value"`` pairs judged by name. Why: a container that prints its
    configuration or a connection string at start-up puts credentials in the very lines a
    crash makes worth reading (checker/collect/logs.py keeps them in the bundle)."""
    out = redact_words(line)
    text = out if isinstance(out, str) else line

    hints = patterns().name_hints

    def pair(match: re.Match[str]) -> str:
        name, value = match.group("name"), match.group("value")
        low = name.lower()
        if not any(hint in low for hint in hints):  # the shapes went above: names only
            return match.group(0)
        hit = None if marker_kind(value) else classify(name, value)
        if hit is None or hit.placeholder:
            return match.group(0)
        return f"{name}{match.group('sep')}{patterns().marker(hit.kind)}"

    return _PAIR.sub(pair, text)


def _redact_log_configuration(value: Any) -> Any:
    if not isinstance(value, dict) or "options" not in value:
        return value
    return {**value, "options": redact_mapping(value["options"])}


#: What to do with the value of each key, wherever it sits.
_BY_KEY = {"environment": redact_environment, "command": redact_words,
           "entryPoint": redact_words, "dockerLabels": redact_mapping,
           "logConfiguration": _redact_log_configuration}


def redact_nested(value: Any) -> Any:
    """A copy of any JSON value with every field above redacted wherever it sits: a
    container definition, a task's container overrides, and the history and CloudTrail
    events that carry them at depths and under names of their own
    (``detail.overrides…`` in a task state change, ``requestParameters
    .containerDefinitions[]`` in RegisterTaskDefinition, ``responseElements.tasks[]
    .overrides…`` in RunTask). `healthCheck.command` is a `command` too. The input is not
    changed."""
    if isinstance(value, list):
        return [redact_nested(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        inner = redact_nested(item)
        fix = _BY_KEY.get(key) if isinstance(key, str) else None
        out[key] = fix(inner) if fix is not None else inner
    return out


def redact_task_definition(task_definition: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a DescribeTaskDefinition ``taskDefinition`` with its containers' secrets
    redacted (the input is not changed)."""
    td = dict(task_definition)
    if "containerDefinitions" in td:
        td["containerDefinitions"] = redact_nested(td["containerDefinitions"])
    return td


def redact_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a DescribeTasks task with ``overrides.containerOverrides[]`` redacted:
    `run-task --overrides` can carry the same secrets as a task definition (environment
    and command)."""
    out = dict(task)
    overrides = out.get("overrides")
    if isinstance(overrides, dict) and "containerOverrides" in overrides:
        out["overrides"] = {**overrides, "containerOverrides":
                            redact_nested(overrides["containerOverrides"])}
    return out
