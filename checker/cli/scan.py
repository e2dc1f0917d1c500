"""`scan`: a boto3 session from the user's usual AWS environment, then the collectors, within
the scan's time limit (``--timeout``) and stoppable with Ctrl-C.

Ctrl-C: the first one stops the scan: no further AWS call is sent, the calls still waiting
are abandoned (the collector pool's threads are daemons, so none keeps the process alive)
and the process exits 130 with one line. A second Ctrl-C, while that is under way, exits
at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

from rich.console import Console

from checker.cli.progress import collect_progress
from checker.collect import DEFAULT_TIMEOUT, Deadline, Scope, collect
from checker.collect import session as aws_session
from checker.collect.aws import TIMED_OUT, seconds
from checker.errors import InputError

INTERRUPTED = 130  # 128 + SIGINT, as shells report it
MAX_TIMEOUT = 24 * 3600.0

_TIMEOUT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_timeout(text: str) -> float:
    """``--timeout``: seconds (``90``) or a duration (``90s``, ``5m``, ``1h``)."""
    m = _TIMEOUT.match(text)
    seconds = float(m.group(1)) * _UNIT[m.group(2)] if m else 0.0
    if not 0 < seconds <= MAX_TIMEOUT:
        raise InputError(f"--timeout {text!r}: expected a time limit like 90s, 5m or 1h "
                         f"(more than 0, at most 24h; default {DEFAULT_TIMEOUT:g}s)")
    return seconds


def run_scan(scope: Scope, *, region: str | None, profile: str | None, workers: int,
             console: Console, show_progress: bool,
             timeout: float = DEFAULT_TIMEOUT, endpoint_url: str | None = None) -> dict[str, Any]:
    session = aws_session.with_endpoint(aws_session.session_for(region, profile), endpoint_url)
    deadline = Deadline(timeout)
    try:
        with interruptible(deadline, console), \
                collect_progress(console, show_progress) as progress:
            bundle = collect(session, scope, progress=progress, max_workers=workers,
                             deadline=deadline, endpoint_url=endpoint_url)
    except KeyboardInterrupt:
        leave(INTERRUPTED)
    note_timeout(console, bundle, timeout)
    return bundle


def leave(code: int) -> NoReturn:
    """End the process now. Interrupted while collecting, there is nothing to finish (no
    report or bundle is written yet), and the interpreter's orderly shutdown of a process
    that loaded the AWS SDK takes seconds on a busy machine: the user asked to stop."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


@contextmanager
def interruptible(deadline: Deadline, console: Console) -> Iterator[None]:
    """Within it, the first SIGINT cancels ``deadline`` (so no call is sent after it), says
    so in one line and raises KeyboardInterrupt (the command line turns it into exit 130);
    after that a second SIGINT ends the process at once. Python's own handler is back after
    a scan that was not interrupted. Signals reach the main thread only: elsewhere (a test
    runner's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def second(signum: int, frame: FrameType | None) -> None:
        os._exit(INTERRUPTED)

    def first(signum: int, frame: FrameType | None) -> None:
        deadline.cancel()
        signal.signal(signal.SIGINT, second)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    except KeyboardInterrupt:
        console.print("ecsdoctor: interrupted", markup=False, highlight=False)
        raise  # `second` stays: the rest of the way out may be cut short
    finally:
        if signal.getsignal(signal.SIGINT) is first:
            signal.signal(signal.SIGINT, previous)


def note_timeout(console: Console, bundle: dict[str, Any], timeout: float) -> None:
    """One stderr line when the time limit cut the scan short, naming what was not read:
    the report is built from the rest, and says so in its errors."""
    cut = sorted({str(e.get("collection")) for e in bundle.get("errors") or []
                  if isinstance(e, dict) and e.get("code") == TIMED_OUT})
    if cut:
        console.print(f"ecsdoctor: the scan's {seconds(timeout)} s time limit (--timeout) "
                      f"ran out; not read: {', '.join(cut)}. The report is built from what "
                      "was read.", markup=False, highlight=False)
