"""AWS's own task definition rules, offline (checks/gate/aws_rules.py): one task definition of
ours per rule of checks/data/aws_taskdef_rules.yaml, each breaking that rule alone. Through
the real CLI each exits 1 and names its rule, at the JSON path of the field to fix; the two
well-formed bases pass every rule."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checks.gate.aws_rules import rules, violations

ROLE = "arn:aws:iam::123456789012:role/web-exec"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2"
LOGS = {"logDriver": "awslogs", "options": {
    "awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web"}}
HEALTH = {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
          "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 10}

FARGATE_BASE: dict[str, Any] = {
    "family": "web", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
    "cpu": "256", "memory": "512", "executionRoleArn": ROLE,
    "containerDefinitions": [{
        "name": "app", "image": IMAGE, "essential": True, "readonlyRootFilesystem": True,
        "user": "1000", "portMappings": [{"containerPort": 8080, "hostPort": 8080}],
        "logConfiguration": LOGS, "healthCheck": HEALTH}],
}
EC2_BASE: dict[str, Any] = {
    "family": "batch", "requiresCompatibilities": ["EC2"], "networkMode": "bridge",
    "executionRoleArn": ROLE,
    "volumes": [{"name": "scratch", "host": {"sourcePath": "/srv/scratch"}}],
    "containerDefinitions": [
        {"name": "app", "image": IMAGE, "essential": True, "memory": 512,
         "readonlyRootFilesystem": True, "user": "1000", "logConfiguration": LOGS,
         "healthCheck": HEALTH, "links": ["cache:redis"],
         "volumesFrom": [{"sourceContainer": "cache"}],
         "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}],
         "portMappings": [{"containerPort": 8080, "hostPort": 0}],
         "dependsOn": [{"containerName": "cache", "condition": "START"}]},
        {"name": "cache", "image": "public.ecr.aws/docker/library/redis:7.2", "essential": False,
         "memoryReservation": 128, "memory": 256, "readonlyRootFilesystem": True,
         "user": "999", "logConfiguration": LOGS}],
}


def fargate(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    td = copy.deepcopy(FARGATE_BASE)
    change(td)
    return td


def ec2(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    td = copy.deepcopy(EC2_BASE)
    change(td)
    return td


def app(td: dict[str, Any]) -> dict[str, Any]:
    ctr: dict[str, Any] = td["containerDefinitions"][0]
    return ctr


def _linux(**params: Any) -> Callable[[dict[str, Any]], None]:
    return lambda td: app(td).update(linuxParameters=params)


#: rule → (its task definition, the JSON path the finding must point at).
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "essential-container": (fargate(lambda td: app(td).update(essential=False)),
                            "containerDefinitions"),
    "container-name-unique": (
        fargate(lambda td: td["containerDefinitions"].append(
            {**app(td), "essential": False, "portMappings": []})),
        "containerDefinitions[1].name"),
    "container-name-valid": (fargate(lambda td: app(td).update(name="my app")),
                             "containerDefinitions[0].name"),
    "family-valid": (fargate(lambda td: td.update(family="web:v2")), "family"),
    "image-present": (fargate(lambda td: app(td).update(image=" ")),
                      "containerDefinitions[0].image"),
    "depends-on-exists": (
        ec2(lambda td: app(td).update(dependsOn=[{"containerName": "db",
                                                  "condition": "START"}])),
        "containerDefinitions[0].dependsOn[0].containerName"),
    "links-exist": (ec2(lambda td: app(td).update(links=["db:postgres"])),
                    "containerDefinitions[0].links[0]"),
    "volumes-from-exist": (ec2(lambda td: app(td).update(volumesFrom=[{"sourceContainer": "x"}])),
                           "containerDefinitions[0].volumesFrom[0].sourceContainer"),
    "mount-volume-exists": (ec2(lambda td: td.update(volumes=[])),
                            "containerDefinitions[0].mountPoints[0].sourceVolume"),
    "awsvpc-no-links": (ec2(lambda td: td.update(networkMode="awsvpc") or app(td).update(
        portMappings=[{"containerPort": 8080}])), "containerDefinitions[0].links"),
    "host-port-matches": (
        fargate(lambda td: app(td).update(portMappings=[{"containerPort": 80,
                                                         "hostPort": 8080}])),
        "containerDefinitions[0].portMappings[0].hostPort"),
    "no-ports-without-network": (
        ec2(lambda td: td.update(networkMode="none") or app(td).pop("links")),
        "containerDefinitions[0].portMappings"),
    "port-range": (
        fargate(lambda td: app(td).update(portMappings=[{"containerPortRange": "9000-8000"}])),
        "containerDefinitions[0].portMappings[0].containerPortRange"),
    "fargate-awsvpc": (fargate(lambda td: td.update(networkMode="bridge")), "networkMode"),
    "fargate-task-size": (fargate(lambda td: td.update(memory="4096")), "cpu"),
    "fargate-no-privileged": (fargate(lambda td: app(td).update(privileged=True)),
                              "containerDefinitions[0].privileged"),
    "fargate-no-host-volume": (
        fargate(lambda td: td.update(volumes=[{"name": "v", "host": {"sourcePath": "/data"}}])),
        "volumes[0].host.sourcePath"),
    "fargate-no-docker-volume": (
        fargate(lambda td: td.update(volumes=[{"name": "v", "dockerVolumeConfiguration": {
            "scope": "task", "driver": "local"}}])),
        "volumes[0].dockerVolumeConfiguration"),
    "fargate-no-devices": (
        fargate(_linux(devices=[{"hostPath": "/dev/fuse"}])),
        "containerDefinitions[0].linuxParameters.devices"),
    "fargate-linux-parameters": (fargate(_linux(sharedMemorySize=256)),
                                 "containerDefinitions[0].linuxParameters.sharedMemorySize"),
    "fargate-capabilities": (
        fargate(_linux(capabilities={"add": ["SYS_PTRACE", "NET_ADMIN"]})),
        "containerDefinitions[0].linuxParameters.capabilities.add[1]"),
    "fargate-pid-ipc": (fargate(lambda td: td.update(pidMode="host")), "pidMode"),
    "container-memory-within-task": (fargate(lambda td: app(td).update(memory=1024)),
                                     "containerDefinitions[0].memory"),
    "containers-memory-sum": (
        ec2(lambda td: td.update(memory="512") or app(td).update(memory=400)), "memory"),
    "memory-reservation-within-memory": (
        ec2(lambda td: td["containerDefinitions"][1].update(memoryReservation=512)),
        "containerDefinitions[1].memoryReservation"),
    "container-memory-minimum": (ec2(lambda td: app(td).update(memory=4)),
                                 "containerDefinitions[0].memory"),
    "ec2-memory-required": (ec2(lambda td: app(td).pop("memory")),
                            "containerDefinitions[0].memory"),
    "ephemeral-storage-range": (fargate(lambda td: td.update(ephemeralStorage={"sizeInGiB": 10})),
                                "ephemeralStorage.sizeInGiB"),
    "health-check-range": (fargate(lambda td: app(td)["healthCheck"].update(interval=1)),
                           "containerDefinitions[0].healthCheck.interval"),
    "awslogs-options": (
        fargate(lambda td: app(td).update(logConfiguration={"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1"}})),
        "containerDefinitions[0].logConfiguration.options"),
    "windows-unsupported": (
        fargate(lambda td: td.update(cpu="1024", memory="2048", runtimePlatform={
            "operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}) or app(td).update(
                linuxParameters={"initProcessEnabled": True})),
        "containerDefinitions[0].linuxParameters"),
}


def test_every_rule_has_its_task_definition() -> None:
    assert set(CASES) == set(rules())


@pytest.mark.parametrize("base", [FARGATE_BASE, EC2_BASE], ids=["fargate", "ec2"])
def test_the_bases_break_no_rule(base: dict[str, Any]) -> None:
    assert violations(base) == []


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_case_breaks_its_rule_alone(rule: str) -> None:
    td, path = CASES[rule]
    assert [(v.rule, v.path) for v in violations(td)] == [(rule, path)]


@pytest.mark.parametrize("rule", sorted(CASES))
def test_the_gate_exits_1_naming_the_rule(rule: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    td, path = CASES[rule]
    file = tmp_path / f"{rule}.json"
    file.write_text(json.dumps(td, indent=2))
    out = tmp_path / "report.json"
    code = main(["gate", "-t", str(file), "-f", "json", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "gate-aws-would-reject" in err
    report = json.loads(out.read_text())
    (hit,) = [f for f in report["findings"] if f["check"] == "gate-aws-would-reject"
              and f["status"] == "fail"]
    assert hit["severity"] == "critical" and hit["data"]["rule"] == rule
    assert hit["data"]["json_path"] == path and isinstance(hit["data"]["line"], int)
    assert hit["message"].startswith("AWS would reject this task definition: ")
    assert f"({rule})" in hit["message"]
    assert hit["data"]["source"].startswith("https://docs.aws.amazon.com/")


@pytest.mark.parametrize("host_port", [None, 0, 8080])
def test_awsvpc_host_port_absent_zero_or_equal_is_accepted(host_port: int | None) -> None:
    """ECS fills an absent or 0 hostPort with containerPort under awsvpc."""
    mapping = {"containerPort": 8080, **({} if host_port is None else {"hostPort": host_port})}
    assert violations(fargate(lambda td: app(td).update(portMappings=[mapping]))) == []
