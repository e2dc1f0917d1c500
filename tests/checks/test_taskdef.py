from __future__ import annotations

from typing import Any

import pytest

from checks.lib.heap import heap_settings
from tests import builders as b
from tests import builders_taskdef as t
from tests.checks.harness import run_check

WEB = b.service_arn("prod", "web")


def _one(check_id: str, bundle: dict[str, Any]) -> Any:
    (f,) = run_check(check_id, bundle)
    return f


def _statuses(check_id: str, bundle: dict[str, Any]) -> list[str]:
    return [f.status.value for f in run_check(check_id, bundle)]


# -- container-no-memory-limit ------------------------------------------------------------
@pytest.mark.parametrize(("container", "task_memory", "expected"), [
    ({"memoryReservation": 256}, None, "fail"),
    ({}, None, "fail"),
    ({"memory": 512}, None, "pass"),
    ({"memoryReservation": 256}, "1024", "pass"),  # Fargate-style task-level memory bounds it
])
def test_container_no_memory_limit(container: dict, task_memory: str | None,
                                   expected: str) -> None:
    extra = {"memory": task_memory} if task_memory else {}
    td = b.task_definition("reports", containers=[b.container_def("reports", **container)],
                           **extra)
    bundle = b.ecs_bundle([b.service("reports")], [], [td])
    (f,) = run_check("container-no-memory-limit", bundle)
    assert f.status.value == expected
    assert f.service == b.service_arn("prod", "reports")
    if expected == "fail":
        assert f.message.startswith("task def reports:1 container reports:")


def test_unused_task_definition_is_still_checked() -> None:
    td = b.task_definition("batch", containers=[b.container_def("batch", memoryReservation=64)])
    (f,) = run_check("container-no-memory-limit", b.ecs_bundle([], [], [td]))
    assert f.status.value == "fail" and f.service is None


def test_one_result_per_using_service() -> None:
    td = t.ec2_td("shared", t.ctr("shared", memoryReservation=64))
    svcs = [b.service(n, family="shared", desired=3) for n in ("api", "worker")]
    findings = run_check("container-no-memory-limit", t.bundle([td], svcs))
    assert sorted(str(f.service) for f in findings) == sorted(str(s["serviceArn"]) for s in svcs)
    assert all(f.data["affected_tasks"] == 3 for f in findings)
    assert "(used by service prod/api)" in findings[0].message


# -- fargate-task-size-invalid ---------------------------------------------------------------
@pytest.mark.parametrize(("cpu", "memory", "extra", "expected"), [
    ("256", "512", {}, "pass"),
    ("1 vcpu", "2 gb", {}, "pass"),             # string sizes, converted at registration
    (".25 vCPU", ".5 GB", {}, "pass"),
    ("4096", "30720", {}, "pass"),
    ("8192", "20480", {}, "pass"),              # 16–60 GB in 4 GB steps
    ("8192", "18432", {}, "fail"),              # not a 4 GB step
    ("256", "4096", {}, "fail"),
    ("384", "1024", {}, "fail"),                # not a Fargate CPU size
    ("512", "1024", {"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE"}},
     "fail"),                                   # Windows needs at least 1 vCPU
    ("1024", "2048", {"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_FULL"}},
     "pass"),
    ("{{cpu}}", "512", {}, "unknown"),          # template placeholder
])
def test_fargate_task_size(cpu: str, memory: str, extra: dict, expected: str) -> None:
    td = t.fargate_td("web", t.ctr("app"), cpu=cpu, memory=memory, **extra)
    f = _one("fargate-task-size-invalid", t.bundle([td], [b.service("web")]))
    assert f.status.value == expected, f.message
    assert f.service == WEB


def test_fargate_task_size_missing_and_launch_type() -> None:
    # No requiresCompatibilities, but the service launches it on Fargate: still checked.
    td = t.td("web", t.ctr("app", memory=512), cpu="256")
    f = _one("fargate-task-size-invalid", t.bundle([td], [b.service("web")]))
    assert f.status.value == "fail" and "no task-level memory" in f.message
    ec2 = t.ec2_td("batch", t.ctr("batch", memory=128))
    assert _statuses("fargate-task-size-invalid", t.bundle([ec2])) == ["skipped"]


# -- task-cpu-unreserved ----------------------------------------------------------------------
@pytest.mark.parametrize(("container", "extra", "expected"), [
    ({"cpu": 0}, {}, "fail"),
    ({}, {}, "fail"),
    ({"cpu": 256}, {}, "pass"),
    ({}, {"cpu": "512"}, "pass"),
    ({}, {"cpu": "512", "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2019_FULL"}},
     "fail"),                                   # Windows ignores the task-level value
])
def test_task_cpu_unreserved(container: dict, extra: dict, expected: str) -> None:
    td = t.ec2_td("batch", t.ctr("batch", memory=256, **container), **extra)
    assert _statuses("task-cpu-unreserved", t.bundle([td])) == [expected]


def test_task_cpu_unreserved_skips_fargate() -> None:
    td = t.fargate_td("web", t.ctr("app"))
    assert _statuses("task-cpu-unreserved", t.bundle([td], [b.service("web")])) == ["skipped"]


# -- task-memory-near-limit ---------------------------------------------------------------
@pytest.mark.parametrize(("values", "expected"), [
    ([40.0, 97.5, 60.0], "fail"),
    ([40.0, 95.0], "fail"),
    ([40.0, 70.0, 80.0], "pass"),
])
def test_task_memory_near_limit(values: list[float], expected: str) -> None:
    td = t.fargate_td("web", t.ctr("app"), cpu="256", memory="1024")
    bundle = t.bundle([td], [b.service("web")], [t.memory_max("web", values)])
    f = _one("task-memory-near-limit", bundle)
    assert f.status.value == expected and f.service == WEB
    assert f.data["limit_mib"] == 1024 and f.data["peak_pct"] == max(values)
    peak = f"{max(values):.0f}%"
    assert f"busiest task peaked at {peak} of its 1024 MiB task memory" in f.message


@pytest.mark.parametrize(("metrics", "td", "expected"), [
    ([], t.fargate_td("web", t.ctr("app")), "unknown"),                       # no series
    ([t.memory_max("web", [99.0], stat="Average")], t.fargate_td("web", t.ctr("app")),
     "unknown"),                                                              # wrong stat
    ([t.memory_max("web", [140.0])], t.ec2_td("web", t.ctr("app", memoryReservation=256)),
     "skipped"),                                                              # soft limits only
    ([t.memory_max("web", [96.0])], t.ec2_td("web", t.ctr("app", memory=256),
                                             t.ctr("side", memory=64)), "fail"),
])
def test_task_memory_near_limit_edges(metrics: list, td: dict, expected: str) -> None:
    bundle = t.bundle([td], [b.service("web", launchType="EC2")], metrics)
    f = _one("task-memory-near-limit", bundle)
    assert f.status.value == expected, f.message
    if expected == "unknown":
        assert "needs AWS/ECS MemoryUtilization" in f.message


def test_task_memory_near_limit_without_metrics_collection() -> None:
    bundle = t.bundle([t.fargate_td("web", t.ctr("app"))], [b.service("web")])
    del bundle["metrics"]
    assert _statuses("task-memory-near-limit", bundle) == ["unknown"]


# -- runtime-heap-exceeds-limit ---------------------------------------------------------------
@pytest.mark.parametrize(("container", "expected", "severity"), [
    ({"command": ["java", "-Xmx1536m", "-jar", "app.jar"]}, "fail", "high"),
    ({"env": {"JAVA_OPTS": "-Xms256m -Xmx2G"}}, "fail", "high"),               # unit case
    ({"env": {"JAVA_OPTS": "-Xmx1g"}}, "fail", "medium"),                     # 100%: too close
    ({"env": {"JAVA_TOOL_OPTIONS": "-Xmx1000000k"}}, "fail", "medium"),      # 95%
    ({"env": {"JAVA_OPTS": "-Xmx512m"}}, "pass", None),
    ({"env": {"JAVA_OPTS": "-XX:MaxRAMPercentage=90.0"}}, "fail", "medium"),
    ({"env": {"JAVA_OPTS": "-XX:MaxRAMPercentage=75"}}, "pass", None),
    ({"env": {"JAVA_OPTS": "-XX:MaxRAMPercentage=95 -Xmx512m"}}, "pass", None),  # -Xmx wins
    ({"env": {"JAVA_OPTS": "-XX:MaxRAMFraction=1"}}, "fail", "medium"),      # 100% of RAM
    ({"env": {"JAVA_OPTS": "-Xms2g -Xmx512m"}}, "fail", "high"),              # initial heap
    ({"env": {"JAVA_TOOL_OPTIONS": "-Xmx2g", "_JAVA_OPTIONS": "-Xmx512m"}}, "pass", None),
    ({"env": {"JAVA_TOOL_OPTIONS": "-Xmx512m", "_JAVA_OPTIONS": "-Xmx2g"}}, "fail", "high"),
    ({"command": ["sh", "-c", "java -Xmx2g -Xmx512m -jar app.jar"]}, "pass", None),  # last wins
    ({"env": {"NODE_OPTIONS": "--max-old-space-size=2048"}}, "fail", "high"),
    ({"env": {"NODE_OPTIONS": "--max-old-space-size=512"}}, "pass", None),
    ({"entryPoint": ["node", "--max_old_space_size=4096"], "command": ["server.js"]},
     "fail", "high"),
    ({"env": {"NODE_OPTIONS": "--max-old-space-size=4096"},
      "command": ["node", "--max-old-space-size=512", "server.js"]}, "pass", None),
])
def test_runtime_heap(container: dict, expected: str, severity: str | None) -> None:
    td = t.ec2_td("web", t.ctr("app", memory=1024, **container))
    f = _one("runtime-heap-exceeds-limit", t.bundle([td], [b.service("web", launchType="EC2")]))
    assert f.status.value == expected, f.message
    assert f.service == WEB
    if severity:
        assert f.severity.value == severity
        assert f.data["affected_tasks"] == 2


def test_runtime_heap_message_names_flag_and_limit() -> None:
    td = t.ec2_td("web", t.ctr("app", memory=1024, command=["java", "-Xmx1536m", "-jar", "x"]),
                  revision=42)
    svc = b.service("web", launchType="EC2", revision=42)
    f = _one("runtime-heap-exceeds-limit", t.bundle([td], [svc]))
    assert f.message == ("task def web:42 container app: -Xmx1536m but memory hard limit "
                         "1024 MiB (used by service prod/web)")
    assert f.data["heap_mib"] == 1536 and f.data["limit_mib"] == 1024


def test_runtime_heap_uses_task_memory_without_container_limit() -> None:
    td = t.fargate_td("web", t.ctr("app", env={"JAVA_OPTS": "-Xmx768m"}), memory="512")
    f = _one("runtime-heap-exceeds-limit", t.bundle([td], [b.service("web")]))
    assert f.status.value == "fail" and "task memory 512 MiB" in f.message


@pytest.mark.parametrize("container", [
    {"memory": 1024},                                                # no flag at all
    {"memory": 1024, "env": {"JAVA_OPTS": "-Xmx${HEAP}"}},           # unresolved reference
    {"memoryReservation": 256, "env": {"JAVA_OPTS": "-Xmx512m"}},    # nothing to compare with
])
def test_runtime_heap_skipped(container: dict) -> None:
    td = t.ec2_td("web", t.ctr("app", **container))
    assert _statuses("runtime-heap-exceeds-limit", t.bundle([td])) == ["skipped"]


@pytest.mark.parametrize(("text", "mib"), [
    ("-Xmx1073741824", 1024.0), ("-Xmx1048576k", 1024.0), ("-Xmx1024M", 1024.0),
    ("-Xmx1g", 1024.0), ("-XX:MaxHeapSize=2G", 2048.0), ("-Xmx1t", 1048576.0),
])
def test_heap_units(text: str, mib: float) -> None:
    (heap,) = heap_settings(t.ctr("app", env={"JAVA_OPTS": text}))
    assert heap.mib == mib


# -- container-no-log-configuration -----------------------------------------------------------
@pytest.mark.parametrize(("container", "expected"), [
    ({"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/web"}}},
     "pass"),
    ({"logConfiguration": {"logDriver": "awsfirelens"}}, "pass"),
    ({"logConfiguration": None}, "fail"),
])
def test_container_no_log_configuration(container: dict, expected: str) -> None:
    td = t.fargate_td("web", t.ctr("app", **container))
    assert _statuses("container-no-log-configuration",
                     t.bundle([td], [b.service("web")])) == [expected]


# -- lb-container-no-health-check ----------------------------------------------------------
HC = {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"]}


@pytest.mark.parametrize(("containers", "expected"), [
    ([t.web_ctr("app", healthCheck=HC), t.ctr("log-router", essential=False)], ["pass"]),
    ([t.web_ctr("app"), t.ctr("log-router", essential=False)], ["fail"]),
    ([t.web_ctr("app", essential=False), t.ctr("main")], ["skipped"]),  # not essential
])
def test_lb_container_no_health_check(containers: list, expected: list) -> None:
    td = t.fargate_td("web", *containers)
    assert _statuses("lb-container-no-health-check",
                     t.bundle([td], [t.lb_service("web")])) == expected


def test_lb_health_check_ignores_services_without_load_balancer() -> None:
    td = t.fargate_td("web", t.web_ctr("app"))
    assert _statuses("lb-container-no-health-check",
                     t.bundle([td], [b.service("web")])) == ["skipped"]


# -- container-nofile-ulimit-low ----------------------------------------------------------
def _nofile(soft: int) -> dict:
    return {"ulimits": [{"name": "nofile", "softLimit": soft, "hardLimit": max(soft, 4096)}]}


@pytest.mark.parametrize(("td", "launch", "expected"), [
    (t.ec2_td("web", t.web_ctr("app", memory=256, **_nofile(1024))), "EC2", "fail"),
    (t.ec2_td("web", t.web_ctr("app", memory=256, **_nofile(65535))), "EC2", "pass"),
    (t.fargate_td("web", t.web_ctr("app", **_nofile(256))), "FARGATE", "fail"),
    (t.fargate_td("web", t.web_ctr("app")), "FARGATE", "pass"),       # Fargate default 65535
    (t.ec2_td("web", t.web_ctr("app", memory=256)), "EC2", "unknown"),  # host default unseen
    (t.ec2_td("web", t.web_ctr("app", memory=256, **_nofile(1024)),
              runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE"}), "EC2",
     "skipped"),
    (t.ec2_td("web", t.ctr("worker", memory=256, **_nofile(128))), "EC2", "skipped"),  # no port
])
def test_container_nofile_ulimit_low(td: dict, launch: str, expected: str) -> None:
    bundle = t.bundle([td], [b.service("web", launchType=launch)])
    assert _statuses("container-nofile-ulimit-low", bundle) == [expected]


# -- container-image-tag-mutable ----------------------------------------------------------
@pytest.mark.parametrize(("image", "expected"), [
    ("nginx", "fail"),
    ("nginx:latest", "fail"),
    ("public.ecr.aws/nginx/nginx:LATEST", "fail"),
    ("localhost:5000/app", "fail"),                       # registry port is not a tag
    ("localhost:5000/app:2.0", "pass"),
    ("nginx:1.25.3", "pass"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:" + "a" * 64, "pass"),
    ("nginx:latest@sha256:" + "b" * 64, "pass"),          # the digest pins it
    ("<IMAGE1_NAME>", "fail"),                           # unrendered: pins nothing
    ("nginx:{{ env `TAG` `latest` }}", "fail"),
    ("${ECR_URI}:${IMAGE_TAG}", "fail"),
    ("REPLACED_BY_CI", "fail"),
    (" ", "fail"),                                        # empty
    ("nginx:stable", "fail"),
    ("app:main", "fail"),
    ("app:DEV", "fail"),
    ("datadog/agent:debug", "fail"),                      # no version-like part
    ("app:IMAGE_TAG", "fail"),
    ("nginx:1.25-alpine", "pass"),
    ("public.ecr.aws/xray/aws-xray-daemon:3.x", "pass"),
    ("app:v2", "pass"),
    ("app:2026.11.19", "pass"),
    ("app:3f9c2ab", "pass"),                              # a git sha
])
def test_container_image_tag_mutable(image: str, expected: str) -> None:
    td = t.fargate_td("web", t.ctr("app", image=image))
    assert _statuses("container-image-tag-mutable", t.bundle([td])) == [expected]


# -- xray-sidecar-misconfigured -----------------------------------------------------------
@pytest.mark.parametrize(("daemon", "expected", "severity"), [
    (t.xray(), "pass", None),
    (t.xray(portMappings=[{"containerPort": 2000, "protocol": "tcp"}]), "fail", "medium"),
    (t.xray(portMappings=[]), "fail", "medium"),
    (t.xray(essential=True), "fail", "low"),
    (t.xray(memoryReservation=None), "fail", "low"),
    (t.xray(image="123456789012.dkr.ecr.us-east-1.amazonaws.com/xray-daemon:latest",
            essential=True), "fail", "low"),      # a private mirror is still the daemon
])
def test_xray_sidecar(daemon: dict, expected: str, severity: str | None) -> None:
    td = t.fargate_td("web", t.web_ctr("app"), daemon, taskRoleArn=t.TASK_ROLE)
    bundle = t.bundle([td], [b.service("web")])
    bundle["resources"]["task_role_simulations"] = [t.role_simulation()]
    f = _one("xray-sidecar-misconfigured", bundle)
    assert f.status.value == expected, f.message
    if severity:
        assert f.severity.value == severity


def test_xray_absent_is_skipped() -> None:
    td = t.fargate_td("web", t.web_ctr("app"))
    assert _statuses("xray-sidecar-misconfigured", t.bundle([td])) == ["skipped"]


# -- dotnet-monitor-sidecar-misconfigured ---------------------------------------------------
def _mount(path: str, volume: str = "diag") -> dict:
    return {"mountPoints": [{"sourceVolume": volume, "containerPath": path}]}


PORT = {"DOTNET_DiagnosticPorts": "/diag/dotnet-monitor.sock,nosuspend"}


@pytest.mark.parametrize(("app", "monitor", "expected", "severity"), [
    (t.web_ctr("app", env=PORT, **_mount("/diag")),
     t.ctr("monitor", image=t.MONITOR_IMAGE, essential=False, **_mount("/diag")), "pass", None),
    (t.web_ctr("app", **_mount("/tmp")),                       # default connect mode via /tmp
     t.ctr("monitor", image=t.MONITOR_IMAGE, essential=False, **_mount("/tmp")), "pass", None),
    (t.web_ctr("app", env=PORT),                               # nothing shared
     t.ctr("monitor", image=t.MONITOR_IMAGE, essential=False, **_mount("/diag")),
     "fail", "medium"),
    (t.web_ctr("app", env={"DOTNET_DiagnosticPorts": "/var/run/port.sock"}, **_mount("/diag")),
     t.ctr("monitor", image=t.MONITOR_IMAGE, essential=False, **_mount("/diag")),
     "fail", "medium"),                                        # socket outside the volume
    (t.web_ctr("app", **_mount("/diag")),                      # no port variable, /tmp private
     t.ctr("monitor", image=t.MONITOR_IMAGE, essential=False, **_mount("/diag")),
     "fail", "medium"),
    (t.web_ctr("app", env=PORT, **_mount("/diag")),
     t.ctr("monitor", image=t.MONITOR_IMAGE, **_mount("/diag")), "fail", "low"),  # essential
])
def test_dotnet_monitor_sidecar(app: dict, monitor: dict, expected: str,
                                severity: str | None) -> None:
    td = t.fargate_td("web", app, monitor, volumes=[{"name": "diag"}])
    f = _one("dotnet-monitor-sidecar-misconfigured", t.bundle([td], [b.service("web")]))
    assert f.status.value == expected, f.message
    if severity:
        assert f.severity.value == severity


def test_dotnet_monitor_absent_is_skipped() -> None:
    td = t.fargate_td("web", t.web_ctr("app"))
    assert _statuses("dotnet-monitor-sidecar-misconfigured", t.bundle([td])) == ["skipped"]


# -- odd input never crashes a check ------------------------------------------------------------
ODD_CONTAINERS: list[dict[str, Any]] = [
    {"name": "a", "image": 5, "cpu": "abc", "memory": "1 gb", "memoryReservation": True},
    {"name": "b", "logConfiguration": "awslogs", "healthCheck": "curl", "ulimits": "nofile",
     "portMappings": "8080", "mountPoints": None, "environment": [{"name": 5}, "x", None]},
    {"name": "c", "portMappings": [8080, {"containerPort": "80"}],
     "ulimits": [{"name": "nofile", "softLimit": "lots"}], "command": "java -Xmx2g -jar x",
     "entryPoint": [None, 3], "environment": {"JAVA_OPTS": "-Xmx1g"}},
    {"name": "d", "image": "", "essential": "yes", "privileged": "true",
     "mountPoints": [{"sourceVolume": None}, "x"], "environment": [{"name": "K", "value": 7}]},
]


@pytest.mark.parametrize("td_extra", [
    {"cpu": True, "memory": [], "runtimePlatform": "LINUX", "requiresCompatibilities": "FARGATE"},
    {"cpu": "1.5 vcpu", "memory": "3.5GB", "requiresCompatibilities": ["FARGATE", "EC2"]},
    {"cpu": None, "memory": "512 MiB", "requiresCompatibilities": [None, 3]},
])
@pytest.mark.parametrize("container", ODD_CONTAINERS)
def test_odd_values_do_not_crash(td_extra: dict, container: dict) -> None:
    from checker.facts import Facts
    from checker.graph import run
    from tests.checks.harness import REGISTRY

    td = {"taskDefinitionArn": b.td_arn("odd", 1), "family": "odd",
          "containerDefinitions": [container, "junk"], **td_extra}
    svc = dict(t.lb_service("odd", container=str(container["name"])))
    svc.update(capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT"}], launchType="")
    bundle = t.bundle([td], [svc], [t.memory_max("odd", [None, "x", 50.0])])
    ids = {s.id for s in REGISTRY if s.area in ("taskdef", "security")}
    crashed = [f"{f.check}: {f.message}" for f in run(REGISTRY, Facts(bundle))
               if f.check in ids and "internal_error" in f.data]
    assert not crashed
