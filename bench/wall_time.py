"""Wall time of ecsdoctor's collection against a sequential one-by-one script, same account.

The account is bench/moto_account.py's (default: 200 services, 2,000 running and 500 stopped
tasks, 50 container instances, ...) behind moto's ``ThreadedMotoServer`` on 127.0.0.1, as
``ecsdoctor demo`` serves its account: every request goes over HTTP, through botocore's
serialisation, signing and parsing, like against AWS (minus the network latency, which
would favour the parallel, batched scan even more).

Timed, alternately, ``--runs`` times each (default 3; the median is reported):

- ecsdoctor: ``checker.collect.collect`` — what ``ecsdoctor scan`` runs before the
  analysis — with the default pool (8 workers, as ``--workers`` defaults to);
- naive: bench/naive_scan.py ``scan`` — sequential, one item per describe call.

The server and this process share two cores and one GIL, so the pool's parallelism buys
little here: the speed-up comes mostly from making far fewer calls (each costs a few
milliseconds of serialisation, HTTP and moto's own work). The last line is the summary:

    wall time: ecsdoctor X.XX s vs naive Y.YY s — Z.Zx faster

Run from the repository root: ``python bench/wall_time.py [--runs 3] [--tiny]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import moto_account as acct  # bench/ is not a package
import naive_scan
from api_calls import CallCounter

from checker.collect import Scope, collect


def ecsdoctor(session: Any) -> Counter[str]:
    bundle = collect(session, Scope(clusters=(acct.CLUSTER,)))
    read = Counter({k: len(v) for k, v in bundle["resources"].items()})
    read["metric_series"] = len(bundle["metrics"])
    return read


def timed(scan: Callable[[Any], Counter[str]], account: acct.Account) -> tuple[float, int,
                                                                              Counter[str]]:
    """Seconds, API calls, and what was read, for one scan with a fresh session."""
    session = account.session()
    calls = CallCounter(session)
    start = time.perf_counter()
    read = scan(session)
    return time.perf_counter() - start, sum(calls.counts.values()), read


def run(size: acct.Size = acct.FULL, runs: int = 3,
        show: Callable[[str], None] = print) -> dict[str, float]:
    """Build the account, time both scans alternately, print; returns the medians."""
    scans: dict[str, Callable[[Any], Counter[str]]] = {
        "ecsdoctor": ecsdoctor,
        "naive": lambda session: naive_scan.scan(session, acct.CLUSTER)}
    times: dict[str, list[float]] = {name: [] for name in scans}
    calls: dict[str, int] = {}
    read: dict[str, Counter[str]] = {}
    with acct.served(size) as account:
        show(f"account: {size.services} services, {size.running} running + {size.stopped} "
             f"stopped tasks, {size.instances} container instances, at {account.endpoint_url}")
        for n in range(runs):
            for name, scan in scans.items():
                seconds, calls[name], read[name] = timed(scan, account)
                times[name].append(seconds)
                show(f"run {n + 1}: {name:<9} {seconds:6.2f} s  {calls[name]:5d} calls")
    same = sorted(k for k in read["naive"] if read["naive"][k] != read["ecsdoctor"].get(k))
    show("both read: " + ", ".join(f"{read['ecsdoctor'][k]} {k}" for k in (
        "services", "tasks", "container_instances", "task_definitions", "target_groups",
        "metric_series")) + (f" (differ: {', '.join(same)})" if same else ""))
    fast, slow = (statistics.median(times[name]) for name in scans)
    show(f"API calls per scan: ecsdoctor {calls['ecsdoctor']}, naive {calls['naive']}; "
         f"medians of {runs} runs:")
    show(f"wall time: ecsdoctor {fast:.2f} s vs naive {slow:.2f} s — {slow / fast:.1f}x faster")
    return {"ecsdoctor": fast, "naive": slow, "speedup": slow / fast}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each scan (median)")
    parser.add_argument("--tiny", action="store_true", help="a 6-service account (seconds)")
    args = parser.parse_args()
    run(acct.TINY if args.tiny else acct.FULL, args.runs)


if __name__ == "__main__":
    main()
