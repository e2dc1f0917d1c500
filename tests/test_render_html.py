"""`--format html`: one self-contained, inert page.

The page's markup is parsed (the standard library's HTML parser) to prove what it holds:
only the elements we write, no script, no event handler, no fetch; every diagnosis with its
causal chain as SVG; evidence folded in <details>; the timeline drawn when there is one.
Hostile AWS text shows up as text, never as markup. The real browser test is in
tests/test_render_html_browser.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from checker.model import (
    Diagnosis,
    Evidence,
    Remediation,
    Report,
    Severity,
    Status,
    TimelineEntry,
    Trigger,
)
from checker.render import RenderOptions, render
from checker.render.chain import SHOWN, chain
from tests.test_hostile_output import RAW
from tests.test_render import API, WEB, make_report

RTB = "rtb-0b2a4d6f8b0c2e3a4"
#: What a hostile string tries: close the element and open a script, an event handler, an
#: element with a remote source, an attribute breakout.
NASTY = ('</td></tr></table><script>alert(1)</script><img src="https://evil.example/p.png" '
         "onerror=alert(2)>\" onmouseover='x' <svg/onload=alert(3)> &amp; --> ]]>")
#: Everything the renderer writes; anything else came from data.
ELEMENTS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "code",
            "span", "strong", "div", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th",
            "td", "a", "section", "details", "summary", "pre", "svg", "g", "rect", "text",
            "path", "polygon", "line", "circle"}


class Markup(HTMLParser):
    """Every start tag and its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Markup:
    markup = Markup()
    markup.feed(page)
    markup.close()
    return markup


def timeline_report() -> Report:
    """The renderers' report, its first diagnosis dated and triggered, with a timeline."""
    base = make_report()
    trig = Trigger("2026-11-20T09:10:00+00:00", "user/ops-admin", "DeleteRoute", RTB,
                   "cloudtrail", f"aws ec2 create-route --route-table-id {RTB}")
    first = replace(base.diagnoses[0], onset="2026-11-20T09:13:00+00:00", trigger=trig)
    timeline = (
        TimelineEntry("2026-11-20T09:10:00+00:00", "change", RTB, "DeleteRoute 0.0.0.0/0"),
        TimelineEntry("2026-11-20T09:12:00+00:00", "deployment", WEB, "deployment of web:8"),
        TimelineEntry("2026-11-20T09:14:00+00:00", "stopped-task", WEB,
                      "prod/web task 0f3c stopped (OutOfMemoryError)"))
    return replace(base, diagnoses=(first, *base.diagnoses[1:]), timeline=timeline)


def test_page_is_self_contained_and_fetches_nothing() -> None:
    page = render(timeline_report(), "html")
    markup = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    csp = [a["content"] for t, a in markup.tags
           if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    assert {tag for tag, _ in markup.tags} <= ELEMENTS
    for tag, attrs in markup.tags:
        assert not {"src", "srcset", "poster", "data", "action"} & set(attrs), (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag == "a":  # links go to the anchors or the playbooks' documentation
            href = str(attrs["href"])
            assert href.startswith(("#d", "https://docs.aws.amazon.com/")), attrs
    assert "url(" not in page and "@import" not in page


def test_every_diagnosis_has_its_section_chain_and_folded_evidence() -> None:
    report = timeline_report()
    page = render(report, "html")
    markup = parse(page)
    text = " ".join(markup.text)
    sections = [a["id"] for t, a in markup.tags if t == "section"]
    assert sections == [f"d{d.rank}" for d in report.diagnoses]
    for d in report.diagnoses:
        assert f"{d.rank}. {d.title}" in text and d.id in text
    charts = [a for t, a in markup.tags if t == "svg" and a.get("aria-label", "").startswith(
        "causal chain")]
    assert len(charts) == len(report.diagnoses)
    # the evidence is folded: one <details> per diagnosis with evidence, closed
    folded = [a for t, a in markup.tags if t == "details"]
    assert all("open" not in a for a in folded)
    assert "Evidence (3)" in text and "could not check: needs task_definitions" in text
    assert "aws ec2 create-route --route-table-id" in text  # the trigger's undo command
    assert "Could not check (1)" in text and "Collection errors (1)" in text


def test_timeline_is_drawn_when_present_and_absent_otherwise() -> None:
    with_past = parse(render(timeline_report(), "html"))
    lanes = [a for t, a in with_past.tags if t == "svg" and a.get("aria-label") == "timeline"]
    assert len(lanes) == 1
    dots = [a for t, a in with_past.tags if t == "circle"]
    assert [d["class"] for d in dots] == ["k-change", "k-deployment", "k-stopped-task"]
    onsets = [a for t, a in with_past.tags if t == "line" and a.get("class") == "onset"]
    assert len(onsets) == 1  # only the first diagnosis has an onset
    without = parse(render(make_report(), "html"))
    assert not [a for t, a in without.tags if a.get("aria-label") == "timeline"]


def test_the_timeline_picture_starts_an_hour_before_the_first_onset() -> None:
    """The night before is in the table; near onsets share a label instead of overprinting."""
    report = timeline_report()
    early = TimelineEntry("2026-11-19T22:00:00+00:00", "deployment", WEB, "deployment of web:7")
    second = replace(report.diagnoses[1], onset="2026-11-20T09:14:00+00:00")
    report = replace(report, timeline=(early, *report.timeline),
                     diagnoses=(report.diagnoses[0], second, *report.diagnoses[2:]))
    markup = parse(render(report, "html"))
    assert len([a for t, a in markup.tags if t == "circle"]) == 3
    text = " ".join(markup.text)
    assert "1 earlier entry is only in the table." in text
    assert "deployment of web:7" in text  # in the table
    assert "#1,2" in text and "2026-11-20 08:13" in text  # one label; the window's start


def test_hostile_text_is_text_never_markup() -> None:
    base = make_report()
    evil = tuple(replace(d, title=d.title + NASTY, summary=NASTY, resources=(NASTY,),
                         why=(NASTY,), explains=(NASTY,),
                         evidence=(*d.evidence, Evidence("c" + NASTY, Status.FAIL, NASTY,
                                                         NASTY, "support")))
                 for d in base.diagnoses)
    report = replace(base, diagnoses=evil, account=NASTY, scope={"clusters": [NASTY]},
                     timeline=(TimelineEntry("2026-11-20T09:10:00+00:00", NASTY, NASTY,
                                             NASTY),))
    page = render(report, "html", RenderOptions(verbose=True))
    markup = parse(page)
    assert {tag for tag, _ in markup.tags} <= ELEMENTS
    assert not any(name.startswith("on") for _, attrs in markup.tags for name in attrs)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    text = " ".join(markup.text)
    assert "<script>alert(1)</script>" in text  # shown to the reader, as text
    classes = {a.get("class") for _, a in markup.tags}
    assert not any(c and "<" in c for c in classes)


def test_control_characters_are_shown_escaped_in_every_field() -> None:
    """Each string is sanitized where the page shows it: title, summary, evidence, command
    lines, the trigger's undo command, the timeline, findings and collection errors."""
    bad = "OOM\x1b[2J\u202eexe\x07"
    report = timeline_report()
    first = report.diagnoses[0]
    assert first.trigger is not None
    odd = replace(first, title=bad, summary=bad, why=(bad,),
                  evidence=(Evidence("c", Status.FAIL, bad, bad, "confirm"),),
                  remediation=(Remediation(bad, f"echo {bad}\necho two"),),
                  trigger=replace(first.trigger, revert=bad, actor=bad))
    report = replace(report, diagnoses=(odd,), findings=tuple(
        replace(f, message=bad) for f in report.findings),
        timeline=tuple(replace(t, summary=bad) for t in report.timeline),
        errors=({"collection": bad, "operation": bad, "code": bad, "message": bad},))
    page = render(report, "html", RenderOptions(verbose=True))
    assert not RAW.findall(page.replace("\n", ""))
    shown = " ".join(parse(page).text)
    assert shown.count("OOM\\x1b[2J\\u202eexe\\x07") >= 10
    assert "echo two" in shown  # a command keeps its lines


def test_the_chain_groups_repeated_evidence_and_caps_its_nodes() -> None:
    services = [f"{WEB}-{i}" for i in range(5)]
    evidence = tuple(Evidence("service-no-alarms", Status.FAIL, s, "no alarm", "confirm")
                     for s in services)
    many = tuple(Evidence(f"check-{i:02d}", Status.FAIL, API, "m", "support")
                 for i in range(SHOWN + 3))
    d = Diagnosis("observability-gaps", "No alarms", "hygiene", Severity.LOW, 0.5, 1.0,
                  tuple(services), "s", evidence + many, (), (), rank=1,
                  explains=("image-pull-failure on prod/payments",))
    c = chain(d)
    first = c.effects[:2]
    assert [n.role for n in first] == ["explains", "confirm"]
    assert first[1].title == "service-no-alarms ×5"
    assert first[1].detail == "prod/web-0, prod/web-1, prod/web-2 +2"
    total = 1 + 1 + SHOWN + 3  # what it explains, the grouped alarms, the others
    assert len(c.effects) == SHOWN
    assert c.effects[-1].title == f"+{total - (SHOWN - 1)} more"
    nodes = parse(render(replace(make_report(), diagnoses=(d,)), "html"))
    boxes = [a for t, a in nodes.tags if t == "rect" and a.get("class") == "node"]
    assert len(boxes) == 1 + SHOWN  # the cause and the capped effects


def test_an_empty_report_says_so() -> None:
    page = render(make_report(diagnoses=False), "html")
    assert "No diagnoses: 1 checks passed, 1 could not run" in " ".join(parse(page).text)
    assert not re.search(r"<svg[^>]*causal", page)


def test_cli_writes_the_page(tmp_path: Path) -> None:
    """`analyze -f html -o FILE`: the format is offered by the command line."""
    out = tmp_path / "report.html"
    bundle = Path(__file__).parent / "bundles" / "handwritten-oom.json"
    done = subprocess.run([sys.executable, "-m", "checker.cli", "analyze", str(bundle),
                           "-f", "html", "-o", str(out)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    markup = parse(out.read_text())
    assert "Task memory climbs until the container is OOM-killed" in " ".join(markup.text)
