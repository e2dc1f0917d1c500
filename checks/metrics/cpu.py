"""Checks on CloudWatch series: CPU, memory trend, CPU credits, NAT gateways, target groups.

Every judgement here is over time, measured on timestamps (a series holds one value per
`period` and datapoints go missing). A metric that is absent from the bundle is `unknown`
with what would be needed, never a pass: "no data" is not "no problem".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks import _metrics_hosts as hosts
from checks import _metrics_lb as lb
from checks import _metrics_memory as memory
from checks import _metrics_nat as nat
from checks.lib.knowledge import table
from checks.lib.labels import human_duration, service_label
from checks.lib.metric_refs import (
    desired_count,
    elb_series,
    find,
    holds,
    min_data_s,
    running_count,
    service_dims,
    sorted_services,
    target_groups_of,
)
from checks.lib.series import Series, Sustained, clock, sustained_above

ECS_METRICS_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cloudwatch-metrics.html"
ELB_DOCS = ("https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
            "load-balancer-cloudwatch-metrics.html")


def _cfg(section: str) -> Mapping[str, Any]:
    out: Mapping[str, Any] = table("metric_thresholds")[section]
    return out


def _service_series(facts: Facts, svc: Item, name: str,
                    stats: tuple[str, ...]) -> Series | Result:
    """The service's AWS/ECS series with enough data for a verdict, or the Result that
    says why there is none (nothing runs: skipped; not collected or too short: unknown)."""
    arn, label = str(svc.get("serviceArn")), service_label(svc)
    got = find(facts, "AWS/ECS", name, service_dims(svc), stats)
    if got is not None and got.covered_s >= min_data_s():
        return got
    if desired_count(svc) == 0 and running_count(svc) == 0:
        return skipped(arn, f"service {label}: desired count 0, nothing runs to measure",
                       service=arn)
    wanted = f"AWS/ECS {name} ({' or '.join(stats)})"
    if got is None:
        why = f"needs {wanted}; not in the bundle (metrics not collected for this service)"
    elif not len(got):
        why = (f"no {wanted} datapoint in the window: "
               + ("a service with no RUNNING task publishes nothing" if running_count(svc) == 0
                  else "the service published nothing (ECS agent too old on EC2?)"))
    else:
        why = (f"only {human_duration(got.covered_s)} of {wanted} data; a verdict needs "
               f"{human_duration(min_data_s())}")
    return unknown(arn, f"service {label}: {why}", service=arn, needs=wanted)


def _above_text(s: Sustained, threshold: float) -> str:
    longest = (f", longest {human_duration(s.longest.seconds)} from {clock(s.longest.start)}"
               if s.longest else "")
    return (f"≥ {threshold:g}% for {human_duration(s.seconds_above)} "
            f"({s.fraction:.0%} of the time with data){longest}")


@check(id="service-cpu-saturated", area="metrics", severity=Severity.HIGH,
       title="Service CPU at or above 90% for a sustained part of the window",
       needs=("services", "metrics"), docs=ECS_METRICS_DOCS)
def service_cpu_saturated(facts: Facts, prior: Prior) -> Iterator[Result]:
    """AWS/ECS CPUUtilization is the tasks' CPU use relative to the CPU units they reserve.
    Averaged over the tasks and held at 90% or more, every task is busy: requests queue,
    latency rises (shown from the target group when collected). Only the Maximum that high
    means one hot task: uneven load, reported at a lower severity."""
    threshold = float(_cfg("cpu_saturation")["threshold_pct"])
    for svc in sorted_services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        avg = _service_series(facts, svc, "CPUUtilization", ("Average",))
        mx = _service_series(facts, svc, "CPUUtilization", ("Maximum",))
        if not isinstance(avg, Series) and not isinstance(mx, Series):
            yield avg
            continue
        by_avg = sustained_above(avg, threshold) if isinstance(avg, Series) else None
        by_max = sustained_above(mx, threshold) if isinstance(mx, Series) else None
        lb_text, lb_data = lb.context(facts, svc)
        extra = f"; {lb_text}" if lb_text else ""
        common: dict[str, Any] = {"threshold_pct": threshold, "target_groups": lb_data}
        if by_avg is not None and holds(by_avg):
            yield failed(arn, f"service {label}: CPUUtilization (Average of its tasks) "
                         f"{_above_text(by_avg, threshold)}, peak {by_avg.peak:.0f}%{extra}",
                         stat="Average", seconds_above=by_avg.seconds_above,
                         fraction=round(by_avg.fraction, 3),
                         affected_tasks=running_count(svc), service=arn, **common)
        elif by_max is not None and holds(by_max):
            uneven = by_avg is not None  # the Average was measured and stayed lower
            yield failed(arn, f"service {label}: at least one task's CPUUtilization (Maximum) "
                         f"{_above_text(by_max, threshold)}" + (
                             " while the average stays lower: load is uneven" if uneven
                             else " (no Average series: one task or all of them)") + extra,
                         severity=Severity.MEDIUM if uneven else None, stat="Maximum",
                         seconds_above=by_max.seconds_above, fraction=round(by_max.fraction, 3),
                         affected_tasks=1, service=arn, **common)
        else:
            seen = by_avg or by_max
            assert seen is not None
            above = (f"≥ {threshold:g}% for {human_duration(seen.seconds_above)} only (not "
                     "sustained)" if seen.seconds_above else f"never ≥ {threshold:g}%")
            yield passed(arn, f"service {label}: CPUUtilization peak {seen.peak:.0f}%, "
                         f"{above}{extra}", peak_pct=seen.peak, service=arn, **common)


@check(id="memory-trend-rising", area="metrics", severity=Severity.HIGH,
       title="Service memory climbs steadily across task lifetimes (leak)",
       needs=("services", "metrics"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/memory-management.html")
def memory_trend_rising(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A leak is memory that grows with time, not with load: MemoryUtilization climbs
    while a task lives, falls when the OOM killer or a restart replaces it, and climbs
    again. Each lifetime is fitted separately (least squares on timestamps); most of them
    rising with a good fit is a leak, and the last one gives the time left. When the climb
    begins at a deployment, the revision deployed is named."""
    for svc in sorted_services(facts):
        got = _service_series(facts, svc, "MemoryUtilization", ("Maximum", "Average"))
        yield memory.result(svc, got) if isinstance(got, Series) else got


@check(id="cpu-credits-exhausted", area="metrics", severity=Severity.HIGH,
       title="Burstable container instances out of CPU credits, held at baseline",
       needs=("container_instances", "metrics"),
       docs="https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html")
def cpu_credits_exhausted(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A T2/T3/T4g host in standard mode with no credits left runs at its baseline
    (CPUUtilization flattens at e.g. 20% on a t3.medium), so every task on it slows down
    although nothing in ECS changes. Needs the instance type (ec2_instances or the
    ecs.instance-type attribute) and reads the credit mode from credit_specifications,
    else assumes the family's launch default. Also emits one result per service placed
    on the judged hosts (from tasks)."""
    throttled: dict[str, hosts.Host] = {}
    judged: set[str] = set()
    for host in hosts.hosts(facts):
        if not isinstance(host, hosts.Host):
            yield host
            continue
        result, hit = hosts.host_result(facts, host)
        yield result
        arn = str(host.ci.get("containerInstanceArn"))
        if result.status.value in ("pass", "fail"):
            judged.add(arn)
        if hit:
            throttled[arn] = host
    yield from hosts.by_service(facts, throttled, judged)


@check(id="cpu-surplus-credits-charged", area="metrics", severity=Severity.LOW,
       title="Unlimited-mode burstable instances accumulate surplus CPU credits (billed)",
       needs=("container_instances", "metrics"),
       docs="https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-unlimited-mode-concepts.html")
def cpu_surplus_credits_charged(facts: Facts, prior: Prior) -> Iterator[Result]:
    """In unlimited mode a host that keeps running above baseline is never throttled: it
    borrows surplus credits, which are billed when not paid back. A growing
    CPUSurplusCreditBalance means the host is undersized for its tasks: a cost finding,
    and the reason cpu-credits-exhausted does not fire for it."""
    growth = float(hosts.config()["surplus_growth"])
    for host in hosts.hosts(facts):
        if not isinstance(host, hosts.Host):
            yield host
            continue
        if host.mode != "unlimited":
            yield skipped(host.instance_id, f"{host.label}: no surplus credits in standard mode")
            continue
        s = hosts.surplus(facts, host)
        if s is None or not len(s):
            yield unknown(host.instance_id, f"{host.label}: needs AWS/EC2 "
                          "CPUSurplusCreditBalance (Maximum)", needs="CPUSurplusCreditBalance")
            continue
        grew = s.values[-1] - s.values[0]
        data = {"surplus_start": s.values[0], "surplus_end": s.values[-1],
                "baseline_pct": host.facts["baseline_pct"]}
        if grew >= growth and s.values[-1] > 0:
            yield failed(host.instance_id, f"{host.label}: CPUSurplusCreditBalance grew from "
                         f"{s.values[0]:.0f} to {s.values[-1]:.0f} over "
                         f"{human_duration(s.span_s)}: it runs above its "
                         f"{host.facts['baseline_pct']}% baseline and pays for surplus credits",
                         **data)
        else:
            yield passed(host.instance_id, f"{host.label}: CPUSurplusCreditBalance "
                         f"{s.values[-1]:.0f}, not growing", **data)


@check(id="nat-gateway-port-exhaustion", area="metrics", severity=Severity.HIGH,
       title="NAT gateway out of source ports or near 55,000 connections per address",
       needs=("nat_gateways", "metrics"),
       docs="https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html")
def nat_gateway_port_exhaustion(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A NAT gateway address holds 55,000 simultaneous connections per destination;
    ErrorPortAllocation > 0 means connections were refused for lack of ports. Tasks
    behind it see connect timeouts to one endpoint while the rest of the VPC looks fine.
    Services are found through the route table of their subnets (route_tables, services,
    subnets for the main-table fallback, when collected)."""
    yield from nat.results(facts, nat.exhaustion, "port allocation and connection count")


@check(id="nat-gateway-dropping-connections", area="metrics", severity=Severity.MEDIUM,
       title="NAT gateway drops packets or leaves connection attempts unanswered",
       needs=("nat_gateways", "metrics"),
       docs="https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html")
def nat_gateway_dropping_connections(facts: Facts, prior: Prior) -> Iterator[Result]:
    """PacketsDropCount above 0.01% of the traffic, or far fewer established connections
    than attempts, is what a saturated NAT gateway looks like from the other side: it
    supports port exhaustion, and alone points at the destination or a NAT-side issue."""
    yield from nat.results(facts, nat.drops, "drops and connection attempts")


def _tg_series(facts: Facts, svc: Item, name: str,
               stats: tuple[str, ...]) -> Iterator[tuple[Any, Series | Result]]:
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
       needs=("services", "metrics"), docs=ELB_DOCS)
def target_response_time_high(facts: Facts, prior: Prior) -> Iterator[Result]:
    """What users feel: TargetResponseTime above 1 s, or above three times its own median,
    for a sustained part of the minutes that had traffic. Minutes without requests have no
    datapoint and are not counted as fast. Evidence that tasks are saturated or starved."""
    cfg = lb.config()
    for svc in sorted_services(facts):
        arn = str(svc.get("serviceArn"))
        for tg, got in _tg_series(facts, svc, "TargetResponseTime", ("Average",)):
            if not isinstance(got, Series):
                yield got
                continue
            lat = lb.latency(got)
            head = f"service {service_label(svc)} {tg.dim}: TargetResponseTime"
            data = {"target_group": tg.dim, "median_s": round(lat.median_s, 3),
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
       needs=("services", "metrics"), docs=ELB_DOCS)
def target_5xx_rate_high(facts: Facts, prior: Prior) -> Iterator[Result]:
    """HTTPCode_Target_5XX_Count is errors the tasks themselves returned (not the load
    balancer's own 502/503): relative to RequestCount, 5% or more over the window, or for
    a sustained stretch, means the application is failing requests."""
    min_requests = lb.config()["min_requests"]
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
            e = lb.errors(req, err)
            data = {"target_group": tg.dim, "errors": e.errors, "requests": e.requests,
                    "error_rate": round(e.rate, 4)}
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
       needs=("services", "metrics"), docs=ELB_DOCS)
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
            h = lb.health(got)
            text = (f"service {service_label(svc)} {tg.dim}: UnHealthyHostCount rose from 0 "
                    f"{len(h.flaps)} times, unhealthy targets for "
                    f"{human_duration(h.unhealthy_s)} of {human_duration(got.covered_s)}, "
                    f"peak {h.peak:.0f}")
            data = {"target_group": tg.dim, "flaps": [clock(t) for t in h.flaps],
                    "unhealthy_s": h.unhealthy_s, "peak_unhealthy": h.peak}
            if h.flapping:
                yield failed(tg.arn, f"{text} (at {', '.join(data['flaps'])})", service=arn,
                             **data)
            else:
                yield passed(tg.arn, text, service=arn, **data)
