"""Pausing the cyclic garbage collector around the stages that allocate in bursts.

The checks, the walk and the building of a report's dictionaries allocate millions of
short-lived objects; each burst triggers a collection that walks every live container,
the whole bundle included (every task, every datapoint). On a 1,000-service bundle that
was a third of the checks' time and most of `Report.to_dict`'s (bench/analyze_scale.py).
Reference counting still frees everything dropped; cycles, if any, are collected once the
collector is back on.

What a pause allocated and kept (a loaded bundle, a run's findings) is handed to the oldest
generation when the collector comes back (`gc.freeze` then `gc.unfreeze`: two list splices,
https://docs.python.org/3/library/gc.html#gc.freeze). Otherwise the first allocation after
the pause runs a young collection over every object the pause made, millions of them: 0.05 s
for a 23 MB bundle, more after the checks, each time a pause ends. In the oldest generation
they are examined only by a full collection, which Python runs when the objects promoted
since the last one reach a quarter of it.
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
            # the pause's survivors to the oldest generation (module docstring), unless the
            # process froze objects of its own (before a fork): unfreeze would undo that
            handover = gc.get_freeze_count() == 0
            if handover:
                gc.freeze()
            gc.enable()
            if handover:
                gc.unfreeze()
