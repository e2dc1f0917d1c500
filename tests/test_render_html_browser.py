"""The HTML report in a real browser: headless Chromium from Debian's packages, driven by
Playwright (its Python package only; the browser is the system's, never a download).

The page loads with no console message and no request beyond itself, every diagnosis
title is in the rendered DOM, the evidence is folded until its summary is clicked, the
causal chain is drawn at a readable size, and a screenshot is not blank. Controls show the
harness can fail: a page that tries to fetch is seen trying and gets a console error (the
CSP refuses it), and a blank page is found blank.

`.ci/run` installs Chromium; where it is missing this skips with the reason, except under
CI, where a browser test that silently did not run would read as a pass.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from checker import bundle as bundle_mod
from checker.model import Report
from checker.pipeline import Engine
from checker.render import RenderOptions, render
from tests.test_render_html import timeline_report

CHROMIUM = Path(os.environ.get("ECSDOCTOR_CHROMIUM", "/usr/bin/chromium"))
#: Chromium as root in a sandboxed machine without network: no sandbox, no GPU, and none of
#: its own background connections (they would be refused, and are not the page's).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser test: .ci/run installs Chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the browser test needs Playwright: pip install '.[test]'")
    if not CHROMIUM.exists():
        _missing(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set "
                 "ECSDOCTOR_CHROMIUM to a Chromium binary)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Loaded:
    page: Any
    url: str
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def load(browser: Any, tmp_path: Path) -> Iterator[Any]:
    pages: list[Any] = []

    def open_page(markup: str, name: str = "report.html") -> Loaded:
        path = tmp_path / name
        path.write_text(markup, encoding="utf-8")
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        pages.append(page)
        loaded = Loaded(page, path.as_uri())
        page.on("console", lambda m: loaded.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda exc: loaded.console.append(f"pageerror: {exc}"))
        page.on("request", lambda r: loaded.requests.append(r.url))
        page.goto(loaded.url, wait_until="load")
        return loaded

    yield open_page
    for page in pages:
        page.close()


def engine_report() -> Report:
    """The engine's own report of a real-shaped bundle (an OOM incident with its past)."""
    path = Path(__file__).parent / "bundles" / "handwritten-oom.json"
    return Engine().analyze(bundle_mod.load(path))


@pytest.mark.parametrize("make", [timeline_report, engine_report], ids=["built", "engine"])
def test_page_loads_clean_and_shows_every_diagnosis(load: Any, make: Any) -> None:
    report: Report = make()
    assert report.diagnoses and report.timeline
    loaded = load(render(report, "html", RenderOptions(verbose=True)))
    page = loaded.page
    assert loaded.console == []
    assert loaded.requests == [loaded.url]
    headings = page.locator("section.diag h2").all_inner_texts()
    assert headings == [f"{d.rank}. {d.title}" for d in report.diagnoses]
    links = page.locator("table a[href^='#d']").all_inner_texts()
    assert links == [d.title for d in report.diagnoses]
    chart = page.locator("section#d1 svg").first.bounding_box()
    assert chart is not None and chart["width"] > 300 and chart["height"] > 40
    assert page.locator("svg[aria-label=timeline] circle").count() >= 1
    every = page.locator("details:has(summary:text-matches('^Every entry')) tbody tr")
    assert every.count() == len(report.timeline)
    evidence = page.locator("section#d1 details table")
    assert not evidence.is_visible()  # folded, with no script
    page.locator("section#d1 details summary").click()
    assert evidence.is_visible()
    assert blank_fraction(page.screenshot(full_page=True)) < 0.97


def test_hostile_page_runs_nothing(load: Any) -> None:
    from tests.test_hostile_output import hostile_bundle

    report = Engine().analyze(json.loads(json.dumps(hostile_bundle())))
    loaded = load(render(report, "html", RenderOptions(verbose=True)))
    assert loaded.console == [] and loaded.requests == [loaded.url]
    assert loaded.page.locator("script, img, iframe, object, embed").count() == 0
    body = loaded.page.inner_text("body")
    assert "\\x1b[2J" in body and "@octocat" in body  # shown as text


def test_controls_the_harness_can_fail(load: Any) -> None:
    """A page that tries a fetch: the attempt is recorded and the CSP's refusal is on the
    console (so an empty record of our page means it tried none); a blank page is blank."""
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    fetching = load(f'<!DOCTYPE html><meta http-equiv="Content-Security-Policy" '
                    f'content="{csp}"><img src="http://127.0.0.1:9/x.png"><p>x</p>',
                    "fetching.html")
    assert any("Content Security Policy" in line for line in fetching.console)
    assert fetching.requests == [fetching.url, "http://127.0.0.1:9/x.png"]
    blank = load("<!DOCTYPE html><title>blank</title>", "blank.html")
    assert blank_fraction(blank.page.screenshot(full_page=True)) == 1.0


# --- a PNG's pixels, decoded with zlib (no imaging library needed) -------------------------


def blank_fraction(png: bytes) -> float:
    """The share of pixels equal to the most common one (1.0: a blank picture)."""
    width, height, channels, data = _decode(png)
    stride = width * channels
    counts: dict[bytes, int] = {}
    for y in range(0, height, 2):  # every other row and column: plenty for "blank"
        row = data[y * stride:(y + 1) * stride]
        for x in range(0, stride, channels * 2):
            pixel = row[x:x + channels]
            counts[pixel] = counts.get(pixel, 0) + 1
    return max(counts.values()) / sum(counts.values())


def _decode(png: bytes) -> tuple[int, int, int, bytes]:
    """8-bit RGB or RGBA, non-interlaced (what Chromium writes), unfiltered to raw rows."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        _unfilter(kind, line, previous, channels)
        out += line
        previous = line
    return width, height, channels, bytes(out)


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            corner = previous[i - bpp] if i >= bpp else 0
            estimate = left + up - corner
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
            best = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + best) & 0xFF
