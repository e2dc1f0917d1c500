"""Throttling on every collector: adaptive retries, a complete scan, and a report that says
what was retried and what still failed.

Against the demo account (moto on 127.0.0.1), whose scan calls every operation the
collectors know (asserted below), with throttling answers injected into botocore's retry
loop (tests/faults/__init__.py). Backoff and rate-limiter sleeps are recorded rather than
slept (`fast_retries`), so the suite stays fast while botocore still makes every retry
decision itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checker.bundle import load
from checker.cli import main
from checker.collect import OPERATIONS, Scope, collect
from checker.collect.aws import DEFAULT_HISTORY, DEFAULT_LOG_LINES
from checker.registry import load as load_registry
from tests.faults import Throttle, demo, fast_retries, scan_with, service_of

#: Every operation a scan calls; ecs:ListClusters only the scheduled audit (tested below).
SCAN_OPS = sorted(OPERATIONS - {"ecs:ListClusters"})
#: The first call is made with 2 attempts (checker.collect._FIRST_CALL_RETRIES = 1).
FIRST = "sts:GetCallerIdentity"
#: checker.collect.aws.client: adaptive, max_attempts 10, which botocore counts as retries
#: (total_max_attempts = max_attempts + 1).
RETRIES = 10


@pytest.fixture(scope="module")
def acct() -> Iterator[Any]:
    with demo() as account:
        yield account


@pytest.fixture(scope="module")
def baseline(acct: Any) -> dict[str, Any]:
    """An unthrottled scan, to compare against."""
    calls: set[str] = set()
    session = acct.session()
    session.events.register("before-send.*.*", lambda event_name, **_: calls.add(event_name))
    bundle = collect(session, Scope(clusters=(acct.cluster,), history=DEFAULT_HISTORY,
                                    log_lines=DEFAULT_LOG_LINES))
    services = {service_of(op)[0].event_id + "." + service_of(op)[1]: op for op in SCAN_OPS}
    called = {services[e.removeprefix("before-send.")] for e in calls}
    assert called == set(SCAN_OPS), "the demo scan must exercise every collector operation"
    assert bundle["errors"] == [] and bundle["retries"] == []
    return bundle


def _scan(monkeypatch: pytest.MonkeyPatch, session: Any, tmp_path: Path,
          cluster: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """`ecsdoctor scan --strict -f json -o … --save-bundle …`: exit code, report, bundle."""
    scan_with(monkeypatch, session)
    report, saved = tmp_path / "report.json", tmp_path / "bundle.json"
    code = main(["scan", "--cluster", cluster, "--strict", "-f", "json", "-o", str(report),
                 "--save-bundle", str(saved)])
    return code, json.loads(report.read_text()), load(saved)


def _series(bundle: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted((m["namespace"], m["name"], json.dumps(m["dimensions"], sort_keys=True),
                   m["stat"]) for m in bundle["metrics"])


def test_every_operation_throttled_then_answered_loses_nothing(
    acct: Any, baseline: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    """Each operation's first 3 attempts (the first call's 1: it has 2) are throttled: every
    one is retried by botocore, the adaptive limiter slows the clients down, the scan ends
    with exactly the baseline's data and no error, and the bundle and stderr say which
    operations were retried."""
    waits = fast_retries(monkeypatch)
    session = acct.session()
    plan: dict[str, int | None] = {op: 1 if op == FIRST else 3 for op in SCAN_OPS}
    throttle = Throttle(session, plan)
    code, report, bundle = _scan(monkeypatch, session, tmp_path, acct.cluster)
    assert code == 0, capsys.readouterr().err  # --strict: nothing failed
    assert throttle.sent == plan  # every operation was throttled as planned
    assert bundle["errors"] == [] and report["errors"] == []
    assert bundle["resources"] == baseline["resources"]  # nothing lost
    assert _series(bundle) == _series(baseline)
    assert {r["operation"]: r["count"] for r in bundle["retries"]} == plan
    assert all(1 <= r["calls"] <= r["count"] for r in bundle["retries"])
    assert len(waits.backoff) == sum(n or 0 for n in plan.values())
    assert waits.rate_limiter, "adaptive mode: the token bucket must have slowed the client"
    lines = capsys.readouterr().err.strip().splitlines()
    note = [line for line in lines if "retried after throttling" in line]
    assert len(note) == 1
    for op, n in plan.items():
        assert f"{op} {n}× (recovered)" in note[0]


#: One operation per collector module, throttled on every attempt.
PAST_RETRIES = ["ecs:DescribeTasks", "ec2:DescribeSubnets",
                "elasticloadbalancing:DescribeTargetHealth",
                "autoscaling:DescribeAutoScalingGroups",
                "application-autoscaling:DescribeScalingPolicies", "cloudwatch:GetMetricData"]


@pytest.mark.parametrize("action", PAST_RETRIES)
def test_throttled_past_every_retry_is_an_error_and_the_scan_goes_on(
    acct: Any, baseline: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path, action: str,
) -> None:
    fast_retries(monkeypatch)
    session = acct.session()
    throttle = Throttle(session, {action: None})
    code, report, bundle = _scan(monkeypatch, session, tmp_path, acct.cluster)
    service, _ = service_of(action)
    assert code == 3  # --strict and a collection failed
    errors = [e for e in bundle["errors"] if e["operation"] == action]
    assert errors and all(e["code"] == service.throttle for e in errors)
    assert bundle["errors"] == errors == report["errors"]  # nothing else failed
    (retried,) = bundle["retries"]
    calls = len(errors)
    assert retried == {"operation": action, "count": RETRIES * calls, "calls": calls}
    assert throttle.sent[action] == (RETRIES + 1) * calls
    # the scan went on: every collector after the failed one still ran
    collections = {e["collection"] for e in errors}
    untouched = {k for k, v in baseline["resources"].items() if k not in collections}
    assert untouched <= set(bundle["resources"])
    if "metrics" not in collections:
        assert _series(bundle) == _series(baseline)
    # what needed the failed collection is unknown and says why; the rest was checked
    registry = load_registry()
    needing = {s.id for s in registry if collections & set(s.needs)}
    for f in report["findings"]:
        if f["check"] in needing:
            assert f["status"] == "unknown", f
            assert f"collection failed: {action} {service.throttle}" in f["message"]
    assert any(f["status"] in ("pass", "fail") for f in report["findings"])
    note = capsys.readouterr().err
    assert f"{action} {RETRIES * calls}× (failed: {service.throttle})" in note


def test_throttled_first_call_is_retried_once_then_recorded(
    acct: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """GetCallerIdentity gets 2 attempts; throttled on both, the account id is unknown but
    the scan (everything else) goes on."""
    fast_retries(monkeypatch)
    session = acct.session()
    Throttle(session, {FIRST: None})
    code, report, bundle = _scan(monkeypatch, session, tmp_path, acct.cluster)
    assert code == 3 and bundle["account"] is None and report["account"] is None
    assert [(e["collection"], e["code"]) for e in bundle["errors"]] == [("account", "Throttling")]
    assert bundle["retries"] == [{"operation": FIRST, "count": 1, "calls": 1}]
    assert bundle["resources"]["tasks"]


def test_audit_list_clusters_throttled_then_answered(
    acct: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scheduled audit's one extra call (ecs:ListClusters, standard retries) recovers
    from throttling and the audit scans the cluster it found."""
    from checker.audit import handler as lambda_handler

    fast_retries(monkeypatch)
    session = acct.session()
    throttle = Throttle(session, {"ecs:ListClusters": 2})
    summary = lambda_handler.run({}, {"ECSDOCTOR_METRICS_NAMESPACE": "off"}, session=session)
    assert throttle.sent == {"ecs:ListClusters": 2}
    assert summary["status"] == "ok" and summary["collection_errors"] == 0
    assert [c.rsplit("/", 1)[-1] for c in summary["clusters"]] == [acct.cluster]
