"""Metric checks over realistic synthetic series: 8 h at 300 s and 3 h at 60 s, with
Gaussian noise from a fixed seed; for each check a bundle that fails and one that passes,
plus the edge cases (no series, empty series, one point, all equal, gaps)."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.lib import series as _series
from tests import builders as b
from tests import builders_metrics as m
from tests.checks.harness import run_check, statuses

WEB = b.service_arn("prod", "web")
API = b.service_arn("prod", "api")
I1, I2, I3 = "i-0abc000000000001", "i-0abc000000000002", "i-0abc000000000003"
NAT = "nat-0aaa1111"


def only(check_id: str, bundle: dict[str, Any]) -> Any:
    (finding,) = run_check(check_id, bundle)
    return finding


# -- series arithmetic -----------------------------------------------------------------------
@pytest.mark.parametrize("period", [60, 300])
def test_slope_is_per_hour_whatever_the_period(period: int) -> None:
    s = _series.parse(m.ecs("web", "MemoryUtilization", "Maximum",
                            m.ramp(3, period, 40, 6.0), period))
    line = _series.fit(s)
    assert line is not None and math.isclose(line.slope_per_h, 6.0) and line.r2 > 0.999


def test_gaps_do_not_stretch_a_run() -> None:
    values = m.gaps(m.flat(1, 60, 95), (10, 15))  # 10 min, a 5-minute hole, 45 min
    s = _series.parse(m.ecs("web", "CPUUtilization", "Average", values, 60))
    runs = _series.runs(s, lambda v: v >= 90)
    assert [r.seconds for r in runs] == [600, 2700]


def test_parse_survives_odd_input() -> None:
    raw = {"timestamps": ["2026-11-20T09:02:00+00:00", "nope", "2026-11-20T09:00:00Z",
                          "2026-11-20T09:01:00+00:00", None],
           "values": [3, 1, "1.5", None, float("nan")]}
    s = _series.parse(raw)
    assert s.values == (1.5, 3.0) and s.period == 120  # inferred from the spacing
    assert len(_series.parse({})) == 0 and _series.fit(_series.parse({})) is None


def test_split_at_resets() -> None:
    s = _series.parse(m.ecs("web", "MemoryUtilization", "Maximum",
                            m.sawtooth(8, 300, 40, 20, 100)))
    segments, resets = _series.split_at_resets(s, 30)
    assert len(segments) == 3 and len(resets) == 2
    assert all(_series.fit(seg).slope_per_h > 19 for seg in segments)  # type: ignore[union-attr]


@given(st.floats(-50, 50), st.floats(0, 100), st.sampled_from([60, 300]),
       st.integers(3, 60))
def test_fit_recovers_any_line(slope: float, start: float, period: int, n: int) -> None:
    raw = m.series("A", "B", {}, "Average", [0.0] * n, period)
    raw["values"] = [start + slope * i * period / 3600 for i in range(n)]  # unrounded
    line = _series.fit(_series.parse(raw))
    assert line is not None and math.isclose(line.slope_per_h, slope, abs_tol=1e-6)


# -- CPU saturation --------------------------------------------------------------------------
def _cpu(avg: m.Values, mx: m.Values | None = None, period: int = 300,
         **svc: Any) -> dict[str, Any]:
    series = [m.ecs("web", "CPUUtilization", "Average", avg, period)]
    if mx is not None:
        series.append(m.ecs("web", "CPUUtilization", "Maximum", mx, period))
    return m.service_bundle(series, b.service("web", **svc))


HOT_AFTER_3H = m.noisy(m.steps(8, 300, [(0, 55), (3, 95)]), 2.0)
CALM = m.noisy(m.flat(8, 300, 55), 5.0)


@pytest.mark.parametrize(("bundle", "expected"), [
    (_cpu(HOT_AFTER_3H), "fail"),                                    # 5 of 8 h at ~95%
    (_cpu(CALM), "pass"),
    (_cpu(m.steps(8, 300, [(0, 50), (7.5, 97)])), "fail"),            # one 30-minute run
    (_cpu(m.steps(8, 300, [(0, 50), (7.84, 97)])), "pass"),           # 10 minutes only
    # the same 4 hot points: 20 min at 300 s (sustained), 4 min at 60 s (a blip)
    (_cpu(m.steps(8, 300, [(0, 50), (8 - 4 * 300 / 3600, 97)])), "fail"),
    (_cpu(m.steps(3, 60, [(0, 50), (3 - 4 * 60 / 3600, 97)]), period=60), "pass"),
    # 3 h at 60 s: two 10-minute runs split by a 5-minute gap are not 20 minutes
    (_cpu(m.gaps(m.steps(3, 60, [(0, 50), (2.0, 97), (2 + 25 / 60, 50)]), (130, 135)),
          period=60), "pass"),
    (_cpu(m.steps(3, 60, [(0, 50), (2.0, 97), (2 + 25 / 60, 50)]), period=60), "fail"),
    (_cpu(m.flat(8, 300, 90.0)), "fail"),                             # all equal, at threshold
    (_cpu(m.flat(8, 300, 89.9)), "pass"),
    (_cpu(m.flat(8, 300, 95)[-1:]), "unknown"),                        # one point = 5 min
    (_cpu([], desired=2, running=0), "unknown"),                       # nothing runs
    (_cpu([], desired=0, running=0), "skipped"),
    (m.service_bundle([], b.service("web")), "unknown"),               # not collected
])
def test_service_cpu_saturated(bundle: dict[str, Any], expected: str) -> None:
    assert statuses("service-cpu-saturated", bundle)[WEB] == expected


def test_cpu_saturation_message_and_target_group_context() -> None:
    svc = m.lb_service("web")
    series = [m.ecs("web", "CPUUtilization", "Average", HOT_AFTER_3H),
              m.alb("web", "TargetResponseTime", "Average", m.noisy(m.flat(8, 60, 1.8), 0.2)),
              m.alb("web", "RequestCount", "Sum", m.flat(8, 60, 500)),
              m.alb("web", "HTTPCode_Target_5XX_Count", "Sum", m.flat(8, 60, 40))]
    f = only("service-cpu-saturated",
             m.service_bundle(series, svc, target_groups=[m.target_group("web")]))
    assert f.status.value == "fail" and f.service == WEB
    assert re.search(r"CPUUtilization \(Average of its tasks\) ≥ 90% for 4h\d\dm \(6\d% of the "
                     r"time with data\), longest \dh\d\dm from \d\d:\d\d, peak 9\d%", f.message)
    assert "targetgroup/web/6d0ecf831eec9f09: response time avg 1.8" in f.message
    assert "5xx 8.0% of 240,000 requests" in f.message
    assert f.data["affected_tasks"] == 2 and f.data["target_groups"][0]["error_rate"] == 0.08


def test_one_hot_task_is_uneven_load_at_medium_severity() -> None:
    f = only("service-cpu-saturated", _cpu(CALM, m.noisy(m.flat(8, 300, 97), 1.0)))
    assert f.status.value == "fail" and f.severity.value == "medium"
    assert "at least one task's CPUUtilization (Maximum)" in f.message
    assert f.data["stat"] == "Maximum" and f.data["affected_tasks"] == 1


def test_maximum_alone_cannot_say_uneven() -> None:
    bundle = m.service_bundle([m.ecs("web", "CPUUtilization", "Maximum", m.flat(8, 300, 97))],
                              b.service("web"))
    f = only("service-cpu-saturated", bundle)
    assert f.status.value == "fail" and f.severity.value == "high"
    assert "(no Average series: one task or all of them)" in f.message


@pytest.mark.parametrize(("running", "text"), [
    (0, "a service with no RUNNING task publishes nothing"),
    (2, "the service published nothing"),
])
def test_no_datapoints_says_why(running: int, text: str) -> None:
    f = only("service-cpu-saturated", _cpu([], desired=2, running=running))
    assert f.status.value == "unknown" and text in f.message


def test_absent_series_says_what_is_needed() -> None:
    f = only("memory-trend-rising", m.service_bundle([], b.service("web")))
    assert f.status.value == "unknown"
    assert "needs AWS/ECS MemoryUtilization (Maximum or Average)" in f.message


# -- memory trend ----------------------------------------------------------------------------
def _mem(values: m.Values, period: int = 300, stat: str = "Maximum",
         svc: dict[str, Any] | None = None) -> dict[str, Any]:
    return m.service_bundle([m.ecs("web", "MemoryUtilization", stat, values, period)],
                            svc or b.service("web"))


SAWTOOTH = m.noisy(m.sawtooth(8, 300, 35, 18, 98), 1.5)          # OOM kill every 3.5 h
CLIMB_3H = m.noisy(m.ramp(3, 60, 45, 10), 1.0)


@pytest.mark.parametrize(("bundle", "expected"), [
    (_mem(SAWTOOTH), "fail"),
    (_mem(CLIMB_3H, 60), "fail"),
    (_mem(m.noisy(m.flat(8, 300, 62), 3.0)), "pass"),
    (_mem(m.noisy(m.ramp(8, 300, 80, -2), 1.0)), "pass"),            # falling
    (_mem(m.flat(8, 300, 70)), "pass"),                               # all equal
    (_mem(m.noisy(m.flat(8, 300, 70), 1.0), stat="Average"), "pass"),
    (_mem(m.noisy(m.ramp(8, 300, 50, 5), 1.0), stat="Average"), "fail"),
    # restarts every 20 min: no lifetime long enough to fit
    (_mem(m.sawtooth(3, 60, 10, 150, 60), 60), "unknown"),
    (_mem(m.flat(8, 300, 70)[-1:]), "unknown"),                        # one point
    (_mem([]), "unknown"),
    # a heap that warms up for 4.4 h and levels off is not a leak (r² 0.84 over the window,
    # but the second half is flat)
    (_mem(m.noisy(m.ramp(8, 300, 30, 8, cap=65), 1.0)), "pass"),
    # the demo account's checkout: 4 tasks leaking in step, the Maximum pinned at 100%
    (_mem(m.ramp(8, 300, 40, 7.6, cap=100)), "fail"),
    # a load spike that comes and goes is not a leak
    (_mem(m.noisy(m.steps(8, 300, [(0, 50), (3, 75), (5, 50)]), 1.0)), "pass"),
    # gaps in a climb: the slope is still per hour of wall clock
    (_mem(m.gaps(m.noisy(m.ramp(8, 300, 30, 8), 1.0), (20, 40), (60, 70))), "fail"),
])
def test_memory_trend_rising(bundle: dict[str, Any], expected: str) -> None:
    assert statuses("memory-trend-rising", bundle)[WEB] == expected


def test_sawtooth_message_names_resets_and_forecast() -> None:
    f = only("memory-trend-rising", _mem(SAWTOOTH))
    assert "MemoryUtilization (Maximum) climbs +18." in f.message
    assert "in 3 of 3 task lifetimes; resets at 05:30, 09:00 (OOM kill or restart)" in f.message
    assert f.data["rising_segments"] == 3 and len(f.data["resets"]) == 2
    assert 0.5 < f.data["hours_to_full"] < 3.5 and "reaches 100% in ~" in f.message


def test_steady_climb_forecast() -> None:
    f = only("memory-trend-rising", _mem(CLIMB_3H, 60))
    assert "over 3h00m without a reset" in f.message
    assert math.isclose(f.data["slope_per_hour"], 10, abs_tol=0.5)
    assert math.isclose(f.data["hours_to_full"], 2.5, abs_tol=0.3)  # 75% now, +10 %/h


def test_at_the_limit_now() -> None:
    f = only("memory-trend-rising", _mem(m.ramp(8, 300, 40, 7.6, cap=100)))
    assert "at 100% now: at the limit, the next OOM kill is due" in f.message


def _after_deploy(climb_per_h: float, flat_before: bool = True) -> dict[str, Any]:
    before = m.flat(8, 300, 50) if flat_before else m.ramp(8, 300, 20, 6)
    values = [v if h < 4 else 38 + climb_per_h * (h - 4)
              for h, v in zip(m.grid(8, 300), before, strict=True)]
    svc = b.service("web", revision=42, deployments=[
        m.deployment("web", 42, b.ago(hours=4)),
        m.deployment("web", 41, b.ago(days=3), status="ACTIVE")])
    return _mem(m.noisy(values, 1.0), svc=svc)


def test_leak_names_the_revision_it_started_with() -> None:
    f = only("memory-trend-rising", _after_deploy(10))
    assert f.status.value == "fail"
    assert "climb starts after deployment of web:42 at 06:00 (flat before)" in f.message
    assert f.data["onset_revision"] == "web:42" and f.data["slope_per_hour"] > 9


def test_no_revision_named_when_it_climbed_before_too() -> None:
    f = only("memory-trend-rising", _after_deploy(10, flat_before=False))
    assert f.status.value == "fail" and "onset_revision" not in f.data


def test_flat_after_deploy_passes() -> None:
    assert statuses("memory-trend-rising", _after_deploy(0))[WEB] == "pass"


# -- CPU credits -----------------------------------------------------------------------------
def _credit_bundle(series: list[dict[str, Any]], *, modes: dict[str, str] | None = None,
                   types: dict[str, str | None] | None = None,
                   ec2: bool = False) -> dict[str, Any]:
    types = types or {I1: "t3.medium"}
    resources: dict[str, Any] = {
        "container_instances": [m.container_instance(i, None if ec2 else t)
                                for i, t in types.items()],
        "tasks": [m.ec2_task("web", i) for i in types] + [m.ec2_task("api", I2)]}
    if modes is not None:
        resources["credit_specifications"] = [m.credit_spec(i, v) for i, v in modes.items()]
    if ec2:
        resources["ec2_instances"] = [m.ec2_instance(i, str(t)) for i, t in types.items()]
    return m.service_bundle(series, b.service("web", launchType="EC2"),
                            b.service("api", launchType="EC2"), **resources)


DRAINING = [max(0.0, 300 - 80 * h) for h in m.grid(8, 300)]  # ~0 from 3h45m on
AT_BASELINE = m.noisy([55 if h < 3.75 else 20 for h in m.grid(8, 300)], 1.0)


def _credits(instance: str, balance: m.Values, cpu: m.Values | None) -> list[dict[str, Any]]:
    out = [m.ec2(instance, "CPUCreditBalance", "Minimum", balance)]
    if cpu is not None:
        out.append(m.ec2(instance, "CPUUtilization", "Average", cpu))
    return out


@pytest.mark.parametrize(("bundle", "expected"), [
    (_credit_bundle(_credits(I1, DRAINING, AT_BASELINE), modes={I1: "standard"}), "fail"),
    (_credit_bundle(_credits(I1, m.flat(8, 300, 400), m.noisy(m.flat(8, 300, 35), 3)),
                    modes={I1: "standard"}), "pass"),
    # t2 launches in standard mode: no credit specification needed
    (_credit_bundle(_credits(I1, [max(0.0, 100 - 40 * h) for h in m.grid(8, 300)],
                             m.noisy(m.flat(8, 300, 20), 0.5)),
                    types={I1: "t2.medium"}), "fail"),
    # t3 launches unlimited: never held at baseline
    (_credit_bundle(_credits(I1, DRAINING, AT_BASELINE)), "pass"),
    (_credit_bundle(_credits(I1, DRAINING, AT_BASELINE), modes={I1: "unlimited"}), "pass"),
    # ~0 credits on an idle new T3 standard host (no launch credits): accruing, not held
    (_credit_bundle(_credits(I1, m.flat(8, 300, 0.5), m.noisy(m.flat(8, 300, 2), 0.5)),
                    modes={I1: "standard"}), "pass"),
    # at 0 without a CPU series: standard mode at 0 is held at baseline by definition
    (_credit_bundle(_credits(I1, DRAINING, None), modes={I1: "standard"}), "fail"),
    (_credit_bundle([], modes={I1: "standard"}), "unknown"),
    (_credit_bundle(_credits(I1, [], None), modes={I1: "standard"}), "unknown"),
    (_credit_bundle([], types={I1: "m5.large"}), "skipped"),
    (_credit_bundle([], types={I1: None}), "unknown"),                 # type unknown
    # instance type from ec2_instances rather than the agent attribute
    (_credit_bundle(_credits(I1, DRAINING, AT_BASELINE), modes={I1: "standard"}, ec2=True),
     "fail"),
])
def test_cpu_credits_exhausted_per_instance(bundle: dict[str, Any], expected: str) -> None:
    assert statuses("cpu-credits-exhausted", bundle)[I1] == expected


def test_cpu_credits_one_result_per_host_and_per_service() -> None:
    series = (_credits(I1, DRAINING, AT_BASELINE)
              + _credits(I2, m.flat(8, 300, 500), m.noisy(m.flat(8, 300, 25), 2)))
    bundle = _credit_bundle(series, modes={I1: "standard", I2: "standard"},
                            types={I1: "t3.medium", I2: "t3.large"})
    found = {(f.resource, f.service): f for f in run_check("cpu-credits-exhausted", bundle)}
    assert found[(I1, None)].status.value == "fail"
    assert "CPUCreditBalance ~0 (≤ 5.8) for 4h15m from 05:45" in found[(I1, None)].message
    assert "flattens at 20% = the t3.medium baseline 20%: throttled" in found[
        (I1, None)].message
    assert found[(I2, None)].status.value == "pass"
    web, api = found[(WEB, WEB)], found[(API, API)]
    assert web.status.value == "fail" and web.data["affected_tasks"] == 1
    assert "1 of its 2 running tasks" in web.message and I1 in web.message
    assert api.status.value == "pass"


@pytest.mark.parametrize(("series", "mode", "expected"), [
    ([m.ec2(I1, "CPUSurplusCreditBalance", "Maximum", m.ramp(8, 300, 0, 15))], None, "fail"),
    ([m.ec2(I1, "CPUSurplusCreditBalance", "Maximum", m.flat(8, 300, 0))], None, "pass"),
    ([m.ec2(I1, "CPUSurplusCreditBalance", "Maximum", m.ramp(8, 300, 90, -10, 0))], None,
     "pass"),                                                            # paid back
    ([], None, "unknown"),
    ([], "standard", "skipped"),
])
def test_cpu_surplus_credits_charged(series: list[dict[str, Any]], mode: str | None,
                                     expected: str) -> None:
    bundle = _credit_bundle(series, modes={I1: mode} if mode else None)
    assert statuses("cpu-surplus-credits-charged", bundle)[I1] == expected


def test_surplus_message() -> None:
    bundle = _credit_bundle([m.ec2(I1, "CPUSurplusCreditBalance", "Maximum",
                                   m.ramp(8, 300, 0, 15))])
    f = next(f for f in run_check("cpu-surplus-credits-charged", bundle) if f.resource == I1)
    assert f.severity.value == "low"
    assert "unlimited mode, assumed default): CPUSurplusCreditBalance grew from 0 to 119" in (
        f.message)


# -- NAT gateways ----------------------------------------------------------------------------
def _nat(series: list[dict[str, Any]], *, addresses: int = 1, explicit: bool = True,
         services: bool = True, state: str = "available") -> dict[str, Any]:
    tables = ([m.route_table("rtb-priv", nat=NAT, subnets=["subnet-0a1"])] if explicit
              else [m.route_table("rtb-main", nat=NAT, main=True)])
    tables.append(m.route_table("rtb-pub", subnets=["subnet-0pub"]))
    svcs = ([m.awsvpc_service("web", ["subnet-0a1"]), m.awsvpc_service("api", ["subnet-0pub"])]
            if services else [])
    return m.metrics_bundle(series, clusters=[b.cluster()], services=svcs,
                            nat_gateways=[m.nat_gateway(NAT, addresses, state)],
                            route_tables=tables,
                            subnets=[m.subnet("subnet-0a1"), m.subnet("subnet-0pub")])


def _nat_ports(errors: float, active: float) -> list[dict[str, Any]]:
    return [m.natgw(NAT, "ErrorPortAllocation", "Sum",
                    m.steps(3, 60, [(0, 0), (2.5, errors)])),
            m.natgw(NAT, "ActiveConnectionCount", "Maximum",
                    m.noisy(m.flat(3, 60, active), active / 100))]


@pytest.mark.parametrize(("bundle", "expected"), [
    (_nat(_nat_ports(12, 20_000)), "fail"),                             # ports refused
    (_nat(_nat_ports(0, 47_000)), "fail"),                              # > 80% of 55,000
    (_nat(_nat_ports(0, 47_000), addresses=2), "pass"),                 # of 110,000
    (_nat(_nat_ports(0, 20_000)), "pass"),
    (_nat(_nat_ports(12, 20_000), explicit=False), "fail"),             # main table route
    (_nat(_nat_ports(0, 20_000)[:1]), "pass"),                          # one metric is enough
])
def test_nat_gateway_port_exhaustion(bundle: dict[str, Any], expected: str) -> None:
    got = statuses("nat-gateway-port-exhaustion", bundle)
    assert got[WEB] == expected and API not in got  # api's subnet routes to an IGW


@pytest.mark.parametrize(("bundle", "expected"), [
    (_nat([]), "unknown"),
    (_nat(_nat_ports(0, 20_000), state="deleted"), "skipped"),
])
def test_nat_without_data_or_traffic(bundle: dict[str, Any], expected: str) -> None:
    assert {f.status.value for f in run_check("nat-gateway-port-exhaustion", bundle)} == {
        expected}


def test_nat_result_names_service_subnets_and_limit() -> None:
    f = only("nat-gateway-port-exhaustion", _nat(_nat_ports(12, 47_000)))
    assert f.service == WEB and f.resource == NAT and f.data["nat_gateway_id"] == NAT
    assert "service prod/web routes 0.0.0.0/0 through nat-0aaa1111 (subnets subnet-0a1)" in (
        f.message)
    assert "ErrorPortAllocation 360 (first at 09:30)" in f.message
    assert "of 55,000 (55,000 per destination × 1 address)" in f.message


def test_bridge_mode_service_is_found_through_its_hosts_subnet() -> None:
    bundle = _nat(_nat_ports(12, 1000), services=False)
    bundle["resources"].update(
        services=[b.service("web", launchType="EC2")],
        tasks=[m.ec2_task("web", I1)], container_instances=[m.container_instance(I1)],
        ec2_instances=[m.ec2_instance(I1, subnet="subnet-0a1")])
    f = only("nat-gateway-port-exhaustion", bundle)
    assert f.status.value == "fail" and f.service == WEB and f.data["subnets"] == ["subnet-0a1"]


def test_blackholed_route_is_not_a_path_through_the_nat() -> None:
    bundle = _nat(_nat_ports(12, 1000))
    bundle["resources"]["route_tables"] = [
        m.route_table("rtb-priv", nat=NAT, subnets=["subnet-0a1"], blackhole=True)]
    f = only("nat-gateway-port-exhaustion", bundle)
    assert f.service is None and f.status.value == "fail"


def test_nat_without_services_is_judged_on_its_own() -> None:
    f = only("nat-gateway-port-exhaustion", _nat(_nat_ports(12, 1000), services=False))
    assert f.status.value == "fail" and f.service is None and f.resource == NAT


def _drops(dropped: float, packets: float | None, attempts: float,
           established: float) -> list[dict[str, Any]]:
    out = [m.natgw(NAT, "PacketsDropCount", "Sum", m.flat(3, 60, dropped)),
           m.natgw(NAT, "ConnectionAttemptCount", "Sum", m.flat(3, 60, attempts)),
           m.natgw(NAT, "ConnectionEstablishedCount", "Sum", m.flat(3, 60, established))]
    if packets is not None:
        out.append(m.natgw(NAT, "PacketsOutToDestination", "Sum", m.flat(3, 60, packets)))
    return out


@pytest.mark.parametrize(("series", "expected"), [
    (_drops(5, 10_000, 100, 100), "fail"),             # 0.05% > 0.01%
    (_drops(1, 1_000_000, 100, 100), "pass"),          # 0.0001%
    (_drops(3, None, 100, 100), "fail"),               # drops, no total to compare
    (_drops(0, 10_000, 100, 80), "fail"),              # 80% established
    (_drops(0, 10_000, 100, 95), "pass"),
    (_drops(0, 10_000, 0.2, 0.1), "pass"),             # 36 attempts: too few for a ratio
    ([], "unknown"),
])
def test_nat_gateway_dropping_connections(series: list[dict[str, Any]], expected: str) -> None:
    assert statuses("nat-gateway-dropping-connections", _nat(series))[WEB] == expected


# -- load balancer ---------------------------------------------------------------------------
def _lb(series: list[dict[str, Any]], with_tg: bool = True, protocol: str = "HTTP",
        ) -> dict[str, Any]:
    extra = {"target_groups": [m.target_group("web", protocol=protocol)]} if with_tg else {}
    return m.service_bundle(series, m.lb_service("web"), **extra)


def _rt(values: m.Values, period: int = 60, lb: str | None = "web") -> list[dict[str, Any]]:
    return [m.alb("web", "TargetResponseTime", "Average", values, period, lb)]


FAST = m.noisy(m.flat(3, 60, 0.12), 0.01)
SPIKE = [0.6 if 100 <= i < 125 else v for i, v in enumerate(FAST)]  # 25 min at 5× median


@pytest.mark.parametrize(("bundle", "expected"), [
    (_lb(_rt(m.noisy(m.flat(3, 60, 1.6), 0.2))), "fail"),
    (_lb(_rt(FAST)), "pass"),
    (_lb(_rt(SPIKE)), "fail"),                                          # 3× its median
    (_lb(_rt([0.6 if 100 <= i < 110 else v for i, v in enumerate(FAST)])), "pass"),  # 10 min
    (_lb(_rt(m.noisy(m.flat(8, 60, 0.01), 0.001)[:200] + [0.05] * 30)), "pass"),  # < floor
    # traffic only every other quarter hour: slow whenever there is traffic
    (_lb(_rt(m.gaps(m.flat(3, 60, 1.5), (15, 30), (45, 60), (75, 90), (105, 120)))), "fail"),
    (_lb(_rt(FAST, lb=None), with_tg=False), "pass"),                   # TG dim only
    (_lb(_rt(FAST), with_tg=False), "pass"),                            # no target_groups
    (_lb(_rt([])), "skipped"),                                          # no traffic
    (_lb([]), "unknown"),                                               # not collected
])
def test_target_response_time_high(bundle: dict[str, Any], expected: str) -> None:
    assert statuses("target-response-time-high", bundle)[WEB] == expected


def test_network_load_balancer_target_groups_are_not_read() -> None:
    f = only("target-response-time-high", _lb([], protocol="TCP"))
    assert f.status.value == "skipped" and "Network Load Balancer" in f.message


def _5xx(requests: m.Values, errors: m.Values | None) -> list[dict[str, Any]]:
    out = [m.alb("web", "RequestCount", "Sum", requests)]
    if errors is not None:
        out.append(m.alb("web", "HTTPCode_Target_5XX_Count", "Sum", errors))
    return out


@pytest.mark.parametrize(("series", "expected"), [
    (_5xx(m.flat(3, 60, 400), m.noisy(m.flat(3, 60, 30), 5)), "fail"),       # 7.5%
    (_5xx(m.flat(3, 60, 400), m.noisy(m.flat(3, 60, 4), 1)), "pass"),        # 1%
    # 5xx datapoints only in the minutes that had errors: 30 min at 40% of requests
    (_5xx(m.flat(3, 60, 400), m.gaps(m.flat(3, 60, 160), (0, 150))), "fail"),
    (_5xx(m.flat(3, 60, 400), m.gaps(m.flat(3, 60, 160), (0, 178))), "pass"),  # 2 minutes
    (_5xx(m.flat(3, 60, 400), []), "pass"),                                   # no 5xx at all
    (_5xx(m.flat(3, 60, 0.05), m.flat(3, 60, 0.02)), "skipped"),              # 9 requests
    (_5xx(m.flat(3, 60, 400), None), "unknown"),
    (_5xx([], []), "skipped"),                                                # no traffic
])
def test_target_5xx_rate_high(series: list[dict[str, Any]], expected: str) -> None:
    assert statuses("target-5xx-rate-high", _lb(series))[WEB] == expected


def _unhealthy(values: m.Values) -> list[dict[str, Any]]:
    return [m.alb("web", "UnHealthyHostCount", "Maximum", values)]


FLAPPING = m.steps(3, 60, [(0, 0), (0.5, 1), (0.7, 0), (1.0, 2), (1.2, 0), (2.0, 1),
                           (2.1, 0)])


@pytest.mark.parametrize(("values", "expected"), [
    (FLAPPING, "fail"),
    (m.flat(3, 60, 0), "pass"),
    (m.flat(3, 60, 2), "pass"),                                # constantly unhealthy
    (m.steps(3, 60, [(0, 0), (1, 1), (1.5, 0)]), "pass"),      # once
    # each rise follows a gap: a missing datapoint is no evidence of a change
    (m.gaps(FLAPPING, (29, 30), (59, 60), (119, 120)), "pass"),
    ([0.0], "pass"),
])
def test_target_health_flapping(values: m.Values, expected: str) -> None:
    assert statuses("target-health-flapping", _lb(_unhealthy(values)))[WEB] == expected


def test_flapping_message_lists_the_times() -> None:
    f = only("target-health-flapping", _lb(_unhealthy(FLAPPING)))
    assert "rose from 0 3 times" in f.message and "(at 07:30, 08:00, 09:00)" in f.message
    assert f.service == WEB and f.resource == m.tg_arn("web")


def test_every_metric_check_is_unknown_without_metrics() -> None:
    bundle = m.service_bundle(None, b.service("web"), container_instances=[],
                              nat_gateways=[])
    for check_id in ("service-cpu-saturated", "memory-trend-rising", "cpu-credits-exhausted",
                     "cpu-surplus-credits-charged", "nat-gateway-port-exhaustion",
                     "nat-gateway-dropping-connections", "target-response-time-high",
                     "target-5xx-rate-high", "target-health-flapping"):
        f = only(check_id, bundle)
        assert f.status.value == "unknown" and "needs metrics" in f.message, check_id
