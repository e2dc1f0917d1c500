"""Green means checked: a scan that could not read the services or tasks of its scope never
passes `--fail-on`, and every report says first what it could not read and why.

Against the demo account (moto on 127.0.0.1) with one permission denied, through the real
CLI and collectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from checker.cli import main
from tests.faults import demo, deny, scan_with


@pytest.fixture(scope="module")
def acct() -> Iterator[Any]:
    with demo() as account:
        yield account


@pytest.mark.parametrize(("action", "collection"), [
    ("ecs:DescribeServices", "services"), ("ecs:ListTasks", "tasks")])
def test_an_unread_scope_fails_fail_on_without_strict_and_says_so_first(
        acct: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        action: str, collection: str) -> None:
    session = acct.session()
    code_used = deny(session, action)
    scan_with(monkeypatch, session)
    assert main(["scan", "--cluster", acct.cluster, "--fail-on", "critical"]) == 3
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[3].startswith("Could not read"), lines[:6]
    assert f"{collection} ({action}): {code_used}" in " ".join(" ".join(lines[4:8]).split())
    said = [line for line in err.splitlines() if "--fail-on critical" in line]
    assert len(said) == 1 and f"{collection} ({code_used})" in said[0], err


def test_an_unread_collection_outside_the_scope_leaves_fail_on_to_the_findings(
        acct: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A denied credit-specification read is reported first, but only --strict fails on it."""
    session = acct.session()
    deny(session, "ec2:DescribeInstanceCreditSpecifications")
    scan_with(monkeypatch, session)
    assert main(["scan", "--cluster", acct.cluster, "--fail-on", "info", "-f", "markdown"]) == 1
    out, err = capsys.readouterr()
    assert "Could not read 1 collection(s)" in "\n".join(out.splitlines()[:4])
    assert "--fail-on" not in err
    assert main(["scan", "--cluster", acct.cluster, "--strict", "-f", "json"]) == 3
    err = capsys.readouterr().err
    assert "--strict: 1 collection error(s)" in err and "credit_specifications" in err
