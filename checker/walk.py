"""The playbook walk: from fired symptoms to confirmed hypotheses, per subject.

Evidence is correlated per *subject*: the service a finding is about (its `service`), or,
for findings about no service, the resource. For each playbook, every subject on which a
symptom failed is tried against every hypothesis:

- `confirm`: every reference must fail for the subject (a pass rejects the hypothesis,
  an `unknown` caps its confidence); `confirm_any`: at least one must fail;
- `rule_out`: any failure rejects it; `contradict`: each failure lowers its confidence;
- `support`: each failure raises it.

A symptom the hypothesis does not weigh is cited beside its proof, unless another
diagnosis's hypotheses weigh it: then it is that diagnosis's evidence, not this one's.

Then candidates of a hypothesis with `group_by` that share that data value (the same NAT
gateway, the same subnet) merge into one diagnosis over all their services, and a
candidate whose hypothesis `explains` other diagnoses is linked to the ones it explains on
the same services. The numbers come from a `checker.ranking.Weights` table passed to
`walk` (DEFAULT unless a caller injects another); docs/ranking.md states them and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.model import Evidence, Finding, Status
from checker.playbook import Hypothesis, Playbook, Ref
from checker.ranking import DEFAULT, Weights


@dataclass(slots=True)
class Candidate:
    """A confirmed hypothesis for one subject (or one group of subjects), before ranking."""

    playbook: Playbook
    hypothesis: Hypothesis
    subject: str
    services: list[str]
    confidence: float
    evidence: list[Evidence] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    affected: dict[str, int | None] = field(default_factory=dict)
    explains: list[str] = field(default_factory=list)
    explained_by: list[str] = field(default_factory=list)
    #: ceiling (the table's max_confidence, lowered by unknown evidence); bonuses never
    #: lift the confidence above it
    cap: float = DEFAULT.max_confidence

    def raise_by(self, bonus: float) -> None:
        self.confidence = min(self.cap, self.confidence + bonus)

    @property
    def diagnosis(self) -> str:
        return self.hypothesis.diagnosis

    @property
    def service(self) -> str | None:
        return self.services[0] if len(self.services) == 1 else None


class _Index:
    """Failing and unknown findings by (check, subject); check-wide unknowns apply to every
    subject. Passing and skipped ones are not kept: a subject without a failing or unknown
    finding passes either way (a large account's findings are two-thirds passes)."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.by: dict[tuple[str, str], list[Finding]] = {}
        self.global_unknown: dict[str, Finding] = {}
        fail, unknown = Status.FAIL, Status.UNKNOWN
        for f in findings:
            if f.status is not fail and f.status is not unknown:
                continue
            self.by.setdefault((f.check, f.service or f.resource), []).append(f)
            if f.status is unknown and f.service is None:
                self.global_unknown.setdefault(f.check, f)
        #: per check, its subjects' findings in subject order (what `fired` reads: sorting
        #: every finding again for each symptom made the walk O(symptoms × n log n))
        subjects: dict[str, list[str]] = {}
        for check, subject in self.by:
            subjects.setdefault(check, []).append(subject)
        self.by_check: dict[str, list[list[Finding]]] = {
            check: [self.by[(check, subject)] for subject in sorted(names)]
            for check, names in subjects.items()}

    def status(self, ref: Ref, subject: str) -> tuple[Status, list[Finding]]:
        found = self.by.get((ref.check, subject), [])
        fails = [f for f in found if f.status is Status.FAIL and ref.matches(f.data)]
        if fails:
            return Status.FAIL, fails
        unknowns = [f for f in found if f.status is Status.UNKNOWN]
        if unknowns:
            return Status.UNKNOWN, unknowns
        if ref.check in self.global_unknown:
            return Status.UNKNOWN, [self.global_unknown[ref.check]]
        return Status.PASS, []

    def fired(self, ref: Ref) -> list[Finding]:
        return [f for fs in self.by_check.get(ref.check, ()) for f in fs
                if f.status is Status.FAIL and ref.matches(f.data)]


def _evidence(f: Finding, role: str) -> Evidence:
    return Evidence(f.check, f.status, f.resource, f.message, role, dict(f.data))


class _Trial:
    """One hypothesis tried on one subject; `ok` false once it is rejected."""

    def __init__(self, idx: _Index, book: Playbook, hyp: Hypothesis, subject: str,
                 weights: Weights) -> None:
        self.idx, self.book, self.hyp, self.subject = idx, book, hyp, subject
        self.w = weights
        self.ok = True
        self.cand = Candidate(book, hyp, subject, [], hyp.confidence,
                              cap=weights.max_confidence)
        self.seen: set[tuple[str, str, str]] = set()

    def add(self, fs: Sequence[Finding], role: str) -> None:
        for f in fs:
            key = (f.check, f.resource, f.message)
            if key not in self.seen:
                self.seen.add(key)
                self.cand.evidence.append(_evidence(f, role))
                if f.status is Status.FAIL and f.service:
                    prev = self.cand.affected.get(f.service)
                    n = f.data.get("affected_tasks")
                    if isinstance(n, int) and not isinstance(n, bool):
                        self.cand.affected[f.service] = max(prev or 0, n)
                    elif f.service not in self.cand.affected:
                        self.cand.affected[f.service] = None  # the evidence does not say

    def title(self, ref: Ref) -> str:
        return f"{self.book.title_of(ref.check)} ({ref.label()})"

    def confirm(self) -> None:
        every = [(r, *self.idx.status(r, self.subject)) for r in self.hyp.confirm]
        anys = [(r, *self.idx.status(r, self.subject)) for r in self.hyp.confirm_any]
        any_fail = [x for x in anys if x[1] is Status.FAIL]
        if any(st is Status.PASS for _, st, _ in every) or (
                anys and all(st is Status.PASS for _, st, _ in anys)):
            self.ok = False
        elif not any_fail and not any(st is Status.FAIL for _, st, _ in every):
            self.ok = False  # nothing positive: a diagnosis needs a failing piece
        if not self.ok:
            return
        for ref, st, fs in every + (any_fail or anys):
            if st is Status.FAIL:
                self.add(fs, "confirm")
                self.cand.why.append(f"confirmed: {self.title(ref)}")
            else:
                self._missing(ref, fs, self.w.unknown_confirm_cap, "could not check")

    def _missing(self, ref: Ref, fs: list[Finding], cap: float, verb: str) -> None:
        if not fs:
            return
        self.cand.cap = min(self.cand.cap, cap)
        self.cand.confidence = min(self.cand.confidence, cap)
        self.add(fs, "missing")
        self.cand.why.append(f"{verb} {ref.label()}: {fs[0].message}")

    def weigh(self) -> None:
        for ref in self.hyp.rule_out:
            st, fs = self.idx.status(ref, self.subject)
            if st is Status.FAIL:
                self.ok = False
                return
            if st is Status.UNKNOWN:
                self._missing(ref, fs, self.w.unknown_rule_out_cap, "could not rule out via")
            else:
                self.cand.why.append(f"alternative ruled out: {ref.label()} passed")
        for ref in self.hyp.contradict:
            st, fs = self.idx.status(ref, self.subject)
            if st is Status.FAIL:
                self.cand.confidence = max(self.w.min_confidence,
                                           self.cand.confidence - self.w.contradict_penalty)
                self.add(fs, "contradict")
                self.cand.why.append(f"weakened by: {self.title(ref)}")
        for ref in self.hyp.support:
            st, fs = self.idx.status(ref, self.subject)
            if st is Status.FAIL:
                self.cand.raise_by(self.w.support_bonus)
                self.add(fs, "support")
                self.cand.why.append(f"supported: {self.title(ref)}")


def _foreign(book: Playbook) -> dict[str, frozenset[str]]:
    """Per diagnosis, the playbook's checks that only other diagnoses' hypotheses weigh.
    A symptom among them, fired on the same service, is that diagnosis's evidence, not
    this one's (a plaintext secret cited a missing health check; a blocked load balancer,
    a dead default route); a symptom no hypothesis weighs (the playbook's entry point)
    stays common to all."""
    weighed: dict[str, set[str]] = {}
    for h in book.hypotheses:
        weighed.setdefault(h.diagnosis, set()).update(r.check for r in h.refs())
    every = set().union(*weighed.values())
    return {diag: frozenset(every - mine) for diag, mine in weighed.items()}


def _try(idx: _Index, book: Playbook, hyp: Hypothesis, subject: str,
         symptoms: Sequence[Finding], weights: Weights,
         foreign: frozenset[str] = frozenset()) -> Candidate | None:
    trial = _Trial(idx, book, hyp, subject, weights)
    trial.confirm()
    if trial.ok:
        trial.weigh()
    if not trial.ok:
        return None
    cand = trial.cand
    used = {e.check for e in cand.evidence}
    for f in symptoms:
        if f.check not in used and f.check not in foreign:
            trial.add([f], "symptom")
            cand.why.insert(0, f"symptom: {book.title_of(f.check)} ({f.check})")
            used.add(f.check)
    cand.services = sorted(cand.affected) or ([subject] if ":service/" in subject else [])
    for ev in cand.evidence:
        if ev.status is Status.FAIL:
            for key, value in ev.data.items():
                cand.data.setdefault(key, value)
    return cand


def _group(cands: list[Candidate]) -> list[Candidate]:
    """Merge candidates of a `group_by` hypothesis that share the grouping value.

    A group's services and evidence keys are kept as sets while it grows and its service
    list is sorted once at the end: rebuilding them on every merge made one cause behind
    1,000 services cost a million set insertions (quadratic in the services merged)."""
    out: list[Candidate] = []
    groups: dict[tuple[str, str], Candidate] = {}
    merged: dict[int, tuple[set[str], set[tuple[str, str, str]]]] = {}
    for cand in cands:
        key_name = cand.hypothesis.group_by
        value = cand.data.get(key_name) if key_name else None
        if isinstance(value, list | tuple) and value and all(
                isinstance(v, str | int) for v in value):
            value = ",".join(sorted(map(str, value)))  # e.g. the hosts a service runs on
        if not key_name or not isinstance(value, str | int):
            out.append(cand)
            continue
        key = (cand.diagnosis, str(value))
        head = groups.get(key)
        if head is None:
            groups[key] = cand
            cand.subject = str(value)
            out.append(cand)
            continue
        if id(head) not in merged:
            merged[id(head)] = (set(head.services),
                                {(e.check, e.resource, e.message) for e in head.evidence})
        services, seen = merged[id(head)]
        services.update(cand.services)
        head.confidence = max(head.confidence, cand.confidence)
        new = [e for e in cand.evidence if (e.check, e.resource, e.message) not in seen]
        head.evidence += new
        seen.update((e.check, e.resource, e.message) for e in new)
        for svc, n in cand.affected.items():
            old = head.affected.get(svc)
            head.affected[svc] = n if old is None else old if n is None else max(n, old)
    for cand in groups.values():
        if id(cand) in merged:
            cand.services = sorted(merged[id(cand)][0])
        if len(cand.services) > 1:
            names = ", ".join(s.split(":service/")[-1] for s in cand.services)
            cand.why.insert(0, f"one cause behind {len(cand.services)} services: {names}")
    return out


def _link(cands: list[Candidate], weights: Weights) -> None:
    """A cause that explains other diagnoses on the same services says so (and is
    corroborated by them); the explained ones point back at it."""
    for cause in cands:
        mine: set[str] | None = None
        for other in cands:
            if other is cause or other.diagnosis not in cause.hypothesis.explains:
                continue
            mine = set(cause.services) if mine is None else mine
            shared = sorted(mine.intersection(other.services))
            if not shared:
                continue
            names = ", ".join(s.split(":service/")[-1] for s in shared)
            cause.explains.append(f"{other.diagnosis} on {names}")
            cause.why.append(f"explains: {other.diagnosis} on {names}")
            cause.raise_by(weights.support_bonus)
            other.explained_by.append(cause.diagnosis)
            other.why.append(f"explained by: {cause.diagnosis} ({cause.subject})")


def walk(playbooks: Sequence[Playbook], findings: Sequence[Finding],
         weights: Weights = DEFAULT) -> list[Candidate]:
    """One candidate per (diagnosis, subject or group); when two scenarios reach the same
    diagnosis for the same subject, the more confident one is kept. `weights` is a
    parameter, not a global, so a variant table (the sensitivity test) cannot leak into
    other callers."""
    idx = _Index(findings)
    best: dict[tuple[str, str], Candidate] = {}
    for book in playbooks:
        by_subject: dict[str, list[Finding]] = {}
        for ref in book.symptoms:
            for f in idx.fired(ref):
                by_subject.setdefault(f.service or f.resource, []).append(f)
        foreign = _foreign(book)
        for subject in sorted(by_subject):
            if ":task-definition/" in subject:
                continue  # a revision no service runs cannot be behind an incident
            for hyp in book.hypotheses:
                cand = _try(idx, book, hyp, subject, by_subject[subject], weights,
                            foreign[hyp.diagnosis])
                if cand is None:
                    continue
                key = (hyp.diagnosis, subject)
                if key not in best or cand.confidence > best[key].confidence:
                    best[key] = cand
    cands = _group([best[k] for k in sorted(best)])
    _link(cands, weights)
    return cands
