"""playbooks/vpc-outage.yaml on incident bundles: a healthy VPC with one change that takes
`web` down (tests/builders_pb_network.py), the real checks, and the ranked report."""

from __future__ import annotations

from typing import Any

import pytest

from checker.playbook import load
from tests import builders_network as n
from tests import builders_pb_network as p
from tests.builders_pb_network import API, RT_A, WEB, analyze, assert_filled, find, get, roles
from tests.checks.harness import REGISTRY

STUBBED = p.engine_with_pull_stubs()


def killed_while_starting(w: n.World) -> None:
    """Grace 30 s; three tasks killed by ELB health checks ~100 s after they started."""
    p.grace(w, 30)
    w.tasks += p.elb_kills("web", [95, 100, 110])
    w.services[0]["runningCount"] = 1


def route_outage(*services: str) -> n.World:
    """NAT A deleted (its route is now a blackhole) in a VPC without endpoints: the tasks in
    subnet A cannot pull their image or fetch their secret."""
    w = p.world(api="api" in services)
    p.delete_nat(w, p.NAT_A)
    w.drop_endpoints(*n.ENDPOINTS, "s3")
    for name in services:
        w.tasks += p.pull_failures(name)
    w.tasks += p.pull_failures("web", p.SECRETS_TIMEOUT, 2, secrets=True)
    return w


# -- security-group-blocks-lb -----------------------------------------------------------------

def test_security_group_no_longer_admitting_the_lb_is_the_outage() -> None:
    w = p.world()
    p.block_lb(w)
    p.unhealthy_targets(w)
    killed_while_starting(w)
    report = analyze(p.bundle(w))
    diag = report.diagnoses[0]
    assert (diag.id, diag.resources, diag.severity.value) == (
        "security-group-blocks-lb", (WEB,), "critical")
    assert roles(diag)["confirm"] == {"lb-to-task-security-group"}
    assert {"lb-target-health", "stopped-task-elb-health",
            "service-running-below-desired"} <= roles(diag)["support"]
    assert f"tasks of prod/web (security groups {n.TASK_SG}" in diag.summary
    assert any(f"--source-group {n.ALB_SG}" in (r.command or "") for r in diag.remediation)
    assert_filled(diag)
    # the kills look like a short grace period, but the targets could never be healthy
    assert find(report, "health-check-grace-too-short") is None


def test_nacl_adds_support_to_the_security_group_diagnosis() -> None:
    w = p.world()
    p.block_lb(w)
    alone = get(analyze(p.bundle(w)), "security-group-blocks-lb")
    p.nacl_blocks_lb(w)
    both = get(analyze(p.bundle(w)), "security-group-blocks-lb")
    assert "nacl-blocks-lb-traffic" in roles(both)["support"]
    assert both.confidence == round(alone.confidence + 0.05, 2)


def test_security_group_admitting_the_lb_rules_it_out() -> None:
    w = p.world()
    killed_while_starting(w)
    report = analyze(p.bundle(w))
    assert find(report, "security-group-blocks-lb") is None
    assert report.diagnoses[0].id == "health-check-grace-too-short"


# -- egress-route-missing -----------------------------------------------------------------------

def test_deleted_nat_route_ranks_first_and_explains_the_pull_failures() -> None:
    report = analyze(p.bundle(route_outage("web", "api")), STUBBED)
    cause = report.diagnoses[0]
    assert (cause.id, cause.resources) == ("egress-route-missing", (API, WEB, RT_A))
    assert cause.explains == ("image-pull-failure on prod/api", "image-pull-failure on prod/web",
                              "secrets-pull-failure on prod/web")
    effects = [d for d in report.diagnoses if d.id in ("image-pull-failure",
                                                       "secrets-pull-failure")]
    assert len(effects) == 3
    assert all(e.explained_by == ("egress-route-missing",) and e.rank > 1 for e in effects)
    assert "one cause behind 2 services: prod/api, prod/web" in cause.why
    assert {"stopped-task-image-pull", "stopped-task-secrets-pull", "image-registry-unreachable",
            "secrets-logs-unreachable"} <= roles(cause)["support"]
    assert f"route table {RT_A}" in cause.summary and "subnet-0aaa000000000000a" in cause.summary
    assert any(f"--route-table-id {RT_A}" in (r.command or "") for r in cause.remediation)
    assert_filled(cause)


def test_cause_is_lifted_above_a_more_certain_effect() -> None:
    """The stand-in image-pull diagnosis is certain (1.0); the route, on one service, scores
    below it on its own and must still rank first."""
    report = analyze(p.bundle(route_outage("web")), STUBBED)
    cause, effect = report.diagnoses[0], get(report, "image-pull-failure")
    assert cause.id == "egress-route-missing" and cause.confidence < effect.confidence
    assert cause.score == round(max(d.score for d in report.diagnoses[1:]) + 0.01, 2)


def test_deleted_nat_route_with_the_shipped_playbooks() -> None:
    """With whatever image-pull/secrets-pull playbooks exist: the route is still first, and
    explains every pull diagnosis on its services."""
    report = analyze(p.bundle(route_outage("web", "api")))
    cause = report.diagnoses[0]
    assert cause.id == "egress-route-missing"
    for effect in report.diagnoses[1:]:
        if effect.id in ("image-pull-failure", "secrets-pull-failure"):
            assert "egress-route-missing" in effect.explained_by
            assert any(x.startswith(effect.id) for x in cause.explains)


def test_route_hypothesis_declares_what_it_explains() -> None:
    (book,) = [bk for bk in load(REGISTRY) if bk.scenario == "vpc-outage"]
    (hyp,) = [h for h in book.hypotheses if h.diagnosis == "egress-route-missing"]
    assert hyp.explains == ("image-pull-failure", "secrets-pull-failure")
    assert hyp.group_by == "route_table"


def test_missing_default_route_without_endpoints() -> None:
    w = p.world()
    p.drop_default_route(w, RT_A)
    w.drop_endpoints(*n.ENDPOINTS, "s3")
    diag = get(analyze(p.bundle(w)), "egress-route-missing")
    assert diag.resources == (WEB, RT_A) and diag.confidence == 0.95  # + both reachability
    assert_filled(diag)


@pytest.mark.parametrize("mutate", [
    lambda w: None,                                          # routes fine: pulls denied
    lambda w: p.drop_default_route(w, RT_A),                 # no route, endpoints serve all
])
def test_working_egress_rules_out_the_route(mutate: Any) -> None:
    w = p.world()
    mutate(w)
    w.tasks += p.pull_failures("web", p.PULL_DENIED)
    report = analyze(p.bundle(w), STUBBED)
    assert find(report, "egress-route-missing") is None
    assert get(report, "image-pull-failure").explained_by == ()


# -- lb-az-mismatch ----------------------------------------------------------------------------

def test_tasks_in_an_az_the_lb_does_not_serve() -> None:
    w = p.world()
    p.lb_in_one_az(w)
    w.target_health = [{"TargetGroupArn": n.TG_ARN, "TargetHealthDescriptions": [
        n.target("10.0.1.10"), n.target("10.0.2.10", "unused", "Target.NotInUse",
                                        "Target is in an Availability Zone that is not enabled "
                                        "for the load balancer")]}]
    report = analyze(p.bundle(w))
    diag = report.diagnoses[0]
    # one diagnosis per load balancer: its services, then the load balancer itself
    assert (diag.id, diag.resources[0], diag.confidence) == ("lb-az-mismatch", WEB, 0.8)
    assert ":loadbalancer/app/" in diag.resources[-1]
    assert roles(diag) == {"confirm": {"lb-az-coverage"}, "support": {"lb-target-health"}}
    assert "serves only us-east-1a" in diag.summary and "(1 running there now)" in diag.summary
    assert any(n.TG_ARN in (r.command or "") for r in diag.remediation)
    assert_filled(diag)


def test_subnets_outside_the_lb_azs_without_tasks_there_is_a_weaker_finding() -> None:
    w = p.world()
    p.lb_in_one_az(w)
    w.tasks = [n.eni_task("web", n.PRIVATE[0], n.AZS[0], "10.0.1.10")]
    diag = get(analyze(p.bundle(w)), "lb-az-mismatch")
    assert diag.confidence == 0.55
    assert any(line.startswith("weakened by:") and "affected_tasks=0" in line for line in diag.why)
    assert_filled(diag)


def test_lb_in_every_task_az_rules_out_the_mismatch() -> None:
    w = p.world()
    p.block_lb(w)
    report = analyze(p.bundle(w))
    assert find(report, "lb-az-mismatch") is None
    assert report.diagnoses[0].id == "security-group-blocks-lb"


# -- health-check-grace-too-short -----------------------------------------------------------

def test_tasks_killed_while_starting_with_a_short_grace() -> None:
    w = p.world()
    killed_while_starting(w)
    diag = get(analyze(p.bundle(w)), "health-check-grace-too-short")
    assert (diag.severity.value, diag.confidence) == ("high", 0.9)
    assert roles(diag)["confirm"] == {"stopped-task-elb-health"}
    assert {"service-health-check-grace-too-short",
            "service-running-below-desired"} <= roles(diag)["support"]
    assert "alternative ruled out: lb-to-task-security-group passed" in diag.why
    assert "3 task(s) of prod/web were stopped by ELB health checks after running only 95s" in (
        diag.summary)
    assert "grace period of 30s" in diag.summary
    assert_filled(diag)


def test_network_acl_blocking_the_lb_rules_out_the_grace_period() -> None:
    w = p.world()
    killed_while_starting(w)
    p.nacl_blocks_lb(w)
    assert find(analyze(p.bundle(w)), "health-check-grace-too-short") is None


def test_kills_after_a_long_healthy_run_are_not_the_grace_period() -> None:
    w = p.world()
    p.grace(w, 60)
    w.tasks += p.elb_kills("web", [7_200, 8_000, 9_000])
    assert find(analyze(p.bundle(w)), "health-check-grace-too-short") is None


def test_network_acls_not_collected_cap_the_grace_diagnosis() -> None:
    w = p.world()
    killed_while_starting(w)
    bundle = p.bundle(w)
    del bundle["resources"]["network_acls"]
    diag = get(analyze(bundle), "health-check-grace-too-short")
    # capped at 0.75 (could not rule out); supports cannot lift it above the cap
    assert diag.confidence == 0.75
    assert any(e.role == "missing" and e.check == "nacl-blocks-lb-traffic" for e in diag.evidence)
    assert any(line.startswith("could not rule out via nacl-blocks-lb-traffic")
               for line in diag.why)


def test_start_period_longer_than_grace_is_a_medium_risk() -> None:
    w = p.world()
    w.task_definitions = [n.web_task_definition(healthCheck={
        "command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
        "startPeriod": 120})]
    diag = get(analyze(p.bundle(w)), "health-check-grace-too-short")
    assert (diag.severity.value, diag.confidence) == ("medium", 0.5)
    assert diag.title == "Health check grace period shorter than the container's declared start-up"
    assert "grace period of 0s" in diag.summary and "startPeriod of 120s" in diag.summary
    assert any("--health-check-grace-period-seconds 120" in (r.command or "")
               for r in diag.remediation)
    assert_filled(diag)


def test_healthy_vpc_yields_nothing_from_this_playbook() -> None:
    report = analyze(p.bundle(p.world(api=True)))
    assert not [d for d in report.diagnoses if d.scenario == "vpc-outage"]
