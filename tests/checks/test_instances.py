from __future__ import annotations

from typing import Any

import pytest

from tests import builders as b
from tests import builders_hosts as h
from tests.checks.harness import run_check, statuses

WEB = b.service_arn("prod", "web")
I01, I02, I03 = h.ci_arn("i-01"), h.ci_arn("i-02"), h.ci_arn("i-03")


def _one(check_id: str, bundle: dict[str, Any]) -> Any:
    (f,) = run_check(check_id, bundle)
    return f


# -- instance-agent-disconnected -------------------------------------------------------------
@pytest.mark.parametrize(("connected", "status", "expected"), [
    (False, "ACTIVE", "fail"),
    (False, "DRAINING", "fail"),
    (True, "ACTIVE", "pass"),
    (False, "INACTIVE", "skipped"),   # deregistered instances are not judged
])
def test_instance_agent_disconnected(connected: bool, status: str, expected: str) -> None:
    ci = h.container_instance("i-01", connected=connected, status=status, running=3)
    bundle = h.hosts_bundle([ci], [h.ec2_service("web")], [h.placed_task("web", "i-01")])
    f = _one("instance-agent-disconnected", bundle)
    assert f.status.value == expected
    if expected == "fail":
        assert f.resource == I01 and f.data["services"] == [WEB]
        assert f.message.startswith(f"container instance i-01 (m5.large, prod): ECS agent "
                                    f"disconnected while {status} with 3 running")


def test_agent_disconnected_without_tasks_collection() -> None:
    bundle = b.bundle(container_instances=[h.container_instance("i-01", connected=False)])
    f = _one("instance-agent-disconnected", bundle)
    assert (f.status.value, f.data["services"]) == ("fail", [])


# -- instance-agent-outdated -----------------------------------------------------------------
@pytest.mark.parametrize(("agent", "docker", "os_type", "expected", "says"), [
    ("1.48.0", "20.10.25", "linux", "fail", "below 1.50.2, the minimum for ECS Exec"),
    ("1.90.0", "25.0.8", "linux", "fail",
     "superseded by 1.91.0 in the ECS-optimized AMI of 2025-03-04, 626 days before collection"),
    ("1.106.2", "19.03.13", "linux", "fail", "Docker 19.03.13 is below 20.10.13"),
    ("1.55.0", "20.10.25", "windows", "fail", "below 1.56.0, the minimum for ECS Exec"),
    ("1.101.0", "25.0.14", "linux", "pass", "agent 1.101.0"),    # superseded 267 days ago
    ("1.106.2", "25.0.16", "linux", "pass", "within the floors"),
    ("1.200.0", "27.0.1", "linux", "pass", "agent 1.200.0"),     # newer than the table
])
def test_instance_agent_outdated(agent: str, docker: str, os_type: str, expected: str,
                                 says: str) -> None:
    ci = h.container_instance("i-01", agent=agent, docker=docker, os_type=os_type)
    f = _one("instance-agent-outdated", b.bundle(container_instances=[ci]))
    assert f.status.value == expected and says in f.message


def test_agent_outdated_unknown_without_version_info() -> None:
    ci = h.container_instance("i-01")
    del ci["versionInfo"]
    assert statuses("instance-agent-outdated", b.bundle(container_instances=[ci]))[I01] \
        == "unknown"


# -- instance-ami-stale ----------------------------------------------------------------------
def test_ami_drift_against_the_newest_instance() -> None:
    bundle = b.bundle(
        container_instances=[h.container_instance("i-01"), h.container_instance("i-02")],
        ec2_instances=[h.ec2_instance("i-01", image="ami-0new", launched_days=3),
                       h.ec2_instance("i-02", image="ami-0old", launched_days=40)])
    got = {f.resource: f for f in run_check("instance-ami-stale", bundle)}
    assert (got[I01].status.value, got[I02].status.value) == ("pass", "fail")
    assert ("runs ami-0old while the most recently launched instance i-01 runs ami-0new"
            in got[I02].message)


def test_ami_age_alone() -> None:
    bundle = b.bundle(container_instances=[h.container_instance("i-01")],
                      ec2_instances=[h.ec2_instance("i-01", launched_days=400)])
    f = _one("instance-ami-stale", bundle)
    assert f.status.value == "fail"
    assert "launched 400 days before collection (threshold 180)" in f.message


def test_ami_majority_from_attributes_without_ec2_instances() -> None:
    cis = [h.container_instance("i-01", ami="ami-a"), h.container_instance("i-02", ami="ami-a"),
           h.container_instance("i-03", ami="ami-b")]
    assert statuses("instance-ami-stale", b.bundle(container_instances=cis)) == {
        I01: "pass", I02: "pass", I03: "fail"}


def test_ami_unknown_without_ami_or_launch_time() -> None:
    bundle = b.bundle(container_instances=[h.container_instance("i-01")])
    assert statuses("instance-ami-stale", bundle)[I01] == "unknown"


# -- instance-memory-overcommit --------------------------------------------------------------
def _mem_bundle(container: dict[str, Any], copies: int, **td_extra: Any) -> dict[str, Any]:
    td = b.task_definition("web", containers=[container], **td_extra)
    tasks = [h.placed_task("web", "i-01") for _ in range(copies)]
    return h.hosts_bundle([h.container_instance("i-01", memory=7680)], [h.ec2_service("web")],
                          tasks, [td])


@pytest.mark.parametrize(("container", "copies", "td_extra", "expected", "says"), [
    (b.container_def("web", memory=4096, memoryReservation=1024), 3, {}, "fail",
     "hard limits allow 12288 MiB, 4608 MiB more than the 7680 MiB registered"),
    (b.container_def("web", memoryReservation=512), 2, {}, "fail",
     "2 container(s) have only a soft limit"),
    (b.container_def("web", memory=1024), 2, {}, "pass", "every container is bounded"),
    (b.container_def("web", memoryReservation=512), 2, {"memory": "1024"}, "pass",
     "hard limits total 2048 MiB"),
])
def test_instance_memory_overcommit(container: dict[str, Any], copies: int,
                                    td_extra: dict[str, Any], expected: str, says: str) -> None:
    f = _one("instance-memory-overcommit", _mem_bundle(container, copies, **td_extra))
    assert f.status.value == expected and says in f.message
    assert f.message.startswith(f"container instance i-01 (m5.large, prod): {copies} task(s) "
                                "reserve ")


def test_memory_overcommit_uses_running_task_overrides() -> None:
    bundle = _mem_bundle(b.container_def("web", memory=1024), 2)
    for task in bundle["resources"]["tasks"]:
        task["containers"] = [b.shaped("ecs", "Container", {"name": "web", "memory": "6144"})]
    f = _one("instance-memory-overcommit", bundle)
    assert (f.status.value, f.data["hard_limits_mib"]) == ("fail", 12288)


def test_memory_overcommit_skips_idle_instances() -> None:
    bundle = h.hosts_bundle([h.container_instance("i-01")])
    assert statuses("instance-memory-overcommit", bundle)[I01] == "skipped"


# -- instance-burstable-standard-credits -----------------------------------------------------
@pytest.mark.parametrize(("itype", "specs", "expected", "source"), [
    ("t3.medium", [h.credit_spec("i-01", "standard")], "fail", "credit_specifications"),
    ("t3.medium", [h.credit_spec("i-01", "unlimited")], "pass", "credit_specifications"),
    ("t3.medium", None, "pass", "launch default"),     # T3 launches unlimited
    ("t2.micro", None, "fail", "launch default"),      # T2 launches standard
    ("t2.micro", [], "fail", "launch default"),        # collected, instance absent
])
def test_instance_burstable_standard_credits(itype: str, specs: list[dict[str, Any]] | None,
                                             expected: str, source: str) -> None:
    extra = {} if specs is None else {"credit_specifications": specs}
    bundle = b.bundle(container_instances=[h.container_instance("i-01", instance_type=itype)],
                      **extra)
    f = _one("instance-burstable-standard-credits", bundle)
    assert (f.status.value, f.data["mode_source"]) == (expected, source)
    assert f.data["baseline_pct"] == (20 if itype == "t3.medium" else 10)


def test_burstable_message_and_non_burstable() -> None:
    bundle = b.bundle(container_instances=[
        h.container_instance("i-01", instance_type="t3.medium"),
        h.container_instance("i-02", instance_type="m5.large")],
        credit_specifications=[h.credit_spec("i-01", "standard")])
    got = {f.resource: f for f in run_check("instance-burstable-standard-credits", bundle)}
    assert got[I01].message == (
        "container instance i-01 (t3.medium, prod): burstable in standard credit mode "
        "(credit_specifications) — throttled to its baseline once credits run out (baseline "
        "20% per vCPU on 2 vCPU(s), earns 24 credits/h, holds at most 576)")
    assert got[I02].status.value == "skipped"


# -- instance-ena-disabled -------------------------------------------------------------------
@pytest.mark.parametrize(("type_ena", "instance_ena", "expected"), [
    ("supported", False, "fail"),
    ("supported", True, "pass"),
    ("unsupported", False, "skipped"),
])
def test_instance_ena_disabled(type_ena: str, instance_ena: bool, expected: str) -> None:
    bundle = b.bundle(container_instances=[h.container_instance("i-01", instance_type="m4.large")],
                      ec2_instances=[h.ec2_instance("i-01", "m4.large", ena=instance_ena)],
                      instance_types=[h.instance_type("m4.large", ena=type_ena)])
    assert statuses("instance-ena-disabled", bundle)[I01] == expected


def test_ena_unknown_when_instance_not_collected() -> None:
    bundle = b.bundle(container_instances=[h.container_instance("i-01")], ec2_instances=[],
                      instance_types=[h.instance_type()])
    assert statuses("instance-ena-disabled", bundle)[I01] == "unknown"


@pytest.mark.parametrize(("type_ena", "expected"), [("supported", "fail"),
                                                     ("required", "pass")])
def test_ena_absent_on_the_instance(type_ena: str, expected: str) -> None:
    """EC2 omits EnaSupport when off; a type that requires ENA cannot be running without."""
    inst = h.ec2_instance("i-01", "m5.large")
    del inst["EnaSupport"]
    bundle = b.bundle(container_instances=[h.container_instance("i-01")], ec2_instances=[inst],
                      instance_types=[h.instance_type(ena=type_ena)])
    assert statuses("instance-ena-disabled", bundle)[I01] == expected
