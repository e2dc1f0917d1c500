"""The scheduled audit's Lambda as deployed: package size and cold-start import time.

Builds the package with deploy/build_lambda.py (what ``sam build`` runs) into a temporary
directory, three ways side by side:

- **as deployed**: bytecode compiled in, boto3 from the runtime;
- **source only**: the same files without bytecode — what SAM's default Python builder
  ships; the code directory is read-only on Lambda, so every cold start compiles;
- **boto3 vendored**: bytecode compiled in, boto3/botocore in the package.

The runtime's boto3 is stood in for by a plain ``pip install boto3`` beside the package,
compiled (the runtime's is). Each cold start is a fresh ``python -S`` (no site-packages:
only the package, the stand-in runtime and the standard library on ``sys.path``) importing
``checker.audit.handler`` with ``PYTHONDONTWRITEBYTECODE`` (nothing cached between runs):
wall time, median of ``--runs``, and ``-X importtime``'s sum of self times. Sizes are the
package's unzipped bytes and its zip (deflate, as SAM uploads it).

The last line is the summary:

    lambda: package Z.Z MB zipped (U.U MB unzipped); cold import W.WW s (source only S.SS s,
    boto3 vendored V.VV s, Y.Y MB zipped)

Run from the repository root: ``python bench/lambda_coldstart.py [--runs 5]`` (needs pip
and the package index, like ``sam build``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy"))

import build_lambda  # noqa: E402  (deploy/ is a directory of scripts)

_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|")
PROBE = "import sys; sys.path[:0] = {path!r}; import checker.audit.handler"


def zipped(directory: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp, "package.zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(directory.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(directory))
        return archive.stat().st_size


def unzipped(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def cold_import(path: list[str], runs: int) -> tuple[float, float]:
    """(median wall s, importtime self-time sum in s) of importing the handler."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    argv = [sys.executable, "-S", "-c", PROBE.format(path=path)]
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, env=env, cwd=tempfile.gettempdir())
        walls.append(time.perf_counter() - start)
    err = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c",
                          PROBE.format(path=path)], check=True, env=env, capture_output=True,
                         text=True, cwd=tempfile.gettempdir()).stderr
    total = sum(int(m.group(1)) for line in err.splitlines() if (m := _IMPORTTIME.match(line)))
    return statistics.median(walls), total / 1e6


def strip_bytecode(directory: Path) -> None:
    for cache in list(directory.rglob("__pycache__")):
        shutil.rmtree(cache)


def run(runs: int = 5, show: Callable[[str], None] = print) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ecsdoctor-lambda-") as tmp:
        deployed, source, vendored = (Path(tmp, n) for n in ("deployed", "source", "vendored"))
        runtime = Path(tmp, "runtime")
        build_lambda.build(deployed)
        shutil.copytree(deployed, source)
        strip_bytecode(source)
        build_lambda.build(vendored, with_boto3=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target",
                        str(runtime), *build_lambda.PLATFORM, "boto3"], check=True)
        import compileall

        compileall.compile_dir(str(runtime), quiet=1, workers=0)
        rows = {
            "as deployed": (deployed, [str(deployed), str(runtime)]),
            "source only": (source, [str(source), str(runtime)]),
            "boto3 vendored": (vendored, [str(vendored)]),
        }
        out: dict[str, float] = {}
        show(f"{'package':<15} {'zipped':>9} {'unzipped':>9} {'cold import':>12} "
             f"{'importtime':>11}")
        for name, (directory, path) in rows.items():
            size_zip, size = zipped(directory), unzipped(directory)
            wall, self_s = cold_import(path, runs)
            out[name] = wall
            out[f"{name} zip"] = size_zip / 1e6
            show(f"{name:<15} {size_zip / 1e6:7.1f} MB {size / 1e6:7.1f} MB {wall:10.2f} s "
                 f"{self_s:9.2f} s")
        out["unzipped"] = unzipped(deployed) / 1e6
    show(f"lambda: package {out['as deployed zip']:.1f} MB zipped ({out['unzipped']:.1f} MB "
         f"unzipped); cold import {out['as deployed']:.2f} s (source only "
         f"{out['source only']:.2f} s, boto3 vendored {out['boto3 vendored']:.2f} s, "
         f"{out['boto3 vendored zip']:.1f} MB zipped)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="cold starts of each (median)")
    run(parser.parse_args().runs)


if __name__ == "__main__":
    main()
