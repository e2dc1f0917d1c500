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

import datetime as dt
import json
import re
import shlex
import string
from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
import jmespath
import pytest
from botocore import xform_name
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

from checker import command_context, rank
from checker.model import Report
from checker.names import ecr_image
from checker.pipeline import Engine
from checker.playbook import CONTEXT_KEYS, load_snippets
from tests.incidents.healthy import MAIN_RT
from tests.incidents.history import SCENARIOS as HISTORY
from tests.incidents.s_commands import DIGEST
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
    lexer.commenters = ""  # `#` in `${IMG#*/}` opens no comment
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


#: Shell words that may open a command inside a compound one (`for g in a b; do aws ...`).
KEYWORDS = {"do", "then", "else", "elif", "if", "while", "until", "!", "time", "{", "("}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _command_words(words: list[str]) -> list[str]:
    """The words of the simple command in `words`: without the compound-command keywords
    and variable assignments before it."""
    i = 0
    while i < len(words) and (words[i] in KEYWORDS or ASSIGNMENT.match(words[i])):
        i += 1
    return words[i:]


def problems(command: str) -> list[str]:
    """What the AWS CLI would refuse in `command` (each `aws` segment of a pipeline or of a
    loop's body, and the commands of its `$(...)` substitutions). An `aws` word anywhere
    else in a segment is a command this parser cannot read: refused too, so that a command
    never passes for being out of its sight."""
    command, inner = substitutions(command)
    found: list[str] = [p for sub in inner for p in problems(sub)]
    for segment in _segments(command):
        words = _command_words(segment)
        if not words or words[0] != "aws":
            if "aws" in segment:
                found.append(f"an `aws` command this parser cannot read: {shlex.join(segment)!r}")
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
def _runs() -> dict[str, tuple[dict[str, Any], Report]]:
    """Each incident's bundle and report."""
    bundles = {s.name: s.bundle() for s in all_scenarios()}
    bundles |= {f"history:{name}": build() for name, build in HISTORY.items()}
    return {name: (bundle, ENGINE.analyze(bundle, generated_at="t"))
            for name, bundle in bundles.items()}


def _reports() -> dict[str, Report]:
    return {name: report for name, (_, report) in _runs().items()}


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
    assert problems("for g in sg-1 sg-2; do aws ec2 authorize-security-group-egress "
                    "--group-id $g --ip-permissions IpProtocol=-1; done") == []
    assert problems("for g in sg-1; do aws ec2 describe-security-groups --group-id $g; "
                    "done") == ["`aws ec2 describe-security-groups`: unknown option --group-id"]
    assert problems("IMG=x; aws ecr describe-images --repository-name r x") == [
        "`aws ecr describe-images`: --repository-name takes one value, given 2"]
    assert problems("watch aws ecs list-tasks --cluster c") == [
        "an `aws` command this parser cannot read: 'watch aws ecs list-tasks --cluster c'"]


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


# -- what the commands do, read against the bundle they were made from ----------------------
def _runs_with(fragment: str) -> Iterator[tuple[str, dict[str, Any], str, str]]:
    """(incident, bundle, diagnosis, command) for each suggested command holding `fragment`."""
    for name, (bundle, report) in _runs().items():
        for where, command in _commands(report):
            if fragment in command:
                yield name, bundle, where, command


def _aws_words(command: str, operation: str) -> Iterator[list[str]]:
    """The words of each `aws <service> <operation>` in `command` (in loops and `$(...)`)."""
    outer, inner = substitutions(command)
    for text in (outer, *inner):
        for segment in _segments(text):
            words = _command_words(segment)
            if words[:1] == ["aws"] and words[2:3] == [operation]:
                yield words


def _option(words: list[str], name: str) -> list[str]:
    """The values given to `--name` in `words` (up to the next option or redirection)."""
    if f"--{name}" not in words:
        return []
    i, out = words.index(f"--{name}") + 1, []
    while i < len(words) and not words[i].startswith("--") and words[i] not in REDIRECTS:
        out.append(words[i])
        i += 1
    return out


def _service(bundle: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in bundle["resources"]["services"] if s["serviceName"] == name)


def test_two_security_groups_give_one_group_per_command() -> None:
    """The incidents with two task groups (and a load balancer with two) do reach the
    security-group commands, and each names one group where the CLI takes one."""
    seen = 0
    for name in ("two-groups-block-egress", "two-groups-block-lb"):
        _, report = _runs()[name]
        for _, command in _commands(report):
            for op in ("authorize-security-group-ingress", "authorize-security-group-egress"):
                for words in _aws_words(command, op):
                    seen += 1
                    for option in ("group-id", "source-group"):
                        assert len(_option(words, option)) <= 1, command
    assert seen >= 4


_SHORTHAND = re.compile(r"awsvpcConfiguration=\{subnets=\[(?P<subnets>[^\]]*)\],"
                        r"securityGroups=\[(?P<groups>[^\]]*)\],"
                        r"assignPublicIp=(?P<public>[A-Z]+)\}$")


def test_network_configuration_keeps_what_the_service_has() -> None:
    """`update-service --network-configuration` replaces the whole awsvpc configuration:
    left out, assignPublicIp falls back to DISABLED (a public-subnet Fargate service loses
    its only way out) and the groups to the VPC default. So each such command carries the
    service's security groups and assignPublicIp, and its subnets — unless it asks for a
    new set (`<subnets-in-every-az>`). Only a move to new private subnets may turn the
    public IP off: that is the point of it (public-task-ip)."""
    checked: dict[str, int] = {}
    for name, bundle, where, command in _runs_with("--network-configuration"):
        for words in _aws_words(command, "update-service"):
            service = _service(bundle, _option(words, "service")[0])
            conf = service["networkConfiguration"]["awsvpcConfiguration"]
            (value,) = _option(words, "network-configuration")
            m = _SHORTHAND.match(value)
            assert m, f"{name} / {where}: not the shorthand this test reads: {value}"
            subnets = m["subnets"].split(",")
            to_private = all(FILL_IN.match(s) and "private" in s for s in subnets)
            assert m["public"] == conf.get("assignPublicIp", "DISABLED") or (
                to_private and m["public"] == "DISABLED"), f"{name}: {command}"
            assert m["groups"].split(",") == conf["securityGroups"], f"{name}: {command}"
            kept = set(conf["subnets"]) <= set(subnets)
            assert kept or all(FILL_IN.match(s) for s in subnets), f"{name}: {command}"
            checked[name] = checked.get(name, 0) + 1
    assert checked.get("public-subnets-full"), checked  # assignPublicIp ENABLED stays so


def test_saved_task_definition_registers() -> None:
    """The file a remediation saves for editing (`> td.json`) goes back through
    `register-task-definition --cli-input-json file://td.json`: what the saving command
    keeps of DescribeTaskDefinition's answer (its --query, then a jq filter) must be a
    valid RegisterTaskDefinition request — no read-only field (revision, status,
    registeredAt…), which the CLI refuses as an unknown parameter."""
    model = _session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    saved = 0
    for name, bundle, where, command in _runs_with("> td.json"):
        (words,) = list(_aws_words(command, "describe-task-definition"))
        tds = bundle["resources"]["task_definitions"]
        filters = [s for s in _segments(substitutions(command)[0]) if s[:1] == ["jq"]]
        for td in tds:
            answer = jmespath.search(_option(words, "query")[0], {"taskDefinition": td})
            for jq in filters:
                answer = _jq_del(jq[1], answer)
            report = ParamValidator().validate(answer, shape)
            assert not report.has_errors(), f"{name} / {where}: {report.generate_report()}"
            saved += 1
        assert "register-task-definition --cli-input-json file://td.json" in " ".join(
            r.command or "" for d in _runs()[name][1].diagnoses for r in d.remediation)
    assert saved


def _jq_del(program: str, value: Any) -> Any:
    """`del(.a, .b)`: the only jq program the remediations use."""
    m = re.fullmatch(r"\s*del\(([^()]*)\)\s*", program)
    assert m, f"a jq program this test cannot read: {program}"
    keys = [k.strip() for k in m[1].split(",")]
    assert all(re.fullmatch(r"\.[A-Za-z]+", k) for k in keys), program
    return {k: v for k, v in value.items() if f".{k}" not in keys}


def test_ecr_pull_logs_in_first() -> None:
    """`docker pull` of a private ECR image is refused without a login: the command logs
    in to that image's registry (its account and Region) first."""
    pulls = 0
    for name, _, where, command in _runs_with("docker pull"):
        image = command.split("docker pull", 1)[1].split()[0]
        ecr = ecr_image(image)
        if ecr is None:
            continue
        host = image.split("/", 1)[0]
        login = (f"aws ecr get-login-password --region {ecr.region} | docker login "
                 f"--username AWS --password-stdin {host} && docker pull {image}")
        assert login in command, f"{name} / {where}: {command}"
        pulls += 1
    assert pulls


def _route_tables(words: list[str], bundle: dict[str, Any]) -> Any:
    """What `aws ec2 describe-route-tables` answers on the bundle's VPC (ids, the filters
    the commands use, then --query)."""
    tables = bundle["resources"]["route_tables"]
    ids = _option(words, "route-table-ids")
    if ids:
        tables = [t for t in tables if t["RouteTableId"] in ids]
    for spec in _option(words, "filters"):
        m = re.fullmatch(r"Name=([\w.-]+),Values=(.+)", spec)
        assert m, spec
        key, values = m[1], m[2].split(",")
        if key == "vpc-id":
            tables = [t for t in tables if t["VpcId"] in values]
        elif key == "association.subnet-id":
            tables = [t for t in tables if any(a.get("SubnetId") in values
                                               for a in t["Associations"])]
        elif key == "association.main":
            tables = [t for t in tables if any(str(a.get("Main")).lower() in values
                                               for a in t["Associations"])]
        else:
            raise AssertionError(f"a filter this test does not know: {spec}")
    query = _option(words, "query")
    answer = {"RouteTables": tables}
    return jmespath.search(query[0], answer) if query else answer


def test_route_table_lookups_find_the_subnets_table() -> None:
    """A subnet with no explicit association uses the VPC's main route table, and
    `--filters Name=association.subnet-id,...` finds nothing for it: each route-table
    lookup, run on the incident's own VPC, answers with the table that applies."""
    looked = {}
    for name, bundle, where, command in _runs_with("describe-route-tables"):
        for words in _aws_words(command, "describe-route-tables"):
            answer = _route_tables(words, bundle)
            assert answer, f"{name} / {where}: finds no route table: {command}"
            looked[name] = answer
    main = looked["main-route-table"]
    assert MAIN_RT in json.dumps(main), main


_REPOSITORY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


def test_ecr_commands_name_the_repository() -> None:
    """An image pinned by digest (`repo@sha256:…`) names repository `repo` and image
    `imageDigest=sha256:…` — never a repository `repo@sha256` or a tag `sha256:…`."""
    named = {}
    for name, _, where, command in _runs_with("aws ecr "):
        for op in ("describe-images", "get-lifecycle-policy", "batch-get-image",
                   "get-repository-policy"):
            for words in _aws_words(command, op):
                (repo,) = _option(words, "repository-name")
                assert FILL_IN.match(repo) or _REPOSITORY.match(repo), \
                    f"{name} / {where}: {command}"
                for image_id in _option(words, "image-ids"):
                    assert not image_id.startswith("imageTag=sha256:"), f"{name}: {command}"
                named.setdefault(name, []).append((repo, _option(words, "image-ids")))
    assert ("checkout", [f"imageDigest={DIGEST}"]) in named["digest-not-found"], named


def test_times_are_computed_by_the_report() -> None:
    """macOS's `date` has no `-d`: no command computes a time in the shell. The report
    writes the ISO-8601 times of its own data window (ending when the bundle was
    collected), and epoch milliseconds where CloudWatch Logs wants them."""
    texts = [r.command or "" for book in ENGINE.playbooks for h in book.hypotheses
             for r in h.remediation] + list(load_snippets().values())
    assert not [t for t in texts if "date -" in t or "$(date" in t]
    timed = 0
    for name, bundle, where, command in _runs_with("--start-time"):
        collected = dt.datetime.fromisoformat(bundle["collected_at"])
        for words in (w for seg in _segments(substitutions(command)[0])
                      for w in [_command_words(seg)] if w[:1] == ["aws"]):
            (start,) = _option(words, "start-time")
            end = _option(words, "end-time")
            if words[1] == "logs":
                begin = dt.datetime.fromtimestamp(int(start) / 1000, dt.UTC)
            else:
                begin = dt.datetime.fromisoformat(start)
                assert end and dt.datetime.fromisoformat(end[0]) == collected, command
            assert collected - dt.timedelta(days=2) < begin < collected, \
                f"{name} / {where}: {command}"
            timed += 1
    assert timed


# -- every template, reached by an incident or not -----------------------------------------
#: A value for each placeholder the templates use, shaped like what the walk and the bundle
#: give (lists where the evidence gives lists — two security groups, two tasks — so that
#: an option that takes one value is caught even where no incident reaches the template).
EXAMPLES: dict[str, Any] = {
    "action": "xray:PutTraceSegments", "asgs": ["prod-ecs-asg", "prod-ecs-asg-2"],
    "cluster": "prod", "container": "web", "containers": ["web", "envoy"], "desired": 3,
    "family": "web", "hosts": ["i-0a7c2e4f6b8d01357", "i-0b8d3f5a7c9e12468"],
    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:" + "ab" * 32,
    "instance": "i-0a7c2e4f6b8d01357", "instances": 3, "lb_azs": ["us-east-1a", "us-east-1b"],
    "lb_security_groups": ["sg-0a1b2c3d4e5f60a01", "sg-0d5e6f7a8b9c01d04"],
    "limit_mib": 1024, "load_balancer": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "loadbalancer/app/prod-public/50dc6c495c0c9188",
    "missing_endpoints": ["com.amazonaws.us-east-1.ecr.api", "com.amazonaws.us-east-1.s3"],
    "names": ["DB_PASSWORD", "API_KEY"], "nat_gateway_id": "nat-0a9e1c3b5d7f90a11",
    "onset_revision": "web:58",
    "policy": "web-cpu-target", "pool": "subnet-0a3c1e5f7b9d20481,subnet-0b4d2f6a8c0e31592",
    "previous_revision": 56,
    "revision": 57, "role": "arn:aws:iam::123456789012:role/prod-web-task",
    "route_table": "rtb-0a1f3c5e7a9b1d2f3",
    "security_groups": ["sg-0399e6b07aad085aa", "sg-0c4d5e6f7a8b90c03"],
    "service_name": "web", "source": "Container Insights", "start_period_s": 180,
    "subnet": "subnet-0a3c1e5f7b9d20481",
    "subnets": ["subnet-0a3c1e5f7b9d20481", "subnet-0b4d2f6a8c0e31592"],
    "target_group": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-web/"
    "6c2d856cd00752c3",
    "tasks": ["33b6f9942e2a685136fefe6f4ca84809", "629567d6a96a46ace1648ed315bf60ec"],
    "vpc": "vpc-0a1b2c3d4e5f60718", "zone": "us-east-1a",
}


def _templates() -> Iterator[tuple[str, str, str, int, str]]:
    """(playbook, diagnosis, hypothesis title, step index, command template); the shared
    snippets too, as `_snippets/<name>`, so that one no step names yet is read as well."""
    for book in ENGINE.playbooks:
        for hyp in book.hypotheses:
            for i, step in enumerate(hyp.remediation):
                if step.command:
                    yield book.scenario, hyp.diagnosis, hyp.title, i, step.command
    for name, command in load_snippets().items():
        yield "_snippets", name, name, 0, command


def _example_context(data: dict[str, Any]) -> dict[str, Any]:
    """The context the engine would build from `data` and a bundle that knows everything:
    checker.command_context run on a Fargate service with two groups and a public IP."""
    ctx = dict(data)
    ctx |= command_context.from_data(data)
    ctx |= {"window_start": "2026-11-20T07:00:00Z", "window_end": "2026-11-20T10:00:00Z",
            "window_start_ms": 1795158000000, "day_start": "2026-11-19T10:00:00Z",
            "awsvpc_subnets": ",".join(data["subnets"]),
            "awsvpc_security_groups": ",".join(data["security_groups"]),
            "service_security_groups": data["security_groups"], "assign_public_ip": "ENABLED"}
    return ctx


def test_every_template_parses_filled_from_a_full_context() -> None:
    """Every command template of every playbook — incidents reach some of them only — filled
    from a context that has every key, parses, and leaves no placeholder."""
    ctx = _example_context(EXAMPLES)
    bad = []
    for scenario, diagnosis, _, i, template in _templates():
        command = rank.fill(template, ctx, " ")
        names = {f.partition("|")[0] for _, f, _, _ in string.Formatter().parse(template) if f}
        missing = names - set(ctx) - CONTEXT_KEYS
        if missing:
            bad.append(f"{scenario}/{diagnosis} step {i}: no example for {sorted(missing)} "
                       "(add one to EXAMPLES, shaped like what the check emits)")
        bad += [f"{scenario}/{diagnosis} step {i}: {p}\n    {command}" for p in problems(command)]
    assert not bad, "\n".join(bad)


def _unreached() -> list[tuple[str, str, str, int, str]]:
    """The templates of hypotheses that no incident's report shows."""
    shown = {(d.scenario, d.id, d.title) for report in _reports().values()
             for d in report.diagnoses}
    return [t for t in _templates() if t[0] != "_snippets" and t[:3] not in shown]


def test_templates_no_incident_reaches() -> None:
    """Incidents reach only some templates: the others are listed (`pytest -rP`) and each
    parses, filled from the full example context — none is out of every test's sight."""
    unreached = _unreached()
    assert len(unreached) < len(list(_templates()))  # the matching above finds reports
    ctx = _example_context(EXAMPLES)
    print(f"{len(unreached)} command templates no incident reaches (parsed from examples):")
    bad = []
    for scenario, diagnosis, title, i, template in unreached:
        print(f"  {scenario}/{diagnosis} ({title}) step {i}")
        command = rank.fill(template, ctx, " ")
        bad += [f"{scenario}/{diagnosis} step {i}: {p}" for p in problems(command)]
    assert not bad, "\n".join(bad)


def test_default_route_fix_fits_the_table() -> None:
    """`replace-route` fails on a table with no 0.0.0.0/0 route ("no route with destination
    … in route table") and `create-route` on one that has it: the command the report
    suggests is the one the table it names accepts."""
    fixed = 0
    for name, bundle, where, command in _runs_with("-route --route-table-id"):
        for op in ("replace-route", "create-route"):
            for words in _aws_words(command, op):
                (table_id,) = _option(words, "route-table-id")
                table = next(t for t in bundle["resources"]["route_tables"]
                             if t["RouteTableId"] == table_id)
                has = any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in table["Routes"])
                assert has == (op == "replace-route"), f"{name} / {where}: {command}"
                fixed += 1
    assert fixed
