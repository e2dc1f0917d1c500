"""Finding template placeholders scales linearly with the size of a value.

The gate reads every string of a task definition through checks/lib/placeholders.py before
anything else runs (a template is exit 2), so a hostile or merely huge value — a 1 MB
environment variable, a file of `{{` — must not cost more than its length. For each shape
below (openers with no closer, the cases a lazy or unbounded pattern retries at every
character) this times `find_placeholders` (best of five) at 64 KB and at 1 MB and prints
the ratio: linear is about 16, quadratic about 256. (At 32 KB a run is a few milliseconds
and the ratio mostly measures the timer on a shared machine.)

The last line is the summary:

    placeholders: 1 MB in X.XX s (worst shape), ratio 1 MB / 64 KB R.R (linear ≈ 16)

Run from the repository root: ``python bench/placeholders.py [--small 65536] [--large 1048576]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.lib.placeholders import find_placeholders

#: Openers without closers, and runs a bounded body scans to its limit.
SHAPES: dict[str, str] = {
    "dollar-brace": "${",
    "mustache": "{{",
    "angle": "<a",
    "hash": "#{",
    "bare": "$A",
    "letters": "a",
    "long-body": "${" + "a" * 300,
    "closed": "${TAG}x",
}


def value(shape: str, size: int) -> str:
    return (shape * (size // len(shape) + 1))[:size]


def seconds(fn: Callable[[], object], repeat: int = 5) -> float:
    """The best of `repeat` runs: the machine is shared, the minimum is the finder's cost."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run(small: int, large: int, emit: Callable[[str], None] = print) -> float:
    """Print one line per shape and the summary; return the worst ratio."""
    worst_ratio, worst_large = 0.0, 0.0
    for name, shape in SHAPES.items():
        short, long = value(shape, small), value(shape, large)
        t_small = max(seconds(partial(find_placeholders, short)), 1e-6)
        t_large = seconds(partial(find_placeholders, long))
        ratio = t_large / t_small
        if t_small >= 1e-3:  # below a millisecond the ratio is timer noise
            worst_ratio = max(worst_ratio, ratio)
        worst_large = max(worst_large, t_large)
        emit(f"{name:12} {small // 1024:>5} KB {t_small:7.4f} s   {large // 1024:>5} KB "
             f"{t_large:7.4f} s   ratio {ratio:6.1f}")
    big = f"{large >> 20} MB" if large >= 1 << 20 else f"{large >> 10} KB"
    emit(f"placeholders: {big} in {worst_large:.2f} s (worst shape), ratio {big} / "
         f"{small >> 10} KB {worst_ratio:.1f} (linear ≈ {large / small:.0f})")
    return worst_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=64 * 1024)
    parser.add_argument("--large", type=int, default=1024 * 1024)
    args = parser.parse_args()
    run(args.small, args.large)


if __name__ == "__main__":
    main()
