"""Unit tests of the reasoning over the past (checker/past): reading history in the forms
AWS sends it, who made a change, how to undo it, and the bounded timeline."""

from __future__ import annotations

import datetime as dt
import json
import shlex
from typing import Any

import botocore.session
import pytest

from checker.facts import Facts
from checker.past import cloudtrail, records
from checker.past.changes import changes, trail_events
from checker.past.happenings import happenings
from checker.past.text import clean, clock, iso, when
from checker.past.timeline import select
from checker.past.windows import DEFAULT, Windows
from tests import builders as b
from tests import builders_history as h

RTB, NAT, SG, ALB_SG = "rtb-0b2a4d6f8b0c2e3a4", "nat-0b8f2d4c6e8a01b22", "sg-0a1b2c3d4e5f60a01", \
    "sg-0b2c3d4e5f6a70b02"
WEB = b.service_arn("prod", "web")


def _facts(**resources: list[dict[str, Any]]) -> Facts:
    return Facts(b.bundle(**resources))


# -- times and texts -----------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-20T09:13:00Z", "2026-11-20T09:13:00+00:00"),
    ("2026-11-20T09:13:00.123Z", "2026-11-20T09:13:00+00:00"),
    ("2026-11-20T10:13:00+01:00", "2026-11-20T09:13:00+00:00"),
    ("2026-11-20T09:13:00", "2026-11-20T09:13:00+00:00"),  # naive: UTC
])
def test_times_in_the_forms_aws_sends(value: str, expected: str) -> None:
    moment = when(value)
    assert moment is not None and iso(moment) == expected


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-45T99:00:00Z", None, True, [],
                                   {"a": 1}, 10**30, float("nan")])
def test_malformed_times_are_none_never_an_error(value: Any) -> None:
    assert when(value) is None
    assert when(value, epoch_ms=True) is None


def test_log_timestamps_are_epoch_milliseconds() -> None:
    moment = when(1_795_000_000_000, epoch_ms=True)
    assert moment is not None and moment.year == 2026
    assert when(1_795_000_000_000) is None  # read as seconds it is no date


def test_clock_names_the_day_only_when_it_is_not_today() -> None:
    now = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    assert clock(dt.datetime(2026, 11, 20, 9, 4, tzinfo=dt.UTC), now) == "09:04"
    assert clock(dt.datetime(2026, 11, 19, 23, 40, tzinfo=dt.UTC), now) == "Nov 19 23:40"


def test_clean_escapes_control_characters_and_keeps_one_line() -> None:
    text = clean("Essential \x1b[31mcontainer\x1b[0m\nexited\t" + "x" * 400, 80)
    assert "\x1b" not in text and "\n" not in text and len(text) <= 80
    assert text.startswith("Essential ") and " … " in text
    assert clean("Essential \x1b[31mcontainer\x1b[0m\nexited") == \
        "Essential \\x1b[31mcontainer\\x1b[0m exited"


# -- records -------------------------------------------------------------------------------
def test_task_history_keeps_the_highest_version_and_the_api_item_wins() -> None:
    api = b.oom_task("web", 30)
    old = b.crash_task("web")
    entries = h.history_entries(old)
    renamed = {**h.history_entries(api)[1], "stoppedReason": "from history"}
    facts = _facts(services=[b.service("web")], tasks=[api],
                   task_history=[entries[1], entries[0], renamed])
    assert records.history_tasks(facts)[old["taskArn"]]["version"] == 4
    stopped = records.stopped_tasks(facts)
    assert [t["taskArn"] for t in stopped] == [api["taskArn"], old["taskArn"]]
    assert stopped[0]["stoppedReason"] != "from history"


def test_without_history_the_stopped_tasks_are_the_apis() -> None:
    tasks = [b.oom_task("web", 30), b.task("web")]
    facts = _facts(services=[b.service("web")], tasks=tasks)
    assert records.stopped_tasks(facts) == facts.stopped_tasks()
    assert not records.has_history(facts)


def test_a_history_entry_with_odd_times_is_kept_but_undated() -> None:
    task = b.oom_task("web", 30)
    bad = {**h.history_entries(task)[1], "stoppedAt": "not a time", "startedAt": 12}
    facts = _facts(services=[b.service("web")], tasks=[], task_history=[bad, "junk", None])
    assert records.stopped_tasks(facts) == [bad]
    assert [x for x in happenings(facts) if x.kind == "stopped-task"] == []


# -- actors --------------------------------------------------------------------------------
@pytest.mark.parametrize(("identity", "username", "expected"), [
    (h.iam_user("ops-admin"), "ops-admin", "user/ops-admin"),
    (h.assumed_role("terraform-ci", "gh-run-4711"), "gh-run-4711",
     "assumed-role/terraform-ci/gh-run-4711"),
    # no sessionContext: the role still comes from the ARN, never the bare session name
    ({"type": "AssumedRole", "arn": f"arn:aws:sts::{b.ACCOUNT}:assumed-role/deployer/s1"},
     "s1", "assumed-role/deployer/s1"),
    ({"type": "Root", "arn": f"arn:aws:iam::{b.ACCOUNT}:root"}, "root", "root"),
    (h.aws_service("application-autoscaling.amazonaws.com"), None,
     "service/application-autoscaling.amazonaws.com"),
    ({"type": "FederatedUser", "arn": f"arn:aws:sts::{b.ACCOUNT}:federated-user/alice"},
     "alice", "federated-user/alice"),
    ({"type": "IdentityCenterUser"}, "bob@example.com", "bob@example.com"),
    ({}, None, "unknown"),
    ({"type": "IAMUser", "userName": "evil\x1b[2Jname"}, None, "user/evil\\x1b[2Jname"),
])
def test_actor_is_readable_and_complete(identity: dict[str, Any], username: str | None,
                                        expected: str) -> None:
    assert cloudtrail.actor(identity, username) == expected


def test_actor_from_an_arn() -> None:
    role = f"arn:aws:sts::{b.ACCOUNT}:assumed-role/github-deploy/ci"
    assert cloudtrail.actor_from_arn(role) == "assumed-role/github-deploy/ci"
    assert cloudtrail.actor_from_arn(f"arn:aws:iam::{b.ACCOUNT}:user/ops/ops-admin") == \
        "user/ops-admin"
    assert cloudtrail.actor_from_arn("ops-admin") is None


# -- CloudTrail items ----------------------------------------------------------------------
def test_tagging_read_only_failed_and_unreadable_calls_are_no_changes() -> None:
    items = [
        h.trail("CreateTags", "ec2.amazonaws.com", 30, {"resourcesSet": {"items": [
            {"resourceId": SG}]}}, h.iam_user("ops-admin")),
        h.trail("TagResource", "ecs.amazonaws.com", 29, {"resourceArn": WEB},
                h.iam_user("ops-admin")),
        h.trail("DeleteRoute", "ec2.amazonaws.com", 28, {"routeTableId": RTB,
                "destinationCidrBlock": "0.0.0.0/0"}, h.iam_user("ops-admin"),
                errorCode="Client.UnauthorizedOperation"),
        {**h.trail("DescribeRouteTables", "ec2.amazonaws.com", 27, {},
                   h.iam_user("ops-admin")), "ReadOnly": "true"},
        {**h.trail("DeleteRoute", "ec2.amazonaws.com", 26, {"routeTableId": RTB},
                   h.iam_user("ops-admin")), "CloudTrailEvent": "{not json"},
    ]
    facts = _facts(cloudtrail_events=items)
    events, skipped = trail_events(facts)
    assert [e.name for e in events] == ["CreateTags", "TagResource"]
    assert skipped == 3
    assert changes(facts) == []  # tags are not changes


@pytest.mark.parametrize("name", ["CreateTags", "DeleteTags", "TagResource", "UntagResource",
                                  "AddTags", "RemoveTags", "CreateOrUpdateTags", "TagRole",
                                  "AddTagsToResource", "RemoveTagsFromResource"])
def test_every_tagging_call_is_recognised(name: str) -> None:
    assert cloudtrail.TAGGING.search(name)


@pytest.mark.parametrize("name", ["RegisterTargets", "ModifyTargetGroup", "UpdateService",
                                  "DeleteRoute", "CreateTaskSet"])
def test_no_other_call_is_tagging(name: str) -> None:
    assert not cloudtrail.TAGGING.search(name)


# -- reverts -------------------------------------------------------------------------------
def _one_change(*items: dict[str, Any], **resources: list[dict[str, Any]]) -> Any:
    found = changes(_facts(cloudtrail_events=list(items), **resources))
    return found[-1]


def _parses(command: str) -> None:
    """The command names a real operation and only parameters it takes (botocore)."""
    words = shlex.split(command)
    assert words[0] == "aws"
    model = botocore.session.get_session().get_service_model(words[1])
    name = "".join(part.capitalize() for part in words[2].split("-"))
    op = model.operation_model(next(o for o in model.operation_names if o.lower() == name.lower()))
    members = {m.lower() for m in op.input_shape.members}
    for word in words[3:]:
        if word.startswith("--"):
            assert word[2:].replace("-", "") in members, f"{word} not an input of {op.name}"


def test_delete_route_reverts_to_the_target_an_earlier_change_gave_it() -> None:
    create = h.trail("CreateRoute", "ec2.amazonaws.com", 600, {
        "routeTableId": RTB, "destinationCidrBlock": "0.0.0.0/0", "natGatewayId": NAT},
        h.assumed_role("terraform-ci", "apply-1"))
    delete = h.trail("DeleteRoute", "ec2.amazonaws.com", 50, {
        "routeTableId": RTB, "destinationCidrBlock": "0.0.0.0/0"}, h.iam_user("ops-admin"))
    change = _one_change(create, delete)
    assert (change.event, change.actor, change.resource) == ("DeleteRoute", "user/ops-admin", RTB)
    assert change.revert == (f"aws ec2 create-route --route-table-id {RTB} "
                             f"--destination-cidr-block 0.0.0.0/0 --nat-gateway-id {NAT}")
    _parses(change.revert)


def test_delete_route_without_history_names_the_nat_of_the_zone_or_has_no_revert() -> None:
    from tests import builders_network as bn

    delete = h.trail("DeleteRoute", "ec2.amazonaws.com", 50, {
        "routeTableId": RTB, "destinationCidrBlock": "0.0.0.0/0"}, h.iam_user("ops-admin"))
    alone = _one_change(delete)
    assert alone.revert is None  # no blank to fill in a command meant to be pasted
    subnet = bn.subnet("subnet-0b4d2f6a8c0e31592", "10.0.2.0/24", "us-east-1b")
    nat_subnet = bn.subnet("subnet-0e7a5c9d1f3b648c5", "10.0.102.0/24", "us-east-1b")
    table = bn.route_table(RTB, [bn.route(NatGatewayId=NAT, state="blackhole")],
                           subnets=("subnet-0b4d2f6a8c0e31592",))
    with_nat = _one_change(delete, subnets=[subnet, nat_subnet], route_tables=[table],
                           nat_gateways=[bn.nat_gateway(NAT, "subnet-0e7a5c9d1f3b648c5")])
    assert with_nat.revert.endswith(f"--nat-gateway-id {NAT}")


def test_replace_route_reverts_to_the_zones_nat_unless_it_was_replaced_with_it() -> None:
    from tests import builders_network as bn

    subnet = bn.subnet("subnet-0b4d2f6a8c0e31592", "10.0.2.0/24", "us-east-1b")
    nat_subnet = bn.subnet("subnet-0e7a5c9d1f3b648c5", "10.0.102.0/24", "us-east-1b")
    table = bn.route_table(RTB, [bn.route(NatGatewayId=NAT)],
                           subnets=("subnet-0b4d2f6a8c0e31592",))
    network = {"subnets": [subnet, nat_subnet], "route_tables": [table],
               "nat_gateways": [bn.nat_gateway(NAT, "subnet-0e7a5c9d1f3b648c5")]}

    def replaced_with(target: dict[str, str]) -> str | None:
        return _one_change(h.trail("ReplaceRoute", "ec2.amazonaws.com", 50, {
            "routeTableId": RTB, "destinationCidrBlock": "0.0.0.0/0", **target},
            h.iam_user("ops-admin")), **network).revert

    away = replaced_with({"gatewayId": "igw-0f1e2d3c4b5a69788"})
    assert away == (f"aws ec2 replace-route --route-table-id {RTB} --destination-cidr-block "
                    f"0.0.0.0/0 --nat-gateway-id {NAT}")
    _parses(away)
    assert replaced_with({"natGatewayId": NAT}) is None


def test_revoked_ingress_reverts_to_authorize_with_the_same_permissions() -> None:
    revoke = h.trail("RevokeSecurityGroupIngress", "ec2.amazonaws.com", 25, {
        "groupId": SG, "ipPermissions": h.ip_permissions("tcp", 8080, groups=(ALB_SG,))},
        h.assumed_role("terraform-ci", "gh-run-4711"))
    change = _one_change(revoke)
    assert change.actor == "assumed-role/terraform-ci/gh-run-4711"
    assert change.revert.startswith(f"aws ec2 authorize-security-group-ingress --group-id {SG} ")
    perms = json.loads(shlex.split(change.revert)[-1])
    assert perms == [{"FromPort": 8080, "IpProtocol": "tcp", "ToPort": 8080,
                      "UserIdGroupPairs": [{"GroupId": ALB_SG}]}]
    _parses(change.revert)


@pytest.mark.parametrize(("name", "params", "expected"), [
    ("ModifyVpcAttribute", {"vpcId": "vpc-0a1b2c3d4e5f60718", "enableDnsSupport": {"value": False}},
     "aws ec2 modify-vpc-attribute --vpc-id vpc-0a1b2c3d4e5f60718 --enable-dns-support Value=true"),
    ("CreateRoute", {"routeTableId": RTB, "destinationCidrBlock": "10.9.0.0/16",
                     "gatewayId": "igw-0f1e2d3c4b5a69788"},
     f"aws ec2 delete-route --route-table-id {RTB} --destination-cidr-block 10.9.0.0/16"),
    ("CreateNetworkAclEntry", {"networkAclId": "acl-0a1b2c3d4e5f60718", "ruleNumber": 90,
                               "egress": True, "ruleAction": "deny", "protocol": "-1"},
     "aws ec2 delete-network-acl-entry --network-acl-id acl-0a1b2c3d4e5f60718 --rule-number 90 "
     "--egress"),
    ("DetachRolePolicy", {"roleName": "prod-web-task",
                          "policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"},
     "aws iam attach-role-policy --role-name prod-web-task --policy-arn "
     "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"),
    ("RevokeSecurityGroupIngress", {"groupId": SG, "securityGroupRuleIds": {
        "items": [{"securityGroupRuleId": "sgr-0123456789abcdef0"}]}}, None),
    ("DeleteNatGateway", {"natGatewayId": NAT}, None),
])
def test_revert_commands(name: str, params: dict[str, Any], expected: str | None) -> None:
    source = "iam.amazonaws.com" if "Role" in name else "ec2.amazonaws.com"
    change = _one_change(h.trail(name, source, 20, params, h.iam_user("ops-admin")))
    assert change.revert == expected
    if expected:
        _parses(expected)


def test_update_service_reverts_to_the_revision_before() -> None:
    call = h.trail("UpdateService", "ecs.amazonaws.com", 20, {
        "cluster": "prod", "service": "web", "taskDefinition": "web:8"},
        h.assumed_role("github-deploy", "run-9"))
    change = _one_change(call)
    assert (change.source, change.resource, change.event) == ("cloudtrail", WEB, "UpdateService")
    assert change.revert == ("aws ecs update-service --cluster prod --service web "
                             "--task-definition web:7")
    _parses(change.revert)


def test_an_update_service_and_its_deployment_are_one_change() -> None:
    svc = b.service("web", revision=8, deployments=[
        {"id": "ecs-svc/1111", "status": "PRIMARY", "taskDefinition": b.td_arn("web", 8),
         "createdAt": h.ago(20), "rolloutState": "IN_PROGRESS"},
        {"id": "ecs-svc/0999", "status": "ACTIVE", "taskDefinition": b.td_arn("web", 6),
         "createdAt": h.ago(900), "rolloutState": "COMPLETED"}])
    call = h.trail("UpdateService", "ecs.amazonaws.com", 20.05, {
        "cluster": "prod", "service": "web", "taskDefinition": "web:8"},
        h.assumed_role("github-deploy", "run-9"))
    event = h.deployment_event(WEB, "IN_PROGRESS", 19.9, "ecs-svc/1111")
    facts = _facts(services=[svc], cloudtrail_events=[call], ecs_events=[event])
    found = [c for c in changes(facts) if c.time > b.NOW - dt.timedelta(hours=1)]
    assert len(found) == 1
    (change,) = found
    assert (change.source, change.event, change.actor) == (
        "deployment", "deployment of web:8", "assumed-role/github-deploy/run-9")
    assert change.revert.endswith("--task-definition web:6")  # the revision it replaced
    assert iso(change.time) == iso(when(h.ago(20.05)))  # the call came first


def test_a_rollback_and_an_aws_service_scaling_are_routine() -> None:
    rollback = h.deployment_event(WEB, "IN_PROGRESS", 10, "ecs-svc/2",
                                  reason="ECS deployment circuit breaker: rolling back to "
                                         "deploymentId ecs-svc/1.")
    scale = h.trail("UpdateService", "ecs.amazonaws.com", 9, {
        "cluster": "prod", "service": "web", "desiredCount": 4},
        h.aws_service("application-autoscaling.amazonaws.com"))
    found = changes(_facts(services=[b.service("web")], ecs_events=[rollback],
                           cloudtrail_events=[scale]))
    assert [c.routine for c in found] == [True, True]


# -- the timeline --------------------------------------------------------------------------
NOW = b.NOW


def _row(minutes: float, kind: str = "service-event", name: str = "x") -> tuple[Any, ...]:
    return (NOW - dt.timedelta(minutes=minutes), kind, name, f"{name} at -{minutes}")


def test_timeline_is_ascending_and_keeps_what_is_near_the_onsets() -> None:
    seen = [_row(m) for m in range(0, 24 * 60)]
    made = [_row(m, "change", "rtb") for m in (700, 50)]
    onset = NOW - dt.timedelta(minutes=45)
    rows = select(made, seen, [onset], NOW)
    assert rows == sorted(rows)
    assert set(made) <= set(rows)
    others = [r for r in rows if r[1] != "change"]
    assert len(others) == DEFAULT.per_onset
    assert all(abs((r[0] - onset).total_seconds()) <= DEFAULT.near_s for r in others)


def test_timeline_is_capped() -> None:
    windows = Windows(cap=30, per_onset=20, changes=15)
    seen = [_row(m) for m in range(0, 24 * 60)]
    made = [_row(m, "change", f"c{m}") for m in range(0, 600, 10)]
    onsets = [NOW - dt.timedelta(minutes=m) for m in (100, 400, 900)]
    rows = select(made, seen, onsets, NOW, windows)
    assert len(rows) == 30 and rows == sorted(rows)
    assert len([r for r in rows if r[1] == "change"]) <= 15


def test_timeline_without_onset_keeps_the_newest() -> None:
    seen = [_row(m) for m in range(0, 300)]
    rows = select([], seen, [], NOW, Windows(recent=10))
    assert rows == sorted(seen)[-10:]


def test_windows_refuse_negative_values() -> None:
    with pytest.raises(ValueError, match="trigger_s"):
        Windows(trigger_s=-1)


def test_a_trigger_never_carries_control_characters() -> None:
    from checker.past.changes import Change
    from checker.past.reasoning import began_line, to_trigger

    change = Change(b.NOW - dt.timedelta(minutes=3), "Delete\x1b[2JRoute", "user/x\x07y",
                    "rtb-0b2a4d6f8b0c2e3a4\n", "cloudtrail", frozenset(),
                    revert="aws ec2 create-route --route-table-id 'rtb-\x1b[31m'")
    trig = to_trigger(change)
    assert trig.revert is None
    for text in (trig.event, trig.actor, trig.resource, began_line(b.NOW, change, b.NOW)):
        assert text.isprintable(), text
