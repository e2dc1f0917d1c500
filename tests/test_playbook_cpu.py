"""The high-cpu and cpu-credits playbooks on bundles the real checks run over.

For each hypothesis: a bundle that confirms it (the diagnosis is there for the right
service, with its confirming evidence, and every placeholder filled) and one where the
alternative holds and it is absent or ranked below the cause that explains it.
"""

from __future__ import annotations

from typing import Any

import pytest

from checker.model import Diagnosis, Report
from checker.pipeline import Engine
from tests import builders as b
from tests import builders_hosts as h
from tests import builders_metrics as m
from tests import builders_pb_cpu as pb
from tests.test_playbooks import assert_filled

ENGINE = Engine()
WEB = b.service_arn("prod", "web")
API = b.service_arn("prod", "api")
BINPACK = [{"type": "binpack", "field": "memory"}]


def _report(bundle: dict[str, Any]) -> Report:
    return ENGINE.analyze(bundle)


def _diags(bundle: dict[str, Any]) -> dict[tuple[str, str], Diagnosis]:
    return {(d.id, d.resources[0]): d for d in _report(bundle).diagnoses}


def _ids(bundle: dict[str, Any], service: str = WEB) -> set[str]:
    return {d.id for d in _report(bundle).diagnoses if service in d.resources}


def _roles(diag: Diagnosis) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in diag.evidence:
        out.setdefault(e.role, set()).add(e.check)
    return out


def _above(bundle: dict[str, Any], first: str, second: str, service: str = WEB) -> None:
    order = [d.id for d in _report(bundle).diagnoses if service in d.resources]
    assert first in order and second in order, order
    assert order.index(first) < order.index(second), order


# -- cpu-saturation: every task busy --------------------------------------------------------
def test_every_task_busy_is_cpu_saturation() -> None:
    diag = _diags(pb.bundle_of(pb.story()))[("cpu-saturation", WEB)]
    assert diag.scenario == "high-cpu" and diag.title.startswith("Tasks use all their CPU")
    assert _roles(diag)["confirm"] == {"service-cpu-saturated"}
    assert "target-response-time-high" in _roles(diag)["support"]
    assert diag.confidence == pytest.approx(0.85)
    assert diag.summary.startswith("Every task of prod/web is busy: CPUUtilization averaged "
                                   "over its 2 running task(s)")
    assert_filled(diag)


def test_cpu_saturation_ends_with_profiling_through_ecs_exec() -> None:
    diag = _diags(pb.bundle_of(pb.story()))[("cpu-saturation", WEB)]
    last = diag.remediation[-1]
    assert "top -H" in last.step and "ecs-exec-blocked" in last.step
    assert "--enable-execute-command --force-new-deployment" in last.step
    assert last.command is not None and last.command.startswith(
        "aws ecs execute-command --cluster prod --task $(aws ecs list-tasks --cluster prod "
        "--service-name web")
    assert last.command.endswith('--interactive --command "top -H"')


def test_calm_cpu_is_no_cpu_saturation_even_when_responses_are_slow() -> None:
    assert "cpu-saturation" not in _ids(pb.bundle_of(pb.story(avg=pb.CALM)))


# -- cpu-saturation: one hot task (placement or code hot spot) --------------------------------
def _hot_spot(avg: m.Values, mx: m.Values | None) -> dict[str, Any]:
    st = pb.ec2_story("web", {"i-01": 3}, avg=avg, mx=mx, placementStrategy=BINPACK)
    return pb.bundle_of(st, container_instances=[h.container_instance("i-01", running=3),
                                                 h.container_instance("i-02")])


def test_one_pinned_task_on_a_binpacked_host_is_a_hot_spot() -> None:
    diag = _diags(_hot_spot(pb.CALM, pb.PINNED))[("cpu-saturation", WEB)]
    assert diag.title == "One task pinned at its CPU limit: a placement or code hot spot"
    assert "service-placement-binpack-hotspot" in _roles(diag)["support"]
    assert any("[stat=Maximum]" in w for w in diag.why)
    assert "adding tasks will not fix it" in diag.summary
    steps = " ".join(r.command or "" for r in diag.remediation)
    assert "--placement-strategy type=spread,field=attribute:ecs.availability-zone" in steps
    assert diag.remediation[-1].command == (
        'aws ecs execute-command --cluster prod --task <hot-task-id> --interactive '
        '--command "top -H"')
    assert_filled(diag)


def test_every_task_hot_is_not_the_hot_spot_variant() -> None:
    diag = _diags(_hot_spot(pb.HOT, pb.PINNED))[("cpu-saturation", WEB)]
    assert diag.title.startswith("Tasks use all their CPU")
    assert any("[stat=Average]" in w for w in diag.why)


# -- cpu-credit-exhaustion: the host, not the task ----------------------------------------
def _on_burstable(mode: str, throttled: bool, **kw: Any) -> dict[str, Any]:
    st = pb.ec2_story("web", {"i-01": 2}, **kw)
    return pb.bundle_of(st, **pb.burstable_hosts({"i-01": mode},
                                                 {"i-01"} if throttled else set()))


def test_throttled_host_explains_the_saturated_tasks_on_it() -> None:
    bundle = _on_burstable("standard", True)
    diags = _diags(bundle)
    credit = diags[("cpu-credit-exhaustion", WEB)]
    assert credit.scenario == "high-cpu"  # slow responses: this scenario is the more confident
    assert _roles(credit)["confirm"] == {"cpu-credits-exhausted"}
    assert {"service-cpu-saturated", "target-response-time-high"} <= _roles(credit)["support"]
    assert credit.explains == ("cpu-saturation on prod/web",)
    assert diags[("cpu-saturation", WEB)].explained_by == ("cpu-credit-exhaustion",)
    assert "held at their baseline: i-01 (t3.medium)" in credit.summary
    assert_filled(credit)
    _above(bundle, "cpu-credit-exhaustion", "cpu-saturation")


def test_slow_service_on_a_throttled_host_without_cpu_saturation() -> None:
    """Service CPU is measured against the task's reservation and can look moderate while
    the host is starved: the slow responses still lead to the host."""
    ids = _ids(_on_burstable("standard", True, avg=pb.CALM))
    assert "cpu-credit-exhaustion" in ids and "cpu-saturation" not in ids


@pytest.mark.parametrize(("mode", "throttled"), [("unlimited", True), ("standard", False)])
def test_credits_ruled_out_when_the_host_is_not_held_at_baseline(mode: str,
                                                                 throttled: bool) -> None:
    ids = _ids(_on_burstable(mode, throttled))
    assert "cpu-credit-exhaustion" not in ids and "cpu-saturation" in ids


# -- scaling that cannot follow the load ----------------------------------------------------
def test_no_scaling_policy_is_autoscaling_missing_and_explains_the_saturation() -> None:
    bundle = pb.bundle_of(pb.story(scale="none"))
    diag = _diags(bundle)[("autoscaling-missing", WEB)]
    assert _roles(diag)["confirm"] == {"service-autoscaling-missing"}
    assert diag.explains == ("cpu-saturation on prod/web",)
    assert diag.summary.startswith("prod/web runs hot with no scalable target: its task "
                                   "count stays at 2")
    assert "--min-capacity 2 --max-capacity <max-tasks>" in " ".join(
        r.command or "" for r in diag.remediation)
    assert_filled(diag)
    _above(bundle, "autoscaling-missing", "cpu-saturation")


@pytest.mark.parametrize("scale", ["policy", "at-max", "slow"])
def test_a_scaling_policy_rules_out_autoscaling_missing(scale: str) -> None:
    assert "autoscaling-missing" not in _ids(pb.bundle_of(pb.story(scale=scale)))


def test_at_max_capacity_under_load_is_autoscaling_at_max() -> None:
    bundle = pb.bundle_of(pb.story(scale="at-max"))
    diag = _diags(bundle)[("autoscaling-at-max", WEB)]
    assert diag.title == "Scaling is at its maximum under load"
    assert _roles(diag)["confirm"] == {"service-autoscaling-at-max"}
    assert "(2 of 2 tasks) while under load" in diag.summary
    assert diag.explains == ("cpu-saturation on prod/web",)
    assert_filled(diag)
    _above(bundle, "autoscaling-at-max", "cpu-saturation")


def test_room_to_scale_rules_out_autoscaling_at_max() -> None:
    assert "autoscaling-at-max" not in _ids(pb.bundle_of(pb.story(scale="policy")))


def test_slow_scale_out_cooldown_under_load() -> None:
    diag = _diags(pb.bundle_of(pb.story(scale="slow")))[("autoscaling-at-max", WEB)]
    assert diag.title == "Scaling reacts too slowly under load"
    assert _roles(diag)["confirm"] == {"service-scaling-policy-unusual", "service-cpu-saturated"}
    assert "web-cpu-target reacts too late: scale-out cooldown 900s > 300s" in diag.summary
    assert '"ScaleOutCooldown":60' in (diag.remediation[0].command or "")
    assert_filled(diag)


def test_slow_policy_without_saturation_is_not_a_scaling_diagnosis() -> None:
    ids = _ids(pb.bundle_of(pb.story(scale="slow", avg=pb.CALM)))
    assert "autoscaling-at-max" not in ids


def test_at_max_wins_over_too_slow_when_both_hold() -> None:
    bundle = pb.bundle_of(pb.story(scale="slow", desired=10))  # MaxCapacity is 10
    diag = _diags(bundle)[("autoscaling-at-max", WEB)]
    assert diag.title == "Scaling is at its maximum under load"
    assert "service-scaling-policy-unusual" in _roles(diag)["support"]


def test_without_metrics_nothing_is_diagnosed_from_cpu() -> None:
    bundle = pb.bundle_of(pb.story(scale="none"))
    del bundle["metrics"]
    assert _ids(bundle) & {"cpu-saturation", "autoscaling-missing",
                           "cpu-credit-exhaustion"} == set()


# -- cpu-credits scenario: one throttled host, every service on it ----------------------------
def _shared_host(throttled: set[str]) -> dict[str, Any]:
    """web on i-01 and i-02, api on i-01; CPU moderate, no load balancer: nothing but the
    credits check says anything is wrong."""
    web = pb.ec2_story("web", {"i-01": 1, "i-02": 1}, avg=pb.CALM, latency=None)
    api = pb.ec2_story("api", {"i-01": 1}, avg=pb.CALM, latency=None)
    return pb.bundle_of(web, api, **pb.burstable_hosts(
        {"i-01": "standard", "i-02": "standard"}, throttled))


def test_credit_exhaustion_reaches_every_service_on_the_host() -> None:
    diags = _diags(_shared_host({"i-01"}))
    credit = {k[1]: d for k, d in diags.items() if k[0] == "cpu-credit-exhaustion"}
    assert set(credit) == {WEB, API}  # per service; never the bare host (the rule_out)
    for diag in credit.values():
        assert diag.scenario == "cpu-credits" and diag.confidence == pytest.approx(0.8)
        assert "held at their baseline: i-01 (t3.medium)" in diag.summary
        assert_filled(diag)
    assert credit[API].impact == 1.0 and credit[WEB].impact == 0.5  # 1 of web's 2 tasks


def test_healthy_credits_rule_out_credit_exhaustion() -> None:
    assert not [d for d in _report(_shared_host(set())).diagnoses
                if d.id == "cpu-credit-exhaustion"]


def test_credit_exhaustion_explains_saturation_in_the_credits_scenario() -> None:
    web = pb.ec2_story("web", {"i-01": 1}, latency=None)  # hot, but no latency series
    bundle = pb.bundle_of(web, **pb.burstable_hosts({"i-01": "standard"}, {"i-01"}))
    diag = _diags(bundle)[("cpu-credit-exhaustion", WEB)]
    assert diag.explains == ("cpu-saturation on prod/web",)
    _above(bundle, "cpu-credit-exhaustion", "cpu-saturation")
