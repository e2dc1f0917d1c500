"""`ecsdoctor checks` and `ecsdoctor explain`, rendered from the registry and playbooks.

Generated, never hand-written: a listing that is synced by hand drifts (STYLE.md rule 5).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from checker import playbook, registry
from checker.errors import InputError
from checker.playbook import Hypothesis, Playbook
from checker.registry import Registry

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan",
                  "info": "dim"}


def _load() -> tuple[Registry, list[Playbook]]:
    reg = registry.load()
    return reg, playbook.load(reg)


def _unknown(kind: str, value: str, known: Iterable[str], hint: str) -> InputError:
    close = difflib.get_close_matches(value, list(known), n=3)
    maybe = f"; did you mean {', '.join(close)}?" if close else ""
    return InputError(f"unknown {kind} {value!r}{maybe} ({hint})")


def show_checks() -> RenderableType:
    reg, _ = _load()
    table = Table(title=f"{len(reg)} checks", title_justify="left", show_lines=False)
    table.add_column("id", no_wrap=True)
    table.add_column("area", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("title", ratio=1)
    area = None
    for spec in reg:
        if area is not None and spec.area != area:
            table.add_section()
        area = spec.area
        table.add_row(spec.id, spec.area, Text(spec.severity.value,
                      SEVERITY_STYLE[spec.severity.value]), spec.title)
    return table


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
        raise _unknown("diagnosis", ident, known, "see CONTRACTS.md §3 or `ecsdoctor checks`")
    entry = playbook.catalog()[ident]
    head = Text.assemble((ident, "bold"), f": {entry.title}")
    return Group(head, *(_playbook_tree(b, reg, ident) for b in using))
