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
milliseconds of serialisation, HTTP and moto's own work).

The scan's own limit is printed too: its critical path. Every call of ecsdoctor's scan is
timed (botocore's ``before-call`` to ``after-call``, per thread) and put on the dependency
level of its operation (``LEVELS``: the lists, then the describes that need their answers,
then the calls that need those, ...); the slowest call of each level, summed, is the time
no scheduling can beat with these calls. The scan's wall time should stay within 2× of it.
A call's time includes its wait at the server behind the calls running beside it, so on a
small account, where a level's slowest call ran while other levels' calls were queued, the
sum can come out above the scan's own wall time (a ratio below 1): the bound is the target's
denominator, not a floor every run respects.
The last lines are the summary:

    critical path: C.CC s (L levels); ecsdoctor X.XX s = R.R× it (≤ 2)
    wall time: ecsdoctor X.XX s vs naive Y.YY s — Z.Zx faster

Run from the repository root: ``python bench/wall_time.py [--runs 3] [--tiny]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
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
from checker.collect.aws import iam_prefix

#: Dependency level of each operation on this account: what it needs answered first.
#: 0 needs nothing; 1 the lists; 2 the describes (services → task definitions, target
#: groups, scalable targets; container instances → EC2 instances; capacity providers → ASGs);
#: 3 what those answer (instances → subnets, groups and types; target groups → load
#: balancers and health; targets → policies); 4 the subnets' VPC, route tables and ACLs;
#: 5 the NAT gateways the route tables name; 6 the metrics of everything found.
LEVELS: dict[str, int] = {
    **dict.fromkeys(("sts:GetCallerIdentity", "ecs:DescribeClusters", "ecs:ListServices",
                     "ecs:ListTasks", "ecs:ListContainerInstances", "ecs:ListAccountSettings"),
                    0),
    **dict.fromkeys(("ecs:DescribeServices", "ecs:DescribeTasks",
                     "ecs:DescribeContainerInstances", "ecs:DescribeCapacityProviders"), 1),
    **dict.fromkeys(("ecs:DescribeTaskDefinition", "elasticloadbalancing:DescribeTargetGroups",
                     "application-autoscaling:DescribeScalableTargets",
                     "autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances",
                     "cloudwatch:DescribeAlarms"), 2),
    **dict.fromkeys(("ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                     "ec2:DescribeInstanceTypes", "elasticloadbalancing:DescribeLoadBalancers",
                     "elasticloadbalancing:DescribeLoadBalancerAttributes",
                     "elasticloadbalancing:DescribeTargetHealth",
                     "application-autoscaling:DescribeScalingPolicies"), 3),
    **dict.fromkeys(("ec2:DescribeRouteTables", "ec2:DescribeNetworkAcls", "ec2:DescribeVpcs",
                     "ec2:DescribeVpcEndpoints", "ec2:DescribeVpcAttribute"), 4),
    "ec2:DescribeNatGateways": 5,
    **dict.fromkeys(("cloudwatch:GetMetricData", "logs:FilterLogEvents",
                     "cloudtrail:LookupEvents"), 6),
}


class CallTimer:
    """Every API call's duration, by IAM action: botocore's ``before-call`` starts it and
    ``after-call`` (or ``after-call-error``) ends it, in the thread that made it."""

    def __init__(self, session: Any) -> None:
        self.calls: list[tuple[str, float]] = []
        self._open = threading.local()
        self._lock = threading.Lock()
        session.events.register("before-call.*.*", self._start)
        session.events.register("after-call.*.*", self._end)
        session.events.register("after-call-error.*.*", self._end)

    @staticmethod
    def _action(model: Any) -> str:
        return f"{iam_prefix(model.service_model.service_id.hyphenize())}:{model.name}"

    def _start(self, model: Any, **_: Any) -> None:
        self._open.started = (self._action(model), time.perf_counter())

    def _end(self, model: Any, **_: Any) -> None:
        started = getattr(self._open, "started", None)
        if started is None:
            return
        self._open.started = None
        with self._lock:
            self.calls.append((started[0], time.perf_counter() - started[1]))

    def critical_path(self) -> tuple[float, list[tuple[int, str, float]]]:
        """(seconds, [(level, slowest action, its seconds)]); an action with no level is
        put one level below the deepest known (and named, so LEVELS can be completed)."""
        deepest = max(LEVELS.values()) + 1
        slowest: dict[int, tuple[str, float]] = {}
        for action, seconds in self.calls:
            level = LEVELS.get(action, deepest)
            if level not in slowest or seconds > slowest[level][1]:
                slowest[level] = (action, seconds)
        path = [(level, *slowest[level]) for level in sorted(slowest)]
        return sum(p[2] for p in path), path


def ecsdoctor(session: Any) -> Counter[str]:
    bundle = collect(session, Scope(clusters=(acct.CLUSTER,)))
    read = Counter({k: len(v) for k, v in bundle["resources"].items()})
    read["metric_series"] = len(bundle["metrics"])
    return read


def timed(scan: Callable[[Any], Counter[str]], account: acct.Account,
          timer: list[CallTimer] | None = None) -> tuple[float, int, Counter[str]]:
    """Seconds, API calls, and what was read, for one scan with a fresh session; with
    ``timer``, the scan's calls are also timed (the timer is appended to it)."""
    session = account.session()
    calls = CallCounter(session)
    if timer is not None:
        timer.append(CallTimer(session))
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
        timers: list[CallTimer] = []
        for n in range(runs):
            for name, scan in scans.items():
                seconds, calls[name], read[name] = timed(
                    scan, account, timers if name == "ecsdoctor" else None)
                times[name].append(seconds)
                show(f"run {n + 1}: {name:<9} {seconds:6.2f} s  {calls[name]:5d} calls")
    same = sorted(k for k in read["naive"] if read["naive"][k] != read["ecsdoctor"].get(k))
    show("both read: " + ", ".join(f"{read['ecsdoctor'][k]} {k}" for k in (
        "services", "tasks", "container_instances", "task_definitions", "target_groups",
        "metric_series")) + (f" (differ: {', '.join(same)})" if same else ""))
    fast, slow = (statistics.median(times[name]) for name in scans)
    show(f"API calls per scan: ecsdoctor {calls['ecsdoctor']}, naive {calls['naive']}; "
         f"medians of {runs} runs:")
    paths = [t.critical_path() for t in timers]
    critical = statistics.median(p[0] for p in paths)
    _, levels = min(paths, key=lambda p: abs(p[0] - critical))
    show("critical path (slowest call of each dependency level, the median run): " + ", ".join(
        f"L{level} {action} {seconds * 1000:.0f} ms" for level, action, seconds in levels))
    unknown = sorted({a for t in timers for a, _ in t.calls if a not in LEVELS})
    if unknown:
        show(f"operations without a level (put last; add them to LEVELS): {', '.join(unknown)}")
    show(f"critical path: {critical:.2f} s ({len(levels)} levels); ecsdoctor {fast:.2f} s = "
         f"{fast / critical:.1f}× it (≤ 2)")
    show(f"wall time: ecsdoctor {fast:.2f} s vs naive {slow:.2f} s — {slow / fast:.1f}x faster")
    return {"ecsdoctor": fast, "naive": slow, "speedup": slow / fast, "critical": critical,
            "over_critical": fast / critical}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each scan (median)")
    parser.add_argument("--tiny", action="store_true", help="a 6-service account (seconds)")
    args = parser.parse_args()
    run(acct.TINY if args.tiny else acct.FULL, args.runs)


if __name__ == "__main__":
    main()
