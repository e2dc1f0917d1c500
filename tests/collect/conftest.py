"""Fixtures every collector test module asks for by name (helpers: tests/collect/support.py)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.collect.support import REGION, Calls, build_network_account, match_any_filter_value


@pytest.fixture
def session() -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)


@pytest.fixture
def calls(session: boto3.session.Session) -> Calls:
    return Calls(session)


@pytest.fixture
def net(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The EC2/VPC account, with moto matching several filter values as AWS does."""
    match_any_filter_value(monkeypatch)
    return build_network_account()
