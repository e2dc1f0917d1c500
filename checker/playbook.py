"""Playbooks: the documented troubleshooting scenarios as data (the walk is checker.walk).

A playbook names symptoms (checks whose failure starts the walk) and hypotheses: a diagnosis
id, the checks that confirm it (`confirm`: all must fail; `confirm_any`: at least one),
support it, contradict it (lower its confidence) or rule it out, which other diagnoses it
explains, how to group it across services, and the remediation. A check reference is an id,
or `{check: id, where: {data_key: value | [values]}}` to count only failing findings whose
data matches (e.g. placement failures whose closest-match reason is ENI). Files are
validated against the live check registry and the diagnosis catalog at load, so a typo
fails in CI with `playbooks/x.yaml: hypotheses[0].confirm[1]: unknown check '…'`.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from checker import command_context, yamlload
from checker.errors import PlaybookError
from checker.model import Remediation, Severity
from checker.registry import Registry

_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_PLAYBOOK_KEYS = {"scenario", "title", "description", "symptoms", "hypotheses"}
_HYPOTHESIS_KEYS = {"diagnosis", "title", "severity", "confidence", "confirm", "confirm_any",
                    "support", "contradict", "rule_out", "explains", "group_by", "summary",
                    "remediation", "references"}
_REF_KEYS = {"check", "where"}
Scalar = str | int | float | bool
#: Placeholders every template may use: the walk puts them in every diagnosis's context
#: (checker.rank.context), beside the data of the failing evidence; those of
#: checker.command_context only when the bundle knows them, so templates give a fallback.
CONTEXT_KEYS = frozenset({"subject", "service", "services", "service_count", "cluster",
                          "service_name", *command_context.KEYS})
#: Files of the playbooks folder that are not playbooks (leading underscore), and the one
#: holding the commands several playbooks share.
SNIPPETS_FILE = "_snippets.yaml"


@dataclass(frozen=True, slots=True)
class Ref:
    """A check as evidence; with `where`, only its failing findings whose data matches."""

    check: str
    where: tuple[tuple[str, tuple[Scalar, ...]], ...] = ()

    def matches(self, data: Mapping[str, Any]) -> bool:
        for key, wanted in self.where:
            value = data.get(key)
            values = value if isinstance(value, list | tuple) else [value]
            if not any(v in wanted for v in values):
                return False
        return True

    def label(self) -> str:
        if not self.where:
            return self.check
        conds = ", ".join(f"{k}={'|'.join(map(str, v))}" for k, v in self.where)
        return f"{self.check} [{conds}]"


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: str
    title: str
    severity: Severity
    kind: str = "incident"  # or "risk": a hardening gap that breaks nothing right now


@dataclass(frozen=True, slots=True)
class Hypothesis:
    diagnosis: str
    title: str
    severity: Severity
    confidence: float
    confirm: tuple[Ref, ...]
    confirm_any: tuple[Ref, ...]
    support: tuple[Ref, ...]
    contradict: tuple[Ref, ...]
    rule_out: tuple[Ref, ...]
    explains: tuple[str, ...]
    group_by: str | None
    summary: str
    remediation: tuple[Remediation, ...]
    references: tuple[str, ...]

    def refs(self) -> tuple[Ref, ...]:
        return (*self.confirm, *self.confirm_any, *self.support, *self.contradict,
                *self.rule_out)


@dataclass(frozen=True, slots=True)
class Playbook:
    scenario: str
    title: str
    description: str
    symptoms: tuple[Ref, ...]
    hypotheses: tuple[Hypothesis, ...]
    path: str
    #: check id → title, for every check the playbook names (the "why" chain reads them)
    titles: Mapping[str, str] = field(default_factory=dict)

    def title_of(self, check_id: str) -> str:
        return self.titles.get(check_id, check_id)


@cache
def catalog() -> dict[str, CatalogEntry]:
    text = resources.files("checker").joinpath("data", "diagnoses.yaml").read_text("utf-8")
    raw = yamlload.safe_load(text)["diagnoses"]
    return {k: CatalogEntry(k, v["title"], Severity(v["severity"]), v.get("kind", "incident"))
            for k, v in raw.items()}


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


def _ref(w: _Where, raw: Any, where: str, registry: Registry) -> Ref:
    check: Any
    cond: Any
    if isinstance(raw, str):
        check, cond = raw, {}
    elif isinstance(raw, dict):
        extra = set(raw) - _REF_KEYS
        if extra:
            raise w.error(f"{where}.{sorted(extra)[0]}", "unknown key (expected check, where)")
        check, cond = raw.get("check"), raw.get("where", {})
        if not isinstance(cond, dict) or not cond:
            raise w.error(f"{where}.where", "expected a mapping of data key to value(s)")
    else:
        raise w.error(where, "expected a check id or {check: id, where: {...}}")
    if check not in registry:
        raise w.error(where, f"unknown check {check!r}")
    pairs = []
    for key, value in sorted(cond.items()):
        values = tuple(value) if isinstance(value, list) else (value,)
        if not values or not all(isinstance(v, Scalar) for v in values):
            raise w.error(f"{where}.where.{key}", "expected a value or a list of values")
        pairs.append((str(key), values))
    ref = Ref(str(check), tuple(pairs))
    _check_where(w, ref, where, registry)
    return ref


def _refs(w: _Where, data: Mapping[str, Any], key: str, where: str, registry: Registry,
          required: bool) -> tuple[Ref, ...]:
    value = data.get(key, None)
    if value is None:
        if required:
            raise w.error(f"{where}{key}", "required, a list of check ids")
        return ()
    if not isinstance(value, list) or (required and not value):
        raise w.error(f"{where}{key}", "expected a non-empty list of check ids")
    return tuple(_ref(w, item, f"{where}{key}[{i}]", registry) for i, item in enumerate(value))


def _remediation(w: _Where, value: Any, where: str,
                 snippets: Mapping[str, str]) -> tuple[Remediation, ...]:
    """Steps; a step's command is written out or named (`snippet: force-new-deployment`)."""
    if not isinstance(value, list) or not value:
        raise w.error(where, "required, a non-empty list of {step, command | snippet}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("step"), str):
            raise w.error(f"{where}[{i}]", "expected {step: text, command: optional text}")
        extra = set(item) - {"step", "command", "snippet"}
        if extra:
            raise w.error(f"{where}[{i}]", f"unknown key {sorted(extra)[0]!r}")
        cmd = item.get("command")
        if "snippet" in item:
            if cmd is not None:
                raise w.error(f"{where}[{i}]", "give command or snippet, not both")
            name = item["snippet"]
            if name not in snippets:
                known = ", ".join(sorted(snippets)) or "none"
                raise w.error(f"{where}[{i}].snippet",
                              f"unknown snippet {name!r} (in {SNIPPETS_FILE}: {known})")
            cmd = snippets[name]
        if cmd is not None and not isinstance(cmd, str):
            raise w.error(f"{where}[{i}].command", "expected text")
        out.append(Remediation(item["step"].strip(), cmd.strip() if cmd else None))
    return tuple(out)


def _placeholders(w: _Where, template: str, where: str) -> list[str]:
    """The context keys a template names (`{service}`, `{subnet|<subnet-id>}` → subnet).
    Unbalanced braces fail here: at fill time they would leave the whole text unfilled."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise w.error(where, f"{exc} (write a literal brace as {{{{ or }}}})") from None
    names = []
    for field_name in fields:
        name = field_name.partition("|")[0]
        if not name or not name.replace("_", "").isalnum():
            raise w.error(where, f"placeholder {{{field_name}}} is not a data key name")
        names.append(name)
    return names


def _emitted(refs: Iterable[Ref], registry: Registry) -> dict[str, set[Scalar] | None]:
    """Data key → values (None: any) that the referenced checks declare."""
    out: dict[str, set[Scalar] | None] = {}
    for ref in refs:
        for key, values in (registry[ref.check].emits or {}).items():
            if key in out and out[key] is None:
                continue
            out[key] = None if values is None else {*(out.get(key) or set()), *values}
    return out


def _undeclared(refs: Iterable[Ref], registry: Registry) -> bool:
    return any(registry[r.check].emits is None for r in refs)


def _check_templates(w: _Where, raw: Mapping[str, Any], where: str, refs: tuple[Ref, ...],
                     registry: Registry, snippets: Mapping[str, str]) -> None:
    """Every placeholder of the summary, steps and commands is a key the walk will have:
    the data of any failing evidence (symptoms included) or the walk's own context."""
    known = set(CONTEXT_KEYS) | set(_emitted(refs, registry))
    texts = [("summary", raw.get("summary"))]
    for i, item in enumerate(raw.get("remediation") or []):
        if isinstance(item, dict):
            texts.append((f"remediation[{i}].step", item.get("step")))
            cmd = snippets.get(item["snippet"]) if "snippet" in item else item.get("command")
            texts.append((f"remediation[{i}].command", cmd))
    for key, text in texts:
        if not isinstance(text, str):
            continue
        for name in _placeholders(w, text, f"{where}{key}"):
            if name not in known and not _undeclared(refs, registry):
                raise w.error(f"{where}{key}", f"unknown placeholder {{{name}}}: no check of "
                              "this scenario emits it (" + _near(name, known) + ")")


def _check_where(w: _Where, ref: Ref, where: str, registry: Registry) -> None:
    emits = registry[ref.check].emits
    if emits is None:
        return
    for key, values in ref.where:
        if key not in emits:
            raise w.error(f"{where}.where.{key}", f"check {ref.check!r} emits no data key "
                          f"{key!r} ({_near(key, set(emits))})")
        allowed = emits[key]
        for value in values:
            if allowed is not None and value not in allowed:
                shown = ", ".join(sorted(map(str, allowed)))
                raise w.error(f"{where}.where.{key}", f"check {ref.check!r} never gives "
                              f"{key} = {value!r} (one of {shown})")


def _near(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(sorted(known))


def _hypothesis(w: _Where, raw: Any, i: int, registry: Registry, symptoms: tuple[Ref, ...],
                snippets: Mapping[str, str]) -> Hypothesis:
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
    confirm = _refs(w, raw, "confirm", where, registry, "confirm_any" not in raw)
    confirm_any = _refs(w, raw, "confirm_any", where, registry, False)
    explains = raw.get("explains", [])
    if not isinstance(explains, list) or any(e not in catalog() for e in explains):
        raise w.error(f"{where}explains", "expected a list of diagnosis ids from the catalog")
    group_by = raw.get("group_by")
    if group_by is not None and not isinstance(group_by, str):
        raise w.error(f"{where}group_by", "expected a data key (text)")
    support = _refs(w, raw, "support", where, registry, False)
    contradict = _refs(w, raw, "contradict", where, registry, False)
    rule_out = _refs(w, raw, "rule_out", where, registry, False)
    evidence = (*symptoms, *confirm, *confirm_any, *support, *contradict, *rule_out)
    if group_by is not None and not _undeclared(evidence, registry) and \
            group_by not in _emitted(evidence, registry):
        raise w.error(f"{where}group_by", f"no check of this hypothesis emits {group_by!r}")
    summary = _str(w, raw, "summary", where)
    remediation = _remediation(w, raw.get("remediation"), f"{where}remediation", snippets)
    _check_templates(w, raw, where, evidence, registry, snippets)
    return Hypothesis(
        diagnosis=diag, title=str(raw.get("title") or entry.title), severity=severity,
        confidence=float(conf), confirm=confirm, confirm_any=confirm_any,
        support=support, contradict=contradict, rule_out=rule_out,
        explains=tuple(explains), group_by=group_by, summary=summary,
        remediation=remediation, references=tuple(refs),
    )


def parse(raw: Any, path: str, registry: Registry,
          snippets: Mapping[str, str] | None = None) -> Playbook:
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
    symptoms = _refs(w, raw, "symptoms", "", registry, True)
    shared = load_snippets() if snippets is None else snippets
    return Playbook(
        scenario=scenario, title=_str(w, raw, "title", ""),
        description=_str(w, raw, "description", "", required=False),
        symptoms=symptoms,
        hypotheses=tuple(_hypothesis(w, h, i, registry, symptoms, shared)
                         for i, h in enumerate(hyps)),
        path=path, titles={spec.id: spec.title for spec in registry},
    )


def parse_snippets(raw: Any, path: str) -> dict[str, str]:
    """`snippets: {name: command}`: the commands several playbooks share, written once."""
    w = _Where(path)
    if not isinstance(raw, dict) or set(raw) != {"snippets"} or not isinstance(
            raw["snippets"], dict):
        raise w.error("", "expected one key, snippets: {name: command}")
    out: dict[str, str] = {}
    for name, cmd in raw["snippets"].items():
        if not isinstance(name, str) or not _ID.match(name):
            raise w.error(f"snippets.{name}", "a snippet name is a kebab-case id")
        if not isinstance(cmd, str) or not cmd.strip():
            raise w.error(f"snippets.{name}", "expected the command text")
        _placeholders(w, cmd, f"snippets.{name}")
        out[name] = cmd.strip()
    return out


@cache
def load_snippets(directory: str | None = None) -> dict[str, str]:
    """The shared commands of `directory` (default: the packaged playbooks)."""
    if directory is None:
        ref = resources.files("playbooks").joinpath(SNIPPETS_FILE)
        shown = f"playbooks/{SNIPPETS_FILE}"
        if not ref.is_file():
            return {}
        return parse_snippets(_yaml(ref.read_text("utf-8"), shown), shown)
    path = Path(directory) / SNIPPETS_FILE
    if not path.is_file():
        return load_snippets()
    return parse_snippets(_yaml(path.read_text("utf-8"), str(path)), str(path))


def _yaml(text: str, shown: str) -> Any:
    try:
        return yamlload.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise PlaybookError(f"{shown}: invalid YAML{line}: {problem}") from None


def load_file(path: Path, registry: Registry, display: str | None = None,
              snippets: Mapping[str, str] | None = None) -> Playbook:
    shown = display or str(path)
    return parse(_yaml(path.read_text("utf-8"), shown), shown, registry, snippets)


def load(registry: Registry, directory: Path | None = None) -> list[Playbook]:
    """All playbooks, sorted by scenario; scenario ids must be unique."""
    if directory is None:
        files = sorted((f for f in resources.files("playbooks").iterdir()
                        if f.name.endswith(".yaml") and not f.name.startswith("_")),
                       key=lambda f: f.name)
        books = [load_file(Path(str(f)), registry, f"playbooks/{f.name}") for f in files]
    else:
        snippets = load_snippets(str(directory))
        books = [load_file(p, registry, snippets=snippets)
                 for p in sorted(directory.glob("*.yaml")) if not p.name.startswith("_")]
    seen: dict[str, str] = {}
    for book in books:
        if book.scenario in seen:
            raise PlaybookError(f"{book.path}: scenario: {book.scenario!r} already defined in "
                                f"{seen[book.scenario]}")
        seen[book.scenario] = book.path
    return sorted(books, key=lambda b: b.scenario)
