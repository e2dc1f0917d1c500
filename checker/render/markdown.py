"""Markdown renderer (GitHub-flavoured): for a PR comment, an incident ticket or a wiki page.

Why it looks like this: a summary table first, so a reviewer sees every diagnosis at a
glance; then one section per diagnosis with the same content as the terminal view (summary,
why, evidence, next steps, references). Commands go in ```sh fences so GitHub offers a copy
button. Report text comes from AWS (event messages, resource names), so every piece of it
is escaped: `|` would split a table cell, `<none>` would vanish as an HTML tag, `*` and `_`
would turn into emphasis. Before any of that, the report goes through the one sanitizer
(checker.sanitize): control characters and bidi overrides shown escaped, bare URLs and
`@mentions` put in code spans (a PR comment must not ping people or link anywhere an AWS
string says), and no line may begin with `::` (a workflow command in a CI log).

Each diagnosis also draws its causal chain (checker.render.chain) as a ```mermaid
flowchart, which GitHub renders as a picture in issues and PR comments. Mermaid has a
syntax of its own inside a label (quotes, brackets, `-->`, `|`, `#`, `;`), so every
character of a label but letters, digits and a few safe marks is written as an entity code
(`#35;`): AWS text can then neither end a label, nor add a node, an edge or a click link.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from checker.model import Diagnosis, Report, Status, short_name
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
from checker.render.chain import Chain, Node, chain
from checker.sanitize import escape, guard_lines, links_as_code, one_line, sanitize_report

if TYPE_CHECKING:
    from checker.render import RenderOptions

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")
_BACKTICKS = re.compile(r"`+")
SUMMARY_RESOURCES = 3


def render_markdown(report: Report, options: RenderOptions) -> str:
    """Render the whole report; `verbose` adds every failing finding."""
    counts, nothing = report.status_counts(), no_diagnoses_line(report)
    report = sanitize_report(_shown(report))
    lines = [*_verdict(report), "# ecsdoctor report", "", *_unread(report),
             *_context(report, counts)]
    if report.diagnoses:
        lines += _summary_table(report)
        for diagnosis in report.diagnoses:
            lines += _section(diagnosis, report)
    else:
        lines += [f"**{nothing}.**", ""]
    if not options.verbose:
        lines += _unexplained(report)
    lines += _could_not_check(report)
    lines += _errors(report)
    if options.verbose:
        lines += _failing(report)
    return guard_lines("\n".join(lines).rstrip("\n") + "\n")


def _shown(report: Report) -> Report:
    """What Markdown shows of the report, for the sanitizer to walk: the failing and unknown
    findings (the others are only counted) without their data, and the evidence without its
    data (neither is shown). A large account's report holds tens of thousands of findings
    whose data walked through the sanitizer was nine tenths of the rendering time."""
    shown = (Status.FAIL, Status.UNKNOWN)
    return replace(report, findings=tuple(replace(f, data={}) for f in report.findings
                                          if f.status in shown),
                   diagnoses=tuple(replace(d, evidence=tuple(replace(ev, data={})
                                                             for ev in d.evidence))
                                   for d in report.diagnoses))


def text(value: str) -> str:
    """Inline text, escaped and on one line (a newline would end a table row or list item);
    URLs and mentions in code spans."""
    return links_as_code(one_line(value), _plain, code)


def _plain(value: str) -> str:
    return _SPECIAL.sub(r"\\\1", value)


def code(value: str, *, cell: bool = False) -> str:
    """A code span that survives backticks in the value, and pipes inside a table cell."""
    value = one_line(value)
    if not value:
        return ""
    longest = max((len(run) for run in _BACKTICKS.findall(value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    span = f"{fence}{pad}{value}{pad}{fence}"
    return span.replace("|", r"\|") if cell else span


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _context(report: Report, counts: dict[str, int]) -> list[str]:
    """Where the scan looked, and the counts (of the whole report) that say how much of it
    could be checked."""
    clusters = report.scope.get("clusters") or ["(all)"]
    top = report.highest_severity
    where = (f"**Account** {text(_many(report.account, report.scope.get('accounts'), 'accounts'))}"
             f" · **Region** {text(_many(report.region, report.scope.get('regions'), 'Regions'))}"
             " · **Clusters** "
             f"{', '.join(code(str(c)) for c in clusters)}")
    files = _gate_files(report)
    if files and report.scope.get("mode") == "offline":
        where = f"**Task definition** {', '.join(code(f) for f in files)} · offline (no AWS access)"
    elif files:
        where = f"**Task definition** {', '.join(code(f) for f in files)} · {where}"
    return [
        f"{where} · **Generated** {text(report.generated_at)}",
        "",
        "**Findings** " + ", ".join(f"{n} {s}" for s, n in counts.items())
        + f" · **Diagnoses** {len(report.diagnoses)}"
        + (f" (highest: **{top.value}**)" if top is not None else ""),
        "",
    ]


def _unread(report: Report) -> list[str]:
    """First of all: what could not be read and why (green must mean checked)."""
    title, unread = could_not_read(report)
    if not unread:
        return []
    return [f"> **{text(title)}.**", ">", *(f"> - {text(line)}" for line in unread), ""]


def _verdict(report: Report) -> list[str]:
    """The gate's verdict (scope `verdict`, "PASS — …" or "FAIL — …") as the comment's
    first line: what a reviewer reads before anything else."""
    verdict = report.scope.get("verdict")
    if not isinstance(verdict, str) or not verdict:
        return []
    head, _, rest = verdict.partition(" — ")
    return [f"**ecsdoctor gate: {text(head)}** — {text(rest)}" if rest else
            f"**ecsdoctor gate: {text(head)}**", ""]


def _gate_files(report: Report) -> list[str]:
    """The task definition file(s) a gate report is about; none for a scan."""
    many = report.scope.get("task_definition_files")
    if isinstance(many, list) and many:
        return [str(f) for f in many]
    one = report.scope.get("task_definition_file")
    return [one] if isinstance(one, str) and one else []


def _many(one: str | None, listed: object, noun: str) -> str:
    """The report's account (Region), or for a fleet how many: `3 accounts`."""
    if one:
        return one
    return f"{len(listed)} {noun}" if isinstance(listed, list) and listed else "?"


def _summary_table(report: Report) -> list[str]:
    lines = [
        _row("#", "Severity", "Diagnosis", "Resources", "Confidence", "Score"),
        _row("--:", "---", "---", "---", "--:", "--:"),
    ]
    for d in report.diagnoses:
        names = [code(short_name(r), cell=True) for r in d.resources[:SUMMARY_RESOURCES]]
        if len(d.resources) > SUMMARY_RESOURCES:
            names.append(f"+{len(d.resources) - SUMMARY_RESOURCES} more")
        if d.account or d.region:  # a fleet report: where it was found
            names.insert(0, code(f"{d.account or '?'}/{d.region or '?'}", cell=True))
        severity = f"**{d.severity.value}**" + (" (resolved)" if is_resolved(d) else "")
        lines.append(_row(str(d.rank), severity,
                          f"{text(d.title)} ({code(d.id, cell=True)})", ", ".join(names),
                          f"{d.confidence:.0%}", f"{d.score:.1f}"))
    return [*lines, ""]


def _section(d: Diagnosis, report: Report) -> list[str]:
    """One diagnosis: what, on which resources, what started it, why, the evidence, the
    moments around its onset, and what to run."""
    resolved = " · **resolved**" if is_resolved(d) else ""
    lines = [
        f"## {d.rank}. {text(d.title)}", "",
        f"**{d.severity.value.upper()}**{resolved} · {code(d.id)} · scenario {code(d.scenario)}"
        f" · confidence {d.confidence:.0%} · score {d.score:.1f}"
        + (f" · **Account** {code(d.account or '?')} · **Region** {code(d.region or '?')}"
           if d.account or d.region else ""), "",
    ]
    if d.resources:
        lines += ["**Resources:** " + ", ".join(code(r) for r in d.resources), ""]
    if d.summary:
        lines += [text(d.summary), ""]
    if d.trigger is not None:
        lines += [f"**Trigger:** {text(trigger_line(d.trigger))}", ""]
        if d.trigger.revert:
            lines += _fenced("To undo it:", d.trigger.revert)
    lines += mermaid(chain(d))
    if d.why:
        lines += ["**Why**", "", *(f"- {text(w)}" for w in d.why), ""]
    if d.evidence:
        lines += ["**Evidence**", ""]
        lines += [f"- **{ev.status.value}** {code(ev.check)} on {code(short_name(ev.resource))}:"
                  f" {text(evidence_message(ev))}" for ev in d.evidence]
        lines.append("")
    lines += _timeline(report, d)
    lines += _next_steps(d)
    if d.references:
        lines += ["**References**", "", *(f"- {_link(r)}" for r in d.references), ""]
    return lines


def _timeline(report: Report, d: Diagnosis) -> list[str]:
    """The moments around the onset (checker.render._timeline.around), as a table."""
    rows = around(report, d)
    if not rows:
        return []
    lines = [f"**Timeline** (UTC, around the onset at {hhmm(d.onset)})", "",
             _row("Time", "Kind", "Resource", "What"), _row("---", "---", "---", "---")]
    lines += [_row(hhmm(r.time), r.kind, code(short_name(r.resource), cell=True),
                   text(r.summary)) for r in rows]
    return [*lines, ""]


#: Label characters Mermaid reads as themselves; every other one becomes an entity code.
_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 ,.:/_+=()-]")
#: The arrow for an edge by the role of the node it reaches: dotted for what only
#: supports, weakens or could not check the cause.
_ARROW = {"support": "-.->", "contradict": "-.->", "missing": "-.->", "more": "-.-"}
#: Colours by role (classDef), so the cause stands out and a gap reads as a gap.
_CLASSES = {"cause": "fill:#fde2e1,stroke:#b42318,stroke-width:2px",
            "trigger": "fill:#fff4d6,stroke:#b54708",
            "contradict": "fill:#eef4ff,stroke:#3538cd",
            "missing": "fill:#f2f4f7,stroke:#667085,stroke-dasharray:4 3"}


def mermaid_label(value: str) -> str:
    """A label's text as Mermaid reads it literally: one line, and each character outside
    _MERMAID_SAFE as `#NNN;` (Mermaid's entity codes), so quotes, brackets, arrows, pipes,
    backticks, `<`, `&` and `@` are shown, never parsed."""
    return "".join(c if _MERMAID_SAFE.fullmatch(c) else f"#{ord(c)};" for c in one_line(value))


def _mermaid_node(node: Node) -> str:
    label = mermaid_label(node.title)
    if node.detail:
        label += "<br/>" + mermaid_label(node.detail)
    shape = ('(["', '"])') if node.role == "cause" else ('["', '"]')
    return f"    {node.key}{shape[0]}{label}{shape[1]}"


def mermaid(c: Chain) -> list[str]:
    """The causal chain as a ```mermaid flowchart (left to right)."""
    lines = ["**Causal chain**", "", "```mermaid", "flowchart LR",
             _mermaid_node(c.cause)]
    if c.trigger is not None:
        lines += [_mermaid_node(c.trigger), f"    t -->|{c.trigger.edge}| d"]
    for node in c.effects:
        arrow = _ARROW.get(node.role, "-->")
        edge = f"|{mermaid_label(node.edge)}|" if node.edge else ""
        lines += [_mermaid_node(node), f"    d {arrow}{edge} {node.key}"]
    used = {n.role for n in c.nodes}
    for role, style in _CLASSES.items():
        if role in used:
            keys = ",".join(n.key for n in c.nodes if n.role == role)
            lines += [f"    classDef {role} {style}", f"    class {keys} {role}"]
    return [*lines, "```", ""]


def _fenced(label: str, command: str) -> list[str]:
    """A label and a command in a ```sh fence that survives backticks in it."""
    longest = max((len(r) for r in _BACKTICKS.findall(command)), default=0)
    fence = "`" * max(3, longest + 1)
    return [label, "", fence + "sh", *escape(command, newlines=True).splitlines(), fence, ""]


def _next_steps(d: Diagnosis) -> list[str]:
    """Numbered steps; a command sits in a fence indented under its list item."""
    if not d.remediation:
        return []
    lines = ["**Next steps**", ""]
    for number, step in enumerate(d.remediation, start=1):
        marker = f"{number}. "
        lines.append(marker + text(step.step))
        if step.command:
            indent = " " * len(marker)
            longest = max((len(r) for r in _BACKTICKS.findall(step.command)), default=0)
            fence = "`" * max(3, longest + 1)
            body = [indent + line for line in escape(step.command, newlines=True).splitlines()]
            lines += [indent + fence + "sh", *body, indent + fence]
    return [*lines, ""]


def _link(reference: str) -> str:
    if reference.startswith(("https://", "http://")):
        return f"[{_plain(one_line(reference))}](<{escape(reference).replace('>', '%3E')}>)"
    return text(reference)


def _unexplained(report: Report) -> list[str]:
    """Failing findings no diagnosis explains: risks still worth a line."""
    others, more = unexplained_shown(report)
    if not others:
        return []
    lines = ["## Other failing findings", "", _row("Severity", "Check", "Message"),
             _row("---", "---", "---")]
    lines += [_row(f.severity.value, code(f.check, cell=True), text(f.message))
              for f in others]
    return [*lines, "", *([f"_{more}._", ""] if more else [])]


def _could_not_check(report: Report) -> list[str]:
    """Unknown is its own section so nobody reads it as pass."""
    unknown = [f for f in report.findings if f.status is Status.UNKNOWN]
    if not unknown:
        return []
    lines = [f"## Could not check ({len(unknown)})", "",
             "These checks lacked data or permissions: they are not passes.", "",
             _row("Check", "Resource", "Message"), _row("---", "---", "---")]
    lines += [_row(code(f.check, cell=True), code(short_name(f.resource), cell=True),
                   text(f.message)) for f in unknown]
    return [*lines, ""]


def _errors(report: Report) -> list[str]:
    """Failed collections, then warnings about the bundle's items, each in its section."""
    lines: list[str] = []
    errors, warnings = collection_errors(report), bundle_warnings(report)
    if errors:
        keys: tuple[str, ...] = ("collection", "operation", "code", "message")
        lines += [f"## Collection errors ({len(errors)})", "",
                  _row(*(k.capitalize() for k in keys)), _row(*("---" for _ in keys))]
        lines += [_row(*(text(str(e.get(k) or "")) for k in keys)) for e in errors]
        lines.append("")
    if warnings:
        keys = ("collection", "code", "message")
        why = WARNINGS_WHY[:1].upper() + WARNINGS_WHY[1:]
        lines += [f"## {WARNINGS_TITLE} ({len(warnings)})", "", text(why) + ".", "",
                  _row(*(k.capitalize() for k in keys)), _row(*("---" for _ in keys))]
        lines += [_row(*(text(str(e.get(k) or "")) for k in keys)) for e in warnings]
        lines.append("")
    return lines


def _failing(report: Report) -> list[str]:
    """Verbose: every failing finding, and which diagnosis (if any) explains it."""
    failing = [f for f in report.findings if f.status is Status.FAIL]
    cited = cited_by(report)
    lines = ["## Failing findings", ""]
    if not failing:
        return [*lines, "None.", ""]
    lines += [_row("Check", "Severity", "Resource", "Message", "Diagnosis"),
              _row("---", "---", "---", "---", "---")]
    lines += [_row(code(f.check, cell=True), f.severity.value,
                   code(short_name(f.resource), cell=True), text(f.message),
                   cited.get((f.check, f.resource), "-")) for f in failing]
    return [*lines, ""]
