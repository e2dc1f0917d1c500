"""`scan`: a boto3 session from the user's usual AWS environment, then the collectors."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from checker.cli.progress import collect_progress
from checker.collect import Scope, collect
from checker.collect import session as aws_session


def run_scan(scope: Scope, *, region: str | None, profile: str | None, workers: int,
             console: Console, show_progress: bool) -> dict[str, Any]:
    session = aws_session.session_for(region, profile)
    with collect_progress(console, show_progress) as progress:
        return collect(session, scope, progress=progress, max_workers=workers)
