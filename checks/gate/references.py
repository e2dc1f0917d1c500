"""What the file names, as AWS knows it: the roles exist and trust ECS tasks, the images and
their platforms are in ECR, the secrets, parameters and log groups exist, and the execution
role may use them (iam:SimulatePrincipalPolicy on exactly the actions and ARNs the agent
will use).

AWS's answers are in the bundle (checker/collect/refs.py asked, read-only); a name missing
from its collection does not exist. When a read failed, the runner makes the check
`unknown`, naming the permission. Values are never read: secrets and parameters are known
by their metadata only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, attribute
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.names import (
    EcrImage,
    SecretRef,
    awslogs_groups,
    ecr_image,
    partition_of,
    placeholder,
    plan,
    role_name,
    secret_ref,
    secret_references,
)
from checker.registry import Prior, check
from checks.lib.gate import DEV_DOCS, Target, target
from checks.lib.references import (
    decisions,
    find_image,
    find_log_group,
    find_manifest,
    find_parameter,
    find_role,
    find_secret,
    kms_keys,
    manifest_platforms,
    target_platform,
    trusts_ecs_tasks,
)
from checks.lib.taskdefs import PARAMS_DOCS, container_name, containers, platform

ECR_DOCS = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/docker-pull-ecr-image.html"
SIMULATION_DOCS = ("https://docs.aws.amazon.com/IAM/latest/UserGuide/"
                   "access_policies_testing-policies.html")


# -- roles -----------------------------------------------------------------------------------

@check(id="gate-role-assumable", area="gate", severity=Severity.HIGH,
       title="Task and execution roles exist and trust ECS tasks",
       needs=("gate", "task_definitions", "iam_roles"), docs=f"{DEV_DOCS}/task-iam-roles.html",
       emits=("actual_arn", "role"))
def gate_role_assumable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A role that does not exist, or whose trust policy does not let
    ecs-tasks.amazonaws.com assume it, stops the task at start."""
    t = target(facts)
    found = False
    for key, what in (("taskRoleArn", "task role"), ("executionRoleArn", "execution role")):
        value = t.td.get(key)
        if not value:
            continue
        found = True
        yield _role(facts, t, str(value), what, key)
    if not found:
        yield skipped(t.arn, f"{t.label} names no task or execution role", path="")


def _role(facts: Facts, t: Target, value: str, what: str, path: str) -> Result:
    if placeholder(value):
        return skipped(value, f"{what} {value} is a template placeholder", path=path)
    parts = value.split(":")
    if value.startswith("arn:") and len(parts) > 4 and parts[4] and parts[4] != t.account:
        return unknown(value, f"{what} {value} is in account {parts[4]}: GetRole sees only "
                       f"account {t.account}", path=path)
    name = role_name(value)
    role = find_role(value, facts.items("iam_roles"))
    if role is None:
        return failed(value, f"{what} {name} does not exist: the task cannot start",
                      path=path, role=name)
    arn = str(role.get("Arn") or value)
    if value.startswith("arn:") and arn != value:
        return failed(value, f"{what}: the file names {value}, but the role is {arn} (path?): "
                      "ECS cannot assume an ARN that does not exist", path=path,
                      role=name, actual_arn=arn)
    ok, why = trusts_ecs_tasks(role.get("AssumeRolePolicyDocument"))
    if ok:
        return passed(arn, f"{what} {name} exists and {why}", path=path, role=name)
    return failed(arn, f"{what} {name}: {why}: ECS cannot hand it to the task",
                  path=path, role=name)


# -- images ----------------------------------------------------------------------------------

def _images(t: Target) -> Iterator[tuple[str, str, str, EcrImage | None]]:
    """(container, JSON path, image, ECR reference or None) per container."""
    for i, ctr in enumerate(containers(t.td)):
        yield (container_name(ctr), f"containerDefinitions[{i}].image", str(ctr.get("image")),
               ecr_image(ctr.get("image")))


def _not_ecr(image: str, name: str, path: str) -> Result:
    if placeholder(image):
        return skipped(image, f"container {name}: image {image} is a template placeholder",
                       path=path, container=name)
    return skipped(image, f"container {name}: {image} is not in a private ECR registry: not "
                   "checked", path=path, container=name)


@check(id="gate-image-exists", area="gate", severity=Severity.HIGH,
       title="Image tag exists in ECR", needs=("gate", "task_definitions", "ecr_images"),
       docs=ECR_DOCS, emits=("container", "digest", "repository"))
def gate_image_exists(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A tag that was never pushed (or was expired by a lifecycle policy) is a
    CannotPullContainerError on every task."""
    t = target(facts)
    details = facts.items("ecr_images")
    for name, path, image, ref in _images(t):
        if ref is None:
            yield _not_ecr(image, name, path)
            continue
        found = find_image(ref, details)
        if found is None:
            yield failed(image, f"container {name}: image not found: {ref.repository}{ref.ref} "
                         f"in {ref.account}/{ref.region} (no such tag, or no such repository) — "
                         "every task fails with CannotPullContainerError", path=path,
                         container=name, repository=ref.repository)
            continue
        digest = str(found.get("imageDigest") or "")
        yield passed(image, f"container {name}: {ref.repository}{ref.ref} exists in ECR"
                     + (f" ({digest[:19]}…)" if digest else ""), path=path, container=name,
                     digest=digest)


@check(id="gate-image-platform", area="gate", severity=Severity.HIGH,
       title="Image architecture and OS match runtimePlatform",
       needs=("gate", "task_definitions", "ecr_images", "ecr_manifests"),
       docs=f"{PARAMS_DOCS}#runtime-platform", emits=("container", "expected", "platforms"))
def gate_image_platform(facts: Facts, prior: Prior) -> Iterator[Result]:
    """An arm64-only image on X86_64 (or the reverse) starts and dies with 'exec format
    error'; the image index says which platforms the tag carries."""
    t = target(facts)
    archs = {a for ci in (facts.container_instances if facts.has("container_instances") else [])
             if (a := attribute(ci, "ecs.cpu-architecture"))}
    want = target_platform(t.td, platform(t.td, t.service), archs)
    for name, path, image, ref in _images(t):
        if ref is None:
            yield _not_ecr(image, name, path)
        elif want is None:
            yield skipped(image, f"container {name}: no runtimePlatform and no single instance "
                          "architecture to compare with", path=path, container=name)
        else:
            yield _platform(facts, ref, image, name, want)


def _platform(facts: Facts, ref: EcrImage, image: str, name: str,
              want: tuple[str, str]) -> Result:
    path, wanted = "runtimePlatform", "/".join(want)
    manifest = find_manifest(ref, facts.items("ecr_manifests"))
    if manifest is None:
        return skipped(image, f"container {name}: no manifest (image not found; see "
                       "gate-image-exists)", path=path, container=name)
    found = manifest_platforms(manifest.get("imageManifest"),
                               manifest.get("imageManifestMediaType"))
    if found is None:
        return unknown(image, f"container {name}: {ref.repository}{ref.ref} is a single-platform "
                       "image; its architecture is in the image config, which the gate does not "
                       f"download (expects {wanted})", path=path, container=name)
    carried = ", ".join("/".join(p) for p in found) or "no platform"
    if want in found:
        return passed(image, f"container {name}: {ref.repository}{ref.ref} carries {wanted} "
                      f"({carried})", path=path, container=name, platforms=carried)
    return failed(image, f"container {name}: {ref.repository}{ref.ref} carries {carried}, but the "
                  f"task runs on {wanted}: it will exit with 'exec format error'",
                  path=path, container=name, platforms=carried, expected=wanted)


# -- secrets, parameters, log groups ----------------------------------------------------------

@check(id="gate-secret-exists", area="gate", severity=Severity.HIGH,
       title="Referenced secrets and parameters exist",
       needs=("gate", "task_definitions", "secrets", "ssm_parameters"),
       docs=f"{DEV_DOCS}/specifying-sensitive-data.html",
       emits=("container", "parameter", "secret"))
def gate_secret_exists(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A secret or parameter that does not exist fails the task at start with
    ResourceInitializationError. Checked by name and metadata only: values are never
    read."""
    t = target(facts)
    found = False
    for item in secret_references(t.td):
        found = True
        ref = secret_ref(item.value, t.region, t.account)
        if ref is None:
            if placeholder(item.value):
                yield skipped(item.value, f"container {item.container}: {item.value} is a "
                              "template placeholder", path=item.json_path,
                              container=item.container)
            else:
                yield failed(item.value, f"container {item.container}: {item.value} is neither "
                             "a Secrets Manager ARN nor an SSM parameter", path=item.json_path,
                             container=item.container)
            continue
        if ref.kind == "secretsmanager":
            yield _secret(facts, ref, item.container, item.json_path)
        else:
            yield _parameter(facts, t, ref, item.container, item.json_path)
    if not found:
        yield skipped(t.arn, f"{t.label} references no secret or parameter", path="")


def _secret(facts: Facts, ref: SecretRef, container: str, path: str) -> Result:
    where: dict[str, Any] = {"container": container, "secret": ref.arn}
    meta = find_secret(ref, facts.items("secrets"))
    if meta is None:
        return failed(ref.arn, f"container {container}: secret {ref.arn} not found: the task "
                      "fails with ResourceInitializationError", path=path, **where)
    if meta.get("DeletedDate"):
        return failed(ref.arn, f"container {container}: secret {meta.get('Name')} is scheduled "
                      "for deletion: reading it fails", path=path, **where)
    return passed(ref.arn, f"container {container}: secret {meta.get('Name')} exists "
                  "(metadata only; value not read)", path=path, **where)


def _parameter(facts: Facts, t: Target, ref: SecretRef, container: str, path: str) -> Result:
    where: dict[str, Any] = {"container": container, "parameter": ref.name}
    if ref.account != t.account:
        return unknown(ref.arn, f"container {container}: parameter {ref.arn} is in account "
                       f"{ref.account}: DescribeParameters lists account {t.account} only",
                       path=path, **where)
    found = find_parameter(ref, facts.items("ssm_parameters"))
    if found is None:
        return failed(ref.arn, f"container {container}: SSM parameter {ref.name} not found in "
                      f"{ref.region}: the task fails with ResourceInitializationError",
                      path=path, **where)
    return passed(ref.arn, f"container {container}: SSM parameter {ref.name} exists "
                  f"({found.get('Type', '?')}; value not read)", path=path, **where)


@check(id="gate-log-group-exists", area="gate", severity=Severity.HIGH,
       title="Log group for awslogs exists", needs=("gate", "task_definitions", "log_groups"),
       docs=f"{DEV_DOCS}/using_awslogs.html", emits=("container",))
def gate_log_group_exists(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without awslogs-create-group, a missing log group stops the container from
    starting."""
    t = target(facts)
    groups = list(awslogs_groups(t.td, t.region))
    if not groups:
        yield skipped(t.arn, f"{t.label}: no container logs with awslogs", path="")
    existing = facts.items("log_groups")
    for group in groups:
        where: dict[str, Any] = {"path": group.json_path, "container": group.container}
        if not group.name:
            yield failed(t.arn, f"container {group.container}: awslogs without the required "
                         "awslogs-group option: the container cannot start", **where)
            continue
        if placeholder(group.name):
            yield skipped(t.arn, f"container {group.container}: log group {group.name} is a "
                          "template placeholder", **where)
            continue
        arn = group.arn(t.account)
        head = f"container {group.container}: log group {group.name}"
        if find_log_group(group, existing) is not None:
            yield passed(arn, f"{head} exists in {group.region}", **where)
        elif group.create:
            yield passed(arn, f"{head} does not exist yet; awslogs-create-group creates it "
                         "(needs logs:CreateLogGroup)", **where)
        else:
            yield failed(arn, f"{head} does not exist in {group.region} and "
                         "awslogs-create-group is not true: the container cannot start", **where)


# -- what the execution role may do (iam:SimulatePrincipalPolicy) -----------------------------

@check(id="gate-execution-role-permissions", area="gate", severity=Severity.HIGH,
       title="Execution role may pull, read secrets and log",
       needs=("gate", "task_definitions", "policy_simulations", "secrets", "ssm_parameters"),
       docs=SIMULATION_DOCS, emits=("denied", "resource_arn", "role"))
def gate_execution_role_permissions(facts: Facts, prior: Prior) -> Iterator[Result]:
    """iam:SimulatePrincipalPolicy on exactly the actions and ARNs the agent will use: the
    ECR repository, each secret, the log group. A deny here is a task that never starts."""
    t = target(facts)
    role = t.td.get("executionRoleArn")
    launch = platform(t.td, t.service)
    if not role or placeholder(role):
        yield skipped(t.arn, f"{t.label}: no execution role to simulate"
                      + (" (placeholder)" if role else ""), path="executionRoleArn")
        return
    arn = str(role) if str(role).startswith("arn:") else (
        f"arn:aws:iam::{t.account}:role/{role}")
    keys = kms_keys(t.td, t.region, t.account, facts.items("secrets"),
                    facts.items("ssm_parameters"))
    asks = plan(t.td, launch, t.region, t.account, keys, partition_of(arn))
    if not asks:
        yield skipped(arn, f"{t.label}: the execution role has nothing to do here ({launch}: "
                      "the container instance role pulls images and writes logs)",
                      path="executionRoleArn")
        return
    results = facts.items("policy_simulations")
    name = role_name(arn)
    for ask in asks:
        decided = decisions(ask, results)
        where: dict[str, Any] = {"path": ask.json_path, "role": name,
                                 "resource_arn": ask.resource}
        denied = [(a, d) for a, d in decided if d != "allowed"]
        missing = sorted(set(ask.actions) - {a for a, _ in decided})
        on = "" if ask.resource == "*" else f" on {ask.resource}"
        if denied or missing:
            lacks = ", ".join([f"{a} ({d})" for a, d in denied]
                              + [f"{a} (not evaluated)" for a in missing])
            yield failed(arn, f"execution role {name} lacks {lacks}{on} — needed to {ask.why}",
                         denied=[{"action": a, "decision": d} for a, d in denied] + [
                             {"action": a, "decision": "not evaluated"} for a in missing],
                         **where)
        else:
            yield passed(arn, f"execution role {name} may {', '.join(ask.actions)}{on} "
                         f"({ask.why})", **where)
