"""A missing permission, one operation at a time: the scan completes, every check that
needed the denied collection is `unknown` and names the IAM action to grant, nothing else
is affected, and `--strict` exits 3.

Every operation in checker.collect.OPERATIONS is denied in turn against the demo account,
whose scan calls all of them (tests/faults/test_throttling.py proves that); ecs:ListClusters
belongs to the scheduled audit and is denied there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checker.collect import OPERATIONS
from checker.registry import load as load_registry
from tests.faults import demo, deny, scan_with

SCAN_OPS = sorted(OPERATIONS - {"ecs:ListClusters"})
REGISTRY = load_registry().select("scan")  # what a scan runs
#: Collections no check declares in `needs`: the account id (labels only), and two that
#: checks read through `facts.has()` with a documented fallback (awsvpcTrunking unknown;
#: credit mode "launch default", "assumed default" in the message). Their denial is still
#: in the report's errors and still makes --strict exit 3.
OPTIONAL = {"account", "account_settings", "credit_specifications",
            # history (issue 11): collected; the checks that read them come next
            "task_history", "ecs_events", "cloudtrail_events",
            # the image probe: log-exec-format-error still reports the log line, and its
            # image_why names the denied permission instead of the image's platforms
            "ecr_images", "ecr_manifests"}


@pytest.fixture(scope="module")
def acct() -> Iterator[Any]:
    with demo() as account:
        yield account


def test_every_operation_is_covered() -> None:
    assert {*SCAN_OPS, "ecs:ListClusters"} == OPERATIONS


@pytest.mark.parametrize("action", SCAN_OPS)
def test_denied_operation_makes_its_checks_unknown_and_strict_exit_3(
    acct: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, action: str,
) -> None:
    session = acct.session()
    code_used = deny(session, action)
    scan_with(monkeypatch, session)
    out = tmp_path / "report.json"
    code = main(["scan", "--cluster", acct.cluster, "--strict", "-f", "json", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "Traceback" not in err and "internal error" not in err
    report = json.loads(out.read_text())

    errors = report["errors"]
    assert errors, "the denial must be recorded"
    assert {(e["operation"], e["code"]) for e in errors} == {(action, code_used)}
    collections = {e["collection"] for e in errors}

    needing = {s.id for s in REGISTRY if collections & set(s.needs)}
    by_check: dict[str, list[dict[str, Any]]] = {}
    for f in report["findings"]:
        by_check.setdefault(f["check"], []).append(f)
        assert "internal_error" not in f["data"], f
    for check in needing:
        (finding,) = by_check[check]
        assert finding["status"] == "unknown", finding
        assert f"needs permission {action}" in finding["message"], finding["message"]
    if collections == {"account"}:  # sts:GetCallerIdentity
        assert report["account"] is None
    if collections <= OPTIONAL:
        assert not needing
    else:
        assert needing, f"no check reads {collections}?"
    # the scan went on: checks that did not need the denied collection ran
    ran = [f for f in report["findings"] if f["check"] not in needing]
    assert any(f["status"] in ("pass", "fail") for f in ran)


def test_without_strict_a_denial_is_reported_not_fatal(
    acct: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The default scan exits 0 and the table lists the failed collection and the unknowns."""
    session = acct.session()
    deny(session, "ecs:DescribeTaskDefinition")
    scan_with(monkeypatch, session)
    assert main(["scan", "--cluster", acct.cluster]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the table wraps long lines
    assert "Could not read 1 collection(s)" in out and "ecs:DescribeTaskDefinition" in out
    assert "Could not check (" in out  # grouped per check; each finding under --verbose
    assert main(["scan", "--cluster", acct.cluster, "--verbose"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Collection errors (" in out and "needs permission ecs:DescribeTaskDefinition" in out


def test_audit_denied_list_clusters_fails_loudly_before_any_sink(
    acct: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scheduled audit cannot choose clusters without ecs:ListClusters: the invocation
    fails with AWS's own error naming the action (Lambda logs it, its Errors metric alarms)
    instead of reporting an empty, healthy-looking account."""
    from botocore.exceptions import ClientError

    from checker.audit import handler as lambda_handler

    session = acct.session()
    deny(session, "ecs:ListClusters")
    sinks: list[str] = []
    monkeypatch.setattr(lambda_handler, "run_sinks",
                        lambda *a, **k: sinks.append("ran") or ({}, []))
    with pytest.raises(ClientError, match="not authorized to perform: ecs:ListClusters"):
        lambda_handler.run({}, {"ECSDOCTOR_METRICS_NAMESPACE": "off"}, session=session)
    assert sinks == []


def test_audit_with_named_clusters_does_not_need_list_clusters(
    acct: Any,
) -> None:
    from checker.audit import handler as lambda_handler

    session = acct.session()
    deny(session, "ecs:ListClusters")
    summary = lambda_handler.run({}, {"ECSDOCTOR_CLUSTERS": acct.cluster,
                                      "ECSDOCTOR_METRICS_NAMESPACE": "off"}, session=session)
    assert summary["status"] == "ok" and summary["collection_errors"] == 0
