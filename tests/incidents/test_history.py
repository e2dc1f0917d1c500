"""Whole-account incidents with history (tests/incidents/history.py) through the real
engine: when each diagnosis began, which change started it and who made it, and whether
it is over. Every bundle is the healthy `prod` account with a night of benign history and
healthy services beside the broken one."""

from __future__ import annotations

import json
from functools import cache

import jsonschema
import pytest

from checker import shapes
from checker.model import RESOLVED, Diagnosis, Report, Severity, Status
from checker.pipeline import Engine
from checker.render import RenderOptions, render
from tests.conftest import REPO
from tests.incidents.healthy import NATS, PRIVATE_RTS, task_sg
from tests.incidents.history import SCENARIOS
from tests.incidents.scenarios import service_arn

ENGINE = Engine()
SCHEMA = json.loads((REPO / "docs" / "schema" / "report-v1.schema.json").read_text())


@cache
def _report(name: str) -> Report:
    return ENGINE.analyze(SCENARIOS[name](), generated_at="2026-11-20T10:00:00+00:00")


def _top(name: str) -> Diagnosis:
    return _report(name).diagnoses[0]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_bundle_is_in_aws_shapes_and_the_report_is_report_v1(name: str) -> None:
    assert shapes.validate_bundle(SCENARIOS[name]()) == []
    report = json.loads(render(_report(name), "json"))
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.FormatChecker())
    times = [t["time"] for t in report["timeline"]]
    assert times == sorted(times) and 0 < len(times) <= 200


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_bundle_same_report(name: str) -> None:
    again = ENGINE.analyze(SCENARIOS[name](), generated_at="2026-11-20T10:00:00+00:00")
    assert render(again, "json") == render(_report(name), "json")


def test_a_leak_seen_only_in_history() -> None:
    """Three OOM kills, three hours apart, all older than the hour ECS keeps them."""
    top = _top("leak-in-history")
    assert (top.id, top.status, top.resources) == ("memory-leak", "active",
                                                   (service_arn("checkout"),))
    assert top.onset == "2026-11-20T01:00:00+00:00" and top.trigger is None
    assert "began 01:00" in top.why
    oom = next(f for f in _report("leak-in-history").findings
               if f.check == "stopped-task-oom" and f.status is Status.FAIL)
    assert "3 of 3 stopped tasks OOM-killed in the last 9h" in oom.message
    assert "first 01:00 UTC" in oom.message and oom.data["first_at"].startswith(
        "2026-11-20T01:00")


def test_a_default_route_deleted_by_a_user() -> None:
    top = _top("route-deleted-by-user")
    assert top.id == "egress-route-missing" and top.trigger is not None
    trig = top.trigger
    assert (trig.event, trig.actor, trig.resource, trig.source) == (
        "DeleteRoute", "user/ops-admin", PRIVATE_RTS[1], "cloudtrail")
    assert trig.revert == (f"aws ec2 create-route --route-table-id {PRIVATE_RTS[1]} "
                           f"--destination-cidr-block 0.0.0.0/0 --nat-gateway-id {NATS[1]}")
    assert top.why[0] == ("began 09:13, 3 min after DeleteRoute on rtb-0b2a4d6f8b0c2e3a4 by "
                          "user/ops-admin")


def test_an_ingress_rule_revoked_by_an_assumed_ci_role() -> None:
    top = _top("ingress-revoked-by-ci")
    assert top.id == "security-group-blocks-lb" and top.trigger is not None
    assert top.trigger.event == "RevokeSecurityGroupIngress"  # not the authorize after it
    assert top.trigger.actor == "assumed-role/terraform-ci/gh-run-4711"
    assert top.trigger.resource == task_sg("checkout")
    assert top.trigger.revert and top.trigger.revert.startswith(
        f"aws ec2 authorize-security-group-ingress --group-id {task_sg('checkout')} ")
    assert '"FromPort":8080' in top.trigger.revert


def test_a_deployment_followed_by_a_crash_loop_is_one_trigger() -> None:
    report = _report("deploy-then-crash-loop")
    top = report.diagnoses[0]
    assert top.id == "app-crash-loop" and top.trigger is not None
    assert (top.trigger.source, top.trigger.event, top.trigger.actor) == (
        "deployment", "deployment of checkout:42", "assumed-role/github-deploy/gh-run-1288")
    assert top.trigger.revert == ("aws ecs update-service --cluster prod --service checkout "
                                  "--task-definition checkout:41")
    near = [t for t in report.timeline if t.kind in ("change", "deployment")
            and t.resource == service_arn("checkout") and t.time.startswith("2026-11-20T09:3")]
    assert len(near) == 1, near  # the UpdateService call is that deployment, not another change


def test_a_resolved_oom_is_low_and_ranked_below_every_active_diagnosis() -> None:
    report = _report("resolved-oom")
    resolved = [d for d in report.diagnoses if d.status == RESOLVED]
    assert [d.id for d in resolved] == ["memory-undersized"]
    (done,) = resolved
    assert done.severity is Severity.LOW and done.onset == "2026-11-20T03:20:00+00:00"
    assert done.why[0].startswith("resolved: deployment of checkout:42 at 04:59 by "
                                  "user/ops-admin; deployment completed at 05:06")
    active = [d.rank for d in report.diagnoses if d.status != RESOLVED]
    assert all(rank < done.rank for rank in active)
    assert all(Severity.LOW.at_least(d.severity) for d in report.diagnoses)  # none above low


def test_a_healthy_account_with_benign_history() -> None:
    """Routine deployments, scale-in stops, tagging and auto scaling: nothing is named,
    nothing is above low."""
    report = _report("healthy-with-history")
    assert all(d.trigger is None for d in report.diagnoses)
    assert all(Severity.LOW.at_least(d.severity) for d in report.diagnoses)
    kinds = {t.kind for t in report.timeline}
    assert {"deployment", "stopped-task", "service-event"} <= kinds
    assert not any("Tags" in t.summary or "TagResource" in t.summary for t in report.timeline)


def test_tags_other_services_and_aws_scaling_are_never_the_trigger() -> None:
    report = _report("noise-before-failure")
    top = report.diagnoses[0]
    assert top.id == "security-group-blocks-lb" and top.onset == "2026-11-20T09:37:00+00:00"
    assert all(d.trigger is None for d in report.diagnoses), [
        (d.id, d.trigger) for d in report.diagnoses if d.trigger]
    summaries = [t.summary for t in report.timeline]
    assert any("deployment of web:58" in s for s in summaries)  # on the timeline, not named


@pytest.mark.parametrize("name", ["route-deleted-by-user", "resolved-oom"])
@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_renderers_show_a_short_timeline_around_each_onset(name: str, fmt: str) -> None:
    # the terminal shows the moments around an onset under --verbose; by default the
    # trigger (or the resolution) says what changed
    out = render(_report(name), fmt, RenderOptions(color=False, verbose=fmt == "table"))
    assert "timeline" in out.lower()
    assert "resolved" in out.lower() or "DeleteRoute" in out
    assert len(out.splitlines()) < 400
    if fmt == "table":
        default = render(_report(name), fmt, RenderOptions(color=False))
        assert "resolved" in default.lower() or "trigger: DeleteRoute" in default


def test_aws_scaling_after_the_last_kill_is_no_fix() -> None:
    """Application Auto Scaling touching checkout after its last OOM, then a steady state:
    the leak is not over, it has only not struck again yet."""
    from tests import builders_history as h

    bundle = SCENARIOS["leak-in-history"]()
    checkout = service_arn("checkout")
    bundle["resources"]["cloudtrail_events"].append(h.trail(
        "UpdateService", "ecs.amazonaws.com", 170, {"cluster": "prod", "service": "checkout",
                                                    "desiredCount": 2},
        h.aws_service("application-autoscaling.amazonaws.com"),
        response={"service": {"serviceArn": checkout}}))
    bundle["resources"]["ecs_events"].append(h.service_action(checkout, "SERVICE_STEADY_STATE",
                                                              165))
    top = ENGINE.analyze(bundle).diagnoses[0]
    assert (top.id, top.status) == ("memory-leak", "active")
