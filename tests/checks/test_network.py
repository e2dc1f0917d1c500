"""Network-path checks: a healthy World (tests/builders_network.py) passes everything; each
row breaks one thing and expects that check to say so, for the right subnet and service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from checker import graph
from checker.facts import Facts
from checker.model import Finding
from checks.lib.network.rules import Peer, denied, nacl_evaluate, network, sg_missing, subtract
from tests import builders as b
from tests import builders_network as n
from tests.checks.harness import REGISTRY, run_check

WEB = b.service_arn("prod", "web")
A, B = n.PRIVATE
Mutate = Callable[[n.World], Any]


def run(check_id: str, world: n.World, **extra: list[dict[str, Any]]) -> list[Finding]:
    return run_check(check_id, world.bundle(**extra))


def by_resource(findings: list[Finding]) -> dict[str, str]:
    return {f.resource: f.status.value for f in findings}


def only(findings: list[Finding], resource: str) -> Finding:
    (f,) = [f for f in findings if f.resource == resource]
    return f


# -- mutations ----------------------------------------------------------------------------------

def set_default_route(rt_id: str, **target: str) -> Mutate:
    def apply(w: n.World) -> None:
        rt = w.rt(rt_id)
        rt["Routes"] = [r for r in rt["Routes"] if r["DestinationCidrBlock"] != "0.0.0.0/0"]
        if target:
            state = target.pop("State", "active")
            rt["Routes"].append(n.route(state=state, **target))
    return apply


def isolate(*drop: str) -> Mutate:
    """No internet for the private subnets; the endpoints in `drop` removed."""
    def apply(w: n.World) -> None:
        for rt in n.PRIVATE_RTS:
            set_default_route(rt)(w)
        w.drop_endpoints(*drop)
    return apply


def nat_state(state: str, **extra: Any) -> Mutate:
    def apply(w: n.World) -> None:
        w.nat_gateways[0] = n.nat_gateway(n.NATS[0], n.PUBLIC[0], state, **extra)
    return apply


def both(*mutations: Mutate) -> Mutate:
    def apply(w: n.World) -> None:
        for m in mutations:
            m(w)
    return apply


def public_subnets(public_ip: str) -> Mutate:
    def apply(w: n.World) -> None:
        w.services = [n.web_service(public_ip=public_ip, subnets=n.PUBLIC)]
        w.tasks = [n.eni_task("web", n.PUBLIC[0], n.AZS[0], "10.0.101.10")]
        w.drop_endpoints(*n.ENDPOINTS, "s3")
    return apply


def image(uri: str) -> Mutate:
    def apply(w: n.World) -> None:
        w.task_definitions = [n.web_task_definition(image=uri)]
    return apply


def containers(**container: Any) -> Mutate:
    """Replace web's container with a plain one (no secrets, no awslogs) plus `container`."""
    def apply(w: n.World) -> None:
        container.setdefault("logConfiguration", None)
        ctr = b.container_def("web", portMappings=[{"containerPort": 8080}], **container)
        w.task_definitions = [b.task_definition("web", containers=[ctr], networkMode="awsvpc")]
    return apply


# -- evaluators -------------------------------------------------------------------------------

def acl(*entries: dict[str, Any]) -> dict[str, Any]:
    """Not shape-checked: the evaluator must also survive odd hand-written entries."""
    return {"NetworkAclId": "acl-0test000000000001", "Entries": list(entries)}


IN = {"egress": False}
OUT = {"egress": True}


@pytest.mark.parametrize(("entries", "flow", "blocked", "rule"), [
    # allow all, then *: nothing denied
    (n.default_entries(), (False, "tcp", (8080, 8080), "10.0.101.0/24"), [], None),
    # no entry at all: the implicit * deny even without rule 32767
    ([], (False, "tcp", (8080, 8080), "10.0.101.0/24"), [(8080, 8080)], 32767),
    # deny 100 before allow 200: first match wins
    ([n.acl_entry(100, "deny", **IN, proto="6", ports=(8080, 8080)),
      n.acl_entry(200, **IN)], (False, "tcp", (8080, 8080), "10.0.101.0/24"), [(8080, 8080)], 100),
    # rule order is by number, not by list position
    ([n.acl_entry(200, "deny", **IN), n.acl_entry(100, **IN, proto="6", ports=(8080, 8080))],
     (False, "tcp", (8080, 8080), "10.0.101.0/24"), [], None),
    # an allow for a narrower range leaves the rest of the ports to *
    ([n.acl_entry(100, **OUT, proto="6", ports=(1024, 32767)), n.acl_entry(32767, "deny", **OUT)],
     (True, "tcp", (1024, 65535), "10.0.101.0/24"), [(32768, 65535)], 32767),
    # a udp allow does not admit tcp
    ([n.acl_entry(100, **IN, proto="17", ports=(53, 53))],
     (False, "tcp", (53, 53), "0.0.0.0/0"), [(53, 53)], 32767),
    # an allow for one /24 does not cover the whole internet; the deny-all does
    ([n.acl_entry(100, **OUT, proto="6", cidr="52.0.0.0/8", ports=(443, 443)),
      n.acl_entry(200, "deny", **OUT)], (True, "tcp", (443, 443), "0.0.0.0/0"), [(443, 443)], 200),
    # an allow of the VPC covers an LB subnet inside it
    ([n.acl_entry(100, **IN, proto="6", cidr="10.0.0.0/16", ports=(8080, 8080))],
     (False, "tcp", (8080, 8080), "10.0.101.0/24"), [], None),
    # IPv6 entries never match an IPv4 flow
    ([{"RuleNumber": 100, "RuleAction": "allow", "Egress": False, "Protocol": "-1",
       "Ipv6CidrBlock": "::/0"}], (False, "tcp", (443, 443), "0.0.0.0/0"), [(443, 443)], 32767),
    # odd input: string rule numbers and ports
    ([{"RuleNumber": "100", "RuleAction": "allow", "Egress": True, "Protocol": "6",
       "CidrBlock": "0.0.0.0/0", "PortRange": {"From": "443", "To": "443"}}],
     (True, "tcp", (443, 443), "0.0.0.0/0"), [], None),
])
def test_nacl_evaluate(entries: list[dict[str, Any]], flow: tuple[bool, str, tuple[int, int], str],
                       blocked: list[tuple[int, int]], rule: int | None) -> None:
    egress, proto, ports, peer = flow
    net = network(peer)
    assert net is not None
    segments = nacl_evaluate(acl(*entries), egress=egress, proto=proto, ports=ports, peer=net)
    lost = denied(segments)
    assert [s.ports for s in lost] == blocked
    if rule is not None:
        assert {s.rule for s in lost} == {rule}
    covered = sorted(s.ports for s in segments if not s.partial)
    assert subtract([ports], covered) == []  # every port got a verdict


def test_nacl_partial_deny_is_not_the_verdict() -> None:
    entries = [n.acl_entry(90, "deny", **IN, cidr="10.0.101.7/32"), n.acl_entry(100, **IN)]
    net = network("10.0.101.0/24")
    assert net is not None
    segments = nacl_evaluate(acl(*entries), egress=False, proto="tcp", ports=(80, 80), peer=net)
    assert denied(segments) == []
    assert [(s.rule, s.partial) for s in segments] == [(100, False), (90, True)]


@pytest.mark.parametrize(("rules", "peer", "missing"), [
    ([n.rule("tcp", 8080, groups=(n.ALB_SG,))], Peer(groups=frozenset({n.ALB_SG})), []),
    ([n.rule("tcp", 8080, groups=("sg-other",))], Peer(groups=frozenset({n.ALB_SG})),
     [(8080, 8080)]),
    ([n.rule("-1", cidrs=("10.0.0.0/16",))], Peer(cidr=network("10.0.101.0/24")), []),
    ([n.rule("tcp", 8000, 8079, cidrs=("0.0.0.0/0",))], Peer(cidr=network("10.0.101.0/24")),
     [(8080, 8080)]),
    # unknown peer address: only "anywhere" is sure to include it
    ([n.rule("tcp", 8080, cidrs=("10.0.0.0/16",))], Peer(), [(8080, 8080)]),
    ([n.rule("6", 8080, cidrs=("0.0.0.0/0",))], Peer(), []),
])
def test_sg_missing(rules: list[dict[str, Any]], peer: Peer,
                    missing: list[tuple[int, int]]) -> None:
    sg = n.security_group("sg-0test", "t", rules)
    assert sg_missing([sg], egress=False, proto="tcp", ports=(8080, 8080), peer=peer) == missing


def test_sg_missing_covers_ranges_across_rules_and_groups() -> None:
    g1 = n.security_group("sg-1", "a", [n.rule("tcp", 32768, 50000, groups=(n.ALB_SG,))])
    g2 = n.security_group("sg-2", "b", [n.rule("tcp", 50001, 65535, groups=(n.ALB_SG,))])
    peer = Peer(groups=frozenset({n.ALB_SG}))
    assert sg_missing([g1, g2], egress=False, proto="tcp", ports=(32768, 60999), peer=peer) == []
    assert sg_missing([g1], egress=False, proto="tcp", ports=(32768, 60999),
                      peer=peer) == [(50001, 60999)]


# -- task-subnet-default-route ----------------------------------------------------------------

@pytest.mark.parametrize(("mutate", "expected", "words"), [
    (lambda w: None, {A: "pass", B: "pass"}, "via NAT gateway"),
    (nat_state("deleted"), {A: "fail", B: "pass"}, "which is deleted"),
    (nat_state("failed", FailureMessage="Elastic IP address eipalloc-1 is already associated"),
     {A: "fail", B: "pass"}, "already associated"),
    (lambda w: w.nat_gateways.pop(0), {A: "fail", B: "pass"}, "does not exist"),
    (nat_state("available", ConnectivityType="private"), {A: "fail", B: "pass"}, "private NAT"),
    (set_default_route(n.PRIVATE_RTS[0], NatGatewayId=n.NATS[0], State="blackhole"),
     {A: "fail", B: "pass"}, "is blackhole"),
    (isolate(), {A: "pass", B: "pass"}, "VPC endpoints serve what the tasks need"),
    (isolate("ecr.dkr"), {A: "fail", B: "fail"}, "no VPC endpoint for ecr.dkr"),
    (set_default_route(n.PRIVATE_RTS[0], TransitGatewayId="tgw-0abc"), {A: "pass", B: "pass"},
     "not visible"),
    (public_subnets("ENABLED"), {n.PUBLIC[0]: "pass", n.PUBLIC[1]: "pass"}, "internet gateway"),
    (public_subnets("DISABLED"), {n.PUBLIC[0]: "fail", n.PUBLIC[1]: "fail"},
     "assignPublicIp is DISABLED"),
])
def test_task_subnet_default_route(mutate: Mutate, expected: dict[str, str], words: str) -> None:
    world = n.World()
    mutate(world)
    findings = run("task-subnet-default-route", world)
    assert by_resource(findings) == expected
    assert all(f.service == WEB for f in findings)
    assert any(words in f.message for f in findings), [f.message for f in findings]


def test_default_route_failure_names_route_table_and_tasks() -> None:
    world = n.World()
    nat_state("deleted")(world)
    f = only(run("task-subnet-default-route", world), A)
    assert f.severity.value == "critical"
    assert f.data["route_table"] == n.PRIVATE_RTS[0] and f.data["target"] == n.NATS[0]
    assert f.data["affected_tasks"] == 1 and "1 running task there" in f.message


def test_subnet_without_association_uses_the_main_route_table() -> None:
    world = n.World()
    world.rt(n.PRIVATE_RTS[0])["Associations"] = []
    world.drop_endpoints("logs")
    f = only(run("task-subnet-default-route", world), A)
    assert f.status.value == "fail" and f.data["main_route_table"] is True
    assert f.data["route_table"] == n.MAIN_RT and "logs" in f.message


def test_default_route_unknown_and_missing_collections() -> None:
    world = n.World()
    world.subnets = [s for s in world.subnets if s["SubnetId"] != A]
    assert only(run("task-subnet-default-route", world), A).status.value == "unknown"
    bundle = n.World().bundle()
    del bundle["resources"]["route_tables"]
    (f,) = run_check("task-subnet-default-route", bundle)
    assert f.status.value == "unknown" and "route_tables" in f.message


def test_ec2_service_without_host_data_is_unknown() -> None:
    world, _ = n.bridge_world()
    (f,) = run("task-subnet-default-route", world)
    assert f.status.value == "unknown" and "container_instances" in f.message


def test_ec2_awsvpc_task_in_public_subnet_gets_no_public_ip() -> None:
    world, extra = n.bridge_world()
    world.task_definitions[-1] = b.task_definition(
        "api", containers=[b.container_def("api", memory=512)], networkMode="awsvpc")
    world.services[0]["networkConfiguration"] = {"awsvpcConfiguration": {
        "subnets": [n.PUBLIC[0]], "securityGroups": [n.TASK_SG]}}
    findings = run("task-subnet-default-route", world, **extra)
    assert by_resource(findings) == {n.PUBLIC[0]: "fail", A: "pass"}
    assert only(findings, n.PUBLIC[0]).severity.value == "medium"


# -- image-registry-unreachable / secrets-logs-unreachable ------------------------------------

@pytest.mark.parametrize(("check_id", "mutate", "expected", "words"), [
    ("image-registry-unreachable", lambda w: None, "pass", "reachable"),
    ("image-registry-unreachable", isolate(), "pass", "VPC endpoints serve"),
    ("image-registry-unreachable", isolate("s3"), "fail",
     "no VPC endpoint for s3 (com.amazonaws.us-east-1.*)"),
    ("image-registry-unreachable", isolate("ecr.api"), "fail", "CannotPullContainerError"),
    ("image-registry-unreachable",
     both(isolate(), lambda w: w.vpc_endpoints[0].update(RouteTableIds=[n.PUBLIC_RT])),
     "fail", "not on route table"),
    ("image-registry-unreachable",
     both(isolate(), lambda w: w.vpc_endpoints[2].update(PrivateDnsEnabled=False)),
     "fail", "private DNS off"),
    ("image-registry-unreachable",
     both(isolate(), lambda w: w.vpc_endpoints[1].update(State="pendingAcceptance")),
     "fail", "is pendingacceptance"),
    ("image-registry-unreachable", both(isolate(), image("nginx:1.27")), "fail",
     "docker.io"),
    ("image-registry-unreachable", both(isolate(), image("public.ecr.aws/nginx/nginx:1")),
     "fail", "needs internet"),
    ("image-registry-unreachable",
     both(isolate(), image(f"{b.ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/web:1")),
     "fail", "ecr.api, ecr.dkr, s3 (com.amazonaws.us-west-2.*)"),
    ("image-registry-unreachable", both(isolate(), image("<repository_uri>")), "skipped",
     "no image registry"),
    ("secrets-logs-unreachable", lambda w: None, "pass", "reachable"),
    ("secrets-logs-unreachable", isolate(), "pass", "secretsmanager"),
    ("secrets-logs-unreachable", isolate("secretsmanager"), "fail", "ResourceInitializationError"),
    ("secrets-logs-unreachable", isolate("logs"), "fail", "no VPC endpoint for logs"),
    ("secrets-logs-unreachable",
     both(isolate(), containers(secrets=[{"name": "TOKEN", "valueFrom": "prod.api-token"}])),
     "fail", "no VPC endpoint for ssm"),
    ("secrets-logs-unreachable", both(isolate(), containers()), "skipped", "use no Secrets"),
])
def test_reachability(check_id: str, mutate: Mutate, expected: str, words: str) -> None:
    world = n.World()
    mutate(world)
    findings = run(check_id, world)
    assert {f.status.value for f in findings} == {expected}, [f.message for f in findings]
    assert all(words in f.message for f in findings), [f.message for f in findings]
    assert all(f.service == WEB for f in findings)


def test_reachability_says_which_failure_it_predicts() -> None:
    world = n.World()
    isolate("s3", "secretsmanager")(world)
    image_f = only(run("image-registry-unreachable", world), A)
    secret_f = only(run("secrets-logs-unreachable", world), A)
    assert image_f.data["predicts"] == ["image-pull-failure"]
    assert secret_f.data["predicts"] == ["secrets-pull-failure"]
    assert image_f.data["missing"] == ["com.amazonaws.us-east-1.s3"]


# -- vpc-endpoints-behind-nat ---------------------------------------------------------------

@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda w: None, "pass"),
    (lambda w: w.drop_endpoints(*n.ENDPOINTS, "s3"), "fail"),
    (lambda w: w.drop_endpoints("s3"), "fail"),
    (isolate(), "skipped"),
])
def test_vpc_endpoints_behind_nat(mutate: Mutate, expected: str) -> None:
    world = n.World()
    mutate(world)
    findings = run("vpc-endpoints-behind-nat", world)
    assert {f.status.value for f in findings} == {expected}
    if expected == "fail":
        f = only(findings, A)
        assert f.severity.value == "low" and "com.amazonaws.us-east-1.s3" in f.data[
            "missing_endpoints"] and n.NATS[0] in f.message


# -- vpc-dns-attributes ---------------------------------------------------------------------

@pytest.mark.parametrize(("vpc", "endpoints", "expected", "words"), [
    (n.vpc(), True, "pass", "DNS support on"),
    (n.vpc(dns_support=False), True, "fail", "enableDnsSupport is off"),
    (n.vpc(dns_hostnames=False), True, "fail", "enableDnsHostnames is off"),
    (n.vpc(dns_hostnames=False), False, "pass", "DNS support on"),
    ({k: v for k, v in n.vpc().items() if k != "Attributes"}, True, "unknown", "not collected"),
])
def test_vpc_dns_attributes(vpc: dict[str, Any], endpoints: bool, expected: str,
                            words: str) -> None:
    world = n.World()
    world.vpcs = [vpc]
    if not endpoints:
        world.vpc_endpoints = [n.endpoint("s3", kind="Gateway")]
    (f,) = run("vpc-dns-attributes", world)
    assert (f.status.value, f.resource, f.service) == (expected, n.VPC, WEB)
    assert words in f.message


# -- lb-to-task-security-group --------------------------------------------------------------

def task_ingress(*rules: dict[str, Any]) -> Mutate:
    def apply(w: n.World) -> None:
        w.sg(n.TASK_SG)["IpPermissions"] = list(rules)
    return apply


def nlb(w: n.World) -> None:
    w.load_balancers = [n.load_balancer(groups=(), kind="network")]


@pytest.mark.parametrize(("mutate", "expected", "words"), [
    (lambda w: None, "pass", "admits prod-public on container port 8080"),
    (task_ingress(n.rule("tcp", 80, groups=(n.ALB_SG,))), "fail", "does not admit prod-public"),
    (task_ingress(n.rule("tcp", 8080, cidrs=("10.0.0.0/16",))), "pass", "admits"),
    (task_ingress(n.rule("tcp", 8080, cidrs=(n.PUBLIC_CIDRS[0],))), "fail", "tcp/8080"),
    (task_ingress(), "fail", "health checks time out"),
    (lambda w: w.target_groups.__setitem__(0, n.target_group(health_port="8081")), "fail",
     "tcp/8081"),
    (lambda w: w.sg(n.ALB_SG).update(IpPermissionsEgress=[n.rule("tcp", 443,
                                                                 cidrs=("0.0.0.0/0",))]),
     "fail", "the LB's egress"),
    (both(nlb, task_ingress(n.rule("tcp", 8080, cidrs=("10.0.0.0/16",)))), "pass", "admits"),
    (both(nlb, task_ingress(n.rule("tcp", 8080, cidrs=("192.168.0.0/16",)))), "unknown",
     "client IP preservation"),
    (both(nlb, task_ingress()), "fail", "does not admit"),
    (both(lambda w: w.subnets.pop(), task_ingress(n.rule("tcp", 8080, cidrs=("10.0.0.0/16",)))),
     "unknown", "not in the bundle"),
])
def test_lb_to_task_security_group(mutate: Mutate, expected: str, words: str) -> None:
    world = n.World()
    mutate(world)
    (f,) = run("lb-to-task-security-group", world)
    assert (f.status.value, f.service) == (expected, WEB), f.message
    assert words in f.message
    assert f.resource == n.TASK_SG


@pytest.mark.parametrize(("host_port", "host_rule", "expected", "words"), [
    (None, n.rule("tcp", 32768, 65535, groups=(n.ALB_SG,)), "pass", "dynamic host ports"),
    (None, n.rule("tcp", 8080, groups=(n.ALB_SG,)), "fail", "tcp/32768-60999"),
    (None, n.rule("tcp", 32768, 61000, cidrs=("10.0.0.0/16",)), "pass", "dynamic host ports"),
    (80, n.rule("tcp", 80, groups=(n.ALB_SG,)), "pass", "host port 80"),
    (80, n.rule("tcp", 32768, 65535, groups=(n.ALB_SG,)), "fail", "tcp/80"),
])
def test_lb_to_bridge_tasks_uses_host_ports(host_port: int | None, host_rule: dict[str, Any],
                                            expected: str, words: str) -> None:
    world, extra = n.bridge_world(host_port)
    world.sg(n.HOST_SG)["IpPermissions"] = [host_rule]
    (f,) = run("lb-to-task-security-group", world, **extra)
    assert (f.status.value, f.resource) == (expected, n.HOST_SG), f.message
    assert words in f.message and f.service == b.service_arn("prod", "api")


def test_lb_to_bridge_tasks_without_host_data_is_unknown() -> None:
    world, _ = n.bridge_world()
    (f,) = run("lb-to-task-security-group", world)
    assert f.status.value == "unknown" and "ec2_instances" in f.message


# -- task-sg-egress-https / task-sg-egress-dns ------------------------------------------------

def task_egress(*rules: dict[str, Any]) -> Mutate:
    def apply(w: n.World) -> None:
        w.sg(n.TASK_SG)["IpPermissionsEgress"] = list(rules)
    return apply


HTTPS_VPC = n.rule("tcp", 443, cidrs=("10.0.0.0/16",))
HTTPS_S3 = n.rule("tcp", 443, prefix_lists=("pl-63a5400a",))


@pytest.mark.parametrize(("mutate", "expected", "words"), [
    (lambda w: None, "pass", "allows tcp/443"),
    (task_egress(n.rule("tcp", 80, cidrs=("0.0.0.0/0",))), "fail", "to endpoint vpce-"),
    (both(lambda w: w.drop_endpoints(*n.ENDPOINTS, "s3"), task_egress(HTTPS_VPC)), "fail",
     "to 0.0.0.0/0"),
    (both(isolate(), task_egress(HTTPS_VPC, HTTPS_S3)), "pass", "allows tcp/443"),
    (both(isolate(), task_egress(HTTPS_VPC)), "fail", "s3 prefix list"),
    (lambda w: w.sg(n.ENDPOINT_SG).update(IpPermissions=[]), "fail", "do not admit tcp/443"),
])
def test_task_sg_egress_https(mutate: Mutate, expected: str, words: str) -> None:
    world = n.World()
    mutate(world)
    findings = run("task-sg-egress-https", world)
    assert {f.status.value for f in findings} == {expected}, [f.message for f in findings]
    assert all(words in f.message for f in findings), [f.message for f in findings]
    assert {f.resource for f in findings} == {n.TASK_SG}
    assert {f.data["subnet"] for f in findings} == {A, B}


@pytest.mark.parametrize(("egress", "expected"), [
    ([n.ALL_OUT], "pass"),
    ([n.rule("udp", 53, cidrs=("10.0.0.2/32",)), n.rule("tcp", 53, cidrs=("10.0.0.2/32",))],
     "pass"),
    ([n.rule("tcp", 443, cidrs=("0.0.0.0/0",))], "fail"),
])
def test_task_sg_egress_dns(egress: list[dict[str, Any]], expected: str) -> None:
    world = n.World()
    task_egress(*egress)(world)
    (f,) = run("task-sg-egress-dns", world)
    assert (f.status.value, f.resource, f.service) == (expected, n.TASK_SG, WEB)
    if expected == "fail":
        assert f.data["dns_blocked"] == ["udp", "tcp"] and "custom DNS" in f.message


# -- security-group-open-admin-ports ------------------------------------------------------------

@pytest.mark.parametrize(("extra_rule", "expected", "words"), [
    (None, "pass", "no admin port"),
    (n.rule("tcp", 22, cidrs=("0.0.0.0/0",)), "fail", "22 SSH"),
    (n.rule("-1", ipv6=("::/0",)), "fail", "all traffic from ::/0"),
    (n.rule("tcp", 0, 65535, cidrs=("0.0.0.0/0",)), "fail", "22 SSH"),
    (n.rule("tcp", 2375, 2376, cidrs=("0.0.0.0/0",)), "fail", "Docker API"),
    (n.rule("tcp", 8080, cidrs=("0.0.0.0/0",)), "pass", "no admin port"),
    (n.rule("tcp", 22, cidrs=("10.0.0.0/8",)), "pass", "no admin port"),
])
def test_security_group_open_admin_ports(extra_rule: dict[str, Any] | None, expected: str,
                                         words: str) -> None:
    world = n.World()
    if extra_rule:
        world.sg(n.TASK_SG)["IpPermissions"].append(extra_rule)
    (f,) = run("security-group-open-admin-ports", world)
    assert (f.status.value, f.resource, f.service) == (expected, n.TASK_SG, WEB)
    assert words in f.message


# -- nacl-blocks-lb-traffic / nacl-blocks-task-egress -----------------------------------------

def private_acl(*entries: dict[str, Any]) -> Mutate:
    """A custom ACL on the private subnets (the default ACL keeps the public ones)."""
    def apply(w: n.World) -> None:
        w.network_acls = [n.network_acl(n.NACL, n.default_entries(), n.PUBLIC, default=True),
                          n.network_acl("acl-0private000000001", list(entries), n.PRIVATE)]
    return apply


def public_acl(*entries: dict[str, Any]) -> Mutate:
    def apply(w: n.World) -> None:
        w.network_acls = [n.network_acl(n.NACL, n.default_entries(), n.PRIVATE, default=True),
                          n.network_acl("acl-0public0000000001", list(entries), n.PUBLIC)]
    return apply


TIGHT = (  # what a careful private ACL allows: LB in, HTTPS out, both return paths
    n.acl_entry(100, **IN, proto="6", cidr="10.0.0.0/16", ports=(8080, 8080)),
    n.acl_entry(110, **IN, proto="6", ports=(32768, 60999)),
    n.acl_entry(100, **OUT, proto="6", ports=(443, 443)),
    n.acl_entry(110, **OUT, proto="6", cidr="10.0.0.0/16", ports=(1024, 65535)),
    n.acl_entry(32767, "deny", **IN), n.acl_entry(32767, "deny", **OUT))


@pytest.mark.parametrize(("mutate", "expected", "words"), [
    (lambda w: None, "pass", "pass prod-public"),
    (private_acl(*TIGHT), "pass", "pass prod-public"),
    (private_acl(*TIGHT[:1], *TIGHT[2:3], *TIGHT[4:]), "fail", "outbound tcp/1024-65535"),
    (private_acl(n.acl_entry(90, "deny", **IN, proto="6", ports=(8000, 8100)), *TIGHT), "fail",
     "rule 90 deny"),
    (private_acl(*TIGHT[1:]), "fail", "inbound tcp/8080 from 10.0.101.0/24 (rule * deny"),
    (public_acl(n.acl_entry(100, **IN), n.acl_entry(100, **OUT, proto="6", ports=(443, 443))),
     "fail", "outbound tcp/8080"),
])
def test_nacl_blocks_lb_traffic(mutate: Mutate, expected: str, words: str) -> None:
    world = n.World()
    mutate(world)
    findings = run("nacl-blocks-lb-traffic", world)
    assert by_resource(findings) == {A: expected, B: expected}
    assert all(words in f.message for f in findings), [f.message for f in findings]
    assert all(f.service == WEB and f.data["affected_tasks"] == 1 for f in findings)


@pytest.mark.parametrize(("mutate", "expected", "words"), [
    (lambda w: None, "pass", "Linux ephemeral"),
    (private_acl(*TIGHT), "pass", "Linux ephemeral"),
    (private_acl(*TIGHT[:1], *TIGHT[2:]), "fail", "inbound tcp/32768-60999 from 0.0.0.0/0"),
    (private_acl(*TIGHT[:2], *TIGHT[3:]), "fail", "outbound tcp/443 to 0.0.0.0/0"),
    (public_acl(n.acl_entry(100, **IN, proto="6", ports=(443, 443)), n.acl_entry(100, **OUT)),
     "fail", "replies to the NAT gateway"),
    # endpoints in the other private subnet: that subnet's ACL must admit 443 from this one
    (both(isolate(), private_acl(*TIGHT)), "fail", "inbound tcp/443 from 10.0."),
    (both(isolate(), private_acl(n.acl_entry(120, **IN, proto="6", cidr="10.0.0.0/16",
                                             ports=(443, 443)), *TIGHT)), "pass", "Linux"),
])
def test_nacl_blocks_task_egress(mutate: Mutate, expected: str, words: str) -> None:
    world = n.World()
    mutate(world)
    findings = run("nacl-blocks-task-egress", world)
    assert by_resource(findings) == {A: expected, B: expected}
    assert all(words in f.message for f in findings), [f.message for f in findings]


def test_windows_tasks_need_their_own_ephemeral_range() -> None:
    world = n.World()
    private_acl(*TIGHT)(world)
    world.task_definitions[0]["runtimePlatform"] = {
        "operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}
    f = only(run("nacl-blocks-task-egress", world), A)
    assert f.status.value == "fail" and "61000-65535" in f.message


# -- lb-az-coverage -----------------------------------------------------------------------------

@pytest.mark.parametrize(("lb_zones", "task_azs", "expected", "severity"), [
    (n.AZS, n.AZS, "pass", "medium"),
    (n.AZS[:1], n.AZS, "fail", "medium"),
    (n.AZS[:1], (n.AZS[1], n.AZS[1]), "fail", "high"),
])
def test_lb_az_coverage(lb_zones: tuple[str, ...], task_azs: tuple[str, ...], expected: str,
                        severity: str) -> None:
    world = n.World()
    world.load_balancers = [n.load_balancer(n.PUBLIC[:len(lb_zones)], lb_zones)]
    world.tasks = [n.eni_task("web", n.PRIVATE[n.AZS.index(az)], az, f"10.0.{i}.9")
                   for i, az in enumerate(task_azs)]
    (f,) = run("lb-az-coverage", world)
    assert (f.status.value, f.severity.value, f.service) == (expected, severity, WEB)
    if expected == "fail":
        assert f.data["affected_tasks"] == sum(az not in lb_zones for az in task_azs)
        assert "us-east-1b" in f.message and "no traffic" in f.message


# -- lb-target-health -----------------------------------------------------------------------

TIMEOUT = ("unhealthy", "Target.Timeout", "Request timed out")


@pytest.mark.parametrize(("targets", "expected", "severity", "words"), [
    ([("healthy", None, None)] * 2, "pass", "high", "2 healthy"),
    ([TIMEOUT] * 3 + [("healthy", None, None)], "fail", "high",
     "3 of 4 targets unhealthy in prod-web: Target.Timeout ×3 (Request timed out)"),
    ([TIMEOUT, ("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these "
                "codes: [502]")], "fail", "critical", "ResponseCodeMismatch"),
    ([("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")], "pass",
     "high", "1 initial"),
    ([("unused", "Target.NotInUse", "Target is in an Availability Zone that is not enabled for "
       "the load balancer"), ("healthy", None, None)], "fail", "high", "Target.NotInUse"),
    ([], "fail", "critical", "no target registered"),
])
def test_lb_target_health(targets: list[tuple[str, str | None, str | None]], expected: str,
                          severity: str, words: str) -> None:
    world = n.World()
    world.target_health = [{"TargetGroupArn": n.TG_ARN, "TargetHealthDescriptions": [
        n.target(f"10.0.1.{i}", s, r, d) for i, (s, r, d) in enumerate(targets)]}]
    (f,) = run("lb-target-health", world)
    assert (f.status.value, f.severity.value, f.service) == (expected, severity, WEB)
    assert words in f.message, f.message


def test_target_health_names_upstream_network_causes() -> None:
    world = n.World()
    task_ingress()(world)
    world.target_health = [{"TargetGroupArn": n.TG_ARN, "TargetHealthDescriptions": [
        n.target("10.0.1.10", *TIMEOUT[:1], TIMEOUT[1], TIMEOUT[2])]}]
    (f,) = run("lb-target-health", world)
    assert f.data["likely_causes"] == ["lb-to-task-security-group"]
    assert "see lb-to-task-security-group" in f.message
    assert f.data["reasons"] == {"Target.Timeout": 1}


def test_target_health_not_collected_for_the_group() -> None:
    world = n.World()
    world.target_health = []
    (f,) = run("lb-target-health", world)
    assert f.status.value == "unknown" and f.service == WEB


# -- every result about a service names it ------------------------------------------------------

def test_every_network_result_carries_the_service() -> None:
    world = n.World()
    isolate("ecr.dkr")(world)
    for check_id in ("task-subnet-default-route", "image-registry-unreachable",
                     "secrets-logs-unreachable", "vpc-endpoints-behind-nat", "vpc-dns-attributes",
                     "lb-to-task-security-group", "task-sg-egress-https", "task-sg-egress-dns",
                     "security-group-open-admin-ports", "nacl-blocks-lb-traffic",
                     "nacl-blocks-task-egress", "lb-az-coverage", "lb-target-health"):
        findings = run(check_id, world)
        assert findings and all(f.service == WEB for f in findings), check_id


# -- odd input never crashes a check -------------------------------------------------------------

def _odd(collection: str, index: int, key: str, value: Any) -> Mutate:
    def apply(w: n.World) -> None:
        getattr(w, collection)[index][key] = value
    return apply


@pytest.mark.parametrize("mutate", [
    _odd("services", 0, "loadBalancers", "x"),
    _odd("services", 0, "networkConfiguration", {"awsvpcConfiguration": "x"}),
    _odd("services", 0, "desiredCount", "2"),
    _odd("security_groups", 1, "IpPermissions", None),
    _odd("security_groups", 1, "IpPermissionsEgress", [{"IpProtocol": "tcp", "FromPort": "x",
                                                        "IpRanges": "0.0.0.0/0"}]),
    _odd("network_acls", 0, "Entries", "x"),
    _odd("route_tables", 1, "Routes", [None, {"DestinationCidrBlock": "0.0.0.0/0"}]),
    _odd("target_health", 0, "TargetHealthDescriptions", "x"),
    _odd("tasks", 0, "attachments", 7),
    _odd("load_balancers", 0, "AvailabilityZones", [{"ZoneName": None}]),
    _odd("vpc_endpoints", 1, "SubnetIds", None),
    _odd("task_definitions", 0, "containerDefinitions", [{"name": "web", "image": None,
                                                         "logConfiguration": "awslogs"}]),
])
def test_odd_input_never_crashes(mutate: Mutate) -> None:
    world = n.World()
    mutate(world)
    assert run_check("lb-target-health", world.bundle())
    network = {s.id for s in REGISTRY if s.area == "network"}
    for f in graph.run(REGISTRY, Facts(world.bundle())):
        assert f.check not in network or "internally" not in f.message, (f.check, f.message)


def test_nat_subnet_outside_the_bundle_is_said_not_checked() -> None:
    world = n.World()
    world.subnets = [s for s in world.subnets if s["SubnetId"] in n.PRIVATE]
    f = only(run("nacl-blocks-task-egress", world), A)
    assert f.status.value == "pass" and f.data["not_evaluated"] == [n.PUBLIC[0]]
    assert "its ACL not checked" in f.message


def test_isolated_subnet_without_the_task_definition_is_unknown() -> None:
    world = n.World()
    isolate()(world)
    world.task_definitions = []
    f = only(run("task-subnet-default-route", world), A)
    assert f.status.value == "unknown" and "task definition" in f.message
