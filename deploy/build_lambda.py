"""Build the scheduled audit's Lambda package: what `sam build` runs for AuditFunction
(deploy/template.yaml: ``BuildMethod: makefile``, the repository's Makefile calls this).

SAM's own Python builder would copy the whole ``CodeUri`` (the repository: tests, bench,
docs, 40 MB of test fixtures) and ship no bytecode, so that every cold start compiles every
module it imports from source (the code directory is read-only: nothing is cached). This
build instead:

- installs deploy/requirements.txt for the function's platform (manylinux x86_64 wheels of
  CPython 3.11, as SAM's pip workflow does), without pip's console scripts;
- copies only the packages the handler imports from: ``checker``, ``checks`` and the
  ``playbooks`` data, without ``__pycache__`` or other stray files;
- compiles every module to bytecode with ``--invalidation-mode unchecked-hash``: a zip
  keeps modification times only to two seconds, so a timestamp-checked ``.pyc`` could be
  judged stale and compiled again on every cold start; an unchecked one is used as built.

boto3 is not vendored: the python3.11 runtime provides it (docs/audit.md says why and what
it costs). ``--with-boto3`` builds the alternative, for measuring it.

Usage: ``python deploy/build_lambda.py ARTIFACTS_DIR [--with-boto3]`` from the repository
root; prints the package's size.
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "deploy" / "requirements.txt"
PACKAGES = ("checker", "checks", "playbooks")
#: What the runtime provides and the package therefore leaves out (unless --with-boto3).
RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
PLATFORM = ("--platform", "manylinux2014_x86_64", "--implementation", "cp",
            "--python-version", "3.11", "--only-binary=:all:")
JUNK = ("__pycache__", "*.pyc", "*.pyo", ".DS_Store")


def requirements(with_boto3: bool) -> list[str]:
    """The requirement lines to install: all of deploy/requirements.txt, or all but what
    the runtime has."""
    lines = [line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    wanted = [line for line in lines if line]
    if with_boto3:
        return wanted
    return [line for line in wanted if not line.lower().startswith(RUNTIME)]


def build(out: Path, with_boto3: bool = False) -> int:
    """Fill ``out`` with the package; returns its size in bytes."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
                    "--target", str(out), *PLATFORM, *requirements(with_boto3)], check=True)
    shutil.rmtree(out / "bin", ignore_errors=True)  # console scripts: nothing to run them
    for name in PACKAGES:
        shutil.copytree(REPO / name, out / name, ignore=shutil.ignore_patterns(*JUNK),
                        dirs_exist_ok=True)
    ok = compileall.compile_dir(
        str(out), quiet=1, workers=0,
        invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH)
    if not ok:
        raise SystemExit(f"{out}: some modules did not compile")
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifacts", type=Path, help="the directory to fill (ARTIFACTS_DIR)")
    parser.add_argument("--with-boto3", action="store_true",
                        help="vendor boto3/botocore instead of using the runtime's")
    args = parser.parse_args()
    size = build(args.artifacts, args.with_boto3)
    print(f"{args.artifacts}: {size / 1e6:.1f} MB unzipped")


if __name__ == "__main__":
    main()
