"""Every task-definition and security check over 80 real task definitions, without a crash.

The corpus (../shared/corpus/taskdefs) holds task definitions from public repositories as
they were written: placeholders, "1 vcpu" sizes, Windows, FireLens, odd network modes,
DescribeTaskDefinition wrappers and RegisterTaskDefinition inputs without an ARN. Each file
becomes a bundle with one service that runs it (load-balanced on its first port, so the
service-aware checks run too); the files themselves are never modified.

The runner turns a crashing check into an `unknown` finding with `internal_error` in its
data: none may appear. `test_corpus_summary` prints the fail counts per check (run with
`-s` to see them).
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from checker import graph, registry
from checker.facts import Facts
from checker.model import Finding
from tests import builders as b
from tests.conftest import SHARED

CORPUS = SHARED / "corpus" / "taskdefs"
FILES = sorted(p.name for p in CORPUS.glob("*.json")) if CORPUS.is_dir() else []
REG = registry.load()
AREAS = ("taskdef", "security")
IDS = sorted(spec.id for spec in REG if spec.area in AREAS)


def _unwrap(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict) and isinstance(raw.get("taskDefinition"), dict):
        return dict(raw["taskDefinition"])
    assert isinstance(raw, dict), "a task definition file holds one JSON object"
    return dict(raw)


def _task_definition(path: Path) -> dict[str, Any]:
    """The file's task definition, with an ARN synthesised when it has none (in memory)."""
    td = _unwrap(json.loads(path.read_text("utf-8")))
    if not td.get("taskDefinitionArn"):
        family = str(td.get("family") or path.stem).replace("/", "-")
        rev = td.get("revision")
        revision = rev if isinstance(rev, int) and not isinstance(rev, bool) else 1
        td["taskDefinitionArn"] = b.td_arn(family, revision)
    return td


def _service(td: dict[str, Any]) -> dict[str, Any]:
    """A service running `td`, launched the way the definition asks, load-balanced on the
    first container that maps a port."""
    reqs = td.get("requiresCompatibilities") or []
    launch = "FARGATE" if reqs == ["FARGATE"] else "EXTERNAL" if reqs == ["EXTERNAL"] else "EC2"
    svc = dict(b.service("corpus", desired=2, launchType=launch))
    svc["taskDefinition"] = td["taskDefinitionArn"]
    for ctr in td.get("containerDefinitions", []) or []:
        ports = [m for m in ctr.get("portMappings", []) or [] if isinstance(m, dict)]
        if ports and isinstance(ports[0].get("containerPort"), int):
            svc["loadBalancers"] = [{
                "targetGroupArn": f"arn:aws:elasticloadbalancing:{b.REGION}:{b.ACCOUNT}:"
                                  "targetgroup/corpus/0123456789abcdef",
                "containerName": ctr.get("name"), "containerPort": ports[0]["containerPort"]}]
            break
    return svc


@cache
def findings_for(name: str) -> tuple[Finding, ...]:
    td = _task_definition(CORPUS / name)
    bundle = b.bundle(clusters=[b.cluster()], services=[_service(td)], tasks=[],
                      task_definitions=[td])
    return tuple(f for f in graph.run(REG, Facts(bundle)) if f.check in IDS)


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_runs_every_check(shared_dir: Path, name: str) -> None:
    findings = findings_for(name)
    crashed = [f"{f.check}: {f.message}" for f in findings if "internal_error" in f.data]
    assert not crashed, crashed
    assert {f.check for f in findings} == set(IDS), "every check reports something"


def test_corpus_summary(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert len(FILES) >= 80, f"corpus shrank: {len(FILES)} files"
    statuses: dict[str, Counter[str]] = {cid: Counter() for cid in IDS}
    failing_files: Counter[str] = Counter()
    for name in FILES:
        seen = set()
        for f in findings_for(name):
            statuses[f.check][f.status.value] += 1
            if f.status.value == "fail":
                seen.add(f.check)
        failing_files.update(seen)
    lines = [f"{'check':40} {'files':>5} {'fail':>5} {'pass':>5} {'unkn':>5} {'skip':>5}"]
    for cid in IDS:
        c = statuses[cid]
        lines.append(f"{cid:40} {failing_files[cid]:>5} {c['fail']:>5} {c['pass']:>5} "
                     f"{c['unknown']:>5} {c['skipped']:>5}")
    with capsys.disabled():
        print(f"\ncorpus: {len(FILES)} task definitions (files = files with ≥1 fail)")
        print("\n".join(lines))
    # Anchors that prove the checks fire on real files, not only on fixtures.
    assert failing_files["container-image-tag-mutable"] > 10
    assert failing_files["container-no-log-configuration"] > 0
    assert statuses["fargate-task-size-invalid"]["pass"] > 20
