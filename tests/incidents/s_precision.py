"""Look-alikes that must be told apart precisely: kernel OOM kills after hours on hosts
over-committed by soft limits (not a leak), pulls that fail for the network rather than
for a secret, an isolated VPC by design that lacks one endpoint, a stop reason that only
looks truncated. Each names what the report must say, and tests/test_precision.py states
what it must not."""

from __future__ import annotations

from tests.incidents.s_memory import _memory, _oom, _restart
from tests.incidents.scenarios import Cluster, fires, scenario


@scenario("soft-limit-oom-after-hours", "host-memory-overcommit",
          fires("stopped-task-oom", "reports"), fires("oom-after-long-uptime", "reports"),
          fires("container-no-memory-limit", "reports"), services=("reports",))
def soft_limit_oom_after_hours(c: Cluster) -> None:
    """reports:20 (three days ago) runs on a 1 GiB soft reservation and no hard limit. Its
    memory is flat at 160% of the reservation, but its hosts are full: every few hours the
    kernel OOM killer picks a reports container (exit 137, no ECS memory message), each
    after three to five hours of uptime. Nothing leaks; the hosts are over-committed."""
    c.deploy("reports", 3 * 1440, memory=None, memoryReservation=1024)
    for (stopped, uptime), host in zip(((50, 200), (28, 260), (9, 310)), (0, 2, 0),
                                       strict=True):
        _oom(c, "reports", host, stopped, uptime, text=None)
    _restart(c, "reports", 8, 27)
    _memory(c, "reports", lambda mins: 160.0, 4.0, average_gap=20.0, cap=400.0)


@scenario("soft-limit-leak", "memory-leak",
          fires("stopped-task-oom", "reports", hard_limit=False),
          fires("memory-trend-rising", "reports"), services=("reports",),
          summary_has=("climbs",))
def soft_limit_leak(c: Cluster) -> None:
    """reports:20 runs on a 1 GiB soft reservation and no hard limit, and leaks: from every
    start its memory climbs ~40 points of the reservation an hour until the host runs out
    and the kernel kills it (exit 137, no ECS memory message), after about three hours."""
    c.deploy("reports", 3 * 1440, memory=None, memoryReservation=1024)

    def climb(mins: float) -> float:
        start = 200.0 if mins >= 15 else 15.0
        return 60.0 + 0.66 * (start - mins)
    _memory(c, "reports", climb, 1.5, average_gap=10.0, cap=400.0)
    for stopped, uptime, host in ((15, 185, 0), (17, 183, 2)):
        _oom(c, "reports", host, stopped, uptime, text=None)
    _restart(c, "reports", 14, 16)
