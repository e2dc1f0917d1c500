"""checker.command_context: the values a pasted command needs, from the bundle and the
evidence (tests/test_remediation_commands.py reads them in whole reports)."""

from __future__ import annotations

import datetime as dt
import shlex

from checker import command_context as cc
from checker.facts import Facts
from checker.pipeline import Engine
from tests import builders as b
from tests import builders_network as bn
from tests import builders_taskset as ts
from tests.test_remediation_commands import problems

WEB = b.service_arn("prod", "web")
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp()) * 1000


def test_window_without_metrics_is_the_scan_default_ending_at_collection() -> None:
    times = cc.window(Facts(b.bundle(services=[])))
    assert dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC) == b.NOW
    assert times == {"window_start": "2026-11-20T07:00:00Z", "window_end": "2026-11-20T10:00:00Z",
                     "window_start_ms": _ms(b.NOW - dt.timedelta(hours=3)),
                     "day_start": "2026-11-19T10:00:00Z"}


def test_window_starts_at_the_oldest_metric_point() -> None:
    bundle = b.bundle(services=[])
    bundle["metrics"] = [{"namespace": "AWS/ECS", "name": "CPUUtilization", "dimensions": {},
                          "stat": "Average", "period": 60, "values": [1.0, 2.0],
                          "timestamps": ["2026-11-20T04:30:00+00:00",
                                         "2026-11-20T04:31:00+00:00"]}]
    times = cc.window(Facts(bundle))
    assert times["window_start"] == "2026-11-20T04:30:00Z"
    assert times["window_start_ms"] == _ms(dt.datetime(2026, 11, 20, 4, 30, tzinfo=dt.UTC))


def test_network_is_the_services_awsvpc_configuration() -> None:
    svc = bn.web_service(public_ip="ENABLED", subnets=bn.PUBLIC[:2])
    facts = Facts(b.bundle(services=[svc], subnets=[bn.subnet(s, "10.0.0.0/24", "us-east-1a")
                                                    for s in bn.PUBLIC]))
    got = cc.network(facts, str(svc["serviceArn"]))
    assert got["awsvpc_subnets"] == ",".join(bn.PUBLIC[:2])
    assert got["assign_public_ip"] == "ENABLED" and got["vpc"] == bn.VPC
    assert got["awsvpc_security_groups"].split(",") == got["service_security_groups"]


def test_no_awsvpc_configuration_gives_nothing_to_guess_from() -> None:
    svc = b.service("orders")
    assert cc.network(Facts(b.bundle(services=[svc])), str(svc["serviceArn"])) == {}
    assert cc.network(Facts(b.bundle(services=[])), WEB) == {}


def test_collections_not_collected_or_refused_give_nothing_and_no_crash() -> None:
    svc = bn.web_service(public_ip="ENABLED")
    assert cc.network(Facts(b.bundle()), str(svc["serviceArn"])) == {}  # no services
    refused = b.bundle(services=[svc])
    refused["errors"] = [{"collection": "subnets", "operation": "ec2:DescribeSubnets",
                          "code": "UnauthorizedOperation", "message": "denied"}]
    got = cc.network(Facts(refused), str(svc["serviceArn"]))
    assert got["assign_public_ip"] == "ENABLED" and "vpc" not in got


def test_ecr_parts_of_an_image_pinned_by_digest() -> None:
    digest = "sha256:" + "0f" * 32
    got = cc.from_data({"image": f"{ECR}/team/api@{digest}"})
    assert got["ecr_repository"] == "team/api" and got["ecr_image_id"] == f"imageDigest={digest}"
    assert got["ecr_registry_id"] == "123456789012"
    assert got["registry_login"] == ("aws ecr get-login-password --region eu-west-1 | docker "
                                     f"login --username AWS --password-stdin {ECR}")
    assert cc.from_data({"image": f"{ECR}/api"})["ecr_image_id"] == "imageTag=latest"


def test_other_registries_get_their_own_login_and_no_ecr_parts() -> None:
    assert cc.from_data({"image": "ghcr.io/acme/web:1"}) == {
        "registry_login": "docker login ghcr.io"}
    assert cc.from_data({"image": "nginx:1.27"}) == {"registry_login": "docker login"}


def test_one_group_where_an_option_takes_one() -> None:
    got = cc.from_data({"security_groups": ["sg-1", "sg-2"], "lb_security_groups": ["sg-9"],
                        "containers": ["app", "envoy"]})
    assert got == {"task_security_group": "sg-1", "lb_security_group": "sg-9",
                   "first_container": "app"}
    assert cc.from_data({"security_groups": []}) == {}


def _external(controller: str = "EXTERNAL") -> dict[str, object]:
    """A service run by task sets: the draining set in a private subnet, the PRIMARY one
    in public subnets with a public IP, and no network configuration of its own."""
    draining = ts.task_set("web", "1", revision=1, status="DRAINING", public_ip="DISABLED",
                           subnets=(bn.PRIVATE[0],))
    primary = ts.task_set("web", "2", revision=2, public_ip="ENABLED", subnets=bn.PUBLIC,
                          groups=(bn.TASK_SG,))
    svc = ts.external_service("web", draining, primary, controller=controller)
    svc.pop("networkConfiguration", None)
    return svc


def test_network_of_a_task_set_service_is_its_primary_task_sets() -> None:
    """An EXTERNAL service has no network configuration of its own: the command values are
    its PRIMARY task set's, and its network changes through a new task set (UpdateService
    refuses a network configuration for it)."""
    svc = _external()
    facts = Facts(b.bundle(services=[svc], subnets=[bn.subnet(s, "10.0.0.0/24", "us-east-1a")
                                                    for s in bn.PUBLIC]))
    got = cc.network(facts, str(svc["serviceArn"]))
    assert (got["awsvpc_subnets"], got["assign_public_ip"], got["awsvpc_security_groups"]) == (
        ",".join(bn.PUBLIC), "ENABLED", bn.TASK_SG)
    assert got["vpc"] == bn.VPC
    assert got["network_update"] == f"create-task-set --task-definition {b.td_arn('web', 2)}"


def test_a_service_of_the_ecs_controller_updates_itself() -> None:
    svc = bn.web_service(public_ip="ENABLED")
    assert "network_update" not in cc.network(Facts(b.bundle(services=[svc])),
                                              str(svc["serviceArn"]))


def test_a_task_set_services_network_command_is_one_aws_accepts() -> None:
    """The whole report of an EXTERNAL service whose task set has public IPs: no command
    sets its network through UpdateService, and the task-set one keeps its subnets."""
    world = bn.World(services=[_external()], tasks=[
        bn.eni_task("web", bn.PUBLIC[0], bn.AZS[0], "10.0.101.10")])
    report = Engine().analyze(world.bundle())
    commands = [r.command for d in report.diagnoses for r in d.remediation if r.command
                and "--network-configuration" in r.command]
    assert any(d.id == "public-task-ip" for d in report.diagnoses) and commands
    for command in commands:
        words = shlex.split(command)
        assert words[:3] == ["aws", "ecs", "create-task-set"], command
        assert words[words.index("--task-definition") + 1] == b.td_arn("web", 2)
        assert problems(command) == []
