"""The checks in several processes (checker/parallel.py) make the very report the serial
runner makes, and nothing is lost when a child cannot be had or fails."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checker import gcpause, graph, parallel
from checker.cli import main
from checker.errors import InputError
from checker.facts import Facts
from checker.model import Finding, Severity, Status
from checker.pipeline import Engine
from checker.registry import CheckSpec
from checker.render import RenderOptions, render

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bundle() -> Iterator[dict[str, Any]]:
    """bench/scale_bundle.py's unhealthy account at 30 services (every area has work)."""
    sys.path.insert(0, str(BENCH))
    try:
        import scale_bundle

        yield scale_bundle.build(1, unit=30)
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def count_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children `os.fork` makes from now on in this test, in order."""
    forks: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return forks


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Two processes whatever the machine and the bundle's size, and whatever threads an
    earlier test in this worker left idle (the children here only run checks); the pids
    of the children forked."""
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(parallel, "MIN_SUBJECTS", 0)
    monkeypatch.setattr(parallel, "forkable", lambda: True)
    return count_forks(monkeypatch)


def _report(engine: Engine, bundle: dict[str, Any]) -> str:
    report = engine.analyze(bundle, generated_at="2026-12-08T00:00:00+00:00")
    return render(report, "json", RenderOptions(color=False, width=100, verbose=False))


def _serial(engine: Engine, bundle: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        m.setenv(parallel.JOBS_ENV, "1")
        return _report(engine, bundle)


class _Counted:
    """The runner's `run_one`, counting the checks run in this process (a child's count
    stays in the child)."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def __call__(self, spec: CheckSpec, facts: Facts, done: parallel.Done) -> list[Finding]:
        self.ran.append(spec.id)
        return graph._with_prior(spec, facts, done)


def _run(engine: Engine, bundle: dict[str, Any], run_one: Any, processes: int = 2,
         on_check: Any = None) -> parallel.Done | None:
    with gcpause.paused():
        return parallel.run(engine.registry, Facts(bundle), run_one, processes, on_check)


def _serial_done(engine: Engine, bundle: dict[str, Any]) -> parallel.Done:
    facts, done = Facts(bundle), {}
    for check_id in graph.order(engine.registry):
        done[check_id] = graph._with_prior(engine.registry[check_id], facts, done)
    return done


def test_two_processes_write_the_serial_report_byte_for_byte(
        engine: Engine, bundle: dict[str, Any], forking: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    forks = forking
    parallel_text = _report(engine, bundle)
    assert len(forks) == 1, "the checks ran in a second process"
    serial = _serial(engine, bundle, monkeypatch)
    assert len(forks) == 1, "ECSDOCTOR_JOBS=1 runs them in this one"
    assert parallel_text == serial
    assert '"status": "fail"' in serial and serial.count('"check": ') > 1000


def test_the_child_does_its_share_and_hands_it_back(engine: Engine,
                                                    bundle: dict[str, Any]) -> None:
    counted = _Counted()
    done = _run(engine, bundle, counted)
    assert done is not None
    assert 0 < len(counted.ran) < len(engine.registry), "some checks ran in the child"
    assert done == _serial_done(engine, bundle)
    own, _ = parallel.units(engine.registry)
    assert {c for unit in own for c in unit} <= set(counted.ran), \
        "the network components run where their shared placement is built"


def test_progress_hears_of_every_check_once(engine: Engine, bundle: dict[str, Any]) -> None:
    seen: list[str] = []
    assert _run(engine, bundle, _Counted(), on_check=lambda spec: seen.append(spec.id))
    assert sorted(seen) == sorted(engine.registry.specs)


@pytest.mark.parametrize("failure", ["exits", "spills garbage"])
def test_what_a_failed_child_did_not_hand_back_is_run_here(
        engine: Engine, bundle: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        failure: str) -> None:
    def broken(done: parallel.Done) -> bytes:
        if failure == "exits":
            raise RuntimeError("the child fails before it spills")
        return b"M\x00not marshal"

    monkeypatch.setattr(parallel, "_packed", broken)  # the child inherits the patch
    counted, seen = _Counted(), []
    done = _run(engine, bundle, counted, on_check=lambda spec: seen.append(spec.id))
    assert done == _serial_done(engine, bundle)
    assert sorted(counted.ran) == sorted(engine.registry.specs), "all run here in the end"
    assert sorted(seen) == sorted(engine.registry.specs), "and each said once"


def test_an_interrupted_parent_leaves_no_child(engine: Engine, bundle: dict[str, Any]) -> None:
    def interrupted(spec: CheckSpec, facts: Facts, done: parallel.Done) -> list[Finding]:
        if os.getpid() == parent:
            raise KeyboardInterrupt
        return graph._with_prior(spec, facts, done)

    parent = os.getpid()
    with pytest.raises(KeyboardInterrupt):
        _run(engine, bundle, interrupted)
    with pytest.raises(ChildProcessError):  # reaped: no child of this process is left
        os.waitpid(-1, os.WNOHANG)


def test_no_fork_no_child(engine: Engine, bundle: dict[str, Any],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    assert _run(engine, bundle, _Counted()) is None


def test_small_accounts_and_threads_stay_serial(engine: Engine, bundle: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    assert not parallel.worth_it(Facts(bundle)), "30 services, 300 tasks"
    monkeypatch.setattr(parallel, "MIN_SUBJECTS", 0)
    assert parallel.worth_it(Facts(bundle))
    import threading

    idle = threading.Event()
    thread = threading.Thread(target=idle.wait)
    thread.start()
    try:
        assert not parallel.forkable()
    finally:
        idle.set()
        thread.join()


def test_jobs_reads_the_environment(tmp_path: Path) -> None:
    assert parallel.jobs({"ECSDOCTOR_JOBS": "1"}) == 1
    assert parallel.jobs({"ECSDOCTOR_JOBS": " 3 "}) == 3
    assert 1 <= parallel.jobs({}) <= 2
    none = tmp_path / "no-cgroup"
    assert parallel.jobs({}, none, usable=8) == 2, "two by default"
    assert parallel.jobs({}, none, usable=1) == 1
    lambda_env = {"AWS_LAMBDA_FUNCTION_NAME": "ecsdoctor-audit"}
    assert parallel.jobs(lambda_env, none, usable=2) == 1, "a Lambda's share of a CPU"
    assert parallel.jobs({**lambda_env, "ECSDOCTOR_JOBS": "2"}, none, usable=2) == 2
    assert parallel.jobs({}, none, usable=8, platform="darwin") == 1, "macOS forks unsafely"
    assert parallel.jobs({"ECSDOCTOR_JOBS": "2"}, none, usable=8, platform="darwin") == 2
    for bad in ("0", "two", "-1", "1.5"):
        with pytest.raises(InputError, match=r"^ECSDOCTOR_JOBS="):
            parallel.jobs({"ECSDOCTOR_JOBS": bad})


def test_a_bad_jobs_value_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import builders as b

    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(b.bundle()))
    monkeypatch.setenv(parallel.JOBS_ENV, "many")
    assert main(["analyze", str(path), "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "ECSDOCTOR_JOBS='many'" in lines[0], captured.err


class _Odd(enum.Enum):
    ONE = 1


def test_findings_cross_intact_whatever_their_data() -> None:
    plain = Finding("c", Status.FAIL, Severity.HIGH, "r", "m", {"n": 1.5e-05, "t": (1, "x")},
                    "svc", "$.x", "123456789012", "eu-west-1")
    odd = Finding("d", Status.PASS, Severity.LOW, "r", "m", {"kind": _Odd.ONE})
    for done, kind in (({"c": [plain]}, b"M"), ({"c": [plain], "d": [odd]}, b"P")):
        packed = parallel._packed(done)
        assert packed[:1] == kind
        assert parallel._unpacked(packed) == done


def test_packing_writes_every_field_of_a_finding() -> None:
    assert tuple(f.name for f in dataclasses.fields(Finding)) == parallel._FIELDS


def test_the_check_progress_bar_runs_no_thread_of_its_own() -> None:
    """A terminal's bar must not keep a thread alive: the checks would stay serial."""
    import io
    import threading

    from rich.console import Console

    from checker.cli.progress import check_progress

    out = io.StringIO()
    registry = Engine().registry
    with check_progress(Console(file=out, force_terminal=True, width=100), 2) as hook:
        hook(registry[graph.order(registry)[0]])
        assert threading.active_count() == 1 and parallel.forkable()
        hook(registry[graph.order(registry)[1]])
    assert "Running checks" in out.getvalue() and "2/2" in out.getvalue()



@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "50000 100000\n"}, 1),  # v2: half a CPU
    ({"cpu.max": "100000 100000\n"}, 1),
    ({"cpu.max": "250000 100000\n"}, 2),
    ({"cpu.max": "max 100000\n"}, 2),  # no quota
    ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2),
    ({"cpu.max": "garbage"}, 2),
])
def test_a_containers_cpu_quota_caps_the_processes(tmp_path: Path, files: dict[str, str],
                                                   expected: int) -> None:
    """A container given one CPU sees every CPU of its host: its quota decides."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert parallel.jobs({}, tmp_path, usable=8) == expected
