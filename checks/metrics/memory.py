"""Memory trend per task lifetime: tell a leak (climb, OOM kill, climb again) from load.

A service's MemoryUtilization is a saw-tooth when tasks leak: it climbs while a task lives
and falls when the OOM killer (or a deployment) replaces it. One straight line through the
whole window would see the falls and call it flat, so the series is cut at the resets and
each tooth is fitted on its own.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, objs, parse_time, task_definition_label
from checker.model import Result, Severity, failed, passed, unknown
from checker.registry import Prior, check
from checks.lib.labels import human_duration, service_label
from checks.lib.metric_refs import data_of, sorted_services, thresholds
from checks.lib.series import Fit, Series, clock, fit, iso, split_at_resets
from checks.metrics.service_series import service_series


def config() -> Mapping[str, Any]:
    return thresholds("memory_trend")


@dataclass(frozen=True, slots=True)
class Segment:
    series: Series
    fit: Fit | None
    considered: bool
    rising: bool


@dataclass(frozen=True, slots=True)
class Trend:
    segments: tuple[Segment, ...]
    resets: tuple[float, ...]

    @property
    def considered(self) -> list[Segment]:
        return [s for s in self.segments if s.considered]

    @property
    def rising(self) -> list[Segment]:
        return [s for s in self.segments if s.rising]

    @property
    def leak(self) -> bool:
        """Most task lifetimes climb; one lone lifetime must be long enough to believe."""
        seen, up = self.considered, self.rising
        if not seen or len(up) * 2 <= len(seen):
            return False
        return len(seen) > 1 or seen[0].series.span_s >= config()["single_segment_minutes"] * 60

    @property
    def flat(self) -> bool:
        return bool(self.considered) and not self.rising

    @property
    def slope_per_h(self) -> float | None:
        fits = [s.fit.slope_per_h for s in (self.rising or self.considered) if s.fit]
        return statistics.median(fits) if fits else None

    @property
    def r2(self) -> float | None:
        fits = [s.fit.r2 for s in (self.rising or self.considered) if s.fit]
        return statistics.median(fits) if fits else None

    def hours_to_full(self) -> float | None:
        """From the last tooth, when it is still climbing: when the line reaches 100%."""
        last = self.segments[-1] if self.segments else None
        if last is None or not last.rising or last.fit is None:
            return None
        now = last.fit.at(last.series.times[-1])
        return max(0.0, (100.0 - now) / last.fit.slope_per_h)


def _segment(s: Series) -> Segment:
    cfg = config()
    considered = (len(s) >= cfg["min_segment_points"]
                  and s.span_s >= cfg["min_segment_minutes"] * 60)
    line = fit(s) if considered else None
    rising = bool(
        line is not None
        and line.slope_per_h >= cfg["min_slope_per_hour"]
        and line.at(s.times[-1]) - line.at(s.times[0]) >= cfg["min_rise_points"]
        and line.r2 >= cfg["min_r2"]
        and _still_climbing(s)
    )
    return Segment(s, line, considered, rising)


def _still_climbing(s: Series) -> bool:
    """The second half of the lifetime climbs too: caches and heaps that warm up and then
    level off fit a rising line over the whole lifetime, a leak keeps going."""
    tail = fit(s.between(start=s.times[0] + (s.times[-1] - s.times[0]) / 2))
    return tail is not None and tail.slope_per_h >= config()["min_slope_per_hour"] / 2


def analyze(s: Series) -> Trend:
    segments, resets = split_at_resets(s, config()["reset_drop_points"])
    return Trend(tuple(_segment(seg) for seg in segments), tuple(resets))


@dataclass(frozen=True, slots=True)
class Onset:
    revision: str
    at: float
    trend: Trend


def onset(s: Series, service: Item) -> Onset | None:
    """The deployment after which memory starts to climb, when it was flat before: the
    revision that introduced the leak (deployments carry createdAt and taskDefinition)."""
    margin = config()["min_segment_minutes"] * 60
    deployments = sorted(
        ((when.timestamp(), str(d.get("taskDefinition") or ""))
         for d in objs(service.get("deployments"))
         if (when := parse_time(d.get("createdAt")))),
    )
    for at, td in deployments:
        if not s.times or not s.times[0] + margin <= at <= s.times[-1] - margin:
            continue
        before, after = analyze(s.between(end=at)), analyze(s.between(start=at))
        if before.flat and after.leak:
            return Onset(task_definition_label(td) if td else "?", at, after)
    return None


def _slope(trend: Trend) -> str:
    return f"{round(trend.slope_per_h or 0.0, 1) + 0.0:+.1f}"  # no "-0.0"


def _forecast(now: float, hours: float | None) -> str:
    if hours is None:
        return ""
    if hours < 0.05:
        return f"; at {now:.0f}% now: at the limit, the next OOM kill is due"
    return f"; at {now:.0f}% now, reaches 100% in ~{hours:.1f} h"


def result(svc: Item, s: Series) -> Result:
    """The verdict for one service's memory series: leak (with forecast and onset
    revision), no climb, or too few long-enough lifetimes to say."""
    arn, label = str(svc.get("serviceArn")), service_label(svc)
    trend, start = analyze(s), onset(s, svc)
    head = f"service {label}: MemoryUtilization ({s.stat or 'series'})"
    if not trend.considered:
        return unknown(arn, f"{head}: no task lifetime of "
                       f"{config()['min_segment_minutes']}m or more between the "
                       f"{len(trend.resets)} resets in the window; cannot fit a trend",
                       service=arn, resets=[iso(t) for t in trend.resets])
    leak = start.trend if start else (trend if trend.leak else None)
    if leak is None:
        return passed(arn, f"{head} does not climb: slope {_slope(trend)} %/h, "
                      f"{len(trend.rising)} of {len(trend.considered)} task lifetimes rising",
                      service=arn, stat=s.stat, slope_per_hour=trend.slope_per_h,
                      segments=len(trend.considered), rising_segments=len(trend.rising))
    resets = ", ".join(clock(t) for t in leak.resets)
    hours = leak.hours_to_full()
    lifetimes = (f"over {human_duration(leak.considered[0].series.span_s)} without a reset"
                 if len(leak.segments) == 1 else
                 f"in {len(leak.rising)} of {len(leak.considered)} task lifetimes")
    text = (f"{head} climbs {_slope(leak)} %/h (r² {leak.r2 or 0:.2f}) {lifetimes}"
            + (f"; resets at {resets} (OOM kill or restart)" if resets else "")
            + _forecast(s.values[-1], hours))
    if start is not None:
        text += (f"; climb starts after deployment of {start.revision} at {clock(start.at)} "
                 "(flat before)")
    return failed(arn, text, service=arn, **data_of(
        stat=s.stat, slope_per_hour=round(leak.slope_per_h or 0, 3),
        r2=round(leak.r2 or 0, 3), segments=len(leak.considered),
        rising_segments=len(leak.rising), resets=[iso(t) for t in leak.resets],
        hours_to_full=round(hours, 2) if hours is not None else None,
        onset_revision=start.revision if start else None,
        onset_at=iso(start.at) if start else None))


@check(id="memory-trend-rising", area="metrics", severity=Severity.HIGH,
       title="Service memory climbs steadily across task lifetimes (leak)",
       needs=("services", "metrics"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/memory-management.html",
       emits=("hours_to_full", "onset_at", "onset_revision", "r2", "resets", "rising_segments",
              "segments", "slope_per_hour", "stat"))
def memory_trend_rising(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A leak is memory that grows with time, not with load: MemoryUtilization climbs
    while a task lives, falls when the OOM killer or a restart replaces it, and climbs
    again. Each lifetime is fitted separately (least squares on timestamps); most of them
    rising with a good fit is a leak, and the last one gives the time left. When the climb
    begins at a deployment, the revision deployed is named."""
    for svc in sorted_services(facts):
        got = service_series(facts, svc, "MemoryUtilization", ("Maximum", "Average"))
        yield result(svc, got) if isinstance(got, Series) else got
