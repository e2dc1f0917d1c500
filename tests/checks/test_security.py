from __future__ import annotations

import importlib.util
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.redact import redact_task_definition, redact_words
from checker.secrets import PATTERNS_FILE, classify
from checks.lib.placeholders import has_placeholder
from tests import builders as b
from tests import builders_network as bn
from tests import builders_taskdef as t
from tests import builders_taskset as ts
from tests.checks.harness import run_check

WEB = b.service_arn("prod", "web")


def _findings(check_id: str, td: dict[str, Any]) -> list[Any]:
    return run_check(check_id, t.bundle([td], [b.service("web")]))


# -- container-privileged -----------------------------------------------------------------
@pytest.mark.parametrize(("container", "expected"), [
    ({"privileged": True}, "fail"),
    ({"privileged": False}, "pass"),
    ({}, "pass"),
])
def test_container_privileged(container: dict, expected: str) -> None:
    (f,) = _findings("container-privileged", t.ec2_td("web", t.ctr("app", memory=256,
                                                                       **container)))
    assert f.status.value == expected and f.service == WEB
    if expected == "fail":
        assert f.message.startswith("task def web:1 container app: privileged")


# -- container-root-filesystem-writable -------------------------------------------------------
@pytest.mark.parametrize(("container", "extra", "expected"), [
    ({"readonlyRootFilesystem": True}, {}, "pass"),
    ({"readonlyRootFilesystem": False}, {}, "fail"),
    ({}, {}, "fail"),
    ({}, {"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE"}}, "skipped"),
])
def test_container_root_filesystem_writable(container: dict, extra: dict,
                                            expected: str) -> None:
    td = t.fargate_td("web", t.ctr("app", **container), cpu="1024", memory="2048", **extra)
    (f,) = _findings("container-root-filesystem-writable", td)
    assert f.status.value == expected


# -- environment-plaintext-secrets ----------------------------------------------------------
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
HOOK = "https://hooks.slack.com/services/" + "T0AB12CDE/B0AB12CDE/abcdefghijklmnopqrstuvwx"


@pytest.mark.parametrize(("env", "expected", "found"), [
    # by name, with a literal value
    ({"DB_PASSWORD": "hunter22", "LOG_LEVEL": "info"}, "fail", ["a password in DB_PASSWORD"]),
    ({"PGPASSWORD": "hunter22"}, "fail", ["a password in PGPASSWORD"]),
    ({"MYSQL_PWD": "r00t-pw"}, "fail", ["a password in MYSQL_PWD"]),
    ({"DB_PASSWORD_PROD": "Pr0d-pass"}, "fail", ["a password in DB_PASSWORD_PROD"]),
    ({"JWT_SECRET": "s3cr3t-v4lue"}, "fail", ["a secret in JWT_SECRET"]),
    ({"SECRET_KEY_BASE": "s3cr3t-v4lue"}, "fail", ["a secret in SECRET_KEY_BASE"]),
    ({"DISCORD_BOT_TOKEN": "abcd1234efgh"}, "fail", ["a token in DISCORD_BOT_TOKEN"]),
    ({"STRIPE_API_KEY": "k3y-v4lue-123"}, "fail", ["an API key in STRIPE_API_KEY"]),
    ({"JWT_PRIVATE_KEY": "k3y-v4lue-123"}, "fail", ["a random-looking key in JWT_PRIVATE_KEY"]),
    # *_KEY needs a random-looking value
    ({"STRIPE_KEY": "aB3dE5fG7hJ9kL1mN3pQ"}, "fail", ["a random-looking key in STRIPE_KEY"]),
    ({"CACHE_KEY": "users", "S3_KEY": "path/to/file.txt", "SORT_KEY": "createdAt"}, "pass",
     []),
    # by value, whatever the name: the kind is named
    ({"STRIPE_KEY": STRIPE}, "fail", ["a Stripe secret key in STRIPE_KEY"]),
    ({"UPLOADER": AWS_KEY}, "fail", ["an AWS access key id in UPLOADER"]),
    ({"AWS_SECRET_ACCESS_KEY": AWS_SECRET}, "fail",
     ["an AWS secret access key in AWS_SECRET_ACCESS_KEY"]),
    ({"SESSION": JWT}, "fail", ["a JSON Web Token in SESSION"]),
    ({"TLS": PEM}, "fail", ["a private key in TLS"]),
    ({"NOTIFY": SLACK}, "fail", ["a Slack token in NOTIFY"]),
    ({"ALERTS": HOOK}, "fail", ["a Slack webhook URL in ALERTS"]),
    ({"CI": GITHUB}, "fail", ["a GitHub token in CI"]),
    ({"DATABASE_URL": "postgres://app:pa55word@db.internal:5432/app"}, "fail",
     ["a URL with credentials in DATABASE_URL"]),
    ({"SQL": "Server=db;Database=app;User Id=sa;Password=Pa55w0rd!;"}, "fail",
     ["a connection string with a password in SQL"]),
    # redacted by a collector: the marker keeps the kind (an old marker says redacted)
    ({"CACHE": "***REDACTED:stripe-live-key***"}, "fail", ["a Stripe secret key in CACHE"]),
    ({"CACHE": "***REDACTED***"}, "fail", ["a value redacted before the bundle was saved in "
                                           "CACHE"]),
    # references and placeholders are not literal secrets
    ({"DB_PASSWORD": "${DB_PASSWORD}"}, "pass", []),
    ({"DB_PASSWORD": "app-${STAGE}-pw"}, "pass", []),
    ({"DD_API_KEY": "<YOUR_DATADOG_API_KEY>"}, "pass", []),
    ({"API_TOKEN": "{{ must_env `API_TOKEN` }}"}, "pass", []),
    ({"ACCESS_TOKEN": "MY_ACCESS_TOKEN"}, "pass", []),
    ({"AWS_ENV_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}, "pass",
     []),
    ({"JASYPT_ENCRYPTOR_PASSWORD": ""}, "pass", []),
    ({"DATABASE_URL": "postgres://app:${DB_PASSWORD}@db:5432/app"}, "pass", []),
    ({"LIMIT_TOKEN_REQUESTS_PER_MINUTE": "5", "PASSWORD_MIN_LENGTH": "12"}, "pass", []),
    ({"DB_PASSWORD_FILE": "/run/secrets/db", "SECRET_NAME": "prod/db"}, "pass", []),
    ({"GOOGLE_APPLICATION_CREDENTIALS": "/run/secrets/gcp.json"}, "pass", []),
    ({"GIT_SHA": "0123456789abcdef0123456789abcdef01234567"}, "pass", []),
    ({}, "pass", []),
])
def test_environment_plaintext_secrets(env: dict[str, str], expected: str,
                                       found: list[str]) -> None:
    (f,) = _findings("environment-plaintext-secrets", t.fargate_td("web", t.ctr("app", env=env)))
    assert f.status.value == expected, f.message
    for text in found:
        assert text in f.message
    assert f.data.get("names", []) == sorted(
        name for name in env if any(text.endswith(f" in {name}") for text in found))
    _no_value_in(f, env.values())


def _no_value_in(f: Any, values: Any) -> None:
    text = f.message + repr(dict(f.data))
    for value in values:
        if len(value) >= 4 and f.status.value == "fail" and "REDACTED" not in value:
            assert value not in text, "a secret value leaked into the finding"


@pytest.mark.parametrize(("container", "found"), [
    ({"command": ["sh", "-c", "mysql -uroot -pS3cretPw app"]}, "a password in command (-p)"),
    ({"command": ["mysql", "-u", "root", "-p", "S3cretPw"]}, "a password in command (-p)"),
    ({"command": ["psql", "--password=S3cretPw"]}, "a password in command (--password)"),
    ({"entryPoint": ["/app", "--db-password", "S3cretPw"]},
     "a password in entryPoint (--db-password)"),
    ({"command": ["sh", "-c", "PGPASSWORD=S3cretPw psql -h db"]},
     "a password in command (PGPASSWORD)"),
    ({"command": ["java", "-Dspring.datasource.password=S3cretPw", "-jar", "app.jar"]},
     "a password in command (-Dspring.datasource.password)"),
    ({"command": ["sync", "--url", "https://ci:S3cretPw@git.example.com/x.git"]},
     "a URL with credentials in command"),
    ({"healthCheck": {"command": ["CMD-SHELL", "curl -f -u admin:S3cretPw localhost"]}},
     "basic-auth credentials in healthCheck.command (-u)"),
    ({"dockerLabels": {"traefik.http.middlewares.auth.basicauth.users":
                       "admin:$$apr1$$H6uskkkW$$IgXLP6ewTrSuBkTrqE8wj/"}},
     "basic-auth credentials in dockerLabels traefik.http.middlewares.auth.basicauth.users"),
    ({"dockerLabels": {"com.example.db.password": "S3cretPw"}},
     "a password in dockerLabels com.example.db.password"),
    ({"logConfiguration": {"logDriver": "awsfirelens", "options": {
        "Name": "datadog", "apikey": "0123456789abcdef0123456789abcdef"}}},
     "an API key in logConfiguration.options apikey"),
    ({"logConfiguration": {"logDriver": "splunk", "options": {
        "splunk-url": "https://splunk:8088", "splunk-token": "5e3a1c2b-1111-2222-3333"}}},
     "a token in logConfiguration.options splunk-token"),
    ({"logConfiguration": {"logDriver": "awsfirelens", "options": {
        "Name": "http", "HTTP_User": "bob", "HTTP_Passwd": "S3cretPw"}}},
     "a password in logConfiguration.options HTTP_Passwd"),
])
def test_secrets_outside_the_environment(container: dict[str, Any], found: str) -> None:
    (f,) = _findings("environment-plaintext-secrets", t.fargate_td("web", t.ctr("app",
                                                                               **container)))
    assert f.status.value == "fail" and found in f.message, f.message
    assert f.data["names"] and f.data["found"]
    assert f.path == f"containerDefinitions[0].{f.data['found'][0]['in']}"
    assert "S3cretPw" not in f.message + repr(dict(f.data))


@pytest.mark.parametrize("container", [
    {"command": ["bundle", "exec", "rackup", "-o", "0.0.0.0", "-p", "8080"]},
    {"command": ["/usr/bin/falco", "-pc", "-o", "json_output=true"]},
    {"command": ["docker", "login", "--password-stdin", "-u", "AWS"]},
    {"command": ["mysql", "-u", "root", "--password=$MYSQL_ROOT_PASSWORD"]},
    {"entryPoint": ["/app", "--token-ttl", "3600", "--secret-name", "prod/db"]},
    {"dockerLabels": {"traefik.http.routers.web.rule": "Host(`x.example.com`)"}},
    {"logConfiguration": {"logDriver": "awsfirelens", "options": {
        "Name": "grafana-loki",
        "Url": "https://<userid>:<grafancloud apikey>@logs.grafana.net/loki/api/v1/push"}}},
    {"logConfiguration": {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1"}},
     "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/x"}]},
])
def test_look_alikes_outside_the_environment_pass(container: dict[str, Any]) -> None:
    (f,) = _findings("environment-plaintext-secrets", t.fargate_td("web", t.ctr("app",
                                                                               **container)))
    assert f.status.value == "pass", f.message


def test_placeholders_are_reported_as_placeholders() -> None:
    env = {"DB_PASSWORD": "${DB_PASSWORD}", "DD_API_KEY": "<YOUR_API_KEY>", "LOG": "info"}
    td = t.fargate_td("web", t.ctr("app", env=env, command=["psql", "--password=${PGPASS}"]))
    (f,) = _findings("environment-plaintext-secrets", td)
    assert f.status.value == "pass"
    assert f.data["placeholders"] == ["DB_PASSWORD", "DD_API_KEY", "command --password"]
    assert "placeholders, not secrets: DB_PASSWORD, DD_API_KEY, command --password" \
        in f.message
    td = t.fargate_td("web", t.ctr("app", env={**env, "API_TOKEN": "abcd1234efgh"}))
    (f,) = _findings("environment-plaintext-secrets", td)
    assert f.status.value == "fail" and f.data["placeholders"] == ["DB_PASSWORD", "DD_API_KEY"]


@pytest.mark.parametrize("value", [
    "${DB_PASSWORD}", "app-${STAGE}-pw", "{{ must_env `PW` }}", "<YOUR_API_KEY>",
    "#{Octopus.Password}", "$DB_PASSWORD", "pw-<stage>-x",
])
def test_what_the_gate_calls_a_placeholder_is_no_secret(value: str) -> None:
    """The gate refuses a file with placeholders (checks/lib/placeholders.py); the secret
    check must not call the same value a leaked password."""
    assert has_placeholder(value)
    hit = classify("DB_PASSWORD", value)
    assert hit is not None and hit.placeholder, value


def test_secret_finding_carries_service_and_impact() -> None:
    td = t.fargate_td("web", t.ctr("app", env={"API_TOKEN": "abcd1234efgh"}))
    (f,) = _findings("environment-plaintext-secrets", td)
    assert f.service == WEB and f.data["affected_tasks"] == 2
    assert f.data["kinds"] == ["token"] and f.data["names"] == ["API_TOKEN"]
    assert f.data["found"] == [{"in": "environment", "name": "API_TOKEN", "kind": "token"}]
    assert f.path == "containerDefinitions[0].environment[0]"
    assert "a token in API_TOKEN in plaintext" in f.message
    assert "abcd1234efgh" not in f.message


# -- linear time ------------------------------------------------------------------------------
def _patterns_of_the_table() -> list[str]:
    data = yaml.safe_load(resources.files("checks").joinpath(*PATTERNS_FILE).read_text())
    return [*data["values"].values(), *(r["pattern"] for r in data["names"]),
            data["not_names"], data["random"]["charset"], *data["placeholders"],
            *data["templates"], *data["references"]]


def _outside_classes(pattern: str) -> str:
    """The pattern with escapes and character classes taken out: what is left are its
    groups, alternations and quantifiers."""
    text = re.sub(r"\\.", "", pattern)
    text = re.sub(r"\[\^?\]?[^\]]*\]", "", text)
    return re.sub(r"(?<=[}?])\+", "", text)  # possessive: bounded all the same


@pytest.mark.parametrize("pattern", _patterns_of_the_table())
def test_every_pattern_is_bounded(pattern: str) -> None:
    """No `*`, `+` or `{n,}` (`{1,256}+` is possessive, not unbounded): each repetition has
    an upper bound, so a match attempt costs
    at most a constant and a scan is linear in the value (bench/secret_scan.py measures)."""
    rest = _outside_classes(pattern)
    assert "*" not in rest and "+" not in rest, pattern
    assert not re.search(r"\{\d*,\}", rest), pattern
    re.compile(pattern)


@pytest.mark.parametrize("pattern", yaml.safe_load(
    resources.files("checks").joinpath(*PATTERNS_FILE).read_text())["values"].values())
def test_value_patterns_start_once_per_token(pattern: str) -> None:
    """A value pattern is searched, so it must not restart inside a run it already
    rejected: it begins with a literal or with a lookbehind that pins it to a token's
    start."""
    body = pattern.removeprefix("(?i)")
    assert body.startswith(("(?<", "-", "https")), pattern


@pytest.mark.parametrize("shape", ["a", "a-", "a://b:c", "eyJ-", "Ab1/", "-----BEGIN A ",
                                   "--password=", "${{"])
def test_a_large_value_is_scanned_in_linear_time(shape: str) -> None:
    """256 KB of a shape that a backtracking pattern retries at every character, in every
    place the check and the redaction read. Quadratic, as the URL pattern was (1.6 s on
    32 KB), this would take minutes; the bound is generous on purpose: speed is measured by
    bench/secret_scan.py, this only catches a pattern that went quadratic."""
    text = (shape * (256 * 1024 // len(shape) + 1))[:256 * 1024]
    ctr = t.ctr("app", env={"DB_PASSWORD": text, "BLOB": text}, command=["sh", "-c", text],
                dockerLabels={"x.password": text},
                logConfiguration={"logDriver": "awsfirelens", "options": {"apikey": text}})
    td = t.fargate_td("web", ctr)
    started = time.monotonic()
    redacted = redact_task_definition(td)
    (f,) = _findings("environment-plaintext-secrets", redacted)
    assert time.monotonic() - started < 60
    assert f.status.value in ("pass", "fail")
    assert redact_words(["sh", "-c", text]) is not None


def test_the_bench_runs() -> None:
    """bench/secret_scan.py at a tiny size, so it keeps working; the ratio it prints at
    32 KB and 1 MB is the measurement, not this."""
    spec = importlib.util.spec_from_file_location(
        "secret_scan", Path(__file__).resolve().parents[2] / "bench" / "secret_scan.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lines: list[str] = []
    result = bench.run(1024, 4096, lines.append)
    assert len(lines) == len(bench.SHAPES) + 2 and lines[-1].startswith("secret scan: ")
    assert result["large_seconds"] > 0


# -- service-assigns-public-ip ----------------------------------------------------------------
OPEN_8080 = bn.rule("tcp", 8080, cidrs=("0.0.0.0/0",))


def _public_ip(services: list[dict[str, Any]], open_rule: dict[str, Any] | None = None,
               *, without: str | None = None) -> Any:
    world = bn.World(services=services)
    if open_rule is not None:
        world.sg(bn.TASK_SG)["IpPermissions"].append(open_rule)
    bundle = world.bundle()
    if without:
        del bundle["resources"][without]
    (f,) = run_check("service-assigns-public-ip", bundle)
    return f


@pytest.mark.parametrize(("public_ip", "open_rule", "status", "severity", "open_ingress"), [
    ("DISABLED", None, "pass", "medium", None),
    ("ENABLED", None, "fail", "medium", []),
    ("ENABLED", OPEN_8080, "fail", "high", [f"{bn.TASK_SG} tcp/8080 from 0.0.0.0/0"]),
    ("ENABLED", bn.rule("-1", ipv6=("::/0",)), "fail", "high",
     [f"{bn.TASK_SG} all traffic from ::/0"]),
])
def test_service_assigns_public_ip(public_ip: str, open_rule: dict[str, Any] | None,
                                   status: str, severity: str,
                                   open_ingress: list[str] | None) -> None:
    f = _public_ip([bn.web_service(public_ip=public_ip)], open_rule)
    assert (f.status.value, f.severity.value, f.service) == (status, severity, WEB)
    assert f.data.get("open_ingress") == open_ingress
    assert f.data.get("exposure") == (None if open_ingress is None else
                                      "internet" if open_ingress else "closed")
    assert f.data.get("open_security_group") == (bn.TASK_SG if open_ingress else None)
    if status == "fail":
        assert f.data["runners"] == ["its own network configuration"]
        assert f.data["affected_tasks"] == 2


def test_public_ip_without_the_security_groups_says_so() -> None:
    f = _public_ip([bn.web_service(public_ip="ENABLED")], without="security_groups")
    assert (f.status.value, f.severity.value, f.data["exposure"]) == ("fail", "medium",
                                                                       "unknown")
    assert "security groups were not collected" in f.message


def test_public_ip_is_skipped_for_bridge_networking() -> None:
    f = _public_ip([b.service("web", launchType="EC2")])
    assert f.status.value == "skipped"


@pytest.mark.parametrize(("sets", "status", "runners"), [
    ([ts.task_set("web", "1", public_ip="ENABLED")], "fail", ["task set ecs-svc/1"]),
    ([ts.task_set("web", "1", public_ip="DISABLED"),
      ts.task_set("web", "2", status="ACTIVE", public_ip="ENABLED")], "fail",
     ["task set ecs-svc/2"]),
    ([ts.task_set("web", "1", public_ip="DISABLED")], "pass", None),
    # a task set that stopped running (INACTIVE) exposes nothing
    ([ts.task_set("web", "1", public_ip="DISABLED"),
      ts.task_set("web", "2", status="INACTIVE", public_ip="ENABLED")], "pass", None),
])
def test_a_task_sets_public_ip_is_its_services(sets: list[dict[str, Any]], status: str,
                                               runners: list[str] | None) -> None:
    f = _public_ip([ts.external_service("web", *sets)], OPEN_8080)
    assert (f.status.value, f.service) == (status, WEB)
    assert f.data.get("runners") == runners
    if status == "fail":
        assert f.severity.value == "high" and "task set ecs-svc/" in f.message


def test_the_world_open_group_comes_first() -> None:
    """Commands that take one group (describe, revoke) name the first: the open one."""
    world = bn.World(services=[bn.web_service(public_ip="ENABLED",
                                              groups=(bn.TASK_SG, bn.ENDPOINT_SG))])
    world.sg(bn.ENDPOINT_SG)["IpPermissions"].append(OPEN_8080)
    (f,) = run_check("service-assigns-public-ip", world.bundle())
    assert f.data["security_groups"] == [bn.ENDPOINT_SG, bn.TASK_SG]
    assert f.data["open_security_group"] == bn.ENDPOINT_SG
