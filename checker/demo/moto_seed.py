"""Seed the state that moto's public API cannot produce (see shared/design/MOTO.md).

moto answers the ECS/EC2/ELBv2 APIs well enough for ecsdoctor's collectors, but several facts
an incident is made of have no setter: exit codes, ``stopCode``, container ``reason``, service
events, circuit-breaker state, realistic container-instance resources, blackhole routes, failed
NAT gateways, CPU-credit modes and unhealthy targets. These helpers write them straight onto
moto's backend objects; the class patches some of them need (and an indexed GetMetricData)
live in :mod:`checker.demo.moto_patches` and are re-exported here.

Why that works: moto's response serializer reads every member of the botocore output shape
from the model object, under the member name or its snake_case form, so an attribute moto never
defined (``task.stop_code``) is still emitted (``stopCode``). Attributes set to ``None`` are
omitted, as AWS omits absent fields.

Rules of use:

* Call these in the process that holds the moto backends: inside ``mock_aws()``, or in the
  process that runs ``ThreadedMotoServer``. A client in another process cannot reach them.
* Importing this module changes nothing. moto is imported inside the functions (the CLI must
  not pay for moto at start-up) and class patches happen only in :func:`install_patches` or
  the helper that needs them, each idempotent.
* moto state is process-global: two mocks in one process share these backends and the
  task-transition setting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

from checker.demo.moto_patches import (
    CREDIT_MODE,
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    TARGET_HEALTH,
    blackhole_route,
    install_patches,
    patch_credit_specs,
    patch_metric_data,
    patch_route_state,
    patch_target_health,
    reset_overrides,
    set_nat_state,
    uninstall_patches,
)

__all__ = [
    "CREDIT_MODE", "DEFAULT_ACCOUNT", "DEFAULT_REGION", "ECS_TASK_MODEL", "TARGET_HEALTH",
    "ContainerSpec", "add_service_event", "blackhole_route", "ec2_backend", "ecs_backend",
    "enrich_task", "find_task", "freeze_tasks_running", "install_patches",
    "patch_credit_specs", "patch_metric_data", "patch_route_state", "patch_target_health",
    "reset_backends", "reset_overrides", "set_cluster_fields", "set_container_instance_resources",
    "set_nat_state", "set_service_fields", "set_task_eni_address", "stop_task_with",
    "tasks_frozen", "unfreeze_tasks", "uninstall_patches",
]


ECS_TASK_MODEL = "ecs::task"
# moto moves a RUNNING task one status further on each describe_tasks (MOTO.md finding 1);
# "manual, 10**9 times" means it never gets there.
_FROZEN = {"progression": "manual", "times": 10**9}
_UTC = dt.UTC

class ContainerSpec(TypedDict):
    """One container of a seeded task. ``name`` must exist in the task definition."""

    name: str
    exit_code: NotRequired[int | None]
    reason: NotRequired[str | None]
    last_status: NotRequired[str]
    health_status: NotRequired[str]
    image: NotRequired[str]
    image_digest: NotRequired[str]
    runtime_id: NotRequired[str]
    network_bindings: NotRequired[list[dict[str, Any]]]


# --- backends -------------------------------------------------------------------------------


def ecs_backend(account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account][region]


def ec2_backend(account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _uuid() -> str:
    """moto's own random source, so a seeded moto gives the same ids on every run."""
    from moto.moto_api._internal import mock_random

    return str(mock_random.uuid4())


def _now() -> dt.datetime:
    return dt.datetime.now(_UTC)


# --- task status transitions -----------------------------------------------------------------


def freeze_tasks_running() -> None:
    """Stop moto from advancing task status on each describe_tasks (process-global).

    Without it a scanner that describes a healthy task twice sees it DEACTIVATING, then
    STOPPING. It survives ``mock_aws`` exit and ``/moto-api/reset``: undo it with
    :func:`unfreeze_tasks`.
    """
    from moto.moto_api import state_manager

    state_manager.set_transition(model_name=ECS_TASK_MODEL, transition=dict(_FROZEN))


def unfreeze_tasks() -> None:
    """Remove the custom task transition (back to moto's default). Idempotent."""
    from moto.moto_api import state_manager

    state_manager.unset_transition(ECS_TASK_MODEL)


def tasks_frozen() -> bool:
    """True when :func:`freeze_tasks_running` is in force."""
    from moto.moto_api import state_manager

    return bool(state_manager.get_transition(ECS_TASK_MODEL) == _FROZEN)


# --- tasks ---------------------------------------------------------------------------------


def find_task(
    task_arn: str, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
) -> Any:
    """The moto Task for a full task ARN, in any cluster; KeyError when absent."""
    for tasks in ecs_backend(account, region).tasks.values():  # {cluster: {arn: Task}}
        if task_arn in tasks:
            return tasks[task_arn]
    raise KeyError(task_arn)


def _build_containers(
    task: Any, specs: Sequence[ContainerSpec], default_status: str, backend: Any
) -> list[Any]:
    """Rebuild ``task.containers`` from specs.

    moto models only the first container of the task definition, puts the task-definition
    ARN in ``taskArn``, and reports ``exitCode: 0`` even for running containers.
    """
    from moto.ecs import models as ecs_models

    container_cls: Any = ecs_models.Container  # typed by moto; we add attributes it lacks
    td = backend.describe_task_definition(task.task_definition_arn)
    by_name = {cd["name"]: cd for cd in td.container_definitions}
    enis = [
        {"attachmentId": att["id"], "privateIpv4Address": detail["value"]}
        for att in task.attachments
        for detail in att.get("details", [])
        if detail["name"] == "privateIPv4Address"
    ]
    containers = []
    for spec in specs:
        if spec["name"] not in by_name:
            raise KeyError(f"container {spec['name']!r} is not in {td.arn}")
        cdef = by_name[spec["name"]]
        ctr = container_cls(td)
        ctr.name = spec["name"]
        ctr.task_arn = task.task_arn
        ctr.image = spec.get("image", cdef.get("image"))
        ctr.image_digest = spec.get("image_digest")
        ctr.runtime_id = spec.get("runtime_id")
        ctr.last_status = spec.get("last_status", default_status)
        ctr.exitCode = spec.get("exit_code")  # moto's own attribute name -> "exitCode"
        ctr.reason = spec.get("reason")
        ctr.health_status = spec.get("health_status", "UNKNOWN")
        ctr.cpu = str(cdef.get("cpu", 0))
        ctr.memory = _str_or_none(cdef.get("memory"))
        ctr.memory_reservation = _str_or_none(cdef.get("memoryReservation"))
        ctr.network_bindings = spec.get("network_bindings")
        ctr.network_interfaces = list(enis)
        containers.append(ctr)
    return containers


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def enrich_task(
    task_arn: str,
    *,
    containers: Sequence[ContainerSpec] | None = None,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
    **fields: Any,
) -> Any:
    """Set Task fields moto never fills, by their snake_case names.

    For example ``cpu="256"``, ``memory="512"``, ``availability_zone``, ``connectivity``,
    ``connectivity_at``, ``created_at``, ``pull_started_at``, ``pull_stopped_at``,
    ``started_at``, ``health_status``, ``platform_version``, ``platform_family``,
    ``launch_type``, ``last_status`` (e.g. ``"PENDING"``). ``containers`` rebuilds the
    container list (last status RUNNING, no exit code unless given).
    """
    backend = ecs_backend(account, region)
    task = find_task(task_arn, account=account, region=region)
    for name, value in fields.items():
        setattr(task, name, value)
    if containers is not None:
        status = fields.get("last_status", "RUNNING")
        task.containers = _build_containers(task, containers, status, backend)
    return task


def stop_task_with(
    task_arn: str,
    *,
    stop_code: str,
    stopped_reason: str,
    containers: Sequence[ContainerSpec],
    started_at: dt.datetime | None = None,
    stopped_at: dt.datetime | None = None,
    never_started: bool = False,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
) -> Any:
    """Stop a task the way ECS reports it: stopCode, reason, per-container exit codes.

    moto's stop_task sets only lastStatus/desiredStatus/stoppedReason. This also sets
    ``stopCode``, ``stoppingAt``/``executionStoppedAt``/``stoppedAt`` (``stopped_at``
    defaults to now) and ``startedAt`` (default: kept, else 3 minutes before the stop; none
    with ``never_started``, as for a task that failed to start), and rebuilds the
    containers (lastStatus STOPPED, the given exitCode and reason). Container instance
    resources are not released: set them with set_container_instance_resources.
    """
    backend = ecs_backend(account, region)
    task = find_task(task_arn, account=account, region=region)
    stopped = stopped_at or _now()
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_reason = stopped_reason
    task.stop_code = stop_code  # -> "stopCode"
    task.execution_stopped_at = stopped - dt.timedelta(seconds=6)
    task.stopping_at = stopped - dt.timedelta(seconds=5)
    task.stopped_at = stopped
    task.started_at = None if never_started else (
        started_at or getattr(task, "started_at", None) or stopped - dt.timedelta(minutes=3)
    )
    task.containers = _build_containers(task, containers, "STOPPED", backend)
    return task


def set_task_eni_address(
    task_arn: str,
    private_ip: str,
    *,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
) -> Any:
    """Give an awsvpc task's ENI an address in its subnet, and make it look ECS-managed.

    moto gives task ENIs a random ``10.x.y.z`` that can fall outside the subnet and even the
    VPC, with the description "moto ECS". This sets the address (and DNS name) on the ENI and
    in the task's attachment details, the description ECS uses
    (``arn:aws:ecs:...:attachment/<id>``) and RequesterManaged.
    """
    task = find_task(task_arn, account=account, region=region)
    attachment = next(a for a in task.attachments if a["type"] == "ElasticNetworkInterface")
    details = {d["name"]: d for d in attachment["details"]}
    dns = f"ip-{private_ip.replace('.', '-')}.ec2.internal"
    eni = ec2_backend(account, region).get_network_interface(
        details["networkInterfaceId"]["value"]
    )
    eni.private_ip_address = private_ip
    eni.private_dns_name = dns
    eni.private_ip_addresses = [{"Primary": True, "PrivateIpAddress": private_ip,
                                 "PrivateDnsName": dns}]
    eni.description = f"arn:aws:ecs:{region}:{account}:attachment/{attachment['id']}"
    eni.requester_managed = True
    details["privateIPv4Address"]["value"] = private_ip
    details["privateDnsName"]["value"] = dns
    for container in task.containers:
        container.network_interfaces = [
            {"attachmentId": attachment["id"], "privateIpv4Address": private_ip}
        ]
    return eni


# --- services, clusters, container instances ------------------------------------------------


def add_service_event(
    cluster: str,
    service: str,
    message: str,
    *,
    when: dt.datetime | None = None,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
) -> dict[str, Any]:
    """Add one service event (moto never records any). Kept newest first, as ECS returns
    them, whatever order they are added in."""
    svc = ecs_backend(account, region)._get_service(cluster, service)
    event = {"id": _uuid(), "createdAt": when or _now(), "message": message}
    svc.events.append(event)
    svc.events.sort(key=lambda e: e["createdAt"], reverse=True)
    return event


def set_service_fields(
    cluster: str,
    service: str,
    *,
    deployment: Mapping[str, Any] | None = None,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
    **fields: Any,
) -> Any:
    """Set Service fields moto drops or derives wrongly, by snake_case name.

    For example ``running_count``, ``pending_count``, ``created_at``,
    ``deployment_configuration``, ``health_check_grace_period_seconds``,
    ``placement_strategy``, ``placement_constraints``, ``capacity_provider_strategy``,
    ``enable_execute_command``. ``deployment`` updates the PRIMARY deployment with
    camelCase keys as DescribeServices returns them (``rolloutState``, ``failedTasks``,
    ``runningCount``, ...).
    """
    svc = ecs_backend(account, region)._get_service(cluster, service)
    for name, value in fields.items():
        setattr(svc, name, value)
    if deployment:
        svc.deployments[0].update(deployment)
    return svc


def set_cluster_fields(
    cluster: str,
    *,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
    **fields: Any,
) -> Any:
    """Set Cluster fields by snake_case name; moto leaves ``active_services_count`` at 0 and
    counts ``running_tasks_count`` per placement, never per stop."""
    cl = ecs_backend(account, region)._get_cluster(cluster)
    for name, value in fields.items():
        setattr(cl, name, value)
    return cl


def set_container_instance_resources(
    cluster: str,
    container_instance_arn: str,
    *,
    cpu: int,
    memory: int,
    remaining_cpu: int | None = None,
    remaining_memory: int | None = None,
    attributes: Mapping[str, str] | None = None,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
    **fields: Any,
) -> Any:
    """Give a container instance real registered/remaining CPU and memory.

    moto registers every instance with CPU 4096 / MEMORY 7482 whatever its type; an m5.large
    really registers 2048 / about 7680. ``attributes`` are merged (e.g.
    ``{"ecs.awsvpc-trunk-id": "eni-..."}``); ``fields`` set other attributes by snake_case
    name (``running_tasks_count``, ``pending_tasks_count``, ``version_info``,
    ``agent_connected``, ``registered_at``).
    """
    ci = ecs_backend(account, region).container_instances[cluster][
        container_instance_arn.split("/")[-1]
    ]
    left_cpu = cpu if remaining_cpu is None else remaining_cpu
    left_mem = memory if remaining_memory is None else remaining_memory
    for resources, cpu_value, mem_value in (
        (ci.registered_resources, cpu, memory),
        (ci.remaining_resources, left_cpu, left_mem),
    ):
        for res in resources:
            if res["name"] == "CPU":
                res["integerValue"] = cpu_value
            elif res["name"] == "MEMORY":
                res["integerValue"] = mem_value
    if attributes:
        ci.attributes.update(attributes)
    for name, value in fields.items():
        setattr(ci, name, value)
    return ci


# --- lifecycle ------------------------------------------------------------------------------


def reset_backends() -> None:
    """Clear every moto backend in this process, as ``POST /moto-api/reset`` does. Neither
    touches the task transition (see :func:`unfreeze_tasks`) nor the overrides here."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
