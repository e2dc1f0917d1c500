"""Least privilege, proved: the shipped IAM policy is exactly what the collectors declare,
it is read-only, and a real scan calls nothing outside it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3

from checker.collect import OPERATIONS, Scope, collect, ecs
from tests.collect.support import REGION, Calls, build_account

POLICY = Path(__file__).resolve().parents[2] / "deploy" / "iam-policy.json"
READ_ONLY = re.compile(r"^([a-z0-9-]+:(Describe|List|Get)[A-Za-z0-9]+"
                       r"|logs:FilterLogEvents|cloudtrail:LookupEvents|ecr:BatchGetImage"
                       r"|iam:SimulatePrincipalPolicy)$")


def _statement() -> dict[str, object]:
    doc = json.loads(POLICY.read_text(encoding="utf-8"))
    assert doc["Version"] == "2012-10-17"
    assert len(doc["Statement"]) == 1
    statement: dict[str, object] = doc["Statement"][0]
    return statement


def test_policy_actions_equal_the_declared_operations() -> None:
    statement = _statement()
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "*"
    assert statement["Action"] == sorted(OPERATIONS), (
        "deploy/iam-policy.json is out of date: its Action list must be sorted(OPERATIONS)")


def test_every_operation_is_read_only() -> None:
    assert OPERATIONS, "no operations declared"
    assert [op for op in sorted(OPERATIONS) if not READ_ONLY.match(op)] == []


def test_a_scan_calls_only_declared_operations(aws: None) -> None:
    build_account()
    session = boto3.session.Session(region_name=REGION)
    calls = Calls(session)
    bundle = collect(session, Scope(clusters=("prod",)))
    assert bundle["errors"] == []
    called = set(calls.actions)
    assert called - OPERATIONS == set(), "called but not in OPERATIONS (nor the IAM policy)"
    # and no dead declaration: this account exercises every ECS operation declared
    assert ecs.OPERATIONS - called == set()


def test_the_per_test_guard_catches_a_call_outside_the_policy(aws: None) -> None:
    """The autouse guard in tests/conftest.py is what proves least privilege over the whole
    suite; this shows it sees an ecsdoctor client making a write call (and a test setup
    client, without ecsdoctor's user agent, is left alone)."""
    from botocore.config import Config

    from checker.collect.aws import USER_AGENT
    from tests import conftest

    session = boto3.session.Session(region_name=REGION)
    session.client("ecs").create_cluster(clusterName="setup")  # a test's own setup call
    assert conftest.VIOLATIONS == []
    ours = session.client("ecs", config=Config(user_agent_extra=USER_AGENT))
    ours.create_cluster(clusterName="oops")
    assert [f"ecs:CreateCluster (client {USER_AGENT!r})"] == conftest.VIOLATIONS
    conftest.VIOLATIONS.clear()
