"""The fleet scan on moto: three accounts (entered by AssumeRole, one moto backend per
account id) in two Regions, one report ranked across them, and each kind of target failure
(a role that cannot be assumed, a Region that refuses the first call, a cluster that is not
there) costing only its own target."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.stub import Stubber

from checker.collect import Scope
from checker.fleet import FleetRequest, Sessions, plan, scan_fleet
from checker.fleet.run import Outcome, Target
from checker.fleet.targets import OPERATIONS, SESSION_NAME, SESSION_SECONDS, client
from checker.model import Report
from checker.pipeline import Engine
from checker.render import RenderOptions
from checker.render.json_report import render_json
from tests.collect.support import Calls, denied
from tests.conftest import REPO
from tests.fleet.accounts import CLUSTER, ROLE, build, member_session

A, B, C = "111111111111", "222222222222", "333333333333"
REGIONS = ("us-east-1", "eu-west-1")
PROD = Scope(clusters=(CLUSTER,))
CALLER_POLICY = REPO / "deploy" / "fleet" / "caller-policy.json"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture
def fleet(aws: None) -> Iterator[boto3.session.Session]:
    """A and C have a password in a container's environment in us-east-1 only; every
    target has a service without logs. The base session is the audit account's."""
    for account in (A, B, C):
        for region in REGIONS:
            build(member_session(account, region),
                  secret=account != B and region == "us-east-1")
    yield boto3.session.Session(region_name="us-east-1")


def request(**kw: Any) -> FleetRequest:
    return FleetRequest(**{"regions": REGIONS, "accounts": (A, B, C), "role_arn": ROLE, **kw})


def _where(report: Report) -> set[tuple[str | None, str | None]]:
    return {(d.account, d.region) for d in report.diagnoses}


def test_one_report_ranks_every_account_and_region(fleet: Any, engine: Engine) -> None:
    report = scan_fleet(request(), fleet, PROD, engine=engine)
    assert _where(report) == {(a, r) for a in (A, B, C) for r in REGIONS}
    assert [d.rank for d in report.diagnoses] == list(range(1, len(report.diagnoses) + 1))
    # each diagnosis is about a resource of its own account and Region
    for d in report.diagnoses:
        assert all(f":{d.region}:{d.account}:" in r for r in d.resources), d
    # the ranking spans the fleet: both secrets (A and C, us-east-1) above every gap
    ids = [(d.id, d.account, d.region) for d in report.diagnoses]
    assert ids[:2] == [("plaintext-secrets", A, "us-east-1"),
                       ("plaintext-secrets", C, "us-east-1")]
    assert {i for i, _, _ in ids[2:]} == {"observability-gaps"}
    assert report.account is None and report.region is None
    assert report.scope["accounts"] == [A, B, C]
    assert report.scope["regions"] == sorted(REGIONS)
    assert [t["status"] for t in report.scope["targets"]] == ["scanned"] * 6
    assert report.errors == ()
    assert all(f.account and f.region for f in report.findings)


def test_the_json_report_carries_account_and_region(fleet: Any, engine: Engine) -> None:
    doc = json.loads(render_json(scan_fleet(request(accounts=(A,)), fleet, PROD,
                                            engine=engine), RenderOptions()))
    assert doc["account"] == A and doc["region"] is None
    assert {(d["account"], d["region"]) for d in doc["diagnoses"]} == {
        (A, "us-east-1"), (A, "eu-west-1")}
    assert list(doc["diagnoses"][0])[:4] == ["rank", "id", "account", "region"]
    schema = json.loads((REPO / "docs" / "schema" / "report-v1.schema.json").read_text())
    jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())


def test_a_single_account_report_has_no_fleet_keys(fleet: Any, engine: Engine) -> None:
    from checker.collect import collect

    report = engine.analyze(collect(member_session(A, "us-east-1"), PROD))
    doc = report.to_dict()
    assert doc["diagnoses"] and all("account" not in d and "region" not in d
                                    for d in [*doc["diagnoses"], *doc["findings"]])


def _stubbed_sts(base: Any, answers: dict[str, str | None]) -> tuple[Any, Stubber]:
    """The caller's STS client answering AssumeRole in account order: moto's own
    credentials for an account (``None``), or the error code given (moto lets every role
    be assumed, so the refusal is injected)."""
    real = base.client("sts")
    sts = client(base, "sts")
    stub = Stubber(sts)
    for account, refusal in answers.items():
        role = ROLE.format(account=account)
        expected = {"RoleArn": role, "RoleSessionName": SESSION_NAME,
                    "DurationSeconds": SESSION_SECONDS}
        if refusal is None:
            response = real.assume_role(**expected)
            response.pop("ResponseMetadata")
            stub.add_response("assume_role", response, expected)
        else:
            stub.add_client_error("assume_role", service_error_code=refusal,
                                  service_message=f"not authorized to perform sts:AssumeRole "
                                                  f"on resource: {role}",
                                  http_status_code=403, expected_params=expected)
    stub.activate()
    return sts, stub


def test_a_role_that_cannot_be_assumed_fails_only_its_account(fleet: Any,
                                                              engine: Engine) -> None:
    sts, stub = _stubbed_sts(fleet, {A: None, B: "AccessDenied", C: None})
    report = scan_fleet(request(), fleet, PROD, engine=engine, sts=sts)
    stub.assert_no_pending_responses()  # one AssumeRole per account, not per Region
    assert _where(report) == {(a, r) for a in (A, C) for r in REGIONS}
    refused = [e for e in report.errors if e["account"] == B]
    assert [(e["region"], e["operation"], e["code"]) for e in refused] == [
        ("us-east-1", "sts:AssumeRole", "AccessDenied"),
        ("eu-west-1", "sts:AssumeRole", "AccessDenied")]
    assert "cannot assume arn:aws:iam::222222222222:role/ecsdoctor-fleet" in refused[0]["message"]
    status = {(t["account"], t["region"]): t["status"] for t in report.scope["targets"]}
    assert status[(B, "eu-west-1")] == "failed" and status[(A, "eu-west-1")] == "scanned"
    assert report.failed_collections  # --strict exits 3 on it


class _RegionOff(Sessions):
    """The caller's sessions, except that one account's eu-west-1 refuses every call, as a
    Region not enabled for the account refuses the credentials."""

    def __call__(self, target: Target) -> Any:
        session = super().__call__(target)
        if (target.account, target.region) == (C, "eu-west-1"):
            session.events.register("before-call.*.*", denied(
                "GetCallerIdentity", "InvalidClientTokenId"))
        return session


def test_a_region_that_refuses_the_account_fails_only_that_target(fleet: Any,
                                                                  engine: Engine) -> None:
    sessions = _RegionOff(fleet, role_arn=ROLE)
    report = scan_fleet(request(), fleet, PROD, engine=engine, sessions=sessions)
    assert _where(report) == {(a, r) for a in (A, B, C) for r in REGIONS} - {(C, "eu-west-1")}
    [error] = [e for e in report.errors if e.get("collection") == "target"]
    assert (error["account"], error["region"], error["code"]) == (
        C, "eu-west-1", "InvalidClientTokenId")
    assert error["operation"] == "sts:GetCallerIdentity"


def test_a_missing_cluster_fails_only_that_target(fleet: Any, engine: Engine) -> None:
    member_session(B, "eu-west-1").client("ecs").delete_service(
        cluster=CLUSTER, service="web", force=True)
    member_session(B, "eu-west-1").client("ecs").delete_cluster(cluster=CLUSTER)
    report = scan_fleet(request(), fleet, PROD, engine=engine)
    [error] = [e for e in report.errors if e.get("collection") == "target"]
    assert (error["account"], error["region"], error["code"]) == (B, "eu-west-1", "ScanFailed")
    assert "prod" in error["message"]
    assert (B, "us-east-1") in _where(report) and (B, "eu-west-1") not in _where(report)


def test_without_a_cluster_every_cluster_of_each_target_is_read(fleet: Any,
                                                                engine: Engine) -> None:
    member_session(A, "us-east-1").client("ecs").create_cluster(clusterName="empty")
    report = scan_fleet(request(accounts=(A,), regions=("us-east-1",)), fleet, Scope(clusters=()),
                        engine=engine)
    [target] = report.scope["targets"]
    assert target["status"] == "scanned"
    assert [c.rsplit("/", 1)[-1] for c in target["clusters"]] == ["empty", "prod"]


def test_a_target_without_clusters_is_reported_not_failed(aws: None, engine: Engine) -> None:
    build(member_session(A, "us-east-1"), secret=True)
    base = boto3.session.Session(region_name="us-east-1")
    report = scan_fleet(request(accounts=(A,)), base, Scope(clusters=()), engine=engine)
    assert {(t["region"], t["status"]) for t in report.scope["targets"]} == {
        ("us-east-1", "scanned"), ("eu-west-1", "no-clusters")}
    assert report.errors == ()


def test_every_target_failing_is_one_input_error(fleet: Any, engine: Engine) -> None:
    from checker.errors import InputError

    sts, _ = _stubbed_sts(fleet, {A: "AccessDenied"})
    with pytest.raises(InputError, match=r"no target could be scanned \(2 failed\)"):
        scan_fleet(request(accounts=(A,)), fleet, PROD, engine=engine, sts=sts)


def test_the_organization_and_all_regions(aws: None) -> None:
    base = boto3.session.Session(region_name="us-east-1")
    org = base.client("organizations")
    org.create_organization(FeatureSet="ALL")
    made = sorted(org.create_account(Email=f"{n}@example.com", AccountName=n)
                  ["CreateAccountStatus"]["AccountId"] for n in ("a", "b"))
    calls = Calls(base)
    targets = plan(FleetRequest(regions=("all",), organization=True, role_arn=ROLE), base)
    listed = base.client("ec2").describe_regions()["Regions"]
    # moto lists the opt-in Regions too (AWS would not): those not opted in are left out
    enabled = sorted(r["RegionName"] for r in listed if r["OptInStatus"] != "not-opted-in")
    assert "ap-east-1" not in enabled and "eu-west-1" in enabled
    master = org.describe_organization()["Organization"]["MasterAccountId"]
    assert {t.account for t in targets} == {master, *made}
    assert sorted({t.region for t in targets}) == enabled
    assert len(targets) == 3 * len(enabled)
    assert set(calls.actions) == {"organizations:ListAccounts", "ec2:DescribeRegions"}


def test_the_fleet_calls_only_its_policy_and_the_scans(fleet: Any, engine: Engine) -> None:
    """What the caller's account is asked: exactly deploy/fleet/caller-policy.json (tests/
    conftest.py checks each call against it by user agent); the targets see a scan's."""
    calls = Calls(fleet)
    scan_fleet(request(), fleet, PROD, engine=engine)
    assert set(calls.actions) == {"sts:AssumeRole"}
    assert calls.count()["sts:AssumeRole"] == 3  # once per account
    policy = json.loads(CALLER_POLICY.read_text(encoding="utf-8"))
    assert policy["Statement"][0]["Action"] == sorted(OPERATIONS)


def test_outcomes_keep_target_order_whatever_finishes_first(fleet: Any) -> None:
    from checker.fleet.run import scan_targets

    sessions = Sessions(fleet, role_arn=ROLE)
    targets = [Target(a, r) for a in (C, A, B) for r in REGIONS]
    seen: list[Outcome] = []
    outcomes = scan_targets(targets, sessions, PROD, workers=3, on_done=seen.append)
    assert [o.target for o in outcomes] == targets
    assert sorted(o.target for o in seen) == sorted(targets)


def test_the_fleet_runs_under_one_time_limit(fleet: Any) -> None:
    """`--timeout` bounds the whole fleet scan: once it has passed (or Ctrl-C cancelled it),
    no target sends another call and each target still to read fails at its first call,
    saying why, instead of the scan running on target after target."""
    from checker.collect.aws import Deadline
    from checker.fleet.run import scan_targets

    sessions = Sessions(fleet, role_arn=ROLE)
    targets = [Target(a, r) for a in (A, B) for r in REGIONS]
    stopped = Deadline(60)
    stopped.cancel()
    outcomes = scan_targets(targets, sessions, PROD, workers=2, deadline=stopped)
    assert [o.bundle for o in outcomes] == [None] * len(targets)
    assert {o.error["code"] for o in outcomes if o.error} == {"ScanTimeout"}
    live = scan_targets(targets[:1], sessions, PROD, deadline=Deadline(60))
    assert live[0].bundle is not None and live[0].error is None
