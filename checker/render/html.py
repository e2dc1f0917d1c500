"""HTML renderer: one self-contained page to open, attach to a ticket or keep in S3.

Why it looks like this: a person opening it wants the answer and a picture before the
detail, so the page leads with the summary table, then each diagnosis with its causal chain
drawn as inline SVG (checker.render.chain, the same chain the Markdown report draws in
Mermaid), then the timeline as a picture of lanes, and the evidence, failing findings and
what could not be checked folded in `<details>` (no script: the browser folds them).

Self-contained and inert: CSS and SVG are inline, and a Content-Security-Policy forbids
every fetch (no script, font, frame or remote image may load), so the page works offline
and opening it tells nobody. Report text comes from AWS and is attacker-controlled: every
string the page shows passes the one sanitizer (checker.sanitize: `one_line`, or `escape`
for a command's lines) and is then HTML-escaped, in text and in attributes alike, by
:func:`checker.render._svg.e`; no markup is ever built from report text. Strings are
sanitized where they are shown rather than the whole report up front: a large account's
report holds tens of thousands of findings whose data the page never shows, and walking
them all was nine tenths of the rendering time.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from checker.model import Diagnosis, Report, Status, short_name
from checker.render._svg import chain_svg, e, timeline_svg
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
from checker.render.chain import chain
from checker.sanitize import escape

if TYPE_CHECKING:
    from checker.render import RenderOptions

#: No fetch of any kind; inline styles, and images only as data: URIs.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
SUMMARY_RESOURCES = 3

_CSS = """
:root{--fg:#1d2939;--muted:#667085;--line:#d0d5dd;--bg:#fff;--soft:#f9fafb}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;max-width:1180px;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px}
h3{font-size:14px;margin:16px 0 6px}
.meta,.muted{color:var(--muted)}code{font:12px ui-monospace,Menlo,Consolas,monospace;
background:var(--soft);padding:1px 4px;border-radius:3px;word-break:break-all}
pre{background:#101828;color:#f2f4f7;padding:10px 12px;border-radius:6px;overflow-x:auto;
font:12px/1.5 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap}
pre code{background:none;color:inherit;padding:0;word-break:normal}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}td.n{text-align:right;white-space:nowrap}
.sev{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;
color:#fff}.sev-critical{background:#b42318}.sev-high{background:#d92d20}
.sev-medium{background:#dc6803}.sev-low{background:#1570ef}.sev-info{background:#667085}
.st-fail{color:#b42318;font-weight:600}.st-unknown{color:#b54708;font-weight:600}
.st-pass{color:#067647}.st-skipped{color:var(--muted)}
.warn{border-left:4px solid #dc6803;background:#fffaeb;padding:8px 12px;margin:12px 0}
section.diag{border-top:1px solid var(--line);margin-top:24px}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
svg{max-width:100%;height:auto;display:block;margin:8px 0}
svg text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:var(--fg)}
svg .title{font-weight:600}svg .small{font-size:11px;fill:var(--muted)}
svg .elabel{paint-order:stroke;stroke:#fff;stroke-width:3px}
svg rect.node{fill:#fff;stroke:#98a2b3;stroke-width:1.2}
svg .cause rect.node{fill:#fde2e1;stroke:#b42318;stroke-width:2}
svg .trigger rect.node{fill:#fff4d6;stroke:#b54708}
svg .explains rect.node,svg .symptom rect.node{fill:#fef0c7;stroke:#dc6803}
svg .contradict rect.node{fill:#eef4ff;stroke:#3538cd}
svg .missing rect.node,svg .more rect.node{fill:#f2f4f7;stroke:#667085;stroke-dasharray:4 3}
svg path.edge{fill:none;stroke:#475467;stroke-width:1.3}
svg path.dotted{stroke-dasharray:5 4}svg polygon.head{fill:#475467}
svg line.axis{stroke:#98a2b3}svg line.onset{stroke:#b42318;stroke-dasharray:3 3}
svg .k-change{fill:#b54708}svg .k-deployment{fill:#1570ef}svg .k-stopped-task{fill:#b42318}
svg .k-service-event{fill:#7a5af8}svg .k-alarm{fill:#d92d20}svg .k-log{fill:#475467}
svg .k-other{fill:#98a2b3}
"""


def render_html(report: Report, options: RenderOptions) -> str:
    """The whole page; `verbose` adds every failing finding."""
    body = [*_header(report), *_unread(report)]
    if report.diagnoses:
        body += _summary(report)
        for d in report.diagnoses:
            body += _section(d, report)
    else:
        body.append(f"<p><strong>{e(no_diagnoses_line(report))}.</strong></p>")
    body += _timeline_section(report)
    if not options.verbose:
        body += _unexplained(report)
    body += _could_not_check(report)
    body += _errors(report)
    if options.verbose:
        body += _failing(report)
    head = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>ecsdoctor report · {e(report.account or '?')} · "
            f"{e(report.region or '?')}</title>", f"<style>{_CSS}</style>", "</head>",
            "<body>"]
    return "\n".join([*head, *body, "</body>", "</html>"]) + "\n"


def _header(report: Report) -> list[str]:
    verdict = report.scope.get("verdict")
    out = []
    if isinstance(verdict, str) and verdict:
        out.append(f'<p class="warn"><strong>ecsdoctor gate:</strong> {e(verdict)}</p>')
    clusters = report.scope.get("clusters") or ["(all)"]
    counts = report.status_counts()
    top = report.highest_severity
    out += ["<h1>ecsdoctor report</h1>",
            f'<p class="meta">Account <code>{e(report.account or "?")}</code> · Region '
            f'<code>{e(report.region or "?")}</code> · Clusters '
            + ", ".join(f"<code>{e(c)}</code>" for c in clusters)
            + f" · Generated {e(report.generated_at)}</p>",
            '<p class="meta">Findings ' + ", ".join(f"{n} {e(s)}" for s, n in counts.items())
            + f" · Diagnoses {len(report.diagnoses)}"
            + (f" (highest: {_sev(top.value)})" if top is not None else "") + "</p>"]
    return out


def _sev(value: str) -> str:
    return f'<span class="sev sev-{e(value)}">{e(value)}</span>'


def _status(status: Status) -> str:
    return f'<span class="st-{status.value}">{status.value}</span>'


def _unread(report: Report) -> list[str]:
    title, unread = could_not_read(report)
    if not unread:
        return []
    return ['<div class="warn">', f"<strong>{e(title)}.</strong>", "<ul>",
            *(f"<li>{e(line)}</li>" for line in unread), "</ul>", "</div>"]


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A table whose cells are already HTML (each caller escapes what it puts in)."""
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>",
           "<tbody>"]
    out += ["<tr>" + "".join(cell if cell.startswith("<td") else f"<td>{cell}</td>"
                             for cell in row) + "</tr>" for row in rows]
    return [*out, "</tbody>", "</table>"]


def _summary(report: Report) -> list[str]:
    rows = []
    for d in report.diagnoses:
        names = [f"<code>{e(short_name(r))}</code>" for r in d.resources[:SUMMARY_RESOURCES]]
        if len(d.resources) > SUMMARY_RESOURCES:
            names.append(f"+{len(d.resources) - SUMMARY_RESOURCES} more")
        if d.account or d.region:
            names.insert(0, f"<code>{e(d.account or '?')}/{e(d.region or '?')}</code>")
        resolved = " (resolved)" if is_resolved(d) else ""
        rows.append([f'<td class="n">{d.rank}</td>', _sev(d.severity.value) + resolved,
                     f'<a href="#d{d.rank}">{e(d.title)}</a> <code>{e(d.id)}</code>',
                     ", ".join(names), f'<td class="n">{d.confidence:.0%}</td>',
                     f'<td class="n">{d.score:.1f}</td>'])
    return ["<h2>Summary</h2>",
            *_table(["#", "Severity", "Diagnosis", "Resources", "Confidence", "Score"], rows)]


def _section(d: Diagnosis, report: Report) -> list[str]:
    resolved = " · <strong>resolved</strong>" if is_resolved(d) else ""
    where = (f" · account <code>{e(d.account or '?')}</code> · Region "
             f"<code>{e(d.region or '?')}</code>" if d.account or d.region else "")
    out = [f'<section class="diag" id="d{d.rank}">', f"<h2>{d.rank}. {e(d.title)}</h2>",
           f'<p class="meta">{_sev(d.severity.value)}{resolved} · <code>{e(d.id)}</code> · '
           f"scenario <code>{e(d.scenario)}</code> · confidence {d.confidence:.0%} · score "
           f"{d.score:.1f}{where}</p>"]
    if d.resources:
        out.append("<p>Resources: " + ", ".join(f"<code>{e(r)}</code>" for r in d.resources)
                   + "</p>")
    if d.summary:
        out.append(f"<p>{e(d.summary)}</p>")
    if d.trigger is not None:
        out.append(f"<p><strong>Trigger:</strong> {e(trigger_line(d.trigger))}</p>")
        if d.trigger.revert:
            out += ["<p>To undo it:</p>", _pre(d.trigger.revert)]
    out += ["<h3>Causal chain</h3>", chain_svg(chain(d), f"causal chain of diagnosis {d.rank}")]
    if d.why:
        out += ["<h3>Why</h3>", "<ul>", *(f"<li>{e(w)}</li>" for w in d.why), "</ul>"]
    out += _evidence(d)
    out += _around(report, d)
    out += _next_steps(d)
    if d.references:
        out += ["<h3>References</h3>", "<ul>", *(f"<li>{_link(r)}</li>" for r in d.references),
                "</ul>"]
    return [*out, "</section>"]


def _pre(command: str) -> str:
    """A command, its lines kept, sanitized and escaped."""
    return f"<pre><code>{html.escape(escape(command, newlines=True), quote=True)}</code></pre>"


def _link(reference: str) -> str:
    if reference.startswith(("https://", "http://")):
        return (f'<a href="{e(reference)}" rel="noopener noreferrer">{e(reference)}</a>')
    return e(reference)


def _evidence(d: Diagnosis) -> list[str]:
    if not d.evidence:
        return []
    rows = [[_status(ev.status), e(ev.role), f"<code>{e(ev.check)}</code>",
             f"<code>{e(short_name(ev.resource))}</code>", e(evidence_message(ev))]
            for ev in d.evidence]
    return [f"<details><summary>Evidence ({len(d.evidence)})</summary>",
            *_table(["Status", "Role", "Check", "Resource", "Message"], rows), "</details>"]


def _around(report: Report, d: Diagnosis) -> list[str]:
    rows = around(report, d)
    if not rows:
        return []
    body = [[e(hhmm(r.time)), e(r.kind), f"<code>{e(short_name(r.resource))}</code>",
             e(r.summary)] for r in rows]
    return [f"<h3>Timeline (UTC, around the onset at {e(hhmm(d.onset))})</h3>",
            *_table(["Time", "Kind", "Resource", "What"], body)]


def _next_steps(d: Diagnosis) -> list[str]:
    if not d.remediation:
        return []
    out = ["<h3>Next steps</h3>", "<ol>"]
    for step in d.remediation:
        out.append(f"<li>{e(step.step)}" + (_pre(step.command) if step.command else "")
                   + "</li>")
    return [*out, "</ol>"]


def _timeline_section(report: Report) -> list[str]:
    picture, earlier = timeline_svg(report)
    if not picture:
        return []
    rows = [[e(entry.time), e(entry.kind), f"<code>{e(short_name(entry.resource))}</code>",
             e(entry.summary)] for entry in report.timeline]
    return ["<h2>Timeline</h2>",
            '<p class="muted">Dashed lines: the onset of a diagnosis (#rank). Hover a dot '
            "for what happened."
            + (f" {earlier} earlier entr{'y is' if earlier == 1 else 'ies are'} only in the "
               "table." if earlier else "") + "</p>", picture,
            f"<details><summary>Every entry ({len(report.timeline)})</summary>",
            *_table(["Time", "Kind", "Resource", "What"], rows), "</details>"]


# --- findings and errors -------------------------------------------------------------------


def _unexplained(report: Report) -> list[str]:
    others, more = unexplained_shown(report)
    if not others:
        return []
    rows = [[_sev(f.severity.value), f"<code>{e(f.check)}</code>",
             f"<code>{e(short_name(f.resource))}</code>", e(f.message)] for f in others]
    return [f"<details><summary>Other failing findings ({len(others)})</summary>",
            *_table(["Severity", "Check", "Resource", "Message"], rows),
            *([f'<p class="muted">{e(more)}.</p>'] if more else []), "</details>"]


def _could_not_check(report: Report) -> list[str]:
    unknown = [f for f in report.findings if f.status is Status.UNKNOWN]
    if not unknown:
        return []
    rows = [[f"<code>{e(f.check)}</code>", f"<code>{e(short_name(f.resource))}</code>",
             e(f.message)] for f in unknown]
    return [f"<details><summary>Could not check ({len(unknown)}): these checks lacked data "
            "or permissions, they are not passes</summary>",
            *_table(["Check", "Resource", "Message"], rows), "</details>"]


def _errors(report: Report) -> list[str]:
    out: list[str] = []
    errors, warnings = collection_errors(report), bundle_warnings(report)
    if errors:
        keys: tuple[str, ...] = ("collection", "operation", "code", "message")
        out += [f"<h2>Collection errors ({len(errors)})</h2>",
                *_table([k.capitalize() for k in keys],
                        [[e(x.get(k) or "") for k in keys] for x in errors])]
    if warnings:
        keys = ("collection", "code", "message")
        out += [f"<h2>{e(WARNINGS_TITLE)} ({len(warnings)})</h2>",
                f'<p class="muted">{e(WARNINGS_WHY[:1].upper() + WARNINGS_WHY[1:])}.</p>',
                *_table([k.capitalize() for k in keys],
                        [[e(x.get(k) or "") for k in keys] for x in warnings])]
    return out


def _failing(report: Report) -> list[str]:
    failing = [f for f in report.findings if f.status is Status.FAIL]
    cited = cited_by(report)
    if not failing:
        return ["<h2>Failing findings</h2>", "<p>None.</p>"]
    rows = [[f"<code>{e(f.check)}</code>", _sev(f.severity.value),
             f"<code>{e(short_name(f.resource))}</code>", e(f.message),
             e(cited.get((f.check, f.resource), "-"))] for f in failing]
    return [f"<details open><summary>Failing findings ({len(failing)})</summary>",
            *_table(["Check", "Severity", "Resource", "Message", "Diagnosis"], rows),
            "</details>"]
