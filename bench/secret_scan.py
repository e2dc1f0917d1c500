"""Secret detection and redaction scale linearly with the size of a value.

A task definition field can be large (a 1 MB shell script in `command`, a certificate
bundle in an environment variable), and every scan and every saved bundle reads each one
through checker/secrets.py. For each adversarial shape below — long runs that a careless
pattern retries at every character (letters for a URL scheme, `eyJ-` for a JWT, `a:b` for
a URL's user info, base64 for a secret key) — this times the detector (`classify` on a
value under a secret-sounding name, `scan_words` on a command line) and the redaction of a
whole container at 32 KB and at 1 MB, and prints the ratio. Linear is about 32; quadratic is
about 1,000. For scale it also times, at 32 KB only, the URL pattern ecsdoctor used before
(`[a-zA-Z][a-zA-Z0-9+.-]*://…`, unbounded and unanchored).

The last line is the summary:

    secret scan: 1 MB in X.XX s (worst shape), ratio 1 MB / 32 KB R.R (linear ≈ 32); the
    old URL pattern took Y.YY s on 32 KB

Run from the repository root: ``python bench/secret_scan.py [--small 32768] [--large 1048576]``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checker.redact import redact_task_definition
from checker.secrets import classify, scan_words

#: Shapes that make a backtracking pattern retry long runs.
SHAPES: dict[str, str] = {
    "letters": "a",
    "dotted": "a-",
    "jwt-ish": "eyJ-",
    "userinfo": "a:b",
    "url-ish": "a://b:c",
    "base64": "Ab1/",
    "dashes": "-",
    "pem-ish": "-----BEGIN A ",
    "braces": "${{",
    "words": "PASSWORD_x ",
}
OLD_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:(?P<password>[^@\s/]+)@")


def value(shape: str, size: int) -> str:
    return (shape * (size // len(shape) + 1))[:size]


def seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def one(text: str) -> float:
    """Detector and redaction over `text` in each place it can sit."""
    td = {"containerDefinitions": [{
        "name": "app", "environment": [{"name": "DB_PASSWORD", "value": text}],
        "command": ["sh", "-c", text], "dockerLabels": {"x.password": text},
        "logConfiguration": {"logDriver": "awsfirelens", "options": {"apikey": text}}}]}
    return (seconds(lambda: classify("DB_PASSWORD", text))
            + seconds(lambda: scan_words(["sh", "-c", text]))
            + seconds(lambda: redact_task_definition(td)))


def run(small: int, large: int, out: Callable[[str], None] = print) -> dict[str, float]:
    out(f"{'shape':<10} {small // 1024:>6} KB s {large // 1024:>7} KB s   ratio")
    worst_large, worst_ratio = 0.0, 0.0
    for name, shape in SHAPES.items():
        t_small = one(value(shape, small))
        t_large = one(value(shape, large))
        ratio = t_large / t_small if t_small else float("inf")
        worst_large, worst_ratio = max(worst_large, t_large), max(worst_ratio, ratio)
        out(f"{name:<10} {t_small:>11.4f} {t_large:>12.4f} {ratio:>7.1f}")
    old = seconds(lambda: OLD_URL.search(value("a-", small)))
    out(f"secret scan: {large // 1024 // 1024 or large / 1048576:g} MB in {worst_large:.2f} s "
        f"(worst shape), ratio {large // 1024} KB / {small // 1024} KB {worst_ratio:.1f} "
        f"(linear ≈ {large / small:.0f}); the old URL pattern took {old:.2f} s on "
        f"{small // 1024} KB")
    return {"large_seconds": worst_large, "ratio": worst_ratio, "old_seconds": old}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=32 * 1024)
    parser.add_argument("--large", type=int, default=1024 * 1024)
    args = parser.parse_args(argv)
    run(args.small, args.large)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
