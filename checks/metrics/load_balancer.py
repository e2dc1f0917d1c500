"""Target group metrics of a service: latency, 5xx share, health flapping.

ELB reports a datapoint only for minutes with requests, so every number here is over the
minutes that had traffic, and a missing datapoint never counts as zero latency or zero
errors of an idle minute. Within a minute that had requests, a missing 5xx datapoint does
mean "no 5xx" (ELB omits zero counts).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item
from checks.lib.knowledge import table
from checks.lib.metric_refs import TargetGroupRef, elb_series, holds, target_groups_of
from checks.lib.series import Series, Sustained, rises, runs, sustained_above


def config() -> Mapping[str, Any]:
    section: Mapping[str, Any] = table("metric_thresholds")["load_balancer"]
    return section


@dataclass(frozen=True, slots=True)
class Latency:
    mean_s: float
    median_s: float
    peak_s: float
    absolute: Sustained  # above latency_s
    relative: Sustained  # above latency_vs_median × median
    relative_threshold_s: float

    @property
    def high(self) -> bool:
        cfg = config()
        return holds(self.absolute) or (
            self.relative_threshold_s >= cfg["latency_floor_s"] and holds(self.relative))


def latency(s: Series) -> Latency:
    cfg = config()
    median = statistics.median(s.values)
    rel = cfg["latency_vs_median"] * median
    return Latency(statistics.fmean(s.values), median, max(s.values),
                   sustained_above(s, cfg["latency_s"]), sustained_above(s, rel), rel)


@dataclass(frozen=True, slots=True)
class Errors:
    errors: float
    requests: float
    rates: Series  # per-period 5xx share, at the minutes with requests

    @property
    def rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def high(self) -> bool:
        cfg = config()
        if self.requests < cfg["min_requests"]:
            return False
        return self.rate >= cfg["error_rate"] or holds(
            sustained_above(self.rates, cfg["error_rate"]))


def errors(requests: Series, fivexx: Series) -> Errors:
    by_time = dict(zip(fivexx.times, fivexx.values, strict=True))
    pairs = [(t, by_time.get(t, 0.0) / r) for t, r in zip(requests.times, requests.values,
                                                          strict=True) if r > 0]
    rates = Series(tuple(t for t, _ in pairs), tuple(v for _, v in pairs), requests.period)
    return Errors(sum(fivexx.values), sum(requests.values), rates)


@dataclass(frozen=True, slots=True)
class Health:
    flaps: tuple[float, ...]  # times UnHealthyHostCount went from 0 to > 0
    unhealthy_s: float
    peak: float

    @property
    def flapping(self) -> bool:
        return len(self.flaps) >= int(config()["flaps"])


def health(s: Series) -> Health:
    above = runs(s, lambda v: v > 0)
    return Health(tuple(rises(s, lambda v: v > 0)), sum(r.seconds for r in above),
                  max(s.values))


def alb_groups(facts: Facts, svc: Item) -> list[TargetGroupRef]:
    return [tg for tg in target_groups_of(facts, svc) if not tg.is_network]


def context(facts: Facts, svc: Item) -> tuple[str, list[dict[str, Any]]]:
    """What the service's load balancer saw, for the CPU message: latency and 5xx share
    per target group, when the bundle has them (empty otherwise)."""
    parts: list[str] = []
    data: list[dict[str, Any]] = []
    for tg in alb_groups(facts, svc):
        rt = elb_series(facts, tg, "TargetResponseTime", ("Average",))
        req = elb_series(facts, tg, "RequestCount", ("Sum",))
        err = elb_series(facts, tg, "HTTPCode_Target_5XX_Count", ("Sum",))
        entry: dict[str, Any] = {"target_group": tg.dim}
        bits: list[str] = []
        if rt is not None and len(rt):
            lat = latency(rt)
            entry["response_time_avg_s"] = round(lat.mean_s, 3)
            entry["response_time_peak_s"] = round(lat.peak_s, 3)
            bits.append(f"response time avg {lat.mean_s:.2f} s (peak {lat.peak_s:.2f} s)")
        if req is not None and len(req) and err is not None:
            e = errors(req, err)
            entry["error_rate"] = round(e.rate, 4)
            bits.append(f"5xx {e.rate:.1%} of {e.requests:,.0f} requests")
        if bits:
            parts.append(f"{tg.dim}: {', '.join(bits)}")
            data.append(entry)
    return "; ".join(parts), data
