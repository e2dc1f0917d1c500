"""The tasks-pending playbook on bundles the real checks run over.

Each story is an EC2 service `web` short of its desired count, on container instances built
with tests/builders_hosts.py, with the service event ECS would write. For each hypothesis:
a bundle that confirms it (right service, confirming evidence, placeholders filled) and one
where the alternative holds and it is absent or ranked below the cause that explains it.
"""

from __future__ import annotations

from typing import Any

import pytest

from checker.model import Diagnosis, Report
from checker.pipeline import Engine
from tests import builders as b
from tests import builders_hosts as h
from tests import builders_service as s
from tests.test_playbooks import assert_filled

ENGINE = Engine()
WEB = b.service_arn("prod", "web")
PLACE = ("(service web) was unable to place a task because no container instance met all of "
         "its requirements. The closest matching (container-instance "
         "3f4de1c5-ffdd-4954-af7e-75b4be0c8841) {}. For more information, see the "
         "Troubleshooting section of the Amazon ECS Developer Guide.")
CPU = "has insufficient CPU units available"
MEMORY = "has insufficient memory available"
ENI = 'encountered error "RESOURCE:ENI"'
PORT = "is already using a port required by your task"
MEMBER_OF = 'encountered error "MemberOf placement constraint unsatisfied."'
AGENT = 'encountered error "AGENT"'


def _td(**extra: Any) -> dict[str, Any]:
    """web needs 1024 CPU units and 2048 MiB per task."""
    return b.task_definition("web", containers=[b.container_def("web", cpu=1024, memory=2048)],
                             **extra)


def _bundle(instances: list[dict[str, Any]], *, desired: int = 3, running: int = 1,
            pending: int = 2, tasks: list[dict[str, Any]] | None = None,
            td: dict[str, Any] | None = None, events: tuple[str, ...] = (),
            svc: dict[str, Any] | None = None, **collections: Any) -> dict[str, Any]:
    service = h.ec2_service("web", desired=desired, running=running, pending=pending,
                            events=[s.event(PLACE.format(e), 10) for e in events],
                            **(svc or {}))
    return h.hosts_bundle(instances, [service], tasks, [td or _td()], **collections)


def _report(bundle: dict[str, Any]) -> Report:
    return ENGINE.analyze(bundle)


def _diag(bundle: dict[str, Any], diagnosis: str, resource: str = WEB) -> Diagnosis:
    found = [d for d in _report(bundle).diagnoses
             if d.id == diagnosis and d.resources[0] == resource]
    assert len(found) == 1, [(d.id, d.resources) for d in _report(bundle).diagnoses]
    assert_filled(found[0])
    return found[0]


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [d.id for d in _report(bundle).diagnoses if WEB in d.resources]


def _roles(diag: Diagnosis) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in diag.evidence:
        out.setdefault(e.role, set()).add(e.check)
    return out


def _commands(diag: Diagnosis) -> str:
    return "\n".join(r.command or "" for r in diag.remediation)


# -- insufficient-cluster-capacity: shortage vs fragmentation vs nowhere -----------------------
def _short_of_cpu(**kw: Any) -> dict[str, Any]:
    """Two instances with 512 free CPU units each; two tasks need 1024 each."""
    return _bundle([h.container_instance("i-01", cpu_free=512, mem_free=4096),
                    h.container_instance("i-02", cpu_free=512, mem_free=4096)], **kw)


def test_real_shortage_says_so_from_the_capacity_model() -> None:
    diag = _diag(_short_of_cpu(events=(CPU,)), "insufficient-cluster-capacity")
    assert diag.title == "Pending tasks: the cluster lacks CPU/memory in total (real shortage)"
    assert _roles(diag)["confirm"] == {"pending-tasks-insufficient-capacity"}
    assert "service-event-placement-failures" in _roles(diag)["support"]
    assert diag.confidence == pytest.approx(0.9)
    assert ("2 task(s) of prod/web cannot be placed: cluster prod lacks CPU in total — a real "
            "shortage, not fragmentation") in diag.summary
    assert "aws autoscaling set-desired-capacity" in _commands(diag)


def test_fragmentation_says_so_and_suggests_packing() -> None:
    bundle = _bundle([h.container_instance("i-01", mem_free=1024),
                      h.container_instance("i-02", mem_free=1024)], desired=2, events=(MEMORY,))
    diag = _diag(bundle, "insufficient-cluster-capacity")
    assert diag.title.endswith("(fragmentation)")
    assert "it is split across instances (fragmentation)" in diag.summary
    assert "(largest free on one instance: 2048 CPU units, 1024 MiB)" in diag.summary
    assert "--placement-strategy type=binpack,field=memory" in _commands(diag)


def test_roomy_cluster_rules_out_capacity_despite_an_old_style_event() -> None:
    """The event alone does not make it a capacity problem when the waiting tasks fit."""
    ids = _ids(_bundle([h.container_instance("i-01")], events=(MEMORY,)))
    assert "insufficient-cluster-capacity" not in ids


def test_event_alone_when_the_model_cannot_be_computed() -> None:
    bundle = _bundle([h.container_instance("i-01")], td=b.task_definition("other"),
                     events=(MEMORY,))
    diag = _diag(bundle, "insufficient-cluster-capacity")
    assert diag.confidence == 0.5  # the capacity model was unknown: "could not check"
    assert any(e.role == "missing" for e in diag.evidence)
    assert "(closest match: insufficient-memory)" in diag.summary


def test_no_usable_instance_is_explained_by_the_disconnected_agent() -> None:
    bundle = _bundle([h.container_instance("i-01", connected=False, running=1)],
                     events=(AGENT,))
    nowhere = _diag(bundle, "insufficient-cluster-capacity")
    assert nowhere.title == "Pending tasks: the cluster has no usable container instance"
    assert nowhere.explained_by == ("agent-disconnected",)
    agent = _diag(bundle, "agent-disconnected")
    assert _roles(agent)["confirm"] == {"service-event-placement-failures"}
    assert agent.explains == ("insufficient-cluster-capacity on prod/web",)
    ids = _ids(bundle)
    assert ids.index("agent-disconnected") < ids.index("insufficient-cluster-capacity")


# -- eni-exhaustion ----------------------------------------------------------------------
def _awsvpc(trunk_id: str | None = None, types: bool = True) -> dict[str, Any]:
    """An m5.large (2 awsvpc slots) holding two awsvpc tasks of web; a third waits."""
    td = b.task_definition("web", networkMode="awsvpc",
                           containers=[b.container_def("web", memory=256)])
    extra: dict[str, Any] = {"account_settings": [h.setting("awsvpcTrunking", "disabled")]}
    if types:
        extra["instance_types"] = [h.instance_type("m5.large", max_eni=3)]
    return _bundle([h.container_instance("i-01", trunk_id=trunk_id)], desired=3, running=2,
                   tasks=[h.placed_task("web", "i-01", awsvpc=True) for _ in range(2)],
                   td=td, events=(ENI,), **extra)


def test_no_eni_slot_is_eni_exhaustion_not_capacity() -> None:
    bundle = _awsvpc()
    diag = _diag(bundle, "eni-exhaustion")
    assert _roles(diag)["confirm"] == {"awsvpc-tasks-no-eni-slot"}
    assert diag.confidence == pytest.approx(0.9)
    assert "have 0 free ENI slot(s)" in diag.summary
    assert "put-account-setting-default --name awsvpcTrunking --value enabled" in _commands(diag)
    assert "insufficient-cluster-capacity" not in _ids(bundle)


def test_trunked_instance_rules_out_eni_exhaustion() -> None:
    assert "eni-exhaustion" not in _ids(_awsvpc(trunk_id="eni-0trunk"))


def test_eni_event_alone_when_the_limits_are_unknown() -> None:
    diag = _diag(_awsvpc(types=False), "eni-exhaustion")
    assert diag.confidence == 0.5 and "RESOURCE:ENI" in diag.summary


# -- placement-constraint-unsatisfiable ---------------------------------------------------
def _member_of(expression: str) -> dict[str, Any]:
    constraint = {"type": "memberOf", "expression": expression}
    return _bundle([h.container_instance("i-01"), h.container_instance("i-02")], desired=2,
                   running=0, svc={"placementConstraints": [constraint]}, events=(MEMBER_OF,))


def test_member_of_nobody_is_placement_constraint_unsatisfiable() -> None:
    diag = _diag(_member_of("attribute:ecs.instance-type == t3.large"),
                 "placement-constraint-unsatisfiable")
    assert _roles(diag)["confirm"] == {"service-placement-member-of"}
    assert "(attribute:ecs.instance-type == t3.large; 2 instance(s) examined)" in diag.summary


def test_matching_member_of_leaves_only_the_event_variant() -> None:
    """The expression matches m5.large: the memberOf check passes, so only the weaker
    event-based hypothesis (an attribute or AZ requirement) remains."""
    diag = _diag(_member_of("attribute:ecs.instance-type == m5.large"),
                 "placement-constraint-unsatisfiable")
    assert diag.confidence == pytest.approx(0.7)
    assert "(closest match: placement-constraint)" in diag.summary


def test_matching_member_of_and_no_event_is_no_constraint_problem() -> None:
    bundle = _member_of("attribute:ecs.instance-type == m5.large")
    bundle["resources"]["services"][0]["events"] = []
    assert "placement-constraint-unsatisfiable" not in _ids(bundle)


def test_distinct_instance_short_of_instances() -> None:
    bundle = _bundle([h.container_instance("i-01"), h.container_instance("i-02")], desired=3,
                     running=2, tasks=[h.placed_task("web", "i-01"), h.placed_task("web", "i-02")],
                     svc={"placementConstraints": [{"type": "distinctInstance"}]})
    diag = _diag(bundle, "placement-constraint-unsatisfiable")
    assert _roles(diag)["confirm"] == {"service-placement-distinct-instance"}
    assert "pending-tasks-insufficient-capacity" in _roles(diag)["support"]  # one-per-instance
    assert "need 3 instances, but only 2" in diag.summary
    assert "insufficient-cluster-capacity" not in _ids(bundle)


# -- host-port-conflict --------------------------------------------------------------------
def _ports(second: tuple[int, ...], events: tuple[str, ...] = (PORT,)) -> dict[str, Any]:
    td = b.task_definition("web", networkMode="bridge", containers=[b.container_def(
        "web", memory=256, portMappings=[{"containerPort": 8080, "hostPort": 80}])])
    return _bundle([h.container_instance("i-01", ports=(80,)),
                    h.container_instance("i-02", ports=second)], desired=3, running=2, td=td,
                   events=events)


def test_static_port_taken_everywhere_is_host_port_conflict() -> None:
    diag = _diag(_ports((80,)), "host-port-conflict")
    assert _roles(diag)["confirm"] == {"static-host-port-taken"}
    assert "service-event-placement-failures" in _roles(diag)["support"]
    assert "static host port 80/tcp" in diag.summary and "taken on i-01, i-02" in diag.summary
    assert "maximumPercent=100" in _commands(diag)


def test_a_free_port_rules_out_host_port_conflict() -> None:
    assert "host-port-conflict" not in _ids(_ports((), events=()))


# -- autoscaling-at-max: the capacity provider's group cannot grow ----------------------------
def _asg(desired: int) -> dict[str, Any]:
    return _short_of_cpu(
        events=(CPU,), svc={"capacityProviderStrategy": [{"capacityProvider": "prod-cp",
                                                          "weight": 1}]},
        capacity_providers=[s.capacity_provider("prod-cp", "prod-asg")],
        auto_scaling_groups=[s.auto_scaling_group("prod-asg", desired=desired, max_size=2)])


def test_asg_at_max_explains_the_shortage() -> None:
    bundle = _asg(desired=2)
    diag = _diag(bundle, "autoscaling-at-max")
    assert diag.scenario == "tasks-pending"
    assert _roles(diag)["confirm"] == {"service-asg-at-max"}
    assert diag.explains == ("insufficient-cluster-capacity on prod/web",)
    assert "capacity providers (prod-asg) is at its MaxSize" in diag.summary
    assert "--auto-scaling-group-names prod-asg" in _commands(diag)
    ids = _ids(bundle)
    assert ids.index("autoscaling-at-max") < ids.index("insufficient-cluster-capacity")


def test_asg_with_room_rules_out_autoscaling_at_max() -> None:
    ids = _ids(_asg(desired=1))
    assert "autoscaling-at-max" not in ids and "insufficient-cluster-capacity" in ids


# -- agent-disconnected on the instances themselves ---------------------------------------
def test_disconnected_agents_make_one_diagnosis_per_cluster() -> None:
    bundle = _bundle([h.container_instance("i-01", connected=False, running=2),
                      h.container_instance("i-02", connected=False, running=1),
                      h.container_instance("i-03")], desired=2, running=2, pending=0)
    diag = _diag(bundle, "agent-disconnected", "prod")
    assert {e.resource for e in diag.evidence} == {h.ci_arn("i-01"), h.ci_arn("i-02")}
    assert "cluster prod — i-01 among them, with 2 running task(s)" in diag.summary
    assert "aws ssm send-command --instance-ids i-01" in _commands(diag)


def test_connected_agents_rule_out_agent_disconnected() -> None:
    """Pending for CPU on connected instances: capacity, not the agent."""
    bundle = _short_of_cpu(events=(CPU,))
    assert not [d for d in _report(bundle).diagnoses if d.id == "agent-disconnected"]
    assert "insufficient-cluster-capacity" in _ids(bundle)
