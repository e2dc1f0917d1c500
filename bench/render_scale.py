"""How long each report format takes to render a large unhealthy account's report.

The account is bench/scale_bundle.py's (size 1: 100 services; size 3: about 39,000
findings and 26 diagnoses). The report is analysed once, then rendered in every format
(``--repeat`` times each, the median kept), in this process. It matters most in the audit
Lambda, which renders JSON, Markdown and HTML inside the one minute it keeps back from the
scan for the analysis, the renderers and the sinks (checker/audit/handler.py SINK_RESERVE).

The last line is the summary:

    render x3: json J.JJ s, markdown M.MM s, html H.HH s (39113 findings, 26 diagnoses)

Measured on the 2-core machine at size 3: json 4.9 s, markdown 6.7 s (14.7 s before it
sanitized only what it shows), html 1.4 s (9.9 s before it sanitized each string where it
is shown instead of the whole report).

Run from the repository root: ``python bench/render_scale.py [--size 3] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scale_bundle import build  # noqa: E402  (bench/ is a directory of scripts)

from checker.pipeline import Engine  # noqa: E402
from checker.render import RENDERERS, RenderOptions, render  # noqa: E402

FORMATS = ("json", "markdown", "html")
GENERATED_AT = "2026-11-20T10:05:00+00:00"


def run(size: int = 3, repeat: int = 1, show: Callable[[str], None] = print,
        unit: int = 100) -> dict[str, Any]:
    """Seconds per format (median of ``repeat``), and the report's size; ``unit`` services
    a size (the smoke test's is small)."""
    report = Engine().analyze(build(size, unit=unit), generated_at=GENERATED_AT)
    seconds: dict[str, float] = {}
    for fmt in FORMATS:
        assert fmt in RENDERERS, fmt
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            out = render(report, fmt, RenderOptions())
            times.append(time.perf_counter() - start)
        seconds[fmt] = statistics.median(times)
        show(f"{fmt}: {seconds[fmt]:.2f} s, {len(out) // 1024} KB")
    show(f"render x{size}: " + ", ".join(f"{f} {seconds[f]:.2f} s" for f in FORMATS)
         + f" ({len(report.findings)} findings, {len(report.diagnoses)} diagnoses)")
    return {"seconds": seconds, "findings": len(report.findings),
            "diagnoses": len(report.diagnoses)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=3, help="1 = 100 services")
    parser.add_argument("--repeat", type=int, default=1, help="renders per format (median)")
    args = parser.parse_args()
    run(args.size, args.repeat)


if __name__ == "__main__":
    main()
