"""`scan` across accounts and Regions (checker.fleet): the caller's session, the plan, one
line per target on a terminal as it finishes, and the merged report."""

from __future__ import annotations

import re
import threading
from typing import Any

from rich.console import Console

from checker.cli.scan import INTERRUPTED, interruptible, leave
from checker.collect import Scope
from checker.collect import session as aws_session
from checker.collect.aws import DEFAULT_TIMEOUT, Deadline
from checker.fleet import FleetRequest, Outcome, scan_fleet
from checker.fleet.run import SessionFactory, Sessions
from checker.fleet.targets import Target
from checker.model import Report
from checker.pipeline import Engine

#: An AWS error code as printed in the progress line: anything else AWS sent is not shown
#: (the report's renderers sanitize the full message).
_CODE = re.compile(r"^[A-Za-z0-9.]{1,64}$")


def run_fleet(request: FleetRequest, scope: Scope, *, region: str | None,
              profile: str | None, workers: int, console: Console,
              show_progress: bool, timeout: float = DEFAULT_TIMEOUT,
              endpoint_url: str | None = None) -> Report:
    """The fleet scan under one `--timeout` for all its targets; the first Ctrl-C stops
    every target's calls and exits 130 with one line, as a single scan does. With
    `endpoint_url`, every target's session sends its calls there (AssumeRole included)."""
    base = aws_session.with_endpoint(aws_session.session_for(region, profile), endpoint_url)
    sessions: SessionFactory | None = None
    if endpoint_url is not None:
        own = Sessions(base, role_arn=request.role_arn, profile=profile)

        def via_endpoint(target: Target) -> Any:
            return aws_session.with_endpoint(own(target), endpoint_url)

        sessions = via_endpoint

    done = 0
    lock = threading.Lock()

    def on_done(outcome: Outcome) -> None:
        nonlocal done
        with lock:
            done += 1
            code = str(outcome.error.get("code")) if outcome.error else ""
            state = (("failed: " + (code if _CODE.match(code) else "error")) if outcome.error
                     else "scanned" if outcome.bundle else "no cluster")
            console.print(f"fleet: {outcome.target.label} {state} ({done} done)", markup=False,
                          highlight=False)

    deadline = Deadline(timeout)
    try:
        with interruptible(deadline, console):
            return scan_fleet(request, base, scope, engine=Engine(), profile=profile,
                              api_workers=workers, on_done=on_done if show_progress else None,
                              deadline=deadline, sessions=sessions)
    except KeyboardInterrupt:
        leave(INTERRUPTED)
