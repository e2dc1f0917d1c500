"""Incidents only the containers' own log lines explain: an image built for the wrong CPU, a
full disk, a denied AWS call, a database that stopped answering. Each adds the
`log_events` the logs collector would have read (the essential container of the newest
failing stopped tasks, one running task of a slow service) and the alarms the account has;
the healthy services beside the broken one have alarms on everything and no log lines
(the collector reads none for a service that is not failing)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence

from tests import builders as b
from tests.incidents import _metrics as m
from tests.incidents.healthy import ECR, LB_DIM, SPEC, Item
from tests.incidents.scenarios import Cluster, fires, scenario, task_id

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
STARTS = "(service {name}) is unable to consistently start tasks successfully. For more " \
         "information, see the Troubleshooting section."


def _ms(minutes_ago: float) -> int:
    return int((b.NOW - dt.timedelta(minutes=minutes_ago)).timestamp() * 1000)


def log_lines(c: Cluster, task: Item, lines: Sequence[str], minutes_ago: float,
              why: str) -> None:
    """The item the logs collector stores for one task's essential container: lines one
    second apart, the last `minutes_ago` minutes ago."""
    name = str(task["group"]).removeprefix("service:")
    start = _ms(minutes_ago) - 1000 * (len(lines) - 1)
    c.res.setdefault("log_events", []).append({
        "logGroupName": f"/ecs/{name}", "logStreamName": f"ecs/{name}/{task_id(task)}",
        "taskArn": task["taskArn"], "containerName": name,
        "serviceArn": b.service_arn("prod", name), "reason": why,
        "events": [{"timestamp": start + 1000 * i, "message": line,
                    "ingestionTime": start + 1000 * i + 400} for i, line in enumerate(lines)]})


def alarms(c: Cluster, firing: dict[str, tuple[str, float]] | None = None) -> None:
    """CPU and memory alarms on every service, 5xx and unhealthy-host alarms on every
    target group: all OK, except `firing` (alarm name → (reason, minutes since ALARM))."""
    firing = firing or {}
    out = c.res.setdefault("alarms", [])
    for name, spec in sorted(SPEC.items()):
        rows = [(f"{name}-{metric}", "AWS/ECS", metric,
                 {"ClusterName": "prod", "ServiceName": name})
                for metric in ("CPUUtilization", "MemoryUtilization")]
        if spec.port is not None:
            rows += [(f"{name}-{metric}", "AWS/ApplicationELB", metric,
                      {"TargetGroup": spec.tg_dim, "LoadBalancer": LB_DIM})
                     for metric in ("HTTPCode_Target_5XX_Count", "UnHealthyHostCount")]
        for alarm, namespace, metric, dims in rows:
            reason, since = firing.get(alarm, ("Threshold Crossed: no datapoint was greater "
                                               "than the threshold", 600.0))
            out.append(b.shaped("cloudwatch", "MetricAlarm", {
                "AlarmName": alarm,
                "AlarmArn": f"arn:aws:cloudwatch:{b.REGION}:{b.ACCOUNT}:alarm:{alarm}",
                "StateValue": "ALARM" if alarm in firing else "OK", "StateReason": reason,
                "StateTransitionedTimestamp": b.ago(minutes=since),
                "StateUpdatedTimestamp": b.ago(minutes=since), "MetricName": metric,
                "Namespace": namespace, "Statistic": "Average", "Period": 60,
                "EvaluationPeriods": 3, "Threshold": 80.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]}))


def _crashes(c: Cluster, name: str, stops: Sequence[tuple[float, float]], exit_code: int,
             lines: Callable[[int], Sequence[str]]) -> None:
    """Stopped tasks of a crash loop, the newest three with their last log lines."""
    tasks = [c.stopped(name, i % 3, stopped_min=stopped, uptime_s=uptime,
                       reason="Essential container in task exited", exit_code=exit_code)
             for i, (stopped, uptime) in enumerate(stops)]
    for i, task in enumerate(sorted(tasks, key=lambda t: str(t["stoppedAt"]))[-3:]):
        log_lines(c, task, lines(i), float(stops[-1 - i][0]), f"exited {exit_code}")


def pushed(c: Cluster, repository: str, tag: str, *archs: str, minutes_ago: float) -> None:
    """What the scan's image probe stores for an image whose container logged exec format
    error: its DescribeImages item, and its BatchGetImage item with the image index buildx
    pushes (one linux/<arch> entry per architecture, and the attestation buildx adds)."""
    digest = "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        *({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1042,
           "digest": "sha256:" + hashlib.sha256(f"{digest}{a}".encode()).hexdigest(),
           "platform": {"architecture": a, "os": "linux"}} for a in archs),
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 566,
         "digest": "sha256:" + hashlib.sha256(f"{digest}att".encode()).hexdigest(),
         "platform": {"architecture": "unknown", "os": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]}
    c.res.setdefault("ecr_images", []).append(b.shaped("ecr", "ImageDetail", {
        "registryId": b.ACCOUNT, "repositoryName": repository, "imageDigest": digest,
        "imageTags": [tag], "imageSizeInBytes": 48_213_771,
        "imagePushedAt": b.ago(minutes=minutes_ago), "imageManifestMediaType": OCI_INDEX}))
    c.res.setdefault("ecr_manifests", []).append(b.shaped("ecr", "Image", {
        "registryId": b.ACCOUNT, "repositoryName": repository,
        "imageId": {"imageDigest": digest, "imageTag": tag},
        "imageManifest": json.dumps(index), "imageManifestMediaType": OCI_INDEX}))


@scenario("arch-mismatch", "arch-mismatch",
          fires("log-exec-format-error", "checkout", architecture="X86_64",
                image_arch="mismatch", image_platforms="linux/arm64"),
          fires("stopped-task-app-exit", "checkout"))
def arch_mismatch(c: Cluster) -> None:
    """checkout 1.19.0 was built on a developer's Apple-silicon laptop and pushed by hand 25
    minutes ago: an arm64-only image on x86_64 Fargate tasks. Every new task exits with
    code 255 a second after it starts; the log holds one line, exec format error, and the
    image's index in ECR names linux/arm64 only. The 1.18.0 tasks keep serving."""
    alarms(c)
    c.deploy("checkout", 25, rollout="IN_PROGRESS", failed=6, image=f"{ECR}/checkout:1.19.0")
    pushed(c, "checkout", "1.19.0", "arm64", minutes_ago=27)
    _crashes(c, "checkout", ((23, 1), (19, 1), (14, 2), (10, 1), (6, 1), (2, 1)), 255,
             lambda i: ["exec /usr/local/bin/docker-entrypoint.sh: exec format error"])
    c.event("checkout", STARTS.format(name="checkout"), 7)


@scenario("ephemeral-storage-exhausted", "ephemeral-storage-exhausted",
          fires("log-no-space-left", "reports"), fires("stopped-task-app-exit", "reports"))
def ephemeral_storage_exhausted(c: Cluster) -> None:
    """The reports service renders month-end PDFs into /tmp and never deletes them; since
    the month turned, each task fills its disk within minutes and the renderer dies with
    ENOSPC (exit 1). Reports pile up in the queue; the other services are fine."""
    alarms(c)
    lines = ["INFO render job=monthly-2026-11 account=4417 pages=212",
             "INFO wrote /tmp/render/monthly-2026-11-4417.pdf (48.2 MB)",
             "ERROR render job=monthly-2026-11 account=4418 failed",
             "OSError: [Errno 28] No space left on device: '/tmp/render/monthly-2026-11-4418.pdf'"]
    _crashes(c, "reports", ((40, 600), (27, 540), (15, 560), (4, 610)), 1, lambda i: lines)


@scenario("task-role-missing-permissions", "task-role-missing-permissions",
          fires("log-access-denied", "worker", action="sqs:ReceiveMessage"),
          fires("stopped-task-app-exit", "worker"))
def task_role_missing_permissions(c: Cluster) -> None:
    """A least-privilege pass on the worker's task role (prod-worker-task) dropped
    sqs:ReceiveMessage 35 minutes ago. Every poll of the job queue is denied, and the
    worker exits after three denied polls in a row: a crash loop whose exit code says
    nothing. Its CPU and memory alarms stay OK."""
    alarms(c)
    principal = f"arn:aws:sts::{b.ACCOUNT}:assumed-role/prod-worker-task/8f1c2a7e"
    queue = f"arn:aws:sqs:us-east-1:{b.ACCOUNT}:prod-jobs"
    denied = (f"botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling "
              f"the ReceiveMessage operation: User: {principal} is not authorized to perform: "
              f"sqs:ReceiveMessage on resource: {queue} because no identity-based policy "
              "allows the sqs:ReceiveMessage action")
    _crashes(c, "worker", ((31, 95), (22, 92), (13, 96), (4, 94)), 1,
             lambda i: ["INFO polling prod-jobs", denied, denied, denied,
                        "FATAL giving up after 3 denied polls"])


def _step(before: float, after: float, since: float) -> Callable[[float], float]:
    return lambda mins: before if mins >= since else after


@scenario("downstream-latency", "downstream-latency",
          fires("log-dependency-unreachable", "orders"),
          fires("target-response-time-high", "orders"),
          fires("alarm-in-alarm-state", "orders"))
def downstream_latency(c: Cluster) -> None:
    """The orders database started a long vacuum 50 minutes ago: connections queue, and
    each request waits up to the 5 s pool timeout. Response time went from 90 ms to over
    2 s while the orders tasks idle at 12% CPU; the running task's log is full of pool
    timeouts to the database host. Nothing restarts; nothing is out of CPU."""
    alarms(c, {"orders-HTTPCode_Target_5XX_Count": ("Threshold Crossed: 1 datapoint [312.0] "
                                                    "was greater than the threshold", 45.0)})
    spec = SPEC["orders"]
    c.put(m.alb(spec.tg_dim, "TargetResponseTime", "Average",
                c.series(_step(0.09, 2.4, 50), 0.1, 0.01)),
          m.ecs("orders", "CPUUtilization", "Average", c.series(_step(40.0, 12.0, 50), 1.5)))
    db = "orders-db.cluster-c8x2q1abcd.us-east-1.rds.amazonaws.com"
    running = c.tasks("orders")[0]
    log_lines(c, running, [
        "WARN  HikariPool-1 - Connection is not available, request timed out after 5000ms.",
        f"ERROR o.h.e.j.s.SqlExceptionHelper - Connection to {db}:5432 refused or timed out",
        f"ERROR request GET /orders/8812 failed: java.net.SocketTimeoutException: Connect "
        f"timed out to {db}:5432",
        "WARN  HikariPool-1 - Connection is not available, request timed out after 5000ms."],
        2, "running: slow responses")
