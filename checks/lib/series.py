"""Arithmetic on CloudWatch series, done on timestamps and never on list indexes.

A bundle series holds one value per `period` seconds, but datapoints go missing: a service
with no RUNNING task publishes nothing, a load balancer reports nothing without traffic.
So "sustained for 15 minutes" and "slope per hour" are computed from the timestamps, two
points more than 1.5 periods apart are not consecutive, and a gap is never read as zero.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from checker.facts import parse_time, parse_times

#: Two datapoints further apart than this many periods have a gap between them.
GAP_PERIODS = 1.5


@dataclass(frozen=True, slots=True)
class Series:
    """A cleaned series: ascending epoch seconds and finite float values."""

    times: tuple[float, ...]
    values: tuple[float, ...]
    period: float
    stat: str = ""

    def __len__(self) -> int:
        return len(self.times)

    @property
    def covered_s(self) -> float:
        """Seconds of the window that have a datapoint (each point stands for one period)."""
        return len(self.times) * self.period

    @property
    def span_s(self) -> float:
        return self.times[-1] - self.times[0] + self.period if self.times else 0.0

    def between(self, start: float | None = None, end: float | None = None) -> Series:
        """The points with start <= t < end."""
        keep = [i for i, t in enumerate(self.times)
                if (start is None or t >= start) and (end is None or t < end)]
        return Series(tuple(self.times[i] for i in keep), tuple(self.values[i] for i in keep),
                      self.period, self.stat)

    def consecutive(self, i: int) -> bool:
        """True when point i follows point i-1 without a gap."""
        return i > 0 and self.times[i] - self.times[i - 1] <= GAP_PERIODS * self.period


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        out = float(value)
    except ValueError:
        return None
    return out if math.isfinite(out) else None


_HUGE = float("inf")


def _epochs(stamps: Any) -> Sequence[float | None]:
    """Epoch seconds of each timestamp (None for an odd one). A list of strings is worked
    out once per distinct list: thousands of series share the same few timestamp lists,
    and a parse and a `timestamp()` per datapoint were most of parse()'s cost."""
    if type(stamps) is list and all(type(s) is str for s in stamps):
        return _epochs_of(tuple(stamps))
    return [None if (when := parse_time(s)) is None else when.timestamp() for s in stamps]


@lru_cache(maxsize=256)
def _epochs_of(stamps: tuple[str, ...]) -> tuple[float | None, ...]:
    return tuple(None if when is None else when.timestamp() for when in parse_times(stamps))


def _ascending(stamps: Any) -> tuple[float, ...] | None:
    """The epochs of a list of strings when every one parses and each is later than the
    one before (what CloudWatch returns), else None: such a series needs no sorting and
    has no repeated timestamp to fold."""
    if type(stamps) is not list or not all(type(s) is str for s in stamps):
        return None
    return _ascending_of(tuple(stamps))


@lru_cache(maxsize=256)
def _ascending_of(stamps: tuple[str, ...]) -> tuple[float, ...] | None:
    epochs = _epochs_of(stamps)
    if any(e is None for e in epochs):
        return None
    clean = tuple(e for e in epochs if e is not None)
    return clean if all(a < b for a, b in itertools.pairwise(clean)) else None


def parse(series: Mapping[str, Any]) -> Series:
    """Bundle series → Series; drops points with an odd timestamp or value, sorts by time
    (the contract says ascending; a hand-written file may not be), keeps one point per
    timestamp, and infers the period from the spacing when `period` is missing."""
    stamps, raws = series.get("timestamps") or [], series.get("values") or []
    ascending = _ascending(stamps)
    if ascending is not None and type(raws) is list and all(
            type(raw) is float for raw in raws) and math.isfinite(sum(raws)):
        # what a bundle holds: ascending timestamps, finite floats (a sum that overflows
        # only sends a series the long way); taken as they are
        n = min(len(ascending), len(raws))
        times, values = ascending[:n], tuple(raws[:n])
    else:
        points: dict[float, float] = {}
        for when, raw in zip(_epochs(stamps), raws, strict=False):
            # a finite float is taken as it is; anything else is judged
            value = raw if type(raw) is float and -_HUGE < raw < _HUGE else _number(raw)
            if when is not None and value is not None:
                points[when] = value
        times = tuple(sorted(points))
        values = tuple(points[t] for t in times)
    period = _number(series.get("period")) or 0.0
    if period <= 0:
        steps = [b - a for a, b in itertools.pairwise(times)]
        period = statistics.median(steps) if steps else 60.0
    return Series(times, values, period, str(series.get("stat", "")))


@dataclass(frozen=True, slots=True)
class Fit:
    """Least-squares line through a series; slope in value units per hour."""

    slope_per_h: float
    intercept: float  # value at t0
    r2: float
    t0: float
    n: int

    def at(self, t: float) -> float:
        return self.intercept + self.slope_per_h * (t - self.t0) / 3600.0


def fit(s: Series) -> Fit | None:
    """Ordinary least squares on (hours, value); None below two distinct timestamps.
    r² is 1.0 for a constant series (a flat line fits it perfectly)."""
    if len(s) < 2 or s.times[-1] == s.times[0]:
        return None
    t0 = s.times[0]
    xs = [(t - t0) / 3600.0 for t in s.times]
    mx, my = statistics.fmean(xs), statistics.fmean(s.values)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, s.values, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in s.values)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, s.values, strict=True))
    r2 = 1.0 if ss_tot == 0 else max(0.0, 1.0 - ss_res / ss_tot)
    return Fit(slope, intercept, r2, t0, len(s))


@dataclass(frozen=True, slots=True)
class Run:
    start: float
    end: float  # end of the last point's period

    @property
    def seconds(self) -> float:
        return self.end - self.start


def runs(s: Series, pred: Callable[[float], bool]) -> list[Run]:
    """Stretches of consecutive points (no gap) whose value satisfies `pred`."""
    out: list[Run] = []
    start: float | None = None
    for i, (t, v) in enumerate(zip(s.times, s.values, strict=True)):
        if pred(v):
            if start is None or not s.consecutive(i):
                if start is not None:
                    out.append(Run(start, s.times[i - 1] + s.period))
                start = t
        elif start is not None:
            out.append(Run(start, s.times[i - 1] + s.period))
            start = None
    if start is not None:
        out.append(Run(start, s.times[-1] + s.period))
    return out


@dataclass(frozen=True, slots=True)
class Sustained:
    """How long a series stayed at or above a threshold."""

    seconds_above: float
    fraction: float  # of the time that has data
    longest: Run | None
    peak: float | None

    def holds(self, min_fraction: float, min_run_s: float) -> bool:
        """Above for long enough: a long unbroken run, or most of the window with data
        (and in either case at least `min_run_s` in total, so one hot point is not it)."""
        if self.seconds_above < min_run_s:
            return False
        return self.fraction >= min_fraction or (
            self.longest is not None and self.longest.seconds >= min_run_s)


def sustained_above(s: Series, threshold: float) -> Sustained:
    above = runs(s, lambda v: v >= threshold)
    seconds = sum(1 for v in s.values if v >= threshold) * s.period
    longest = max(above, key=lambda r: (r.seconds, -r.start), default=None)
    return Sustained(seconds, seconds / s.covered_s if s.covered_s else 0.0, longest,
                     max(s.values) if s.values else None)


def split_at_resets(s: Series, drop: float) -> tuple[list[Series], list[float]]:
    """Cut a saw-tooth into its teeth: a fall of more than `drop` between consecutive points
    is a reset (an OOM kill or a restart). Returns the segments and the reset times."""
    if not s.times:
        return [], []
    cuts = [i for i in range(1, len(s)) if s.values[i - 1] - s.values[i] > drop]
    bounds = [0, *cuts, len(s)]
    segments = [Series(s.times[a:b], s.values[a:b], s.period, s.stat)
                for a, b in itertools.pairwise(bounds)]
    return segments, [s.times[i] for i in cuts]


def near(s: Series, level: float, tolerance: float) -> float:
    """Share of the points within ±tolerance of `level`: how flat a series sits there."""
    if not s.values:
        return 0.0
    return sum(1 for v in s.values if abs(v - level) <= tolerance) / len(s)


def rises(s: Series, pred: Callable[[float], bool]) -> list[float]:
    """Times where `pred` turns true after a point where it was false (gaps break the
    chain: a missing datapoint is no evidence either way)."""
    return [s.times[i] for i in range(1, len(s))
            if s.consecutive(i) and pred(s.values[i]) and not pred(s.values[i - 1])]


def clock(t: float) -> str:
    """`09:10` (UTC): how an incident timeline is read."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M")


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()
