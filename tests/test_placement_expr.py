"""The cluster query language evaluator (checks/lib/placement_expr.py) on the documented forms."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.lib.placement_expr import (
    BoolOp,
    Comparison,
    Not,
    PlacementSyntaxError,
    evaluate,
    match_instances,
    parse,
    subjects,
)
from tests import builders_service as s

M5_1A = s.container_instance("i-0a1", instance_type="m5.large", az="us-east-1a", running=1,
                             attrs={"stack": "prod"})
T3_1B = s.container_instance("i-0b2", instance_type="t3.medium", az="us-east-1b", running=0)
OLD = dict(T3_1B, registeredAt="2018-01-01T00:00:00+00:00", agentConnected=False,
           versionInfo={"agentVersion": "1.14.1"})


# Every example expression of the documentation page parses to the expected tree.
@pytest.mark.parametrize(("text", "tree"), [
    ("attribute:ecs.instance-type == t2.small",
     Comparison("attribute:ecs.instance-type", "==", ("t2.small",))),
    ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
     Comparison("attribute:ecs.availability-zone", "in", ("us-east-1a", "us-east-1b"))),
    ("attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d",
     BoolOp("and", Comparison("attribute:ecs.instance-type", "=~", ("g2.*",)),
            Comparison("attribute:ecs.availability-zone", "!=", ("us-east-1d",)))),
    ("task:group == service:production", Comparison("task:group", "==", ("service:production",))),
    ("not(task:group == database)", Not(Comparison("task:group", "==", ("database",)))),
    ("runningTasksCount == 1", Comparison("runningTasksCount", "==", ("1",))),
    ("agentVersion < 1.14.5", Comparison("agentVersion", "<", ("1.14.5",))),
    ("registeredAt < 2018-02-13", Comparison("registeredAt", "<", ("2018-02-13",))),
    ("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
     Comparison("ec2InstanceId", "in", ("i-abcd1234", "i-wxyx7890"))),
    ("attribute:stack not_exists", Comparison("attribute:stack", "!exists")),
    ("attribute:stack !exists || attribute:x equals y",
     BoolOp("or", Comparison("attribute:stack", "!exists"), Comparison("attribute:x", "==",
                                                                       ("y",)))),
    ("attribute:t =~ t3\\.(medium|large)",
     Comparison("attribute:t", "=~", ("t3\\.(medium|large)",))),
    ("(attribute:t =~ [a-z]+3\\..*)", Comparison("attribute:t", "=~", ("[a-z]+3\\..*",))),
])
def test_documented_forms_parse(text: str, tree: Any) -> None:
    assert parse(text) == tree


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    assert parse("a == 1 or b == 2 and c == 3") == BoolOp(
        "or", Comparison("a", "==", ("1",)),
        BoolOp("and", Comparison("b", "==", ("2",)), Comparison("c", "==", ("3",))))
    assert parse("(a == 1 or b == 2) and c == 3").op == "and"  # type: ignore[union-attr]


@pytest.mark.parametrize("text", [
    "", "attribute:x ==", "attribute:x === y", "(attribute:x == y", "attribute:x in [a, b",
    "attribute:x in a", "== y", "attribute:x == y and", "attribute:x == y )",
])
def test_malformed_expressions_raise_syntax_error(text: str) -> None:
    with pytest.raises(PlacementSyntaxError):
        parse(text)


@pytest.mark.parametrize(("text", "m5", "t3"), [
    ("attribute:ecs.instance-type == t3.medium", False, True),
    ("attribute:ecs.instance-type != t3.medium", True, False),
    ("attribute:ecs.instance-type =~ t3.*", False, True),
    ("attribute:ecs.instance-type !~ t3.*", True, False),
    ("attribute:ecs.instance-type =~ t3", False, False),         # whole-value match
    ("attribute:ecs.availability-zone in [us-east-1a, us-east-1c]", True, False),
    ("attribute:ecs.availability-zone not_in [us-east-1a]", False, True),
    ("attribute:stack exists", True, False),
    ("attribute:stack == prod", True, False),                    # custom attribute
    ("attribute:stack !exists and attribute:ecs.instance-type =~ t3.*", False, True),
    ("runningTasksCount > 0", True, False),
    ("runningTasksCount <= 0", False, True),
    ("ec2InstanceId in ['i-0a1', 'i-0ff']", True, False),
    ("agentConnected == true", True, True),
    ("not (attribute:ecs.availability-zone == us-east-1a)", False, True),
    ("! attribute:stack exists", False, True),
])
def test_evaluate_on_instances(text: str, m5: bool, t3: bool) -> None:
    node = parse(text)
    assert (evaluate(node, M5_1A), evaluate(node, T3_1B)) == (m5, t3)


@pytest.mark.parametrize(("text", "expected"), [
    ("agentVersion < 1.14.5", True),
    ("agentVersion >= 1.89.1", False),
    ("registeredAt < 2018-02-13", True),
    ("agentConnected == false", True),
])
def test_versions_dates_and_agent_state(text: str, expected: bool) -> None:
    assert evaluate(parse(text), OLD) is expected


def test_task_group_needs_the_tasks_and_is_three_valued() -> None:
    node = parse("task:group == service:web")
    assert evaluate(node, M5_1A) is None                       # no tasks: cannot tell
    assert evaluate(node, M5_1A, {"service:web"}) is True
    assert evaluate(parse("not(task:group == database)"), M5_1A, {"service:web"}) is True
    # unknown and False is False; unknown or True is True
    assert evaluate(parse("task:group == x and attribute:stack == dev"), M5_1A) is False
    assert evaluate(parse("task:group == x or attribute:stack == prod"), M5_1A) is True
    assert evaluate(parse("someFutureSubject == 1"), M5_1A) is None


def test_match_instances_reports_matching_undecided_and_errors() -> None:
    verdict = match_instances("attribute:ecs.instance-type =~ t3.*", [M5_1A, T3_1B])
    assert (verdict.matching, verdict.examined, verdict.error) == (("i-0b2",), 2, None)
    assert match_instances("task:group == a", [M5_1A]).undecided == ("i-0a1",)
    bad = match_instances("attribute:x === y", [M5_1A])
    assert bad.error and bad.expression == "attribute:x === y" and bad.examined == 0
    bad_regex = match_instances("attribute:stack =~ (unclosed", [M5_1A])
    assert bad_regex.error is not None or bad_regex.undecided == ("i-0a1",)


def test_subjects() -> None:
    assert subjects(parse("attribute:a == 1 and not(task:group == b or runningTasksCount > 2)")
                    ) == {"attribute:a", "task:group", "runningTasksCount"}


@given(st.text(max_size=80))
def test_parse_never_fails_with_anything_but_a_syntax_error(text: str) -> None:
    try:
        node = parse(text)
    except PlacementSyntaxError:
        return
    evaluate(node, M5_1A)  # and whatever parsed, evaluation does not raise


@given(st.dictionaries(st.sampled_from(["agentConnected", "runningTasksCount", "registeredAt",
                                        "versionInfo", "ec2InstanceId", "attributes"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=5),
                                 st.booleans())))
def test_odd_instances_do_not_crash_evaluation(ci: dict[str, Any]) -> None:
    if not isinstance(ci.get("attributes"), list):
        ci.pop("attributes", None)
    if not isinstance(ci.get("versionInfo"), dict):
        ci.pop("versionInfo", None)
    for text in ("agentVersion < 1.2", "registeredAt > 2018-01-01", "runningTasksCount >= 1",
                 "agentConnected == true", "attribute:a exists"):
        evaluate(parse(text), ci)
