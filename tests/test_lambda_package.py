"""The Lambda package (deploy/build_lambda.py, run by `sam build`) holds what the handler
imports, and nothing the runtime already has: the handler's imports are checked against
the package's contents without building it (that needs the package index; the bench
bench/lambda_coldstart.py builds and times it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy"))

import build_lambda  # noqa: E402

#: Top-level import names of the distributions deploy/requirements.txt and the runtime give.
DISTRIBUTIONS = {"pyyaml": {"yaml", "_yaml"}, "orjson": {"orjson"}, "boto3": {"boto3"},
                 "jmespath": {"jmespath"}, "botocore": {"botocore"},
                 "s3transfer": {"s3transfer"}, "urllib3": {"urllib3"},
                 "python-dateutil": {"dateutil"}, "six": {"six"}}
#: Imported when present, never needed: botocore takes certifi's CA bundle if it is installed
#: (else its own); cython_runtime is the pseudo-module Cython extensions (libyaml's) register.
OPTIONAL = {"certifi", "cython_runtime"}
PROBE = ("import sys, json; import checker.audit.handler; "
         "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")


def _names(requirement: str) -> set[str]:
    dist = requirement.split(">", 1)[0].split("=", 1)[0].strip().lower()
    return DISTRIBUTIONS[dist]


def test_runtime_packages_are_not_vendored_unless_asked() -> None:
    shipped = {r.split(">")[0].lower() for r in build_lambda.requirements(with_boto3=False)}
    assert shipped == {"pyyaml", "orjson"}
    vendored = {r.split(">")[0].lower() for r in build_lambda.requirements(with_boto3=True)}
    assert vendored == shipped | {"boto3", "jmespath"}


def test_the_handler_imports_only_what_the_package_and_runtime_hold() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True,
                         text=True, cwd=REPO).stdout
    imported = set(json.loads(out))
    allowed = set(build_lambda.PACKAGES) | set(sys.stdlib_module_names) | {"__main__"} | OPTIONAL
    for requirement in build_lambda.requirements(with_boto3=True):
        allowed |= _names(requirement)
    allowed |= {n for dist in build_lambda.RUNTIME for n in DISTRIBUTIONS.get(dist, set())}
    missing = sorted(m for m in imported - allowed if not m.startswith("_"))
    assert missing == [], f"the handler imports what the package does not hold: {missing}"
    assert "networkx" not in imported and "typer" not in imported and "rich" not in imported


@pytest.mark.parametrize("name", build_lambda.PACKAGES)
def test_shipped_packages_exist(name: str) -> None:
    assert (REPO / name / "__init__.py").is_file()
