"""Task sets count as their service's (checks/lib/scope.py, checks/lib/network/topology.py):
a service with an EXTERNAL or CODE_DEPLOY controller runs its tasks through task sets, whose
task definitions and network configuration are the service's. Before they were read, a
task set's container without logs was judged as nobody's and its network as absent."""

from __future__ import annotations

from typing import Any

import pytest

from checker.facts import Facts, awsvpc_config
from checks.lib.scope import services_using
from tests import builders as b
from tests import builders_network as bn
from tests import builders_taskdef as t
from tests import builders_taskset as ts
from tests.checks.harness import run_check

WEB = b.service_arn("prod", "web")


def _no_logs_td(revision: int) -> dict[str, Any]:
    return t.fargate_td("web", t.ctr("app", memory=256, logConfiguration=None),
                        revision=revision)


def test_a_task_sets_container_without_logs_is_reported_against_its_service() -> None:
    svc = ts.external_service("web", ts.task_set("web", "1", revision=2, public_ip="ENABLED"))
    bundle = t.bundle([_no_logs_td(2)], [svc])
    (f,) = run_check("container-no-log-configuration", bundle)
    assert (f.status.value, f.service) == ("fail", WEB)
    assert f.message.endswith("(used by service prod/web)")
    (ip,) = run_check("service-assigns-public-ip", bundle)
    assert (ip.status.value, ip.service, ip.data["runners"]) == (
        "fail", WEB, ["task set ecs-svc/1"])


@pytest.mark.parametrize(("controller", "sets", "expected"), [
    ("EXTERNAL", [ts.task_set("web", "1", revision=2)], [2]),
    ("CODE_DEPLOY", [ts.task_set("web", "1", revision=1),
                     ts.task_set("web", "2", revision=3, status="ACTIVE")], [1, 3]),
    # an INACTIVE task set runs nothing any more
    ("EXTERNAL", [ts.task_set("web", "1", revision=2),
                  ts.task_set("web", "2", revision=3, status="INACTIVE")], [2]),
])
def test_services_using_counts_task_sets(controller: str, sets: list[dict[str, Any]],
                                         expected: list[int]) -> None:
    svc = ts.external_service("web", *sets, controller=controller)
    tds = [t.fargate_td("web", revision=r) for r in (1, 2, 3)]
    using = services_using(Facts(t.bundle(tds, [svc])))
    assert sorted(using) == [b.td_arn("web", r) for r in expected]
    assert all(users == [svc] for users in using.values())


def test_the_network_configuration_is_the_primary_task_sets() -> None:
    draining = ts.task_set("web", "1", status="DRAINING", public_ip="DISABLED",
                           subnets=(bn.PRIVATE[1],))
    primary = ts.task_set("web", "2", public_ip="ENABLED", subnets=(bn.PUBLIC[0],))
    config = awsvpc_config(ts.external_service("web", draining, primary))
    assert (config["subnets"], config["assignPublicIp"]) == ([bn.PUBLIC[0]], "ENABLED")
    own = bn.web_service()  # a service with its own configuration keeps it
    assert awsvpc_config(own) is own["networkConfiguration"]["awsvpcConfiguration"]


@pytest.mark.parametrize(("public_ip", "status"), [("DISABLED", "fail"), ("ENABLED", "pass")])
def test_network_checks_read_the_task_sets_subnets(public_ip: str, status: str) -> None:
    """A task set in a public subnet reaches the internet through its gateway only with a
    public IP: the route check judges the task set's subnet and setting as the service's."""
    svc = ts.external_service("web", ts.task_set("web", "1", public_ip=public_ip,
                                                 subnets=(bn.PUBLIC[0],)))
    world = bn.World(services=[svc], tasks=[
        bn.eni_task("web", bn.PUBLIC[0], bn.AZS[0], "10.0.101.10")])
    (f,) = run_check("task-subnet-default-route", world.bundle())
    assert (f.status.value, f.service, f.resource) == (status, WEB, bn.PUBLIC[0])


def test_affected_tasks_are_the_task_sets_running_the_definition() -> None:
    """During a blue/green shift two task sets run two definitions: each finding counts the
    tasks of the sets that run its definition (computedDesiredCount), not none at all."""
    blue = ts.task_set("web", "1", revision=2, computedDesiredCount=3)
    green = ts.task_set("web", "2", revision=3, status="ACTIVE", computedDesiredCount=1)
    svc = ts.external_service("web", blue, green, controller="CODE_DEPLOY", desiredCount=3)
    svc["taskDefinition"] = b.td_arn("web", 2)  # CODE_DEPLOY names the PRIMARY set's
    findings = run_check("container-no-log-configuration",
                         t.bundle([_no_logs_td(2), _no_logs_td(3)], [svc]))
    assert sorted((f.resource.rpartition(":")[2], f.data["affected_tasks"])
                  for f in findings) == [("2", 3), ("3", 1)]


@pytest.mark.parametrize(("scale", "expected"), [
    ({"value": 50.0, "unit": "PERCENT"}, 2), ({"value": 100.0, "unit": "PERCENT"}, 3),
    ({}, None)])
def test_a_task_set_without_a_computed_count_counts_its_scale(
        scale: dict[str, Any], expected: int | None) -> None:
    """Without computedDesiredCount a set runs its scale of the service's desiredCount,
    rounded up; with neither the count is unknown, not a guess."""
    one = ts.task_set("web", "1", revision=2, scale=scale)
    del one["computedDesiredCount"]
    svc = ts.external_service("web", one, desiredCount=3)
    (f,) = run_check("container-no-log-configuration", t.bundle([_no_logs_td(2)], [svc]))
    assert f.data.get("affected_tasks") == expected
