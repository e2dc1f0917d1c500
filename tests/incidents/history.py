"""Whole-account incidents with history (issue 11): the healthy `prod` account of
tests/incidents, a night of benign history behind it (routine deployments with their
CloudTrail calls and ECS events, scale-in stops, tagging, Application Auto Scaling), and
one thing broken — some of them visible only in the history.

Each builder returns a bundle v1 with `task_history`, `ecs_events` and
`cloudtrail_events` (CONTRACTS.md §5). Times are relative to tests.builders.NOW (10:00
UTC): "540 minutes ago" is 01:00.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from tests import builders_history as h
from tests.incidents import s_lb, s_network, s_start
from tests.incidents.healthy import ALB_SG, PRIVATE_RTS, sync_hosts, task_sg
from tests.incidents.scenarios import Break, Cluster, service_arn

Item = dict[str, Any]
OOM = "OutOfMemoryError: Container killed due to memory usage"
EXITED = "Essential container in task exited"
CI = ("github-deploy", "gh-run-1201")


def _history(c: Cluster) -> tuple[list[Item], list[Item], list[Item]]:
    res = c.res
    return (res.setdefault("task_history", []), res.setdefault("ecs_events", []),
            res.setdefault("cloudtrail_events", []))


def to_history(c: Cluster, task: Item) -> None:
    """Move a stopped task from the API's tasks to the history: ECS forgot it."""
    c.res["tasks"].remove(task)
    _history(c)[0].extend(h.history_entries(task))


def deploy_with_history(c: Cluster, name: str, minutes: float, actor: Item,
                        *, complete: bool = True, **container: Any) -> str:
    """A deployment as the account records it: the CloudTrail UpdateService a few seconds
    before, the ECS deployment events, and (when complete) the replaced tasks' stops."""
    replaced = len(c.tasks(name))
    td = c.deploy(name, minutes, rollout="COMPLETED" if complete else "IN_PROGRESS",
                  **container)
    label = td["taskDefinitionArn"].rsplit("/", 1)[1]
    dep_id = c.service(name)["deployments"][0]["id"]
    _, events, trail = _history(c)
    arn = service_arn(name)
    trail.append(h.trail("UpdateService", "ecs.amazonaws.com", minutes + 0.05, {
        "cluster": "prod", "service": name, "taskDefinition": label}, actor,
        response={"service": {"serviceArn": arn}}))
    events.append(h.deployment_event(arn, "IN_PROGRESS", minutes, dep_id))
    if complete:
        events.append(h.deployment_event(arn, "COMPLETED", minutes - 8, dep_id))
        events.append(h.service_action(arn, "SERVICE_STEADY_STATE", minutes - 9))
        for i in range(replaced):  # the tasks of the revision before, drained
            gone = c.stopped(name, i % 3, stopped_min=minutes - 4, uptime_s=3 * 86400,
                             reason=f"Scaling activity initiated by (deployment {dep_id})",
                             stop_code="ServiceSchedulerInitiated", exit_code=143,
                             revision=int(label.rsplit(":", 1)[1]) - 1, announce=False)
            to_history(c, gone)
    return dep_id


def night(c: Cluster) -> None:
    """Benign history: api deployed at 03:00 and web at 07:00 by CI, scale-in stops of
    worker overnight, tags put on a security group and a service, Application Auto
    Scaling changing worker's desired count."""
    _history(c)
    deploy_with_history(c, "api", 420, h.assumed_role(*CI))
    deploy_with_history(c, "web", 180, h.assumed_role(CI[0], "gh-run-1207"))
    for stopped in (470, 230):
        task = c.stopped("worker", 0, stopped_min=stopped, uptime_s=5 * 3600,
                         reason="Scaling activity initiated by (deployment ecs-svc/"
                                "4400000000000000017)", stop_code="ServiceSchedulerInitiated",
                         exit_code=143, announce=False)
        to_history(c, task)
    _, events, trail = _history(c)
    worker = service_arn("worker")
    trail += [
        h.trail("UpdateService", "ecs.amazonaws.com", 471, {
            "cluster": "prod", "service": "worker", "desiredCount": 2},
            h.aws_service("application-autoscaling.amazonaws.com")),
        h.trail("CreateTags", "ec2.amazonaws.com", 300, {"resourcesSet": {"items": [
            {"resourceId": task_sg("web")}]}, "tagSet": {"items": [
                {"key": "cost-center", "value": "shop"}]}}, h.iam_user("ops-admin")),
        h.trail("TagResource", "ecs.amazonaws.com", 299, {
            "resourceArn": service_arn("api"), "tags": [{"key": "team", "value": "core"}]},
            h.iam_user("ops-admin")),
    ]
    events += [h.service_action(worker, "SERVICE_DESIRED_COUNT_UPDATED", 470),
               h.service_action(worker, "SERVICE_STEADY_STATE", 465)]


def _finish(c: Cluster) -> Item:
    in_order(c)
    sync_hosts(c.bundle)
    return c.bundle


def whole(brk: Break) -> Item:
    """The bundle of one incident with history: the healthy account, its night, the
    break, events in time order."""
    c = Cluster()
    night(c)
    brk(c)
    return _finish(c)


def in_order(c: Cluster) -> None:
    """The history as the account records it: every stop the API still shows delivered to
    the log group too (the rule sees every stop), each collection in time order as the
    log group and CloudTrail return it."""
    kept = {str(e.get("taskArn")) for e in c.res["task_history"]}
    for task in c.res["tasks"]:
        if task.get("lastStatus") == "STOPPED" and str(task.get("taskArn")) not in kept:
            c.res["task_history"].extend(h.history_entries(task))
    for key in ("task_history", "ecs_events", "cloudtrail_events"):
        c.res[key].sort(key=lambda i: str(i.get("stoppedAt") or i.get("time")
                                          or i.get("EventTime")))


def healthy_with_history(c: Cluster) -> None:
    """Nothing broken: only the night's benign history."""


def _oom(c: Cluster, stopped: float, uptime_min: float, where: int) -> None:
    task = c.stopped("checkout", where, stopped_min=stopped, uptime_s=uptime_min * 60,
                     reason=EXITED, exit_code=137, container_reason=OOM, announce=False)
    to_history(c, task)


def leak_in_history(c: Cluster) -> None:
    """checkout leaks: a task is OOM-killed after ~3 h at 01:00, 04:00 and 07:00. ECS
    has forgotten all three; the last hour is clean and its memory graph unremarkable."""
    for stopped, where in ((540, 0), (360, 1), (180, 0)):
        _oom(c, stopped, 178, where)


def route_deleted_by_user(c: Cluster) -> None:
    """ops-admin deleted the default route of the us-east-1b private route table at
    09:10 (and tagged the table a minute later); web tasks there cannot pull from ghcr.io
    since 09:13 (tests.incidents.s_network.egress_route_missing)."""
    s_network.egress_route_missing(c)
    _, _, trail = _history(c)
    trail += [
        h.trail("DeleteRoute", "ec2.amazonaws.com", 50, {
            "routeTableId": PRIVATE_RTS[1], "destinationCidrBlock": "0.0.0.0/0"},
            h.iam_user("ops-admin"), resources=(("AWS::EC2::RouteTable", PRIVATE_RTS[1]),)),
        h.trail("CreateTags", "ec2.amazonaws.com", 49, {"resourcesSet": {"items": [
            {"resourceId": PRIVATE_RTS[1]}]}, "tagSet": {"items": [
                {"key": "reviewed", "value": "yes"}]}}, h.iam_user("ops-admin")),
    ]


def ingress_revoked_by_ci(c: Cluster) -> None:
    """Terraform (assumed role terraform-ci) revoked the ALB's 8080 ingress on checkout's
    security group at 09:35 and authorized 8443 right after; health checks fail since
    (tests.incidents.s_lb.sg_blocks_lb)."""
    s_lb.sg_blocks_lb(c)
    ci = h.assumed_role("terraform-ci", "gh-run-4711")
    sg = task_sg("checkout")
    _history(c)[2].extend([
        h.trail("RevokeSecurityGroupIngress", "ec2.amazonaws.com", 25.0, {
            "groupId": sg, "ipPermissions": h.ip_permissions("tcp", 8080, groups=(ALB_SG,))},
            ci),
        h.trail("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", 24.9, {
            "groupId": sg, "ipPermissions": h.ip_permissions("tcp", 8443, groups=(ALB_SG,))},
            ci)])


def deploy_then_crash_loop(c: Cluster) -> None:
    """checkout:42 goes out at 09:32 from CI and its container exits with code 1 within
    seconds (tests.incidents.s_start.crash_loop); CloudTrail has the UpdateService and
    EventBridge the deployment: one change."""
    s_start.crash_loop(c)
    arn = service_arn("checkout")
    dep_id = c.service("checkout")["deployments"][0]["id"]
    _, events, trail = _history(c)
    trail.append(h.trail("UpdateService", "ecs.amazonaws.com", 28.05, {
        "cluster": "prod", "service": "checkout", "taskDefinition": "checkout:42"},
        h.assumed_role("github-deploy", "gh-run-1288"), response={"service": {
            "serviceArn": arn}}))
    events += [h.deployment_event(arn, "IN_PROGRESS", 28, dep_id),
               h.service_action(arn, "SERVICE_TASK_START_IMPAIRED", 9, "WARN")]


def resolved_oom(c: Cluster) -> None:
    """checkout:41 was OOM-killed three times around 03:30 minutes after each start (its
    memory too small for the night batch); ops-admin deployed checkout:42 with twice the
    memory at 05:00, steady since: the incident is over."""
    for stopped, uptime, where in ((400, 6, 0), (370, 5, 1), (340, 7, 0)):
        _oom(c, stopped, uptime, where)
    deploy_with_history(c, "checkout", 300, h.iam_user("ops-admin"),
                        td={"cpu": "512", "memory": "2048"})


def noise_before_failure(c: Cluster) -> None:
    """checkout's security group stops admitting the ALB (tests.incidents.s_lb.sg_blocks_lb)
    with no record of who changed it, while in the minutes before: CI deploys web, someone
    tags checkout's group and service, Application Auto Scaling sets checkout's count.
    None of these is what broke checkout."""
    s_lb.sg_blocks_lb(c)
    deploy_with_history(c, "web", 26, h.assumed_role(CI[0], "gh-run-1290"))
    checkout = service_arn("checkout")
    _history(c)[2].extend([
        h.trail("CreateTags", "ec2.amazonaws.com", 25, {"resourcesSet": {"items": [
            {"resourceId": task_sg("checkout")}]}, "tagSet": {"items": [
                {"key": "owner", "value": "payments"}]}}, h.iam_user("ops-admin")),
        h.trail("TagResource", "ecs.amazonaws.com", 24.5, {
            "resourceArn": checkout, "tags": [{"key": "owner", "value": "payments"}]},
            h.iam_user("ops-admin")),
        h.trail("UpdateService", "ecs.amazonaws.com", 24, {
            "cluster": "prod", "service": "checkout", "desiredCount": 2},
            h.aws_service("application-autoscaling.amazonaws.com"),
            response={"service": {"serviceArn": checkout}})])


BREAKS: dict[str, Break] = {
    "healthy-with-history": healthy_with_history, "leak-in-history": leak_in_history,
    "route-deleted-by-user": route_deleted_by_user, "ingress-revoked-by-ci": ingress_revoked_by_ci,
    "deploy-then-crash-loop": deploy_then_crash_loop, "resolved-oom": resolved_oom,
    "noise-before-failure": noise_before_failure}

#: name -> a function building that incident's whole bundle.
SCENARIOS: dict[str, Callable[[], Item]] = {
    name: functools.partial(whole, brk) for name, brk in BREAKS.items()}
