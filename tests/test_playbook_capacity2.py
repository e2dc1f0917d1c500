"""The sidecar-dependency, host-cpu, subnet-ips, nacl and scheduler-blocked playbooks, on
whole accounts (the incident suite's healthy cluster with one thing broken).

For each diagnosis: an account that confirms it (right service, confirming evidence, every
placeholder filled) and one that looks alike but where another cause holds, so the diagnosis
is absent or ranked below the cause. That every command parses against botocore is
tests/test_remediation_commands.py's, for every playbook.
"""

from __future__ import annotations

from typing import Any

import pytest

from checker.model import Diagnosis, Report
from checker.pipeline import Engine
from tests import builders_network as bn
from tests.incidents import s_capacity2 as s2
from tests.incidents.healthy import INSTANCES, PRIVATE, PRIVATE_RTS, sync_hosts
from tests.incidents.s_cpu import cpu_credits
from tests.incidents.s_pending import eni_exhaustion, insufficient_capacity
from tests.incidents.scenarios import Cluster, service_arn
from tests.test_playbooks import assert_filled

ENGINE = Engine()
def _report(*breaks: Any) -> Report:
    c = Cluster()
    for brk in breaks:
        brk(c)
    sync_hosts(c.bundle)
    return ENGINE.analyze(c.bundle)


def _of(report: Report, diagnosis: str, service: str) -> Diagnosis | None:
    return next((d for d in report.diagnoses
                 if d.id == diagnosis and service_arn(service) in d.resources), None)


def _order(report: Report, service: str) -> list[str]:
    return [d.id for d in report.diagnoses if service_arn(service) in d.resources]


def _roles(diag: Diagnosis) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in diag.evidence:
        out.setdefault(e.role, set()).add(e.check)
    return out


def _confirmed(report: Report, diagnosis: str, service: str, check: str) -> Diagnosis:
    diag = _of(report, diagnosis, service)
    assert diag is not None, _order(report, service)
    assert check in _roles(diag)["confirm"]
    assert diag.remediation and diag.references
    assert_filled(diag)
    return diag


# -- sidecar-dependency-failure ---------------------------------------------------------------
def test_init_container_that_fails_is_the_cause_not_the_application() -> None:
    report = _report(s2.sidecar_dependency)
    diag = _confirmed(report, "sidecar-dependency-failure", "api", "stopped-task-dependency-unmet")
    assert diag.summary.startswith("6 stopped task(s) of prod/api never started the essential "
                                   "container api: it waits on db-migrate with condition SUCCESS")
    assert _order(report, "api")[:2] == ["sidecar-dependency-failure", "app-crash-loop"]
    assert "explains: app-crash-loop on prod/api" in diag.why


def _app_crashes_after_migration(c: Cluster) -> None:
    """The same revision, but db-migrate succeeds and the api container itself exits 1."""
    s2.sidecar_dependency(c)
    for task in c.tasks("api", "STOPPED"):
        if len(task["containers"]) == 2:
            task["containers"][0]["exitCode"] = 1
            task["containers"][1]["exitCode"] = 0


def test_application_exiting_after_its_init_succeeded_is_a_crash_loop() -> None:
    report = _report(_app_crashes_after_migration)
    assert _of(report, "sidecar-dependency-failure", "api") is None
    assert report.diagnoses[0].id == "app-crash-loop"


# -- host-cpu-saturation ----------------------------------------------------------------------
def test_pinned_hosts_slow_every_service_on_them() -> None:
    report = _report(s2.host_cpu_saturation)
    orders = _confirmed(report, "host-cpu-saturation", "orders", "instance-cpu-saturated")
    assert "target-response-time-high" in _roles(orders)["support"]
    assert INSTANCES[0] in orders.summary and INSTANCES[1] not in orders.summary
    reports = _order(report, "reports")
    assert reports.index("host-cpu-saturation") < reports.index("cpu-saturation")


def _short_spike(c: Cluster) -> None:
    """A ten-minute batch burst on the hosts, then back to normal."""
    s2.reports_hosts_cpu(c, lambda mins: 97.0 if 40 <= mins < 50 else 31.0)


@pytest.mark.parametrize("brk", [cpu_credits, _short_spike], ids=["burstable", "spike"])
def test_burstable_hosts_or_a_short_spike_are_not_host_cpu_saturation(brk: Any) -> None:
    report = _report(brk)
    assert not [d for d in report.diagnoses if d.id == "host-cpu-saturation"]


# -- subnet-ip-exhaustion ---------------------------------------------------------------------
def test_full_subnets_block_the_scale_out() -> None:
    report = _report(s2.subnet_ip_exhaustion)
    web = _confirmed(report, "subnet-ip-exhaustion", "web", "task-subnets-free-ips")
    assert report.diagnoses[0] is web and web.severity.value == "high"
    assert "stopped-task-start-failure" in _roles(web)["support"]
    # the services that run fine today are told their next deployment will stall
    api = _of(report, "subnet-ip-exhaustion", "api")
    assert api is not None and api.severity.value == "medium"
    assert api.title == "Task subnets too small for the service's next deployment or scale-out"


def _free(*counts: int) -> Any:
    def brk(c: Cluster) -> None:
        for sid, free in zip(PRIVATE, counts, strict=True):
            c.find("subnets", "SubnetId", sid)["AvailableIpAddressCount"] = free
    return brk


def test_subnets_each_service_fits_but_not_all_together() -> None:
    """web and api may each scale to 12 (9 more), checkout and worker to 8 (6 more): 30
    more addresses together, and the three shared private subnets have 24."""
    report = _report(_free(8, 8, 8))
    (diag,) = [d for d in report.diagnoses if d.id == "subnet-ip-exhaustion"]
    assert diag.title == "Task subnets too small for the services sharing them, together"
    services = {service_arn(n) for n in ("web", "api", "checkout", "worker")}
    assert set(diag.resources) == services | {" ".join(sorted(PRIVATE))}  # one per pool
    assert diag.severity.value == "medium"
    assert "24 free IP address(es) in all" in diag.summary and "need 30 more" in diag.summary
    assert_filled(diag)
    web = next(e for e in diag.evidence if e.resource == service_arn("web"))
    assert web.data["kind"] == "shared" and web.data["shared_need"] == 30
    assert web.data["shared_with"] == ["prod/api", "prod/checkout", "prod/worker"]
    assert "shared with prod/api (9 more), prod/checkout (6 more), prod/worker (6 more)" \
        in web.message


def test_subnets_that_hold_every_services_growth_together_rule_it_out() -> None:
    report = _report(_free(10, 10, 10))
    assert not [d for d in report.diagnoses if d.id == "subnet-ip-exhaustion"]


def test_eni_slots_not_subnet_addresses_hold_back_awsvpc_tasks_on_ec2() -> None:
    report = _report(eni_exhaustion)
    assert report.diagnoses[0].id == "eni-exhaustion"
    assert not [d for d in report.diagnoses if d.id == "subnet-ip-exhaustion"]


# -- nacl-blocks-traffic ----------------------------------------------------------------------
def test_acl_dropping_replies_is_the_cause_of_the_pull_timeouts() -> None:
    report = _report(s2.nacl_blocks_traffic)
    diag = _confirmed(report, "nacl-blocks-traffic", "web", "nacl-blocks-task-egress")
    assert report.diagnoses[0] is diag and PRIVATE[1] in diag.resources
    assert "explains: image-pull-failure on prod/web" in diag.why
    assert "drops inbound tcp/32768-60999" in diag.summary


def _route_gone_too(c: Cluster) -> None:
    """The same ACL, and the subnet's default route deleted as well."""
    s2.nacl_blocks_traffic(c)
    rt = c.find("route_tables", "RouteTableId", PRIVATE_RTS[1])
    rt["Routes"] = [r for r in rt["Routes"] if r.get("DestinationCidrBlock") != "0.0.0.0/0"]


def test_a_missing_route_rules_the_acl_out_where_the_tasks_need_the_internet() -> None:
    """web pulls from ghcr.io: without the route its pulls fail whatever the ACL says. The
    other services reach only VPC endpoints, whose replies the ACL still drops."""
    report = _report(_route_gone_too)
    assert _order(report, "web")[0] == "egress-route-missing"
    assert _of(report, "nacl-blocks-traffic", "web") is None
    assert _of(report, "nacl-blocks-traffic", "api") is not None


def _acl_blocks_lb(c: Cluster) -> None:
    """The private subnets' ACL denies the ALB's subnets inbound (rule 90, before the allow)."""
    acl = c.res["network_acls"][0]
    acl["Entries"].append(bn.acl_entry(90, "deny", egress=False, proto="6",
                                       cidr="10.0.0.0/16", ports=(8080, 8080)))
    acl["Associations"] = [a for a in acl["Associations"] if a["SubnetId"] in PRIVATE]
    c.res["network_acls"].append(bn.network_acl("acl-0c1d2e3f4a5b6c7d8", bn.default_entries(),
                                                tuple(s["SubnetId"] for s in c.res["subnets"]
                                                      if s["SubnetId"] not in PRIVATE)))


def test_acl_denying_the_load_balancer_is_named_and_its_fix_opens_the_port() -> None:
    report = _report(_acl_blocks_lb)
    diag = _confirmed(report, "nacl-blocks-traffic", "web", "nacl-blocks-lb-traffic")
    assert diag.title.startswith("A network ACL drops the load balancer's traffic")
    assert any("--ingress" in (r.command or "") for r in diag.remediation)


# -- fargate-capacity-unavailable and service-quota-reached ------------------------------------
def test_spot_without_capacity() -> None:
    report = _report(s2.fargate_capacity_unavailable)
    diag = _confirmed(report, "fargate-capacity-unavailable", "worker",
                      "service-fargate-capacity-unavailable")
    assert diag.summary.startswith("ECS cannot start tasks of prod/worker on FARGATE_SPOT: 3 ")
    assert report.diagnoses[0] is diag


def _capacity_message_on_ec2(c: Cluster) -> None:
    """An EC2-backed service reports the same text: its capacity is the cluster's."""
    c.scale("orders", 5, 3, 20)
    c.event("orders", s2.UNABLE.format(name="orders", why=s2.CAPACITY), 10)


def _spot_reclaimed(c: Cluster) -> None:
    """worker on Fargate Spot loses two tasks to interruptions; ECS replaces them at once."""
    s2.fargate_capacity_unavailable(c)
    svc = c.service("worker")
    svc["events"] = [e for e in svc["events"] if "Capacity is unavailable" not in e["message"]]
    c.scale("worker", 2, 2, 30)
    for i, stopped in enumerate((25, 12)):
        c.stopped("worker", i, stopped_min=stopped, uptime_s=5400, exit_code=143,
                  reason="Your Spot Task was interrupted.", stop_code="SpotInterruption")


@pytest.mark.parametrize(("brk", "service"), [(_capacity_message_on_ec2, "orders"),
                                              (_spot_reclaimed, "worker")],
                         ids=["ec2-service", "spot-reclaimed-and-replaced"])
def test_no_fargate_capacity_diagnosis_without_a_fargate_capacity_message(
        brk: Any, service: str) -> None:
    report = _report(brk)
    assert _of(report, "fargate-capacity-unavailable", service) is None


def test_quota_named_in_the_events() -> None:
    report = _report(s2.service_quota_reached)
    diag = _confirmed(report, "service-quota-reached", "api", "service-quota-blocks-tasks")
    assert "(vcpu-limit)" in diag.summary and report.diagnoses[0] is diag
    assert diag.remediation[0].command == ("aws service-quotas get-service-quota --service-code "
                                           "fargate --quota-code L-3032A538")


def _quota_over(c: Cluster) -> None:
    """The quota events of an hour ago, then the load test ended and api scaled out."""
    c.scale("api", 7, 7, 80)
    for minutes in (78, 72):
        c.event("api", s2.UNABLE.format(name="api", why=s2.VCPU_LIMIT), minutes)
    c.event("api", "(service api) has reached a steady state.", 30)


@pytest.mark.parametrize("brk", [_quota_over, insufficient_capacity],
                         ids=["quota-over", "cluster-capacity"])
def test_no_quota_diagnosis_when_the_quota_no_longer_blocks_or_the_cluster_is_full(
        brk: Any) -> None:
    report = _report(brk)
    assert not [d for d in report.diagnoses if d.id == "service-quota-reached"]
