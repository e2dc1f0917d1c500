"""What a user waits for: `ecsdoctor analyze` of a large unhealthy account, as a whole process.

The account is bench/scale_bundle.py's: at size 1, 100 EC2 services on awsvpc over three
subnets and nine hosts, 10 tasks each with one stopped, a task definition and four metric
series each, a blackholed default route and a network ACL that drops the replies (one
diagnosis merges every service), and per-service OOM kills and image-pull failures (about
80 diagnoses at size 10). Each size is written to a temporary file the way `scan
--save-bundle` writes it, then measured side by side in one run:

- ``json.load`` of that file in this process (median of ``--repeat``): the cost of reading it;
- ``analyze``: ``python -m checker.cli analyze FILE --format json --output OUT`` in a fresh
  process (median of ``--repeat``), its wall time, CPU time (with its children's) and peak
  memory (the summed PSS of it and the children it forks, checker/parallel.py, in a run of
  its own), and the ratios of its wall and CPU time to ``json.load``'s;
- ``1 proc``: the same with ``ECSDOCTOR_JOBS=1`` (the checks and the report in one
  process), run alternately with the above, its wall time, ratio and peak memory;
- ``engine``: ``Engine().analyze`` of the loaded bundle in this process, warm (the figure
  the README used to quote: checks, walk and rank only — no start-up, no reading, no JSON).

The last line is the summary, with the targets in parentheses:

    analyze: x10 W.WW s = R.R× json.load (≤ 8), CPU C.C×, one process S.SS s = Q.Q×;
    x30/x10 L.L, CPU K.K (≤ 3.3); peak memory x10 M MB, one process N MB (< 400)

Run from the repository root: ``python bench/analyze_scale.py [--sizes 1,3,10,30]
[--repeat 1]``; ``--profile N`` prints the top of a cProfile of the whole process at size N.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scale_bundle import build  # noqa: E402  (bench/ is a directory of scripts)
from startup import compile_sources  # noqa: E402

from checker import bundle as bundle_mod  # noqa: E402
from checker.pipeline import Engine  # noqa: E402

GENERATED_AT = "2026-11-20T10:05:00+00:00"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def whole_process(argv: Sequence[str], jobs: str | None = None,
                  memory: bool = False) -> tuple[float, float, float]:
    """(wall s, CPU s, peak memory MB) of ``argv`` run to completion in a fresh process.

    CPU is the process's and its children's (``wait4`` counts the children it reaped).
    Memory is the peak RSS of the largest process, or with ``memory`` the peak of the
    summed proportional set size (PSS: a page shared by n processes counts 1/n in each) of
    the process and its children, sampled every 20 ms from /proc, so the children
    ``analyze`` forks (checker/parallel.py) are counted without counting twice what they
    share with it. Reading PSS walks the processes' page tables and takes a core of this
    2-core machine's time: a run that samples it is not timed (`run` makes one more).
    ``jobs``: ``ECSDOCTOR_JOBS`` for the run."""
    env = _env()
    if jobs is not None:
        env["ECSDOCTOR_JOBS"] = jobs
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    sampler = _PssSampler(proc.pid) if memory else None
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    peak_pss = sampler.stop() if sampler is not None else 0.0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err[-2000:]}")
    memory = peak_pss if peak_pss else usage.ru_maxrss / 1024
    return seconds, usage.ru_utime + usage.ru_stime, memory


class _PssSampler:
    """The peak of the summed PSS (MB) of a process and its descendants, sampled."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak

    def _run(self) -> None:
        while not self._done.wait(0.02):
            total = sum(_pss_kb(pid) for pid in _tree(self.pid))
            self.peak = max(self.peak, total / 1024)


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc; only `pid` elsewhere)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        with contextlib.suppress(OSError, ValueError):
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children")
                     .read_text().split()]
    return out


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def analyze_argv(path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "checker.cli", "analyze", str(path), "--format", "json",
            "--output", str(out)]


def json_load(path: Path, repeat: int) -> tuple[float, float]:
    """(wall s, CPU s) of ``json.load`` of the file, medians of ``repeat``."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        with path.open(encoding="utf-8") as fh:
            json.load(fh)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def engine_only(engine: Engine, bundle: dict[str, Any]) -> tuple[float, int, int]:
    """(seconds, diagnoses, services of the largest diagnosis) of one warm analysis."""
    gc.collect()
    start = time.perf_counter()
    report = engine.analyze(bundle, generated_at=GENERATED_AT)
    seconds = time.perf_counter() - start
    widest = max((len(d.resources) for d in report.diagnoses), default=0)
    return seconds, len(report.diagnoses), widest


def sizes_text(bundle: dict[str, Any]) -> str:
    res = bundle["resources"]
    return (f"{len(res['services']):,} services, {len(res['tasks']):,} tasks, "
            f"{len(res['container_instances'])} hosts, {len(bundle['metrics']):,} series")


def run(sizes: Sequence[int] = (1, 3, 10, 30), repeat: int = 1,
        show: Callable[[str], None] = print, unit: int = 100) -> dict[str, dict[str, float]]:
    """Measure and print; returns per size its numbers (the smoke test runs a tiny size:
    ``unit`` services at size 1)."""
    compile_sources()  # time the start-up of an installed package (bench/startup.py)
    engine = Engine()
    results: dict[str, dict[str, float]] = {}
    show(f"{'size':>5} {'file MB':>8} {'json.load':>9} {'analyze':>8} {'ratio':>6} "
         f"{'CPU':>7} {'ratio':>6} {'memory':>9} {'1 proc':>7} {'ratio':>6} {'memory':>9} "
         f"{'engine':>7} {'diagnoses':>9}  account")
    with tempfile.TemporaryDirectory(prefix="ecsdoctor-scale-") as tmp:
        for size in sizes:
            path, out = Path(tmp, f"x{size}.json"), Path(tmp, f"x{size}.report.json")
            bundle = build(size, unit)
            path.write_text(bundle_mod.dumps(bundle), encoding="utf-8")
            described = sizes_text(bundle)
            del bundle
            load_s, load_cpu = json_load(path, max(repeat, 3))
            runs, serial = [], []
            for _ in range(repeat):  # alternately: the machine's load moves both alike
                runs.append(whole_process(analyze_argv(path, out)))
                serial.append(whole_process(analyze_argv(path, out), jobs="1"))
            wall_s = statistics.median(r[0] for r in runs)
            cpu_s = statistics.median(r[1] for r in runs)
            one_s = statistics.median(r[0] for r in serial)
            # memory in runs of their own: sampling it slows what it samples
            rss = whole_process(analyze_argv(path, out), memory=True)[2]
            one_rss = whole_process(analyze_argv(path, out), jobs="1", memory=True)[2]
            loaded = bundle_mod.load(path)
            if not results:
                engine.analyze(loaded)  # warm-up: lazy imports, YAML tables, first-use caches
            eng_s, diagnoses, widest = engine_only(engine, loaded)
            del loaded
            results[f"x{size}"] = {"load": load_s, "wall": wall_s, "cpu": cpu_s, "rss": rss,
                                   "engine": eng_s, "ratio": wall_s / load_s,
                                   "cpu_ratio": cpu_s / max(load_cpu, 1e-9),
                                   "serial": one_s, "serial_ratio": one_s / load_s,
                                   "serial_rss": one_rss,
                                   "diagnoses": diagnoses, "widest": widest}
            show(f"{'x' + str(size):>5} {path.stat().st_size / 1e6:8.1f} {load_s:8.3f}s "
                 f"{wall_s:7.2f}s {wall_s / load_s:5.1f}× {cpu_s:6.2f}s "
                 f"{cpu_s / max(load_cpu, 1e-9):5.1f}× {rss:6.0f} MB {one_s:6.2f}s "
                 f"{one_s / load_s:5.1f}× {one_rss:6.0f} MB {eng_s:6.2f}s "
                 f"{diagnoses:9d}  {described}; widest diagnosis {widest:,}")
    show(summary(results))
    return results


def summary(results: dict[str, dict[str, float]]) -> str:
    ten, thirty = results.get("x10"), results.get("x30")
    if ten is None:  # a smaller run (the smoke test): report the largest size
        key = list(results)[-1]
        r = results[key]
        return (f"analyze: {key} {r['wall']:.2f} s = {r['ratio']:.1f}× json.load (≤ 8), CPU "
                f"{r['cpu_ratio']:.1f}×, one process {r['serial_ratio']:.1f}×; peak memory "
                f"{r['rss']:.0f} MB")
    linear = (f"x30/x10 {thirty['wall'] / ten['wall']:.1f}, CPU {thirty['cpu'] / ten['cpu']:.1f}"
              " (≤ 3.3)" if thirty else "x30 not run")
    return (f"analyze: x10 {ten['wall']:.2f} s = {ten['ratio']:.1f}× json.load (≤ 8), CPU "
            f"{ten['cpu_ratio']:.1f}×, one process {ten['serial']:.2f} s = "
            f"{ten['serial_ratio']:.1f}×; {linear}; peak memory x10 {ten['rss']:.0f} MB, one "
            f"process {ten['serial_rss']:.0f} MB (< 400)")


def profile(size: int) -> None:
    """The top of a cProfile of the whole `analyze` process at ``size``."""
    with tempfile.TemporaryDirectory(prefix="ecsdoctor-scale-") as tmp:
        path = Path(tmp, f"x{size}.json")
        path.write_text(bundle_mod.dumps(build(size)), encoding="utf-8")
        argv = analyze_argv(path, Path(tmp, "report.json"))
        subprocess.run([sys.executable, "-m", "cProfile", "-s", "cumulative", *argv[1:]],
                       env=_env(), cwd=REPO, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,3,10,30", help="sizes to measure (1 = 100 services)")
    parser.add_argument("--repeat", type=int, default=1, help="analyze runs per size (median)")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile analyze at size N")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    run([int(s) for s in args.sizes.split(",")], args.repeat)


if __name__ == "__main__":
    main()
