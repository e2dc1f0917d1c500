"""What a user expects of any command line tool: -h, help without raw types, shell
completion, --color, the width of the terminal (COLUMNS when piped), machine-readable
listings, --endpoint-url and --debug (against moto's HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from checker.cli import app, main
from tests.conftest import REPO

HANDWRITTEN = Path(__file__).parent / "bundles" / "handwritten-oom.json"
COMMANDS = ["scan", "analyze", "demo", "gate", "checks", "diagnoses", "explain", "mcp"]
#: What typer prints when no metavar is set: `<list[str]>`, `<str>`, `<int range>`,
#: `<path>`, `<file>`, a braced required argument `{BUNDLE.json}`, `[[ID]]`.
RAW_TYPE = re.compile(r"<(list\[|str>|int|float|bool|path>|file>|text>|[a-z|]+>)"
                      r"|(?<!\$)\{[A-Z][A-Za-z_.]*\}|\[\[")
runner = CliRunner()


def _help(*args: str) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_has_no_raw_types_and_h_is_help(command: str) -> None:
    args = [command] if command else []
    text = _help(*args)
    assert not RAW_TYPE.findall(text), RAW_TYPE.findall(text)
    short = runner.invoke(app, [*args, "-h"], env={"COLUMNS": "100"})
    assert short.exit_code == 0 and short.output == text


def test_help_names_the_metavars() -> None:
    scan = _help("scan")
    for text in ("-c, --cluster NAME", "--since DURATION", "-o, --output FILE",
                 "--fail-on SEV", "--color auto|always|never", "--endpoint-url URL",
                 "-f, --format table|json|markdown"):
        assert text in scan, text
    assert "Usage: ecsdoctor analyze [OPTIONS] BUNDLE.json" in _help("analyze")
    assert "Usage: ecsdoctor checks [OPTIONS] [ID]" in _help("checks")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command as a shell runs it (completion reads its environment)."""
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "checker.cli", *args], capture_output=True,
                          text=True, env=full, cwd=REPO, timeout=120, check=False)


def test_shell_completion_script_and_answers() -> None:
    script = _cli("--show-completion", "bash")
    assert script.returncode == 0 and "_ecsdoctor_completion" in script.stdout
    assert "complete " in script.stdout and "_ECSDOCTOR_COMPLETE" in script.stdout
    words = _cli(env={"_ECSDOCTOR_COMPLETE": "complete_bash",
                      "COMP_WORDS": "ecsdoctor explain memory-l", "COMP_CWORD": "2"})
    assert words.stdout.split() == ["memory-leak"]
    commands = _cli(env={"_ECSDOCTOR_COMPLETE": "complete_bash",
                         "COMP_WORDS": "ecsdoctor dia", "COMP_CWORD": "1"})
    assert commands.stdout.split() == ["diagnoses"]
    assert "--install-completion" in _help()


@pytest.mark.parametrize(("flag", "ansi"), [("always", True), ("never", False), ("auto", False)])
def test_color_flag(flag: str, ansi: bool) -> None:
    result = runner.invoke(app, ["analyze", str(HANDWRITTEN), "--color", flag])
    assert result.exit_code == 0
    assert ("\x1b[" in result.stdout) is ansi  # auto: the runner's stdout is no terminal


def test_color_always_colours_the_listings_too() -> None:
    assert "\x1b[" in runner.invoke(app, ["diagnoses", "--color", "always"]).stdout
    assert "\x1b[" not in runner.invoke(app, ["diagnoses", "--color", "never"]).stdout


def _widths(text: str) -> list[int]:
    """Widths of the lines that may wrap (not commands, not summary rows)."""
    return [len(line) for line in text.splitlines()
            if not line.startswith(("           ", "  #")) and " " in line.strip()]


@pytest.mark.parametrize("columns", ["60", "80", "140"])
def test_piped_output_honours_columns(columns: str) -> None:
    result = runner.invoke(app, ["analyze", str(HANDWRITTEN), "--verbose"],
                           env={"COLUMNS": columns})
    assert result.exit_code == 0
    widths = _widths(result.stdout)
    assert max(widths) <= int(columns)
    if columns == "140":
        assert max(widths) > 100  # wider than the default for a pipe


def test_piped_output_without_columns_is_100_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    result = runner.invoke(app, ["analyze", str(HANDWRITTEN), "--verbose"])
    assert 80 < max(_widths(result.stdout)) <= 100


# -- listings ---------------------------------------------------------------------------------


def test_checks_as_json_is_a_stable_listing_of_every_check() -> None:
    from checker.registry import PRODUCTS, load

    result = runner.invoke(app, ["checks", "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert (doc["format"], doc["version"]) == ("ecsdoctor-checks", 1)
    assert [c["id"] for c in doc["checks"]] == [spec.id for spec in load()]
    first = doc["checks"][0]
    assert set(first) == {"id", "title", "area", "severity", "products", "needs", "after",
                          "docs", "used_by", "description"}
    assert all(set(c["products"]) <= set(PRODUCTS) and c["title"] for c in doc["checks"])
    one = json.loads(runner.invoke(app, ["checks", "stopped-task-oom", "-f", "json"]).stdout)
    assert [c["id"] for c in one["checks"]] == ["stopped-task-oom"]
    assert any("memory-oom" in use for use in one["checks"][0]["used_by"])


def test_checks_as_markdown_and_as_a_table_that_keeps_titles_whole() -> None:
    from checker.registry import load

    specs = list(load())
    md = runner.invoke(app, ["checks", "-f", "markdown"]).stdout
    assert "| id | severity | runs in | title |" in md
    assert all(f"| `{spec.id}` |" in md for spec in specs)
    table = runner.invoke(app, ["checks"], env={"COLUMNS": "100"}).stdout
    flat = " ".join(table.split())
    assert all(spec.id in table.split() and spec.title in flat for spec in specs)
    assert len(table.splitlines()) < 3 * len(specs)


def test_diagnoses_lists_every_diagnosis_id_with_its_title() -> None:
    from checker.playbook import catalog

    table = runner.invoke(app, ["diagnoses"], env={"COLUMNS": "100"})
    assert table.exit_code == 0
    flat = " ".join(table.stdout.split())
    assert all(entry.id in table.stdout.split() and entry.title in flat
               for entry in catalog().values())
    doc = json.loads(runner.invoke(app, ["diagnoses", "-f", "json"]).stdout)
    assert (doc["format"], doc["version"]) == ("ecsdoctor-diagnoses", 1)
    by_id = {d["id"]: d for d in doc["diagnoses"]}
    assert set(by_id) == set(catalog())
    assert by_id["memory-leak"]["severity"] == "critical" and by_id["memory-leak"]["scenarios"]
    md = runner.invoke(app, ["diagnoses", "-f", "markdown"]).stdout
    assert "| `memory-leak` | critical | incident |" in md


# -- --endpoint-url and --debug against moto's HTTP server -------------------------------------


@pytest.fixture
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from checker.demo import moto_seed

    moto_seed.reset_backends()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        wsgi = getattr(server, "_server", None)
        if wsgi is not None:
            wsgi.server_close()
        moto_seed.reset_backends()


def test_scan_with_endpoint_url_reads_that_endpoint(
        moto_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    ecs = boto3.client("ecs", region_name="us-east-1", endpoint_url=moto_server)
    ecs.create_cluster(clusterName="edge")
    assert main(["scan", "--cluster", "edge", "-f", "json"]) == 2  # AWS itself: no access
    capsys.readouterr()
    assert main(["scan", "--cluster", "edge", "--endpoint-url", moto_server, "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scope"]["clusters"] == ["edge"] and doc["account"] == "123456789012"


def test_a_fleet_scan_with_endpoint_url_reads_that_endpoint(
        moto_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    for region in ("us-east-1", "eu-west-1"):
        boto3.client("ecs", region_name=region, endpoint_url=moto_server).create_cluster(
            clusterName=f"fleet-{region}")
    assert main(["scan", "--regions", "us-east-1,eu-west-1", "--endpoint-url", moto_server,
                 "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {t["region"] for t in doc["scope"]["targets"]} == {"us-east-1", "eu-west-1"}
    names = {str(c).rsplit("/", 1)[-1] for c in doc["scope"]["clusters"]}
    assert names >= {"fleet-us-east-1", "fleet-eu-west-1"}


@pytest.mark.parametrize("url", ["localhost:4566", "ftp://x", "http://"])
def test_a_bad_endpoint_url_is_one_line_exit_2(capsys: pytest.CaptureFixture[str],
                                               url: str) -> None:
    assert main(["scan", "--cluster", "prod", "--endpoint-url", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--endpoint-url" in err[0] and "http://localhost:4566" in err[0]


def test_debug_logs_every_aws_request_and_shows_a_traceback(moto_server: str) -> None:
    boto3.client("ecs", region_name="us-east-1", endpoint_url=moto_server).create_cluster(
        clusterName="dbg")
    proc = _cli("--debug", "scan", "--cluster", "dbg", "--endpoint-url", moto_server,
                "-f", "json", "--history", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["scope"]["clusters"] == ["dbg"]
    assert "botocore" in proc.stderr and "[DEBUG]" in proc.stderr
    assert "DescribeClusters" in proc.stderr and moto_server in proc.stderr
    quiet = _cli("scan", "--cluster", "dbg", "--endpoint-url", moto_server, "-f", "json",
                 "--history", "0")
    assert quiet.returncode == 0 and "[DEBUG]" not in quiet.stderr
    broken = _cli("--debug", "analyze", str(REPO / "no-such-bundle.json"))
    assert broken.returncode == 2 and "Traceback" not in broken.stderr  # a user's mistake


def test_the_debug_log_escapes_what_aws_sent(capsys: pytest.CaptureFixture[str]) -> None:
    """botocore logs response bodies: an escape sequence in one is shown, not obeyed."""
    import logging

    from checker.cli.app import debug_logging

    loggers = [logging.getLogger(name) for name in ("botocore", "boto3", "checker")]
    before = [(lg.level, list(lg.handlers)) for lg in loggers]
    try:
        debug_logging()
        debug_logging()  # once is enough: no second handler
        logging.getLogger("botocore.parsers").debug("Response body: b'\x1b[2J\u202e::error::x'")
    finally:
        for lg, (level, handlers) in zip(loggers, before, strict=True):
            lg.setLevel(level)
            lg.handlers[:] = handlers
    err = capsys.readouterr().err
    assert err.count("Response body") == 1
    assert "\\x1b[2J" in err and "\x1b" not in err and "\u202e" not in err
