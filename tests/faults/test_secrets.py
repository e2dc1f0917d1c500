"""No secret-looking environment value in any output format or saved bundle.

A scan against moto of task definitions carrying an AWS access key pair, a JWT, a database
URL with a password and a *_PASSWORD literal (plus a one-off token in a run-task override):
the collector redacts them before they enter the bundle (checker/redact.py), so neither the
saved bundle nor any renderer in checker.render.RENDERERS can show them, while the
environment-plaintext-secrets finding still names every variable. A property test keeps the
redactor and the check agreeing on what a secret is (they share one pattern file).
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.bundle import load
from checker.cli import main
from checker.pipeline import Engine
from checker.redact import (
    patterns,
    redact_environment,
    redact_task,
    redact_task_definition,
)
from checker.render import RENDERERS, RenderOptions, render
from checks.security import secret_kind

MARKER = "***REDACTED***"  # what bundles saved before markers named the kind hold


def marker(kind: str) -> str:
    return f"***REDACTED:{kind}***"


JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9l"
       "IiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
SECRETS = {  # variable → value: every one must vanish
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "SESSION_JWT": JWT,
    "DATABASE_URL": "postgres://orders:Sup3r-S3cret!@db.prod.internal:5432/orders",
    "REDIS_PASSWORD": "hunter2-but-much-longer",
}
KINDS = {"AWS_ACCESS_KEY_ID": "aws-access-key-id", "AWS_SECRET_ACCESS_KEY":
         "aws-secret-access-key", "SESSION_JWT": "jwt", "DATABASE_URL": "url-with-password",
         "REDIS_PASSWORD": "password"}
OVERRIDE = ("ONE_TIME_TOKEN", "tok_9f8e7d6c5b4a39281706")  # run-task --overrides
#: Outside the environment: a password flag, a basic-auth label, a FireLens API key.
COMMAND = ["sh", "-c", "mysql -h db -uroot -pMy5qlRootPw orders && exec /app -Xmx256m"]
LABELS = {"traefik.http.middlewares.auth.basicauth.users":
          "admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", "team": "orders"}
LOG_OPTIONS = {"Name": "datadog", "apikey": "d5c1f0e9b8a7c6d5e4f3a2b1c0d9e8f7"}
#: Pieces that must not survive anywhere either (a renderer could truncate or split).
FRAGMENTS = ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "bPxRfiCYEXAMPLEKEY",
             "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
             "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9l", "Sup3r-S3cret",
             "hunter2-but-much-longer", "tok_9f8e7d6c5b4a39281706", "My5qlRootPw",
             "H6uskkkW$IgXLP6ewTrSuBkTrqE8wj", "d5c1f0e9b8a7c6d5e4f3a2b1c0d9e8f7"]
KEPT = {  # not secrets: kept as they are
    "LOG_LEVEL": "info", "DB_HOST": "db.prod.internal", "DB_PASSWORD_FILE": "/run/secrets/db",
    "API_KEY": "${API_KEY}", "JAVA_OPTS": "-Xmx512m",
}


def build_account() -> str:
    """Cluster prod: one EC2 container instance, service `orders` on a task definition with
    the secrets, one task run with a secret in its overrides. Returns that task's ARN."""
    ec2, ecs, ssm = (boto3.client(s, region_name="us-east-1") for s in ("ec2", "ecs", "ssm"))
    ecs.create_cluster(clusterName="prod")
    image = ssm.get_parameter(
        Name="/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id")["Parameter"]
    instance = ec2.run_instances(ImageId=image["Value"], MinCount=1, MaxCount=1,
                                 InstanceType="m5.large")["Instances"][0]
    ecs.register_container_instance(cluster="prod", instanceIdentityDocument=json.dumps(
        {"instanceId": instance["InstanceId"], "region": "us-east-1",
         "accountId": "123456789012"}))
    env = [{"name": k, "value": v} for k, v in {**SECRETS, **KEPT}.items()]
    ecs.register_task_definition(family="orders", containerDefinitions=[
        {"name": "app", "image": "orders:1.4.2", "memory": 512, "environment": env,
         "command": COMMAND, "dockerLabels": LABELS,
         "logConfiguration": {"logDriver": "awsfirelens", "options": LOG_OPTIONS}}])
    ecs.create_service(cluster="prod", serviceName="orders", taskDefinition="orders",
                       desiredCount=1, launchType="EC2")
    overrides = {"containerOverrides": [{"name": "app", "environment": [
        {"name": OVERRIDE[0], "value": OVERRIDE[1]}]}]}
    task = ecs.run_task(cluster="prod", taskDefinition="orders", count=1, launchType="EC2",
                        group="service:orders", startedBy="ecs-svc/1", overrides=overrides)
    return str(task["tasks"][0]["taskArn"])


def _leaks(text: str) -> list[str]:
    return [f for f in FRAGMENTS if f in text]


def test_no_secret_in_any_output_or_saved_bundle(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    task_arn = build_account()
    saved = tmp_path / "bundle.json"
    outputs: dict[str, str] = {}
    for fmt in ("table", "json", "markdown"):  # what `scan --format` offers
        out = tmp_path / f"report.{fmt}"
        args = ["scan", "--cluster", "prod", "-f", fmt, "-o", str(out), "--verbose"]
        if fmt == "table":
            args += ["--save-bundle", str(saved)]
        assert main(args) == 0
        outputs[f"scan -f {fmt}"] = out.read_text(encoding="utf-8")
    assert main(["scan", "--cluster", "prod", "--verbose"]) == 0  # straight to the terminal
    captured = capsys.readouterr()
    outputs["stdout"], outputs["stderr"] = captured.out, captured.err

    bundle_text = saved.read_text(encoding="utf-8")
    assert _leaks(bundle_text) == []
    bundle = load(saved)
    report = Engine().analyze(bundle)
    for fmt in RENDERERS:  # every renderer, including sarif, junit and asff
        outputs[f"render {fmt}"] = render(report, fmt, RenderOptions(verbose=True))
    assert {name: _leaks(text) for name, text in outputs.items() if _leaks(text)} == {}

    # redacted in the bundle, the rest kept as collected
    (td,) = bundle["resources"]["task_definitions"]
    env = {e["name"]: e["value"] for e in td["containerDefinitions"][0]["environment"]}
    assert env == {**{name: marker(kind) for name, kind in KINDS.items()}, **KEPT}
    ctr = td["containerDefinitions"][0]
    assert ctr["command"] == ["sh", "-c", "mysql -h db -uroot -p***REDACTED:password*** "
                              "orders && exec /app -Xmx256m"]  # the rest of the line kept
    assert ctr["dockerLabels"] == {**LABELS, "traefik.http.middlewares.auth.basicauth.users":
                                   marker("basic-auth")}
    assert ctr["logConfiguration"]["options"] == {**LOG_OPTIONS, "apikey": marker("api-key")}
    (task,) = [t for t in bundle["resources"]["tasks"] if t["taskArn"] == task_arn]
    override_env = task["overrides"]["containerOverrides"][0]["environment"]
    assert override_env == [{"name": OVERRIDE[0], "value": marker("token")}]

    # and the finding, read from the redacted bundle, still names every secret and its kind
    (finding,) = [f for f in report.findings if f.check == "environment-plaintext-secrets"]
    assert finding.status.value == "fail"
    others = ["command -p", "dockerLabels traefik.http.middlewares.auth.basicauth.users",
              "logConfiguration.options apikey"]
    assert sorted(finding.data["names"]) == sorted([*SECRETS, *others])
    assert sorted(finding.data["kinds"]) == sorted({*KINDS.values(), "basic-auth", "api-key"})
    for name in SECRETS:
        assert name in finding.message
    assert "an AWS access key id in AWS_ACCESS_KEY_ID" in finding.message
    assert "a password in command (-p)" in finding.message
    assert not set(KEPT) & set(finding.data["names"])


def test_redaction_copies_and_leaves_odd_shapes_alone() -> None:
    td = {"taskDefinitionArn": "a", "containerDefinitions": [
        {"name": "a", "environment": [{"name": "DB_PASSWORD", "value": "correct-horse"},
                                      {"name": "PORT", "value": "8080"}, "junk", {"x": 1}]},
        {"name": "b", "environment": 1.5}, {"name": "c"}, "junk"]}
    before = json.dumps(td)
    out = redact_task_definition(td)
    assert json.dumps(td) == before  # the input is not changed
    assert out["containerDefinitions"][0]["environment"] == [
        {"name": "DB_PASSWORD", "value": marker("password")}, {"name": "PORT", "value": "8080"},
        "junk", {"x": 1}]
    assert out["containerDefinitions"][1:] == td["containerDefinitions"][1:]
    assert redact_task_definition({"containerDefinitions": None}) == {
        "containerDefinitions": None}
    assert redact_task({"overrides": "x"}) == {"overrides": "x"}
    assert redact_task({"taskArn": "t"}) == {"taskArn": "t"}
    # a number under a secret name is a secret too (the check reads str(value))
    assert redact_environment([{"name": "PIN_PASSWORD", "value": 12345678}]) == [
        {"name": "PIN_PASSWORD", "value": marker("password")}]


def test_marker_is_the_one_the_check_knows() -> None:
    assert patterns().marker("jwt") == marker("jwt")
    assert secret_kind("SESSION", marker("jwt")) == "jwt"
    assert secret_kind("DB_PASSWORD", MARKER) == "redacted"  # an old bundle's marker


values = st.one_of(
    st.text(max_size=40),
    st.sampled_from([*SECRETS.values(), *KEPT.values(), "changeme", "<YOUR_KEY>",
                     "arn:aws:secretsmanager:us-east-1:1:secret:x", "postgres://u:${P}@h/db",
                     "mysql://root:@localhost/db", "xoxb-1234567890-abcdefghij", MARKER,
                     "ghp_" + "a" * 36, "sk_live_" + "b" * 24, "AIza" + "c" * 35, "true"]),
    st.builds(lambda a, b: a + b, st.sampled_from(list(SECRETS.values())), st.text(max_size=5)),
)
names = st.one_of(st.sampled_from([*SECRETS, *KEPT, "PASSWORD_MIN_LENGTH", "SECRET_ARN",
                                   "TOKEN", "db_password", "X_API_KEY"]),
                  st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ_", max_size=20))


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(names, values)
def test_redactor_and_check_agree_on_what_a_secret_is(name: str, value: str) -> None:
    """One detector, two readers: whatever the check would flag the collector redacts, and
    nothing else; the redacted value is flagged as the same kind."""
    kind = secret_kind(name, value)
    (pair,) = redact_environment([{"name": name, "value": value}])
    if kind is None or value in (MARKER, marker(kind)):
        assert pair["value"] == value
    else:
        assert pair["value"] == marker(kind)
        assert secret_kind(name, pair["value"]) == kind  # still flagged, as what it was
