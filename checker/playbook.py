"""Playbooks: the documented troubleshooting scenarios as data, and the walk over them.

A playbook names symptoms (check ids whose failure starts the walk) and hypotheses (a
diagnosis id, the checks that confirm it, support it or rule it out, and the remediation).
Files are validated against the live check registry and the diagnosis catalog at load, so a
typo fails in CI with `playbooks/x.yaml: hypotheses[0].confirm[1]: unknown check '…'`.

The walk correlates evidence per *subject*: the service a finding is about (or, for findings
about no service, the resource). A hypothesis is confirmed for a subject when every confirm
check failed for it; a rule_out failure rejects it; `unknown` evidence keeps it but caps its
confidence (see docs/ranking.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from checker.errors import PlaybookError
from checker.model import Evidence, Finding, Remediation, Severity, Status
from checker.registry import Registry

_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_PLAYBOOK_KEYS = {"scenario", "title", "description", "symptoms", "hypotheses"}
_HYPOTHESIS_KEYS = {"diagnosis", "title", "severity", "confidence", "confirm", "support",
                    "rule_out", "summary", "remediation", "references"}
#: Confidence caps when evidence could not be checked (documented in docs/ranking.md).
UNKNOWN_CONFIRM_CAP = 0.5
UNKNOWN_RULE_OUT_CAP = 0.75
SUPPORT_BONUS = 0.05
MAX_CONFIDENCE = 0.99


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: str
    title: str
    severity: Severity


@dataclass(frozen=True, slots=True)
class Hypothesis:
    diagnosis: str
    title: str
    severity: Severity
    confidence: float
    confirm: tuple[str, ...]
    support: tuple[str, ...]
    rule_out: tuple[str, ...]
    summary: str
    remediation: tuple[Remediation, ...]
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Playbook:
    scenario: str
    title: str
    description: str
    symptoms: tuple[str, ...]
    hypotheses: tuple[Hypothesis, ...]
    path: str
    #: check id → title, for every check the playbook names (the "why" chain reads them)
    titles: Mapping[str, str] = field(default_factory=dict)

    def title_of(self, check_id: str) -> str:
        return self.titles.get(check_id, check_id)


@dataclass(slots=True)
class Candidate:
    """A confirmed hypothesis for one subject, before ranking."""

    playbook: Playbook
    hypothesis: Hypothesis
    subject: str
    service: str | None
    confidence: float
    evidence: list[Evidence] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@cache
def catalog() -> dict[str, CatalogEntry]:
    text = resources.files("checker").joinpath("data", "diagnoses.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)["diagnoses"]
    return {k: CatalogEntry(k, v["title"], Severity(v["severity"])) for k, v in raw.items()}


# -- loading and validation ----------------------------------------------------------
class _Where:
    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, key: str, problem: str) -> PlaybookError:
        return PlaybookError(f"{self.path}: {key}: {problem}" if key else f"{self.path}: {problem}")


def _str(w: _Where, data: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise w.error(f"{where}{key}", "required, a non-empty string")
    return value.strip()


def _ids(w: _Where, data: Mapping[str, Any], key: str, where: str, registry: Registry,
         required: bool) -> tuple[str, ...]:
    value = data.get(key, None)
    if value is None:
        if required:
            raise w.error(f"{where}{key}", "required, a list of check ids")
        return ()
    if not isinstance(value, list) or (required and not value):
        raise w.error(f"{where}{key}", "expected a non-empty list of check ids")
    for i, check_id in enumerate(value):
        if check_id not in registry:
            raise w.error(f"{where}{key}[{i}]", f"unknown check {check_id!r}")
    return tuple(value)


def _remediation(w: _Where, value: Any, where: str) -> tuple[Remediation, ...]:
    if not isinstance(value, list) or not value:
        raise w.error(where, "required, a non-empty list of {step, command}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("step"), str):
            raise w.error(f"{where}[{i}]", "expected {step: text, command: optional text}")
        extra = set(item) - {"step", "command"}
        if extra:
            raise w.error(f"{where}[{i}]", f"unknown key {sorted(extra)[0]!r}")
        cmd = item.get("command")
        if cmd is not None and not isinstance(cmd, str):
            raise w.error(f"{where}[{i}].command", "expected text")
        out.append(Remediation(item["step"].strip(), cmd.strip() if cmd else None))
    return tuple(out)


def _hypothesis(w: _Where, raw: Any, i: int, registry: Registry) -> Hypothesis:
    where = f"hypotheses[{i}]."
    if not isinstance(raw, dict):
        raise w.error(f"hypotheses[{i}]", "expected a mapping")
    extra = set(raw) - _HYPOTHESIS_KEYS
    if extra:
        raise w.error(f"{where}{sorted(extra)[0]}", "unknown key")
    diag = _str(w, raw, "diagnosis", where)
    entry = catalog().get(diag)
    if entry is None:
        raise w.error(f"{where}diagnosis", f"unknown diagnosis id {diag!r} (see CONTRACTS.md §3)")
    conf = raw.get("confidence")
    if not isinstance(conf, int | float) or isinstance(conf, bool) or not 0 < conf <= 1:
        raise w.error(f"{where}confidence", "required, a number in (0, 1]")
    try:
        severity = Severity(raw.get("severity", entry.severity.value))
    except ValueError:
        choices = ", ".join(s.value for s in Severity)
        raise w.error(f"{where}severity", f"one of {choices}") from None
    refs = raw.get("references", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) and r.startswith("https://")
                                             for r in refs):
        raise w.error(f"{where}references", "expected a list of https URLs")
    return Hypothesis(
        diagnosis=diag, title=str(raw.get("title") or entry.title), severity=severity,
        confidence=float(conf),
        confirm=_ids(w, raw, "confirm", where, registry, True),
        support=_ids(w, raw, "support", where, registry, False),
        rule_out=_ids(w, raw, "rule_out", where, registry, False),
        summary=_str(w, raw, "summary", where),
        remediation=_remediation(w, raw.get("remediation"), f"{where}remediation"),
        references=tuple(refs),
    )


def parse(raw: Any, path: str, registry: Registry) -> Playbook:
    w = _Where(path)
    if not isinstance(raw, dict):
        raise w.error("", "expected a mapping at the top level")
    extra = set(raw) - _PLAYBOOK_KEYS
    if extra:
        raise w.error(sorted(extra)[0], "unknown key")
    scenario = _str(w, raw, "scenario", "")
    if not _ID.match(scenario):
        raise w.error("scenario", f"{scenario!r} is not a kebab-case id")
    hyps = raw.get("hypotheses")
    if not isinstance(hyps, list) or not hyps:
        raise w.error("hypotheses", "required, a non-empty list")
    return Playbook(
        scenario=scenario, title=_str(w, raw, "title", ""),
        description=_str(w, raw, "description", "", required=False),
        symptoms=_ids(w, raw, "symptoms", "", registry, True),
        hypotheses=tuple(_hypothesis(w, h, i, registry) for i, h in enumerate(hyps)),
        path=path, titles={spec.id: spec.title for spec in registry},
    )


def load_file(path: Path, registry: Registry, display: str | None = None) -> Playbook:
    shown = display or str(path)
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise PlaybookError(f"{shown}: invalid YAML{line}: {problem}") from None
    return parse(raw, shown, registry)


def load(registry: Registry, directory: Path | None = None) -> list[Playbook]:
    """All playbooks, sorted by scenario; scenario ids must be unique."""
    if directory is None:
        files = sorted((f for f in resources.files("playbooks").iterdir()
                        if f.name.endswith(".yaml")), key=lambda f: f.name)
        books = [load_file(Path(str(f)), registry, f"playbooks/{f.name}") for f in files]
    else:
        books = [load_file(p, registry) for p in sorted(directory.glob("*.yaml"))]
    seen: dict[str, str] = {}
    for book in books:
        if book.scenario in seen:
            raise PlaybookError(f"{book.path}: scenario: {book.scenario!r} already defined in "
                                f"{seen[book.scenario]}")
        seen[book.scenario] = book.path
    return sorted(books, key=lambda b: b.scenario)


# -- the walk ---------------------------------------------------------------------------
class _Index:
    """Findings by (check, subject), with check-wide unknowns applying to every subject."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.by: dict[tuple[str, str], list[Finding]] = {}
        self.global_unknown: dict[str, Finding] = {}
        for f in findings:
            subject = f.service or f.resource
            self.by.setdefault((f.check, subject), []).append(f)
            if f.status is Status.UNKNOWN and f.service is None:
                self.global_unknown.setdefault(f.check, f)

    def status(self, check: str, subject: str) -> tuple[Status, list[Finding]]:
        found = self.by.get((check, subject), [])
        fails = [f for f in found if f.status is Status.FAIL]
        if fails:
            return Status.FAIL, fails
        unknowns = [f for f in found if f.status is Status.UNKNOWN]
        if unknowns:
            return Status.UNKNOWN, unknowns
        if check in self.global_unknown:
            return Status.UNKNOWN, [self.global_unknown[check]]
        return Status.PASS, []

    def fired(self, check: str) -> list[Finding]:
        return [f for (c, _), fs in sorted(self.by.items()) if c == check for f in fs
                if f.status is Status.FAIL]


def _evidence(f: Finding, role: str) -> Evidence:
    return Evidence(f.check, f.status, f.resource, f.message, role, dict(f.data))


def _try(idx: _Index, book: Playbook, hyp: Hypothesis, subject: str,
         symptoms: Sequence[Finding]) -> Candidate | None:
    confirm = {c: idx.status(c, subject) for c in hyp.confirm}
    if any(st is Status.PASS for st, _ in confirm.values()):
        return None
    if all(st is Status.UNKNOWN for st, _ in confirm.values()):
        return None  # nothing positive: a diagnosis needs at least one failing piece
    rule_out = {c: idx.status(c, subject) for c in hyp.rule_out}
    if any(st is Status.FAIL for st, _ in rule_out.values()):
        return None
    cand = Candidate(book, hyp, subject, symptoms[0].service if symptoms else None,
                     hyp.confidence)
    seen: set[str] = set()
    for f in symptoms:
        cand.evidence.append(_evidence(f, "symptom"))
        if f.check not in seen and f.check not in (*hyp.confirm, *hyp.support):
            seen.add(f.check)
            cand.why.append(f"symptom: {book.title_of(f.check)} ({f.check})")
    for check_id, (st, fs) in confirm.items():
        role = "confirm" if st is Status.FAIL else "missing"
        cand.evidence.extend(_evidence(f, role) for f in fs if f not in symptoms)
        if st is Status.FAIL:
            cand.why.append(f"confirmed: {book.title_of(check_id)} ({check_id})")
        else:
            cand.confidence = min(cand.confidence, UNKNOWN_CONFIRM_CAP)
            cand.why.append(f"could not check {check_id}: {fs[0].message}")
    for check_id, (st, fs) in rule_out.items():
        if st is Status.UNKNOWN:
            cand.confidence = min(cand.confidence, UNKNOWN_RULE_OUT_CAP)
            cand.evidence.extend(_evidence(f, "missing") for f in fs)
            cand.why.append(f"could not rule out via {check_id}: {fs[0].message}")
        else:
            cand.why.append(f"alternative ruled out: {check_id} passed")
    for check_id in hyp.support:
        st, fs = idx.status(check_id, subject)
        if st is Status.FAIL:
            cand.confidence = min(MAX_CONFIDENCE, cand.confidence + SUPPORT_BONUS)
            cand.evidence.extend(_evidence(f, "support") for f in fs if f not in symptoms)
            cand.why.append(f"supported: {book.title_of(check_id)} ({check_id})")
    for ev in cand.evidence:
        if ev.status is Status.FAIL:
            for key, value in ev.data.items():
                cand.data.setdefault(key, value)
    return cand


def walk(playbooks: Sequence[Playbook], findings: Sequence[Finding]) -> list[Candidate]:
    """From fired symptoms to confirmed hypotheses, one candidate per (diagnosis, subject);
    when two scenarios reach the same diagnosis for the same subject, the more confident
    one is kept."""
    idx = _Index(findings)
    best: dict[tuple[str, str], Candidate] = {}
    for book in playbooks:
        by_subject: dict[str, list[Finding]] = {}
        for check_id in book.symptoms:
            for f in idx.fired(check_id):
                by_subject.setdefault(f.service or f.resource, []).append(f)
        for subject in sorted(by_subject):
            for hyp in book.hypotheses:
                cand = _try(idx, book, hyp, subject, by_subject[subject])
                if cand is None:
                    continue
                key = (hyp.diagnosis, subject)
                if key not in best or cand.confidence > best[key].confidence:
                    best[key] = cand
    return [best[k] for k in sorted(best)]
