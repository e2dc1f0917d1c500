"""Progress displays for a terminal; nothing at all when output is piped.

Collection can take tens of seconds on a big account (API buckets refill at ~20/s), so a
person at a terminal sees what is being read. The hooks are thread-safe: rich's Progress
takes its own lock, and collectors call `step` from the worker pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from checker.registry import CheckSpec


class _Steps:
    def __init__(self, progress: Progress, task: object) -> None:
        self._progress, self._task = progress, task
        self.calls = 0

    def step(self, label: str) -> None:
        self.calls += 1
        self._progress.update(self._task, advance=1,  # type: ignore[arg-type]
                              description=f"Collecting · {label}")


@contextmanager
def collect_progress(console: Console, enabled: bool) -> Iterator[_Steps | None]:
    if not enabled:
        yield None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                  TextColumn("[dim]{task.completed} API calls"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        yield _Steps(progress, progress.add_task("Collecting", total=None))


@contextmanager
def check_progress(console: Console, total: int) -> Iterator[Callable[[CheckSpec], None]]:
    """A bar advanced by each check. Redrawn by the hook itself, not by rich's refresh
    thread: with another thread alive the checks of a large account would not be forked
    into a second process (checker/parallel.py)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), console=console, transient=True,
                  auto_refresh=False) as progress:
        task = progress.add_task("Running checks", total=total)

        def hook(spec: CheckSpec) -> None:
            progress.update(task, advance=1, description=f"Running checks · {spec.id}",
                            refresh=True)

        yield hook
