"""The demo account's night of history (issue 11): what only the history log group and
CloudTrail show, written with :mod:`checker.demo.moto_history`.

- ``checkout`` leaks: besides the four OOM kills of the last hour (scenario.py), one of its
  tasks was OOM-killed every ~3 hours through the night, each after ~9 h of uptime. Those
  kills are gone from DescribeTasks and live only as ``ECS Task State Change`` events in the
  history log group (deploy/history.yaml's).
- ``payments``: ``user/ops-admin`` pointed the default route of the payments route table at a
  NAT gateway that had been deleted (the route shows as a blackhole) a few minutes before
  the service's first task failed to pull its image: the CloudTrail ``ReplaceRoute`` is the
  change a scan names as the outage's trigger.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from checker.demo import scenario as sc
from checker.demo.model import ESSENTIAL_EXITED, OOM
from checker.demo.moto_history import (
    cloudtrail_record,
    ecs_event,
    put_cloudtrail_event,
    put_ecs_events,
)

#: Minutes ago the night's checkout OOM kills happened (every ~3 h, before the last hour's).
CHECKOUT_NIGHT_OOMS = (182.0, 363.0, 547.0, 728.0, 911.0)
CHECKOUT_UPTIME = 540.0  # minutes each task ran before the kill, as the last hour's
#: Minutes ago ops-admin deleted the payments default route (payments launched 42 min ago).
PAYMENTS_ROUTE_REPLACED = 46.0
OPS_ADMIN = "user/ops-admin"


def _iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _oom_task(now: dt.datetime, stopped: float, index: int, td_arn: str) -> dict[str, Any]:
    """A checkout task OOM-killed ``stopped`` minutes ago, as its STOPPED state change."""
    started = now - dt.timedelta(minutes=stopped + CHECKOUT_UPTIME)
    end = now - dt.timedelta(minutes=stopped)
    cluster_arn = f"arn:aws:ecs:{sc.REGION}:{sc.ACCOUNT}:cluster/{sc.CLUSTER}"
    task_arn = (f"arn:aws:ecs:{sc.REGION}:{sc.ACCOUNT}:task/{sc.CLUSTER}/"
                f"0e5c4a7d9b{index:02d}4f1e8c3a6b2d9f70{index:04d}")
    return {
        "taskArn": task_arn, "clusterArn": cluster_arn, "taskDefinitionArn": td_arn,
        "group": "service:checkout", "startedBy": "ecs-svc/4721983456120981234",
        "launchType": "EC2", "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
        "createdAt": _iso(started - dt.timedelta(seconds=20)), "startedAt": _iso(started),
        "stoppingAt": _iso(end), "stoppedAt": _iso(end + dt.timedelta(seconds=4)),
        "executionStoppedAt": _iso(end), "updatedAt": _iso(end + dt.timedelta(seconds=4)),
        "stopCode": "EssentialContainerExited", "stoppedReason": ESSENTIAL_EXITED,
        "cpu": "512", "memory": "1024", "version": 4,
        "containers": [{"name": "checkout", "lastStatus": "STOPPED", "exitCode": 137,
                        "reason": OOM, "taskArn": task_arn}],
    }


def _api_stops(aws: Any) -> list[dict[str, Any]]:
    """The stops DescribeTasks still shows, as the rule delivered them seconds after each:
    the group sees every stop, not only the night's (a group missing all of them is a rule
    that stopped delivering: the `history-unavailable` check)."""
    arns = [arn for page in aws.ecs.get_paginator("list_tasks").paginate(
        cluster=sc.CLUSTER, desiredStatus="STOPPED") for arn in page["taskArns"]]
    events = []
    for start in range(0, len(arns), 100):
        described = aws.ecs.describe_tasks(cluster=sc.CLUSTER, tasks=arns[start:start + 100])
        for task in described["tasks"]:
            stopped = task.get("stoppedAt")
            if task.get("lastStatus") != "STOPPED" or not isinstance(stopped, dt.datetime):
                continue
            detail = json.loads(json.dumps(task, default=_iso_default))
            events.append(ecs_event("ECS Task State Change", detail,
                                    resources=[task["taskArn"]],
                                    when=stopped + dt.timedelta(seconds=6),
                                    account=sc.ACCOUNT, region=sc.REGION))
    return events


def _iso_default(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return _iso(value.astimezone(dt.UTC))
    raise TypeError(f"not JSON: {type(value).__name__}")


def put_history(aws: Any, log_group: str, now: dt.datetime) -> None:
    """Write the night's history into ``log_group`` and the demo's CloudTrail."""
    td_arn = aws.ecs.describe_services(cluster=sc.CLUSTER, services=["checkout"])[
        "services"][0]["taskDefinition"]
    events = []
    for index, stopped in enumerate(CHECKOUT_NIGHT_OOMS):
        task = _oom_task(now, stopped, index, td_arn)
        events.append(ecs_event("ECS Task State Change", task, resources=[task["taskArn"]],
                                when=now - dt.timedelta(minutes=stopped - 0.1),
                                account=sc.ACCOUNT, region=sc.REGION))
    events += _api_stops(aws)
    put_ecs_events(aws.logs, log_group, events)

    tables = aws.ec2.describe_route_tables(Filters=[
        {"Name": "tag:Name", "Values": ["prod-payments-private"]}])["RouteTables"]
    table = tables[0]["RouteTableId"]
    nat = next(str(r.get("NatGatewayId")) for r in tables[0]["Routes"]
               if r.get("DestinationCidrBlock") == "0.0.0.0/0")
    record = cloudtrail_record(
        "ReplaceRoute", "ec2.amazonaws.com",
        {"routeTableId": table, "destinationCidrBlock": "0.0.0.0/0", "natGatewayId": nat},
        when=now - dt.timedelta(minutes=PAYMENTS_ROUTE_REPLACED), actor=OPS_ADMIN,
        response={"_return": True}, account=sc.ACCOUNT, region=sc.REGION)
    put_cloudtrail_event(record, resources=[("AWS::EC2::RouteTable", table)],
                         account=sc.ACCOUNT, region=sc.REGION)
