"""The CLI through typer's runner and through main() (the console script's own path)."""

from __future__ import annotations

import json
import logging
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
    ('{"format": "ecsdoctor-bundle", "version": 1, "errors": [{"code": ["x"]}]}',
     "errors[0].code: expected a string"),
    ('{"format": "ecsdoctor-bundle", "version": 1, "scope": {"clusters": 7}}',
     "scope.clusters: expected a list of names"),
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


# -- exit codes: 2 for the user's input, 3 for an unread scope, 70 only for our bugs ---------


@pytest.mark.parametrize("since", ["9999999999d", "456d", "99999999999999999999s"])
def test_a_window_beyond_what_cloudwatch_keeps_is_exit_2(
        capsys: pytest.CaptureFixture[str], since: str) -> None:
    assert main(["scan", "--cluster", "prod", "--since", since]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--since" in err[0] and "at most 455d" in err[0]


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_a_lone_surrogate_in_a_bundle_is_shown_not_fatal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    bundle = b.ecs_bundle([b.service("web")], [b.task("web")])
    bundle["account"] = "12345\ud800"
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))  # ASCII JSON: "\ud800" is a valid escape
    assert main(["analyze", str(path), "-f", fmt]) == 0
    assert main(["analyze", str(path), "-f", fmt, "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    written = (tmp_path / "out").read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(written)["account"] == "12345\ud800"
    else:
        assert "12345\\ud800" in out.replace("\\\\", "\\")
        assert "12345\\ud800" in written.replace("\\\\", "\\")


def test_an_internal_error_is_70_with_one_line_and_the_traceback_only_under_debug(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.delenv("ECSDOCTOR_DEBUG", raising=False)
    monkeypatch.setattr("checker.pipeline.Engine.analyze", bug)
    assert main(["analyze", str(HANDWRITTEN)]) == 70
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "internal error" in lines[0] and "please report" in lines[0]
    assert main(["--debug", "analyze", str(HANDWRITTEN)]) == 70
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ZeroDivisionError" in err
    assert "please report" in err.strip().splitlines()[-1]


def test_debug_logging_ends_with_its_command(capsys: pytest.CaptureFixture[str]) -> None:
    """One process may run many commands (a test run, an embedding program): --debug's
    botocore log must not go on into the next one's stderr."""
    botocore_log = logging.getLogger("botocore")
    level = botocore_log.level
    assert main(["--debug", "analyze", str(HANDWRITTEN), "-f", "json"]) in (0, 1)
    capsys.readouterr()
    botocore_log.debug("a request after the --debug command")
    assert "a request after" not in capsys.readouterr().err
    assert botocore_log.level == level
    assert main(["analyze", str(HANDWRITTEN), "-f", "json"]) in (0, 1)
    assert "[DEBUG]" not in capsys.readouterr().err


def _unread(tmp_path: Path, collection: str) -> Path:
    bundle = b.ecs_bundle([b.service("web")], [b.task("web")])
    del bundle["resources"][collection]
    bundle["errors"] = [{"collection": collection, "operation": "ecs:Describe",
                         "code": "AccessDeniedException", "message": "not authorized"}]
    return _write(tmp_path, bundle)


@pytest.mark.parametrize("collection", ["services", "tasks"])
def test_fail_on_fails_when_the_scope_could_not_be_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], collection: str) -> None:
    path = _unread(tmp_path, collection)
    assert main(["analyze", str(path), "-f", "json"]) == 0  # no --fail-on: a report only
    capsys.readouterr()
    assert main(["analyze", str(path), "-f", "json", "--fail-on", "critical"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--fail-on critical" in err[0] and collection in err[0]
    assert "AccessDeniedException" in err[0]


def test_fail_on_is_not_failed_by_a_collection_outside_the_scope(tmp_path: Path) -> None:
    path = _unread(tmp_path, "task_definitions")
    assert main(["analyze", str(path), "-f", "json", "--fail-on", "critical"]) == 0


def test_strict_names_the_failed_collections(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(HANDWRITTEN), "-f", "json", "--strict"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--strict" in err[0]
    assert "container_instances (AccessDeniedException)" in err[0]


@pytest.mark.parametrize(("fmt", "within"), [("table", 4), ("markdown", 5)])
def test_the_first_lines_say_what_could_not_be_read(
        capsys: pytest.CaptureFixture[str], fmt: str, within: int) -> None:
    assert main(["analyze", str(HANDWRITTEN), "-f", fmt]) == 0
    head = "\n".join(capsys.readouterr().out.splitlines()[:within + 2])
    assert "Could not read 1 collection(s)" in head
    assert "container_instances (ecs:DescribeContainerInstances): AccessDeniedException" in \
        head.replace("\\_", "_")  # Markdown escapes the underscore
