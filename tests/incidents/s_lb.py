"""Load-balancer outages: the tasks' security group no longer admits the ALB, the ALB does
not serve one AZ, the health check grace period is shorter than the start-up."""

from __future__ import annotations

from tests import builders as b
from tests import builders_network as bn
from tests.incidents import _metrics as m
from tests.incidents.healthy import ALB_SG, AZS, ECR, PUBLIC, SPEC, task_sg
from tests.incidents.scenarios import Cluster, fires, scenario, task_id

SPEC_HEALTH = {"command": ["CMD-SHELL", "curl -fsS http://localhost:8080/healthz || exit 1"],
               "interval": 15, "timeout": 5, "retries": 3}
UNHEALTHY = ("(service {name}) (task {task}) (port {port}) is unhealthy in (target-group {tg}) "
             "due to (reason {why}).")


def elb_kills(c: Cluster, name: str, kills: tuple[tuple[float, float], ...],
               why: str) -> None:
    """Tasks stopped for failing ELB health checks: (minutes ago, seconds it ran), each
    with the "unhealthy in target group" event ECS posted just before."""
    spec = SPEC[name]
    for i, (stopped, uptime) in enumerate(kills):
        task = c.stopped(name, i % 3, stopped_min=stopped, uptime_s=uptime,
                         reason=f"Task failed ELB health checks in (target-group {spec.tg})",
                         stop_code="ServiceSchedulerInitiated", exit_code=143)
        c.event(name, UNHEALTHY.format(name=name, task=task_id(task), port=spec.port,
                                       tg=spec.tg, why=why), stopped + 0.3)


@scenario("sg-blocks-lb", "security-group-blocks-lb",
          fires("lb-to-task-security-group", "checkout"), fires("lb-target-health", "checkout"))
def sg_blocks_lb(c: Cluster) -> None:
    """Half of a TLS migration went out 25 minutes ago: the checkout tasks' security group
    now admits the ALB on 8443 only, while the containers still listen on 8080. Health
    checks time out, ECS replaces the tasks every two minutes, and checkout serves
    nothing."""
    sg = c.find("security_groups", "GroupId", task_sg("checkout"))
    sg["IpPermissions"] = [bn.rule("tcp", 8443, groups=(ALB_SG,))]
    elb_kills(c, "checkout", ((23, 118), (21, 125), (16, 109), (14, 121), (9, 117), (7, 112)),
               "Request timed out")
    for task, mins in zip(c.tasks("checkout"), (4, 2), strict=True):
        task["startedAt"] = b.ago(minutes=mins)
        task["createdAt"] = b.ago(minutes=mins + 0.5)
    for task, mins in zip(c.tasks("checkout"), (4, 2), strict=True):
        c.event("checkout", f"(service checkout) has started 1 tasks: (task "
                f"{task_id(task)}).", mins)
    c.targets("checkout", [("unhealthy", "Target.Timeout", "Request timed out")] * 2)
    tg = SPEC["checkout"].tg_dim
    c.put(m.alb(tg, "UnHealthyHostCount", "Maximum", m.counts(2, ((24, 0),))),
          m.alb(tg, "HealthyHostCount", "Average", m.counts(0, ((24, 2),))))


@scenario("lb-az-mismatch", "lb-az-mismatch",
          fires("lb-az-coverage", "web"), fires("lb-target-health", "web"))
def lb_az_mismatch(c: Cluster) -> None:
    """A subnet clean-up removed the ALB's us-east-1c subnet two days ago. The services
    still place a third of their tasks in us-east-1c: those register but never receive
    traffic (Target.NotInUse), and the other two AZs carry all the load."""
    lb = c.res["load_balancers"][0]
    lb["AvailabilityZones"] = [{"ZoneName": z, "SubnetId": s} for s, z in
                               zip(PUBLIC[:2], AZS[:2], strict=True)]
    for name in ("web", "api", "checkout", "orders"):
        states = [("unused", "Target.NotInUse", "Target is in an Availability Zone that is not "
                   "enabled for the load balancer") if t.get("availabilityZone") == AZS[2]
                  else ("healthy", None, None) for t in c.tasks(name)]
        c.targets(name, states)


@scenario("grace-too-short", "health-check-grace-too-short",
          fires("service-health-check-grace-too-short", "api"),
          fires("stopped-task-elb-health", "api", while_starting=True),
          fires("target-health-flapping", "api"),
          fires("service-event-unhealthy-targets", "api"))
def grace_too_short(c: Cluster) -> None:
    """api 2.32.0 (api:113, 45 minutes ago) preloads its caches at start and now needs ~3
    minutes before /healthz answers 200; its healthCheck.startPeriod says 180 s but the
    service's grace period is still 120 s. The ALB marks every new task unhealthy after
    ~3 minutes and ECS kills it: the rollout never finishes and targets flap."""
    hc = {**SPEC_HEALTH, "startPeriod": 180}
    c.deploy("api", 45, rollout="IN_PROGRESS", image=f"{ECR}/api:2.32.0", healthCheck=hc)
    kills = ((41, 181), (32, 176), (23, 189), (14, 172), (5, 184))
    elb_kills(c, "api", kills, "Health checks failed with these codes: [503]")
    c.run("api", 1, 2.5)
    c.counts("api", running=4)
    c.targets("api", [("healthy", None, None)] * 3 + [
        ("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: "
         "[503]")])

    def flaps(mins: float) -> float:
        return 1.0 if any(k <= mins < k + 1.5 for k, _ in kills) or mins < 1.5 else 0.0
    c.put(m.alb(SPEC["api"].tg_dim, "UnHealthyHostCount", "Maximum", c.series(flaps)))

