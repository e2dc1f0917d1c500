"""The playbook walk's semantics on hand-made findings (no AWS, no bundle)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from checker import rank
from checker.facts import Facts
from checker.model import Finding, Result, Severity, Status
from checker.playbook import parse
from checker.registry import CheckSpec, Prior, Registry, check
from checker.walk import walk

DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
IDS = ("sym", "conf", "alt1", "alt2", "sup", "con", "out", "nat", "pull")


def _spec(id_: str) -> CheckSpec:
    def fn(facts: Facts, prior: Prior) -> Iterator[Result]:
        yield from ()
    fn.__name__ = id_
    check(id=id_, area="service", severity=Severity.HIGH, title=f"title of {id_}",
          needs=(), docs=DOCS)(fn)
    return fn.__ecsdoctor_check__  # type: ignore[attr-defined,no-any-return]


REG = Registry([_spec(i) for i in IDS])
SVC = {n: f"arn:aws:ecs:us-east-1:1:service/prod/{n}" for n in ("a", "b", "c")}


def f(check_id: str, svc: str, status: str = "fail", **data: object) -> Finding:
    return Finding(check_id, Status(status), Severity.HIGH, f"res-{check_id}-{svc}",
                   f"{check_id} on {svc}", data, SVC[svc])


def book(hyps: str, symptoms: str = "[sym]") -> list:  # type: ignore[type-arg]
    text = f"scenario: s\ntitle: S\nsymptoms: {symptoms}\nhypotheses:\n{hyps}"
    return [parse(yaml.safe_load(text), "s.yaml", REG)]


def hyp(diagnosis: str, **keys: str) -> str:
    lines = [f"  - diagnosis: {diagnosis}", "    confidence: 0.8", "    summary: x",
             "    remediation: [{step: s}]"]
    lines += [f"    {k}: {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def ids(cands: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(c.diagnosis, c.subject.rsplit("/", 1)[-1]) for c in cands}


def test_where_filters_on_finding_data() -> None:
    books = book(hyp("eni-exhaustion", confirm="[{check: conf, where: {reason: eni}}]") +
                 hyp("insufficient-cluster-capacity",
                     confirm="[{check: conf, where: {reason: [cpu, memory]}}]"))
    found = [f("sym", "a"), f("conf", "a", reason="eni"),
             f("sym", "b"), f("conf", "b", reason="memory")]
    assert ids(walk(books, found)) == {("eni-exhaustion", "a"),
                                      ("insufficient-cluster-capacity", "b")}


def test_where_matches_list_valued_data() -> None:
    books = book(hyp("eni-exhaustion", confirm="[{check: conf, where: {reasons: eni}}]"))
    assert ids(walk(books, [f("sym", "a"), f("conf", "a", reasons=["cpu", "eni"])]))


@pytest.mark.parametrize(("alt1", "alt2", "expected"), [
    ("fail", "pass", 0.8), ("pass", "pass", None), ("unknown", "fail", 0.8),
    ("unknown", "pass", None), ("unknown", "unknown", None),
])
def test_confirm_any(alt1: str, alt2: str, expected: float | None) -> None:
    books = book(hyp("memory-undersized", confirm_any="[alt1, alt2]"))
    cands = walk(books, [f("sym", "a"), f("alt1", "a", alt1), f("alt2", "a", alt2)])
    assert (cands[0].confidence if cands else None) == expected


def test_unknown_confirm_caps_and_contradict_lowers_support_raises() -> None:
    books = book(hyp("memory-leak", confirm="[conf, alt1]", support="[sup]",
                     contradict="[con]"))
    base = [f("sym", "a"), f("conf", "a")]
    (c,) = walk(books, [*base, f("alt1", "a", "unknown")])
    assert c.confidence == 0.5 and any(e.role == "missing" for e in c.evidence)
    (c,) = walk(books, [*base, f("alt1", "a"), f("con", "a")])
    assert c.confidence == pytest.approx(0.6)
    (c,) = walk(books, [*base, f("alt1", "a"), f("sup", "a")])
    assert c.confidence == pytest.approx(0.85)
    assert walk(books, [*base, f("alt1", "a", "pass")]) == []


def test_rule_out_rejects() -> None:
    books = book(hyp("memory-undersized", confirm="[conf]", rule_out="[out]"))
    assert walk(books, [f("sym", "a"), f("conf", "a"), f("out", "a")]) == []
    (c,) = walk(books, [f("sym", "a"), f("conf", "a"), f("out", "a", "unknown")])
    assert c.confidence == 0.75


def test_group_by_merges_services_behind_one_cause_and_weighs_them() -> None:
    books = book(hyp("nat-connection-exhaustion", confirm="[nat]", group_by="nat_gateway_id"),
                 symptoms="[nat]")
    found = [f("nat", s, nat_gateway_id="nat-1", affected_tasks=2) for s in ("a", "b")]
    found.append(f("nat", "c", nat_gateway_id="nat-2", affected_tasks=2))
    cands = walk(books, found)
    by_subject = {c.subject: c for c in cands}
    assert set(by_subject) == {"nat-1", "nat-2"}
    assert by_subject["nat-1"].services == [SVC["a"], SVC["b"]]
    assert "one cause behind 2 services" in by_subject["nat-1"].why[0]
    desired = dict.fromkeys(SVC.values(), 2)
    assert rank.impact(by_subject["nat-1"], desired) == 2.0
    assert rank.impact(by_subject["nat-2"], desired) == 1.0
    diags = rank.rank(cands, desired)
    assert diags[0].resources == (SVC["a"], SVC["b"], "nat-1")


def test_a_group_of_many_keeps_every_service_once_sorted_and_evidence_once() -> None:
    """Three services behind one NAT gateway, one of them with the same finding twice:
    the merged diagnosis lists each service once in order and each piece of evidence once
    (the grouping keeps its sets while merging; the answer must not change)."""
    books = book(hyp("nat-connection-exhaustion", confirm="[nat]", group_by="nat_gateway_id"),
                 symptoms="[nat]")
    found = [f("nat", s, nat_gateway_id="nat-1", affected_tasks=n)
             for s, n in (("c", 1), ("a", 3), ("b", 2), ("a", 3))]
    (cand,) = walk(books, found)
    assert cand.services == [SVC["a"], SVC["b"], SVC["c"]]
    assert [(e.resource, e.message) for e in cand.evidence] == [
        ("res-nat-a", "nat on a"), ("res-nat-b", "nat on b"), ("res-nat-c", "nat on c")]
    assert cand.affected == {SVC["a"]: 3, SVC["b"]: 2, SVC["c"]: 1}
    assert cand.why[0].startswith("one cause behind 3 services: prod/a, prod/b, prod/c")


def test_a_cause_that_explains_ranks_above_what_it_explains() -> None:
    books = book(
        hyp("image-pull-failure", confirm="[pull]") +
        hyp("egress-route-missing", confirm="[conf]", severity="medium",
            explains="[image-pull-failure]"), symptoms="[sym, pull]")
    found = [f("sym", "a"), f("pull", "a", affected_tasks=2), f("conf", "a", affected_tasks=1)]
    cands = walk(books, found)
    diags = rank.rank(cands, {SVC["a"]: 2})
    assert [d.id for d in diags] == ["egress-route-missing", "image-pull-failure"]
    cause, effect = diags
    assert cause.explains == ("image-pull-failure on prod/a",)
    assert effect.explained_by == ("egress-route-missing",)
    assert cause.score > effect.score


def test_bad_refs_are_clear_errors() -> None:
    from checker.errors import PlaybookError

    with pytest.raises(PlaybookError, match=r"confirm\[0\].where: expected a mapping"):
        book(hyp("memory-leak", confirm="[{check: conf, where: []}]"))
    with pytest.raises(PlaybookError, match=r"confirm\[0\].chek: unknown key"):
        book(hyp("memory-leak", confirm="[{chek: conf}]"))
    with pytest.raises(PlaybookError, match="explains: expected a list of diagnosis ids"):
        book(hyp("memory-leak", confirm="[conf]", explains="[nope]"))


def test_caps_from_unknown_evidence_hold_against_support() -> None:
    books = book(hyp("memory-undersized", confirm="[conf]", rule_out="[out]",
                     support="[sup, alt1, alt2]"))
    found = [f("sym", "a"), f("conf", "a"), f("out", "a", "unknown"),
             f("sup", "a"), f("alt1", "a"), f("alt2", "a")]
    (c,) = walk(books, found)
    assert c.confidence == 0.75
