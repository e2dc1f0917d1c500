"""Fleet scans: many accounts and Regions, one report (docs/fleet.md).

``ecsdoctor scan --regions … --accounts …|--organization --role-arn …`` and the Step
Functions fleet audit (deploy/fleet/) both run the same three stages:

1. :mod:`checker.fleet.targets`: which account × Region pairs, and a session into each
   (AWS Organizations, ``ec2:DescribeRegions``, ``sts:AssumeRole``);
2. :mod:`checker.fleet.run`: each target collected by :func:`checker.collect.collect`,
   a bounded number at a time on the laptop (in AWS, the state machine's Map state does
   the fan-out and :mod:`checker.fleet.lambdas` scans one target per invocation);
3. :mod:`checker.fleet.merge`: every target's report analysed by the one engine and merged
   into one report whose diagnoses carry their account and Region and are ranked across
   the fleet; a target that failed is an error entry of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from checker.bundle import now_iso
from checker.collect import Scope
from checker.collect.aws import Deadline
from checker.errors import InputError
from checker.fleet.merge import merge
from checker.fleet.run import DEFAULT_WORKERS, Outcome, SessionFactory, Sessions, scan_targets
from checker.fleet.targets import (
    ALL_REGIONS,
    Target,
    account_of,
    check_role_arn,
    enabled_regions,
    organization_accounts,
    parse_accounts,
    parse_regions,
    targets,
)
from checker.model import Report
from checker.pipeline import Engine

__all__ = ["DEFAULT_WORKERS", "FleetRequest", "Outcome", "Sessions", "Target", "plan",
           "scan_fleet"]


@dataclass(frozen=True)
class FleetRequest:
    """What the user asked for, validated: Regions (empty: the session's; ``("all",)``:
    every enabled one), accounts (empty: the caller's own, or the role ARN's), the
    organization instead of a list, the role to assume, and how many targets at once."""

    regions: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    organization: bool = False
    role_arn: str | None = None
    workers: int = DEFAULT_WORKERS

    @classmethod
    def parse(cls, *, regions: str | None, accounts: str | None, organization: bool,
              role_arn: str | None, workers: int) -> FleetRequest:
        """From the command line's text; every mistake is one InputError, before any call."""
        listed = parse_accounts(accounts)
        if listed and organization:
            raise InputError("--accounts and --organization: give one of them, not both")
        role = check_role_arn(role_arn, many=bool(listed) or organization)
        return cls(regions=parse_regions(regions), accounts=listed, organization=organization,
                   role_arn=role, workers=workers)

    @property
    def is_fleet(self) -> bool:
        """Whether anything beyond one account's one Region was asked for."""
        return bool(self.regions or self.accounts or self.organization or self.role_arn)


def plan(request: FleetRequest, base: Any) -> list[Target]:
    """The targets, account-major; reads the organization and the enabled Regions when
    asked to (with the caller's credentials)."""
    regions = request.regions or (str(base.region_name),)
    if regions == (ALL_REGIONS,):
        regions = enabled_regions(base)
    accounts: Sequence[str | None]
    if request.organization:
        accounts = organization_accounts(base)
    elif request.accounts:
        accounts = request.accounts
    elif request.role_arn:
        accounts = (account_of(request.role_arn),)
    else:
        accounts = (None,)
    if not accounts or not regions:
        raise InputError("nothing to scan: no ACTIVE account in the organization"
                         if not accounts else "nothing to scan: no enabled Region")
    return targets(accounts, regions)


def scan_fleet(request: FleetRequest, base: Any, scope: Scope, *, engine: Engine,
               profile: str | None = None, api_workers: int = 8,
               sessions: SessionFactory | None = None, sts: Any | None = None,
               on_done: Callable[[Outcome], None] | None = None,
               deadline: Deadline | None = None) -> Report:
    """Plan, assume, fan out, analyse each target, merge. ``sessions`` and ``sts`` are
    injected by tests and benches (a counting session, a stubbed AssumeRole)."""
    planned = plan(request, base)
    if sessions is None:
        own = Sessions(base, role_arn=request.role_arn, profile=profile)
        own.assume_all([t.account for t in planned], sts)
        sessions = own
    outcomes = scan_targets(planned, sessions, scope, workers=request.workers,
                            api_workers=api_workers, on_done=on_done, deadline=deadline)
    failed = [o for o in outcomes if o.error is not None]
    if len(failed) == len(outcomes):
        first = failed[0].error or {}
        raise InputError(f"no target could be scanned ({len(failed)} failed); "
                         f"{failed[0].target.label}: {first.get('message')}")
    stamp = now_iso()
    return merge([(o, engine.analyze(o.bundle, generated_at=stamp) if o.bundle else None)
                  for o in outcomes], stamp)
