"""An endpoint that is down or never answers: `ecsdoctor scan` ends in bounded time with one
clear line and exit 2 (CONTRACTS §4), as a real process would (subprocess, AWS_ENDPOINT_URL).

Bounds: the scan's first call (sts:GetCallerIdentity) has a 5 s read timeout, a 5 s connect
timeout and 2 attempts (checker.collect._FIRST_CALL_*), so a silent endpoint costs
2 × 5 s + one backoff ≤ 1 s + start-up; a refused connection costs the backoff only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import REPO

SILENT_BOUND_S = 20.0  # measured ≈ 11.5 s: 2 × 5 s read timeout + backoff + start-up
REFUSED_BOUND_S = 10.0  # measured ≈ 1.5 s


def _scan(endpoint: str, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECSDOCTOR_")}
    env["AWS_ENDPOINT_URL"] = endpoint
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "checker.cli", "scan", "--cluster", "prod",
                           *args], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=120, check=False)
    return proc, time.monotonic() - start


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.stdout == ""  # never a partial report
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: connecting is refused


@contextmanager
def _silent_listener() -> Iterator[int]:
    """Accepts TCP connections (the kernel does, from the backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


def test_refused_connection_is_one_line_exit_2_fast() -> None:
    port = _closed_port()
    proc, took = _scan(f"http://127.0.0.1:{port}")
    assert proc.returncode == 2
    line = _one_line(proc)
    assert line.startswith(f"ecsdoctor: error: cannot reach http://127.0.0.1:{port}")
    assert "AWS_ENDPOINT_URL" in line
    assert took < REFUSED_BOUND_S, took


def test_silent_endpoint_is_one_line_exit_2_within_the_bound() -> None:
    with _silent_listener() as port:
        proc, took = _scan(f"http://127.0.0.1:{port}", "-f", "json")
    assert proc.returncode == 2
    line = _one_line(proc)
    assert line.startswith(f"ecsdoctor: error: no answer from http://127.0.0.1:{port}")
    assert took < SILENT_BOUND_S, took
    assert took >= 2 * 5 - 1, "two attempts of the 5 s read timeout"


def test_unreachable_endpoint_leaves_no_output_or_bundle_file(tmp_path: Any) -> None:
    out, saved = tmp_path / "report.json", tmp_path / "bundle.json"
    port = _closed_port()
    proc, _ = _scan(f"http://127.0.0.1:{port}", "-o", str(out), "--save-bundle", str(saved))
    assert proc.returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_unknown_region_says_so(monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """`--region mars-1`: the endpoint name does not resolve (simulated here, as DNS would
    answer: no such host), and the one line says the Region is unknown."""
    from checker.cli import main

    def no_such_host(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    start = time.monotonic()
    assert main(["scan", "--cluster", "prod", "--region", "mars-1"]) == 2
    assert time.monotonic() - start < REFUSED_BOUND_S
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1, captured.err
    assert lines[0].startswith("ecsdoctor: error: cannot reach https://sts.mars-1.amazonaws.com")
    assert "'mars-1' is not an ECS Region this botocore knows" in lines[0]


def test_known_region_gets_no_region_hint(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from checker.cli import main

    def no_such_host(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    assert main(["scan", "--cluster", "prod", "--region", "eu-west-1"]) == 2
    line = capsys.readouterr().err.strip()
    assert "cannot reach https://sts.eu-west-1.amazonaws.com" in line
    assert "Region" not in line
