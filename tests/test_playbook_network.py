"""playbooks/network-latency.yaml on incident bundles: the real checks run on a VPC
(tests/builders_pb_network.py) with one thing broken, and each hypothesis must be
confirmed by its evidence and absent when the alternative explanation holds."""

from __future__ import annotations

from typing import Any

import pytest

from tests import builders_network as n
from tests import builders_pb_network as p
from tests.builders_pb_network import (
    API,
    NAT_A,
    NAT_B,
    WEB,
    analyze,
    assert_filled,
    find,
    get,
    roles,
)


def saturated_nat() -> dict[str, Any]:
    """A traffic spike saturates NAT A; web and api both route through it (subnet A)."""
    return p.bundle(p.world(api=True), [*p.nat_saturated(NAT_A), *p.nat_quiet(NAT_B)])


# -- nat-connection-exhaustion ------------------------------------------------------------

def test_nat_saturation_is_one_diagnosis_across_the_services_behind_it() -> None:
    report = analyze(saturated_nat())
    diag = get(report, "nat-connection-exhaustion")
    assert report.diagnoses[0] is diag
    assert diag.resources == (API, WEB, NAT_A)
    assert diag.severity.value == "critical" and diag.confidence == 0.85  # + drops
    assert roles(diag)["confirm"] == {"nat-gateway-port-exhaustion"}
    assert "nat-gateway-dropping-connections" in roles(diag)["support"]
    assert "one cause behind 2 services: prod/api, prod/web" in diag.why
    assert diag.summary.startswith(f"NAT gateway {NAT_A} is out of connections")
    assert "prod/api, prod/web (2 service(s) behind it)" in diag.summary
    assert any(f"--nat-gateway-id {NAT_A}" in (r.command or "") for r in diag.remediation)
    assert_filled(diag)
    assert sum(d.id == "nat-connection-exhaustion" for d in report.diagnoses) == 1


def test_quiet_nat_rules_out_exhaustion_when_the_security_group_drops_https() -> None:
    w = p.world(api=True)
    p.block_https_egress(w)
    w.tasks += p.pull_failures("web")
    report = analyze(p.bundle(w, [*p.nat_quiet(NAT_A), *p.nat_quiet(NAT_B)]))
    assert not any(d.id == "nat-connection-exhaustion" for d in report.diagnoses)
    assert report.diagnoses[0].id == "security-group-blocks-egress"
    assert report.diagnoses[0].resources == (WEB,)


def test_nat_drops_without_port_errors_is_a_weaker_nat_diagnosis() -> None:
    w = p.world()
    metrics = [*p.nat_ports(NAT_A, 0, 6_000), *p.nat_drops(NAT_A, 40, 3_000, 2_000),
               *p.nat_quiet(NAT_B)]
    diag = get(analyze(p.bundle(w, metrics)), "nat-connection-exhaustion")
    assert diag.title == "NAT gateway drops packets or leaves connections unanswered"
    assert (diag.severity.value, diag.confidence) == ("high", 0.45)
    assert roles(diag)["confirm"] == {"nat-gateway-dropping-connections"}
    assert "360000.0 of 540000.0 connections established" in diag.summary  # 3 h of 1-min sums
    assert_filled(diag)


def test_port_errors_take_over_from_the_drops_only_reading() -> None:
    diag = get(analyze(saturated_nat()), "nat-connection-exhaustion")
    assert diag.title == "NAT gateway connection or port exhaustion"
    assert "ErrorPortAllocation 55200.0" in diag.summary


def test_nat_without_route_tables_is_diagnosed_on_its_own() -> None:
    """Route tables not collected: no service can be linked to the NAT, the NAT itself is
    the subject."""
    bundle = saturated_nat()
    del bundle["resources"]["route_tables"]
    diag = get(analyze(bundle), "nat-connection-exhaustion", NAT_A)
    assert diag.resources == (NAT_A,) and diag.impact == 0.5
    assert_filled(diag)


# -- security-group-blocks-egress -----------------------------------------------------------

def test_https_egress_block_confirmed_and_supported_by_pull_timeouts() -> None:
    w = p.world()
    p.block_https_egress(w)
    w.tasks += p.pull_failures("web")
    diag = get(analyze(p.bundle(w)), "security-group-blocks-egress")
    assert diag.severity.value == "high" and diag.confidence >= 0.85  # + explains (shipped)
    assert roles(diag)["confirm"] == {"task-sg-egress-https"}
    assert roles(diag)["support"] == {"stopped-task-image-pull"}
    assert f"tasks of prod/web (security groups {n.TASK_SG}" in diag.summary
    assert "the s3 prefix list" in diag.summary
    assert_filled(diag)


def test_route_missing_rules_out_the_egress_rules() -> None:
    """Rules allow everything out; the subnet has no way out: the route is the cause."""
    w = p.world()
    p.drop_default_route(w, p.RT_A)
    w.drop_endpoints(*n.ENDPOINTS, "s3")
    w.tasks += p.pull_failures("web")
    report = analyze(p.bundle(w))
    assert find(report, "security-group-blocks-egress") is None
    assert report.diagnoses[0].id == "egress-route-missing"


def test_egress_block_explains_the_pull_failures() -> None:
    w = p.world()
    p.block_https_egress(w)
    w.tasks += p.pull_failures("web")
    report = analyze(p.bundle(w), p.engine_with_pull_stubs())
    cause, effect = report.diagnoses[0], get(report, "image-pull-failure")
    assert cause.id == "security-group-blocks-egress"
    assert cause.explains == ("image-pull-failure on prod/web",)
    assert effect.explained_by == ("security-group-blocks-egress",)
    assert cause.score > effect.score


@pytest.mark.parametrize(("egress", "expected"), [
    (p.https_only_egress, "low"),              # 443 out, no 53: only matters with custom DNS
    (lambda w: None, None),                    # the default all-traffic egress
    (lambda w: w.sg(n.TASK_SG).update(IpPermissionsEgress=[
        n.rule("tcp", 443, cidrs=("0.0.0.0/0",)), *p.dns_to_resolver()]), None),
])
def test_dns_only_egress_gap_is_a_low_diagnosis(egress: Any, expected: str | None) -> None:
    w = p.world()
    egress(w)
    diag = find(analyze(p.bundle(w)), "security-group-blocks-egress")
    if expected is None:
        assert diag is None
        return
    assert diag is not None and diag.severity.value == expected and diag.confidence == 0.35
    assert "allow no DNS (udp, tcp/53)" in diag.summary
    assert_filled(diag)


# -- vpc-dns-disabled --------------------------------------------------------------------

def test_dns_off_is_one_diagnosis_for_the_vpc() -> None:
    w = p.world(api=True)
    w.vpcs = [n.vpc(dns_support=False)]
    w.tasks += p.pull_failures("web")
    report = analyze(p.bundle(w))
    diag = get(report, "vpc-dns-disabled")
    assert report.diagnoses[0] is diag
    assert diag.resources == (API, WEB, n.VPC)
    assert roles(diag)["confirm"] == {"vpc-dns-attributes"}
    assert "stopped-task-image-pull" in roles(diag)["support"]
    assert "enableDnsSupport False" in diag.summary
    assert any(f"--vpc-id {n.VPC} --enable-dns-support" in (r.command or "")
               for r in diag.remediation)
    assert_filled(diag)


@pytest.mark.parametrize("mutate", [
    lambda w: None,
    # hostnames off matters only for private-DNS endpoints; with none there is no problem
    lambda w: (w.vpcs.__setitem__(0, n.vpc(dns_hostnames=False)),
               w.vpc_endpoints.__setitem__(slice(None), [n.endpoint("s3", kind="Gateway")])),
])
def test_dns_on_rules_out_vpc_dns_disabled(mutate: Any) -> None:
    w = p.world()
    mutate(w)
    p.block_https_egress(w)
    report = analyze(p.bundle(w))
    assert find(report, "vpc-dns-disabled") is None
    assert report.diagnoses[0].id == "security-group-blocks-egress"


# -- missing-vpc-endpoints -----------------------------------------------------------------

def test_missing_endpoints_are_low_and_one_per_vpc() -> None:
    w = p.world(api=True)
    w.drop_endpoints(*n.ENDPOINTS, "s3")
    diag = get(analyze(p.bundle(w, [*p.nat_quiet(NAT_A), *p.nat_quiet(NAT_B)])),
               "missing-vpc-endpoints")
    assert (diag.severity.value, diag.confidence) == ("low", 0.7)
    assert diag.resources == (API, WEB, n.VPC)
    assert "com.amazonaws.us-east-1.s3" in diag.summary and NAT_A in diag.summary
    assert any(f"--route-table-ids {p.RT_A}" in (r.command or "") for r in diag.remediation)
    assert_filled(diag)


def test_missing_endpoints_add_to_a_saturated_nat_but_rank_below_it() -> None:
    w = p.world(api=True)
    w.drop_endpoints(*n.ENDPOINTS, "s3")
    report = analyze(p.bundle(w, [*p.nat_saturated(NAT_A), *p.nat_quiet(NAT_B)]))
    nat, endpoints = get(report, "nat-connection-exhaustion"), get(report, "missing-vpc-endpoints")
    assert report.diagnoses[0] is nat and endpoints.rank > nat.rank
    assert "vpc-endpoints-behind-nat" in roles(nat)["support"]
    assert roles(endpoints)["support"] == {"nat-gateway-port-exhaustion",
                                           "nat-gateway-dropping-connections"}
    assert endpoints.confidence == 0.8
    assert_filled(nat)


@pytest.mark.parametrize("routes", [
    (),                                              # every endpoint in place
    n.PRIVATE_RTS,                                   # no NAT route: nothing goes via NAT
])
def test_endpoints_in_place_or_no_nat_rules_out_missing_endpoints(routes: tuple[str, ...]) -> None:
    w = p.world()
    for rt in routes:
        p.drop_default_route(w, rt)
    assert find(analyze(p.bundle(w)), "missing-vpc-endpoints") is None


def test_healthy_vpc_yields_nothing_from_this_playbook() -> None:
    report = analyze(p.bundle(p.world(api=True), [*p.nat_quiet(NAT_A), *p.nat_quiet(NAT_B)]))
    assert not [d for d in report.diagnoses if d.scenario == "network-latency"]
