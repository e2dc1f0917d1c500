"""Checks of what holds tasks back from around them: subnet addresses, account quotas,
Fargate capacity, host CPU and container start order. Each has a failing and a passing
row, through the real graph and runner (tests/checks/harness.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import builders as b
from tests import builders_metrics as bm
from tests import builders_network as bn
from tests import builders_service as bs
from tests.checks.harness import run_check, statuses

WEB = b.service_arn("prod", "web")
SUBNETS = ["subnet-0a1", "subnet-0b2"]
UNABLE = "(service web) was unable to place a task. Reason: "


def _one(check_id: str, bundle: dict[str, Any]) -> Any:
    (f,) = run_check(check_id, bundle)
    return f


# -- task-subnets-free-ips -------------------------------------------------------------------
def _subnets(*free: int) -> list[dict[str, Any]]:
    out = []
    for sid, n, az in zip(SUBNETS, free, ("us-east-1a", "us-east-1b"), strict=True):
        item = bn.subnet(sid, "10.0.1.0/24", az)
        item["AvailableIpAddressCount"] = n
        out.append(item)
    return out


@pytest.mark.parametrize(("free", "desired", "running", "max_pct", "scale_max", "expected",
                          "kind"), [
    ((0, 1), 6, 3, 200, None, "fail", "blocked"),       # 3 wait, 1 address
    ((1, 2), 4, 4, 200, None, "fail", "short"),         # a deploy starts 4 more, 3 free
    ((3, 3), 4, 4, 100, 12, "fail", "short"),           # no surge, but scaling to 12 needs 8
    ((3, 3), 4, 4, 100, None, "pass", None),            # no surge, no scaling: 0 needed
    ((120, 130), 6, 3, 200, 20, "pass", None),
])
def test_task_subnets_free_ips(free: tuple[int, int], desired: int, running: int, max_pct: int,
                               scale_max: int | None, expected: str, kind: str | None) -> None:
    svc = bm.awsvpc_service("web", SUBNETS, desired=desired, running=running,
                            deploymentConfiguration={"maximumPercent": max_pct,
                                                     "minimumHealthyPercent": 100})
    extra = {"scalable_targets": [bs.scalable_target("web", max_capacity=scale_max)]
             } if scale_max else {}
    f = _one("task-subnets-free-ips", b.bundle(services=[svc], subnets=_subnets(*free),
                                               **extra))
    assert f.status.value == expected, f.message
    assert f.data.get("kind") == kind and f.data["free_ips"] == sum(free)
    if kind == "blocked":
        assert f.data["affected_tasks"] == desired - running
        assert f.message.startswith("service prod/web: 3 task(s) wait to start and its subnets "
                                    "have 1 free address(es)")


def test_subnet_ips_unknown_when_a_subnet_is_missing_and_skipped_without_awsvpc() -> None:
    svc = bm.awsvpc_service("web", SUBNETS)
    bridge = b.service("orders", launchType="EC2")
    found = statuses("task-subnets-free-ips",
                     b.bundle(services=[svc, bridge], subnets=_subnets(5, 5)[:1]))
    assert found == {WEB: "unknown", b.service_arn("prod", "orders"): "skipped"}


API = b.service_arn("prod", "api")


def _pair(free: tuple[int, int], desired: int = 6, running: int = 6,
          api_subnets: list[str] | None = None) -> dict[str, Any]:
    """web and api, each `desired` tasks of which `running` run, maximumPercent 200."""
    conf = {"maximumPercent": 200, "minimumHealthyPercent": 100}
    svcs = [bm.awsvpc_service(name, subnets, desired=desired, running=running,
                              deploymentConfiguration=conf)
            for name, subnets in (("web", SUBNETS), ("api", api_subnets or SUBNETS))]
    return b.bundle(services=svcs, subnets=_subnets(*free))


def test_subnets_that_fit_each_service_alone_but_not_their_sum_fail_both() -> None:
    """A deployment of either starts 6 more tasks, 10 addresses are free: each fits, the
    two together (12) do not."""
    found = {f.resource: f for f in run_check("task-subnets-free-ips", _pair((5, 5)))}
    web, api = found[WEB], found[API]
    assert (web.status.value, api.status.value) == ("fail", "fail")
    assert (web.data["kind"], web.data["shared_need"], web.data["free_ips"]) == ("shared", 12, 10)
    assert web.data["shared_with"] == ["prod/api"] and api.data["shared_with"] == ["prod/web"]
    assert web.data["affected_tasks"] == 2
    assert "its subnets are shared with prod/api (6 more)" in web.message
    assert "together they need 12" in web.message


def test_subnets_that_fit_the_sum_pass_and_name_who_shares_them() -> None:
    found = {f.resource: f for f in run_check("task-subnets-free-ips", _pair((6, 6)))}
    assert {k: f.status.value for k, f in found.items()} == {WEB: "pass", API: "pass"}
    assert "enough for the 12 more task(s) their deployments" in found[WEB].message
    assert found[WEB].data["shared_with"] == ["prod/api"]


def test_tasks_waiting_in_shared_subnets_are_blocked_by_the_sum() -> None:
    """3 tasks of each wait; 4 addresses are free: either alone would start."""
    found = {f.resource: f for f in run_check("task-subnets-free-ips",
                                               _pair((2, 2), desired=5, running=2))}
    web = found[WEB]
    assert (web.status.value, web.data["kind"], web.data["shared_waiting"]) == (
        "fail", "blocked", 6)
    assert "6 task(s) of those services wait for one" in web.message


def test_services_sharing_one_subnet_are_one_pool() -> None:
    """api places tasks in subnet-0a1 only, web in both: web's 5 free addresses of
    subnet-0b2 count for the pool, and api's need is added to web's."""
    found = {f.resource: f for f in run_check("task-subnets-free-ips",
                                               _pair((5, 5), api_subnets=SUBNETS[:1]))}
    assert found[API].data["kind"] == "short"  # 6 more in 5 free, alone
    assert found[WEB].data["kind"] == "shared" and found[WEB].data["pool_free"] == 10


# -- service-quota-blocks-tasks ----------------------------------------------------------------
QUOTA_ROWS = [
    ([UNABLE + "You’ve reached the limit on the number of vCPUs you can run concurrently"], None,
     "fail", ["vcpu-limit"]),
    ([UNABLE + "You've reached the limit on the number of tasks you can run concurrently"], None,
     "fail", ["task-limit"]),
    ([], "ResourceInitializationError: failed to configure ENI: NetworkInterfaceLimitExceeded: "
         "The maximum number of network interfaces has been reached.", "fail", ["eni-limit"]),
    (["(service web) has reached a steady state."], None, "pass", None),
    ([], "Essential container in task exited", "pass", None),
]


@pytest.mark.parametrize(("events", "stop", "expected", "reasons"), QUOTA_ROWS)
def test_service_quota_blocks_tasks(events: list[str], stop: str | None, expected: str,
                                    reasons: list[str] | None) -> None:
    svc = b.service("web", desired=4, running=2, events=[bs.event(e, 3) for e in events])
    tasks = [b.task("web", status="STOPPED", stopped=b.ago(minutes=4), reason=stop,
                    stop_code="TaskFailedToStart", containers=[b.container("web")])] if stop else []
    f = _one("service-quota-blocks-tasks", b.ecs_bundle([svc], tasks))
    assert f.status.value == expected, f.message
    assert f.data.get("reasons") == reasons
    if expected == "fail":
        assert f.data["affected_tasks"] == 2 and f.data["count"] == 1


def test_quota_event_an_hour_old_and_followed_by_steady_state_is_not_current() -> None:
    svc = b.service("web", events=[
        bs.event("(service web) has reached a steady state.", 30),
        bs.event(UNABLE + "You've reached the limit on the number of tasks you can run "
                 "concurrently", 90)])
    assert _one("service-quota-blocks-tasks", b.bundle(services=[svc])).status.value == "pass"


# -- service-fargate-capacity-unavailable -----------------------------------------------------
CAPACITY = UNABLE + ("Capacity is unavailable at this time. Please try again later or in a "
                     "different availability zone.")
SPOT = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]


@pytest.mark.parametrize(("extra", "events", "expected", "spot"), [
    ({"capacityProviderStrategy": SPOT, "launchType": None}, [CAPACITY], "fail", True),
    ({}, [CAPACITY], "fail", False),
    ({"capacityProviderStrategy": SPOT, "launchType": None}, [], "pass", True),
    ({"launchType": "EC2"}, [CAPACITY], "skipped", None),
])
def test_service_fargate_capacity_unavailable(extra: dict[str, Any], events: list[str],
                                              expected: str, spot: bool | None) -> None:
    svc = b.service("web", desired=4, running=1, events=[bs.event(e, 5) for e in events])
    for key, value in extra.items():
        if value is None:
            svc.pop(key)
        else:
            svc[key] = value
    f = _one("service-fargate-capacity-unavailable", b.bundle(services=[svc]))
    assert f.status.value == expected, f.message
    assert f.data.get("spot") == spot
    if expected == "fail":
        assert f.data["affected_tasks"] == 3 and "capacity is unavailable" in f.message


def test_capacity_unavailable_read_from_a_stopped_task_reason() -> None:
    svc = b.service("web", desired=2, running=1)
    task = b.task("web", status="STOPPED", stopped=b.ago(minutes=3), stop_code="TaskFailedToStart",
                  reason=CAPACITY.removeprefix("(service web) was unable to place a task. "
                                               "Reason: "))
    f = _one("service-fargate-capacity-unavailable", b.ecs_bundle([svc], [task]))
    assert f.status.value == "fail" and f.data["tasks"] == [task["taskArn"].rsplit("/", 1)[1]]


# -- instance-cpu-saturated --------------------------------------------------------------------
def _host_bundle(instance_type: str, level: float, *, hours: float = 3) -> dict[str, Any]:
    cpu = bm.ec2("i-0aaa", "CPUUtilization", "Average", bm.flat(hours, 300, 35.0)[:-12]
                 + bm.flat(1, 300, level))
    return bm.metrics_bundle(
        [cpu], container_instances=[bm.container_instance("i-0aaa", instance_type)],
        services=[b.service("orders", launchType="EC2")],
        tasks=[bm.ec2_task("orders", "i-0aaa")])


@pytest.mark.parametrize(("instance_type", "level", "expected"), [
    ("m5.large", 97.0, "fail"),
    ("m5.large", 60.0, "pass"),
    ("t3.large", 97.0, "skipped"),   # burstable: cpu-credits-exhausted judges it
])
def test_instance_cpu_saturated(instance_type: str, level: float, expected: str) -> None:
    found = run_check("instance-cpu-saturated", _host_bundle(instance_type, level))
    host = next(f for f in found if f.data.get("scope") == "host")
    assert host.status.value == expected, host.message
    services = [f for f in found if f.data.get("scope") == "service"]
    if expected == "skipped":
        assert services == []
    else:
        (svc,) = services
        assert svc.status.value == expected and svc.service == b.service_arn("prod", "orders")
    if expected == "fail":
        assert host.message.startswith("instance i-0aaa (m5.large): CPUUtilization ≥ 90% for 60m")
        assert services[0].data["instances"] == ["i-0aaa (m5.large)"]


def test_instance_cpu_unknown_without_the_metric() -> None:
    bundle = _host_bundle("m5.large", 97.0)
    bundle["metrics"] = []
    host = next(f for f in run_check("instance-cpu-saturated", bundle)
                if f.data.get("scope") == "host")
    assert host.status.value == "unknown" and "needs AWS/EC2 CPUUtilization" in host.message


# -- stopped-task-dependency-unmet -------------------------------------------------------------
def _dependency_bundle(condition: str, sidecar: dict[str, Any], app_exit: int | None = None,
                       stop_code: str = "EssentialContainerExited") -> dict[str, Any]:
    td = b.task_definition("web", containers=[
        b.container_def("web", memory=512, dependsOn=[{"containerName": "envoy",
                                                       "condition": condition}]),
        b.container_def("envoy", memory=128, essential=False)])
    task = b.task("web", status="STOPPED", stopped=b.ago(minutes=5),
                  reason="Essential container in task exited", stop_code=stop_code,
                  containers=[b.container("web", app_exit), b.container("envoy", **sidecar)])
    return b.ecs_bundle([b.service("web", desired=2, running=1)], [task], [td])


@pytest.mark.parametrize(("condition", "sidecar", "app_exit", "expected", "why"), [
    ("SUCCESS", {"exit_code": 1}, None, "fail", "which exited 1"),
    ("HEALTHY", {"healthStatus": "UNHEALTHY"}, None, "fail", "which health UNHEALTHY"),
    ("COMPLETE", {"reason": "CannotStartContainerError: timed out"}, None, "fail",
     "never completed"),
    ("SUCCESS", {"exit_code": 0}, None, "pass", "none of its 1 stopped task(s)"),
    ("HEALTHY", {"healthStatus": "UNHEALTHY"}, 1, "pass", "none of its 1"),  # the app ran
])
def test_stopped_task_dependency_unmet(condition: str, sidecar: dict[str, Any],
                                       app_exit: int | None, expected: str, why: str) -> None:
    f = _one("stopped-task-dependency-unmet", _dependency_bundle(condition, sidecar, app_exit))
    assert f.status.value == expected and why in f.message, f.message
    if expected == "fail":
        assert (f.data["container"], f.data["dependency"], f.data["condition"]) == (
            "web", "envoy", condition)
        assert f.data["affected_tasks"] == 1


@pytest.mark.parametrize(("sidecar", "expected"), [
    ({"healthStatus": "UNKNOWN"}, "pass"),     # scaled in while the sidecar was starting
    ({"healthStatus": "UNHEALTHY"}, "fail"),   # a failed health check counts however it stopped
])
def test_a_requested_stop_needs_a_definite_dependency_failure(sidecar: dict[str, Any],
                                                              expected: str) -> None:
    bundle = _dependency_bundle("HEALTHY", sidecar, stop_code="ServiceSchedulerInitiated")
    assert _one("stopped-task-dependency-unmet", bundle).status.value == expected


def test_dependency_check_skips_services_without_depends_on() -> None:
    bundle = b.ecs_bundle([b.service("web")], [b.crash_task("web")])
    assert _one("stopped-task-dependency-unmet", bundle).status.value == "skipped"


def test_a_big_pool_names_five_services_and_counts_the_rest() -> None:
    """A pool of 40 services on the same subnets: each finding names 5 of the others and
    counts them all (naming every other service made the report grow with services²)."""
    conf = {"maximumPercent": 200, "minimumHealthyPercent": 100}
    svcs = [bm.awsvpc_service(f"svc{i:02d}", SUBNETS, desired=2, running=2,
                              deploymentConfiguration=conf) for i in range(40)]
    found = {f.resource: f for f in run_check("task-subnets-free-ips",
                                               b.bundle(services=svcs, subnets=_subnets(5, 5)))}
    some = found[b.service_arn("prod", "svc00")]
    assert some.status.value == "fail" and some.data["kind"] == "shared"
    assert some.data["shared_count"] == 39 and len(some.data["shared_with"]) == 5
    assert "34 other service(s)" in some.message and "svc39" not in some.message
