"""Terminal renderer: what an SRE reads during an incident, most urgent diagnosis first.

Why it looks like this:
- Evidence and next steps are always shown (no `--verbose` needed): in an incident the
  reader should not have to re-run anything to see why a diagnosis was made or what to do.
- `unknown` is never folded into "pass": missing evidence reads "could not check: …" and
  every unknown finding and collection error is listed in its own section, and so is every
  warning about the bundle's items (a typo'd key would otherwise read as a clean pass).
- Commands are printed on their own indented line with soft wrapping, so rich never inserts
  a newline into them and they can be copied into a shell as they are.
- Every piece of report text goes through `rich.text.Text`, never markup, so an AWS message
  containing `[...]` is printed literally. The console is built from the options alone
  (no TTY, NO_COLOR, COLUMNS or Jupyter detection), so output depends only on the report.
- Rich strips only a few control characters (BEL, BS, CR...), not ESC: the report goes
  through the one sanitizer (checker.sanitize) before layout, so an escape sequence from AWS
  prints as `\x1b[2J` and widths are measured on what is printed; the finished text is
  guarded so no line begins with `::` (a GitHub Actions workflow command).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from checker.model import (
    Diagnosis,
    Evidence,
    Report,
    Severity,
    Status,
    TimelineEntry,
    short_name,
)
from checker.render._text import (
    WARNINGS_TITLE,
    WARNINGS_WHY,
    bundle_warnings,
    cited_by,
    collection_errors,
    could_not_read,
    evidence_message,
    no_diagnoses_line,
    unexplained_shown,
)
from checker.render._timeline import around, hhmm, is_resolved, trigger_line
from checker.sanitize import guard_lines, sanitize_report

if TYPE_CHECKING:
    from checker.render import RenderOptions

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
STATUS_STYLE = {
    Status.FAIL: "red",
    Status.PASS: "green",
    Status.UNKNOWN: "magenta",
    Status.SKIPPED: "dim",
}
COMMAND_STYLE = "bold green"
LABEL_STYLE = "bold"
INDENT = 4
COMMAND_INDENT = " " * (INDENT + 7)  # nested under the step text, which starts at +5
_NO_WRAP = frozenset({"check", "severity", "diagnosis"})  # short ids; the others fold


def render_table(report: Report, options: RenderOptions) -> str:
    """Render the report for a terminal (or a plain-text log when `color` is off)."""
    report = sanitize_report(report)
    buffer = io.StringIO()
    # Every size and capability is explicit (height too: rich otherwise asks the terminal,
    # and TERM=dumb would shrink the width to 80), so the environment cannot change a byte.
    console = Console(
        file=buffer, width=options.width, height=25,
        color_system="standard" if options.color else None,
        force_terminal=options.color, no_color=not options.color, force_jupyter=False,
        legacy_windows=False, markup=False, emoji=False, highlight=False,
    )
    console.print(_header(report))
    _print_unread(console, report)
    if report.diagnoses:
        for diagnosis in report.diagnoses:
            console.print()
            _print_diagnosis(console, diagnosis, report)
    else:
        console.print()
        console.print(Text(no_diagnoses_line(report), style=LABEL_STYLE))
    if not options.verbose:
        _print_unexplained(console, report)
    for title, table in _trailing_sections(report, options.verbose):
        console.print()
        console.print(Text(title, style=LABEL_STYLE))
        console.print(table)
    return guard_lines("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))


def _header(report: Report) -> Text:
    """Where the scan looked and how many findings of each status it produced."""
    clusters = report.scope.get("clusters") or ["(all)"]
    counts = report.status_counts()
    top = report.highest_severity
    text = Text().append("ecsdoctor report", style=LABEL_STYLE)
    where = (f"account {_many(report.account, report.scope.get('accounts'), 'accounts')}"
             f"  region {_many(report.region, report.scope.get('regions'), 'Regions')}"
             f"  clusters {', '.join(str(c) for c in clusters)}")
    files = report.scope.get("task_definition_files") or [
        f for f in (report.scope.get("task_definition_file"),) if f]
    if files and report.scope.get("mode") == "offline":
        where = f"task definition {', '.join(str(f) for f in files)}  offline (no AWS access)"
    elif files:
        where = f"task definition {', '.join(str(f) for f in files)}  {where}"
    text.append(f"  generated {report.generated_at}\n{where}\n")
    text.append("findings: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    text.append(f"  diagnoses: {len(report.diagnoses)}")
    if top is not None:
        text.append("  highest ")
        text.append(top.value, style=SEVERITY_STYLE[top])
    return text


def _print_unread(console: Console, report: Report) -> None:
    """Right under the header: what could not be read and why (green must mean checked)."""
    title, lines = could_not_read(report)
    if not lines:
        return
    console.print(Text(title, style=STATUS_STYLE[Status.UNKNOWN]))
    console.print(Padding(_hanging(("-", line) for line in lines), (0, 0, 0, 0)))


def _print_diagnosis(console: Console, d: Diagnosis, report: Report) -> None:
    """One block per diagnosis: heading, what, what started it, why, evidence, the moments
    around its onset, what to do."""
    console.print(_heading(d))
    body: list[RenderableType] = []
    if d.resources:
        body.append(_labelled("resources", ", ".join(short_name(r) for r in d.resources)))
    if d.summary:
        body.append(Text(d.summary))
    if d.trigger is not None:
        body.append(_labelled("trigger", trigger_line(d.trigger)))
    if d.why:
        body.append(Text("why", style=LABEL_STYLE))
        body.append(_hanging(("-", line) for line in d.why))
    if d.evidence:
        body.append(Text("evidence", style=LABEL_STYLE))
        body.append(Padding(_evidence_grid(d.evidence), (0, 0, 0, 2)))
    rows = around(report, d)
    if rows:
        body.append(Text(f"timeline (UTC, around the onset at {hhmm(d.onset)})",
                         style=LABEL_STYLE))
        body.append(Padding(_timeline_grid(rows), (0, 0, 0, 2)))
    for renderable in body:
        console.print(Padding(renderable, (0, 0, 0, INDENT)))
    if d.trigger is not None and d.trigger.revert:
        console.print(Padding(Text("undo the trigger", style=LABEL_STYLE), (0, 0, 0, INDENT)))
        _print_command(console, d.trigger.revert)
    _print_next_steps(console, d)
    if d.references:
        console.print(Padding(Text("references", style=LABEL_STYLE), (0, 0, 0, INDENT)))
        for reference in d.references:  # unwrapped, so terminals keep the URL clickable
            console.print(Text(" " * (INDENT + 2) + reference), soft_wrap=True)


def _print_unexplained(console: Console, report: Report) -> None:
    others, more = unexplained_shown(report)
    if not others:
        return
    console.print()
    console.print(Text("Other failing findings (not part of a diagnosis)", style=LABEL_STYLE))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for f in others:
        detail = Text().append(f.check, style=LABEL_STYLE).append(f"\n{f.message}")
        grid.add_row(Text(f.severity.value, style=SEVERITY_STYLE[f.severity]), detail)
    console.print(Padding(grid, (0, 0, 0, INDENT)))
    if more:
        console.print(Padding(Text(more), (0, 0, 0, INDENT)))


def _heading(d: Diagnosis) -> Text:
    text = Text().append(f"#{d.rank}  ", style=LABEL_STYLE)
    text.append(d.severity.value.upper(), style=SEVERITY_STYLE[d.severity])
    if is_resolved(d):
        text.append("  RESOLVED", style=LABEL_STYLE)
    text.append("  ")
    text.append(d.title, style=LABEL_STYLE)
    text.append(f"  ({d.id})  confidence {d.confidence:.0%}  score {d.score:.1f}")
    if d.account or d.region:  # a fleet report: where it was found
        text.append(f"  in {d.account or '?'}/{d.region or '?'}", style=LABEL_STYLE)
    return text


def _many(one: str | None, listed: object, noun: str) -> str:
    """The report's account (Region), or for a fleet how many: `3 accounts`."""
    if one:
        return one
    return f"{len(listed)} {noun}" if isinstance(listed, list) and listed else "?"


def _hanging(items: Iterable[tuple[str, str]]) -> Table:
    """Bulleted lines whose wrapped continuation stays under the text, not the bullet."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(overflow="fold")
    for bullet, line in items:
        grid.add_row(Text(f"  {bullet}"), Text(line))
    return grid


def _labelled(label: str, value: str) -> Text:
    text = Text().append(f"{label}: ", style=LABEL_STYLE)
    text.append(value)
    return text


def _evidence_grid(evidence: Iterable[Evidence]) -> Table:
    """Status in its own column; check and resource, then the message on the line below.

    The message gets the full width: resource ids (a task id is 32 hex digits) would
    otherwise squeeze it into a narrow column.
    """
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for ev in evidence:
        detail = Text().append(ev.check, style=LABEL_STYLE)
        detail.append(f"  {short_name(ev.resource)}\n{evidence_message(ev)}")
        grid.add_row(Text(ev.status.value, style=STATUS_STYLE[ev.status]), detail)
    return grid


def _print_next_steps(console: Console, d: Diagnosis) -> None:
    """Numbered steps; each command alone on its line, never wrapped, so it copies cleanly."""
    if not d.remediation:
        return
    console.print(Padding(Text("next steps", style=LABEL_STYLE), (0, 0, 0, INDENT)))
    for number, step in enumerate(d.remediation, start=1):
        console.print(Padding(_hanging([(f"{number}.", step.step)]), (0, 0, 0, INDENT)))
        if step.command:
            _print_command(console, step.command)


def _print_command(console: Console, text: str) -> None:
    """A command alone on its lines, never wrapped, so it copies cleanly."""
    command = Text()
    for line in text.splitlines(keepends=True):
        command.append(COMMAND_INDENT).append(line, style=COMMAND_STYLE)
    console.print(command, soft_wrap=True)


def _timeline_grid(rows: Iterable[TimelineEntry]) -> Table:
    """Time and kind in narrow columns, then what happened (AWS text, never markup)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for row in rows:
        grid.add_row(Text(hhmm(row.time)), Text(row.kind), Text(row.summary))
    return grid


def _trailing_sections(report: Report, verbose: bool) -> list[tuple[str, Table]]:
    """Unknowns and errors always (unknown is not pass); every failing finding if verbose."""
    sections: list[tuple[str, Table]] = []
    unknown = [f for f in report.findings if f.status is Status.UNKNOWN]
    if unknown:
        table = _plain_table("check", "resource", "message")
        for f in unknown:
            table.add_row(Text(f.check), Text(short_name(f.resource)), Text(f.message))
        sections.append((f"Could not check ({len(unknown)}): not a pass, the data was missing",
                         table))
    errors, warnings = collection_errors(report), bundle_warnings(report)
    if errors:
        table = _plain_table("collection", "operation", "code", "message")
        for e in errors:
            table.add_row(*(Text(str(e.get(k) or "")) for k in
                            ("collection", "operation", "code", "message")))
        sections.append((f"Collection errors ({len(errors)})", table))
    if warnings:
        table = _plain_table("collection", "code", "message")
        for e in warnings:
            table.add_row(*(Text(str(e.get(k) or "")) for k in ("collection", "code", "message")))
        sections.append((f"{WARNINGS_TITLE} ({len(warnings)}): {WARNINGS_WHY}", table))
    if verbose:
        sections.append(("Failing findings", _fail_table(report)))
    return sections


def _fail_table(report: Report) -> Table:
    """All fail findings, each with the diagnoses citing it ("-" when none does)."""
    cited = cited_by(report)
    table = _plain_table("diagnosis", "severity", "check", "resource", "message")
    for f in report.findings:
        if f.status is Status.FAIL:
            table.add_row(Text(cited.get((f.check, f.resource), "-")),
                          Text(f.severity.value, style=SEVERITY_STYLE[f.severity]),
                          Text(f.check), Text(short_name(f.resource)), Text(f.message))
    return table


def _plain_table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in columns:
        table.add_column(name, header_style=LABEL_STYLE, overflow="fold", no_wrap=name in _NO_WRAP)
    return table
