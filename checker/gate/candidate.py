"""The gate's input: a task definition file, read and validated before anything runs.

Why validate against botocore's own model of `RegisterTaskDefinitionRequest`: it is what
`aws ecs register-task-definition --cli-input-json` checks, so a file that passes here is a
file the deploy step will accept, and a file that fails gets ONE line naming the JSON path
of the first problem (`td.json: containerDefinitions[1].memory: expected an integer, got
"1gb"`) instead of a stack trace in the middle of a deployment.

Two leniencies, both things real pipelines do: the output of `describe-task-definition`
(`{"taskDefinition": {...}, "tags": [...]}`, with read-only fields such as `revision` and
`status`) is accepted as input, and `null` values (the console's JSON export is full of them)
are dropped and reported, because the AWS CLI rejects them while the
amazon-ecs-deploy-task-definition action strips them.

Values are never quoted from places that may hold secrets (environment, secrets, log
options, labels): only their type is named.
"""

from __future__ import annotations

import bisect
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from checker.bundle import read_text
from checker.errors import InputError
from checks.lib.placeholders import find_placeholders

WRAPPER = "taskDefinition"
#: Keys the describe-task-definition output carries beside `taskDefinition`.
WRAPPER_EXTRAS = frozenset({"tags", "ResponseMetadata"})
#: Under these keys values may be secrets: name their type, never quote them.
_SENSITIVE = frozenset({"environment", "secrets", "secretOptions", "options",
                        "repositoryCredentials", "dockerLabels", "value", "valueFrom"})
_SIMPLE_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class Candidate:
    """A validated RegisterTaskDefinition request and where its fields are in the file."""

    path: str
    request: dict[str, Any]
    #: "taskDefinition." when the file is describe-task-definition output, else "".
    prefix: str = ""
    #: JSON paths (relative to the request) of the null values that were dropped.
    nulls: tuple[str, ...] = ()
    #: JSON path (in the file) → 1-based line of the value.
    lines: Mapping[str, int] = field(default_factory=dict)
    #: Values outside their enum (paths relative to the request).
    off_enum: tuple[OffEnum, ...] = ()
    #: Template placeholders left in values (paths relative to the request).
    placeholders: tuple[Placeholder, ...] = ()

    @property
    def family(self) -> str:
        return str(self.request["family"])

    @property
    def arn(self) -> str:
        """The synthetic ARN the checks see: `<family>:candidate` (no revision yet)."""
        return f"{self.family}:candidate"

    def task_definition(self) -> dict[str, Any]:
        """The candidate as describe-task-definition would return it after registration."""
        td = {k: v for k, v in self.request.items() if k != "tags"}
        td["taskDefinitionArn"] = self.arn
        return td

    def file_path(self, rel: str) -> str:
        """A path in the request (`containerDefinitions[0].memory`) as a path in the file."""
        return in_file(self.prefix, rel)

    def line(self, file_path: str) -> int | None:
        """Line of `file_path`, or of its nearest ancestor that is in the file."""
        path = file_path
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = parent(path)


def in_file(prefix: str, rel: str) -> str:
    """`rel` (a request path) under `prefix` ("taskDefinition." or "")."""
    if not rel or rel.startswith("["):
        return prefix.rstrip(".") + rel
    return prefix + rel


def parent(path: str) -> str:
    """`a.b[2].c` → `a.b[2]` → `a.b` → `a` → ``."""
    if path.endswith("]"):
        return path[:path.rindex("[")]
    cut = path.rfind(".")
    return path[:cut] if cut >= 0 else ""


def join(path: str, key: str | int) -> str:
    """Append a key or index the way messages print it (`options["awslogs-group"]` for
    keys that are not identifiers)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key and set(key) <= _SIMPLE_KEY:
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


# -- reading ------------------------------------------------------------------------------

def load_candidate(path: str | Path) -> Candidate:
    """Read, unwrap, strip nulls, validate; InputError (one line, exit 2) otherwise."""
    shown = str(path)
    text = _read(Path(path), shown)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{shown}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg}); expected a RegisterTaskDefinition request") from None
    if not isinstance(data, dict):
        raise InputError(f"{shown}: expected a JSON object (a RegisterTaskDefinition request "
                         f"or describe-task-definition output), got {_kind(data)}")
    prefix, body = _unwrap(data, shown)
    nulls: list[str] = []
    request = _strip_nulls(body, "", nulls)
    assert isinstance(request, dict)
    for key in sorted(set(request) & read_only_fields()):
        del request[key]
    problem = validate(request)
    if problem is not None:
        where, what = problem
        raise InputError(f"{shown}: {in_file(prefix, where) or '.'}: {what}")
    if not request["containerDefinitions"]:
        raise InputError(f"{shown}: {in_file(prefix, 'containerDefinitions')}: empty "
                         "(a task definition needs at least one container)")
    return Candidate(path=shown, request=request, prefix=prefix, nulls=tuple(nulls),
                     lines=value_lines(text), off_enum=tuple(off_enum(request)),
                     placeholders=tuple(placeholders(request)))


def refuse_templates(candidate: Candidate, shown: int = 3) -> None:
    """InputError (exit 2) when the file still holds template placeholders: a template is
    not what will be registered, so nothing judged on it would be true of the deploy."""
    found = candidate.placeholders
    if not found:
        return
    where = []
    for p in found[:shown]:
        path = candidate.file_path(p.path)
        line = candidate.line(path)
        where.append(f"{path} {p.text!r}" + (f" (line {line})" if line else ""))
    more = f" and {len(found) - shown} more" if len(found) > shown else ""
    raise InputError(f"{candidate.path}: {len(found)} template placeholder(s): "
                     f"{', '.join(where)}{more}; render the template first (or pass "
                     "--allow-placeholders to report each one as a finding)")


def _read(p: Path, shown: str) -> str:
    return read_text(p, shown, "a task definition JSON file", InputError)


def _unwrap(data: dict[str, Any], shown: str) -> tuple[str, dict[str, Any]]:
    """describe-task-definition output → its task definition (tags merged in)."""
    if WRAPPER not in data:
        return "", data
    inner = data[WRAPPER]
    if not isinstance(inner, dict):
        raise InputError(f"{shown}: {WRAPPER}: expected an object, got {_kind(inner)}")
    extra = sorted(set(data) - {WRAPPER} - WRAPPER_EXTRAS)
    if extra:
        raise InputError(f"{shown}: {join('', extra[0])}: unknown key beside {WRAPPER} "
                         "(expected describe-task-definition output)")
    body = dict(inner)
    if data.get("tags") and "tags" not in body:
        body["tags"] = data["tags"]
    return WRAPPER + ".", body


def _strip_nulls(value: Any, path: str, nulls: list[str]) -> Any:
    """Objects lose their null members (recorded in `nulls`); lists keep their items."""
    if isinstance(value, dict):
        out = {}
        for key, sub in value.items():
            where = join(path, key)
            if sub is None:
                nulls.append(where)
            else:
                out[key] = _strip_nulls(sub, where, nulls)
        return out
    if isinstance(value, list):
        return [_strip_nulls(v, join(path, i), nulls) for i, v in enumerate(value)]
    return value


# -- template placeholders ------------------------------------------------------------------

#: Shell words: `${VAR}` there is the shell's expansion at run time, not a template's.
_SHELL_KEYS = frozenset({"command", "entryPoint"})


@dataclass(frozen=True)
class Placeholder:
    """A template variable left in a value (`${DB_PASSWORD}`, `{{ tag }}`, `<YOUR_KEY>`)."""

    path: str
    text: str


def placeholders(request: Mapping[str, Any]) -> list[Placeholder]:
    """Every placeholder in the request's string values, in file order; commands and entry
    points are shell words and are left alone."""
    found: list[Placeholder] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                if key not in _SHELL_KEYS:
                    walk(sub, join(path, str(key)))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                walk(sub, join(path, i))
        elif isinstance(value, str):
            found.extend(Placeholder(path, p.text) for p in find_placeholders(value))

    walk(request, "")
    return found


# -- validation against the botocore model --------------------------------------------------

@cache
def _ecs_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ecs")


def request_shape() -> Any:
    return _ecs_model().operation_model("RegisterTaskDefinition").input_shape


@cache
def read_only_fields() -> frozenset[str]:
    """Fields describe-task-definition returns that a request may not carry (`revision`,
    `status`, `taskDefinitionArn`, …): accepted in the file and ignored."""
    described = set(_ecs_model().shape_for("TaskDefinition").members)
    return frozenset(described - set(request_shape().members))


class _Bad(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class OffEnum:
    """A value outside the model's enum (`networkMode: "default"`): well-formed JSON that
    RegisterTaskDefinition rejects server-side, so a finding rather than an input error
    (templates carry `{{placeholders}}` there)."""

    path: str
    value: str
    allowed: tuple[str, ...]


def validate(request: Mapping[str, Any]) -> tuple[str, str] | None:
    """(JSON path, problem) of the first way `request` breaks the model, else None."""
    try:
        _Walk([]).check(request_shape(), request, "", sensitive=False)
    except _Bad as bad:
        return bad.path, bad.problem
    return None


def off_enum(request: Mapping[str, Any]) -> list[OffEnum]:
    """Every string of a validated request that is not one of its enum's values."""
    found: list[OffEnum] = []
    _Walk(found).check(request_shape(), request, "", sensitive=False)
    return found


class _Walk:
    """One pass over a value against a botocore shape: structural problems raise _Bad,
    enum mismatches are collected."""

    def __init__(self, off: list[OffEnum]) -> None:
        self.off = off

    def check(self, shape: Any, value: Any, path: str, *, sensitive: bool) -> None:
        kind = shape.type_name
        if kind == "structure":
            self.structure(shape, value, path, sensitive=sensitive)
        elif kind == "list":
            if not isinstance(value, list):
                raise _Bad(path, f"expected a list, got {_got(value, sensitive)}")
            for i, item in enumerate(value):
                self.check(shape.member, item, join(path, i), sensitive=sensitive)
        elif kind == "map":
            if not isinstance(value, dict):
                raise _Bad(path, f"expected an object, got {_got(value, sensitive)}")
            for key, item in value.items():
                self.check(shape.value, item, join(path, key), sensitive=sensitive)
        else:
            self.scalar(shape, value, path, sensitive=sensitive)

    def structure(self, shape: Any, value: Any, path: str, *, sensitive: bool) -> None:
        if not isinstance(value, dict):
            raise _Bad(path, f"expected an object, got {_got(value, sensitive)}")
        members = shape.members
        for key in value:
            if key not in members:
                close = difflib.get_close_matches(str(key), list(members), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise _Bad(join(path, key), f"unknown key{hint}; not in {shape.name}")
        for key in shape.required_members:
            if key not in value:
                raise _Bad(join(path, key), f"missing (required in {shape.name})")
        for key, sub in value.items():
            self.check(members[key], sub, join(path, key),
                       sensitive=sensitive or key in _SENSITIVE)

    def scalar(self, shape: Any, value: Any, path: str, *, sensitive: bool) -> None:
        kind = shape.type_name
        if not _scalar_ok(kind, value):
            raise _Bad(path, f"expected {_EXPECTED.get(kind, kind)}, "
                       f"got {_got(value, sensitive)}")
        enum = tuple(getattr(shape, "enum", None) or ())
        if enum and value not in enum:
            self.off.append(OffEnum(path, "" if sensitive else str(value), enum))


_EXPECTED = {"string": "a string", "integer": "an integer", "long": "an integer",
             "boolean": "true or false", "double": "a number", "float": "a number",
             "timestamp": "a timestamp", "blob": "a string"}


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind in ("string", "blob", "timestamp"):
        return isinstance(value, str)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("double", "float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _got(value: Any, sensitive: bool) -> str:
    """The offending value for the message; only its type where it may be a secret."""
    if sensitive or isinstance(value, dict | list) or value is None:
        return _kind(value)
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "…"


# -- where each value is in the file (SARIF regions) ----------------------------------------

def value_lines(text: str) -> dict[str, int]:
    """JSON path → 1-based line where its value starts. Best effort: {} if the scan trips
    (the text already parsed as JSON, so it only matters for odd encodings)."""
    starts = [i for i, ch in enumerate(text) if ch == "\n"]
    out: dict[str, int] = {}
    scanner = _Scanner(text, starts, out)
    try:
        scanner.value(0, "")
    except (IndexError, ValueError):
        return {}
    return out


class _Scanner:
    def __init__(self, text: str, newlines: list[int], out: dict[str, int]) -> None:
        self.text, self.newlines, self.out = text, newlines, out
        self.decoder = json.JSONDecoder()

    def ws(self, i: int) -> int:
        while self.text[i] in " \t\r\n\ufeff":
            i += 1
        return i

    def value(self, i: int, path: str) -> int:
        i = self.ws(i)
        self.out[path] = bisect.bisect_left(self.newlines, i) + 1
        ch = self.text[i]
        if ch == "{":
            return self.members(i + 1, path)
        if ch == "[":
            return self.items(i + 1, path)
        _, end = self.decoder.raw_decode(self.text, i)
        return int(end)

    def members(self, i: int, path: str) -> int:
        i = self.ws(i)
        if self.text[i] == "}":
            return i + 1
        while True:
            i = self.ws(i)
            key, end = self.decoder.raw_decode(self.text, i)
            i = int(end)
            i = self.ws(i) + 1  # the colon
            i = self.ws(self.value(i, join(path, str(key))))
            if self.text[i] == "}":
                return i + 1
            i += 1  # the comma

    def items(self, i: int, path: str) -> int:
        i = self.ws(i)
        if self.text[i] == "]":
            return i + 1
        index = 0
        while True:
            i = self.ws(self.value(i, join(path, index)))
            if self.text[i] == "]":
                return i + 1
            i, index = i + 1, index + 1
