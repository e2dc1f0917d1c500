"""Start-up cost: ``ecsdoctor --help`` and the Lambda handler's import, in fresh processes.

- ``ecsdoctor --help``: wall time of the installed console script (``python -m
  checker.cli`` when it is not on PATH), median of ``--runs`` (default 5); and, in another
  fresh process running the same ``main(["--help"])``, which heavy modules got imported:
  boto3, botocore and moto must not be (the CLI imports them only for the commands that
  talk to AWS or run the demo).
- ``import checker.audit.handler``: ``python -X importtime`` — the sum of the self times
  of every module it imports (what a Lambda cold start pays before the first line of the
  handler) — and the wall time of that ``python -c``, medians of ``--runs``.

- ``ecsdoctor analyze`` of a tiny bundle (tests/bundles/handwritten-oom.json, one service)
  to a JSON file: what every start of an analysis pays (imports, the YAML playbooks and
  tables, the check registry) beyond ``--help``; the target is at most 3× ``--help``.

All include the interpreter's own start-up (``python -c pass`` is printed for scale). The
last line is the summary:

    startup: ecsdoctor --help X.XX s (no boto3/botocore/moto); analyze of a tiny bundle
    A.AA s = R.R× --help (≤ 3); Lambda import Y ms importtime, Z.ZZ s wall

Run from the repository root: ``python bench/startup.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("boto3", "botocore", "moto", "networkx", "yaml", "rich", "typer")
MUST_NOT = ("boto3", "botocore", "moto")
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")
_PROBE = (
    "import sys, json\n"
    "from checker.cli import main\n"
    "code = main(['--help'])\n"
    "print('\\n@@' + json.dumps({m: m in sys.modules for m in %r}))\n"
)


def compile_sources() -> None:
    """Write the project's bytecode first, as ``pip install`` does: with
    PYTHONDONTWRITEBYTECODE set (many CI containers) every timed process would otherwise
    compile each module it imports that changed since its .pyc was written, and time that
    instead of the start-up a user gets."""
    import compileall

    for package in ("checker", "checks", "playbooks"):
        if (REPO / package).is_dir():
            compileall.compile_dir(str(REPO / package), quiet=1)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def wall(argv: Sequence[str], runs: int, ok: Sequence[int] = (0,)) -> float:
    """Median wall seconds of ``argv`` run to completion (exit code in ``ok``), output
    discarded."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(argv, check=False, env=_env(), cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - start)
        if code not in ok:
            raise RuntimeError(f"{' '.join(argv)} exited {code}")
    return statistics.median(times)


def help_command() -> list[str]:
    script = shutil.which("ecsdoctor")
    return [script, "--help"] if script else [sys.executable, "-m", "checker.cli", "--help"]


def help_imports() -> dict[str, bool]:
    """Which of HEAVY ``ecsdoctor --help`` imported."""
    out = subprocess.run([sys.executable, "-c", _PROBE % (HEAVY,)], check=True, env=_env(),
                         cwd=REPO, capture_output=True, text=True).stdout
    found: dict[str, bool] = json.loads(out.rsplit("\n@@", 1)[1])
    return found


def import_time(module: str) -> tuple[float, int, list[tuple[int, str]]]:
    """(self-time total in ms, modules imported, what ``module`` imports directly, by
    cumulative µs)
    of importing ``module`` in a fresh interpreter."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                         check=True, env=_env(), cwd=REPO, capture_output=True,
                         text=True).stderr
    total, count, top = 0, 0, []
    for line in err.splitlines():
        match = _IMPORTTIME.match(line)
        if match is None:
            continue
        self_us, cumulative, indent, name = match.groups()
        total += int(self_us)
        count += 1
        if len(indent) == 3:  # imported directly by `module` (or by site at start-up)
            top.append((int(cumulative), name))
    return total / 1000, count, sorted(top, reverse=True)


def run(runs: int = 5, show: Callable[[str], None] = print) -> dict[str, float]:
    compile_sources()
    baseline = wall([sys.executable, "-c", "pass"], runs)
    help_s = wall(help_command(), runs)
    imported = help_imports()
    loaded = [m for m, present in imported.items() if present]
    show(f"python -c pass: {baseline:.3f} s (the interpreter alone)")
    show(f"ecsdoctor --help: {help_s:.3f} s "
         f"(median of {runs}); imports {', '.join(loaded) or 'none'} of {', '.join(HEAVY)}")
    tiny = REPO / "tests" / "bundles" / "handwritten-oom.json"
    with tempfile.TemporaryDirectory(prefix="ecsdoctor-startup-") as tmp:
        analyze_s = wall([*help_command()[:-1], "analyze", str(tiny), "--format", "json",
                          "--output", str(Path(tmp, "report.json"))], runs, ok=(0, 1))
    show(f"ecsdoctor analyze {tiny.name}: {analyze_s:.3f} s (median of {runs}) = "
         f"{analyze_s / help_s:.1f}× --help")
    bad = [m for m in MUST_NOT if imported.get(m)]
    if bad:
        show(f"ERROR: ecsdoctor --help imported {', '.join(bad)}")
    samples = [import_time("checker.audit.handler") for _ in range(runs)]
    self_ms = statistics.median(s[0] for s in samples)
    lambda_wall = wall([sys.executable, "-c", "import checker.audit.handler"], runs)
    show(f"import checker.audit.handler: {self_ms:.0f} ms (sum of self times, "
         f"{samples[0][1]} modules), {lambda_wall:.3f} s wall (median of {runs})")
    show("  heaviest imports (cumulative): " + ", ".join(
        f"{name} {us / 1000:.0f} ms" for us, name in samples[0][2][:6]))
    verdict = f"no {'/'.join(MUST_NOT)}" if not bad else f"IMPORTS {', '.join(bad)}"
    show(f"startup: ecsdoctor --help {help_s:.2f} s ({verdict}); analyze of a tiny bundle "
         f"{analyze_s:.2f} s = {analyze_s / help_s:.1f}× --help (≤ 3); Lambda import "
         f"{self_ms:.0f} ms importtime, {lambda_wall:.2f} s wall")
    return {"help": help_s, "analyze": analyze_s, "lambda_ms": self_ms,
            "lambda_wall": lambda_wall, "help_imports_boto3": float(bool(bad))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each (median)")
    run(parser.parse_args().runs)


if __name__ == "__main__":
    main()
