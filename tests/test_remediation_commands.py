"""Every `aws` command a report suggests parses: its operation exists, each option names a
parameter of that operation (botocore's service model, the one the AWS CLI is generated
from), and each option gets as many values as its type takes — so a pasted command is not
refused with "Unknown options" (two security groups given to `--group-id`, say).

The commands come from real reports: every incident of tests/incidents (and the incidents
with history) through the engine, remediation steps and trigger reverts alike. `<fill-in>`
values are the user's to fill and count as one value; `{placeholder}` braces never reach a
user (a test of their own below).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from functools import cache

import botocore.session
import pytest
from botocore import xform_name
from botocore.model import OperationModel, Shape

from checker.model import Report
from checker.pipeline import Engine
from tests.incidents.history import SCENARIOS as HISTORY
from tests.incidents.scenarios import all_scenarios

ENGINE = Engine()
#: Options every AWS CLI command takes (`aws help global options`).
GLOBAL = {"query": 1, "output": 1, "region": 1, "profile": 1, "endpoint-url": 1,
          "cli-input-json": 1, "no-cli-pager": 0, "debug": 0, "no-paginate": 0,
          "max-items": 1, "starting-token": 1, "page-size": 1, "color": 1}
#: CLI service names that differ from botocore's.
SERVICES = {"s3api": "s3"}
#: Commands the CLI adds on top of the API (awscli customizations), with their options.
CUSTOM: dict[tuple[str, str], dict[str, int]] = {
    ("logs", "tail"): {"since": 1, "follow": 0, "format": 1, "log-stream-names": -1,
                       "log-stream-name-prefix": 1, "filter-pattern": 1},
    ("ecr", "get-login-password"): {},
    ("ecs", "wait"): {},
}
#: Options the CLI adds to API operations (awscli customizations).
EXTRA: dict[tuple[str, str], dict[str, int]] = {
    ("ec2", "authorize-security-group-ingress"): {"protocol": 1, "port": 1, "cidr": 1,
                                                  "source-group": 1, "group-owner": 1},
    ("ec2", "authorize-security-group-egress"): {"protocol": 1, "port": 1, "cidr": 1,
                                                 "source-group": 1, "group-owner": 1},
    ("ec2", "revoke-security-group-ingress"): {"protocol": 1, "port": 1, "cidr": 1,
                                               "source-group": 1, "group-owner": 1},
    ("ec2", "revoke-security-group-egress"): {"protocol": 1, "port": 1, "cidr": 1,
                                              "source-group": 1, "group-owner": 1},
    ("ec2", "create-network-acl-entry"): {"ingress": 0},
    ("ec2", "replace-network-acl-entry"): {"ingress": 0},
}
#: Shell redirections end a command's arguments (the next word is a file).
REDIRECTS = {">", ">>", "<", "2>", "2>&1"}
FILL_IN = re.compile(r"^<[^<>]+>$")


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def _operation(service: str, command: str) -> OperationModel | None:
    model = _session().get_service_model(SERVICES.get(service, service))
    for name in model.operation_names:
        if xform_name(name, "-") == command:
            return model.operation_model(name)
    return None


def _arity(shape: Shape) -> int:
    """Values an option takes: 0 for a flag, -1 for one or more (a list), else 1."""
    if shape.type_name == "boolean":
        return 0
    return -1 if shape.type_name == "list" else 1


def _options(service: str, command: str) -> dict[str, int] | None:
    custom = CUSTOM.get((service, command))
    if custom is not None:
        return {**GLOBAL, **custom}
    op = _operation(service, command)
    if op is None:
        return None
    members = op.input_shape.members if op.input_shape is not None else {}
    options = {xform_name(name, "-"): _arity(shape) for name, shape in members.items()}
    options |= {f"no-{k}": 0 for k, v in options.items() if v == 0}
    return {**GLOBAL, **options, **EXTRA.get((service, command), {})}


def substitutions(command: str) -> tuple[str, list[str]]:
    """`command` with each `$(...)` replaced by one word, and the commands inside them."""
    inner: list[str] = []
    out, i = [], 0
    while i < len(command):
        if command.startswith("$(", i):
            depth, j = 1, i + 2
            while j < len(command) and depth:
                depth += {"(": 1, ")": -1}.get(command[j], 0)
                j += 1
            inner.append(command[i + 2:j - 1])
            out.append("SUBSTITUTED")
            i = j
        else:
            out.append(command[i])
            i += 1
    return "".join(out), inner


def _segments(command: str) -> list[list[str]]:
    """The words of each command of a shell line, split at `|`, `||`, `&&` and `;` outside
    quotes."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token and set(token) <= set("|&;"):
                segments.append([])
            else:
                segments[-1].append(token)
    except ValueError as exc:
        raise AssertionError(f"not a shell command ({exc}): {command}") from exc
    return segments


def problems(command: str) -> list[str]:
    """What the AWS CLI would refuse in `command` (each `aws` segment of a pipeline, and
    the commands of its `$(...)` substitutions)."""
    command, inner = substitutions(command)
    found: list[str] = [p for sub in inner for p in problems(sub)]
    for words in _segments(command):
        if not words or words[0] != "aws":
            continue
        cut = next((k for k, w in enumerate(words) if w in REDIRECTS), len(words))
        words = words[:cut]
        if len(words) < 3:
            found.append(f"no operation in {shlex.join(words)!r}")
            continue
        service, op = words[1], words[2]
        options = _options(service, op)
        if options is None:
            found.append(f"no operation `aws {service} {op}`")
            continue
        i, rest = 3, words
        while i < len(rest):
            word = rest[i]
            if not word.startswith("--"):
                found.append(f"`aws {service} {op}`: stray value {word!r}")
                i += 1
                continue
            name = word[2:].split("=", 1)[0]
            if name not in options:
                found.append(f"`aws {service} {op}`: unknown option --{name}")
                i += 1
                while i < len(rest) and not rest[i].startswith("--"):
                    i += 1
                continue
            values = 0
            i += 1
            while i < len(rest) and not rest[i].startswith("--"):
                values, i = values + 1, i + 1
            want = options[name]
            if "=" in word:
                values += 1
            if (want == 0 and values) or (want == 1 and values != 1) or (
                    want == -1 and values < 1):
                found.append(f"`aws {service} {op}`: --{name} takes "
                             f"{ {0: 'no value', 1: 'one value', -1: 'values'}[want]}, "
                             f"given {values}")
    return found


def _commands(report: Report) -> Iterator[tuple[str, str]]:
    for d in report.diagnoses:
        for r in d.remediation:
            if r.command:
                yield d.id, r.command
        if d.trigger is not None and d.trigger.revert:
            yield f"{d.id} (revert)", d.trigger.revert


@cache
def _reports() -> dict[str, Report]:
    reports = {s.name: ENGINE.analyze(s.bundle(), generated_at="t") for s in all_scenarios()}
    reports |= {f"history:{name}": ENGINE.analyze(build(), generated_at="t")
                for name, build in HISTORY.items()}
    return reports


def test_the_checker_itself_refuses_what_the_cli_refuses() -> None:
    """The parser above is worth trusting: it refuses each mistake it is here to catch."""
    assert problems("aws ecs update-service --cluster prod --service web "
                    "--force-new-deployment") == []
    assert problems("aws ec2 authorize-security-group-ingress --group-id sg-1 sg-2 "
                    "--protocol tcp --port 80 --source-group sg-3") == [
        "`aws ec2 authorize-security-group-ingress`: --group-id takes one value, given 2"]
    assert problems("aws ecs update-servise --cluster prod") == [
        "no operation `aws ecs update-servise`"]
    assert problems("aws ecs update-service --clusters prod") == [
        "`aws ecs update-service`: unknown option --clusters"]
    assert problems("aws ecr get-login-password | docker login --username AWS "
                    "--password-stdin 1.dkr.ecr.us-east-1.amazonaws.com") == []
    assert problems("aws ecs describe-services --services a b --cluster <cluster>") == []
    assert problems("aws ecs describe-task-definition --task-definition $(aws ecs "
                    "describe-services --cluster prod --services web --query "
                    "'services[0].taskDefinition' --output text) --query taskDefinition "
                    "> td.json") == []
    assert problems("aws ecs describe-task-definition --task-definition $(aws ecs "
                    "describe-services --cluster prod --service web)") == [
        "`aws ecs describe-services`: unknown option --service"]


def test_every_suggested_command_parses() -> None:
    bad = sorted({f"{name} / {where}: {p}\n    {command}"
                  for name, report in _reports().items()
                  for where, command in _commands(report) for p in problems(command)})
    assert not bad, f"{len(bad)} commands the AWS CLI would refuse:\n" + "\n".join(bad)


@pytest.mark.parametrize("field", ["title", "summary", "why", "remediation"])
def test_no_placeholder_brace_reaches_a_user(field: str) -> None:
    """A `{name}` left in a rendered diagnosis is a template the engine could not fill."""
    brace = re.compile(r"\{[a-z_|<>-]+\}")
    bad = []
    for name, report in _reports().items():
        for d in report.diagnoses:
            value = getattr(d, field)
            texts = ([r.step for r in value] + [r.command or "" for r in value]
                     if field == "remediation" else list(value) if isinstance(value, tuple)
                     else [value])
            bad += [f"{name} / {d.id}: {t}" for t in texts if brace.search(str(t))]
    assert not bad, "\n".join(bad)
