"""Three hours of one-minute CloudWatch series for the healthy cluster (tests/incidents/healthy.py).

Every series a check reads is there: AWS/ECS CPU and memory (Average and Maximum) per
service, Container Insights task counts, AWS/EC2 CPU per container instance, the NAT
gateways' connection and packet counters, and the ALB target groups' traffic, latency, 5xx
and host counts. Levels are moderate and flat with Gaussian noise from the seed; the api
scaled 3 → 4 → 3 tasks in the window, as the stopped-task noise in _base.py says.
"""

from __future__ import annotations

import random
from typing import Any

from tests import builders_metrics as bm

HOURS, PERIOD = 3.0, 60
Values = list[float | None]
POINTS = len(bm.grid(HOURS, PERIOD))


def minutes_ago(m: float) -> int:
    """Index of the datapoint `m` minutes before collection (the last one is 1 min ago)."""
    return max(0, min(POINTS - 1, POINTS - round(m)))


def flat(level: float, sigma: float, seed: int, floor: float = 0.0) -> Values:
    return bm.noisy(bm.flat(HOURS, PERIOD, level), sigma, seed, floor)


def ecs(service: str, name: str, stat: str, values: Values) -> dict[str, Any]:
    return bm.ecs(service, name, stat, values, PERIOD)


def insights(service: str, name: str, values: Values) -> dict[str, Any]:
    return bm.series("ECS/ContainerInsights", name, {"ClusterName": "prod",
                                                     "ServiceName": service},
                     "Average", values, PERIOD)


def ec2(instance_id: str, name: str, stat: str, values: Values) -> dict[str, Any]:
    return bm.ec2(instance_id, name, stat, values, PERIOD)


#: Metrics that count things: their Sum (and Maximum) is a whole number in CloudWatch.
COUNTS = frozenset({"ActiveConnectionCount", "ConnectionAttemptCount",
                    "ConnectionEstablishedCount", "ErrorPortAllocation", "PacketsDropCount",
                    "PacketsOutToDestination", "PacketsOutToSource", "RequestCount",
                    "HTTPCode_Target_5XX_Count", "UnHealthyHostCount"})


def _whole(name: str, stat: str, values: Values) -> Values:
    if name not in COUNTS or stat not in ("Sum", "Maximum"):
        return values
    return [None if v is None else float(round(v)) for v in values]


def nat(nat_id: str, name: str, stat: str, values: Values) -> dict[str, Any]:
    return bm.natgw(nat_id, name, stat, _whole(name, stat, values), PERIOD)


def alb(tg_dim: str, name: str, stat: str, values: Values) -> dict[str, Any]:
    from tests.incidents.healthy import LB_DIM

    return bm.series("AWS/ApplicationELB", name, {"TargetGroup": tg_dim, "LoadBalancer": LB_DIM},
                     stat, _whole(name, stat, values), PERIOD)


def counts(desired: int, changes: tuple[tuple[float, int], ...] = ()) -> Values:
    """A task count: `desired` now; each (m, n) change says it was n before m minutes ago
    (older changes override newer ones before their time)."""
    out: Values = [float(desired)] * POINTS
    for m, n in sorted(changes):
        for i in range(0, minutes_ago(m)):
            out[i] = float(n)
    return out


def service_series(name: str, cpu: float, mem: float, desired: int, rng: random.Random,
                   changes: tuple[tuple[float, int], ...] = ()) -> list[dict[str, Any]]:
    s = [rng.randrange(10**6) for _ in range(4)]
    running = counts(desired, changes)
    return [
        ecs(name, "CPUUtilization", "Average", flat(cpu, cpu * 0.06, s[0])),
        ecs(name, "CPUUtilization", "Maximum", flat(cpu * 1.25, cpu * 0.08, s[1])),
        ecs(name, "MemoryUtilization", "Average", flat(mem, 0.8, s[2])),
        ecs(name, "MemoryUtilization", "Maximum", flat(mem + 4, 0.8, s[3])),
        insights(name, "RunningTaskCount", running),
        insights(name, "DesiredTaskCount", counts(desired, changes)),
        insights(name, "PendingTaskCount", [0.0] * POINTS),
    ]


def nat_series(nat_id: str, rng: random.Random, scale: float = 1.0) -> list[dict[str, Any]]:
    s = [rng.randrange(10**6) for _ in range(5)]
    attempts = flat(900 * scale, 60 * scale, s[0])
    return [
        nat(nat_id, "ActiveConnectionCount", "Maximum", flat(2600 * scale, 150 * scale, s[1])),
        nat(nat_id, "ConnectionAttemptCount", "Sum", attempts),
        nat(nat_id, "ConnectionEstablishedCount", "Sum",
            [round(v * 0.998) if v is not None else None for v in attempts]),
        nat(nat_id, "ErrorPortAllocation", "Sum", [0.0] * POINTS),
        nat(nat_id, "PacketsDropCount", "Sum", [0.0] * POINTS),
        nat(nat_id, "PacketsOutToDestination", "Sum", flat(150_000 * scale, 9000, s[2])),
        nat(nat_id, "PacketsOutToSource", "Sum", flat(210_000 * scale, 12000, s[3])),
    ]


def lb_series(tg_dim: str, rpm: float, latency: float, healthy: int,
              rng: random.Random) -> list[dict[str, Any]]:
    s = [rng.randrange(10**6) for _ in range(3)]
    return [
        alb(tg_dim, "RequestCount", "Sum", flat(rpm, rpm * 0.05, s[0])),
        alb(tg_dim, "TargetResponseTime", "Average", flat(latency, latency * 0.08, s[1], 0.005)),
        alb(tg_dim, "HTTPCode_Target_5XX_Count", "Sum", flat(rpm * 0.0008, 0.6, s[2])),
        alb(tg_dim, "UnHealthyHostCount", "Maximum", [0.0] * POINTS),
        alb(tg_dim, "HealthyHostCount", "Average", [float(healthy)] * POINTS),
    ]


def healthy_metrics(seed: int) -> list[dict[str, Any]]:
    from tests.incidents.healthy import INSTANCES, NATS, SPECS

    rng = random.Random(seed * 7919 + 1)
    out: list[dict[str, Any]] = []
    for spec in SPECS:
        changes = ((50.0, 4), (130.0, 3)) if spec.name == "api" else ()
        out += service_series(spec.name, spec.cpu_pct, spec.mem_pct, spec.desired, rng, changes)
        if spec.port:
            out += lb_series(spec.tg_dim, spec.rpm, spec.latency_s, spec.desired, rng)
    for iid in INSTANCES:
        out.append(ec2(iid, "CPUUtilization", "Average", flat(31.0, 2.5, rng.randrange(10**6))))
    for nat_id in NATS:
        out += nat_series(nat_id, rng)
    return out
