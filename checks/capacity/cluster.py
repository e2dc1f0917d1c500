"""How full a cluster is, whether its capacity grows when tasks cannot be placed, and
whether the cluster records what its tasks use (Container Insights)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, arn_name, obj, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.hosts import Host, hosts_by_cluster

#: Reserved share of registered CPU or memory from which new tasks start failing to place
#: in practice (what is left is usually split across instances): evidence, not a verdict.
RESERVATION_HIGH_PCT = 90.0


def _pct(registered: int, free: int) -> float:
    return round(100.0 * (registered - free) / registered, 1) if registered else 0.0


def _host_row(h: Host) -> dict[str, Any]:
    return {"instance": h.instance_id, "arn": h.arn, "type": h.instance_type,
            "cpu_registered": h.cpu_registered, "cpu_free": h.cpu_free,
            "memory_registered": h.mem_registered, "memory_free": h.mem_free,
            "ports_used": sorted(h.tcp_used), "udp_ports_used": sorted(h.udp_used)}


@check(id="cluster-reservation-high", area="capacity", severity=Severity.MEDIUM,
       title="Cluster CPU or memory is almost fully reserved",
       needs=("clusters", "container_instances"),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cloudwatch-metrics.html",
       emits=("cluster", "cpu_free", "cpu_registered", "cpu_reserved_pct", "instances",
              "memory_free", "memory_registered", "memory_reserved_pct", "unusable_instances",
              "usable_instances"))
def cluster_reservation_high(facts: Facts, prior: Prior) -> Iterator[Result]:
    """CPUReservation/MemoryReservation near 100% mean the next task (a deployment's extra
    copies, a scale-out) has nowhere to go: supporting evidence for insufficient capacity.
    Computed from the instances themselves, so it needs no CloudWatch; per-instance
    registered/remaining CPU, memory and ports are in the data."""
    by_cluster = hosts_by_cluster(facts)
    for cluster in sorted(facts.clusters, key=lambda c: str(c.get("clusterArn"))):
        arn = str(cluster.get("clusterArn") or cluster.get("clusterName"))
        name = arn_name(arn)
        every = by_cluster.get(name, [])
        usable = [h for h in every if h.usable]
        if not usable:
            yield skipped(arn, f"cluster {name}: no ACTIVE container instance with a connected "
                          f"agent ({len(every)} registered)", instances=len(every))
            continue
        if any(None in (h.cpu_registered, h.cpu_free, h.mem_registered, h.mem_free)
               for h in usable):
            yield unknown(arn, f"cluster {name}: registered/remaining CPU or MEMORY missing on "
                          "some container instance", cluster=name)
            continue
        cpu_reg = sum(h.cpu_registered or 0 for h in usable)
        cpu_free = sum(h.cpu_free or 0 for h in usable)
        mem_reg = sum(h.mem_registered or 0 for h in usable)
        mem_free = sum(h.mem_free or 0 for h in usable)
        cpu_pct, mem_pct = _pct(cpu_reg, cpu_free), _pct(mem_reg, mem_free)
        text = (f"cluster {name}: CPU {cpu_pct:g}% reserved ({cpu_reg - cpu_free} of {cpu_reg} "
                f"units), memory {mem_pct:g}% reserved ({mem_reg - mem_free} of {mem_reg} MiB) "
                f"on {len(usable)} usable instances")
        data: dict[str, Any] = {
            "cpu_reserved_pct": cpu_pct, "memory_reserved_pct": mem_pct,
            "cpu_registered": cpu_reg, "cpu_free": cpu_free, "memory_registered": mem_reg,
            "memory_free": mem_free, "usable_instances": len(usable),
            "unusable_instances": len(every) - len(usable),
            "instances": [_host_row(h) for h in every], "cluster": name}
        if max(cpu_pct, mem_pct) >= RESERVATION_HIGH_PCT:
            yield failed(arn, f"{text} — at or above {RESERVATION_HIGH_PCT:g}%", **data)
        else:
            yield passed(arn, text, **data)



@check(id="capacity-provider-no-managed-scaling", area="capacity", severity=Severity.MEDIUM,
       title="Auto Scaling group capacity provider without managed scaling",
       needs=("capacity_providers",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-auto-scaling.html",
       emits=("auto_scaling_group", "managed_scaling", "target_capacity"))
def capacity_provider_no_managed_scaling(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without managed scaling, nothing grows the Auto Scaling group when tasks cannot be
    placed: they stay PROVISIONING/unplaced until someone scales the group by hand. It
    supports insufficient-capacity diagnoses (why capacity did not follow demand)."""
    for cp in sorted(facts.items("capacity_providers"), key=lambda c: str(c.get("name"))):
        arn = str(cp.get("capacityProviderArn") or cp.get("name"))
        name = cp.get("name", arn_name(arn))
        asg = cp.get("autoScalingGroupProvider")
        if not isinstance(asg, dict) or cp.get("status") == "INACTIVE":
            yield skipped(arn, f"capacity provider {name}: not an active Auto Scaling group "
                          "provider (Fargate or managed instances scale themselves)")
            continue
        scaling = obj(asg.get("managedScaling"))
        status = str(scaling.get("status") or "DISABLED")
        data: dict[str, Any] = {
            "auto_scaling_group": arn_name(str(asg.get("autoScalingGroupArn", ""))),
            "managed_scaling": status, "target_capacity": scaling.get("targetCapacity")}
        if status == "ENABLED":
            yield passed(arn, f"capacity provider {name}: managed scaling ENABLED, target "
                         f"capacity {scaling.get('targetCapacity', '?')}%", **data)
        else:
            yield failed(arn, f"capacity provider {name}: managed scaling {status} — the Auto "
                         f"Scaling group {data['auto_scaling_group'] or '?'} does not grow "
                         "when tasks cannot be placed", **data)


#: containerInsights values that turn it on: `enhanced` adds per-task and per-container
#: metrics to the `enabled` ones (as Prowler's ecs_cluster_container_insights_enabled reads
#: them: https://github.com/prowler-cloud/prowler/tree/master/prowler/providers/aws/services/ecs).
#: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ClusterSetting.html
INSIGHTS_ON = frozenset({"enabled", "enhanced"})
INSIGHTS_DOCS = ("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
                 "cloudwatch-container-insights.html")


def _insights_setting(settings: object) -> str | None:
    """The containerInsights value of a cluster's `settings` or of the account settings."""
    values = [str(s.get("value") or "").lower() for s in objs(settings)
              if s.get("name") == "containerInsights"]
    return values[0] if values else None


def _account_insights(facts: Facts) -> str | None:
    """The account's containerInsights default as the scan's principal sees it (the root
    principal's when several are listed), or None when not collected or not set."""
    if not facts.has("account_settings"):
        return None
    rows = sorted(facts.items("account_settings"),
                  key=lambda s: not str(s.get("principalArn", "")).endswith(":root"))
    return _insights_setting(rows)


@check(id="cluster-container-insights-off", area="capacity", severity=Severity.LOW,
       title="Container Insights is off for the cluster", needs=("clusters",),
       docs=INSIGHTS_DOCS, emits=("cluster", "container_insights", "setting_source"))
def cluster_container_insights_off(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without Container Insights there are no task counts over time, no per-task CPU and
    memory, no restart counts: a task that crashed an hour ago leaves no trace but its
    stop reason, and capacity problems cannot be dated. The cluster's own setting decides
    (`enabled` or `enhanced` is on); when the bundle has none for a cluster, the account
    default read with the account settings stands in for it (it is what a cluster created
    without the setting got), and without either the cluster is off, as AWS's default."""
    account = _account_insights(facts)
    for cluster in sorted(facts.clusters, key=lambda c: str(c.get("clusterArn"))):
        arn = str(cluster.get("clusterArn") or cluster.get("clusterName"))
        name = str(cluster.get("clusterName") or arn_name(arn))
        value, source = _cluster_insights(cluster, account)
        data: dict[str, Any] = {"cluster": name, "container_insights": value or "unset",
                                "setting_source": source}
        where = "account default" if source == "account" else "cluster setting"
        if value not in INSIGHTS_ON and _idle(facts, cluster):
            yield skipped(arn, f"cluster {name}: runs no service and no task — Container "
                          "Insights would have nothing to record yet", **data)
            continue
        if value in INSIGHTS_ON:
            yield passed(arn, f"cluster {name}: Container Insights {value} ({where})", **data)
            continue
        shown = f"{value} ({where})" if value else "not set (off by default)"
        yield failed(arn, f"cluster {name}: Container Insights {shown} — no per-task CPU, "
                     "memory or task-count history; turn it on with aws ecs "
                     f"update-cluster-settings --cluster {name} "
                     "--settings name=containerInsights,value=enhanced", **data)


def _idle(facts: Facts, cluster: Item) -> bool:
    """An empty cluster has nothing to observe: failing it would make every freshly created
    or drained cluster a finding. Empty means DescribeClusters' counts are all zero (counts
    the bundle does not carry are not read as zero) and no service or task the scan read
    belongs to it (the counts lag, and emulators leave them at zero)."""
    counts = [cluster.get(k) for k in ("activeServicesCount", "runningTasksCount",
                                       "pendingTasksCount")]
    if not all(c == 0 for c in counts):
        return False
    arn = cluster.get("clusterArn")
    kinds = ("services", "tasks")
    return all(facts.has(k) for k in kinds) and not any(
        i.get("clusterArn") == arn for k in kinds for i in facts.items(k))


def _cluster_insights(cluster: Item, account: str | None) -> tuple[str | None, str]:
    own = _insights_setting(cluster.get("settings"))
    if own is not None:
        return own, "cluster"
    if account is not None:
        return account, "account"
    return None, "none"
