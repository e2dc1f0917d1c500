from __future__ import annotations

from typing import Any

import pytest

from tests import builders as b
from tests import builders_taskdef as t
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
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(("env", "expected", "names"), [
    ({"DB_PASSWORD": "hunter22", "LOG_LEVEL": "info"}, "fail", ["DB_PASSWORD"]),
    ({"STRIPE_API_KEY": "k3y-v4lue-123", "JWT_SECRET": "s3cr3t-v4lue"}, "fail",
     ["JWT_SECRET", "STRIPE_API_KEY"]),
    ({"UPLOADER": AWS_KEY}, "fail", ["UPLOADER"]),                  # by value shape
    ({"SESSION": JWT}, "fail", ["SESSION"]),
    ({"TLS": PEM}, "fail", ["TLS"]),
    ({"DATABASE_URL": "postgres://app:pa55word@db.internal:5432/app"}, "fail",
     ["DATABASE_URL"]),
    ({"CACHE": "***REDACTED***"}, "fail", ["CACHE"]),                # redacted by a collector
    # references and placeholders are not literal secrets
    ({"DB_PASSWORD": "${DB_PASSWORD}"}, "pass", []),
    ({"DD_API_KEY": "<YOUR_DATADOG_API_KEY>"}, "pass", []),
    ({"ACCESS_TOKEN": "MY_ACCESS_TOKEN"}, "pass", []),
    ({"AWS_ENV_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}, "pass",
     []),
    ({"JASYPT_ENCRYPTOR_PASSWORD": ""}, "pass", []),
    ({"DATABASE_URL": "postgres://app:${DB_PASSWORD}@db:5432/app"}, "pass", []),
    ({"LIMIT_TOKEN_REQUESTS_PER_MINUTE": "5", "PASSWORD_MIN_LENGTH": "12"}, "pass", []),
    ({"GOOGLE_APPLICATION_CREDENTIALS": "/run/secrets/gcp.json"}, "pass", []),
    ({}, "pass", []),
])
def test_environment_plaintext_secrets(env: dict[str, str], expected: str,
                                       names: list[str]) -> None:
    (f,) = _findings("environment-plaintext-secrets", t.fargate_td("web", t.ctr("app", env=env)))
    assert f.status.value == expected, f.message
    assert f.data.get("names", []) == names
    text = f.message + repr(dict(f.data))
    for value in env.values():
        if len(value) >= 4 and f.status.value == "fail":
            assert value not in text, "a secret value leaked into the finding"


def test_secret_finding_carries_service_and_impact() -> None:
    td = t.fargate_td("web", t.ctr("app", env={"API_TOKEN": "abcd1234efgh"}))
    (f,) = _findings("environment-plaintext-secrets", td)
    assert f.service == WEB and f.data["affected_tasks"] == 2
    assert f.data["kinds"] == ["name"]
    assert "API_TOKEN" in f.message and "abcd1234efgh" not in f.message
