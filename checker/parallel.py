"""The checks of a large account on two cores: the runner's second process.

A large account's checks are a few seconds of pure Python (x10 of bench/scale_bundle.py:
130,000 findings from about 100 checks, none above a tenth of the whole), and a process holds
one core. So `graph.run` forks once after the facts are built: the child reads the bundle
from the memory it shares with the parent (fork: a page is copied only when written). The
work is the check DAG's connected components (a check runs beside the checks whose findings
it reads). The network ones stay in the parent (`_PARENT_AREAS`: they share one placement of
every service's tasks, built once); the others are shared through a queue, largest first,
one byte each in a pipe filled before the fork: a one-byte read from a pipe cannot be split,
so each component is taken exactly once, by whichever process is free. The child then
writes its findings, marshalled, into an unlinked temporary file and exits; the parent reads
them back and the findings are merged by check id, as the serial runner merges them: the
same findings in the same order (tests/test_parallel_checks.py compares whole reports).

Nothing is lost if the second process cannot be had or fails: no `os.fork` (Windows), one
usable CPU, another thread alive (a fork copies only the calling thread; a lock held by
another would stay locked in the child), `ECSDOCTOR_JOBS=1`, a failed fork or temporary
file, or a child that dies or exits with an error: the parent then runs whatever the child
did not hand back itself, serially. The child never writes to the terminal and leaves
through `os._exit` (no atexit handler, no flush of the parent's buffers twice).

Small accounts are run serially (`MIN_SUBJECTS`): a fork and the hand-over cost more than
they save below a few hundred services.
"""

from __future__ import annotations

import contextlib
import functools
import marshal
import os
import pickle
import select
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from checker.errors import InputError

if TYPE_CHECKING:
    from checker.facts import Facts
    from checker.model import Finding
    from checker.registry import CheckSpec, Registry

Done = dict[str, list["Finding"]]
RunOne = Callable[["CheckSpec", "Facts", Done], list["Finding"]]
ProgressHook = Callable[["CheckSpec"], None]

#: The environment variable that caps the processes the checks run in (1: serial).
JOBS_ENV = "ECSDOCTOR_JOBS"
#: Services plus tasks from which a second process pays for itself (measured on
#: bench/scale_bundle.py's accounts: x1, 100 services and 1,000 tasks, gains nothing).
MIN_SUBJECTS = 2_000
#: Components are named by one byte in the queue.
_MAX_UNITS = 255


def jobs(environ: Mapping[str, str] | None = None, cgroup: Path = Path("/sys/fs/cgroup"),
         usable: int | None = None, platform: str = sys.platform) -> int:
    """How many processes may run checks: `ECSDOCTOR_JOBS` when set (a positive integer;
    anything else is the user's to fix), else 2 when this process may use two CPUs: the
    CPUs it may run on (affinity), fewer when a cgroup's CPU quota says so (a container
    given one CPU sees the host's), and 1 in AWS Lambda (512 MB is a third of a CPU, and a
    second process is a second copy of what it writes) and on macOS (`ECSDOCTOR_JOBS`
    overrides both). Two at most by default: each process holds a copy of what it writes,
    and two is what fits the memory a large account's analysis needs in one."""
    env = os.environ if environ is None else environ
    raw = env.get(JOBS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise InputError(f"{JOBS_ENV}={raw!r}: expected a positive whole number of "
                             "processes (1 runs the checks in this process only)")
        return int(raw)
    if env.get("AWS_LAMBDA_FUNCTION_NAME") or platform == "darwin":
        # macOS: a fork after the system frameworks are loaded (a scan's proxy lookup
        # loads them) may crash the child, which is why Python's multiprocessing spawns
        return 1
    if usable is None:
        try:
            usable = len(os.sched_getaffinity(0))
        except AttributeError:  # no affinity API
            usable = os.cpu_count() or 1
    quota = _cgroup_cpus(cgroup)
    if quota is not None:
        usable = min(usable, int(quota))
    return max(1, min(usable, 2))


def _cgroup_cpus(root: Path) -> float | None:
    """The CPUs a cgroup's quota allows (v2 `cpu.max`, v1 `cpu.cfs_quota_us` over
    `cpu.cfs_period_us`), None without a quota or a cgroup file to read."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us


def components(registry: Registry) -> list[list[str]]:
    """The check DAG's connected components (edges taken both ways), each in the runner's
    order (`order`), the components in the order of their first check."""
    from checker.graph import order

    parent = {spec.id: spec.id for spec in registry}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for spec in registry:
        for upstream in spec.after:
            parent[root(spec.id)] = root(upstream)
    groups: dict[str, list[str]] = {}
    for check_id in order(registry):
        groups.setdefault(root(check_id), []).append(check_id)
    return list(groups.values())


#: Areas whose checks share what they compute (network: the placement of every service's
#: tasks in subnets, route and ACL verdicts, built once per process and reused by every
#: network check): their components run in the parent, before it joins the shared queue,
#: so that it is built once. Their findings are also most of a large account's (one per
#: service and subnet), and the parent's own findings cost nothing to hand over.
_PARENT_AREAS = frozenset({"network"})
def units(registry: Registry) -> tuple[list[list[str]], list[list[str]]]:
    """The components as units of work: the parent's own (`_PARENT_AREAS`), and the shared
    ones, those of most checks first (the last ones taken, when a process may wait for
    another, are small), at most `_MAX_UNITS` of them (the smallest merged)."""
    own: list[list[str]] = []
    shared: list[list[str]] = []
    for unit in sorted(components(registry), key=lambda unit: (-len(unit), unit[0])):
        parents = any(registry[c].area in _PARENT_AREAS for c in unit)
        (own if parents else shared).append(unit)
    while len(shared) > _MAX_UNITS:
        last = shared.pop()
        shared[-1] = shared[-1] + last
    return own, shared


def worth_it(facts: Facts) -> bool:
    """Whether the account is large enough for a second process (`MIN_SUBJECTS`)."""
    size = 0
    for name in ("services", "tasks"):
        if facts.has(name):
            size += len(facts.items(name))
    return size >= MIN_SUBJECTS


def forkable() -> bool:
    """A fork is safe: the platform has one and no other thread is alive."""
    return hasattr(os, "fork") and threading.active_count() == 1


class Child:
    """A forked process doing `work` into a spill (an unlinked temporary file), which the
    parent reads once the child has exited 0 (`result`). The child ignores Ctrl-C (the
    parent's handling counts: `close` ends a child still running), never writes to the
    terminal, and leaves through `os._exit`: no atexit handler, no second flush of the
    parent's buffers."""

    def __init__(self, pid: int, spill: IO[bytes]) -> None:
        self.pid, self.spill = pid, spill
        self._status: int | None = None

    @classmethod
    def start(cls, work: Callable[[IO[bytes]], object]) -> Child | None:
        """A child doing `work(spill)`; None when there is no fork or temporary file."""
        if not hasattr(os, "fork"):
            return None
        try:
            spill = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        except OSError:
            return None
        try:
            with warnings.catch_warnings():  # 3.12+ warns of threads: none (forkable())
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            spill.close()
            return None
        if pid == 0:  # pragma: no cover - the child; the parent checks what it hands back
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                work(spill)
                spill.flush()
                code = 0
            finally:
                os._exit(code)
        return cls(pid, spill)

    def result(self) -> IO[bytes] | None:
        """The spill from its start once the child exited 0, else None (waits for it)."""
        if self._status is None:
            self._status = os.waitpid(self.pid, 0)[1]
        if os.waitstatus_to_exitcode(self._status) != 0:
            return None
        self.spill.seek(0)
        return self.spill

    def close(self) -> None:
        """End the child if it is still running (Ctrl-C, or an error in the parent), reap
        it, and drop its spill."""
        try:
            if self._status is None:
                os.kill(self.pid, signal.SIGKILL)
                self._status = os.waitpid(self.pid, 0)[1]
        finally:
            self.spill.close()


def run(registry: Registry, facts: Facts, run_one: RunOne, processes: int,
        on_check: ProgressHook | None = None) -> Done | None:
    """Every check's findings, run in this process and `processes - 1` forked children;
    None when no child could be started (the caller then runs the checks serially)."""
    own, work = units(registry)
    queue_r, queue_w = os.pipe()
    progress_r, progress_w = os.pipe()
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, queue_r)
        stack.callback(os.close, progress_r)
        try:
            os.write(queue_w, bytes(range(len(work))))
        finally:
            os.close(queue_w)
        children: list[Child] = []
        try:
            for _ in range(min(processes - 1, len(work))):
                child = Child.start(functools.partial(
                    _take, registry, facts, run_one, work, queue_r, progress_w))
                if child is None:
                    break
                stack.callback(child.close)
                children.append(child)
        finally:
            os.close(progress_w)
        if not children:
            return None
        return _parent(registry, facts, run_one, on_check, own, work, queue_r, progress_r,
                       children)


def _run_unit(registry: Registry, facts: Facts, run_one: RunOne, unit: Sequence[str],
              done: Done, on_check: ProgressHook | None = None) -> None:
    for check_id in unit:
        spec = registry[check_id]
        if on_check is not None:
            on_check(spec)
        done[check_id] = run_one(spec, facts, done)


def _take(registry: Registry, facts: Facts, run_one: RunOne, work: list[list[str]],
          queue: int, progress: int, spill: IO[bytes]) -> None:  # pragma: no cover
    """A child's work: take units until the queue is empty, say each one done, spill the
    findings."""
    done: Done = {}
    while taken := os.read(queue, 1):
        _run_unit(registry, facts, run_one, work[taken[0]], done)
        os.write(progress, taken)
    spill.write(_packed(done))


def _parent(registry: Registry, facts: Facts, run_one: RunOne,
            on_check: ProgressHook | None, own: list[list[str]], work: list[list[str]],
            queue: int, progress: int, children: list[Child]) -> Done:
    """Run `own`, then take units as the children do, then gather theirs; what a child did
    not hand back (it died, or its findings cannot be read) is run here."""
    done: Done = {}
    reported: set[int] = set()  # units whose checks the progress hook has seen

    def hear(block: bool) -> bool:
        """Take note of the units the children finished; False once all closed their end."""
        while block or select.select([progress], [], [], 0)[0]:
            data = os.read(progress, 256)
            if not data:
                return False
            for index in data:
                reported.add(index)
                if on_check is not None:
                    for check_id in work[index]:
                        on_check(registry[check_id])
            block = False
        return True

    for unit in own:
        _run_unit(registry, facts, run_one, unit, done, on_check)
        hear(block=False)
    while taken := os.read(queue, 1):
        reported.add(taken[0])
        _run_unit(registry, facts, run_one, work[taken[0]], done, on_check)
        hear(block=False)
    while hear(block=True):
        pass
    for child in children:
        spill = child.result()
        if spill is not None:
            with contextlib.suppress(Exception):  # unreadable: its checks run below
                done.update(_unpacked(spill.read()))
    for index, unit in enumerate(work):
        if any(c not in done for c in unit):
            _run_unit(registry, facts, run_one, unit, done,
                      None if index in reported else on_check)
    return done


#: The fields of a Finding, in its constructor's order: what `_packed` writes of each
#: (tests/test_parallel_checks.py holds it to the model).
_FIELDS = ("check", "status", "severity", "resource", "message", "data", "service", "path",
           "account", "region")


def _rows(findings: Iterable[Finding]) -> list[tuple[Any, ...]]:
    """Findings as tuples of `_FIELDS`, enums as their values: what marshal writes."""
    return [(f.check, f.status._value_, f.severity._value_, f.resource, f.message, f.data,
             f.service, f.path, f.account, f.region) for f in findings]


def _findings(rows: Iterable[Sequence[Any]]) -> list[Finding]:
    """`_rows`' findings, as they were."""
    from checker.model import Finding, Severity, Status

    status, severity = Status._value2member_map_, Severity._value2member_map_
    return [Finding(c, status[st], severity[sv], r, m, dt, sv_, p, a, rg)  # type: ignore[arg-type]
            for c, st, sv, r, m, dt, sv_, p, a, rg in rows]


def _packed(done: Done) -> bytes:
    """A child's findings as bytes: `marshal`ed tuples (a third of pickle's time to write
    and two thirds to read back, x10: 0.10 and 0.09 s against 0.36 and 0.15 s), or a pickle
    when a finding's data holds what marshal refuses (anything not exactly a built-in type)."""
    try:
        return b"M" + marshal.dumps({check_id: _rows(findings)
                                     for check_id, findings in done.items()})
    except ValueError:
        return b"P" + pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL)


def _unpacked(data: bytes) -> Done:
    """`_packed`'s findings, as the child made them."""
    if data[:1] == b"P":
        done: Done = pickle.loads(data[1:])
        return done
    if data[:1] != b"M":
        raise ValueError("not a spill of findings")
    return {check_id: _findings(rows) for check_id, rows in marshal.loads(data[1:]).items()}
