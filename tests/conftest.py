"""Shared fixtures: fake credentials everywhere, moto in-process when a test asks for it.

No test may reach real AWS: the autouse fixture replaces every credential source with fake
keys and clears profiles/endpoints, so a call that escapes moto fails instead of landing
in someone's account.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN",
                "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in-process, with ECS tasks frozen in their status (see MOTO.md finding 1)."""
    from moto import mock_aws
    from moto.moto_api import state_manager

    with mock_aws():
        state_manager.set_transition(
            model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
        )
        try:
            yield
        finally:
            state_manager.unset_transition("ecs::task")


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (a user's clone): corpus tests run in CI only")
    return SHARED


#: Read-only by name, plus the two history reads whose names say so less plainly.
READ_ONLY = re.compile(r"^([a-z0-9-]+:(Describe|List|Get|BatchGet|Simulate)[A-Za-z0-9]*"
                       r"|logs:FilterLogEvents|cloudtrail:LookupEvents"
                       r"|sts:AssumeRole)$")  # a fleet scan enters member accounts


def _policy(name: str) -> frozenset[str]:
    doc = json.loads((REPO / "deploy" / name).read_text())
    return frozenset(a for st in doc["Statement"] for a in st["Action"])


#: user agent → the IAM actions that part of ecsdoctor may call (deploy/). The audit's
#: sinks write (S3, SNS, Security Hub, CloudWatch) under the template's own statements,
#: which tests/test_template.py checks; they are not read-only by design.
def _allowed() -> dict[str, frozenset[str]]:
    from checker.collect.aws import GATE_USER_AGENT, USER_AGENT
    from checker.fleet.targets import FLEET_USER_AGENT

    scan = _policy("iam-policy.json")
    return {USER_AGENT: scan, GATE_USER_AGENT: scan | _policy("gate-iam-policy.json"),
            FLEET_USER_AGENT: _policy("fleet/caller-policy.json")}


#: Calls outside the policy made during the current test (checked after each test).
VIOLATIONS: list[str] = []


@pytest.fixture(autouse=True, scope="session")
def _record_collector_calls() -> Iterator[None]:
    """Watch every AWS call ecsdoctor's own clients make (told apart from a test's setup
    calls by the user agent they send) against the IAM policy shipped for that part."""
    from botocore.client import BaseClient

    from checker.collect.aws import iam_prefix

    original = BaseClient._make_api_call
    allowed = _allowed()

    def recording(self: BaseClient, operation_name: str, api_params: dict) -> object:  # type: ignore[type-arg]
        agent = (self.meta.config.user_agent_extra or "").strip()
        if agent in allowed:
            service = self.meta.service_model.service_id.hyphenize()
            action = f"{iam_prefix(service)}:{operation_name}"
            if action not in allowed[agent] or not READ_ONLY.match(action):
                VIOLATIONS.append(f"{action} (client {agent!r})")
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _calls_within_policy() -> Iterator[None]:
    """Least privilege, per test and in any order: a test during which ecsdoctor called an
    operation outside deploy/*iam-policy.json (or not read-only) fails right there."""
    VIOLATIONS.clear()
    yield
    found, VIOLATIONS[:] = sorted(set(VIOLATIONS)), []
    assert not found, f"called but not in deploy/*iam-policy.json or not read-only: {found}"
