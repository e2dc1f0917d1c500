"""CloudWatch alarms on the scanned resources: the account's own symptoms, and its blind
spots.

An alarm in ALARM is a symptom the team already decided matters, with the time it fired
(``StateTransitionedTimestamp``): ``alarm-in-alarm-state`` reports it on the service it
watches (its ``ClusterName``/``ServiceName`` dimensions, or a target group of the service).
``service-no-alarms`` names the services nothing would page about: no alarm on CPU, memory,
5xx responses or unhealthy hosts (the last two only behind a load balancer), the signals
the ECS and ELB guides recommend alarming on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, objs
from checker.model import Result, Severity, failed, passed
from checker.registry import Prior, check
from checks.lib.labels import service_label

ALARMS_DOCS = ("https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/"
               "AlarmThatSendsEmail.html")
#: What "an alarm on X" means: the metric names that cover each signal.
SIGNALS: dict[str, frozenset[str]] = {
    "CPU": frozenset({"CPUUtilization", "CpuUtilized"}),
    "memory": frozenset({"MemoryUtilization", "MemoryUtilized"}),
    "5xx": frozenset({"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"}),
    "unhealthy hosts": frozenset({"UnHealthyHostCount", "HealthyHostCount"}),
}
LB_SIGNALS = frozenset({"5xx", "unhealthy hosts"})


def _dims(alarm: Item) -> list[dict[str, str]]:
    """The dimension sets of an alarm: its own, and those of a metric-math alarm's metrics."""
    out = [{str(d.get("Name")): str(d.get("Value")) for d in objs(alarm.get("Dimensions"))}]
    for query in objs(alarm.get("Metrics")):
        metric = (query.get("MetricStat") or {}).get("Metric") or {}
        out.append({str(d.get("Name")): str(d.get("Value"))
                    for d in objs(metric.get("Dimensions"))})
    return out


def _metric_names(alarm: Item) -> set[str]:
    names = {str(alarm.get("MetricName") or "")}
    for query in objs(alarm.get("Metrics")):
        metric = (query.get("MetricStat") or {}).get("Metric") or {}
        names.add(str(metric.get("MetricName") or ""))
    return names - {""}


def _target_groups(svc: Item) -> set[str]:
    """The ELB dimension value (``targetgroup/name/id``) of each target group of a service."""
    return {str(lb.get("targetGroupArn")).split(":", 5)[-1]
            for lb in objs(svc.get("loadBalancers")) if lb.get("targetGroupArn")}


def watches(alarm: Item, svc: Item, cluster: str) -> bool:
    """Whether the alarm is on this service: its ClusterName and ServiceName, or one of its
    target groups."""
    tgs = _target_groups(svc)
    for dims in _dims(alarm):
        if dims.get("ServiceName") == svc.get("serviceName") and dims.get("ClusterName") == cluster:
            return True
        if dims.get("TargetGroup") in tgs:
            return True
    return False


def _cluster(svc: Item) -> str:
    return str(svc.get("clusterArn") or "").rsplit("/", 1)[-1]


def _services_of(facts: Facts, alarm: Item) -> list[Item]:
    return [s for s in facts.services if watches(alarm, s, _cluster(s))]


@check(id="alarm-in-alarm-state", area="metrics", severity=Severity.HIGH,
       title="A CloudWatch alarm on a scanned resource is in ALARM",
       needs=("alarms", "services"), docs=ALARMS_DOCS,
       emits=("alarm", "metric", "namespace", "reason", "since", "state"))
def alarm_in_alarm_state(facts: Facts, prior: Prior) -> Iterator[Result]:
    """One result per alarm; in ALARM it is a symptom since its last transition. An alarm
    on a service (or its target group) is attributed to the service, so the playbooks see
    it beside the service's other evidence."""
    for alarm in sorted(facts.items("alarms"), key=lambda a: str(a.get("AlarmName"))):
        name, state = str(alarm.get("AlarmName")), str(alarm.get("StateValue"))
        arn = str(alarm.get("AlarmArn") or name)
        services = _services_of(facts, alarm)
        service = str(services[0]["serviceArn"]) if services else None
        on = f" on {service_label(services[0])}" if services else ""
        data: dict[str, Any] = {
            "alarm": name, "state": state, "metric": alarm.get("MetricName") or "(metric math)",
            "namespace": alarm.get("Namespace"),
            "since": alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp"),
            "reason": str(alarm.get("StateReason") or "")[:200]}
        if state == "ALARM":
            yield failed(arn, f"alarm {name}{on} in ALARM since {data['since']}: "
                         f"{data['reason']}", service=service, **data)
        else:
            yield passed(arn, f"alarm {name}{on} is {state}", service=service, **data)


@check(id="service-no-alarms", area="metrics", severity=Severity.LOW,
       title="Service has no alarm on CPU, memory, 5xx or unhealthy hosts",
       needs=("alarms", "services"), docs=ALARMS_DOCS,
       emits=("alarms", "cluster", "missing"))
def service_no_alarms(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A service nobody is paged about fails silently: each signal it lacks is named. The
    load balancer signals count only for a service behind one."""
    alarms = facts.items("alarms")
    for svc in sorted(facts.services, key=lambda s: str(s.get("serviceArn"))):
        arn, cluster = str(svc.get("serviceArn")), _cluster(svc)
        mine = [a for a in alarms if watches(a, svc, cluster)]
        covered = {signal for signal, names in SIGNALS.items()
                   for a in mine if _metric_names(a) & names}
        wanted = [s for s in SIGNALS if s not in LB_SIGNALS or _target_groups(svc)]
        missing = [s for s in wanted if s not in covered]
        data: dict[str, Any] = {"missing": missing, "cluster": cluster,
                                "alarms": sorted(str(a.get("AlarmName")) for a in mine)}
        if missing:
            yield failed(arn, f"service {service_label(svc)}: no alarm on "
                         f"{', '.join(missing)} ({len(mine)} alarm(s) on it)", service=arn,
                         **data)
        else:
            yield passed(arn, f"service {service_label(svc)}: alarms on "
                         f"{', '.join(wanted)}", service=arn, **data)
