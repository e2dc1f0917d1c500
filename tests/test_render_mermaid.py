"""The Markdown report's causal chains: one ```mermaid flowchart per diagnosis (GitHub draws
it in issues and PR comments), whose structure no AWS text can change.

Every line of a block must match the small grammar the renderer writes (nodes with a
quoted label, edges between known nodes, class lines): a label that closed its quotes or
its brackets, or added an arrow, would leave a line outside it. Labels decode back to the
sanitized text, so the escaping hides nothing from the reader.
"""

from __future__ import annotations

import re
from dataclasses import replace

from checker.model import Evidence, Status, Trigger
from checker.render import render
from checker.render.markdown import mermaid_label
from checker.sanitize import one_line
from tests.test_render import WEB, make_report

BLOCK = re.compile(r"^```mermaid\n(.*?)^```$", re.S | re.M)
LABEL = r'"[A-Za-z0-9 ,.:/_+=()#;<>-]*"'  # <br/> is ours; data's < > are entity-coded
LINE = re.compile("|".join([
    r"flowchart LR",
    rf"    (?P<node>[a-z]+[0-9]*)(?:\[{LABEL}\]|\(\[{LABEL}\]\))",
    r"    (?P<src>[a-z]+[0-9]*) (?:-->|-\.->|-\.-)(?:\|[A-Za-z ]+\|)? (?P<dst>[a-z]+[0-9]*)",
    r"    classDef [a-z]+ [a-z0-9:#,. -]+",
    r"    class [a-z0-9,]+ [a-z]+",
]))
#: A label that tries to end itself and add nodes, edges, a click link and a comment.
NASTY = ('x"]-->evil[("boom")] ; click d "https://evil.example" _blank\n%% c\n'
         "end `code` <b>&amp;</b> |pipe| #35; @octocat ::error::y \x1b[2J")


def blocks(markdown: str) -> list[str]:
    return BLOCK.findall(markdown)


def assert_grammar(block: str) -> None:
    nodes: set[str] = set()
    for line in block.splitlines():
        match = LINE.fullmatch(line)
        assert match, f"not a line the renderer writes: {line!r}"
        if match["node"]:
            nodes.add(match["node"])
        if match["src"]:
            assert {match["src"], match["dst"]} <= nodes, line


def decode(label: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)


def test_each_diagnosis_draws_its_chain() -> None:
    report = make_report()
    out = render(report, "markdown")
    found = blocks(out)
    assert len(found) == len(report.diagnoses)
    for block, d in zip(found, report.diagnoses, strict=True):
        assert_grammar(block)
        assert f"d([\"{mermaid_label(d.title)}<br/>{mermaid_label(d.id)}" in block
        for ev in d.evidence:
            assert mermaid_label(ev.check) in block
    first = found[0]
    assert "-->|confirmed by| e" in first  # memory-trend-rising confirms
    assert "-.->|could not check| e" in first and "class e3 missing" in first
    assert "(unknown)" in decode(first)  # what could not be checked says so


def test_trigger_grouping_and_what_the_cause_explains() -> None:
    base = make_report()
    rows = tuple(Evidence("service-no-alarms", Status.FAIL, f"{WEB}-{i}", "no alarm",
                          "confirm") for i in range(4))
    trig = Trigger("2026-11-20T09:10:00+00:00", "user/ops-admin", "DeleteRoute",
                   "rtb-0b2a4d6f8b0c2e3a4", "cloudtrail")
    d = replace(base.diagnoses[0], evidence=rows, trigger=trig,
                explains=("image-pull-failure on prod/payments",))
    block = blocks(render(replace(base, diagnoses=(d,)), "markdown"))[0]
    assert_grammar(block)
    assert "t -->|started| d" in block
    assert "DeleteRoute on rtb-0b2a4d6f8b0c2e3a4<br/>by user/ops-admin at 09:10 UTC" in block
    assert "d -->|explains| x1" in block
    assert block.count("service-no-alarms") == 1
    assert "service-no-alarms #215;4<br/>prod/web-0, prod/web-1, prod/web-2 +1" in block


def test_hostile_text_cannot_change_the_diagram() -> None:
    base = make_report()
    evil = tuple(replace(d, title=NASTY, id=d.id, explains=(NASTY,),
                         evidence=(*d.evidence, Evidence(NASTY, Status.FAIL, NASTY, NASTY,
                                                         "support")))
                 for d in base.diagnoses)
    out = render(replace(base, diagnoses=evil), "markdown")
    found = blocks(out)
    assert len(found) == len(evil)  # no fence closed early, none opened
    for block in found:
        assert_grammar(block)  # so no `click` line, no comment, no extra node or edge
    label = mermaid_label(NASTY)
    assert re.fullmatch(r"[A-Za-z0-9 ,.:/_+=()#;-]*", label)
    assert decode(label) == one_line(NASTY)


def test_a_report_without_diagnoses_draws_nothing() -> None:
    assert blocks(render(make_report(diagnoses=False), "markdown")) == []
