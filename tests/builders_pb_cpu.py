"""Bundles for the high-cpu and cpu-credits playbook tests: one story per helper.

A story is a service with its CloudWatch series (AWS/ECS CPU, the target group's latency
and traffic), its scaling set-up and, on EC2, the container instances it runs on. Every
item comes from the shape-validated area builders; the checks that read them run for real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests import builders as b
from tests import builders_hosts as h
from tests import builders_metrics as m
from tests import builders_service as s

#: AWS/ECS CPUUtilization: ~55% for 3 h, then ~95% for 5 h (the last points are hot).
HOT = m.noisy(m.steps(8, 300, [(0, 55), (3, 95)]), 2.0)
CALM = m.noisy(m.flat(8, 300, 45), 4.0)
PINNED = m.noisy(m.flat(8, 300, 97), 1.0)
#: TargetResponseTime (s) at 60 s: slow (~1.8 s) or fast (~120 ms).
SLOW = m.noisy(m.flat(8, 60, 1.8), 0.2)
FAST = m.noisy(m.flat(8, 60, 0.12), 0.01)
#: A t3.medium's CPUCreditBalance draining to ~0 from 3h45m on, while the host's
#: CPUUtilization flattens at its 20% baseline.
DRAINING: m.Values = [max(0.0, 300 - 80 * hour) for hour in m.grid(8, 300)]
AT_BASELINE = m.noisy([55 if hour < 3.75 else 20 for hour in m.grid(8, 300)], 1.0)
FULL: m.Values = m.flat(8, 300, 500)


@dataclass
class Story:
    """One service and what the bundle holds about it."""

    service: dict[str, Any]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.service["serviceName"])

    @property
    def arn(self) -> str:
        return str(self.service["serviceArn"])


def scaling(name: str, kind: str, desired: int) -> dict[str, list[dict[str, Any]]]:
    """Application Auto Scaling set-up: `policy` (1–10 tasks, CPU target 60%, 60 s
    cooldown), `none`, `at-max` (MaxCapacity = desired) or `slow` (900 s cooldown)."""
    if kind == "none":
        return {"scalable_targets": [], "scaling_policies": []}
    top = desired if kind == "at-max" else 10
    cooldown = 900 if kind == "slow" else 60
    return {"scalable_targets": [s.scalable_target(name, max_capacity=top)],
            "scaling_policies": [s.target_tracking(name, scale_out_cooldown=cooldown)]}


def lb_series(name: str, latency: m.Values) -> list[dict[str, Any]]:
    """The target group's response time, with 500 requests a minute and no 5xx."""
    return [m.alb(name, "TargetResponseTime", "Average", latency),
            m.alb(name, "RequestCount", "Sum", m.flat(8, 60, 500)),
            m.alb(name, "HTTPCode_Target_5XX_Count", "Sum", m.flat(8, 60, 0))]


def story(name: str = "web", *, avg: m.Values | None = HOT, mx: m.Values | None = None,
          latency: m.Values | None = SLOW, scale: str = "policy", desired: int = 2,
          **svc: Any) -> Story:
    """A load-balanced service with its CPU series (Average, and Maximum when given), the
    target group's latency (None: no load balancer) and its scaling set-up."""
    service = (m.lb_service(name, desired=desired, **svc) if latency is not None
               else b.service(name, desired=desired, **svc))
    metrics = [m.ecs(name, "CPUUtilization", stat, values)
               for stat, values in (("Average", avg), ("Maximum", mx)) if values is not None]
    resources = scaling(name, scale, desired)
    if latency is not None:
        metrics += lb_series(name, latency)
        resources["target_groups"] = [m.target_group(name)]
    return Story(service, metrics, resources)


def ec2_story(name: str, hosts: dict[str, int], **kw: Any) -> Story:
    """`story` on the EC2 launch type with `hosts[instance]` RUNNING tasks on each
    instance (placed with builders_hosts, so their ARNs match the instances')."""
    desired = sum(hosts.values())
    st = story(name, desired=desired, launchType="EC2", **kw)
    st.resources["tasks"] = [h.placed_task(name, i) for i, n in hosts.items()
                             for _ in range(n)]
    return st


def burstable_hosts(modes: dict[str, str], throttled: set[str]) -> dict[str, list[Any]]:
    """t3.medium container instances in the given credit modes; the `throttled` ones
    drain their credits to ~0 and flatten at the 20% baseline, the others keep 500."""
    return {
        "container_instances": [h.container_instance(i, instance_type="t3.medium", cpu=2048,
                                                     memory=3928, running=1)
                                for i in modes],
        "credit_specifications": [h.credit_spec(i, mode) for i, mode in modes.items()],
        "metrics": [series for i in modes for series in (
            m.ec2(i, "CPUCreditBalance", "Minimum", DRAINING if i in throttled else FULL),
            m.ec2(i, "CPUUtilization", "Average",
                  AT_BASELINE if i in throttled else m.noisy(m.flat(8, 300, 30), 2.0)))],
    }


def bundle_of(*stories: Story, **extra: list[dict[str, Any]]) -> dict[str, Any]:
    """One bundle holding every story (lists of the same collection are concatenated)
    and the extra collections; `metrics=[...]` adds series."""
    resources: dict[str, list[dict[str, Any]]] = {}
    metrics: list[dict[str, Any]] = list(extra.pop("metrics", []))
    for st in stories:
        metrics += st.metrics
        for key, items in st.resources.items():
            resources.setdefault(key, []).extend(items)
    for key, items in extra.items():
        resources.setdefault(key, []).extend(items)
    resources.setdefault("tasks", [])
    resources.setdefault("task_definitions", [b.task_definition(st.name) for st in stories])
    return m.metrics_bundle(metrics, clusters=[b.cluster()],
                            services=[st.service for st in stories], **resources)
