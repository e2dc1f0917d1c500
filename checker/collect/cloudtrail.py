"""CloudTrail → ``cloudtrail_events`` (CONTRACTS.md §5): who changed what, in the window.

What: cloudtrail:LookupEvents items (``Events[]``, unchanged but for redaction) for the
management *write* events of ``scope.history`` that change a resource the scan covers
(services, task definitions, security groups, route tables, NAT gateways, network ACLs,
subnets, VPC attributes, VPC endpoints, load balancers and their listeners, target groups,
Auto Scaling groups, scalable targets and policies, the tasks' IAM roles: see
checker/collect/cloudtrail_scope.py for what "changes" means). LookupEvents keeps 90 days
of management events in every account, trail or not.

Which lookup, by call count. LookupEvents takes one attribute a call and returns at most
50 events a page. Per-resource lookups (``ResourceName=<id>``) cost at least one call per
resource in scope, 20–100 for one cluster, even in a quiet account, and miss events whose
``Resources`` CloudTrail leaves empty (many EC2 and ELB ones). ``ReadOnly=false`` costs
⌈write events in the Region and window / 50⌉ calls: 1 in a quiet account; the collector
keeps the events in scope itself. IAM is the exception: its events are recorded in
us-east-1 only, so a scan of another Region asks us-east-1 (the partition's global Region)
``ResourceName=<role name>`` for each of the tasks' roles: a handful of calls.

Pace and bound. LookupEvents allows 2 requests per second per account and Region; a token
bucket per Region (:class:`TokenBucket`, refill 2/s, burst 1) spaces the calls 0.5 s apart
whatever the pool does, and botocore's adaptive retries absorb the throttling other tools
cause. The budget is :data:`WRITE_BUDGET` (30) calls for the write events, newest first
(1,500 events, ~15 s paced), plus :data:`ROLE_BUDGET` (10) for the roles in the other Region
(run in parallel, its own bucket): **at most 40 LookupEvents calls a scan**. When a budget
runs out the events read are kept and a ``"level": "warning"`` entry (``Truncated``) says
from when the window is complete: the newest events, the ones that matter, are all there.

Honesty: a denied or failed write-event lookup leaves the collection absent with the AWS
error (checks that need it say unknown); a failed role lookup is a warning (an SCP that
denies us-east-1 must not hide the Region's own changes). A ``CloudTrailEvent`` that is not
JSON is skipped and counted in one warning. ``CloudTrailEvent`` stays the string AWS
returned, unless redaction (checker.redact, as for task definitions) changed a value in
it: then it is that event, redacted, serialized again.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from checker.collect.aws import Context, Item, iam_action
from checker.collect.cloudtrail_scope import role_names, scope_ids, touches
from checker.redact import redact_nested

#: The one action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({"cloudtrail:LookupEvents"})

COLLECTION = "cloudtrail_events"
#: The two lookup streams, as gather keys naming the collection they fill.
WRITES, ROLE_EVENTS = (COLLECTION, "writes"), (COLLECTION, "roles")
RATE = 2.0  # LookupEvents requests per second, per account and Region (API reference)
PAGE_SIZE = 50  # MaxResults maximum
WRITE_BUDGET = 30  # ReadOnly=false calls per scan: 1,500 events
ROLE_BUDGET = 10  # ResourceName=<role> calls in the global Region, per scan
MAX_CALLS = WRITE_BUDGET + ROLE_BUDGET
KEPT = dt.timedelta(days=90)  # Event history: "the last 90 days"
TRUNCATED, SKIPPED, ROLES = "Truncated", "SkippedEvents", "RoleEventsNotRead"


@dataclass(frozen=True)
class Clock:
    """Time as the pacing sees it: injected, so a test measures waits without sleeping."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


class TokenBucket:
    """At most ``rate`` calls a second after a burst of ``capacity``; :meth:`take` blocks.

    The lock is held while waiting, on purpose: callers queue, in order, one token each.
    """

    def __init__(self, rate: float = RATE, capacity: float = 1.0, clock: Clock | None = None):
        self.rate, self.capacity = rate, capacity
        self.clock = clock or Clock()
        self.tokens, self.stamp = capacity, self.clock.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Wait for a token; returns the seconds waited."""
        with self._lock:
            waited = 0.0
            while True:
                now = self.clock.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return waited
                pause = (1.0 - self.tokens) / self.rate
                self.clock.sleep(pause)
                waited += pause


def global_region(region: str) -> str:
    """Where a partition's IAM events are recorded."""
    if region.startswith("cn-"):
        return "cn-north-1"
    if region.startswith("us-gov-"):
        return "us-gov-west-1"
    return "us-east-1"


@dataclass
class Found:
    """One lookup stream's result: the events kept and skipped, how far it got."""

    events: list[Item] = field(default_factory=list)
    skipped: int = 0
    first_skipped: str = ""
    oldest: Any = None  # EventTime of the oldest event read (pages come newest first)
    unread: list[str] = field(default_factory=list)  # attribute values cut short by the budget
    failed: BaseException | None = None


def collect_cloudtrail(ctx: Context) -> None:
    """Fill cloudtrail_events over ``scope.history``; nothing when it is zero."""
    if ctx.scope.history > dt.timedelta(0):
        read_trail(ctx, dt.datetime.now(dt.UTC))


def read_trail(ctx: Context, now: dt.datetime, clock: Clock | None = None) -> None:
    """:func:`collect_cloudtrail` with the clock (for the window and the pacing) passed in."""
    start = now - min(ctx.scope.history, KEPT)
    ids = scope_ids(ctx.resources)
    home = ctx.client("cloudtrail")
    action = iam_action(home, "lookup_events")
    jobs: list[tuple[tuple[str, str], Callable[[], list[Found]]]] = [(WRITES, partial(
        lookup, ctx, home, TokenBucket(clock=clock), [_attribute("ReadOnly", "false")],
        (start, now), ids, WRITE_BUDGET))]
    roles = role_names(ctx.resources)
    other = global_region(ctx.region)
    if roles and other != ctx.region:
        api = ctx.client("cloudtrail", region=other)
        jobs.append((ROLE_EVENTS, partial(
            lookup, ctx, api, TokenBucket(clock=clock),
            [_attribute("ResourceName", r) for r in roles], (start, now), ids, ROLE_BUDGET)))
    found = ctx.gather(jobs)
    if not found[WRITES]:
        return  # the scan's deadline passed first: recorded as timed out
    (writes,) = found[WRITES]
    if writes.failed is not None:
        ctx.fail(COLLECTION, action, writes.failed)
        return
    kept = list(writes.events)
    for result in found.get(ROLE_EVENTS, []):
        kept += result.events
        _warn_roles(ctx, action, result, other)
    ctx.store(COLLECTION, kept, _key)
    _warn_writes(ctx, action, writes, now)


def _attribute(key: str, value: str) -> dict[str, str]:
    return {"AttributeKey": key, "AttributeValue": value}


def lookup(ctx: Context, api: Any, bucket: TokenBucket, attributes: list[dict[str, str]],
           window: tuple[dt.datetime, dt.datetime], ids: Mapping[str, frozenset[str]],
           budget: int) -> list[Found]:
    """One attribute after the other (LookupEvents takes one a call), newest events first,
    every call paced by ``bucket``, at most ``budget`` calls in all; a failure ends it."""
    found, calls = Found(), 0
    action = iam_action(api, "lookup_events")
    for n, attribute in enumerate(attributes):
        token: str | None = None
        seen: set[str] = set()
        while calls < budget:
            kw: dict[str, Any] = {"LookupAttributes": [attribute], "StartTime": window[0],
                                  "EndTime": window[1], "MaxResults": PAGE_SIZE}
            if token:
                kw["NextToken"] = token
            bucket.take()
            calls += 1
            try:
                page = api.lookup_events(**kw)
            except Exception as exc:
                found.failed = exc
                return [found]
            events = page.get("Events", [])
            ctx.step(f"{action} {attribute['AttributeValue']} ({len(events)})")
            keep(events, ids, found)
            found.oldest = events[-1].get("EventTime") if events else found.oldest
            token = page.get("NextToken")
            if not token or token in seen:
                break
            seen.add(token)
        else:
            found.unread = [a["AttributeValue"] for a in attributes[n:]]
            return [found]
    return [found]


def keep(events: list[Item], ids: Mapping[str, frozenset[str]], found: Found) -> None:
    """The events whose parsed CloudTrailEvent changes a scanned resource, redacted."""
    for item in events:
        text = item.get("CloudTrailEvent")
        try:
            record = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            record = None
        if not isinstance(record, dict):
            found.skipped += 1
            found.first_skipped = found.first_skipped or str(item.get("EventId", "?"))
            continue
        if not touches(record, ids):
            continue
        redacted = redact_nested(record)
        if redacted != record:
            item = {**item, "CloudTrailEvent": json.dumps(redacted, separators=(",", ":"))}
        found.events.append(item)


def _key(item: Item) -> str:
    """Time order, then id: the same events give the same bundle."""
    return f"{_stamp(item.get('EventTime'))}\n{item.get('EventId', '')}"


def _stamp(when: Any) -> str:
    """EventTime as boto3 gives it (a datetime) or as a bundle holds it (a string)."""
    return when.astimezone(dt.UTC).isoformat() if isinstance(when, dt.datetime) else str(when)


def _warn_skipped(ctx: Context, action: str, found: Found, where: str) -> None:
    if found.skipped:
        ctx.recorder.add({
            "collection": COLLECTION, "operation": action, "code": SKIPPED, "level": "warning",
            "count": found.skipped,
            "message": f"{found.skipped} event(s){where} skipped: CloudTrailEvent is not a "
                       f"JSON object (the first: EventId {found.first_skipped})"})


def _warn_writes(ctx: Context, action: str, found: Found, end: dt.datetime) -> None:
    _warn_skipped(ctx, action, found, "")
    if found.unread:
        since = _stamp(found.oldest if found.oldest is not None else end)
        ctx.recorder.add({
            "collection": COLLECTION, "operation": action, "code": TRUNCATED, "level": "warning",
            "message": f"CloudTrail window cut short: the budget of {WRITE_BUDGET} LookupEvents "
                       f"calls a scan ran out; write events are complete since {since}, older "
                       "ones were not read"})


def _warn_roles(ctx: Context, action: str, found: Found, region: str) -> None:
    """A failed or cut-short role lookup is a warning: the Region's own events stand."""
    where = f" (IAM role events, {region})"
    _warn_skipped(ctx, action, found, where)
    if found.failed is not None:
        error = getattr(found.failed, "response", {}).get("Error", {})
        code = error.get("Code") or type(found.failed).__name__
        ctx.recorder.add({
            "collection": COLLECTION, "operation": action, "code": ROLES, "level": "warning",
            "message": f"changes to the tasks' IAM roles not read: LookupEvents in {region} "
                       f"(where IAM records them) failed: {code}"})
    if found.unread:
        ctx.recorder.add({
            "collection": COLLECTION, "operation": action, "code": TRUNCATED, "level": "warning",
            "message": f"CloudTrail window cut short{where}: the budget of {ROLE_BUDGET} "
                       f"LookupEvents calls ran out; not read in full: "
                       f"{', '.join(found.unread)}"})
