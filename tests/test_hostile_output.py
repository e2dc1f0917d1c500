"""Strings from AWS are attacker-controlled: a bundle full of terminal escapes, bidi
overrides, workflow commands, mentions and URLs goes through every format of `analyze` and
`gate`, on a pseudo-terminal and piped, as the installed command runs (a subprocess), and
no raw control character and no line starting with `::` comes out.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checker.audit.sinks import Audit, message, subject
from checker.model import Report, Severity
from checker.pipeline import Engine
from checker.render import RenderOptions, render
from tests import builders as b

#: Every trick of the attack: clear screen, an OSC-8 link, a C1 CSI, a right-to-left
#: override, BEL and NUL, a mention, a bare URL, and workflow commands after a newline and
#: after a Unicode line separator.
EVIL = ("\x1b[2J\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ \x9b31m "
        "\u202eexe.txt \x07\x00 @octocat https://evil.example/x\n::error::pwned"
        "\u2028::warning::x\r::notice::y")
#: What rich itself writes on a terminal, the only escape sequences allowed out: colour
#: codes, and the progress line's hide/show cursor, cursor up and erase line (after a CR).
OURS = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\r?\x1b\[[0-9]*A|\r?\x1b\[2K")
#: What must never be printed raw (newline aside; a pty turns "\n" into "\r\n").
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                 "\u2066-\u2069]")


def hostile_bundle() -> dict[str, Any]:
    svc = b.service("web", desired=3, running=1, events=[
        {"id": "e1", "createdAt": b.ago(minutes=5), "message": f"(service web) {EVIL}"}])
    tasks = [b.task("web", status="STOPPED", started=b.ago(minutes=40),
                    stopped=b.ago(minutes=10), stop_code="EssentialContainerExited",
                    reason=f"Essential {EVIL}",
                    containers=[b.container("web", 137, f"OutOfMemoryError: {EVIL}")])
             for _ in range(3)]
    td = b.task_definition("web", containers=[b.container_def(
        "web", image="evil.example/x\x1b[31m:latest", memory=512,
        environment=[{"name": f"DB_PASSWORD{EVIL}", "value": "hunter2hunter2"}])])
    bundle = b.ecs_bundle([svc], tasks, [td])
    bundle["errors"] = [{"collection": "tasks", "operation": "ecs:DescribeTasks",
                         "code": f"AccessDenied{EVIL}", "message": EVIL}]
    return bundle


def hostile_task_definition() -> dict[str, Any]:
    return {"family": f"web{EVIL}", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
            "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [{
                "name": "web", "image": f"evil.example/web{EVIL}:latest", "essential": True,
                "environment": [{"name": f"API{EVIL}", "value": EVIL}],
                "command": [EVIL]}]}


def assert_safe(output: str, *, terminal: bool) -> None:
    text = OURS.sub("", output.replace("\r\n", "\n")) if terminal else output
    raw = sorted({f"U+{ord(c):04X}" for c in RAW.findall(text)})
    assert not raw, f"raw control characters in the output: {raw}"
    commands = [line for line in text.splitlines() if line.lstrip().startswith("::")]
    assert not commands, f"lines that are workflow commands: {commands[:3]}"


def run_cli(args: list[str], *, terminal: bool, cwd: Path) -> tuple[int, str]:
    """The command as a user runs it; on a pty, stdout and stderr are the terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "CI")}
    env.update(TERM="xterm-256color", COLUMNS="100")
    cmd = [sys.executable, "-m", "checker.cli", *args]
    if not terminal:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd,
                              timeout=120, check=False)
        return done.returncode, done.stdout + done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                            env=env, cwd=cwd)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("terminal", [True, False], ids=["pty", "piped"])
@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "html"])
def test_analyze_prints_no_raw_control_character(tmp_path: Path, fmt: str,
                                                 terminal: bool) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(hostile_bundle()))
    code, output = run_cli(["analyze", str(path), "-f", fmt, "--fail-on", "high"],
                           terminal=terminal, cwd=tmp_path)
    assert code == 3, output  # the tasks could not be read: --fail-on fails
    assert_safe(output, terminal=terminal)
    if fmt == "table":
        assert "\\x1b[2J" in output and "\\u202eexe.txt" in output  # shown, escaped
        assert ("\x1b[" in output) is terminal  # on a pty it really is a terminal
    if fmt == "markdown":
        assert "`@octocat`" in output and "`https://evil.example/x`" in output
    if fmt == "html":  # AWS text is text: escaped, never a tag or an attribute
        assert "\\x1b[2J" in output and "<script" not in output.lower()
        assert 'href="https://evil' not in output


@pytest.mark.parametrize(("fmt", "terminal"), [
    ("table", True), ("table", False), ("markdown", False), ("json", False),
    ("sarif", False), ("junit", False)])
def test_gate_prints_no_raw_control_character(tmp_path: Path, fmt: str,
                                              terminal: bool) -> None:
    path = tmp_path / "td.json"
    path.write_text(json.dumps(hostile_task_definition()))
    code, output = run_cli(["gate", "-t", str(path), "-f", fmt, "--fail-on", "critical"],
                           terminal=terminal, cwd=tmp_path)
    assert code in (0, 1, 2), output
    assert_safe(output, terminal=terminal)


def report_of(bundle: dict[str, Any]) -> Report:
    return Engine().analyze(bundle)


def test_every_renderer_and_the_sns_message_are_safe_in_process() -> None:
    """The renderers themselves (the Lambda audit calls them without the CLI's net)."""
    report = report_of(hostile_bundle())
    for fmt in ("table", "markdown", "html"):
        for color in (False, True):
            out = render(report, fmt, RenderOptions(color=color, verbose=True))
            assert_safe(out, terminal=color)
    audit = Audit(report, "{}", "", "scope", b.REGION)
    assert_safe(message(audit, Severity.INFO, None), terminal=False)
    title = subject(audit, 1, 1)
    assert title.isprintable() and title.isascii() and len(title) < 100
