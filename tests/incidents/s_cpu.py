"""CPU incidents: a saturated service, burstable hosts out of credits, a hot service that
cannot scale."""

from __future__ import annotations

from collections.abc import Callable

from tests import builders as b
from tests import builders_hosts as bh
from tests.incidents import _metrics as m
from tests.incidents._infra import container_instance, ec2_instance
from tests.incidents.healthy import INSTANCES, SPEC
from tests.incidents.scenarios import Cluster, fires, scenario


def _step(before: float, after: float, since: float,
          ramp: float = 10.0) -> Callable[[float], float]:
    """before → after, starting `since` minutes ago over `ramp` minutes."""
    def f(mins: float) -> float:
        if mins >= since:
            return before
        return before + (after - before) * min(1.0, (since - mins) / ramp)
    return f


@scenario("high-cpu", "cpu-saturation",
          fires("service-cpu-saturated", "api", stat="Average"),
          fires("target-response-time-high", "api"))
def high_cpu(c: Cluster) -> None:
    """A marketing push doubles api traffic from 110 minutes ago. Every api task runs at
    ~95% of its CPU units and the ALB's response time climbs from 120 ms to ~1.6 s. The
    service does have a target-tracking policy, but on memory (75%), which the traffic
    does not move: nothing scales out."""
    api = SPEC["api"]
    c.res["tasks"] = [t for t in c.res["tasks"]
                      if not (t["group"] == "service:api" and t["lastStatus"] == "STOPPED")]
    c.put(m.ecs("api", "CPUUtilization", "Average", c.series(_step(45, 95, 110), 1.2)),
          m.ecs("api", "CPUUtilization", "Maximum",
                [min(100.0, v or 0) for v in c.series(_step(56, 99, 110), 0.8)]),
          m.alb(api.tg_dim, "RequestCount", "Sum", c.series(_step(3600, 7300, 112), 150)),
          m.alb(api.tg_dim, "TargetResponseTime", "Average",
                c.series(_step(0.12, 1.6, 105, 15), 0.12, 0.01)),
          m.alb(api.tg_dim, "HTTPCode_Target_5XX_Count", "Sum", c.series(_step(3, 95, 100), 8)),
          m.insights("api", "DesiredTaskCount", m.counts(3)),
          m.insights("api", "RunningTaskCount", m.counts(3)))
    policy = c.find("scaling_policies", "ResourceId", "service/prod/api")
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    config.update(TargetValue=75.0, PredefinedMetricSpecification={
        "PredefinedMetricType": "ECSServiceAverageMemoryUtilization"})
    policy["PolicyName"] = "api-memory-target"
    policy["PolicyARN"] = policy["PolicyARN"].replace("api-cpu-target", "api-memory-target")


def _burstable_hosts(c: Cluster) -> None:
    """The launch template moved the ASG to t3.large (standard credits, to cap spend)."""
    c.res["container_instances"] = [container_instance(i, instance_type="t3.large")
                                    for i in range(3)]
    c.res["ec2_instances"] = [ec2_instance(i, "t3.large", launched_days=9) for i in range(3)]
    c.res["instance_types"] = [bh.instance_type("t3.large", max_eni=3, vcpus=2,
                                                memory_mib=8192, burstable=True)]
    c.res["credit_specifications"] = [bh.credit_spec(i, "standard") for i in INSTANCES]
    for inst in c.res["auto_scaling_groups"][0]["Instances"]:
        inst["InstanceType"] = "t3.large"


@scenario("cpu-credits", "cpu-credit-exhaustion",
          fires("cpu-credits-exhausted", "orders"), fires("cpu-credits-exhausted", "reports"),
          fires("instance-burstable-standard-credits"))
def cpu_credits(c: Cluster) -> None:
    """The EC2 hosts are t3.large in standard credit mode. Two of them burned their CPU
    credits during a batch run and have been held at the 30% baseline for almost two
    hours: every orders and reports task there slows down, orders latency passes a
    second, and nothing in ECS says why."""
    _burstable_hosts(c)
    for i, iid in enumerate(INSTANCES):
        if i < 2:
            c.put(m.ec2(iid, "CPUCreditBalance", "Average",
                        c.series(lambda mins: max(0.0, (mins - 110) / 70 * 260))),
                  m.ec2(iid, "CPUUtilization", "Average",
                        c.series(lambda mins: 72.0 if mins > 110 else 30.0, 1.2)))
        else:
            c.put(m.ec2(iid, "CPUCreditBalance", "Average", c.series(lambda mins: 520.0, 4)),
                  m.ec2(iid, "CPUUtilization", "Average", c.series(lambda mins: 24.0, 2)))
    orders = SPEC["orders"]
    c.put(m.alb(orders.tg_dim, "TargetResponseTime", "Average",
                c.series(_step(0.09, 1.25, 108, 6), 0.08, 0.01)))


@scenario("autoscaling-missing", "autoscaling-missing",
          fires("service-autoscaling-missing", "worker"))
def autoscaling_missing(c: Cluster) -> None:
    """The worker service was re-created by a new Terraform module that forgot its scalable
    target and policy. The job queue has been growing for 100 minutes and the two worker
    tasks run at ~85% CPU; nothing adds a third."""
    c.res["scalable_targets"] = [t for t in c.res["scalable_targets"]
                                 if t["ResourceId"] != "service/prod/worker"]
    c.res["scaling_policies"] = [p for p in c.res["scaling_policies"]
                                 if p["ResourceId"] != "service/prod/worker"]
    c.service("worker")["createdAt"] = b.ago(days=6)
    c.put(m.ecs("worker", "CPUUtilization", "Average", c.series(_step(41, 85, 100, 20), 1.2)),
          m.ecs("worker", "CPUUtilization", "Maximum", c.series(_step(50, 88, 100, 20), 0.6)))
