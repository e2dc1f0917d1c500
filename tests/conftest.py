"""Shared fixtures: fake credentials everywhere, moto in-process when a test asks for it.

No test may reach real AWS: the autouse fixture replaces every credential source with fake
keys and clears profiles/endpoints, so a call that escapes moto fails instead of landing
in someone's account.
"""

from __future__ import annotations

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


#: IAM actions called from ecsdoctor's collectors during this test session, with the
#: collector module that called them. tests/test_zzz_recorded_calls.py checks them against
#: the shipped IAM policies once every other test has run.
RECORDED_CALLS: dict[str, set[str]] = {}


def _caller_module(depth_limit: int = 60) -> str | None:
    import sys

    frame = sys._getframe(2)
    for _ in range(depth_limit):
        if frame is None:
            return None
        name = str(frame.f_globals.get("__name__", ""))
        if name.startswith("checker.collect"):
            return name
        frame = frame.f_back  # type: ignore[assignment]
    return None


@pytest.fixture(autouse=True, scope="session")
def _record_collector_calls() -> Iterator[None]:
    """Record every AWS operation that ecsdoctor's own code (not a test's setup) calls."""
    from botocore.client import BaseClient

    from checker.collect._aws import iam_prefix

    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation_name: str, api_params: dict) -> object:  # type: ignore[type-arg]
        caller = _caller_module()
        if caller is not None:
            service = self.meta.service_model.service_id.hyphenize()
            RECORDED_CALLS.setdefault(f"{iam_prefix(service)}:{operation_name}",
                                      set()).add(caller)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
