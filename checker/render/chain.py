"""A diagnosis's causal chain as nodes and edges, shared by the Markdown (Mermaid) and HTML
(inline SVG) pictures, so both draw the same chain.

The chain reads left to right: the change that started it (the trigger, when one is
known) → the root cause (the diagnosis) → what it explains (the diagnoses it accounts for
and the findings its playbook calls symptoms) and the evidence that confirms, supports,
weakens or could not check it. Evidence rows stating the same check with the same role
become one node with ×N and the resources, so a fact repeated per service does not fill
the picture; past :data:`SHOWN` nodes a last one says how many more there are.

Nothing here escapes anything: the labels are the sanitized report's text, and each
renderer escapes them for its own syntax (Mermaid entity codes, HTML).
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.model import Diagnosis, Evidence, Status, short_name
from checker.render._timeline import hhmm

#: Nodes shown to the right of the root cause, symptoms first; the rest become "+N more".
SHOWN = 10
#: Resources named on one evidence node.
RESOURCES = 3
#: What an edge from the root cause to a node says, by the evidence's role.
EDGE = {"symptom": "explains", "explains": "explains", "confirm": "confirmed by",
        "support": "supported by", "contradict": "weakened by",
        "missing": "could not check"}


@dataclass(frozen=True, slots=True)
class Node:
    """One box: `title` on its first line, `detail` under it, `edge` the label of the edge
    that reaches it, `role` its kind (trigger, cause, explains, symptom, confirm, support,
    contradict, missing, more) and `tip` the longer text a hover shows."""

    key: str
    role: str
    title: str
    detail: str
    edge: str
    tip: str = ""


@dataclass(frozen=True, slots=True)
class Chain:
    trigger: Node | None
    cause: Node
    effects: tuple[Node, ...]

    @property
    def nodes(self) -> tuple[Node, ...]:
        head = (self.trigger,) if self.trigger is not None else ()
        return (*head, self.cause, *self.effects)


def chain(d: Diagnosis) -> Chain:
    """The chain of one diagnosis (already sanitized by the caller)."""
    cause = Node("d", "cause", d.title,
                 f"{d.id} · {d.severity.value} · {d.confidence:.0%}",
                 "", d.summary)
    trigger = None
    if d.trigger is not None:
        t = d.trigger
        trigger = Node("t", "trigger", f"{t.event} on {short_name(t.resource)}",
                       f"by {t.actor} at {hhmm(t.time)} UTC", "started",
                       f"seen in {t.source}")
    effects = [Node(f"x{i}", "explains", text, "ranked as a consequence", EDGE["explains"])
               for i, text in enumerate(d.explains, 1)]
    groups = _grouped(d.evidence)
    order = sorted(groups, key=lambda k: (k[0] != "symptom", _ROLE_ORDER.get(k[0], 9)))
    for i, key in enumerate(order, 1):
        effects.append(_evidence_node(f"e{i}", key, groups[key]))
    if len(effects) > SHOWN:
        left = len(effects) - (SHOWN - 1)
        effects = [*effects[:SHOWN - 1],
                   Node("more", "more", f"+{left} more", "listed in the evidence", "")]
    return Chain(trigger, cause, tuple(effects))


_ROLE_ORDER = {"symptom": 0, "confirm": 1, "support": 2, "contradict": 3, "missing": 4}


def _grouped(evidence: tuple[Evidence, ...]) -> dict[tuple[str, str, Status], list[Evidence]]:
    groups: dict[tuple[str, str, Status], list[Evidence]] = {}
    for ev in evidence:
        groups.setdefault((ev.role, ev.check, ev.status), []).append(ev)
    return groups


def _evidence_node(key: str, group: tuple[str, str, Status], rows: list[Evidence]) -> Node:
    role, check, status = group
    names = list(dict.fromkeys(short_name(ev.resource) for ev in rows))
    shown = ", ".join(names[:RESOURCES])
    if len(names) > RESOURCES:
        shown += f" +{len(names) - RESOURCES}"
    count = f" ×{len(rows)}" if len(rows) > 1 else ""
    title = f"{check}{count}" + (f" ({status.value})" if status is not Status.FAIL else "")
    return Node(key, role if role in EDGE else "support", title, shown,
                EDGE.get(role, role), rows[0].message)
