"""Report renderers: one function per output format, selected from `RENDERERS`.

Why a dict and not an `if fmt == ...` chain (STYLE rule 8): the CLI, the Lambda audit and
the tests all pick a format by name, and adding a format is one module plus one entry here.
Every renderer has the same signature, reads only the `Report` it is given (plus options),
and computes nothing about AWS, so the same report always renders to the same bytes.

Renderer modules import `RenderOptions` from here only for type checking; at run time they
need nothing from this package, which keeps the import graph acyclic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from checker.model import Report
from checker.render.asff import render_asff
from checker.render.html import render_html
from checker.render.json_report import json_pieces, render_json
from checker.render.junit import render_junit
from checker.render.markdown import render_markdown
from checker.render.sarif import render_sarif

__all__ = ["IN_PIECES", "RENDERERS", "RenderOptions", "Renderer", "render", "render_pieces"]


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Presentation knobs; none of them changes what the report says.

    `color` is decided by the caller (False when NO_COLOR is set, or the output is not a TTY
    or is a file) so that renderers never look at the environment and stay deterministic.
    """

    color: bool = False
    width: int = 100
    verbose: bool = False


Renderer = Callable[[Report, RenderOptions], str]


def render_table(report: Report, options: RenderOptions) -> str:
    """The terminal renderer, imported on first use: it is the only one that needs rich,
    and the Lambda audit (JSON + Markdown) must not load rich at all."""
    from checker.render.table import render_table as table

    return table(report, options)


RENDERERS: dict[str, Renderer] = {
    "table": render_table,
    "json": render_json,
    "markdown": render_markdown,
    "sarif": render_sarif,
    "junit": render_junit,
    "asff": render_asff,
    "html": render_html,
}


def render(report: Report, fmt: str, options: RenderOptions | None = None) -> str:
    """Render `report` as `fmt`; an unknown format is a usage error, not a KeyError.

    The message lists the valid formats so the CLI can print it as its one-line error.
    """
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        valid = ", ".join(sorted(RENDERERS))
        raise ValueError(f"unknown report format {fmt!r}; valid formats: {valid}")
    return renderer(report, options if options is not None else RenderOptions())


#: Renderers that can also give their text a piece at a time (`render_pieces`): the JSON
#: report, the one that grows to 100 MB and more on a large account, as ASCII bytes, a
#: top-level entry or a batch of list items a piece. Keyed by the renderer, so that the
#: format's renderer in `RENDERERS` is what decides.
IN_PIECES: dict[Renderer, Callable[[Report], Iterable[bytes]]] = {
    render_json: json_pieces,
}


def render_pieces(report: Report, fmt: str,
                  options: RenderOptions | None = None) -> Iterable[str | bytes]:
    """`render(report, fmt, options)` in pieces, for a writer that writes each as it comes
    (the command line's `--output` and stdout): joined, with bytes read as UTF-8, they are
    its text. A renderer without a form in `IN_PIECES` gives one piece, its whole text."""
    renderer = RENDERERS.get(fmt)
    in_pieces = IN_PIECES.get(renderer) if renderer is not None else None
    return in_pieces(report) if in_pieces is not None else (render(report, fmt, options),)
