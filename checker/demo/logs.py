"""The demo's container logs in moto's CloudWatch Logs: what the failing containers printed.

Why: the logs collector reads the last lines of a failing service's stopped tasks from the
stream the task definition names (``<awslogs-stream-prefix>/<container>/<task id>``), so the
demo writes them exactly there, ending when each task stopped. The lines tell the story the
exit codes cannot:

- orders-worker (crash loop, exit 1): the 2026.11.20 image was built without psycopg2;
  the worker dies importing its database module, with a Python traceback. Its first line
  prints the database URL with the password, which the collector redacts.
- notifications (killed by ELB health checks): the application started fine and listens
  on 8080; nothing in its log is wrong, which is the point (the security group is).
- checkout and search (OOM kills): the runtimes' last words before the kernel's OOM killer.

Services not listed here write nothing: a stopped task without a stream is read as
"no log stream" (payments' tasks never started, so they have none, as on AWS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from checker.demo import scenario as sc

#: service → the last lines of each of its stopped tasks' essential container, oldest first.
LINES: dict[str, tuple[str, ...]] = {
    "orders-worker": (
        "INFO orders.worker starting: concurrency=4 queue=orders "
        "DATABASE_URL=postgres://orders:Vh82kq0LmZr4Tx@orders-db.internal:5432/orders",
        "Traceback (most recent call last):",
        '  File "<frozen runpy>", line 198, in _run_module_as_main',
        '  File "/app/orders/worker.py", line 14, in <module>',
        "    from orders.db import connect",
        '  File "/app/orders/db.py", line 3, in <module>',
        "    import psycopg2",
        "ModuleNotFoundError: No module named 'psycopg2'",
    ),
    "notifications": (
        "info: notifications 2026.11.17 starting (node v20.18.0)",
        "info: connected to SQS queue notifications",
        "info: listening on 0.0.0.0:8080",
    ),
    "checkout": (
        "INFO  c.a.checkout.CartService - cart cache size 1.4 GB (entries 2,913,204)",
        "WARN  c.a.checkout.CartService - cart cache size 1.6 GB (entries 3,307,981)",
        "WARN  o.s.b.w.e.tomcat.GracefulShutdown - GC overhead: 38% of the last minute",
    ),
    "search": (
        "info: search 2026.11.12 starting (node v20.18.0, --max-old-space-size=1536)",
        "info: index loaded: 812,440 documents",
        "<--- Last few GCs --->",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    ),
}


def _ms(now: dt.datetime, minutes_ago: float) -> int:
    return int((now - dt.timedelta(minutes=minutes_ago)).timestamp() * 1000)


def _events(lines: Sequence[str], end_ms: int) -> list[dict[str, Any]]:
    """Lines 200 ms apart, the last at ``end_ms`` (a crash prints its traceback at once)."""
    start = end_ms - 200 * (len(lines) - 1)
    return [{"timestamp": start + 200 * i, "message": line} for i, line in enumerate(lines)]


def put_container_logs(logs: Any, built: Iterable[tuple[sc.Service, Sequence[Any],
                                                        Sequence[str]]],
                       now: dt.datetime) -> int:
    """Write the lines of :data:`LINES` for every stopped task of those services (``built``:
    service, planned tasks, their ARNs); returns the number of streams written."""
    streams = 0
    for service, tasks, arns in built:
        lines = LINES.get(service.name)
        if not lines:
            continue
        group = f"/ecs/{sc.CLUSTER}/{service.name}"
        container = service.containers[0].name
        for task, arn in zip(tasks, arns, strict=True):
            if task.stopped is None or task.started is None:
                continue
            stream = f"{service.name}/{container}/{arn.rsplit('/', 1)[-1]}"
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            logs.put_log_events(logGroupName=group, logStreamName=stream,
                                logEvents=_events(lines, _ms(now, task.stopped) - 500))
            streams += 1
    return streams
