"""Waiver files that could switch the gate off: alias bombs, waivers for everything or for
ever, and a green gate that does not say what its waivers hid."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checker.errors import InputError
from checker.gate import waivers
from checker.gate.run import GateOptions, run_gate
from checker.model import Severity, Status

TODAY = dt.date(2026, 12, 7)
REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"


def _container(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": f"{REPO}:1.4", "memory": 512, "essential": name == "web",
            "readonlyRootFilesystem": True,
            "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:8080/health"]},
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "web"}}, **extra}


@pytest.fixture
def candidate(tmp_path: Path) -> Path:
    """A task definition whose only blocking finding is its privileged `agent`."""
    path = tmp_path / "td.json"
    path.write_text(json.dumps({"family": "web", "containerDefinitions": [
        _container("web"), _container("agent", privileged=True)]}))
    return path


def _waiver(resource: str = "web:*", expires: str = "2027-01-31", **extra: str) -> str:
    lines = [f"{k}: {json.dumps(v)}" for k, v in extra.items()]
    return ("waivers:\n  - check: container-privileged\n"
            f"    resource: {json.dumps(resource)}\n    container: agent\n"
            "    reason: the agent reads the host's cgroups (SEC-42)\n"
            f"    expires: {expires}\n" + "".join(f"    {line}\n" for line in lines))


def _gate_cli(candidate: Path, text: str, capsys: pytest.CaptureFixture[str],
              ) -> tuple[int, list[str]]:
    path = candidate.parent / "w.yaml"
    path.write_text(text)
    code = main(["gate", "-t", str(candidate), "--waivers", str(path)])
    return code, capsys.readouterr().err.strip().splitlines()


# -- limits on the YAML ---------------------------------------------------------------------

def _alias_bomb() -> str:
    """The classic: nine levels of nine aliases each, 9**9 strings once expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join([*lines, "waivers: *i"]) + "\n"


def _many_aliases() -> str:
    """Harmless values, too many aliases: refused while reading, before they are counted."""
    refs = ", ".join(["*r"] * (waivers.MAX_ALIASES + 1))
    return f"r: &r x\nrefs: [{refs}]\nwaivers: []\n"


@pytest.mark.parametrize(("text", "words"), [
    (_alias_bomb(), f"expands to more than {waivers.MAX_VALUES} values"),
    (_many_aliases(), f"more than {waivers.MAX_ALIASES} aliases"),
    ("a: &a [*a]\nwaivers: []\n", "refers to a value that contains it"),
    ("waivers: " + "[" * 5000 + "]" * 5000 + "\n", f"more than {waivers.MAX_DEPTH} levels"),
], ids=["alias-bomb", "many-aliases", "self-reference", "deep"])
def test_yaml_bombs_fail_fast_with_one_line(candidate: Path, text: str, words: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert len(_alias_bomb()) < 600
    started = time.monotonic()
    code, err = _gate_cli(candidate, text, capsys)
    assert code == 2 and len(err) == 1 and words in err[0], err
    assert "w.yaml: refused:" in err[0]
    assert time.monotonic() - started < 10  # generous: unbounded, this ran past 60 s


def test_file_size_is_limited(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * waivers.MAX_BYTES + "\nwaivers: []\n")
    with pytest.raises(InputError, match="larger than 256 KiB"):
        waivers.load(path, today=TODAY)


def test_a_few_aliases_are_fine() -> None:
    text = ("waivers:\n"
            "  - {check: a, resource: 'web:*', reason: &why cache on disk (J-1), "
            "expires: 2027-01-31}\n"
            "  - {check: b, resource: 'api:*', reason: *why, expires: 2027-01-31}\n")
    loaded = waivers.parse(text, "w.yaml", today=TODAY)
    assert [w.reason for w in loaded.waivers] == ["cache on disk (J-1)"] * 2


# -- waivers that would switch the gate off ----------------------------------------------------

@pytest.mark.parametrize("resource", [
    "*", "**", "*:*", "?*", "[a-z]*", "arn:aws:ecs:*:*:task-definition/*",
    "arn:aws:ecs:us-east-1:123456789012:service/prod/*",
])
def test_a_waiver_for_every_resource_is_refused(resource: str) -> None:
    assert waivers.matches_everything(resource)
    with pytest.raises(InputError, match=r"waivers\[0\]\.resource: .* matches every resource"):
        waivers.parse(_waiver(resource), "w.yaml", today=TODAY)


@pytest.mark.parametrize("resource", [
    "web:*", "*web*", "*/web:*", "arn:aws:ecs:*:*:task-definition/web:[0-9]*", "task def web",
])
def test_a_waiver_naming_resources_is_accepted(resource: str) -> None:
    assert not waivers.matches_everything(resource)
    (w,) = waivers.parse(_waiver(resource), "w.yaml", today=TODAY).waivers
    assert w.resource == resource and w.broad is None


@pytest.mark.parametrize(("today", "last_day"), [
    (TODAY, "2027-12-07"),
    (dt.date(2028, 2, 29), "2029-02-28"),
])
def test_expiry_more_than_a_year_ahead_is_refused(today: dt.date, last_day: str) -> None:
    (w,) = waivers.parse(_waiver(expires=last_day), "w.yaml", today=today).waivers
    assert w.expires.isoformat() == last_day
    later = dt.date.fromisoformat(last_day) + dt.timedelta(days=1)
    with pytest.raises(InputError, match=rf"waivers\[0\]\.expires: {later} is more than a "
                                         rf"year ahead \(latest {last_day}\)"):
        waivers.parse(_waiver(expires=later.isoformat()), "w.yaml", today=today)


@pytest.mark.parametrize(("resource", "expires"), [("*", "2027-01-31"), ("web:*", "9999-12-31")])
def test_broad_with_a_reason_is_accepted(resource: str, expires: str) -> None:
    text = _waiver(resource, expires, broad="the sandbox account runs the agent everywhere")
    (w,) = waivers.parse(text, "w.yaml", today=TODAY).waivers
    assert w.broad == "the sandbox account runs the agent everywhere"
    assert waivers.gate_input(waivers.WaiverFile("w.yaml", (w,)), TODAY)["waivers"][0][
        "broad"] == w.broad


@pytest.mark.parametrize("broad", [True, "", 1])
def test_broad_must_say_why(broad: Any) -> None:
    with pytest.raises(InputError, match=r"waivers\[0\]\.broad: expected the reason"):
        waivers.parse(_waiver("*", broad=broad), "w.yaml", today=TODAY)


def test_the_cli_refuses_a_waiver_for_everything_forever(
        candidate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _gate_cli(candidate, _waiver("*", "9999-12-31"), capsys)
    assert code == 2 and len(err) == 1, err
    assert "matches every resource" in err[0] and "broad:" in err[0]
    code, err = _gate_cli(candidate, _waiver("web:*", "9999-12-31"), capsys)
    assert code == 2 and len(err) == 1 and "more than a year ahead" in err[0], err


# -- the summary says what the waivers hid -------------------------------------------------------

def test_the_gate_summary_lists_what_waivers_hid(candidate: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    today = dt.datetime.now(dt.UTC).date()
    expires = (today + dt.timedelta(days=30)).isoformat()
    code, err = _gate_cli(candidate, _waiver(expires=expires), capsys)
    assert code == 0, err
    assert err[0].startswith("ecsdoctor gate: PASS") and "1 waived" in err[0]
    assert [line.strip() for line in err[1:]] == [
        f"waived fail: container-privileged on web:candidate, container agent (waivers[0] "
        f"until {expires}: the agent reads the host's cgroups (SEC-42))"]


def test_the_summary_counts_past_its_cap(candidate: Path, tmp_path: Path) -> None:
    containers = [_container("web")] + [_container(f"agent{i}", privileged=True)
                                        for i in range(waivers.SHOWN + 3)]
    candidate.write_text(json.dumps({"family": "web", "containerDefinitions": containers}))
    path = tmp_path / "w.yaml"
    path.write_text(_waiver().replace("container: agent", "container: 'agent*'"))
    verdict = run_gate(GateOptions(candidate, waivers=path, today=TODAY))
    lines = verdict.line(Severity.HIGH).splitlines()
    assert verdict.exit_code == 0 and verdict.waived == waivers.SHOWN + 3
    assert len(lines) == 1 + waivers.SHOWN + 1
    assert lines[-1].strip() == "… and 3 more waived (see the report)"


def test_nothing_hidden_adds_no_line(candidate: Path, tmp_path: Path) -> None:
    """A waiver over passing findings hides nothing: the summary stays one line."""
    path = tmp_path / "w.yaml"
    path.write_text(_waiver().replace("container: agent", "container: web"))
    verdict = run_gate(GateOptions(candidate, waivers=path, today=TODAY))
    assert verdict.exit_code == 1 and verdict.waived == 1
    assert "\n" not in verdict.line(Severity.HIGH)
    (waived,) = [f for f in verdict.report.findings if "waived" in f.data]
    assert waived.status is Status.SKIPPED and waived.data["waived"]["status"] == "pass"


def test_hidden_findings_are_escaped(candidate: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(_waiver(expires="2027-01-31").replace(
        "reason: the agent reads the host's cgroups (SEC-42)",
        'reason: "\\e]8;;http://x\\e\\\\ the agent"'))
    verdict = run_gate(GateOptions(candidate, waivers=path, today=TODAY))
    line = verdict.line(Severity.HIGH)
    assert "\x1b" not in line and "\\x1b]8;;http://x" in line
    assert len(line.splitlines()) == 2


def test_the_bench_runs_and_refuses_every_hostile_file() -> None:
    """bench/waiver_limits.py at a tiny size: it keeps working, and each hostile file is
    refused (the times it prints are for people; this asserts no time)."""
    spec = importlib.util.spec_from_file_location(
        "waiver_limits", Path(__file__).resolve().parent.parent / "bench" / "waiver_limits.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lines: list[str] = []
    result = bench.run(3, lines.append)
    rows = lines[2:-1]
    assert len(rows) == len(bench.hostile()) and all("refused:" in r for r in rows), rows
    assert lines[-1].startswith("waiver limits: alias bomb refused in")
    assert set(result) == {"bomb_ms", "worst_ms", "real_ms"}
