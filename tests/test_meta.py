"""Registry, playbook and architecture guardrails (STYLE.md rule 6): cheap, no AWS."""

from __future__ import annotations

import ast
from pathlib import Path

from checker.playbook import catalog
from checker.registry import AREAS, load
from tests.conftest import REPO

REG = load()
CONTRACT_IDS = {
    "cpu-saturation", "cpu-credit-exhaustion", "memory-leak", "memory-undersized",
    "host-memory-overcommit", "runtime-heap-exceeds-limit", "insufficient-cluster-capacity",
    "eni-exhaustion", "placement-constraint-unsatisfiable", "host-port-conflict",
    "autoscaling-missing", "autoscaling-at-max", "nat-connection-exhaustion",
    "egress-route-missing", "security-group-blocks-lb", "security-group-blocks-egress",
    "lb-az-mismatch", "health-check-grace-too-short", "image-pull-failure",
    "secrets-pull-failure", "app-crash-loop", "single-az", "vpc-dns-disabled",
    "missing-vpc-endpoints", "agent-disconnected", "stale-agent-or-ami", "observability-gaps",
    "plaintext-secrets",
}


def test_check_metadata() -> None:
    assert len(REG) > 0
    for spec in REG:
        assert spec.func.__name__ == spec.id.replace("-", "_"), spec.id
        home = f"checks.{spec.area}"
        assert spec.module == home or spec.module.startswith(f"{home}."), (
            f"{spec.id} (area {spec.area}) lives in {spec.module}, outside {home}")
        assert spec.area in AREAS
        assert spec.docs.startswith("https://docs.aws.amazon.com/") or spec.docs.startswith(
            "https://repost.aws/"), spec.id
        assert spec.title and spec.title[0].isupper(), spec.id
        assert len(spec.description) > 40, f"{spec.id}: docstring must say why"


def test_catalog_covers_the_contract() -> None:
    assert set(catalog()) >= CONTRACT_IDS


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def _py(*parts: str) -> list[Path]:
    base = REPO.joinpath(*parts)
    return sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]


def test_only_collect_talks_to_aws() -> None:
    pure = [*_py("checks"), *_py("checker", "render"),
            *(_py("checker", m)[0] for m in ("graph", "playbook", "rank", "facts", "model",
                                              "pipeline", "registry", "bundle"))]
    for path in pure:
        bad = {m for m in _imports(path) if m.split(".")[0] in ("boto3", "botocore", "moto")}
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_renderers_import_only_the_model() -> None:
    for path in _py("checker", "render"):
        ours = {m for m in _imports(path) if m.split(".")[0] in ("checker", "checks")}
        assert ours <= {"checker.model", "checker.render"} | {
            m for m in ours if m.startswith("checker.render.")}, path.name


def test_cli_start_up_does_not_import_moto_or_boto3() -> None:
    import subprocess
    import sys

    code = ("import sys, checker.cli; "
            "print(sorted(m for m in ('moto', 'boto3', 'networkx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.strip()
    assert out == "[]"
