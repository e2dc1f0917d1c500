"""The pictures of the HTML report, drawn as inline SVG by hand (no script, no library, no
fetch): a diagnosis's causal chain in columns (trigger, root cause, then what it explains
and the evidence, each edge leaving the root cause so none crosses a box), and the timeline
as one lane per kind of entry with the diagnoses' onsets marked.

Text is laid out by character counts (the page cannot be measured here): boxes are wide
enough for their wrapped lines in the page's sans-serif font, and a word longer than a
line (an ARN) is cut rather than drawn over the edge. Every string is escaped by :func:`e`;
class names come from fixed lists, never from data.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from checker.model import Report, TimelineEntry, short_name
from checker.render._timeline import hhmm
from checker.render.chain import Chain, Node
from checker.sanitize import one_line


def e(value: object) -> str:
    """Report text as HTML text or an attribute value: one line, escaped (quotes too)."""
    return html.escape(one_line(value), quote=True)


NODE_W, LINE_H, PAD, GAP, COL_GAP = 270, 15, 8, 10, 110
TITLE_CHARS, DETAIL_CHARS, TITLE_LINES = 36, 44, 2


def _wrap(text: str, width: int, lines: int) -> list[str]:
    """Words into at most `lines` lines of `width` characters, the last one cut with …."""
    out: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > width:  # an ARN or id longer than a line: cut it, never overflow
            if current:
                out.append(current)
                current = ""
            out.append(word[:width])
            word = word[width:]
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][:width - 1] + "…"
    return out or [""]


def _box(node: Node) -> tuple[list[str], list[str], int]:
    title = _wrap(one_line(node.title), TITLE_CHARS, TITLE_LINES)
    detail = _wrap(one_line(node.detail), DETAIL_CHARS, 1) if node.detail else []
    return title, detail, PAD * 2 + LINE_H * (len(title) + len(detail))


def _node_svg(node: Node, x: int, y: int) -> list[str]:
    title, detail, height = _box(node)
    tip = " — ".join(p for p in (node.title, node.detail, node.tip) if p)
    out = [f'<g class="{e(node.role)}"><title>{e(tip)}</title>',
           f'<rect class="node" x="{x}" y="{y}" width="{NODE_W}" height="{height}" rx="6"/>']
    ty = y + PAD + 11
    for line in title:
        out.append(f'<text class="title" x="{x + PAD}" y="{ty}">{e(line)}</text>')
        ty += LINE_H
    for line in detail:
        out.append(f'<text class="small" x="{x + PAD}" y="{ty}">{e(line)}</text>')
        ty += LINE_H
    return [*out, "</g>"]


def _edge_svg(x1: int, y1: int, x2: int, y2: int, label: str, dotted: bool) -> list[str]:
    bend = (x2 - x1) // 2
    cls = "edge dotted" if dotted else "edge"
    out = [f'<path class="{cls}" d="M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} '
           f'{x2 - 7},{y2}"/>',
           f'<polygon class="head" points="{x2},{y2} {x2 - 8},{y2 - 4} {x2 - 8},{y2 + 4}"/>']
    if label:
        out.append(f'<text class="small elabel" x="{x2 - 10}" y="{y2 - 5}" text-anchor="end">'
                   f"{e(label)}</text>")
    return out


_DOTTED = frozenset({"support", "contradict", "missing", "more"})


def chain_svg(c: Chain, label: str) -> str:
    """Columns left to right: trigger, root cause, then what it explains and the evidence,
    stacked; each edge leaves the root cause, so no edge crosses a box."""
    effects = [(n, _box(n)[2]) for n in c.effects]
    right_h = sum(h for _, h in effects) + GAP * max(0, len(effects) - 1)
    cause_h = _box(c.cause)[2]
    trig_h = _box(c.trigger)[2] if c.trigger is not None else 0
    height = max(right_h, cause_h, trig_h) + 2 * GAP
    x_cause = (NODE_W + COL_GAP) if c.trigger is not None else 0
    x_right = x_cause + NODE_W + COL_GAP
    width = (x_right + NODE_W) if effects else (x_cause + NODE_W)
    mid = height // 2
    parts: list[str] = []
    if c.trigger is not None:
        parts += _node_svg(c.trigger, 0, mid - trig_h // 2)
        parts += _edge_svg(NODE_W, mid, x_cause, mid, c.trigger.edge, False)
    parts += _node_svg(c.cause, x_cause, mid - cause_h // 2)
    y = (height - right_h) // 2
    for node, h in effects:
        parts += _edge_svg(x_cause + NODE_W, mid, x_right, y + h // 2, node.edge,
                           node.role in _DOTTED)
        parts += _node_svg(node, x_right, y)
        y += h + GAP
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{e(label)}" '
            f'viewBox="-2 0 {width + 4} {height}" width="{width + 4}" height="{height}">'
            + "".join(parts) + "</svg>")


# --- the timeline as lanes -------------------------------------------------------------

KINDS = ("change", "deployment", "stopped-task", "service-event", "alarm", "log")
LANE_H, LANE_LABEL, PLOT_W = 22, 110, 900


#: How far before the earliest onset the picture starts: the night before an incident is in
#: the table, the hour that led to it is in the picture.
LEAD = dt.timedelta(hours=1)
#: Onset markers closer than this (px) share one label ("#1,3").
NEAR = 28.0


@dataclass(frozen=True, slots=True)
class _Axis:
    start: dt.datetime
    end: dt.datetime

    def x(self, moment: dt.datetime) -> float:
        span = max((self.end - self.start).total_seconds(), 60.0)
        return LANE_LABEL + PLOT_W * (moment - self.start).total_seconds() / span


def timeline_svg(report: Report) -> tuple[str, int]:
    """One lane per kind, a dot per entry (its text on hover), and a dashed line at each
    diagnosis's onset: when things happened, at a glance. The picture starts an hour before
    the earliest onset; it returns the number of earlier entries it leaves to the table."""
    dated = sorted(((t, entry) for entry in report.timeline
                    if (t := _time(entry.time)) is not None), key=lambda p: p[0])
    if not dated:
        return "", 0
    onsets = sorted((t, d.rank) for d in report.diagnoses if (t := _time(d.onset)))
    first = dated[0][0] if not onsets else max(dated[0][0], onsets[0][0] - LEAD)
    axis = _Axis(first, max([dated[-1][0], *(t for t, _ in onsets)]))
    drawn = [(t, entry) for t, entry in dated if t >= first]
    kinds = [k for k in KINDS if any(en.kind == k for _, en in drawn)]
    kinds += sorted({en.kind for _, en in drawn} - set(kinds))
    top = 20
    height = top + LANE_H * len(kinds) + 22
    parts = _lanes(kinds, drawn, axis, top)
    parts += _onsets([(axis.x(t), rank) for t, rank in onsets if t >= first], top, height)
    bottom = height - 6
    parts += [f'<text class="small" x="{LANE_LABEL}" y="{bottom}">{e(_stamp(axis.start))}'
              "</text>",
              f'<text class="small" x="{LANE_LABEL + PLOT_W}" y="{bottom}" '
              f'text-anchor="end">{e(_stamp(axis.end))} UTC</text>']
    width = LANE_LABEL + PLOT_W + 24
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="timeline" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
            + "".join(parts) + "</svg>", len(dated) - len(drawn))


def _lanes(kinds: list[str], drawn: list[tuple[dt.datetime, TimelineEntry]], axis: _Axis,
           top: int) -> list[str]:
    parts = []
    for i, kind in enumerate(kinds):
        y = top + LANE_H * i + LANE_H // 2
        parts += [f'<text class="small" x="0" y="{y + 4}">{e(kind)}</text>',
                  f'<line class="axis" x1="{LANE_LABEL}" y1="{y}" x2="{LANE_LABEL + PLOT_W}" '
                  f'y2="{y}"/>']
        css = f"k-{kind}" if kind in KINDS else "k-other"  # no class name from data
        for moment, entry in drawn:
            if entry.kind == kind:
                tip = (f"{hhmm(entry.time)} {entry.kind} {short_name(entry.resource)}: "
                       f"{entry.summary}")
                parts.append(f'<circle class="{css}" cx="{axis.x(moment):.1f}" cy="{y}" '
                             f'r="4"><title>{e(tip)}</title></circle>')
    return parts


def _onsets(marks: list[tuple[float, int]], top: int, height: int) -> list[str]:
    """A dashed line per onset; onsets closer than NEAR share one label, so ranks never
    print over each other."""
    parts: list[str] = []
    groups: list[list[tuple[float, int]]] = []
    for x, rank in sorted(marks):
        if groups and x - groups[-1][0][0] < NEAR:
            groups[-1].append((x, rank))
        else:
            groups.append([(x, rank)])
        parts.append(f'<line class="onset" x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" '
                     f'y2="{height - 20}"/>')
    for group in groups:
        ranks = ",".join(str(r) for r in sorted(r for _, r in group))
        parts.append(f'<text class="small" x="{group[0][0]:.1f}" y="{top - 8}" '
                     f'text-anchor="middle">#{ranks}</text>')
    return parts


def _time(value: str | None) -> dt.datetime | None:
    """An ISO time as an aware datetime (UTC when it names no zone); None when absent or
    not a time."""
    try:
        moment = dt.datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M}"
