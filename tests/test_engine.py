"""The check registry, the DAG and the runner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from checker import graph
from checker.errors import RegistryError
from checker.facts import Facts
from checker.model import Result, Severity, Status, failed, passed
from checker.registry import CheckSpec, Prior, Registry, check, load
from tests import builders as b

DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"


def _spec(id: str, after: tuple[str, ...] = (), needs: tuple[str, ...] = ("services",),
          body=None) -> CheckSpec:  # type: ignore[no-untyped-def]
    def fn(facts: Facts, prior: Prior) -> Iterator[Result]:
        if body:
            yield from body(facts, prior)
    fn.__name__ = id.replace("-", "_")
    check(id=id, area="service", severity=Severity.LOW, title=id, needs=needs, after=after,
          docs=DOCS)(fn)
    return fn.__ecsdoctor_check__  # type: ignore[attr-defined,no-any-return]


def test_cycle_is_a_clear_error() -> None:
    reg = Registry([_spec("a", after=("b",)), _spec("b", after=("a",))])
    with pytest.raises(RegistryError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        graph.build(reg)


def test_unknown_dependency_is_a_clear_error() -> None:
    with pytest.raises(RegistryError, match=r"'a' .* runs after unknown check 'nope'"):
        graph.build(Registry([_spec("a", after=("nope",))]))


def test_duplicate_id_and_bad_metadata_fail_at_declaration() -> None:
    with pytest.raises(RegistryError, match="duplicate check id 'a'"):
        Registry([_spec("a"), _spec("a")])
    with pytest.raises(RegistryError, match="unknown bundle collection 'servics'"):
        _spec("x", needs=("servics",))


def test_order_is_topological_and_lexicographic() -> None:
    reg = Registry([_spec("c"), _spec("b", after=("c",)), _spec("a")])
    assert graph.order(reg) == ["a", "c", "b"]


def test_downstream_check_reads_upstream_findings() -> None:
    def up(facts: Facts, prior: Prior) -> Iterator[Result]:
        yield failed("r1", "bad", service="svc")

    def down(facts: Facts, prior: Prior) -> Iterator[Result]:
        for f in prior.failed("up"):
            yield passed(f.resource, f"saw {f.message} on {f.service}")

    reg = Registry([_spec("up", body=up), _spec("down", after=("up",), body=down)])
    found = graph.run(reg, Facts(b.ecs_bundle([], [])))
    assert [(f.check, f.message) for f in found] == [("down", "saw bad on svc"), ("up", "bad")]


def test_missing_or_failed_collection_makes_unknown_without_calling() -> None:
    calls: list[str] = []

    def body(facts: Facts, prior: Prior) -> Iterator[Result]:
        calls.append("called")
        yield passed("x", "fine")

    reg = Registry([_spec("a", needs=("container_instances",), body=body)])
    (f,) = graph.run(reg, Facts(b.ecs_bundle([], [])))
    assert f.status is Status.UNKNOWN and "needs container_instances (not collected)" in f.message
    bundle = b.ecs_bundle([], [])
    bundle["resources"]["container_instances"] = []
    bundle["errors"] = [{"collection": "container_instances", "code": "AccessDeniedException",
                         "operation": "ecs:DescribeContainerInstances", "message": "denied"}]
    (f,) = graph.run(reg, Facts(bundle))
    assert f.status is Status.UNKNOWN
    assert "ecs:DescribeContainerInstances AccessDeniedException" in f.message
    assert calls == []


def test_a_crashing_check_becomes_unknown_not_a_crash() -> None:
    def body(facts: Facts, prior: Prior) -> Iterator[Result]:
        raise KeyError("boom")
        yield  # pragma: no cover

    (f,) = graph.run(Registry([_spec("a", body=body)]), Facts(b.ecs_bundle([], [])))
    assert f.status is Status.UNKNOWN and "KeyError" in f.message


def test_a_check_with_nothing_to_look_at_is_skipped() -> None:
    (f,) = graph.run(Registry([_spec("a")]), Facts(b.ecs_bundle([], [])))
    assert f.status is Status.SKIPPED


def test_real_registry_loads_as_a_dag() -> None:
    reg = load()
    order = graph.order(reg)
    assert set(order) == set(reg.specs)
    assert order.index("stopped-task-oom") < order.index("oom-after-long-uptime")


def test_facts_generic_index_and_host_lookups() -> None:
    from checker.facts import attribute, resource_value

    ci = {"containerInstanceArn": "arn:aws:ecs:us-east-1:1:container-instance/prod/abc",
          "ec2InstanceId": "i-0abc", "attributes": [{"name": "ecs.instance-type",
                                                       "value": "t3.medium"}],
          "registeredResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                                  {"name": "PORTS", "type": "STRINGSET",
                                   "stringSetValue": ["22", "80"]}]}
    bundle = b.bundle(container_instances=[ci],
                      instance_types=[{"InstanceType": "t3.medium",
                                       "NetworkInfo": {"MaximumNetworkInterfaces": 3}}])
    facts = Facts(bundle)
    assert attribute(ci, "ecs.instance-type") == "t3.medium" and attribute(ci, "x") is None
    assert resource_value(ci, "registeredResources", "CPU") == 2048
    assert resource_value(ci, "registeredResources", "PORTS") == ["22", "80"]
    # no ec2_instances collected: the type comes from the ECS attribute
    assert facts.instance_type_of(ci)["NetworkInfo"]["MaximumNetworkInterfaces"] == 3  # type: ignore[index]
    assert facts.lookup("instance_types", "InstanceType", "m5.large") is None
    with pytest.raises(Exception, match="ec2_instances: not collected"):
        facts.index("ec2_instances", "InstanceId")


def test_burstable_baseline_table() -> None:
    from checks.lib.knowledge import burstable

    t3 = burstable("t3.large")
    assert t3 == {"family": "t3", "credits_per_hour": 36, "max_credits": 864, "vcpus": 2,
                  "baseline_pct": 30, "default_mode": "unlimited"}
    assert burstable("t2.micro")["default_mode"] == "standard"  # type: ignore[index]
    assert burstable("m5.large") is None and burstable(None) is None
    for family in ("t2", "t3", "t3a", "t4g"):  # the table's own formula holds on every row
        for size in ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"):
            row = burstable(f"{family}.{size}")
            assert row is not None
            computed = row["credits_per_hour"] / row["vcpus"] / 60 * 100
            assert abs(computed - row["baseline_pct"]) < 0.6, (family, size)


def test_facts_survive_junk_fields() -> None:
    from checker.facts import attribute, resource_value

    ci = {"attributes": ["junk", None, {"name": "a", "value": "1"}], "registeredResources": "x"}
    assert attribute(ci, "a") == "1" and resource_value(ci, "registeredResources", "CPU") is None
    facts = Facts(b.bundle(task_definitions=[{"taskDefinitionArn": None}, {"family": "x"},
                                             {"taskDefinitionArn": ["a"]}]))
    assert facts.task_definition(None) is None and facts.task_definition(["a"]) is None
    assert facts.task_definition("arn:aws:ecs:us-east-1:1:task-definition/x:1") is None
