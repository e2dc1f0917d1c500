"""The gate on every real task definition of the shared corpus, pinned: each file's exit code and
failing check ids (and, for a template, the same judged as it is with --allow-placeholders) are
those of tests/gate_corpus_expected.yaml, reviewed by hand once with the judgement written
beside them. No crash, no traceback; exit 2 with one line for files that are not requests (no
`family`) or are templates ("render the template first")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.cli import main
from tests.conftest import REPO

EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (REPO / "tests" / "gate_corpus_expected.yaml").read_text())


def _files(shared: Path) -> list[Path]:
    return sorted((shared / "corpus" / "taskdefs").glob("*.json"))


def _gate(path: Path, out: Path, *extra: str) -> tuple[int, list[str]]:
    """Exit code and failing check ids (when a report was written)."""
    code = main(["gate", "-t", str(path), "-f", "json", "-o", str(out), *extra])
    if code not in (0, 1):
        return code, []
    report = json.loads(out.read_text())
    internal = [f for f in report["findings"] if "internal_error" in f["data"]]
    assert internal == [], (path.name, internal)
    return code, sorted({f["check"] for f in report["findings"] if f["status"] == "fail"})


def test_every_corpus_file_is_pinned(shared_dir: Path) -> None:
    assert sorted(p.name for p in _files(shared_dir)) == sorted(EXPECTED)
    assert all(e["judgement"].strip() for e in EXPECTED.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gate_on_a_corpus_file(name: str, shared_dir: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    expected = EXPECTED[name]
    path = shared_dir / "corpus" / "taskdefs" / name
    code, failing = _gate(path, tmp_path / "report.json")
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    assert (code, failing) == (expected["exit"], expected["failing"]), (
        f"{name}: was judged {expected['judgement']!r}; now exit {code}, failing {failing}")
    if code == 2:
        (line,) = err.strip().splitlines()
        assert "family: missing" in line or "render the template first" in line, line
    if "as_is_exit" in expected:
        code, failing = _gate(path, tmp_path / "as-is.json", "--allow-placeholders")
        capsys.readouterr()
        assert (code, failing) == (expected["as_is_exit"], expected["as_is_failing"]), name


def test_sarif_and_junit_on_the_corpus(shared_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import xml.etree.ElementTree as ET

    for path in _files(shared_dir)[:20]:
        if EXPECTED[path.name]["exit"] == 2 and "as_is_exit" not in EXPECTED[path.name]:
            continue
        for fmt in ("sarif", "junit", "markdown", "table"):
            out = tmp_path / f"out.{fmt}"
            assert main(["gate", "-t", str(path), "-f", fmt, "-o", str(out),
                         "--allow-placeholders"]) in (0, 1)
            text = out.read_text()
            if fmt == "sarif":
                assert json.loads(text)["version"] == "2.1.0"
            elif fmt == "junit":
                ET.fromstring(text)
        capsys.readouterr()


def test_the_corpus_through_one_run_names_every_file(shared_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """All the registrable files in one gate run: one report, its worst exit, every finding
    naming its file, SARIF fingerprints unique across files of the same family."""
    paths = [p for p in _files(shared_dir) if EXPECTED[p.name]["exit"] in (0, 1)]
    args = [a for p in paths for a in ("-t", str(p))]
    out = tmp_path / "all.sarif"
    code = main(["gate", *args, "-f", "sarif", "-o", str(out)])
    capsys.readouterr()
    assert code == max(EXPECTED[p.name]["exit"] for p in paths)
    results = json.loads(out.read_text())["runs"][0]["results"]
    prints = [r["partialFingerprints"]["ecsdoctorFinding/v1"] for r in results]
    assert len(prints) == len(set(prints))
    files = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert len(files) > 1
