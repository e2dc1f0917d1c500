"""Least privilege over the whole test suite: every AWS operation ecsdoctor's collectors
called in any test (recorded by tests/conftest.py) is read-only and in the shipped IAM
policy. Runs last (file order); skips when the run did not exercise the collectors."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import RECORDED_CALLS, REPO

READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|List|Get|BatchGet|Simulate)[A-Za-z0-9]*$")


def _actions(name: str) -> set[str]:
    path = REPO / "deploy" / name
    if not path.exists():
        return set()
    doc = json.loads(path.read_text())
    return {a for st in doc["Statement"] for a in st["Action"]}


def test_every_recorded_collector_call_is_allowed_and_read_only() -> None:
    if not RECORDED_CALLS:
        pytest.skip("no collector call in this run (run the whole suite)")
    scan = _actions("iam-policy.json")
    gate = _actions("gate-iam-policy.json")
    outside = {op: sorted(mods) for op, mods in RECORDED_CALLS.items()
               if op not in (gate if any("gate" in m for m in mods) else scan) | scan}
    assert outside == {}, "called but not in deploy/*iam-policy.json"
    assert [op for op in RECORDED_CALLS if not READ_ONLY.match(op)] == []
