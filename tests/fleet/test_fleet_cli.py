"""`ecsdoctor scan` across accounts and Regions: one report on stdout, the usual exit codes,
and every mistake in the fleet options one line and exit 2 before any AWS call."""

from __future__ import annotations

import json

import pytest

from checker.cli.app import main
from tests.fleet.accounts import ROLE, build, member_session

A, B = "111111111111", "222222222222"


@pytest.mark.parametrize(("argv", "says"), [
    (["--accounts", A], "need --role-arn"),
    (["--accounts", "12345", "--role-arn", ROLE], "not a 12-digit account id"),
    (["--accounts", A, "--role-arn", "arn:aws:iam::111111111111:role/x"],
     "put {account} where the account id goes"),
    (["--accounts", A, "--organization", "--role-arn", ROLE], "not both"),
    (["--regions", "mars-1"], "not a Region name"),
    (["--regions", "all,us-east-1"], "either all or a list"),
    (["--regions", " , "], "expected Region names"),
    (["--role-arn", "arn:aws:iam::role/x"], "expected arn:aws:iam::{account}:role/NAME"),
    (["--regions", "us-east-1", "--save-bundle", "b.json"], "--save-bundle saves one"),
])
def test_fleet_option_mistakes_are_one_line(capsys: pytest.CaptureFixture[str],
                                            argv: list[str], says: str) -> None:
    assert main(["scan", "--cluster", "prod", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ecsdoctor: error:") and says in err[0], err


def test_a_fleet_scan_prints_one_report(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    for account in (A, B):
        for region in ("us-east-1", "eu-west-1"):
            build(member_session(account, region), secret=account == B)
    code = main(["scan", "--regions", "us-east-1,eu-west-1", "--accounts", f"{A},{B}",
                 "--role-arn", ROLE, "--format", "json", "--fleet-workers", "2",
                 "--fail-on", "low"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1  # every target has a low diagnosis at least
    assert [(d["id"], d["account"]) for d in doc["diagnoses"][:2]] == [
        ("plaintext-secrets", B), ("plaintext-secrets", B)]
    assert {(d["account"], d["region"]) for d in doc["diagnoses"]} == {
        (a, r) for a in (A, B) for r in ("us-east-1", "eu-west-1")}
    assert doc["scope"]["clusters"] and len(doc["scope"]["targets"]) == 4



@pytest.mark.parametrize(("fmt", "heading", "header"), [
    ("markdown", f"· **Account** `{A}` · **Region** `eu-west-1`",
     f"**Account** {A} · **Region** 2 Regions"),
    ("table", f"in {A}/eu-west-1", f"account {A}  region 2 Regions"),
])
def test_table_and_markdown_say_where_each_diagnosis_is(
        aws: None, capsys: pytest.CaptureFixture[str], fmt: str, heading: str,
        header: str) -> None:
    for region in ("us-east-1", "eu-west-1"):
        build(member_session(A, region), secret=True)
    assert main(["scan", "--regions", "us-east-1,eu-west-1", "--accounts", A,
                 "--role-arn", ROLE, "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert heading in out and header in out, out[:600]
