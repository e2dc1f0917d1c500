"""Hostile waiver files are refused as fast as a real one is read.

`.ecsdoctor.yaml` sits in the repository a CI job checks out: anyone who can open a pull
request writes it. Unlimited, 600 bytes of nested aliases (the "billion laughs") ran past
60 s at 1.3 GB. This reads, through checker/gate/waivers.py, a real-looking file of
`--waivers` waivers and each hostile shape — the alias bomb, a hundred and one aliases,
deep `[[[[…` nesting, an alias that contains itself, a file over the size limit — and
prints how long each took to be accepted or refused, with the ratio to the real file.

The last line is the summary:

    waiver limits: alias bomb refused in X ms (N bytes), worst hostile file Y ms, a file of
    200 waivers read in Z ms

Run from the repository root: ``python bench/waiver_limits.py [--waivers 200]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checker.errors import InputError
from checker.gate import waivers

TODAY = dt.date(2026, 12, 7)


def alias_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join([*lines, "waivers: *i"]) + "\n"


def real(count: int) -> str:
    entry = ("  - check: container-privileged\n    resource: \"web-{i}:*\"\n"
             "    container: agent\n    reason: the agent reads the host's cgroups (SEC-42)\n"
             "    expires: 2027-03-31\n")
    return "waivers:\n" + "".join(entry.format(i=i) for i in range(count))


def hostile() -> dict[str, str]:
    return {
        "alias bomb": alias_bomb(),
        "101 aliases": "r: &r x\nrefs: [" + ", ".join(["*r"] * 101) + "]\nwaivers: []\n",
        "deep nesting": "waivers: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "self-reference": "a: &a [*a]\nwaivers: []\n",
        "over the size": "# " + "x" * waivers.MAX_BYTES + "\nwaivers: []\n",
    }


def timed(fn: Callable[[], object]) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        fn()
        outcome = "read"
    except InputError as exc:
        outcome = "refused: " + str(exc).split("refused: ")[-1].split(";")[0]
    return (time.perf_counter() - started) * 1000, outcome


def run(count: int, out: Callable[[str], None] = print) -> dict[str, float]:
    base, _ = timed(lambda: waivers.parse(real(count), "w.yaml", today=TODAY))
    out(f"{'file':<16} {'bytes':>9} {'ms':>9} {'× real':>7}  outcome")
    out(f"{f'{count} waivers':<16} {len(real(count)):>9} {base:>9.1f} {1:>7.2f}  read")
    worst = 0.0
    bomb = 0.0
    for name, text in hostile().items():
        if len(text.encode()) > waivers.MAX_BYTES:
            path = Path("/tmp") / f"ecsdoctor-bench-{name.replace(' ', '-')}.yaml"
            path.write_text(text)
            ms, outcome = timed(partial(waivers.load, path, today=TODAY))
            path.unlink()
        else:
            ms, outcome = timed(partial(waivers.parse, text, "w.yaml", today=TODAY))
        worst = max(worst, ms)
        bomb = ms if name == "alias bomb" else bomb
        out(f"{name:<16} {len(text):>9} {ms:>9.1f} {ms / base:>7.2f}  {outcome}")
    out(f"waiver limits: alias bomb refused in {bomb:.0f} ms ({len(alias_bomb())} bytes), "
        f"worst hostile file {worst:.0f} ms, a file of {count} waivers read in {base:.0f} ms")
    return {"bomb_ms": bomb, "worst_ms": worst, "real_ms": base}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waivers", type=int, default=200)
    run(parser.parse_args(argv).waivers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
