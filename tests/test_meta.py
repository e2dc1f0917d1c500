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
            # `from pkg import _mod` imports the module pkg._mod
            out.update(f"{node.module}.{a.name}" for a in node.names
                       if a.name.startswith("_") and not a.name.startswith("__"))
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
        assert ours <= {"checker.model", "checker.render", "checker.sanitize"} | {
            m for m in ours if m.startswith("checker.render.")}, path.name


# -- the layers (DESIGN.md data flow; issue 10) ------------------------------------------
#: The engine: checker's top-level modules. Products (cli, gate, audit, demo), collectors
#: and renderers are subpackages that build on it; the engine imports none of them.
PRODUCTS = ("checker.cli", "checker.gate", "checker.audit", "checker.demo", "checker.fleet")
#: What checks may import of ecsdoctor: the engine's read side, and each other.
CHECKS_MAY_IMPORT = ("checker.facts", "checker.model", "checker.registry", "checker.errors",
                     "checker.bundle", "checker.names", "checker.secrets", "checker.roles",
                     "checker.yamlload",
                     "checks")


def _ours(path: Path) -> set[str]:
    return {m for m in _imports(path) if m.split(".")[0] in ("checker", "checks")}


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in prefixes)


def test_engine_imports_no_product_collector_or_renderer() -> None:
    engine = sorted(p for p in (REPO / "checker").glob("*.py"))
    assert {p.stem for p in engine} >= {"bundle", "facts", "registry", "graph", "walk",
                                        "playbook", "rank", "model", "pipeline"}
    for path in engine:
        bad = {m for m in _ours(path)
               if _under(m, *PRODUCTS, "checker.collect", "checker.render", "checks")}
        assert not bad, f"engine module {path.name} imports {sorted(bad)}"


def test_checks_import_only_the_engines_read_side() -> None:
    for path in _py("checks"):
        bad = {m for m in _ours(path) if not _under(m, *CHECKS_MAY_IMPORT)}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_collectors_import_no_checks_and_no_product() -> None:
    for path in _py("checker", "collect"):
        bad = {m for m in _ours(path) if _under(m, "checks", "checker.render", *PRODUCTS)}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_products_do_not_import_each_other() -> None:
    for product in PRODUCTS:
        others = [p for p in PRODUCTS if p != product]
        if product == "checker.cli":  # the command line starts the gate and the demo
            others = ["checker.audit"]
        for path in _py(*product.split(".")):
            bad = {m for m in _ours(path) if _under(m, *others)}
            assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_no_module_imports_another_packages_private_module() -> None:
    """`_x` is private to its package: a helper several packages need gets a public name."""
    for base in ("checker", "checks", "tests", "bench"):
        for path in _py(base):
            rel = path.relative_to(REPO).with_suffix("")
            package = ".".join(rel.parts[:-1])
            for module in _ours(path) | {m for m in _imports(path) if m.split(".")[0] in (
                    "tests", "bench") or (m.startswith("_") and not m.startswith("__"))}:
                parts = module.split(".")
                private = next((i for i, part in enumerate(parts)
                                if part.startswith("_") and not part.startswith("__")), None)
                if private is not None:
                    owner = ".".join(parts[:private])
                    assert owner == package, f"{rel} imports {module}, private to {owner}"


def test_cli_start_up_does_not_import_moto_or_boto3() -> None:
    import subprocess
    import sys

    code = ("import sys, checker.cli; "
            "print(sorted(m for m in ('moto', 'boto3', 'networkx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.strip()
    assert out == "[]"
