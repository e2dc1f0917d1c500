"""Playbook loading/validation and the walk, on hand-written bundles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checker import registry
from checker.errors import PlaybookError
from checker.pipeline import Engine
from checker.playbook import catalog, load
from tests import builders as b

ENGINE = Engine()
REG = registry.load()

GOOD = """
scenario: demo
title: A scenario
symptoms: [stopped-task-oom]
hypotheses:
  - diagnosis: memory-undersized
    confidence: 0.5
    confirm: [stopped-task-oom]
    summary: x
    remediation: [{step: do it}]
"""


def _load(tmp_path: Path, text: str) -> list:
    (tmp_path / "demo.yaml").write_text(text)
    return load(REG, tmp_path)


@pytest.mark.parametrize(("old", "new", "error"), [
    ("confirm: [stopped-task-oom]", "confirm: [stopped-task-oom, memory-trend-risng]",
     r"demo.yaml: hypotheses\[0\].confirm\[1\]: unknown check 'memory-trend-risng'"),
    ("diagnosis: memory-undersized", "diagnosis: memory-undrsized",
     r"hypotheses\[0\].diagnosis: unknown diagnosis id 'memory-undrsized'"),
    ("confidence: 0.5", "confidence: 2", r"hypotheses\[0\].confidence: required, a number"),
    ("summary: x", "summray: x", r"hypotheses\[0\].summray: unknown key"),
    ("symptoms: [stopped-task-oom]", "symptoms: []", r"symptoms: expected a non-empty list"),
    ("remediation: [{step: do it}]", "remediation: []", r"remediation: required"),
    ("title: A scenario", "title: [oops", r"demo.yaml: invalid YAML"),
])
def test_bad_playbook_names_file_key_and_problem(tmp_path: Path, old: str, new: str,
                                                 error: str) -> None:
    assert old in GOOD
    with pytest.raises(PlaybookError, match=error):
        _load(tmp_path, GOOD.replace(old, new))


@pytest.mark.parametrize(("old", "new", "error"), [
    ("summary: x", "summary: 'OOM on {servce}'",
     r"hypotheses\[0\].summary: unknown placeholder \{servce\}.*did you mean 'service'"),
    ("summary: x", "summary: 'killed {count times'",
     r"hypotheses\[0\].summary: .*expected '\}'.*write a literal brace"),
    ("remediation: [{step: do it}]",
     "remediation: [{step: do it, command: 'aws x {cluster.name}'}]",
     r"hypotheses\[0\].remediation\[0\].command: placeholder \{cluster.name\} is not a "
     r"data key"),
    ("remediation: [{step: do it}]", "remediation: [{step: 'see {tasks}', command: 'x }'}]",
     r"hypotheses\[0\].remediation\[0\].command: Single '\}'"),
    ("confirm: [stopped-task-oom]", "confirm: [{check: stopped-task-oom, where: {caus: x}}]",
     r"confirm\[0\].where.caus: check 'stopped-task-oom' emits no data key 'caus'"),
    ("confirm: [stopped-task-oom]",
     "confirm: [{check: stopped-task-image-pull, where: {cause: netwrk}}]",
     r"confirm\[0\].where.cause: check 'stopped-task-image-pull' never gives cause = "
     r"'netwrk' \(one of .*network"),
    ("remediation: [{step: do it}]", "remediation: [{step: do it, snippet: force-new-deploy}]",
     r"remediation\[0\].snippet: unknown snippet 'force-new-deploy'"),
    ("remediation: [{step: do it}]",
     "remediation: [{step: do it, snippet: force-new-deployment, command: x}]",
     r"remediation\[0\]: give command or snippet, not both"),
])
def test_templates_and_filters_fail_at_load(tmp_path: Path, old: str, new: str,
                                            error: str) -> None:
    """A typo in a placeholder, a where: key or value, or a brace must fail in CI, not
    reach a user as a blank or a half-filled command."""
    assert old in GOOD
    with pytest.raises(PlaybookError, match=error):
        _load(tmp_path, GOOD.replace(old, new))


def test_templates_name_emitted_keys_and_snippets_fill(tmp_path: Path) -> None:
    text = GOOD.replace("summary: x", "summary: '{service}: {count} OOM kills ({stopped})'")
    text = text.replace("remediation: [{step: do it}]",
                        "remediation: [{step: restart, snippet: force-new-deployment}]")
    (book,) = _load(tmp_path, text)
    (step,) = book.hypotheses[0].remediation
    assert step.command is not None and step.command.startswith(
        "aws ecs update-service --cluster {cluster} --service {service_name}")


def test_every_check_declares_what_it_emits() -> None:
    assert [s.id for s in REG if s.emits is None] == []


def test_good_playbook_loads(tmp_path: Path) -> None:
    (book,) = _load(tmp_path, GOOD)
    assert book.hypotheses[0].severity.value == "high"  # from the catalog


def test_shipped_playbooks_only_name_known_things() -> None:
    for book in ENGINE.playbooks:
        for hyp in book.hypotheses:
            assert hyp.diagnosis in catalog()
            assert all(ref.check in REG for ref in hyp.refs())


def _diags(bundle: dict) -> dict[tuple[str, str], object]:
    report = ENGINE.analyze(bundle)
    return {(d.id, d.resources[0]): d for d in report.diagnoses}


WEB = b.service_arn("prod", "web")


def assert_filled(diag: object) -> None:
    """No playbook placeholder may reach a user unfilled."""
    texts = [diag.summary, *(r.step for r in diag.remediation),  # type: ignore[attr-defined]
             *(r.command or "" for r in diag.remediation)]  # type: ignore[attr-defined]
    for text in texts:
        assert not re.search(r"\{[a-z_]+\}", text), text


def test_leak_confirmed_by_long_uptime_oom_and_undersized_ruled_out() -> None:
    bundle = b.ecs_bundle([b.service("web", desired=4, running=3)],
                          [b.oom_task("web", m) for m in (320, 400, 510)])
    diags = _diags(bundle)
    assert ("memory-leak", WEB) in diags
    assert ("memory-undersized", WEB) not in diags
    leak = diags[("memory-leak", WEB)]
    assert {e.check for e in leak.evidence} >= {"stopped-task-oom", "oom-after-long-uptime"}
    assert "OOM-killed after" in leak.summary
    assert_filled(leak)


def test_undersized_confirmed_when_oom_is_soon_after_start() -> None:
    bundle = b.ecs_bundle([b.service("web", desired=3, running=2)],
                          [b.oom_task("web", m) for m in (2, 4, 6)])
    diags = _diags(bundle)
    assert ("memory-undersized", WEB) in diags and ("memory-leak", WEB) not in diags
    diag = diags[("memory-undersized", WEB)]
    assert "(2m–6m (median 4m) of uptime)" in diag.summary  # type: ignore[attr-defined]
    assert_filled(diag)


def test_unknown_uptime_keeps_undersized_with_capped_confidence() -> None:
    tasks = [b.oom_task("web", 30) for _ in range(2)]
    for t in tasks:
        del t["startedAt"]
    diag = _diags(b.ecs_bundle([b.service("web")], tasks))[("memory-undersized", WEB)]
    assert diag.confidence <= 0.75  # type: ignore[attr-defined]
    assert any(e.role == "missing" for e in diag.evidence)  # type: ignore[attr-defined]


def test_crash_loop_confirmed_and_ruled_out() -> None:
    crash = b.ecs_bundle([b.service("web", desired=2, running=0)],
                         [b.crash_task("web") for _ in range(4)])
    diag = _diags(crash)[("app-crash-loop", WEB)]
    assert "each after running 20s" in diag.summary  # type: ignore[attr-defined]
    assert_filled(diag)
    healthy = b.ecs_bundle([b.service("web", desired=2, running=2)],
                           [b.crash_task("web", 143) for _ in range(4)])
    assert _diags(healthy) == {}


def test_below_desired_alone_diagnoses_nothing() -> None:
    bundle = b.ecs_bundle([b.service("web", desired=4, running=2)], [])
    assert _diags(bundle) == {}


def test_evidence_is_correlated_per_service() -> None:
    """OOMs on `api` must not confirm anything for `web`, which is merely below desired."""
    bundle = b.ecs_bundle(
        [b.service("web", desired=4, running=2), b.service("api", desired=2, running=2)],
        [b.oom_task("api", m) for m in (2, 3)])
    keys = set(_diags(bundle))
    assert keys == {("memory-undersized", b.service_arn("prod", "api"))}
