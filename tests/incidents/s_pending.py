"""Service not scaling / tasks stuck waiting for a place: capacity shortage, an ASG at its
maximum, a disconnected agent, ENI slots, a placement constraint, a static host port."""

from __future__ import annotations

from tests import builders_network as bn
from tests.incidents import _metrics as m
from tests.incidents._infra import container_instance
from tests.incidents.healthy import AZS, INSTANCES, PRIVATE, task_sg
from tests.incidents.scenarios import Cluster, fires, scenario

PLACE = ("(service {name}) was unable to place a task because no container instance met all "
         "of its requirements. The closest matching (container-instance {ci}) {why}. For more "
         "information, see the Troubleshooting section.")


def ci_id(i: int) -> str:
    return INSTANCES[i][2:]


def _orders_scale_out(c: Cluster, desired: int, minutes: float, placed: tuple[int, ...]) -> None:
    """orders' policy scales it out `minutes` ago; `placed` new tasks fit (on those
    instances), the rest wait in PROVISIONING."""
    running = 3 + len(placed)
    c.scale("orders", desired, running, minutes)
    for host in placed:
        c.run("orders", host, minutes - 2)
    for _ in range(desired - running):
        c.waiting("orders", minutes - 1)
    c.targets("orders")
    c.put(m.ecs("orders", "CPUUtilization", "Average",
                c.series(lambda mins: 72.0 if mins < minutes + 40 else 40.0, 2.0)))
    c.event("orders", f"(service orders) has started {len(placed) or 1} tasks: (task "
            f"{c.ids.hex()}).", minutes - 2)


@scenario("insufficient-capacity", "insufficient-cluster-capacity",
          fires("pending-tasks-insufficient-capacity", "orders", kind="shortage"),
          fires("service-event-placement-failures", "orders", reason="insufficient-cpu"),
          fires("capacity-provider-no-managed-scaling"), fires("cluster-reservation-high"),
          fires("service-running-below-desired", "orders"))
def insufficient_capacity(c: Cluster) -> None:
    """orders' target tracking scaled it from 3 to 7 tasks (768 CPU units each) 35 minutes
    ago. Three more fitted, filling the cluster to 92% of its CPU; the seventh waits in
    PROVISIONING because managed scaling on the prod-ec2 capacity provider was switched
    off during last week's incident and nobody turned it back on, so the Auto Scaling
    group (3 of max 6) never grew."""
    cp = c.res["capacity_providers"][0]
    cp["autoScalingGroupProvider"]["managedScaling"]["status"] = "DISABLED"
    _orders_scale_out(c, 7, 35, placed=(0, 1, 2))
    c.event("orders", PLACE.format(name="orders", ci=ci_id(1),
                                   why="has insufficient CPU units available"), 31)


@scenario("asg-at-max", "autoscaling-at-max",
          fires("service-asg-at-max", "orders"), fires("service-pending-tasks", "orders"))
def asg_at_max(c: Cluster) -> None:
    """Traffic on orders grew; its policy asked for 7 tasks 35 minutes ago and three more
    fitted. Managed scaling wants another instance, but the prod-ecs-asg Auto Scaling group
    was capped at 3 instances to hold spend: the last task waits in PROVISIONING."""
    asg = c.res["auto_scaling_groups"][0]
    asg.update(MaxSize=3, DesiredCapacity=3)
    _orders_scale_out(c, 7, 35, placed=(0, 1, 2))


@scenario("agent-disconnected", "agent-disconnected",
          fires("instance-agent-disconnected"),
          fires("service-event-placement-failures", "orders", reason="agent-disconnected"))
def agent_disconnected(c: Cluster) -> None:
    """The ECS agent on i-0b8d3f5a7c9e12468 (us-east-1b) lost its connection 45 minutes
    ago (its disk filled with Docker images). When orders scaled out from 3 to 6 tasks 20
    minutes ago, two fitted on the other instances; the sixth could only go to the
    disconnected one, so it waits."""
    c.res["container_instances"][1] = container_instance(1, connected=False)
    _orders_scale_out(c, 6, 20, placed=(0, 2))
    c.event("orders", PLACE.format(name="orders", ci=ci_id(1), why='encountered error "AGENT"'),
            18)


def _awsvpc_attachment(c: Cluster, host: int) -> dict[str, object]:
    ip = f"10.0.{host + 1}.{c.rng.randrange(100, 250)}"
    return {"id": c.ids.uuid(), "type": "ElasticNetworkInterface", "status": "ATTACHED",
            "details": [{"name": "subnetId", "value": PRIVATE[host]},
                        {"name": "networkInterfaceId", "value": f"eni-0{c.ids.hex(16)}"},
                        {"name": "privateIPv4Address", "value": ip}]}


@scenario("eni-exhaustion", "eni-exhaustion",
          fires("awsvpc-tasks-no-eni-slot", "reports"), fires("instance-eni-slots"),
          fires("service-event-placement-failures", "reports", reason="eni"))
def eni_exhaustion(c: Cluster) -> None:
    """reports:20 moved to awsvpc networking on EC2 (smaller tasks, own security group).
    For month-end it was scaled to 8 tasks: an m5.large has 3 network interfaces, so
    without ENI trunking it takes 2 awsvpc tasks whatever its free CPU and memory. Six
    run; two wait although every instance has CPU and memory to spare."""
    c.res["security_groups"].append(bn.security_group(task_sg("reports"), "prod-reports-tasks",
                                                      []))
    c.deploy("reports", 2 * 1440, td={"networkMode": "awsvpc"}, cpu=256, memory=512)
    c.service("reports")["networkConfiguration"] = {"awsvpcConfiguration": {
        "subnets": list(PRIVATE), "securityGroups": [task_sg("reports")],
        "assignPublicIp": "DISABLED"}}
    for task in c.tasks("reports"):
        task["attachments"] = [_awsvpc_attachment(c, AZS.index(task["availabilityZone"]))]
    for host in (0, 1, 1, 2):
        c.run("reports", host, 28, attachments=[_awsvpc_attachment(c, host)])
    c.waiting("reports", 29)
    c.waiting("reports", 29)
    c.scale("reports", 8, 6, 30)
    c.event("reports", PLACE.format(name="reports", ci=ci_id(2),
                                    why='encountered error "RESOURCE:ENI"'), 27)


@scenario("placement-constraint", "placement-constraint-unsatisfiable",
          fires("service-placement-member-of", "reports"),
          fires("service-event-placement-failures", "reports", reason="placement-constraint"))
def placement_constraint(c: Cluster) -> None:
    """reports:20 (40 minutes ago) pins its tasks to memory-optimised instances with
    memberOf(attribute:ecs.instance-type =~ r5.*), but the r5 capacity was never added:
    the cluster has only m5.large. The new tasks wait in PROVISIONING and the deployment
    cannot finish; the old tasks keep running."""
    c.deploy("reports", 40, rollout="IN_PROGRESS", td={"placementConstraints": [
        {"type": "memberOf", "expression": "attribute:ecs.instance-type =~ r5.*"}]})
    c.waiting("reports", 39)
    c.waiting("reports", 39)
    c.event("reports", PLACE.format(name="reports", ci=ci_id(1),
                                    why="doesn't satisfy the MemberOf placement constraint"), 37)


@scenario("host-port-conflict", "host-port-conflict",
          fires("static-host-port-taken", "reports"),
          fires("service-event-placement-failures", "reports", reason="port-in-use"))
def host_port_conflict(c: Cluster) -> None:
    """reports:20 exposes its Prometheus exporter on the static host port 9100. Scaled to 4
    tasks for month-end 25 minutes ago, it got one per instance: the fourth waits, since
    every instance already has 9100 taken."""
    c.deploy("reports", 3 * 60, portMappings=[{"containerPort": 9100, "hostPort": 9100,
                                               "protocol": "tcp", "name": "metrics"}])
    c.scale("reports", 4, 3, 25)
    c.run("reports", 1, 24)
    for task in c.tasks("reports"):
        task["containers"][0]["networkBindings"] = [{"bindIP": "0.0.0.0", "containerPort": 9100,
                                                     "hostPort": 9100, "protocol": "tcp"}]
    c.waiting("reports", 25)
    c.event("reports", PLACE.format(name="reports", ci=ci_id(0),
                                    why="is already using a port required by your task"), 23)
