"""Which account × Region pairs a fleet scan reads, and a session into each.

Accounts come from ``--accounts`` or from AWS Organizations (``ListAccounts``, ACTIVE
accounts only); Regions from ``--regions`` or, for ``all``, from ``ec2:DescribeRegions``
(which lists only the Regions enabled for the account). Both lists are read once, with the
caller's own credentials, before the fan-out. Every member account is entered through one
``sts:AssumeRole`` on ``--role-arn`` with ``{account}`` filled in; the credentials serve
all of that account's Regions. The roles are assumed one after the other in account order,
before any scan starts: a few dozen quick calls, in a fixed order a test can replay.

:data:`OPERATIONS` is what this module calls; ``deploy/fleet/caller-policy.json`` grants
exactly those (a test keeps the two equal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from checker.collect.aws import USER_AGENT
from checker.errors import InputError

#: Calls of the fleet's own clients carry this, so CloudTrail and the tests tell them apart.
FLEET_USER_AGENT = f"{USER_AGENT} fleet"
#: Every IAM action the fleet calls in the caller's account (the scan of each target calls
#: checker.collect.OPERATIONS, through the member role).
OPERATIONS: frozenset[str] = frozenset({
    "sts:AssumeRole", "organizations:ListAccounts", "ec2:DescribeRegions"})
ACCOUNT_PLACEHOLDER = "{account}"
ALL_REGIONS = "all"
#: How long an assumed session lasts: the AssumeRole default, and the most a role chained
#: from another assumed role may ask for.
SESSION_SECONDS = 3600
SESSION_NAME = "ecsdoctor-fleet"

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|\{account\}):role/[\w+=,.@/-]{1,512}$")
_ENABLED = frozenset({"opt-in-not-required", "opted-in"})


@dataclass(frozen=True, order=True)
class Target:
    """One account in one Region. ``account`` None: the caller's own account, scanned with
    the caller's credentials (``--regions`` without ``--accounts``); its id is learnt from
    the scan's first call."""

    account: str | None
    region: str

    @property
    def label(self) -> str:
        return f"{self.account or 'this account'}/{self.region}"


def split(value: str | None) -> tuple[str, ...]:
    """``"a, b,,a"`` → ``("a", "b")``: order kept, blanks and repeats dropped."""
    if value is None:
        return ()
    return tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))


def parse_regions(value: str | None) -> tuple[str, ...]:
    """``--regions``: Region names, or ``all``; bad names fail before any call."""
    regions = split(value)
    if value is not None and not regions:
        raise InputError("--regions: expected Region names like us-east-1,eu-west-1, or all")
    if ALL_REGIONS in regions:
        if len(regions) > 1:
            raise InputError("--regions all: give either all or a list of Regions, not both")
        return regions
    bad = [r for r in regions if not _REGION.match(r)]
    if bad:
        raise InputError(f"--regions: {bad[0]!r} is not a Region name (e.g. us-east-1)")
    return regions


def parse_accounts(value: str | None) -> tuple[str, ...]:
    accounts = split(value)
    if value is not None and not accounts:
        raise InputError("--accounts: expected 12-digit account ids, e.g. 111111111111,"
                         "222222222222")
    bad = [a for a in accounts if not _ACCOUNT.match(a)]
    if bad:
        raise InputError(f"--accounts: {bad[0]!r} is not a 12-digit account id")
    return accounts


def check_role_arn(role_arn: str | None, *, many: bool) -> str | None:
    """``many``: accounts are listed (--accounts, --organization), so the ARN must say where
    the account id goes; otherwise it names one role in one account."""
    if role_arn is None:
        if many:
            raise InputError("--accounts and --organization need --role-arn "
                             "arn:aws:iam::{account}:role/NAME (the role each account "
                             "trusts the caller with; deploy/fleet/member-role.yaml)")
        return None
    if not _ROLE_ARN.match(role_arn):
        raise InputError(f"--role-arn {role_arn!r}: expected arn:aws:iam::{{account}}:role/NAME"
                         " (or a 12-digit account id in place of {account})")
    if many and ACCOUNT_PLACEHOLDER not in role_arn:
        raise InputError(f"--role-arn {role_arn!r}: with --accounts or --organization, put "
                         "{account} where the account id goes: arn:aws:iam::{account}:role/NAME")
    return role_arn


def role_for(role_arn: str, account: str) -> str:
    return role_arn.replace(ACCOUNT_PLACEHOLDER, account)


def account_of(role_arn: str) -> str:
    """The account id of a concrete role ARN (``arn:aws:iam::111…:role/x`` → ``111…``)."""
    return role_arn.split(":")[4]


def client(session: Any, service: str, region: str | None = None) -> Any:
    """A client of the fleet's own calls: bounded retries and timeouts, and its user agent."""
    return session.client(service, region_name=region or session.region_name,
                          config=Config(retries={"mode": "standard", "max_attempts": 5},
                                        connect_timeout=5, read_timeout=30,
                                        user_agent_extra=FLEET_USER_AGENT))


def enabled_regions(session: Any) -> tuple[str, ...]:
    """The Regions enabled for the caller's account (DescribeRegions lists only those
    unless AllRegions is set; the opt-in status is checked again all the same)."""
    try:
        regions = client(session, "ec2").describe_regions()["Regions"]
    except (ClientError, BotoCoreError) as exc:
        raise InputError(f"--regions all: cannot list the enabled Regions "
                         f"(ec2:DescribeRegions): {reason(exc)}") from None
    return tuple(sorted(name for r in regions
                        if r.get("OptInStatus", "opt-in-not-required") in _ENABLED
                        and _REGION.match(name := str(r.get("RegionName", "")))))


def organization_accounts(session: Any) -> tuple[str, ...]:
    """Every ACTIVE account of the organization (ListAccounts, read from the management
    account or a delegated administrator). Suspended or closing accounts cannot be entered."""
    try:
        pages = client(session, "organizations").get_paginator("list_accounts").paginate()
        accounts = [a for page in pages for a in page.get("Accounts", [])]
    except (ClientError, BotoCoreError) as exc:
        raise InputError(f"--organization: cannot list the organization's accounts "
                         f"(organizations:ListAccounts): {reason(exc)}") from None
    return tuple(sorted(str(a["Id"]) for a in accounts
                        if (a.get("State") or a.get("Status")) == "ACTIVE"
                        and _ACCOUNT.match(str(a.get("Id", "")))))


def targets(accounts: Sequence[str | None], regions: Iterable[str]) -> list[Target]:
    """Every account × Region, account-major (a report reads account by account)."""
    return [Target(a, r) for a in accounts for r in regions]


def assume(sts: Any, role_arn: str) -> Mapping[str, str]:
    """Temporary credentials for ``role_arn``; raises ClientError when the role cannot be
    assumed (no such role, not trusted, denied by an SCP)."""
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME,
                            DurationSeconds=SESSION_SECONDS)["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


def reason(exc: BaseException) -> str:
    """``AccessDenied: User … is not authorized …`` from a ClientError, else the text."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def code_of(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Error"))
    return type(exc).__name__
