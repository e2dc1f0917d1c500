"""CloudTrail management events (bundle `cloudtrail_events`, LookupEvents items) as changes.

Only what changed something counts: read-only calls, calls that failed (`errorCode`) and
tagging are left out, tagging because it never breaks a task and naming it as a trigger
would send an engineer after the wrong person. Who made a change is said the way people
say it (CONTRACTS.md §5): `user/ops-admin`, `assumed-role/terraform-ci/<session>` with the
role name from `userIdentity` (LookupEvents' `Username` holds only the session name).
A `CloudTrailEvent` that is not JSON makes the item count as skipped, never a crash.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from checker.facts import Item, obj, objs
from checker.past.refs import refs_in, service_arn
from checker.past.text import clean, when

#: Tagging calls of every service: CreateTags, DeleteTags, TagResource, UntagResource,
#: AddTags, RemoveTags, CreateOrUpdateTags, TagRole, AddTagsToResource, …
TAGGING = re.compile(r"^(?:Tag|Untag)|Tags(?:$|To|From)")


@dataclass(frozen=True, slots=True)
class TrailEvent:
    """One CloudTrail write call that succeeded."""

    time: dt.datetime
    name: str
    source: str
    actor: str
    params: Mapping[str, Any]
    response: Mapping[str, Any]
    refs: frozenset[str]
    event_id: str = ""
    #: the AWS service that made the call on someone's behalf (application-autoscaling
    #: changing a desired count), None for a person or a pipeline
    invoked_by: str | None = None
    #: the ECS service ARN an ECS service call is about
    service: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tagging(self) -> bool:
        return bool(TAGGING.search(self.name))


def actor_from_arn(arn: str) -> str | None:
    """`arn:aws:sts::…:assumed-role/terraform-ci/run-42` → `assumed-role/terraform-ci/run-42`;
    `arn:aws:iam::…:user/ops/ops-admin` → `user/ops-admin`; `…:root` → `root`."""
    if not arn.startswith("arn:") or arn.count(":") < 5:
        return None
    resource = arn.split(":", 5)[5]
    kind, _, rest = resource.partition("/")
    if kind == "root" and not rest:
        return "root"
    if kind == "user" and rest:
        return f"user/{rest.rsplit('/', 1)[-1]}"
    if kind == "assumed-role" and "/" in rest:
        role, _, session = rest.partition("/")
        return f"assumed-role/{role}/{session}"
    if kind in ("role", "federated-user") and rest:
        return f"{kind}/{rest.rsplit('/', 1)[-1]}"
    return None


def actor(identity: Mapping[str, Any], username: Any = None) -> str:
    """Who made the call, readable and complete (module docstring)."""
    kind = identity.get("type")
    raw_arn = identity.get("arn")
    arn = raw_arn if isinstance(raw_arn, str) else ""
    if kind == "AssumedRole":
        issuer = obj(obj(identity.get("sessionContext")).get("sessionIssuer"))
        role = issuer.get("userName") or (actor_from_arn(str(issuer.get("arn") or ""))
                                          or "").rpartition("/")[2]
        session = arn.rsplit("/", 1)[-1] if arn.count("/") >= 2 else (
            str(identity.get("principalId") or "").partition(":")[2] or username)
        if role:
            return clean(f"assumed-role/{role}/{session}" if session else
                         f"assumed-role/{role}", 120)
    if kind == "IAMUser" and identity.get("userName"):
        return clean(f"user/{identity['userName']}", 120)
    if kind == "Root":
        return "root"
    if kind == "AWSService" and identity.get("invokedBy"):
        return clean(f"service/{identity['invokedBy']}", 120)
    named = actor_from_arn(arn) if arn else None
    if named:
        return clean(named, 120)
    fallback = identity.get("userName") or username
    return clean(fallback, 120) if fallback else "unknown"


def _detail(item: Item) -> Mapping[str, Any] | None:
    raw = item.get("CloudTrailEvent")
    if isinstance(raw, Mapping):
        return raw
    if not isinstance(raw, str):
        return {} if raw is None else None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, Mapping) else None


def _read_only(item: Item, detail: Mapping[str, Any]) -> bool:
    """Read-only by either account of it (the item's `ReadOnly` string, the event's
    `readOnly`): a call that changed nothing is no change."""
    flags = (detail.get("readOnly"), item.get("ReadOnly"))
    return any(f is True or (isinstance(f, str) and f.lower() == "true") for f in flags)


def parse(item: Item, region: str, account: str) -> TrailEvent | None:
    """The change an item records; None when it is not one (read-only, failed, undated)
    or cannot be read (its CloudTrailEvent is not JSON): `skipped` says which."""
    detail = _detail(item)
    if detail is None:
        return None
    time = when(item.get("EventTime")) or when(detail.get("eventTime"))
    name = detail.get("eventName") or item.get("EventName")
    if time is None or not isinstance(name, str) or not name:
        return None
    if _read_only(item, detail) or detail.get("errorCode"):
        return None
    params, response = obj(detail.get("requestParameters")), obj(detail.get("responseElements"))
    identity = obj(detail.get("userIdentity"))
    region = str(detail.get("awsRegion") or region)
    account = str(detail.get("recipientAccountId") or account)
    service = _ecs_service(name, params, response, region, account)
    return TrailEvent(time=time, name=name, source=str(detail.get("eventSource")
                                                       or item.get("EventSource") or ""),
                      actor=actor(identity, item.get("Username")), params=params,
                      response=response, refs=_refs(item, name, params, response, service),
                      event_id=str(item.get("EventId") or detail.get("eventID") or ""),
                      invoked_by=identity.get("invokedBy") if isinstance(
                          identity.get("invokedBy"), str) else None, service=service)


def _ecs_service(name: str, params: Mapping[str, Any], response: Mapping[str, Any],
                 region: str, account: str) -> str | None:
    """The ECS service an UpdateService/CreateService/DeleteService call, or an
    Application Auto Scaling call on `service/<cluster>/<name>`, is about."""
    arn = obj(response.get("service")).get("serviceArn")
    if isinstance(arn, str) and arn.startswith("arn:"):
        return arn
    svc = params.get("service") or params.get("serviceName")
    if isinstance(svc, str) and svc and name.endswith("Service"):
        return service_arn(region, account, str(params.get("cluster") or ""), svc)
    resource = params.get("resourceId")
    if isinstance(resource, str) and resource.startswith("service/") and resource.count("/") == 2:
        _, cluster, svc = resource.split("/")
        return service_arn(region, account, cluster, svc)
    return None


def _refs(item: Item, name: str, params: Mapping[str, Any], response: Mapping[str, Any],
          service: str | None) -> frozenset[str]:
    """What the call changed. An ECS service call changes that service (and names the
    task definition it deploys): the subnets and groups it repeats in its parameters are
    the service's configuration, not what was changed, and may be shared with services
    the call never touched. A task definition registration changes that revision."""
    if service:
        return frozenset({service, *refs_in(params.get("taskDefinition"), "taskDefinition")})
    if name == "RegisterTaskDefinition":
        return frozenset(refs_in(obj(response.get("taskDefinition")).get("taskDefinitionArn")))
    names = [x.get("ResourceName") for x in objs(item.get("Resources"))]
    return frozenset({*refs_in(params), *refs_in(names)})
