"""Pausing the cyclic garbage collector around the stages that allocate in bursts.

The checks, the walk and the building of a report's dictionaries allocate millions of
short-lived objects; each burst triggers a collection that walks every live container,
the whole bundle included (every task, every datapoint). On a 1,000-service bundle that
was a third of the checks' time and most of `Report.to_dict`'s (bench/analyze_scale.py).
Reference counting still frees everything dropped; cycles, if any, are collected once the
collector is back on.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside; the previous state is restored after, so a caller that
    disabled it keeps it disabled (and nesting is harmless)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
