"""`ecsdoctor mcp` as an AI assistant meets it: the MCP SDK's own client spawns the command
(`python -m checker.cli mcp`) over stdio and calls its tools.

scan reads the demo account (moto's HTTP server, seeded with the demo's incidents, reached
through AWS_ENDPOINT_URL) and analyze a saved bundle; both answer report v1 (the JSON
schema), with the ranked diagnoses first. explain and checks answer from the registry and
playbooks. A mistake is a tool error of one line, and the server keeps serving. Without the
SDK the command says in one line what to install, and exits 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from checker import registry
from tests.conftest import REPO

SCHEMA = json.loads((REPO / "docs" / "schema" / "report-v1.schema.json").read_text())
BUNDLE = REPO / "tests" / "bundles" / "handwritten-oom.json"
TOOLS = {"scan", "analyze", "explain", "checks"}


def server_env(endpoint: str | None) -> dict[str, str]:
    """What the client hands the server: the test's fake credentials, and the endpoint."""
    keep = ("PATH", "HOME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
            "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_EC2_METADATA_DISABLED", "PYTHONPATH")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def call_all(calls: list[tuple[str, dict[str, Any]]], endpoint: str | None = None
             ) -> tuple[list[Any], list[Any]]:
    """One server, one session: list the tools, then make each call in order."""

    async def session() -> tuple[list[Any], list[Any]]:
        params = StdioServerParameters(command=sys.executable,
                                       args=["-m", "checker.cli", "mcp"], cwd=str(REPO),
                                       env=server_env(endpoint))
        with open(os.devnull, "w") as quiet:
            async with stdio_client(params, errlog=quiet) as (read, write), \
                    ClientSession(read, write) as client:
                await client.initialize()
                tools = (await client.list_tools()).tools
                results = [await client.call_tool(name, args, read_timeout_seconds=300)
                           for name, args in calls]
        return tools, results

    return anyio.run(session)


def text(result: Any) -> str:
    assert len(result.content) == 1
    return str(result.content[0].text)


def report_v1(result: Any) -> dict[str, Any]:
    import jsonschema

    assert not result.is_error, text(result)
    doc: dict[str, Any] = json.loads(text(result))
    jsonschema.validate(doc, SCHEMA)
    return doc


def one_line_error(result: Any) -> str:
    assert result.is_error
    line = text(result)
    assert "\n" not in line and "Traceback" not in line
    return line


@pytest.fixture(scope="module")
def demo() -> Iterator[Any]:
    pytest.importorskip("moto", reason="the demo account needs moto[server]")
    from checker.demo.run import demo_account

    with demo_account() as account:
        yield account


def test_scan_and_analyze_answer_report_v1(demo: Any) -> None:
    tools, (scanned, full, analyzed, unknown_cluster) = call_all([
        ("scan", {"clusters": demo.cluster, "region": demo.region, "timeout": "3m"}),
        ("analyze", {"bundle_path": str(BUNDLE), "passing": True}),
        ("analyze", {"bundle_path": str(BUNDLE)}),
        ("scan", {"clusters": ["no-such-cluster"], "region": demo.region}),
    ], endpoint=demo.endpoint_url)
    assert {t.name for t in tools} == TOOLS
    assert all(t.annotations.read_only_hint and not t.annotations.destructive_hint
               for t in tools)
    report = report_v1(scanned)
    assert report["account"] == "123456789012" and report["scope"]["clusters"] == ["prod"]
    ranked = [d["id"] for d in report["diagnoses"]]
    assert ranked[0] == "egress-route-missing", ranked  # the demo's root cause, first
    assert "image-pull-failure" in ranked
    # passing findings are left out by default; the summary still counts them
    assert {f["status"] for f in report["findings"]} <= {"fail", "unknown"}
    assert report["summary"]["findings"]["pass"] > 0
    everything, failing = report_v1(full), report_v1(analyzed)
    assert [d["id"] for d in failing["diagnoses"]] == ["memory-leak"]
    assert everything["diagnoses"] == failing["diagnoses"]
    assert len(everything["findings"]) == sum(everything["summary"]["findings"].values())
    assert len(failing["findings"]) < len(everything["findings"])
    assert "no-such-cluster" in one_line_error(unknown_cluster)


def test_explain_checks_and_mistakes() -> None:
    _, (listed, check, diagnosis, typo, missing, bad_since, nothing, typed) = call_all([
        ("checks", {}),
        ("explain", {"id": "stopped-task-oom"}),
        ("explain", {"id": "memory-leak"}),
        ("explain", {"id": "memory-leek"}),
        ("analyze", {"bundle_path": "/nonexistent/bundle.json"}),
        ("scan", {"clusters": ["prod"], "since": "forever"}),
        ("scan", {"clusters": []}),
        ("scan", {"clusters": ["prod"], "log_lines": "many"}),  # refused by the SDK
    ])
    assert not listed.is_error
    ids = [c["id"] for c in json.loads(text(listed))["checks"]]
    assert ids == [spec.id for spec in registry.load()]
    about = json.loads(text(check))
    assert about["kind"] == "check" and about["id"] == "stopped-task-oom"
    assert "memory-leak" in about["used_by"]
    book = json.loads(text(diagnosis))
    assert book["kind"] == "diagnosis" and book["playbooks"]
    hyps = [h for p in book["playbooks"] for h in p["hypotheses"]]
    assert {h["diagnosis"] for h in hyps} == {"memory-leak"}
    assert any(h["remediation"] for h in hyps)
    assert "did you mean memory-leak" in one_line_error(typo)
    assert "/nonexistent/bundle.json" in one_line_error(missing)
    assert "forever" in one_line_error(bad_since)
    assert "no cluster to scan" in one_line_error(nothing)
    assert "invalid arguments: log_lines: Input should be a valid integer" in one_line_error(
        typed)


def test_without_the_sdk_the_command_says_what_to_install(tmp_path: Path) -> None:
    hide = ("import sys; sys.modules['mcp'] = None; from checker.cli import main; "
            "sys.exit(main(['mcp']))")
    done = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "ecsdoctor: error: ecsdoctor mcp needs the mcp extra (the MCP SDK): pip install "
        "'ecsdoctor[mcp]' (from a clone: pip install '.[mcp]')"]
