"""`ecsdoctor checks`, `diagnoses` and `explain`, rendered from the registry and playbooks.

Generated, never hand-written: a listing that is synced by hand drifts (STYLE.md rule 5).
"""

from __future__ import annotations

import difflib
import json
import textwrap
from collections.abc import Iterable
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from checker import playbook, registry
from checker.errors import InputError
from checker.playbook import Hypothesis, Playbook
from checker.registry import CheckSpec, Registry

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan",
                  "info": "dim"}


def _load() -> tuple[Registry, list[Playbook]]:
    reg = registry.load()
    return reg, playbook.load(reg)


def _unknown(kind: str, value: str, known: Iterable[str], hint: str) -> InputError:
    close = difflib.get_close_matches(value, list(known), n=3)
    maybe = f"; did you mean {', '.join(close)}?" if close else ""
    return InputError(f"unknown {kind} {value!r}{maybe} ({hint})")


#: The machine-readable listings' formats and versions: a program reading them checks both.
CHECKS_FORMAT, DIAGNOSES_FORMAT, LISTING_VERSION = "ecsdoctor-checks", "ecsdoctor-diagnoses", 1


def _rows(rows: Iterable[tuple[str, str, str]], width: int, style: dict[str, str]) -> Text:
    """`id  severity  title` lines: the id is never cut or folded; the title wraps under
    itself at spaces, or, when the id leaves it too little room, goes on the next line."""
    rows = list(rows)
    id_w = max((len(r[0]) for r in rows), default=0)
    out = Text()
    for ident, severity, title in rows:
        out.append(f"  {ident:<{id_w}}  ").append(f"{severity:<8}", style.get(severity, ""))
        room = width - (2 + id_w + 2 + 8 + 2)
        lines = textwrap.wrap(title, max(room, 20), break_long_words=False,
                              break_on_hyphens=False) or [""]
        if room < 30:
            out.append("\n")
            lines = textwrap.wrap(title, max(width - 6, 20), break_long_words=False,
                                  break_on_hyphens=False) or [""]
            out.append("\n".join("      " + line for line in lines) + "\n")
            continue
        pad = " " * (2 + id_w + 2 + 8 + 2)
        out.append("  " + lines[0] + "\n" + "".join(pad + line + "\n" for line in lines[1:]))
    return out


def show_checks(width: int = 100) -> RenderableType:
    """Every check, grouped by area: id, severity, title."""
    reg, _ = _load()
    by_area: dict[str, list[CheckSpec]] = {}
    for spec in reg:
        by_area.setdefault(spec.area, []).append(spec)
    parts: list[RenderableType] = [Text(f"{len(reg)} checks (ecsdoctor checks ID shows one; "
                                        "--format json lists them for a program)", "bold")]
    for area, specs in by_area.items():
        parts.append(Text(f"\n{area} ({len(specs)})", "bold"))
        parts.append(_rows(((s.id, s.severity.value, s.title) for s in specs), width,
                           SEVERITY_STYLE))
    return Group(*parts)


def _check_entry(spec: CheckSpec, books: list[Playbook]) -> dict[str, Any]:
    return {"id": spec.id, "title": spec.title, "area": spec.area,
            "severity": spec.severity.value,
            "products": [p for p in registry.PRODUCTS if p in spec.products],
            "needs": list(spec.needs), "after": list(spec.after), "docs": spec.docs,
            "used_by": _uses(spec.id, books), "description": spec.description}


def checks_json(check_id: str | None = None) -> str:
    """`{"format": "ecsdoctor-checks", "version": 1, "checks": [...]}` (README: checks)."""
    reg, books = _load()
    if check_id is not None and check_id not in reg:
        raise _unknown("check", check_id, reg.specs, "list them with: ecsdoctor checks")
    specs = [reg[check_id]] if check_id else list(reg)
    doc = {"format": CHECKS_FORMAT, "version": LISTING_VERSION,
           "checks": [_check_entry(spec, books) for spec in specs]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def checks_markdown(check_id: str | None = None) -> str:
    """A table per area, for docs and wikis."""
    doc = json.loads(checks_json(check_id))
    lines = [f"# ecsdoctor checks ({len(doc['checks'])})"]
    area = None
    for c in doc["checks"]:
        if c["area"] != area:
            area = c["area"]
            lines += ["", f"## {area}", "", "| id | severity | runs in | title |",
                      "| --- | --- | --- | --- |"]
        lines.append(f"| `{c['id']}` | {c['severity']} | {', '.join(c['products'])} | "
                     f"[{_md(c['title'])}](<{c['docs']}>) |" if c["docs"] else
                     f"| `{c['id']}` | {c['severity']} | {', '.join(c['products'])} | "
                     f"{_md(c['title'])} |")
    return "\n".join(lines) + "\n"


def _diagnosis_entries() -> list[dict[str, Any]]:
    _, books = _load()
    scenarios: dict[str, list[str]] = {}
    for book in books:
        for hyp in book.hypotheses:
            scenarios.setdefault(hyp.diagnosis, [])
            if book.scenario not in scenarios[hyp.diagnosis]:
                scenarios[hyp.diagnosis].append(book.scenario)
    return [{"id": e.id, "title": e.title, "severity": e.severity.value, "kind": e.kind,
             "scenarios": scenarios.get(e.id, [])}
            for e in sorted(playbook.catalog().values(), key=lambda e: (e.kind, e.id))]


def show_diagnoses(width: int = 100) -> RenderableType:
    """Every diagnosis id a report can name, incidents first, then risks."""
    entries = _diagnosis_entries()
    parts: list[RenderableType] = [Text(f"{len(entries)} diagnoses (ecsdoctor explain ID "
                                        "shows the playbook behind one)", "bold")]
    for kind, heading in (("incident", "incidents: something is broken now"),
                          ("risk", "risks: a gap that breaks nothing yet")):
        rows = [e for e in entries if e["kind"] == kind]
        if rows:
            parts.append(Text(f"\n{heading} ({len(rows)})", "bold"))
            parts.append(_rows(((e["id"], e["severity"], e["title"] + (
                "" if e["scenarios"] else " (no playbook yet)")) for e in rows), width,
                SEVERITY_STYLE))
    return Group(*parts)


def diagnoses_json() -> str:
    """`{"format": "ecsdoctor-diagnoses", "version": 1, "diagnoses": [...]}`."""
    doc = {"format": DIAGNOSES_FORMAT, "version": LISTING_VERSION,
           "diagnoses": _diagnosis_entries()}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def diagnoses_markdown() -> str:
    entries = _diagnosis_entries()
    lines = [f"# ecsdoctor diagnoses ({len(entries)})", "",
             "| id | severity | kind | title | playbooks |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{e['id']}` | {e['severity']} | {e['kind']} | {_md(e['title'])} | "
              f"{', '.join(e['scenarios']) or '-'} |" for e in entries]
    return "\n".join(lines) + "\n"


_ROLES = (("confirm", "confirmed when all fail"), ("confirm_any", "confirmed when any fails"),
          ("support", "supported by"), ("contradict", "weakened by"),
          ("rule_out", "ruled out if any fails"))


def _uses(check_id: str, books: list[Playbook]) -> list[str]:
    out = []
    for book in books:
        if any(ref.check == check_id for ref in book.symptoms):
            out.append(f"symptom of scenario {book.scenario}")
        for hyp in book.hypotheses:
            for role, _ in _ROLES:
                if any(ref.check == check_id for ref in getattr(hyp, role)):
                    out.append(f"{role.replace('_', ' ')} for {hyp.diagnosis} ({book.scenario})")
    return out


def show_check(check_id: str) -> RenderableType:
    reg, books = _load()
    if check_id not in reg:
        raise _unknown("check", check_id, reg.specs, "list them with: ecsdoctor checks")
    spec = reg[check_id]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [
        ("id", spec.id), ("title", spec.title), ("area", spec.area),
        ("run by", ", ".join(p for p in registry.PRODUCTS if p in spec.products)),
        ("severity", spec.severity.value), ("needs", ", ".join(spec.needs) or "-"),
        ("runs after", ", ".join(spec.after) or "-"), ("docs", spec.docs),
        ("used by", "\n".join(_uses(check_id, books)) or "no playbook yet"),
    ]
    for key, value in rows:
        grid.add_row(key, Text(value))
    return Group(grid, Text(""), Text(spec.description))


def _hypothesis_node(tree: Tree, hyp: Hypothesis, reg: Registry, focus: bool) -> None:
    label = Text.assemble((hyp.diagnosis, "bold" if focus else ""), f"  {hyp.title}  ",
                          (hyp.severity.value, SEVERITY_STYLE[hyp.severity.value]),
                          f"  base confidence {hyp.confidence:.0%}")
    node = tree.add(label)
    for role, verb in _ROLES:
        refs = getattr(hyp, role)
        if refs:
            sub = node.add(Text(verb, style="italic"))
            for ref in refs:
                sub.add(Text.assemble((ref.label(), "cyan"), f"  {reg[ref.check].title}"))
    if hyp.group_by:
        node.add(Text(f"one diagnosis across services sharing the same {hyp.group_by}",
                      style="italic"))
    if hyp.explains:
        node.add(Text(f"explains (ranked above them): {', '.join(hyp.explains)}",
                      style="italic"))
    rem = node.add(Text("remediation", style="italic"))
    for i, step in enumerate(hyp.remediation, 1):
        leaf = rem.add(f"{i}. {step.step}")
        if step.command:
            literal = step.command.replace("{{", "{").replace("}}", "}")
            leaf.add(Text(f"$ {literal}", style="green"))
    if hyp.references:
        refs = node.add(Text("references", style="italic"))
        for ref in hyp.references:
            refs.add(ref)


def _playbook_tree(book: Playbook, reg: Registry, focus: str | None) -> Tree:
    tree = Tree(Text.assemble(("scenario ", "dim"), (book.scenario, "bold"), f": {book.title}"))
    if book.description:
        tree.add(Text(book.description.strip(), style="dim"))
    symptoms = tree.add(Text("symptoms (any failing starts the walk)", style="italic"))
    for ref in book.symptoms:
        symptoms.add(Text.assemble((ref.label(), "cyan"), f"  {reg[ref.check].title}"))
    hyps = tree.add(Text("hypotheses", style="italic"))
    for hyp in book.hypotheses:
        _hypothesis_node(hyps, hyp, reg, hyp.diagnosis == focus)
    return tree


def explain_tree(ident: str) -> RenderableType:
    reg, books = _load()
    by_scenario = {b.scenario: b for b in books}
    if ident in by_scenario:
        return _playbook_tree(by_scenario[ident], reg, None)
    using = [b for b in books if any(h.diagnosis == ident for h in b.hypotheses)]
    if not using:
        known = set(playbook.catalog()) | set(by_scenario)
        if ident in playbook.catalog():
            raise InputError(f"diagnosis {ident!r} is in the catalog but no playbook reaches it "
                             "yet in this version")
        raise _unknown("diagnosis", ident, known, "list them with: ecsdoctor diagnoses")
    entry = playbook.catalog()[ident]
    head = Text.assemble((ident, "bold"), f": {entry.title}")
    return Group(head, *(_playbook_tree(b, reg, ident) for b in using))
