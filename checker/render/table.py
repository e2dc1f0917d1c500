"""Terminal renderer: what an SRE reads during an incident, the answer first.

Why it looks like this:
- It leads with the answer: one line per diagnosis (rank, severity, id, main resource,
  confidence) right under the header and what could not be read, so the first screen says
  what is wrong and where. The details follow, most urgent first.
- By default each detail is compact: what, where, what started it, the explanation, the
  evidence grouped by fact (one line for "the NAT gateway drops connections" however many
  services say it, with ×N and the resources) and the commands to run. `--verbose` adds the
  reasoning, every evidence row, the timeline, every step and the references; the JSON
  report holds everything. Diagnoses below high severity (past the first few) are in the
  summary only, with their details under `--verbose`: a report of twelve diagnoses that
  scrolls for seven hundred lines ends with the least urgent on screen.
- `unknown` is never folded into "pass": what could not be read is named under the header,
  and the checks that could not run are listed, grouped per check, at the end.
- Wrapping is ours, at spaces only: an id, an ARN or a URL is never split across lines
  (rich folds a long word in two); a word longer than the line stays whole and the line is
  longer. Commands are printed on their own indented lines, never wrapped, so they copy into
  a shell as they are.
- Every piece of report text goes through `rich.text.Text`, never markup, so an AWS message
  containing `[...]` is printed literally. The console is built from the options alone
  (no TTY, NO_COLOR, COLUMNS or Jupyter detection), so output depends only on the report.
- Rich strips only a few control characters (BEL, BS, CR...), not ESC: the report goes
  through the one sanitizer (checker.sanitize) before layout, so an escape sequence from AWS
  prints as `\\x1b[2J` and widths are measured on what is printed; the finished text is
  guarded so no line begins with `::` (a GitHub Actions workflow command).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from checker.model import (
    Diagnosis,
    Evidence,
    Report,
    Severity,
    Status,
    short_name,
)
from checker.render._text import (
    UNREAD_SHOWN,
    WARNINGS_TITLE,
    WARNINGS_WHY,
    bundle_warnings,
    cited_by,
    collection_errors,
    could_not_read,
    evidence_message,
    first_names,
    group_evidence,
    group_findings,
    no_diagnoses_line,
    unexplained,
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

#: Lines the default report aims at: the diagnoses' details get what the head, the summary
#: and the tail leave (the first is always shown whole), so a report of twelve diagnoses
#: does not scroll for seven hundred lines and end with the least urgent on screen.
REPORT_LINES = 145
#: How much of a diagnosis is shown: every part, a compact block (the first COMPACT_SHOWN
#: by default), or a brief one (its explanation and first command).
VERBOSE, COMPACT, BRIEF = "verbose", "compact", "brief"
COMPACT_SHOWN = 2
#: Evidence groups (and lines of each one's message), next steps, groups of unexplained and
#: of could-not-check findings shown by default.
EVIDENCE_SHOWN = 2
EVIDENCE_LINES = 2
STEPS_SHOWN = 3
OTHERS_SHOWN = 5
UNKNOWN_SHOWN = 8
#: The narrowest line laid out; a narrower terminal gets lines of this width.
NARROWEST = 40


class _Out:
    """Lines for a console of a given width, wrapped at spaces only (never inside a word).

    Each section is laid out in its own `_Out`, so the report can count a section's lines
    before it decides what fits (see DETAIL_BUDGET)."""

    def __init__(self, options: RenderOptions) -> None:
        self.options = options
        self.width = max(options.width, NARROWEST)
        self._buffer = io.StringIO()
        # Every size and capability is explicit (height too: rich otherwise asks the
        # terminal, and TERM=dumb would shrink the width to 80), so the environment cannot
        # change a byte.
        self.console = Console(
            file=self._buffer, width=self.width, height=25,
            color_system="standard" if options.color else None,
            force_terminal=options.color, no_color=not options.color, force_jupyter=False,
            legacy_windows=False, markup=False, emoji=False, highlight=False,
        )

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self._buffer.getvalue().splitlines()]

    def blank(self) -> None:
        self.console.print()

    def line(self, text: Text | str) -> None:
        """One line as it is: never wrapped, never cropped (commands, URLs)."""
        self.console.print(text if isinstance(text, Text) else Text(text), soft_wrap=True)

    def para(self, text: Text | str, indent: int = 0, prefix: Text | str = "",
             most: int | None = None) -> None:
        """`text` wrapped to the width after `indent` and `prefix`; continuation lines hang
        under the text, not the prefix. `most`: at most that many lines, the last one cut
        at a space and ending in "…" (--verbose shows the whole)."""
        head = prefix if isinstance(prefix, Text) else Text(prefix)
        body = text if isinstance(text, Text) else Text(text)
        hang = indent + cell_len(head.plain)
        pieces = wrap(body, self.width - hang)
        if most is not None and len(pieces) > most:
            pieces = pieces[:most]
            pieces[-1] = _ellipsis(pieces[-1], self.width - hang)
        for number, piece in enumerate(pieces):
            lead = Text(" " * indent) + head if number == 0 else Text(" " * hang)
            self.line(lead + piece)


def _ellipsis(line: Text, width: int) -> Text:
    """A line that is cut short: " …" after the last word that leaves room for it (never
    inside a word, and apart from it, so an id before it can still be copied whole)."""
    plain = line.plain
    if cell_len(plain) + 2 > width:
        space = plain.rfind(" ", 0, max(width - 2, 1))
        if space > 0:
            line = line[:space]
    line.rstrip()
    line.append(" …")
    return line


def wrap(text: Text, width: int) -> list[Text]:
    """`text` broken into lines of at most `width` cells at spaces; a word longer than the
    width stays whole on its own line (an ARN split in two cannot be copied or searched)."""
    out: list[Text] = []
    for line in text.split("\n", allow_blank=True):
        plain = line.plain
        offsets: list[int] = []
        col = len(plain) - len(plain.lstrip(" "))
        for match in re.finditer(r"\S+\s*", plain):
            word = cell_len(match.group().rstrip())
            if col > 0 and col + word > max(width, 1) and match.start() > 0:
                offsets.append(match.start())
                col = 0
            col += cell_len(match.group())
        for piece in line.divide(offsets):
            piece.rstrip()
            out.append(piece)
    return out


def render_table(report: Report, options: RenderOptions) -> str:
    """Render the report for a terminal (or a plain-text log when `color` is off)."""
    report = sanitize_report(report)
    verbose = options.verbose
    head, tail = _Out(options), _Out(options)
    _header(head, report)
    _unread(head, report)
    head.blank()
    if report.diagnoses:
        _summary(head, report)
    else:
        head.para(Text(no_diagnoses_line(report), style=LABEL_STYLE))
    if verbose:
        _all_failing(tail, report)
    else:
        _others(tail, report)
    _could_not_check(tail, report, verbose)
    _errors_and_warnings(tail, report, verbose)
    budget = max(REPORT_LINES - len(head.lines()) - len(tail.lines()), 0)
    lines = head.lines() + _details(report, options, budget) + tail.lines()
    return guard_lines("".join(line + "\n" for line in lines))


def _details(report: Report, options: RenderOptions, budget: int) -> list[str]:
    """Each diagnosis in rank order. By default a diagnosis another one explains is two
    lines pointing at it (its fix is the other's); the first COMPACT others get a compact
    block, the next a brief one; and details stop once `budget` lines are used: the rest are
    in the summary, their details under --verbose."""
    lines: list[str] = []
    rest: list[Diagnosis] = []
    ranks = {d.id: d.rank for d in report.diagnoses}
    compact = 0
    for d in report.diagnoses:
        out = _Out(options)
        out.blank()
        if options.verbose:
            _diagnosis(out, d, report, VERBOSE)
        elif rest:
            rest.append(d)
            continue
        elif d.explained_by and any(cause in ranks for cause in d.explained_by):
            _explained(out, d, ranks)
        else:
            _diagnosis(out, d, report, COMPACT if compact < COMPACT_SHOWN else BRIEF)
            compact += 1
        block = out.lines()
        if not options.verbose and lines and len(lines) + len(block) > budget:
            rest.append(d)
            continue
        lines += block
    if rest:
        out = _Out(options)
        out.blank()
        out.para(Text(f"Details of {_ranks(rest)}: --verbose (or `ecsdoctor explain "
                      "<diagnosis>` for the playbook)", style="dim"))
        lines += out.lines()
    return lines


def _ranks(diagnoses: Sequence[Diagnosis]) -> str:
    ranks = [d.rank for d in diagnoses]
    if len(ranks) > 2 and ranks == list(range(ranks[0], ranks[0] + len(ranks))):
        return f"#{ranks[0]}–#{ranks[-1]}"
    return ", ".join(f"#{r}" for r in ranks)


# -- the head of the report -------------------------------------------------------------------


def _header(out: _Out, report: Report) -> None:
    """Where the scan looked and how many findings of each status it produced; three short
    lines, so none wraps on an 80-column terminal."""
    out.line(Text().append("ecsdoctor report", style=LABEL_STYLE)
             .append(f"  generated {report.generated_at}"))
    clusters = report.scope.get("clusters") or ["(all)"]
    where = (f"account {_many(report.account, report.scope.get('accounts'), 'accounts')}"
             f"  region {_many(report.region, report.scope.get('regions'), 'Regions')}"
             f"  clusters {', '.join(str(c) for c in clusters)}")
    files = report.scope.get("task_definition_files") or [
        f for f in (report.scope.get("task_definition_file"),) if f]
    if files and report.scope.get("mode") == "offline":
        where = f"task definition {', '.join(str(f) for f in files)}  offline (no AWS access)"
    elif files:
        where = f"task definition {', '.join(str(f) for f in files)}  {where}"
    out.para(where)
    counts = report.status_counts()
    out.para("findings: " + ", ".join(f"{n} {s}" for s, n in counts.items()))


def _many(one: str | None, listed: object, noun: str) -> str:
    """The report's account (Region), or for a fleet how many: `3 accounts`."""
    if one:
        return one
    return f"{len(listed)} {noun}" if isinstance(listed, list) and listed else "?"


def _unread(out: _Out, report: Report) -> None:
    """Right under the header: what could not be read and why (green must mean checked)."""
    title, lines = could_not_read(report)
    if not lines:
        return
    out.para(Text(title, style=STATUS_STYLE[Status.UNKNOWN]))
    for line in lines:
        out.para(line, indent=2, prefix="- ")


def _summary(out: _Out, report: Report) -> None:
    """One line per diagnosis: rank, severity, id, confidence and main resource; the
    resource comes last and is never cut (a line may be longer than the width instead)."""
    ds = report.diagnoses
    top = report.highest_severity
    title = Text(f"Diagnoses ({len(ds)}), most urgent first", style=LABEL_STYLE)
    if top is not None:
        title.append("  highest ").append(top.value, style=SEVERITY_STYLE[top])
    out.para(title)
    fleet = any(d.account or d.region for d in ds)
    rank_w = max(len(f"#{d.rank}") for d in ds)
    id_w = max(len("diagnosis"), *(len(d.id) for d in ds))
    where_w = max(len("where"), *(len(_where(d)) for d in ds)) if fleet else 0
    where = f"  {'where':<{where_w}}" if fleet else ""
    out.line(Text(f"  {'':<{rank_w}}  {'severity':<8}  {'diagnosis':<{id_w}}  confidence"
                  f"{where}  resource", style="dim"))
    for d in ds:
        row = Text(f"  {f'#{d.rank}':>{rank_w}}  ")
        row.append(f"{d.severity.value.upper():<8}", style=SEVERITY_STYLE[d.severity])
        row.append(f"  {d.id:<{id_w}}  {d.confidence:>10.0%}")
        if fleet:
            row.append(f"  {_where(d):<{where_w}}")
        row.append(f"  {_main(d)}")
        if is_resolved(d):
            row.append("  resolved", style=LABEL_STYLE)
        out.line(row)


def _main(d: Diagnosis) -> str:
    return short_name(d.resources[0]) if d.resources else "-"


def _where(d: Diagnosis) -> str:
    return f"{d.account or '?'}/{d.region or '?'}" if d.account or d.region else ""


# -- one diagnosis ---------------------------------------------------------------------------


def _diagnosis(out: _Out, d: Diagnosis, report: Report, mode: str) -> None:
    """Heading, where, what started it, the explanation, evidence, what to do; VERBOSE adds
    why, every evidence row, the moments around the onset, every step, references; BRIEF
    keeps the explanation and the first command."""
    verbose = mode == VERBOSE
    heading = Text().append(f"#{d.rank}  ", style=LABEL_STYLE)
    heading.append(d.severity.value.upper(), style=SEVERITY_STYLE[d.severity])
    if is_resolved(d):
        heading.append("  RESOLVED", style=LABEL_STYLE)
    out.para(heading.append("  ").append(d.title, style=LABEL_STYLE))
    line = Text(f"{d.id}  confidence {d.confidence:.0%}")
    if verbose:
        line.append(f"  score {d.score:.1f}")
    if d.account or d.region:  # a fleet report: where it was found
        line.append(f"  in {_where(d)}", style=LABEL_STYLE)
    if d.resources:
        line.append("  ").append_text(
            _labelled("resources", ", ".join(short_name(r) for r in d.resources)))
    out.para(line, indent=INDENT)
    if d.trigger is not None:
        out.para(_labelled("trigger", trigger_line(d.trigger)), indent=INDENT)
    if d.summary:
        out.para(d.summary, indent=INDENT)
    if verbose and d.why:
        out.para(Text("why", style=LABEL_STYLE), indent=INDENT)
        for why in d.why:
            out.para(why, indent=INDENT + 2, prefix="- ")
    if mode == BRIEF:
        _brief_step(out, d)
        return
    if d.evidence:
        _evidence(out, d.evidence, verbose)
    rows = around(report, d) if verbose else []
    if rows:
        out.para(Text(f"timeline (UTC, around the onset at {hhmm(d.onset)})",
                      style=LABEL_STYLE), indent=INDENT)
        kind_w = max(len(r.kind) for r in rows)
        for row in rows:
            out.para(row.summary, indent=INDENT + 2, prefix=f"{hhmm(row.time)}  "
                                                           f"{row.kind:<{kind_w}}  ")
    if d.trigger is not None and d.trigger.revert:
        out.para(Text("undo the trigger", style=LABEL_STYLE), indent=INDENT)
        _command(out, d.trigger.revert)
    _next_steps(out, d, verbose)
    if verbose and d.references:
        out.para(Text("references", style=LABEL_STYLE), indent=INDENT)
        for reference in d.references:  # unwrapped, so terminals keep the URL clickable
            out.line(" " * (INDENT + 2) + reference)


def _explained(out: _Out, d: Diagnosis, ranks: dict[str, int]) -> None:
    """A diagnosis another one explains: its heading and where to look; fixing the cause
    fixes it (its own evidence is under --verbose)."""
    heading = Text().append(f"#{d.rank}  ", style=LABEL_STYLE)
    heading.append(d.severity.value.upper(), style=SEVERITY_STYLE[d.severity])
    out.para(heading.append("  ").append(d.title, style=LABEL_STYLE))
    causes = ", ".join(f"#{ranks[c]} {c}" for c in d.explained_by if c in ranks)
    line = Text(f"{d.id}  confidence {d.confidence:.0%}  ")
    line.append(f"explained by {causes}", style=LABEL_STYLE)
    out.para(line.append(": its fix comes first; evidence and steps: --verbose"),
             indent=INDENT)


def _labelled(label: str, value: str) -> Text:
    return Text().append(f"{label}: ", style=LABEL_STYLE).append(value)


def _evidence(out: _Out, evidence: Sequence[Evidence], verbose: bool) -> None:
    """Grouped by fact by default (one line per fact, ×N and its resources); every row under
    --verbose."""
    out.para(Text("evidence", style=LABEL_STYLE), indent=INDENT)
    indent = INDENT + 2
    if verbose:
        for ev in evidence:
            _evidence_row(out, ev, 1, (short_name(ev.resource),))
        return
    groups = group_evidence(evidence)
    for group in groups[:EVIDENCE_SHOWN]:
        _evidence_row(out, group.first, group.count, group.names, EVIDENCE_LINES)
    left = groups[EVIDENCE_SHOWN:]
    if left:
        rows = sum(g.count for g in left)
        out.para(Text(f"+{rows} more (--verbose): "
                      f"{first_names([g.first.check for g in left], 2)}", style="dim"),
                 indent=indent)


def _evidence_row(out: _Out, ev: Evidence, count: int, names: Sequence[str],
                  most: int | None = None) -> None:
    status = Text(f"{ev.status.value:<7}", style=STATUS_STYLE[ev.status])
    head = Text().append(ev.check, style=LABEL_STYLE)
    if count > 1:
        head.append(f" ×{count}")
    head.append(f"  {first_names(names, 4)}")
    out.para(head, indent=INDENT + 2, prefix=status)
    out.para(evidence_message(ev), indent=INDENT + 2 + 7, most=most)


def _next_steps(out: _Out, d: Diagnosis, verbose: bool) -> None:
    """Numbered steps; each command alone on its lines, never wrapped, so it copies cleanly."""
    if not d.remediation:
        return
    out.para(Text("next steps", style=LABEL_STYLE), indent=INDENT)
    steps = d.remediation if verbose else d.remediation[:STEPS_SHOWN]
    for number, step in enumerate(steps, start=1):
        out.para(step.step, indent=INDENT + 2, prefix=f"{number}. ")
        if step.command:
            _command(out, step.command)
    left = len(d.remediation) - len(steps)
    if left:
        out.para(Text(f"+{left} more step(s): --verbose", style="dim"), indent=INDENT + 2)


def _brief_step(out: _Out, d: Diagnosis) -> None:
    """The command that undoes the trigger, else the first step with a command, and what
    the rest is (under --verbose)."""
    first = next((r for r in d.remediation if r.command), None)
    if d.trigger is not None and d.trigger.revert:
        out.para(Text("undo the trigger", style=LABEL_STYLE), indent=INDENT)
        _command(out, d.trigger.revert)
    elif first is not None and first.command:
        out.para(first.step, indent=INDENT, prefix=Text("first step: ", style=LABEL_STYLE))
        _command(out, first.command)
    out.para(Text(f"evidence ({len(d.evidence)}) and next steps ({len(d.remediation)}): "
                  "--verbose", style="dim"), indent=INDENT)


def _command(out: _Out, text: str) -> None:
    """A command alone on its lines, never wrapped, so it copies cleanly."""
    command = Text()
    for line in text.splitlines(keepends=True):
        command.append(COMMAND_INDENT).append(line, style=COMMAND_STYLE)
    out.line(command)


# -- the tail: what is not part of a diagnosis, what could not be checked ---------------------


def _others(out: _Out, report: Report) -> None:
    """Failing findings no diagnosis cites, one line per check: risks worth seeing even when
    no incident explains them, so "no diagnoses" never reads as clean."""
    groups = group_findings(unexplained(report))
    if not groups:
        return
    out.blank()
    total = sum(g.count for g in groups)
    out.para(Text(f"Other failing findings ({total}, not part of a diagnosis)",
                  style=LABEL_STYLE))
    for g in groups[:OTHERS_SHOWN]:
        row = Text(g.check, style=LABEL_STYLE).append(f" ×{g.count}" if g.count > 1 else "")
        out.para(row.append(f"  {first_names(g.names)}"), indent=2,
                 prefix=Text(f"{g.severity.value:<8}", style=SEVERITY_STYLE[g.severity]))
    left = groups[OTHERS_SHOWN:]
    if left:
        out.para(Text(f"+{sum(g.count for g in left)} more of {len(left)} other check(s); "
                      "--verbose lists them", style="dim"), indent=2)


def _all_failing(out: _Out, report: Report) -> None:
    """--verbose: every failing finding, each with the diagnoses citing it ("-": none)."""
    failing = [f for f in report.findings if f.status is Status.FAIL]
    if not failing:
        return
    cited = cited_by(report)
    out.blank()
    out.line(Text(f"Failing findings ({len(failing)})", style=LABEL_STYLE))
    for f in failing:
        head = Text(f"{cited.get((f.check, f.resource), '-')}  ")
        head.append(f.severity.value, style=SEVERITY_STYLE[f.severity])
        head.append("  ").append(f.check, style=LABEL_STYLE)
        out.para(head.append(f"  {short_name(f.resource)}"), indent=2)
        out.para(f.message, indent=6)


def _could_not_check(out: _Out, report: Report, verbose: bool) -> None:
    """Unknown is not pass: grouped per check (how many, for which resources, why), each
    finding under --verbose."""
    unknown = [f for f in report.findings if f.status is Status.UNKNOWN]
    if not unknown:
        return
    groups = group_findings(unknown)
    out.blank()
    out.para(Text(f"Could not check ({len(unknown)} finding(s) of {len(groups)} check(s)): "
                  "not a pass, the data was missing", style=STATUS_STYLE[Status.UNKNOWN]))
    if verbose:
        for f in unknown:
            out.para(Text(f.check, style=LABEL_STYLE).append(f"  {short_name(f.resource)}"),
                     indent=2)
            out.para(f.message, indent=6)
        return
    for g in groups[:UNKNOWN_SHOWN]:
        head = Text(g.check, style=LABEL_STYLE)
        head.append(f" ×{g.count}" if g.count > 1 else "").append(f"  {first_names(g.names)}")
        out.para(head, indent=2)
        out.para(g.message, indent=6, most=1)
    left = groups[UNKNOWN_SHOWN:]
    if left:
        out.para(Text(f"+{sum(g.count for g in left)} more of {len(left)} other check(s): "
                      f"{first_names([g.check for g in left])}; --verbose lists them",
                      style="dim"), indent=2)


def _errors_and_warnings(out: _Out, report: Report, verbose: bool) -> None:
    """Every failed collection (the head names the first few: all of them here when there
    are more, or under --verbose), and every warning about the bundle's items."""
    errors = collection_errors(report)
    collections = {str(e.get("collection") or "?") for e in errors}
    if errors and (verbose or len(collections) > UNREAD_SHOWN):
        out.blank()
        out.line(Text(f"Collection errors ({len(errors)})", style=LABEL_STYLE))
        for e in errors:
            out.para(Text(str(e.get("collection") or ""), style=LABEL_STYLE).append(
                f"  {e.get('operation') or ''}  {e.get('code') or ''}"), indent=2)
            if e.get("message"):
                out.para(str(e.get("message")), indent=6)
    warnings = bundle_warnings(report)
    if warnings:
        out.blank()
        out.para(Text(f"{WARNINGS_TITLE} ({len(warnings)}): {WARNINGS_WHY}",
                      style=LABEL_STYLE))
        for w in warnings:
            out.para(Text(str(w.get("collection") or ""), style=LABEL_STYLE).append(
                f"  {w.get('code') or ''}"), indent=2)
            out.para(str(w.get("message") or ""), indent=6)
