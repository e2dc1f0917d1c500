"""Wall time of a fleet scan against the same targets scanned one after the other.

The fleet: ``--accounts`` member accounts (default 20) × ``--regions`` Regions (default 2:
us-east-1, eu-west-1), each with one ``prod`` cluster of ``--services`` Fargate services
(default 5), behind moto's server in a separate process on 127.0.0.1 (``python -m
moto.server``), so the server's work and this process's run on the machine's cores side by
side, as AWS and a laptop do. Each account is entered by AssumeRole (moto keeps one backend
per account id).

Timed, alternately, ``--runs`` times each (default 1; the median is reported):

- sequential: for each target in turn, what ``ecsdoctor scan --cluster prod`` does in one
  account and Region (collect with the default pool of 8, then analyse);
- fleet: ``checker.fleet.scan_fleet`` over every target, ``--fleet-workers`` at a time
  (default 4, as ``scan --fleet-workers`` defaults to), analyses and merge included.

Both count the API calls each target's session makes: the fleet must make per target
exactly the calls one scan makes. On localhost a call costs a few milliseconds of work and
no network latency; against AWS, where each call waits tens of milliseconds on the network,
overlapping targets hides more of it. ``--latency-ms`` adds that wait to every call
(sleeping in botocore's ``before-send``) to show the effect; the default 0 measures moto
alone. The last lines are the summary:

    wall time: fleet X.XX s vs sequential Y.YY s over N targets — Z.Zx faster
    API calls per target: fleet A vs sequential A (unchanged)

Run from the repository root: ``python bench/fleet.py [--accounts 20] [--runs 1]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3
from api_calls import CallCounter

from checker.collect import Scope, collect
from checker.fleet import FleetRequest, Sessions, Target, scan_fleet
from checker.pipeline import Engine

ROLE = "arn:aws:iam::{account}:role/ecsdoctor-fleet-member"
CLUSTER = "prod"
SCOPE = Scope(clusters=(CLUSTER,))


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server in its own process; every boto3 session of this process talks to it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("moto server did not start")
        os.environ.update({"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"})
        os.environ.pop("AWS_PROFILE", None)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def member(account: str, region: str) -> Any:
    creds = boto3.client("sts", region_name=region).assume_role(
        RoleArn=ROLE.format(account=account), RoleSessionName="bench-setup")["Credentials"]
    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                 aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"], region_name=region)


def build(account: str, region: str, services: int) -> None:
    """One cluster, ``services`` Fargate services with their own task definitions."""
    ecs = member(account, region).client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    for i in range(services):
        family = f"svc-{i:02d}"
        ecs.register_task_definition(
            family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
            cpu="256", memory="512",
            containerDefinitions=[{"name": "app", "image": "nginx:1.27", "essential": True}])
        ecs.create_service(cluster=CLUSTER, serviceName=family, taskDefinition=family,
                           desiredCount=2, launchType="FARGATE")


class Counting:
    """A session factory for the fleet that counts each target's calls (bench/api_calls.py),
    and adds the simulated network wait."""

    def __init__(self, sessions: Any, latency: float) -> None:
        self.sessions, self.latency = sessions, latency
        self.counts: dict[Target, Counter[str]] = {}
        self._lock = threading.Lock()

    def __call__(self, target: Target) -> Any:
        session = self.sessions(target)
        counter = CallCounter(session)
        delay(session, self.latency)
        with self._lock:
            self.counts[target] = counter.counts
        return session


def delay(session: Any, latency: float) -> None:
    if latency > 0:
        session.events.register("before-send.*.*", lambda **_: time.sleep(latency))


def sequential(targets: list[Target], sessions: Sessions, engine: Engine,
               latency: float) -> tuple[float, dict[Target, Counter[str]]]:
    counts: dict[Target, Counter[str]] = {}
    start = time.perf_counter()
    for target in targets:
        session = sessions(target)
        counter = CallCounter(session)
        delay(session, latency)
        engine.analyze(collect(session, SCOPE))
        counts[target] = counter.counts
    return time.perf_counter() - start, counts


def fleet(request: FleetRequest, sessions: Sessions, engine: Engine,
          latency: float) -> tuple[float, dict[Target, Counter[str]], int]:
    counting = Counting(sessions, latency)
    base = boto3.session.Session(region_name="us-east-1")
    start = time.perf_counter()
    report = scan_fleet(request, base, SCOPE, engine=engine, sessions=counting)
    elapsed = time.perf_counter() - start
    assert not report.errors, report.errors
    return elapsed, counting.counts, len(report.diagnoses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--regions", default="us-east-1,eu-west-1")
    parser.add_argument("--services", type=int, default=5)
    parser.add_argument("--fleet-workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    accounts = [f"{100000000000 + i:012d}" for i in range(1, args.accounts + 1)]
    regions = tuple(args.regions.split(","))
    latency = args.latency_ms / 1000
    with moto_server() as url:
        print(f"moto server at {url}; building {len(accounts)} accounts × {len(regions)} "
              f"Regions, {args.services} services each…", flush=True)
        for account in accounts:
            for region in regions:
                build(account, region, args.services)
        base = boto3.session.Session(region_name="us-east-1")
        sessions = Sessions(base, role_arn=ROLE)
        sessions.assume_all(accounts)
        targets = [Target(a, r) for a in accounts for r in regions]
        request = FleetRequest(regions=regions, accounts=tuple(accounts), role_arn=ROLE,
                               workers=args.fleet_workers)
        engine = Engine()
        engine.analyze(collect(sessions(targets[0]), SCOPE))  # warm imports and caches
        seq_times, fleet_times = [], []
        for _ in range(args.runs):
            seq_time, seq_counts = sequential(targets, sessions, engine, latency)
            fleet_time, fleet_counts, diagnoses = fleet(request, sessions, engine, latency)
            seq_times.append(seq_time)
            fleet_times.append(fleet_time)
    seq, par = statistics.median(seq_times), statistics.median(fleet_times)
    per_seq = {t: sum(c.values()) for t, c in seq_counts.items()}
    per_fleet = {t: sum(c.values()) for t, c in fleet_counts.items()}
    same = all(seq_counts[t] == fleet_counts[t] for t in targets)
    print(f"targets: {len(targets)} ({len(accounts)} accounts × {len(regions)} Regions), "
          f"fleet workers {args.fleet_workers}, simulated latency {args.latency_ms:g} ms, "
          f"{diagnoses} diagnoses in the fleet report")
    print(f"runs: sequential {', '.join(f'{t:.2f}' for t in seq_times)} s; "
          f"fleet {', '.join(f'{t:.2f}' for t in fleet_times)} s")
    print(f"wall time: fleet {par:.2f} s vs sequential {seq:.2f} s over {len(targets)} "
          f"targets — {seq / par:.1f}x faster")
    low, high = min(per_fleet.values()), max(per_fleet.values())
    calls = f"{low}" if low == high else f"{low}–{high}"
    seq_calls = (f"{min(per_seq.values())}" if min(per_seq.values()) == max(per_seq.values())
                 else f"{min(per_seq.values())}–{max(per_seq.values())}")
    print(f"API calls per target: fleet {calls} vs sequential {seq_calls} "
          f"({'unchanged, operation by operation' if same else 'CHANGED'})")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
