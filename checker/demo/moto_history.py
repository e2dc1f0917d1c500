"""History for a moto account: ECS events in the history log group, CloudTrail events.

What moto does here (5.2.x, MOTO.md "History, CloudTrail, logs and alarms"):

- CloudWatch Logs works as the history collector reads it: ``filter_log_events`` honours
  ``startTime``/``endTime`` (both ends included), ``limit`` and ``nextToken``, and raises
  ResourceNotFoundException for a missing group. It ignores JSON filter patterns (the
  collector sends none). An EventBridge rule with a Logs target is stored but never
  delivers, so :func:`put_ecs_events` writes the event JSON straight into the group, one
  event a line, as EventBridge does. Like AWS, Logs refuses events older than 14 days.
- ``cloudtrail.lookup_events`` is not implemented (NotImplementedError in-process, HTTP 500
  over a server). :func:`patch_lookup_events` adds it to moto's CloudTrail responses,
  answering from :data:`CLOUDTRAIL_EVENTS` (fill it with :func:`put_cloudtrail_event`):
  the time range (both ends included), one lookup attribute (ReadOnly, EventName,
  EventSource, EventId, Username, AccessKeyId, ResourceName, ResourceType), newest first,
  ``MaxResults`` (default and maximum 50) and ``NextToken``. Not emulated: the 2 calls a
  second quota (tests inject throttling with Stubber), Insights events, the 90-day limit.

Importing this module loads no moto; the patch is idempotent and undone by
:func:`unpatch_lookup_events` (checker.demo.moto_patches installs and removes it with the
others).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
PAGE = 50  # LookupEvents MaxResults maximum and default

#: (account, region) → LookupEvents ``Events[]`` items, in the order put.
CLOUDTRAIL_EVENTS: dict[tuple[str, str], list[dict[str, Any]]] = {}
_ABSENT = object()
_ORIGINAL: dict[str, Any] = {}


def _zulu(when: dt.datetime) -> str:
    """EventBridge and CloudTrail JSON times: ``2026-11-20T03:04:05Z``."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- ECS events in the history log group --------------------------------------------------


def ecs_event(detail_type: str, detail: Mapping[str, Any], *, when: dt.datetime,
              resources: Sequence[str] = (), account: str = DEFAULT_ACCOUNT,
              region: str = DEFAULT_REGION, event_id: str | None = None) -> dict[str, Any]:
    """An EventBridge event as ECS sends it (``source: aws.ecs``)."""
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": detail_type,
            "source": "aws.ecs", "account": account, "time": _zulu(when), "region": region,
            "resources": list(resources), "detail": dict(detail)}


def put_ecs_events(logs: Any, group: str, events: Iterable[Mapping[str, Any] | str],
                   stream: str = "ecs-events") -> None:
    """Write events (or raw lines, for junk) into ``group`` as EventBridge delivers them:
    one JSON event a line, timestamped with the event's ``time``. Creates the group and
    stream when missing; ``logs`` is a boto3 Logs client (works in-process or over HTTP)."""
    existing = logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
    if not any(g.get("logGroupName") == group for g in existing):
        logs.create_log_group(logGroupName=group)
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)
    if not any(s.get("logStreamName") == stream for s in streams.get("logStreams", [])):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    lines: list[tuple[int, str]] = []
    for event in events:
        if isinstance(event, str):  # a junk line, written a minute ago
            when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
            lines.append((int(when.timestamp() * 1000), event))
            continue
        when = dt.datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
        lines.append((int(when.timestamp() * 1000), json.dumps(event)))
    if lines:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": t, "message": m} for t, m in sorted(lines, key=lambda line: line[0])])


# --- CloudTrail ---------------------------------------------------------------------------


def user_identity(actor: str, account: str = DEFAULT_ACCOUNT,
                  invoked_by: str | None = None) -> dict[str, Any]:
    """``user/<name>`` or ``assumed-role/<role>/<session>`` → a CloudTrail userIdentity."""
    kind, _, rest = actor.partition("/")
    if kind == "user":
        return {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": account,
                "arn": f"arn:aws:iam::{account}:user/{rest}", "accessKeyId": "AKIAEXAMPLE",
                "userName": rest}
    role, _, session = rest.partition("/")
    identity: dict[str, Any] = {
        "type": "AssumedRole", "principalId": f"AROAEXAMPLE:{session}", "accountId": account,
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {"sessionIssuer": {
            "type": "Role", "principalId": "AROAEXAMPLE", "accountId": account,
            "arn": f"arn:aws:iam::{account}:role/{role}", "userName": role}}}
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def cloudtrail_record(event_name: str, event_source: str, request: Mapping[str, Any] | None,
                      *, when: dt.datetime, actor: str = "user/ops-admin",
                      read_only: bool = False, response: Mapping[str, Any] | None = None,
                      invoked_by: str | None = None, account: str = DEFAULT_ACCOUNT,
                      region: str = DEFAULT_REGION) -> dict[str, Any]:
    """One CloudTrail management event record (the JSON LookupEvents returns as a string)."""
    return {
        "eventVersion": "1.09", "userIdentity": user_identity(actor, account, invoked_by),
        "eventTime": _zulu(when), "eventSource": event_source, "eventName": event_name,
        "awsRegion": region, "sourceIPAddress": invoked_by or "203.0.113.7",
        "userAgent": invoked_by or "aws-cli/2.15.0", "requestParameters": request,
        "responseElements": response, "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()), "readOnly": read_only, "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": account,
        "eventCategory": "Management"}


def put_cloudtrail_event(record: Mapping[str, Any], *, raw: str | None = None,
                         resources: Sequence[tuple[str, str]] = (),
                         account: str = DEFAULT_ACCOUNT,
                         region: str = DEFAULT_REGION) -> dict[str, Any]:
    """Add ``record`` to what LookupEvents answers in (account, region), as the ``Events[]``
    item AWS builds from it (``Username``: the user name, or an assumed role's session
    name). ``raw`` replaces the CloudTrailEvent string (a test of unreadable events);
    ``resources`` are (type, name) pairs for ResourceName/ResourceType lookups."""
    identity = record.get("userIdentity") or {}
    username = identity.get("userName") or str(identity.get("arn", "")).rsplit("/", 1)[-1]
    item = {
        "EventId": record["eventID"], "EventName": record["eventName"],
        "ReadOnly": "true" if record.get("readOnly") else "false",
        "AccessKeyId": identity.get("accessKeyId", ""),
        "EventTime": dt.datetime.fromisoformat(
            str(record["eventTime"]).replace("Z", "+00:00")).timestamp(),
        "EventSource": record["eventSource"], "Username": username,
        "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in resources],
        "CloudTrailEvent": raw if raw is not None else json.dumps(record),
    }
    CLOUDTRAIL_EVENTS.setdefault((account, region), []).append(item)
    return item


_ATTRIBUTE_FIELDS = {"ReadOnly": "ReadOnly", "EventName": "EventName", "EventId": "EventId",
                     "EventSource": "EventSource", "Username": "Username",
                     "AccessKeyId": "AccessKeyId"}


def _matches(item: Mapping[str, Any], attribute: Mapping[str, str]) -> bool:
    key, value = attribute.get("AttributeKey", ""), attribute.get("AttributeValue", "")
    if key in _ATTRIBUTE_FIELDS:
        return str(item.get(_ATTRIBUTE_FIELDS[key])) == value
    field = {"ResourceName": "ResourceName", "ResourceType": "ResourceType"}.get(key)
    return field is not None and any(r.get(field) == value for r in item["Resources"])


def lookup(items: Sequence[Mapping[str, Any]], attributes: Sequence[Mapping[str, str]],
           start: float | None, end: float | None, max_results: int | None,
           token: str | None) -> dict[str, Any]:
    """The LookupEvents answer over ``items`` (the emulation, without moto)."""
    chosen = [i for i in items
              if (start is None or i["EventTime"] >= start)
              and (end is None or i["EventTime"] <= end)
              and all(_matches(i, a) for a in attributes)]
    chosen.sort(key=lambda i: float(i["EventTime"]), reverse=True)
    offset = int(token) if token else 0
    size = min(max_results or PAGE, PAGE)
    answer: dict[str, Any] = {"Events": chosen[offset:offset + size]}
    if offset + size < len(chosen):
        answer["NextToken"] = str(offset + size)
    return answer


def patch_lookup_events() -> None:
    """Give moto's CloudTrail a LookupEvents that answers from :data:`CLOUDTRAIL_EVENTS`."""
    from moto.cloudtrail.responses import CloudTrailResponse

    if "lookup_events" in _ORIGINAL:
        return

    def lookup_events(self: Any) -> str:
        items = CLOUDTRAIL_EVENTS.get((self.current_account, self.region), [])
        return json.dumps(lookup(items, self._get_param("LookupAttributes") or [],
                                 self._get_param("StartTime"), self._get_param("EndTime"),
                                 self._get_param("MaxResults"), self._get_param("NextToken")))

    _ORIGINAL["lookup_events"] = CloudTrailResponse.__dict__.get("lookup_events", _ABSENT)
    setattr(CloudTrailResponse, "lookup_events", lookup_events)  # noqa: B010 (moto has none)


def unpatch_lookup_events() -> None:
    """Put moto's CloudTrail back as it was. Idempotent."""
    if "lookup_events" not in _ORIGINAL:
        return
    from moto.cloudtrail.responses import CloudTrailResponse

    original = _ORIGINAL.pop("lookup_events")
    if original is _ABSENT:
        delattr(CloudTrailResponse, "lookup_events")
    else:
        setattr(CloudTrailResponse, "lookup_events", original)  # noqa: B010


def reset_history() -> None:
    """Forget the CloudTrail events put (call when the backends are reset)."""
    CLOUDTRAIL_EVENTS.clear()
