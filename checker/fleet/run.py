"""The fan-out: every target scanned by the one collector, a bounded number at a time.

Each target is :func:`checker.collect.collect` with its own session and its own bounded
pool (``api_workers``), so a fleet scan makes per target exactly the calls one scan makes;
``workers`` targets run at once, so at most ``workers × api_workers`` calls are in flight.
A target that fails — its role cannot be assumed, its Region is not enabled, a cluster
named on the command line is not there, the first call is denied — becomes one error entry
for that target, and the others are scanned and reported as usual.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from checker.collect import Scope, collect
from checker.collect.aws import USER_AGENT, Deadline
from checker.errors import InputError
from checker.fleet.targets import Target, assume, client, code_of, reason, role_for

#: Targets scanned at once by default: enough to hide each target's latency, few enough that
#: the calls in flight (× the scan's own pool of 8) stay under the API rate limits of one
#: account when several Regions of it run together.
DEFAULT_WORKERS = 4
MAX_WORKERS = 32
TARGET_COLLECTION = "target"
#: The collection the scan's first call records its failure under (checker.collect).
ACCOUNT_COLLECTION = "account"


class TargetFailed(Exception):
    """A target that cannot be scanned at all: ``operation``, AWS's ``code`` and why."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(message)
        self.operation, self.code, self.message = operation, code, message


@dataclass(frozen=True)
class Outcome:
    """One target's result: its bundle, or the error that stopped it (never both). No
    bundle and no error: the target has no ECS cluster to scan."""

    target: Target
    bundle: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None
    clusters: tuple[str, ...] = ()

    @property
    def account(self) -> str | None:
        """The account id, learnt from the scan itself for the caller's own account."""
        if self.target.account is not None:
            return self.target.account
        found = self.bundle.get("account") if self.bundle else None
        return str(found) if found else None


SessionFactory = Callable[[Target], Any]


class Sessions:
    """A boto3 session per target: the caller's own (``profile``) for its own account, and
    one from ``role_arn``'s temporary credentials for each member account.

    :meth:`assume_all` enters every account once, in order, before the fan-out; an account
    whose role could not be assumed keeps its error, and each of its targets fails with it.
    """

    def __init__(self, base: Any, *, role_arn: str | None, profile: str | None = None) -> None:
        self.base, self.role_arn, self.profile = base, role_arn, profile
        self._creds: dict[str, Mapping[str, str]] = {}
        self._failed: dict[str, TargetFailed] = {}
        self._lock = threading.Lock()

    def assume_all(self, accounts: Sequence[str | None], sts: Any | None = None) -> None:
        """AssumeRole once per account (``sts``: the caller's STS client; tests inject one)."""
        if self.role_arn is None:
            return
        sts = sts if sts is not None else client(self.base, "sts")
        for account in accounts:
            if account is None or account in self._creds or account in self._failed:
                continue
            role = role_for(self.role_arn, account)
            try:
                self._creds[account] = assume(sts, role)
            except (ClientError, BotoCoreError) as exc:
                self._failed[account] = TargetFailed(
                    "sts:AssumeRole", code_of(exc), f"cannot assume {role}: {reason(exc)}")

    def __call__(self, target: Target) -> Any:
        if target.account is None or self.role_arn is None:
            if target.region == self.base.region_name:
                return self.base
            return self._session(target.region, profile_name=self.profile)
        with self._lock:
            if target.account not in self._creds and target.account not in self._failed:
                self.assume_all([target.account])
            failed = self._failed.get(target.account)
            creds = self._creds.get(target.account)
        if failed is not None:
            raise failed
        assert creds is not None
        return self._session(target.region, **creds)

    def _session(self, region: str, **kw: Any) -> Any:
        """A new session that reads botocore's service models through the caller's loader:
        each session otherwise parses them again (about a second of CPU per target for the
        scan's clients; measured by bench/fleet.py)."""
        loader = self.base._session.get_component("data_loader")
        core = botocore.session.get_session()
        core.register_component("data_loader", loader)
        with self._lock:
            known = list(loader.search_paths)
            session = boto3.session.Session(botocore_session=core, region_name=region, **kw)
            loader.search_paths[:] = list(dict.fromkeys(known + loader.search_paths))
        return session


def scan_targets(targets: Sequence[Target], sessions: SessionFactory, scope: Scope, *,
                 workers: int = DEFAULT_WORKERS, api_workers: int = 8,
                 on_done: Callable[[Outcome], None] | None = None,
                 deadline: Deadline | None = None) -> list[Outcome]:
    """Every target's Outcome, in the order of ``targets`` (whatever order they finish in)."""
    if not 1 <= workers <= MAX_WORKERS:
        raise InputError(f"--fleet-workers must be between 1 and {MAX_WORKERS}, got {workers}")

    def one(target: Target) -> Outcome:
        outcome = scan_target(target, sessions, scope, api_workers=api_workers,
                              deadline=deadline)
        if on_done is not None:
            on_done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ecsdoctor-fleet") as pool:
        return list(pool.map(one, targets))


def scan_target(target: Target, sessions: SessionFactory, scope: Scope, *,
                api_workers: int = 8, deadline: Deadline | None = None) -> Outcome:
    """Collect one target; what only stops this target becomes its error entry.
    ``deadline`` is the whole fleet scan's (`--timeout`): a target still waiting when it
    passes is cut like a single scan's, and one not yet started fails at its first call."""
    try:
        session = sessions(target)
        clusters = scope.clusters or list_clusters(session, target)
        if not clusters:
            return Outcome(target)
        bundle = collect(session, dataclasses.replace(scope, clusters=tuple(clusters)),
                         max_workers=api_workers, deadline=_share(deadline))
    except TargetFailed as exc:
        return Outcome(target, error=error_entry(target, exc.operation, exc.code, exc.message))
    except InputError as exc:
        return Outcome(target, error=error_entry(target, "scan", "ScanFailed", str(exc)))
    first = unanswered(bundle)
    if first is not None:
        return Outcome(target, error=error_entry(
            target, str(first.get("operation")), str(first.get("code")),
            f"the target did not answer its first call: {first.get('message')}"))
    return Outcome(target, bundle=bundle, clusters=tuple(clusters))


def _share(deadline: Deadline | None) -> Deadline | None:
    """This target's own deadline, ending when the fleet's does: a scan ends its deadline
    when it is done (stray calls stop), which must not end the other targets'."""
    if deadline is None:
        return None
    left = deadline.remaining()
    if left is None:
        return Deadline(None, origin=deadline.origin)
    own = Deadline(left or 1.0, origin=deadline.origin)
    if not left:
        own.cancel()
    return own


def unanswered(bundle: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The error of the scan's first call (sts:GetCallerIdentity), if it failed: a Region
    not enabled for the account, or credentials the Region refuses. Nothing else the scan
    read can then be trusted, so the target counts as failed, not as quiet."""
    return next((e for e in bundle.get("errors") or []
                 if isinstance(e, Mapping) and e.get("collection") == ACCOUNT_COLLECTION), None)


def list_clusters(session: Any, target: Target) -> list[str]:
    """Every cluster ARN of the target (no ``--cluster``: the fleet reads them all)."""
    ecs = session.client("ecs", region_name=target.region,
                         config=Config(retries={"mode": "standard", "max_attempts": 5},
                                       connect_timeout=5, read_timeout=30,
                                       user_agent_extra=USER_AGENT))
    try:
        pages = ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 100})
        return sorted(arn for page in pages for arn in page.get("clusterArns", []))
    except (ClientError, BotoCoreError) as exc:
        raise TargetFailed("ecs:ListClusters", code_of(exc),
                           f"cannot list the clusters: {reason(exc)}") from None


def error_entry(target: Target, operation: str, code: str, message: str) -> dict[str, Any]:
    """A report ``errors`` entry (the bundle errors' shape) for a target not scanned."""
    return {"collection": TARGET_COLLECTION, "operation": operation, "code": code,
            "message": message, "account": target.account, "region": target.region}
