"""Incident bundles for the network-latency and vpc-outage playbook tests.

Built on tests/builders_network.World — a healthy VPC: two private subnets, each behind its
own NAT gateway, the ECR/S3/Logs/Secrets Manager endpoints, an ALB in front of the Fargate
service `web` — with a second service `api` in the same subnets, so one cause can be shown
behind several services. Each helper breaks one thing the way it breaks in production;
the tests run the real checks on the result (`analyze`) and look up the diagnoses it made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from checker import playbook, registry
from checker.model import Diagnosis, Report
from checker.pipeline import Engine
from tests import builders as b
from tests import builders_metrics as m
from tests import builders_network as n

WEB = b.service_arn("prod", "web")
API = b.service_arn("prod", "api")
NAT_A, NAT_B = n.NATS
RT_A, RT_B = n.PRIVATE_RTS
ECR = f"{b.ACCOUNT}.dkr.ecr.{b.REGION}.amazonaws.com"

# Stop reasons as ECS delivers them (cut at 255 characters; tests/checks/test_stopped_tasks.py).
PULL_TIMEOUT = (
    f'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to '
    f'resolve ref "{ECR}/web:1.4.2": failed to do request: Head "https://{ECR}/v2/web/'
    f'manifests/1.4.2": dial tcp 10.0.3.17:443: i/o timeout')[:252] + "..."
PULL_DENIED = (
    f"CannotPullContainerError: pull access denied for {ECR}/web, repository does not exist "
    "or may require 'docker login': denied: User: arn:aws:sts::123456789012:assumed-role/"
    "ecsTaskExecutionRole/abc is not authorized to perform: ecr:BatchGetImage")
SECRETS_TIMEOUT = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
    "retrieval failed: unable to retrieve secret from asm: service call has been retried 5 "
    "time(s): RequestCanceled: request context canceled caused by: context deadline exceeded")
ELB_KILL = f"Task failed ELB health checks in (target-group {n.TG_ARN})"


# -- the world -----------------------------------------------------------------------------

def api_task_definition() -> dict[str, Any]:
    ctr = b.container_def("api", portMappings=[{"containerPort": 9000, "protocol": "tcp"}],
                          logConfiguration={"logDriver": "awslogs", "options": {
                              "awslogs-group": "/ecs/api", "awslogs-region": b.REGION,
                              "awslogs-stream-prefix": "api"}})
    return b.task_definition("api", containers=[ctr], networkMode="awsvpc", cpu="256",
                             memory="512", requiresCompatibilities=["FARGATE"])


def world(*, api: bool = False) -> n.World:
    """The healthy World; with `api`, a second service (no load balancer) in the same
    private subnets, behind the same NAT gateways."""
    w = n.World()
    if api:
        w.services.append(b.service("api", networkConfiguration={"awsvpcConfiguration": {
            "subnets": list(n.PRIVATE), "securityGroups": [n.TASK_SG],
            "assignPublicIp": "DISABLED"}}))
        w.tasks += [n.eni_task("api", n.PRIVATE[0], n.AZS[0], "10.0.1.20"),
                    n.eni_task("api", n.PRIVATE[1], n.AZS[1], "10.0.2.20")]
        w.task_definitions.append(api_task_definition())
    return w


def bundle(w: n.World, metrics: Iterable[dict[str, Any]] = (),
           **extra: list[dict[str, Any]]) -> dict[str, Any]:
    out = w.bundle(**extra)
    out["metrics"] = list(metrics)
    return out


# -- NAT gateway series (AWS/NATGateway, 1-minute, the last 3 hours) -----------------------

def nat_ports(nat_id: str, errors: float, peak: float) -> list[dict[str, Any]]:
    """A traffic spike in the last half hour: port allocation errors and the connection
    count jump together."""
    return [m.natgw(nat_id, "ErrorPortAllocation", "Sum", m.steps(3, 60, [(0, 0), (2.5, errors)])),
            m.natgw(nat_id, "ActiveConnectionCount", "Maximum",
                    m.steps(3, 60, [(0, 9_000), (2.5, peak)]))]


def nat_drops(nat_id: str, dropped: float, attempts: float,
              established: float) -> list[dict[str, Any]]:
    return [m.natgw(nat_id, "PacketsDropCount", "Sum", m.flat(3, 60, dropped)),
            m.natgw(nat_id, "PacketsOutToDestination", "Sum", m.flat(3, 60, 20_000)),
            m.natgw(nat_id, "ConnectionAttemptCount", "Sum", m.flat(3, 60, attempts)),
            m.natgw(nat_id, "ConnectionEstablishedCount", "Sum", m.flat(3, 60, established))]


def nat_quiet(nat_id: str) -> list[dict[str, Any]]:
    return [*nat_ports(nat_id, 0, 4_000), *nat_drops(nat_id, 0, 1_200, 1_200)]


def nat_saturated(nat_id: str) -> list[dict[str, Any]]:
    return [*nat_ports(nat_id, 1_840, 54_200), *nat_drops(nat_id, 30, 3_000, 2_100)]


# -- stopped tasks ----------------------------------------------------------------------------

def pull_failures(service: str, reason: str = PULL_TIMEOUT, count: int = 3,
                  secrets: bool = False) -> list[dict[str, Any]]:
    """Tasks that never started: stopped in the last half hour, no startedAt."""
    out = []
    for i in range(count):
        t = n.eni_task(service, n.PRIVATE[i % 2], n.AZS[i % 2], f"10.0.{i % 2 + 1}.{50 + i}",
                       status="STOPPED", stopped=b.ago(minutes=5 + 8 * i),
                       stop_code="TaskFailedToStart", reason=reason,
                       containers=[b.container(service, reason=None if secrets else reason)])
        del t["startedAt"]
        out.append(t)
    return out


def elb_kills(service: str, uptimes_s: Iterable[float]) -> list[dict[str, Any]]:
    out = []
    for i, up in enumerate(uptimes_s):
        stopped = 6 + 9 * i
        out.append(n.eni_task(service, n.PRIVATE[i % 2], n.AZS[i % 2], f"10.0.{i % 2 + 1}.{70 + i}",
                              status="STOPPED", started=b.ago(minutes=stopped, seconds=up),
                              stopped=b.ago(minutes=stopped), stop_code="ServiceSchedulerInitiated",
                              reason=ELB_KILL, containers=[b.container(service, 137)]))
    return out


# -- breakages --------------------------------------------------------------------------------

def drop_default_route(w: n.World, rt_id: str) -> None:
    rt = w.rt(rt_id)
    rt["Routes"] = [r for r in rt["Routes"] if r["DestinationCidrBlock"] != "0.0.0.0/0"]


def delete_nat(w: n.World, nat_id: str) -> None:
    """The NAT gateway is gone; the route to it stays, now a blackhole."""
    w.nat_gateways = [g for g in w.nat_gateways if g["NatGatewayId"] != nat_id]
    for rt in w.route_tables:
        for r in rt["Routes"]:
            if r.get("NatGatewayId") == nat_id:
                r["State"] = "blackhole"


def block_lb(w: n.World) -> None:
    """Someone 'tidied' the task security group: it admits port 80, the container listens
    on 8080."""
    w.sg(n.TASK_SG)["IpPermissions"] = [n.rule("tcp", 80, groups=(n.ALB_SG,))]


def block_https_egress(w: n.World) -> None:
    """Egress narrowed to HTTP (and DNS to the VPC resolver)."""
    w.sg(n.TASK_SG)["IpPermissionsEgress"] = [n.rule("tcp", 80, cidrs=("0.0.0.0/0",)),
                                              *dns_to_resolver()]


def dns_to_resolver() -> list[dict[str, Any]]:
    return [n.rule(p, 53, cidrs=("10.0.0.2/32",)) for p in ("udp", "tcp")]


def https_only_egress(w: n.World) -> None:
    """Egress tightened to tcp/443 anywhere: no rule for 53."""
    w.sg(n.TASK_SG)["IpPermissionsEgress"] = [n.rule("tcp", 443, cidrs=("0.0.0.0/0",))]


def lb_in_one_az(w: n.World) -> None:
    w.load_balancers = [n.load_balancer(n.PUBLIC[:1], n.AZS[:1])]


def unhealthy_targets(w: n.World, reason: str = "Target.Timeout",
                      description: str = "Request timed out") -> None:
    w.target_health = [{"TargetGroupArn": n.TG_ARN, "TargetHealthDescriptions": [
        n.target(ip, "unhealthy", reason, description) for ip in ("10.0.1.10", "10.0.2.10")]}]


def nacl_blocks_lb(w: n.World) -> None:
    """A custom ACL on the private subnets without an inbound rule for the container port."""
    w.network_acls = [
        n.network_acl(n.NACL, n.default_entries(), n.PUBLIC, default=True),
        n.network_acl("acl-0private000000001", [
            n.acl_entry(110, egress=False, proto="6", ports=(32768, 60999)),
            n.acl_entry(100, egress=True, proto="6", ports=(443, 443)),
            n.acl_entry(110, egress=True, proto="6", cidr="10.0.0.0/16", ports=(1024, 65535)),
            n.acl_entry(32767, "deny", egress=False), n.acl_entry(32767, "deny", egress=True)],
            n.PRIVATE)]


def grace(w: n.World, seconds: int, service: str = "web") -> None:
    svc = next(s for s in w.services if s["serviceName"] == service)
    svc["healthCheckGracePeriodSeconds"] = seconds


# -- engines and assertions -------------------------------------------------------------------

#: Stand-ins for image-pull.yaml / secrets-pull.yaml (another playbook's diagnoses), so the
#: `explains` links of these playbooks are tested whatever those files hold. Certain and
#: critical on purpose: the cause must still rank above them.
PULL_STUBS: dict[str, Any] = {
    "scenario": "pull-stubs", "title": "test stand-ins for the pull playbooks",
    "symptoms": ["stopped-task-image-pull", "stopped-task-secrets-pull"],
    "hypotheses": [
        {"diagnosis": d, "confidence": 1.0, "confirm": [c], "summary": f"{d} on {{service}}",
         "remediation": [{"step": "see the pull playbook"}]}
        for d, c in (("image-pull-failure", "stopped-task-image-pull"),
                     ("secrets-pull-failure", "stopped-task-secrets-pull"))]}


def engine_with_pull_stubs() -> Engine:
    """The network-latency and vpc-outage playbooks alone, plus PULL_STUBS."""
    reg = registry.load()
    mine = [bk for bk in playbook.load(reg) if bk.scenario in ("network-latency", "vpc-outage")]
    return Engine(reg.select("scan"),
                  [*mine, playbook.parse(PULL_STUBS, "tests/builders_pb_network.py", reg)])


def assert_filled(diag: Diagnosis) -> None:
    """No playbook placeholder may reach a user unfilled (as tests/test_playbooks.py)."""
    for text in (diag.summary, *(r.step for r in diag.remediation),
                 *(r.command or "" for r in diag.remediation)):
        assert not re.search(r"\{[a-z_]+(\|[^}]*)?\}", text), text


#: One engine for both playbook test modules: the loaded knowledge is read-only.
ENGINE = Engine()


def analyze(bundle: dict[str, Any], engine: Engine = ENGINE) -> Report:
    """The real checks and playbooks, at a fixed time so reports compare byte for byte."""
    return engine.analyze(bundle, generated_at="2026-11-20T10:00:00+00:00")


def find(report: Report, diag_id: str, resource: str = WEB) -> Diagnosis | None:
    """The diagnosis `diag_id` naming `resource`, or None: a test may expect it absent."""
    return next((d for d in report.diagnoses if d.id == diag_id and resource in d.resources),
                None)


def get(report: Report, diag_id: str, resource: str = WEB) -> Diagnosis:
    """As find, but the diagnosis must be there; the failure lists the ones that were."""
    diag = find(report, diag_id, resource)
    assert diag is not None, [(d.id, d.resources) for d in report.diagnoses]
    return diag


def roles(diag: Diagnosis) -> dict[str, set[str]]:
    """role → checks: which findings confirmed, supported or ruled out the hypothesis."""
    out: dict[str, set[str]] = {}
    for ev in diag.evidence:
        out.setdefault(ev.role, set()).add(ev.check)
    return out
