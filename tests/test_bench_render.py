"""bench/render_scale.py still runs (at a tiny size: its timings mean nothing here)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_render_scale_runs_small() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import render_scale

        out: list[str] = []
        result = render_scale.run(size=1, repeat=1, show=out.append, unit=4)
    finally:
        sys.path.remove(str(BENCH))
    assert out[-1].startswith("render x1: json ")
    assert set(result["seconds"]) == {"json", "markdown", "html"}
    assert result["diagnoses"] > 0 and result["findings"] > 0
