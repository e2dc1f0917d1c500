"""Burstable container instances: out of CPU credits (throttled) or paying for surplus.

A T2/T3/T4g host in standard mode that has spent its CPU credits is held at its baseline
(20% per vCPU for a t3.medium): CPUCreditBalance sits at ~0 and CPUUtilization flattens at
exactly that baseline. Every task on the host slows down although the service's own
CPUUtilization (relative to its reservation) may look moderate.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.hosts import instance_type_name
from checks.lib.knowledge import burstable
from checks.lib.labels import human_duration, service_label
from checks.lib.metric_refs import find, tasks_by_instance, thresholds
from checks.lib.series import Run, Series, clock, near, runs


def config() -> Mapping[str, Any]:
    return thresholds("cpu_credits")


@dataclass(frozen=True, slots=True)
class Host:
    ci: Item
    instance_id: str
    type_name: str
    facts: Mapping[str, Any]  # burstable(type)
    mode: str
    mode_known: bool  # from DescribeInstanceCreditSpecifications, not the default

    @property
    def label(self) -> str:
        return f"instance {self.instance_id} ({self.type_name}, {self.mode} mode" + (
            ")" if self.mode_known else ", assumed default)")


def _mode(facts: Facts, instance_id: str, default: str) -> tuple[str, bool]:
    if facts.has("credit_specifications"):
        spec = facts.lookup("credit_specifications", "InstanceId", instance_id)
        if spec and spec.get("CpuCredits") in ("standard", "unlimited"):
            return str(spec["CpuCredits"]), True
    return default, False


def hosts(facts: Facts) -> Iterator[Host | Result]:
    """Each container instance as a burstable Host, or the Result saying why it is not
    one (not burstable: skipped; type unknown: unknown)."""
    for ci in sorted(facts.container_instances, key=lambda c: str(c.get(
            "containerInstanceArn"))):
        arn = str(ci.get("containerInstanceArn"))
        instance_id = str(ci.get("ec2InstanceId") or "")
        type_name = instance_type_name(facts, ci)
        if not instance_id:
            yield skipped(arn, f"container instance {arn}: no EC2 instance (external or "
                          "Fargate capacity), no CPU credits")
        elif type_name is None:
            yield unknown(instance_id, f"instance {instance_id}: instance type unknown; needs "
                          "ec2_instances or the ecs.instance-type attribute",
                          container_instance=arn)
        elif (info := burstable(type_name)) is None:
            yield skipped(instance_id, f"instance {instance_id} ({type_name}): not a "
                          "burstable type, no CPU credits", container_instance=arn)
        else:
            mode, known = _mode(facts, instance_id, str(info["default_mode"]))
            yield Host(ci, instance_id, type_name, info, mode, known)


@dataclass(frozen=True, slots=True)
class Credits:
    balance: Series
    cpu: Series | None
    near_zero: float
    exhausted: tuple[Run, ...]
    cpu_during: Series | None  # CPU points inside the exhausted runs

    @property
    def exhausted_s(self) -> float:
        return sum(r.seconds for r in self.exhausted)

    def tolerance(self, baseline: float) -> float:
        cfg = config()
        return max(float(cfg["abs_tolerance"]), float(cfg["rel_tolerance"]) * baseline)

    def flat_share(self, baseline: float) -> float | None:
        if self.cpu_during is None or not len(self.cpu_during):
            return None
        return near(self.cpu_during, baseline, self.tolerance(baseline))

    def cpu_median_during(self) -> float | None:
        if self.cpu_during is None or not len(self.cpu_during):
            return None
        return statistics.median(self.cpu_during.values)


def credits(facts: Facts, host: Host) -> Credits | str:
    """The credit picture of a host, or why it cannot be drawn (the missing metric)."""
    dims = {"InstanceId": host.instance_id}
    balance = find(facts, "AWS/EC2", "CPUCreditBalance", dims, ("Minimum", "Average"))
    if balance is None:
        return "needs AWS/EC2 CPUCreditBalance (Minimum or Average)"
    if not len(balance):
        return "no AWS/EC2 CPUCreditBalance datapoint in the window (instance stopped?)"
    cpu = find(facts, "AWS/EC2", "CPUUtilization", dims, ("Average", "Maximum"))
    near_zero = max(1.0, float(config()["near_zero_fraction"]) * float(
        host.facts["max_credits"]))
    exhausted = tuple(runs(balance, lambda v: v <= near_zero))
    during: Series | None = None
    if cpu is not None:
        keep = [i for i, t in enumerate(cpu.times)
                if any(r.start <= t < r.end for r in exhausted)]
        during = Series(tuple(cpu.times[i] for i in keep), tuple(cpu.values[i] for i in keep),
                        cpu.period, cpu.stat)
    return Credits(balance, cpu, near_zero, exhausted, during)


def surplus(facts: Facts, host: Host) -> Series | None:
    return find(facts, "AWS/EC2", "CPUSurplusCreditBalance", {"InstanceId": host.instance_id},
                ("Maximum", "Average"))


def host_result(facts: Facts, host: Host) -> tuple[Result, bool]:
    """The host's verdict and whether it is throttled (out of credits in standard mode)."""
    arn = str(host.ci.get("containerInstanceArn"))
    extra: dict[str, Any] = {"container_instance": arn, "instance_type": host.type_name,
                             "mode": host.mode}
    if host.mode != "standard":
        return passed(host.instance_id, f"{host.label}: never held at baseline (surplus "
                      "credits are billed instead)", **extra), False
    got = credits(facts, host)
    if isinstance(got, str):
        return unknown(host.instance_id, f"{host.label}: {got}", **extra), False
    baseline = float(host.facts["baseline_pct"])
    extra.update(baseline_pct=baseline, min_balance=min(got.balance.values),
                 exhausted_s=got.exhausted_s)
    if got.exhausted_s < float(thresholds("sustained")["min_run_minutes"]) * 60:
        return passed(host.instance_id, f"{host.label}: CPUCreditBalance min "
                      f"{min(got.balance.values):.0f} of max {host.facts['max_credits']}, never "
                      "~0 for long", **extra), False
    first = got.exhausted[0]
    zero = (f"CPUCreditBalance ~0 (≤ {got.near_zero:.1f}) for "
            f"{human_duration(got.exhausted_s)} from {clock(first.start)}")
    share, med = got.flat_share(baseline), got.cpu_median_during()
    if share is None:
        return failed(host.instance_id, f"{host.label}: {zero}; no AWS/EC2 CPUUtilization to "
                      "show the plateau, but standard mode at 0 credits is held at "
                      f"{baseline:g}%", **extra), True
    extra.update(cpu_median_pct=med, flat_share=round(share, 3))
    if share >= float(config()["flat_share"]):
        return failed(host.instance_id, f"{host.label}: {zero} while CPUUtilization flattens "
                      f"at {med:.0f}% = the {host.type_name} baseline {baseline:g}%: throttled",
                      **extra), True
    return passed(host.instance_id, f"{host.label}: {zero} but CPUUtilization (median "
                  f"{med:.0f}%) is not held at the {baseline:g}% baseline: credits are "
                  "accruing, not limiting", **extra), False


def by_service(facts: Facts, throttled: dict[str, Host],
               judged: set[str]) -> Iterator[Result]:
    """One result per service with tasks on judged hosts, so playbooks can correlate."""
    per_service: dict[str, tuple[int, int, list[str]]] = {}
    for ci_arn, services in tasks_by_instance(facts).items():
        if ci_arn not in judged:
            continue
        for svc_arn, tasks in services.items():
            total, hit, where = per_service.get(svc_arn, (0, 0, []))
            host = throttled.get(ci_arn)
            if host is not None:
                where = [*where, f"{host.instance_id} ({host.type_name})"]
            per_service[svc_arn] = (total + len(tasks), hit + (len(tasks) if host else 0), where)
    for svc_arn, (total, hit, where) in sorted(per_service.items()):
        svc = facts.service_of_arn(svc_arn)
        label = service_label(svc) if svc else svc_arn
        if hit:
            yield failed(svc_arn, f"service {label}: {hit} of its {total} running tasks on "
                         "burstable instances run on hosts out of CPU credits, held at "
                         f"baseline: {', '.join(sorted(set(where)))}", service=svc_arn,
                         affected_tasks=hit, instances=sorted(set(where)))
        else:
            yield passed(svc_arn, f"service {label}: the hosts of its {total} running "
                         f"task{'s' if total > 1 else ''} on burstable instances have CPU credits",
                         service=svc_arn)


@check(id="cpu-credits-exhausted", area="metrics", severity=Severity.HIGH,
       title="Burstable container instances out of CPU credits, held at baseline",
       needs=("container_instances", "metrics"),
       docs="https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html",
       emits={"affected_tasks": None, "baseline_pct": None, "container_instance": None,
              "cpu_median_pct": None, "exhausted_s": None, "flat_share": None,
              "instance_type": None, "instances": None, "min_balance": None,
              "mode": ("standard", "unlimited")})
def cpu_credits_exhausted(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A T2/T3/T4g host in standard mode with no credits left runs at its baseline
    (CPUUtilization flattens at e.g. 20% on a t3.medium), so every task on it slows down
    although nothing in ECS changes. Needs the instance type (ec2_instances or the
    ecs.instance-type attribute) and reads the credit mode from credit_specifications,
    else assumes the family's launch default. Also emits one result per service placed
    on the judged hosts (from tasks)."""
    throttled: dict[str, Host] = {}
    judged: set[str] = set()
    for host in hosts(facts):
        if not isinstance(host, Host):
            yield host
            continue
        result, hit = host_result(facts, host)
        yield result
        arn = str(host.ci.get("containerInstanceArn"))
        if result.status.value in ("pass", "fail"):
            judged.add(arn)
        if hit:
            throttled[arn] = host
    yield from by_service(facts, throttled, judged)


@check(id="cpu-surplus-credits-charged", area="metrics", severity=Severity.LOW,
       title="Unlimited-mode burstable instances accumulate surplus CPU credits (billed)",
       needs=("container_instances", "metrics"),
       docs="https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances-unlimited-mode-concepts.html",
       emits=("baseline_pct", "container_instance", "surplus_end", "surplus_start"))
def cpu_surplus_credits_charged(facts: Facts, prior: Prior) -> Iterator[Result]:
    """In unlimited mode a host that keeps running above baseline is never throttled: it
    borrows surplus credits, which are billed when not paid back. A growing
    CPUSurplusCreditBalance means the host is undersized for its tasks: a cost finding,
    and the reason cpu-credits-exhausted does not fire for it."""
    growth = float(config()["surplus_growth"])
    for host in hosts(facts):
        if not isinstance(host, Host):
            yield host
            continue
        if host.mode != "unlimited":
            yield skipped(host.instance_id, f"{host.label}: no surplus credits in standard mode")
            continue
        s = surplus(facts, host)
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
