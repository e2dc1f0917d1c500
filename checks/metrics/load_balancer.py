"""Target group metrics of a service: latency, 5xx share, health flapping; and the ALB's own
502s against an idle timeout longer than the application's keep-alive.

ELB reports a datapoint only for minutes with requests, so every number here is over the
minutes that had traffic, and a missing datapoint never counts as zero latency or zero
errors of an idle minute. Within a minute that had requests, a missing 5xx datapoint does
mean "no 5xx" (ELB omits zero counts).
"""

from __future__ import annotations

import posixpath
import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checker.bundle import METRICS
from checker.facts import Facts, Item, obj, objs, strs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.knowledge import table
from checks.lib.labels import human_duration, service_label
from checks.lib.metric_refs import (
    TargetGroupRef,
    elb_series,
    find,
    holds,
    sorted_services,
    target_groups_of,
    thresholds,
)
from checks.lib.series import Series, Sustained, clock, rises, runs, sustained_above
from checks.lib.taskdefs import env, image_repo, words
from checks.lib.values import flag_value

DOCS = ("https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
        "load-balancer-cloudwatch-metrics.html")


def config() -> Mapping[str, Any]:
    return thresholds("load_balancer")


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


def _tg_series(facts: Facts, svc: Item, name: str,
               stats: tuple[str, ...]) -> Iterator[tuple[TargetGroupRef, Series | Result]]:
    """(target group, its non-empty series) per ALB target group of the service, or the
    Result saying why there is nothing to judge (no traffic; not collected)."""
    arn, label = str(svc.get("serviceArn")), service_label(svc)
    for tg in target_groups_of(facts, svc):
        got = elb_series(facts, tg, name, stats) if not tg.is_network else None
        head = f"service {label} {tg.dim}"
        if tg.is_network:
            yield tg, skipped(tg.arn, f"{head}: {tg.protocol} target group of a Network Load "
                              "Balancer (AWS/NetworkELB has no such metric)", service=arn)
        elif got is None:
            yield tg, unknown(tg.arn, f"{head}: needs AWS/ApplicationELB {name} "
                              f"({' or '.join(stats)})", service=arn, needs=name)
        elif not len(got):
            yield tg, skipped(tg.arn, f"{head}: no {name} datapoint: no requests in the window "
                              "(ELB publishes nothing without traffic)", service=arn)
        else:
            yield tg, got


@check(id="target-response-time-high", area="metrics", severity=Severity.MEDIUM,
       title="Target response time high for a sustained part of the window",
       needs=("services", "metrics"), docs=DOCS,
       emits=("mean_s", "median_s", "peak_s", "target_group", "threshold_s", "traffic_s"))
def target_response_time_high(facts: Facts, prior: Prior) -> Iterator[Result]:
    """What users feel: TargetResponseTime above 1 s, or above three times its own median,
    for a sustained part of the minutes that had traffic. Minutes without requests have no
    datapoint and are not counted as fast. Evidence that tasks are saturated or starved."""
    cfg = config()
    for svc in sorted_services(facts):
        arn = str(svc.get("serviceArn"))
        for tg, got in _tg_series(facts, svc, "TargetResponseTime", ("Average",)):
            if not isinstance(got, Series):
                yield got
                continue
            lat = latency(got)
            head = f"service {service_label(svc)} {tg.dim}: TargetResponseTime"
            data: dict[str, Any] = {
                "target_group": tg.dim, "median_s": round(lat.median_s, 3),
                "mean_s": round(lat.mean_s, 3), "peak_s": round(lat.peak_s, 3),
                "traffic_s": got.covered_s}
            if not lat.high:
                yield passed(tg.arn, f"{head} median {lat.median_s:.2f} s, peak "
                             f"{lat.peak_s:.2f} s over {human_duration(got.covered_s)} with "
                             "traffic", service=arn, **data)
                continue
            by_abs = holds(lat.absolute)
            s, thr = ((lat.absolute, float(cfg["latency_s"])) if by_abs
                      else (lat.relative, lat.relative_threshold_s))
            what = f"{thr:.2f} s" + ("" if by_abs else
                                     f" ({cfg['latency_vs_median']:g}× its median)")
            yield failed(tg.arn, f"{head} above {what} for {human_duration(s.seconds_above)} "
                         f"({s.fraction:.0%} of the minutes with traffic), peak "
                         f"{lat.peak_s:.2f} s, median {lat.median_s:.2f} s", service=arn,
                         threshold_s=round(thr, 3), **data)


@check(id="target-5xx-rate-high", area="metrics", severity=Severity.HIGH,
       title="Targets answer 5xx for 5% or more of requests",
       needs=("services", "metrics"), docs=DOCS,
       emits=("error_rate", "errors", "requests", "target_group"))
def target_5xx_rate_high(facts: Facts, prior: Prior) -> Iterator[Result]:
    """HTTPCode_Target_5XX_Count is errors the tasks themselves returned (not the load
    balancer's own 502/503): relative to RequestCount, 5% or more over the window, or for
    a sustained stretch, means the application is failing requests."""
    min_requests = config()["min_requests"]
    for svc in sorted_services(facts):
        arn = str(svc.get("serviceArn"))
        for tg, req in _tg_series(facts, svc, "RequestCount", ("Sum",)):
            if not isinstance(req, Series):
                yield req
                continue
            head = f"service {service_label(svc)} {tg.dim}"
            err = elb_series(facts, tg, "HTTPCode_Target_5XX_Count", ("Sum",))
            if err is None:
                yield unknown(tg.arn, f"{head}: needs AWS/ApplicationELB "
                              "HTTPCode_Target_5XX_Count (Sum)", service=arn,
                              needs="HTTPCode_Target_5XX_Count")
                continue
            e = errors(req, err)
            data: dict[str, Any] = {"target_group": tg.dim, "errors": e.errors,
                                    "requests": e.requests, "error_rate": round(e.rate, 4)}
            text = f"{head}: 5xx {e.errors:,.0f} of {e.requests:,.0f} requests ({e.rate:.1%})"
            if e.requests < min_requests:
                yield skipped(tg.arn, f"{text}: too little traffic for a rate", service=arn,
                              **data)
            elif e.high:
                yield failed(tg.arn, text, service=arn, **data)
            else:
                yield passed(tg.arn, text, service=arn, **data)


@check(id="target-health-flapping", area="metrics", severity=Severity.MEDIUM,
       title="Targets flap between healthy and unhealthy",
       needs=("services", "metrics"), docs=DOCS,
       emits=("flaps", "peak_unhealthy", "target_group", "unhealthy_s"))
def target_health_flapping(facts: Facts, prior: Prior) -> Iterator[Result]:
    """UnHealthyHostCount going from 0 to above 0 again and again means tasks fail health
    checks and recover (or are replaced): health checks too strict or too early for the
    start-up time, or tasks that stall under load. Constantly unhealthy is another story
    (the load balancer cannot reach them) and does not count here."""
    for svc in sorted_services(facts):
        arn = str(svc.get("serviceArn"))
        for tg, got in _tg_series(facts, svc, "UnHealthyHostCount", ("Maximum", "Average")):
            if not isinstance(got, Series):
                yield got
                continue
            h = health(got)
            text = (f"service {service_label(svc)} {tg.dim}: UnHealthyHostCount rose from 0 "
                    f"{len(h.flaps)} times, unhealthy targets for "
                    f"{human_duration(h.unhealthy_s)} of {human_duration(got.covered_s)}, "
                    f"peak {h.peak:.0f}")
            data: dict[str, Any] = {
                "target_group": tg.dim, "flaps": [clock(t) for t in h.flaps],
                "unhealthy_s": h.unhealthy_s, "peak_unhealthy": h.peak}
            if h.flapping:
                yield failed(tg.arn, f"{text} (at {', '.join(data['flaps'])})", service=arn,
                             **data)
            else:
                yield passed(tg.arn, text, service=arn, **data)


# -- ALB idle timeout against the targets' keep-alive -----------------------------------------
IDLE_DOCS = ("https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
             "load-balancer-troubleshooting.html#http-502-issues")


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """An application server's keep-alive as the container starts it."""

    server: str
    seconds: float
    source: str  # "flag" (set on the command line or its variable) or "default"
    how: str  # `--keep-alive 75`, `default`


def _command_words(ctr: Item) -> list[str]:
    return [w for key in ("entryPoint", "command") for part in words(ctr, key)
            for w in part.split()]


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def keep_alive(ctr: Item) -> KeepAlive | None:
    """The keep-alive of the first recognised server (checks/data/keepalive.yaml), or None."""
    args = _command_words(ctr)
    names = {posixpath.basename(w).lower() for w in args}
    repo = image_repo(ctr.get("image")).lower().rsplit("/", 1)[-1]
    variables = dict(env(ctr))
    for server in table("keepalive")["servers"]:
        if not (names & {str(e) for e in server.get("executables") or []}
                or repo in {str(i) for i in server.get("images") or []}):
            continue
        flags = [str(f) for f in server.get("flags") or []]
        var = str(server.get("env") or "")
        extra = variables.get(str(server.get("env_args") or ""), "").split()
        value = flag_value(args + extra, *flags) if flags else None
        how = f"{flags[0]} {value}" if value is not None else ""
        if value is None and var in variables:
            value, how = variables[var], f"{var}={variables[var]}"
        seconds = _number(value)
        if seconds is not None:
            return KeepAlive(str(server["name"]), seconds, "flag", how)
        return KeepAlive(str(server["name"]), float(server["default_s"]), "default",
                         "its documented default")
    return None


def idle_timeout(facts: Facts, lb_arn: str) -> float | None:
    """The ALB's idle_timeout.timeout_seconds (absent from the answer: AWS's 60 s default);
    None when its attributes were not read."""
    item = facts.lookup("load_balancer_attributes", "LoadBalancerArn", lb_arn)
    if item is None:
        return None
    cfg = table("keepalive")["alb"]
    for attr in objs(item.get("Attributes")):
        if attr.get("Key") == cfg["attribute"]:
            return _number(str(attr.get("Value")))
    return float(cfg["default_s"])


def _elb_count(facts: Facts, lb_dim: str, name: str) -> float | None:
    """Sum of the ALB's own `name` (HTTPCode_ELB_502_Count) over the window; None when the
    bundle does not hold the metric."""
    if not facts.has(METRICS):
        return None
    got = find(facts, "AWS/ApplicationELB", name, {"LoadBalancer": lb_dim}, ("Sum",))
    return None if got is None else float(sum(got.values))


def _container(facts: Facts, svc: Item, name: str) -> Item | None:
    td = facts.task_definition(svc.get("taskDefinition"))
    for ctr in objs(obj(td).get("containerDefinitions")):
        if ctr.get("name") == name:
            return ctr
    return None


def _alb_entries(facts: Facts, svc: Item) -> Iterator[tuple[Item, Item]]:
    """(loadBalancers entry, ALB) for each Application Load Balancer in front of the service."""
    for entry in objs(svc.get("loadBalancers")):
        tg = facts.lookup("target_groups", "TargetGroupArn", entry.get("targetGroupArn"))
        for arn in strs(obj(tg).get("LoadBalancerArns")):
            lb = facts.lookup("load_balancers", "LoadBalancerArn", arn)
            if lb is not None and lb.get("Type", "application") == "application":
                yield entry, lb


@check(id="lb-idle-timeout-exceeds-keepalive", area="metrics", severity=Severity.MEDIUM,
       title="ALB idle timeout longer than the application's keep-alive (502s)",
       needs=("services", "task_definitions", "target_groups", "load_balancers",
              "load_balancer_attributes"), docs=IDLE_DOCS,
       emits=("container", "elb_502", "elb_504", "idle_timeout_s", "keepalive_s",
              "keepalive_source", "load_balancer", "server"))
def lb_idle_timeout_exceeds_keepalive(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The ALB reuses connections to a target for up to its idle timeout (60 s by default);
    a server that closes an idle connection sooner (gunicorn after 2 s, uvicorn, Node.js and
    Apache after 5 s, Puma after 20 s) races the ALB's next request on it, which gets a 502
    from the load balancer, not from the app: its logs show nothing. The target's keep-alive
    must be longer than the idle timeout. With the ALB's HTTPCode_ELB_502_Count above zero
    this is a finding; without 502s only a keep-alive set explicitly too short is (low),
    since a server's config file or code may change its default."""
    for svc in sorted_services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        entries = list(_alb_entries(facts, svc))
        if not entries:
            yield skipped(arn, f"service {label}: no Application Load Balancer in front of it",
                          service=arn)
        for entry, lb in entries:
            yield _keepalive_result(facts, svc, entry, lb)


def _keepalive_result(facts: Facts, svc: Item, entry: Item, lb: Item) -> Result:
    arn, lb_arn = str(svc.get("serviceArn")), str(lb.get("LoadBalancerArn"))
    lb_name = str(lb.get("LoadBalancerName") or lb_arn)
    head = f"service {service_label(svc)} behind {lb_name}"
    name = str(entry.get("containerName") or "")
    idle = idle_timeout(facts, lb_arn)
    dim = lb_arn.rsplit(":", 1)[-1].removeprefix("loadbalancer/")
    e502, e504 = (_elb_count(facts, dim, f"HTTPCode_ELB_{c}_Count") for c in (502, 504))
    data: dict[str, Any] = {"load_balancer": lb_name, "container": name, "idle_timeout_s": idle,
                            "elb_502": e502, "elb_504": e504}
    seen = (f"; the ALB answered {e502:,.0f} 502s" if e502 else "; no ELB 502s in the window"
            if e502 is not None else "; its 502 count was not collected")
    if idle is None:
        return unknown(lb_arn, f"{head}: its attributes (idle timeout) were not read",
                       service=arn, **data)
    ctr = _container(facts, svc, name)
    ka = keep_alive(ctr) if ctr is not None else None
    if ka is None:
        known = ", ".join(str(x["name"]) for x in table("keepalive")["servers"])
        text = (f"{head}: container {name} runs none of the servers whose keep-alive is known "
                f"({known}); it must exceed the idle timeout {idle:g} s")
        return (unknown if e502 else skipped)(lb_arn, text + seen, service=arn, **data)
    data.update(server=ka.server, keepalive_s=ka.seconds, keepalive_source=ka.source)
    what = f"{ka.server} in {name} keeps idle connections {ka.seconds:g} s ({ka.how})"
    if ka.seconds > idle:
        return passed(lb_arn, f"{head}: {what}, longer than the ALB idle timeout {idle:g} s"
                      + seen, service=arn, **data)
    text = (f"{head}: {what}, not longer than the ALB idle timeout {idle:g} s: the app closes "
            "connections the ALB still reuses")
    fix = (f" — set the keep-alive above {idle:g} s (e.g. {idle + 5:g} s) or lower the idle "
           "timeout below it")
    if e502:
        return failed(lb_arn, text + seen + ", the symptom of that race" + fix, service=arn,
                      **data)
    if ka.source == "flag":
        return failed(lb_arn, text + seen + " yet" + fix, service=arn, severity=Severity.LOW,
                      **data)
    return skipped(lb_arn, f"{head}: {what} (may be changed in a config file or code), the "
                   f"ALB idle timeout {idle:g} s" + seen, service=arn, **data)
