"""The vocabulary of the demo scenario: what a service, a stopped task, a capacity group and a
burstable host's credit history are, and the timeline arithmetic over them. Pure (no AWS, no
moto), so :mod:`checker.demo.scenario` stays a page of data and the builders stay small.

Times are minutes before the moment the demo starts ("minutes ago").
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# --- the real ECS messages (shared/corpus/messages/ecs-messages.tsv) -------------------------
STEADY = "(service {service}) has reached a steady state."
UNABLE_TO_START = (
    "(service {service}) is unable to consistently start tasks successfully. "
    "For more information, see the Troubleshooting section."
)
DEPLOYMENT_FAILED = "(service {service}) deployment failed: tasks failed to start."
CIRCUIT_BREAKER = "ECS deployment circuit breaker: tasks failed to start."
ESSENTIAL_EXITED = "Essential container in task exited"
OOM = "OutOfMemoryError: Container killed due to memory usage"
SCALE_IN = "Scaling activity initiated by (deployment {deployment})"
# The Fargate form of the target-group event (service-unhealthy-event-messages.html) and the
# stoppedReason ECS gives the task it then replaces.
ELB_UNHEALTHY = ("(service {service}) (task {task}) (port {port}) is unhealthy in "
                 "(target-group {target_group}) due to (reason {reason}).")
ELB_KILLED = "Task failed ELB health checks in (target-group {target_group})"
# A Fargate image pull whose requests go nowhere (no route out, no endpoint it can use).
PULL_TIMEOUT = (
    "CannotPullContainerError: ref pull has been retried 5 time(s): failed to copy: "
    "httpReadSeeker: failed open: failed to do request: Get "
    '"https://{registry}/v2/{repository}/manifests/{digest}": dial tcp 52.216.0.1:443: '
    "i/o timeout"
)
REASON_LIMIT = 255  # ECS cuts stoppedReason at 255 characters
PULL_MINUTES = 25.0 / 60.0  # from task creation to RUNNING: ENI, image pull, start


def image_digest(image: str) -> str:
    """A stable, realistic-looking digest for an image reference."""
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


@dataclass(frozen=True)
class Container:
    """One container definition. ``memory`` is the hard limit, ``memory_reservation`` the
    soft one (MiB); moto needs at least one of them to run the task."""

    name: str
    image: str
    cpu: int = 0
    memory: int | None = None
    memory_reservation: int | None = None
    port: int | None = None
    protocol: str = "tcp"
    essential: bool = True
    environment: tuple[tuple[str, str], ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()  # (name, valueFrom ARN): never a value
    command: tuple[str, ...] = ()
    health_check: str | None = None  # CMD-SHELL command
    logs: bool = True  # awslogs to /ecs/prod/<service>


@dataclass(frozen=True)
class Stopped:
    """A task that stopped: when it started and stopped (minutes ago), and how.
    ``exits`` maps container name to (exit code, container reason). ``started`` is None for
    a task that never reached RUNNING; it was created at ``created`` (default: a pull before
    it started). ``event`` is a service event ECS writes about the task just before it
    stops; ``reason`` and ``event`` may name ``{deployment}``, ``{target_group}``,
    ``{service}``, ``{task}`` and ``{port}``, filled in when the account is built."""

    started: float | None
    stopped: float
    stop_code: str
    reason: str
    exits: tuple[tuple[str, int | None, str | None], ...]
    created: float | None = None
    event: str | None = None


@dataclass(frozen=True)
class Balancer:
    """Where the public ALB sends traffic to the service, and how much."""

    path: str  # listener rule path pattern; "/*" is the default action
    priority: int
    health_path: str = "/healthz"
    requests_per_minute: float = 300.0
    response_time_s: float = 0.1  # TargetResponseTime of a healthy target


def flat(level: float, wobble: float = 3.0) -> Callable[[float], float]:
    """A steady utilisation (percent) with a small deterministic wobble; the argument is the
    task's age in minutes."""
    return lambda age: level + wobble * math.sin(age / 23.0)


def leak(start: float, per_hour: float) -> Callable[[float], float]:
    """Memory that only ever grows with task age until the OOM killer stops the task."""
    return lambda age: min(100.0, start + per_hour * age / 60.0)


def warm_up(survivor: float, minutes_to_full: float) -> Callable[[float], float]:
    """A fresh task loads its cache to the limit in the first minutes; survivors settle."""
    return lambda age: min(100.0, 62.0 + 38.0 * age / minutes_to_full) if age < 6 else survivor


@dataclass(frozen=True)
class Service:
    """One ECS service and its recent history (all times are minutes ago).

    ``running``/``pending`` hold the start (creation) time of each RUNNING/PENDING task;
    tasks with equal times were launched together. ``desired_history`` lists
    (since, desiredCount) changes, oldest first; the last one is the current desiredCount.
    ``events`` are the messages not derived from the task timeline. Where it runs:
    ``subnets`` names a subnet group of the VPC and ``security_group`` its task group
    (Fargate), ``capacity`` a group of container instances (EC2).
    """

    name: str
    launch_type: str  # "EC2" (bridge) or "FARGATE" (awsvpc)
    containers: tuple[Container, ...]
    desired_history: tuple[tuple[float, int], ...]
    created: float
    deployed: float
    running: tuple[float, ...]
    pending: tuple[float, ...] = ()
    stopped: tuple[Stopped, ...] = ()
    events: tuple[tuple[float, str], ...] = ()
    task_cpu: int | None = None  # required for FARGATE
    task_memory: int | None = None
    rollout: tuple[str, str] | None = None  # (rolloutState, rolloutStateReason) if not done
    circuit_breaker: bool = True
    circuit_breaker_rollback: bool = True
    balancer: Balancer | None = None
    scaling: tuple[int, int, float] | None = None  # (min, max, target CPU %)
    cpu: Callable[[float], float] = field(default_factory=lambda: flat(25.0))
    memory: Callable[[float], float] = field(default_factory=lambda: flat(50.0))
    revision: int = 1  # the task definition revision running: real services have history
    subnets: str = "private"
    security_group: str = "prod-ecs-tasks"
    capacity: str = "prod-ec2"
    placement_constraints: tuple[tuple[str, str], ...] = ()  # (type, expression)
    # Ports the task security group admits from the ALB (default: the container port).
    admits: tuple[int, ...] | None = None
    # (state, reason, description) DescribeTargetHealth gives its targets, and since when
    # (minutes ago; the ALB series turn unhealthy then). None: healthy.
    target_health: tuple[str, str, str] | None = None
    unhealthy_since: float = 0.0

    @property
    def desired(self) -> int:
        return self.desired_history[-1][1]

    @property
    def port(self) -> int | None:
        return next((c.port for c in self.containers if c.port), None)


@dataclass(frozen=True)
class CreditHost:
    """A burstable host in standard credit mode: it earns ``earn_per_hour`` credits, spends
    one per vCPU-minute at 100%, and at a zero balance is held at its baseline
    (``earn_per_hour / vcpus / 60`` percent per vCPU). ``demand`` is the CPU (percent) its
    tasks would use ``t`` minutes ago; the history is simulated minute by minute from
    ``since`` with ``balance`` credits."""

    vcpus: int
    earn_per_hour: float
    since: float
    balance: float
    demand: Callable[[float], float]

    @property
    def baseline_pct(self) -> float:
        return self.earn_per_hour / self.vcpus / 60.0 * 100.0

    def balance_at(self, t: float) -> float:
        return _credit_history(self)[_minute(self, t)][0]

    def cpu_at(self, t: float) -> float:
        return _credit_history(self)[_minute(self, t)][1]


def _minute(host: CreditHost, t: float) -> int:
    return max(0, min(int(host.since), int(host.since - math.ceil(t))))


@functools.cache
def _credit_history(host: CreditHost) -> list[tuple[float, float]]:
    """(balance at the end of the minute, CPU % during it), oldest minute first."""
    out: list[tuple[float, float]] = []
    balance = host.balance
    earn = host.earn_per_hour / 60.0
    for minute in range(int(host.since) + 1):
        want = host.demand(host.since - minute)
        spend = host.vcpus * want / 100.0
        if balance + earn >= spend:
            balance += earn - spend
            cpu = want
        else:  # out of credits: the host gets what it earns, the baseline
            cpu = (balance + earn) / host.vcpus * 100.0
            balance = 0.0
        out.append((round(balance, 2), round(cpu, 2)))
    return out


@dataclass(frozen=True)
class Capacity:
    """An Auto Scaling group of ECS-optimised instances behind a capacity provider of the
    same name; one instance per entry of ``zones`` (AZ indexes)."""

    name: str
    instance_type: str
    zones: tuple[int, ...]
    registered_cpu: int  # what the agent registers: 1024 per vCPU
    registered_memory: int  # MiB: the instance's memory less what the OS and agent keep
    credits: CreditHost | None = None  # burstable in standard mode: its credit history


def every_6h(first: float, until: float = 0.0) -> tuple[float, ...]:
    """ECS repeats "has reached a steady state" about every 6 hours while nothing changes."""
    times = []
    t = first
    while t > until:
        times.append(t)
        t -= 360.0
    return tuple(times)


def steady(service: str, *times: float) -> tuple[tuple[float, str], ...]:
    return tuple((t, STEADY.format(service=service)) for t in times)


def oom(started: float, stopped: float, container: str) -> Stopped:
    return Stopped(started, stopped, "EssentialContainerExited", ESSENTIAL_EXITED,
                   ((container, 137, OOM),))


def crash(started: float, ran_seconds: float, container: str) -> Stopped:
    return Stopped(started, started - ran_seconds / 60.0, "EssentialContainerExited",
                   ESSENTIAL_EXITED, ((container, 1, None),))


def pull_timeout(created: float, pending_seconds: float, container: str,
                 image: str) -> Stopped:
    """A Fargate task that never started: its image pull timed out (no route to ECR)."""
    registry, _, rest = image.partition("/")
    message = PULL_TIMEOUT.format(registry=registry, repository=rest.rsplit(":", 1)[0],
                                  digest=image_digest(image))
    return Stopped(None, created - pending_seconds / 60.0, "TaskFailedToStart", message,
                   ((container, None, message),), created=created)


def elb_killed(started: float, stopped: float, container: str, reason: str) -> Stopped:
    """A task the scheduler replaced because its target failed the ALB health check."""
    return Stopped(started, stopped, "ServiceSchedulerInitiated",
                   ELB_KILLED, ((container, 143, None),),
                   event=ELB_UNHEALTHY.replace("{reason}", reason))


# --- the timeline, derived from the data (pure: no AWS, no moto) --------------------------


@dataclass(frozen=True)
class PlannedTask:
    """One task of a service's timeline. Times are minutes ago; ``number`` is its position in
    the timeline; ``slot`` indexes the subnets (Fargate) or container instances (EC2) of the
    service's group, ``zone`` is that slot's AZ index."""

    number: int
    status: str  # RUNNING | PENDING | STOPPED
    created: float
    started: float | None  # None while PENDING, or never started
    stopped: float | None
    stop: Stopped | None
    slot: int
    zone: int = 0

    def alive_at(self, t: float) -> bool:
        """RUNNING at ``t`` minutes ago."""
        return self.started is not None and self.started >= t and (
            self.stopped is None or t > self.stopped
        )

    def pending_at(self, t: float) -> bool:
        return self.created >= t and (self.started is None or t > self.started) and (
            self.stopped is None or t > self.stopped)


def plan_tasks(service: Service, offset: int,
               zones: tuple[int, ...] = (0, 1, 2)) -> tuple[PlannedTask, ...]:
    """The service's visible tasks, oldest first, spread round-robin over the slots whose AZ
    indexes are ``zones`` (as the default AZ-spread placement does), starting at slot
    ``offset``."""
    items: list[tuple[float, str, float | None, float | None, Stopped | None]] = [
        (s.created if s.created is not None else (s.started or 0.0) + PULL_MINUTES,
         "STOPPED", s.started, s.stopped, s) for s in service.stopped
    ]
    items += [(r + PULL_MINUTES, "RUNNING", r, None, None) for r in service.running]
    items += [(p, "PENDING", None, None, None) for p in service.pending]
    items.sort(key=lambda item: -item[0])
    out = []
    for i, (created, status, started, stopped, stop) in enumerate(items):
        slot = (offset + i) % len(zones)
        out.append(PlannedTask(i, status, created, started, stopped, stop, slot, zones[slot]))
    return tuple(out)


def derived_events(
    service: Service, tasks: tuple[PlannedTask, ...], task_ids: tuple[str, ...],
    names: Mapping[str, str] | None = None,
) -> list[tuple[float, str]]:
    """The events ECS writes by itself for this timeline: one "has started" per launch (tasks
    created together share one), one "has stopped" per scheduler-initiated stop (when ECS
    starts stopping it), and before that the event a stopped task carries (``Stopped.event``)."""
    launches: dict[float, list[str]] = {}
    events: list[tuple[float, str]] = []
    for task, task_id in zip(tasks, task_ids, strict=True):
        launches.setdefault(round(task.created, 4), []).append(task_id)
        if task.stop is None or task.stopped is None:
            continue
        if task.stop.stop_code == "ServiceSchedulerInitiated":
            message = f"(service {service.name}) has stopped 1 running tasks: (task {task_id})."
            events.append((task.stopped + 0.5, message))
        if task.stop.event:
            events.append((task.stopped + 0.6, task.stop.event.format(
                service=service.name, task=task_id, port=service.port, **(names or {}))))
    for created, ids in launches.items():
        listed = " ".join(f"(task {task_id})" for task_id in ids)
        message = f"(service {service.name}) has started {len(ids)} tasks: {listed}."
        events.append((created, message))
    return events


def desired_at(service: Service, t: float) -> int | None:
    """desiredCount ``t`` minutes ago; None before the service existed."""
    if t > service.created:
        return None
    current = None
    for since, count in service.desired_history:
        if t <= since:
            current = count
    return current if current is not None else service.desired_history[0][1]


def utilisation(
    service: Service, tasks: tuple[PlannedTask, ...], t: float, *, metric: str
) -> list[float]:
    """Per-task CPU or memory utilisation (percent) of the tasks RUNNING ``t`` minutes ago."""
    model = service.cpu if metric == "CPUUtilization" else service.memory
    return [
        round(model(task.started - t), 2)
        for task in tasks
        if task.started is not None and task.alive_at(t)
    ]
