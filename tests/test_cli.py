"""The CLI through typer's runner and through main() (the console script's own path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from checker.cli import app, main
from tests import builders as b

HANDWRITTEN = Path(__file__).parent / "bundles" / "handwritten-oom.json"
runner = CliRunner()


def _write(tmp_path: Path, bundle: dict) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    return path


def test_analyze_handwritten_bundle_table() -> None:
    result = runner.invoke(app, ["analyze", str(HANDWRITTEN)])
    assert result.exit_code == 0, result.output
    assert "memory-leak" in result.output and "shop-prod/cart" in result.output
    assert "\x1b[" not in result.output  # not a terminal: no colour codes


def test_analyze_json_is_report_v1(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["analyze", str(HANDWRITTEN), "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["format"] == "ecsdoctor-report" and report["version"] == 1
    assert report["diagnoses"][0]["id"] == "memory-leak"
    assert report["errors"][0]["code"] == "AccessDeniedException"


@pytest.mark.parametrize(("args", "code"), [
    ([], 0), (["--fail-on", "critical"], 1), (["--fail-on", "high"], 1), (["--strict"], 3),
])
def test_exit_codes(args: list[str], code: int) -> None:
    result = runner.invoke(app, ["analyze", str(HANDWRITTEN), "-f", "json", *args])
    assert result.exit_code == code


def test_fail_on_is_exactly_the_threshold(tmp_path: Path) -> None:
    """Exit 1 at the most severe failing finding's level, 0 one level above it."""
    healthy = _write(tmp_path, b.ecs_bundle([b.service("web")], [b.task("web")]))
    report = json.loads(runner.invoke(app, ["analyze", str(healthy), "-f", "json"]).stdout)
    order = ["critical", "high", "medium", "low", "info"]
    worst = min((order.index(f["severity"]) for f in report["findings"]
                 if f["status"] == "fail"), default=len(order))
    assert report["diagnoses"] == [] and 0 < worst < len(order)
    above, at = order[worst - 1], order[worst]
    assert runner.invoke(app, ["analyze", str(healthy), "--fail-on", above]).exit_code == 0
    assert runner.invoke(app, ["analyze", str(healthy), "--fail-on", at]).exit_code == 1


@pytest.mark.parametrize(("content", "message"), [
    ("this is not json\n", "not valid JSON (line 1, column 1"),
    ('{"format": "something-else", "version": 1}', "format: expected 'ecsdoctor-bundle'"),
    ('{"format": "ecsdoctor-bundle", "version": 7}', "version: expected 1, got 7"),
    ('{"format": "ecsdoctor-bundle", "version": 1, "resources": {"tasks": {}}}',
     "resources.tasks: expected a list, got dict"),
    ('[1, 2]', "expected a JSON object, got list"),
])
def test_bad_bundle_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       content: str, message: str) -> None:
    path = tmp_path / "not-json.txt"
    path.write_text(content)
    assert main(["analyze", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err


def test_missing_bundle_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "/nonexistent/bundle.json"]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["analyze"], ["analyze", "x.json", "--format", "yaml"], ["scan"], ["frobnicate"],
    ["scan", "--cluster", "prod", "--since", "soon"],
])
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ecsdoctor: error:")


def test_scan_without_region(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert main(["scan", "--cluster", "prod"]) == 2
    assert "no AWS region" in capsys.readouterr().err


def _profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, region: str) -> None:
    config = tmp_path / "aws-config-with-profile"
    config.write_text(f"[profile ops]\nregion = {region}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))


@pytest.mark.parametrize(("env", "profile_region", "flag", "expected"), [
    ({"AWS_REGION": "eu-west-1"}, None, None, "eu-west-1"),  # AWS_REGION alone
    ({"AWS_DEFAULT_REGION": "eu-west-2"}, None, None, "eu-west-2"),
    ({"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-2"}, None, None, "us-west-2"),
    ({"AWS_REGION": "us-west-2"}, "ap-south-1", None, "us-west-2"),  # env beats the profile
    ({}, "ap-south-1", None, "ap-south-1"),
    ({"AWS_REGION": "us-west-2"}, "ap-south-1", "sa-east-1", "sa-east-1"),  # --region wins
])
def test_region_is_chosen_like_the_aws_cli(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str],
        profile_region: str | None, flag: str | None, expected: str) -> None:
    from checker.collect.session import session_for

    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if profile_region:
        _profile(tmp_path, monkeypatch, profile_region)
    session = session_for(flag, "ops" if profile_region else None)
    assert session.region_name == expected


def test_scan_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--cluster", "prod", "--profile", "nope"]) == 2
    assert "--profile nope: no such profile" in capsys.readouterr().err


def test_scan_unknown_cluster_against_moto(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--cluster", "does-not-exist"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cluster 'does-not-exist' not found" in err[0]


def test_scan_saves_bundle_and_analyze_reads_it(aws: None, tmp_path: Path) -> None:
    import boto3

    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="prod")
    saved, report = tmp_path / "b.json", tmp_path / "r.json"
    result = runner.invoke(app, ["scan", "--cluster", "prod", "--save-bundle", str(saved),
                                 "-f", "json", "-o", str(report)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["analyze", str(saved), "-f", "json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout)["summary"] == json.loads(report.read_text())["summary"]


def test_checks_lists_every_check_and_shows_one() -> None:
    from checker.registry import load

    listing = runner.invoke(app, ["checks"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    for spec in load():
        assert spec.id in listing.output
    one = runner.invoke(app, ["checks", "stopped-task-oom"], env={"COLUMNS": "200"})
    assert one.exit_code == 0 and "memory-oom" in one.output and "docs.aws.amazon.com" in one.output
    bad = runner.invoke(app, ["checks", "stopped-task-om"])
    assert bad.exit_code == 2 and "did you mean stopped-task-oom" in bad.output


def test_explain_prints_the_playbook_tree() -> None:
    result = runner.invoke(app, ["explain", "memory-leak"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in ("symptoms", "stopped-task-oom", "oom-after-long-uptime", "remediation",
                 "memory-undersized", "ruled out if any fails"):
        assert text in result.output
    assert runner.invoke(app, ["explain", "crash-loop"]).exit_code == 0  # a scenario id too
    unknown = runner.invoke(app, ["explain", "memry-leak"])
    assert unknown.exit_code == 2 and "did you mean memory-leak" in unknown.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("ecsdoctor ")
