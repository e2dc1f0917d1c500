"""Builders for the history collections of issue 11 (CONTRACTS.md §5), in the forms AWS
sends them: task history entries (an 'ECS Task State Change' `detail`, the DescribeTasks
shape with `version`), EventBridge events for `ecs_events` (times as `…Z`), CloudTrail
LookupEvents items for `cloudtrail_events` (the `CloudTrailEvent` JSON string, `userIdentity`
as CloudTrail writes it) and CloudWatch alarms. Items with a botocore shape are checked
against it (tests.builders.shaped).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from tests.builders import ACCOUNT, NOW, REGION, shaped

Item = dict[str, Any]
_SEQ = iter(range(1, 10**9))


def zulu(minutes_ago: float, millis: bool = False) -> str:
    """An EventBridge / CloudTrail time: `2026-11-20T09:13:00Z` (`.123Z` with millis)."""
    when = NOW - dt.timedelta(minutes=minutes_ago)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{when.microsecond // 1000:03d}Z" if millis else f"{text}Z"


def ago(minutes: float) -> str:
    return (NOW - dt.timedelta(minutes=minutes)).isoformat()


# -- task_history --------------------------------------------------------------------------
def history_entries(task: Item) -> list[Item]:
    """The task state changes a stopped task leaves in the log group: RUNNING (version 2),
    then STOPPED (version 4), each the task as it was then."""
    running = copy.deepcopy(task)
    running.update(lastStatus="RUNNING", desiredStatus="RUNNING", version=2)
    for key in ("stoppedAt", "stoppingAt", "executionStoppedAt", "stopCode", "stoppedReason"):
        running.pop(key, None)
    for ctr in running.get("containers", []):
        ctr["lastStatus"] = "RUNNING"
        ctr.pop("exitCode", None)
        ctr.pop("reason", None)
    stopped = {**copy.deepcopy(task), "version": 4}
    return [shaped("ecs", "Task", running), shaped("ecs", "Task", stopped)]


# -- ecs_events ----------------------------------------------------------------------------
def ecs_event(detail_type: str, minutes_ago: float, resources: list[str],
              detail: Item) -> Item:
    return {"version": "0", "id": f"{next(_SEQ):08x}-6a7e-4ab3-9c2d-0123456789ab",
            "detail-type": detail_type, "source": "aws.ecs", "account": ACCOUNT,
            "time": zulu(minutes_ago), "region": REGION, "resources": resources,
            "detail": detail}


def deployment_event(service_arn: str, state: str, minutes_ago: float, deployment_id: str,
                     reason: str | None = None) -> Item:
    """'ECS Deployment State Change': state IN_PROGRESS, COMPLETED or FAILED."""
    name = f"SERVICE_DEPLOYMENT_{state}"
    return ecs_event("ECS Deployment State Change", minutes_ago, [service_arn], {
        "eventType": "ERROR" if state == "FAILED" else "INFO", "eventName": name,
        "deploymentId": deployment_id, "updatedAt": zulu(minutes_ago, millis=True),
        "reason": reason or f"ECS deployment {deployment_id} {state.lower().replace('_', ' ')}."})


def service_action(service_arn: str, name: str, minutes_ago: float,
                   level: str = "INFO") -> Item:
    """'ECS Service Action' (SERVICE_STEADY_STATE, SERVICE_TASK_START_IMPAIRED, …)."""
    cluster = service_arn.split(":service/", 1)[1].split("/")[0]
    return ecs_event("ECS Service Action", minutes_ago, [service_arn], {
        "eventType": level, "eventName": name,
        "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}",
        "createdAt": zulu(minutes_ago, millis=True)})


# -- cloudtrail_events ---------------------------------------------------------------------
def iam_user(name: str) -> Item:
    return {"type": "IAMUser", "principalId": "AIDAEXAMPLE7OPSADMIN",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLEKEY00001", "userName": name}


def assumed_role(role: str, session: str) -> Item:
    return {"type": "AssumedRole", "principalId": f"AROAEXAMPLEROLE0001:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
            "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLEKEY00001",
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "principalId": "AROAEXAMPLEROLE0001",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "accountId": ACCOUNT,
                "userName": role}, "attributes": {"creationDate": zulu(90),
                                                  "mfaAuthenticated": "false"}}}


def aws_service(principal: str) -> Item:
    return {"type": "AWSService", "invokedBy": principal}


def trail(name: str, source: str, minutes_ago: float, params: Item, identity: Item,
          resources: tuple[tuple[str, str], ...] = (), response: Item | None = None,
          **detail: Any) -> Item:
    """A LookupEvents item: the fields LookupEvents lifts out of the event, and the
    event itself as the JSON string CloudTrail returns."""
    event_id = f"{next(_SEQ):08x}-1b2c-4d3e-8f40-a1b2c3d4e5f6"
    body = {"eventVersion": "1.09", "userIdentity": identity,
            "eventTime": zulu(minutes_ago), "eventSource": source, "eventName": name,
            "awsRegion": REGION, "sourceIPAddress": "203.0.113.7",
            "userAgent": "aws-cli/2.15.0", "requestParameters": params,
            "responseElements": response, "requestID": event_id, "eventID": event_id,
            "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
            "recipientAccountId": ACCOUNT, **detail}
    username = identity.get("userName") or str(identity.get("arn", "")).rsplit("/", 1)[-1]
    return shaped("cloudtrail", "Event", {
        "EventId": event_id, "EventName": name, "ReadOnly": "false",
        "EventTime": ago(minutes_ago), "EventSource": source, "Username": username,
        "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in resources],
        "CloudTrailEvent": json.dumps(body)})


def ip_permissions(protocol: str, port: int, *, groups: tuple[str, ...] = (),
                   cidrs: tuple[str, ...] = ()) -> Item:
    """`ipPermissions` as CloudTrail records them (`{"items": [...]}` lists)."""
    perm: Item = {"ipProtocol": protocol, "fromPort": port, "toPort": port,
                  "groups": {"items": [{"groupId": g} for g in groups]} if groups else {},
                  "ipRanges": {"items": [{"cidrIp": c} for c in cidrs]} if cidrs else {},
                  "ipv6Ranges": {}, "prefixListIds": {}}
    return {"items": [perm]}


# -- alarms --------------------------------------------------------------------------------
def alarm(name: str, state: str, minutes_ago: float, dimensions: dict[str, str],
          metric: str = "CPUUtilization", namespace: str = "AWS/ECS") -> Item:
    return shaped("cloudwatch", "MetricAlarm", {
        "AlarmName": name,
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        "StateValue": state, "StateReason": f"Threshold Crossed: 1 datapoint was {state}",
        "StateUpdatedTimestamp": ago(minutes_ago),
        "StateTransitionedTimestamp": ago(minutes_ago), "MetricName": metric,
        "Namespace": namespace, "Statistic": "Average", "Period": 60,
        "EvaluationPeriods": 3, "Threshold": 80.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]})
