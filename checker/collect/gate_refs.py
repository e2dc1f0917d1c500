"""The read-only calls the gate makes to prove that what a task definition names exists and
works, as a careful deployer would check by hand before `update-service`.

Every call here is read-only and listed in :data:`OPERATIONS` (deploy/gate-iam-policy.json is
tested to equal it). Values are never read: secrets are described (DescribeSecret) and
parameters listed by name (DescribeParameters), never fetched. Each failure names the
resource and what is wrong with it; a call the gate's own credentials may not make is
`unknown` with the permission that would answer it — never a pass.

The checks are gate checks (checker.gate.target): `(Target) -> Results`, built by
:func:`checks` around one :class:`Refs`, which holds the clients (one per service and
Region: images, secrets and log groups may live in other Regions) and what an earlier probe
learned that a later one needs (the KMS key of each secret, for the permission simulation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from checker.collect.aws import GATE_USER_AGENT
from checker.facts import attribute
from checker.gate.names import (
    ACCEPTED_MANIFESTS,
    EcrImage,
    SecretRef,
    awslogs_groups,
    ecr_image,
    manifest_platforms,
    partition_of,
    placeholder,
    role_name,
    secret_ref,
    secret_references,
    target_platform,
    trusts_ecs_tasks,
)
from checker.gate.permissions import Ask, plan
from checker.gate.target import GateCheck, Target
from checker.model import Result, failed, passed, skipped, unknown
from checks.lib.taskdefs import container_name, containers, platform

#: Every IAM action the gate's reference checks may call (read-only).
OPERATIONS: frozenset[str] = frozenset({
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "iam:GetRole",
    "iam:SimulatePrincipalPolicy",
    "logs:DescribeLogGroups",
    "secretsmanager:DescribeSecret",
    "ssm:DescribeParameters",
})

DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                    "UnauthorizedAccess", "AuthorizationError", "AccessDeniedFault"})
NOT_FOUND = frozenset({"NoSuchEntity", "ResourceNotFoundException", "ImageNotFoundException",
                       "RepositoryNotFoundException", "ParameterNotFound"})


def code_of(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


def could_not(action: str, resource: str, exc: BaseException) -> str:
    """The `unknown` message: which permission on which resource would answer it."""
    code = code_of(exc)
    if code in DENIED:
        return (f"could not check: the gate's credentials may not call {action} on {resource} "
                f"({code}); grant it (deploy/gate-iam-policy.json)")
    return f"could not check: {action} on {resource} failed ({code}: {str(exc)[:160]})"


@dataclass
class Refs:
    """Clients and shared findings for one gate run."""

    session: Any
    region: str
    account: str
    endpoint_url: str | None = None
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: secret/parameter ARN → KMS key ARN that decrypts it (customer-managed keys only).
    kms_keys: dict[str, str] = field(default_factory=dict)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self.clients:
            config = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5,
                            read_timeout=30, user_agent_extra=GATE_USER_AGENT)
            self.clients[key] = self.session.client(service, region_name=key[1],
                                                    endpoint_url=self.endpoint_url,
                                                    config=config)
        return self.clients[key]


def checks(refs: Refs) -> list[tuple[str, GateCheck]]:
    return [
        ("gate-role-assumable", partial(gate_role_assumable, refs)),
        ("gate-image-exists", partial(gate_image_exists, refs)),
        ("gate-image-platform", partial(gate_image_platform, refs)),
        ("gate-secret-exists", partial(gate_secret_exists, refs)),
        ("gate-log-group-exists", partial(gate_log_group_exists, refs)),
        ("gate-execution-role-permissions", partial(gate_execution_role_permissions, refs)),
    ]


# -- roles -----------------------------------------------------------------------------------

def gate_role_assumable(refs: Refs, t: Target) -> Iterator[Result]:
    found = False
    for key, what in (("taskRoleArn", "task role"), ("executionRoleArn", "execution role")):
        value = t.td.get(key)
        if not value:
            continue
        found = True
        yield _role(refs, str(value), what, key)
    if not found:
        yield skipped(t.arn, f"{t.label} names no task or execution role")


def _role(refs: Refs, value: str, what: str, json_path: str) -> Result:
    if placeholder(value):
        return skipped(value, f"{what} {value} is a template placeholder", json_path=json_path)
    parts = value.split(":")
    if value.startswith("arn:") and len(parts) > 4 and parts[4] and parts[4] != refs.account:
        return unknown(value, f"{what} {value} is in account {parts[4]}: GetRole sees only "
                       f"account {refs.account}", json_path=json_path)
    name = role_name(value)
    try:
        role = refs.client("iam").get_role(RoleName=name)["Role"]
    except Exception as exc:
        if code_of(exc) == "NoSuchEntity":
            return failed(value, f"{what} {name} does not exist: the task cannot start",
                          json_path=json_path, role=name)
        return unknown(value, could_not("iam:GetRole", value, exc), json_path=json_path,
                       needs="iam:GetRole")
    arn = str(role.get("Arn") or value)
    if value.startswith("arn:") and arn != value:
        return failed(value, f"{what}: the file names {value}, but the role is {arn} (path?): "
                      "ECS cannot assume an ARN that does not exist", json_path=json_path,
                      role=name, actual_arn=arn)
    ok, why = trusts_ecs_tasks(role.get("AssumeRolePolicyDocument"))
    if ok:
        return passed(arn, f"{what} {name} exists and {why}", json_path=json_path, role=name)
    return failed(arn, f"{what} {name}: {why}: ECS cannot hand it to the task",
                  json_path=json_path, role=name)


# -- images ----------------------------------------------------------------------------------

def _images(t: Target) -> Iterator[tuple[str, str, str, EcrImage | None]]:
    """(container, json path, image, ECR reference or None) per container."""
    for i, ctr in enumerate(containers(t.td)):
        yield (container_name(ctr), f"containerDefinitions[{i}].image", str(ctr.get("image")),
               ecr_image(ctr.get("image")))


def _not_ecr(image: str, name: str, path: str) -> Result:
    if placeholder(image):
        return skipped(image, f"container {name}: image {image} is a template placeholder",
                       json_path=path, container=name)
    return skipped(image, f"container {name}: {image} is not in a private ECR registry: not "
                   "checked", json_path=path, container=name)


def gate_image_exists(refs: Refs, t: Target) -> Iterator[Result]:
    for name, path, image, ref in _images(t):
        if ref is None:
            yield _not_ecr(image, name, path)
            continue
        try:
            details = refs.client("ecr", ref.region).describe_images(
                registryId=ref.account, repositoryName=ref.repository,
                imageIds=[ref.image_id])["imageDetails"]
        except Exception as exc:
            code = code_of(exc)
            if code in NOT_FOUND:
                what = "repository" if code == "RepositoryNotFoundException" else "image"
                yield failed(image, f"container {name}: {what} not found: {ref.repository}"
                             f"{ref.ref if what == 'image' else ''} in {ref.account}/{ref.region}"
                             " — every task fails with CannotPullContainerError", json_path=path,
                             container=name, repository=ref.repository, code=code)
            else:
                yield unknown(image, could_not("ecr:DescribeImages", ref.arn(), exc),
                              json_path=path, container=name, needs="ecr:DescribeImages")
            continue
        digest = str((details[0] if details else {}).get("imageDigest", ""))
        yield passed(image, f"container {name}: {ref.repository}{ref.ref} exists in ECR"
                     + (f" ({digest[:19]}…)" if digest else ""), json_path=path, container=name,
                     digest=digest)


def _instance_archs(t: Target) -> set[str]:
    if t.facts is None or not t.facts.has("container_instances"):
        return set()
    return {a for ci in t.facts.container_instances
            if (a := attribute(ci, "ecs.cpu-architecture"))}


def gate_image_platform(refs: Refs, t: Target) -> Iterator[Result]:
    launch = platform(t.td, t.service)
    want = target_platform(t.td, launch, _instance_archs(t))
    for name, path, image, ref in _images(t):
        if ref is None:
            yield _not_ecr(image, name, path)
        elif want is None:
            yield skipped(image, f"container {name}: no runtimePlatform and no single instance "
                          "architecture to compare with", json_path=path, container=name)
        else:
            yield _platform(refs, ref, image, name, want)


def _platform(refs: Refs, ref: EcrImage, image: str, name: str, want: tuple[str, str]) -> Result:
    path, wanted = "runtimePlatform", "/".join(want)
    try:
        response = refs.client("ecr", ref.region).batch_get_image(
            registryId=ref.account, repositoryName=ref.repository, imageIds=[ref.image_id],
            acceptedMediaTypes=list(ACCEPTED_MANIFESTS))
    except Exception as exc:
        return unknown(image, could_not("ecr:BatchGetImage", ref.arn(), exc), json_path=path,
                       container=name, needs="ecr:BatchGetImage")
    images = response.get("images") or []
    if not images:
        return skipped(image, f"container {name}: no manifest (image not found; see "
                       "gate-image-exists)", json_path=path, container=name)
    found = manifest_platforms(images[0].get("imageManifest"),
                               images[0].get("imageManifestMediaType"))
    if found is None:
        return unknown(image, f"container {name}: {ref.repository}{ref.ref} is a single-platform "
                       "image; its architecture is in the image config, which the gate does not "
                       f"download (expects {wanted})", json_path=path, container=name)
    carried = ", ".join("/".join(p) for p in found) or "no platform"
    if want in found:
        return passed(image, f"container {name}: {ref.repository}{ref.ref} carries {wanted} "
                      f"({carried})", json_path=path, container=name, platforms=carried)
    return failed(image, f"container {name}: {ref.repository}{ref.ref} carries {carried}, but the "
                  f"task runs on {wanted}: it will exit with 'exec format error'",
                  json_path=path, container=name, platforms=carried, expected=wanted)


# -- secrets, parameters, log groups ----------------------------------------------------------

def gate_secret_exists(refs: Refs, t: Target) -> Iterator[Result]:
    found = False
    for item in secret_references(t.td):
        found = True
        ref = secret_ref(item.value, refs.region, refs.account)
        where: dict[str, Any] = {"json_path": item.json_path, "container": item.container}
        if ref is None:
            if placeholder(item.value):
                yield skipped(item.value, f"container {item.container}: {item.value} is a "
                              "template placeholder", **where)
            else:
                yield failed(item.value, f"container {item.container}: {item.value} is neither "
                             "a Secrets Manager ARN nor an SSM parameter", **where)
            continue
        if ref.kind == "secretsmanager":
            yield _secret(refs, ref, item.container)
        else:
            yield _parameter(refs, ref, item.container)
    if not found:
        yield skipped(t.arn, f"{t.label} references no secret or parameter")


def _secret(refs: Refs, ref: SecretRef, container: str) -> Result:
    where: dict[str, Any] = {"container": container, "secret": ref.arn}
    try:
        meta = refs.client("secretsmanager", ref.region).describe_secret(SecretId=ref.name)
    except Exception as exc:
        if code_of(exc) in NOT_FOUND:
            return failed(ref.arn, f"container {container}: secret {ref.arn} not found: the task "
                          "fails with ResourceInitializationError", **where)
        return unknown(ref.arn, could_not("secretsmanager:DescribeSecret", ref.arn, exc),
                       needs="secretsmanager:DescribeSecret", **where)
    if meta.get("DeletedDate"):
        return failed(ref.arn, f"container {container}: secret {meta.get('Name')} is scheduled "
                      "for deletion: reading it fails", **where)
    key = str(meta.get("KmsKeyId") or "")
    if key.startswith("arn:") and ":key/" in key:
        refs.kms_keys[ref.arn] = key
    return passed(ref.arn, f"container {container}: secret {meta.get('Name')} exists "
                  "(metadata only; value not read)", **where)


def _parameter(refs: Refs, ref: SecretRef, container: str) -> Result:
    where: dict[str, Any] = {"container": container, "parameter": ref.name}
    if ref.account != refs.account:
        return unknown(ref.arn, f"container {container}: parameter {ref.arn} is in account "
                       f"{ref.account}: DescribeParameters lists account {refs.account} only",
                       **where)
    try:
        found = refs.client("ssm", ref.region).describe_parameters(ParameterFilters=[
            {"Key": "Name", "Option": "Equals", "Values": [ref.name]}])["Parameters"]
    except Exception as exc:
        return unknown(ref.arn, could_not("ssm:DescribeParameters", ref.arn, exc),
                       needs="ssm:DescribeParameters", **where)
    if not found:
        return failed(ref.arn, f"container {container}: SSM parameter {ref.name} not found in "
                      f"{ref.region}: the task fails with ResourceInitializationError", **where)
    key = str(found[0].get("KeyId") or "")
    if key.startswith("arn:") and ":key/" in key:
        refs.kms_keys[ref.arn] = key
    return passed(ref.arn, f"container {container}: SSM parameter {ref.name} exists "
                  f"({found[0].get('Type', '?')}; value not read)", **where)


def gate_log_group_exists(refs: Refs, t: Target) -> Iterator[Result]:
    groups = list(awslogs_groups(t.td, refs.region))
    if not groups:
        yield skipped(t.arn, f"{t.label}: no container logs with awslogs")
    for group in groups:
        where: dict[str, Any] = {"json_path": group.json_path, "container": group.container}
        if not group.name:
            yield failed(t.arn, f"container {group.container}: awslogs without the required "
                         "awslogs-group option: the container cannot start", **where)
            continue
        if placeholder(group.name):
            yield skipped(t.arn, f"container {group.container}: log group {group.name} is a "
                          "template placeholder", **where)
            continue
        yield _log_group(refs, group.name, group.region, group.create, group.container, where)


def _log_group(refs: Refs, name: str, region: str, create: bool, container: str,
               where: dict[str, Any]) -> Result:
    arn = f"arn:aws:logs:{region}:{refs.account}:log-group:{name}"
    try:
        pages = refs.client("logs", region).get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=name, PaginationConfig={"MaxItems": 200})
        exists = any(g.get("logGroupName") == name for page in pages
                     for g in page.get("logGroups", []))
    except Exception as exc:
        return unknown(arn, could_not("logs:DescribeLogGroups", arn, exc),
                       needs="logs:DescribeLogGroups", **where)
    if exists:
        return passed(arn, f"container {container}: log group {name} exists in {region}", **where)
    if create:
        return passed(arn, f"container {container}: log group {name} does not exist yet; "
                      "awslogs-create-group creates it (needs logs:CreateLogGroup)", **where)
    return failed(arn, f"container {container}: log group {name} does not exist in {region} and "
                  "awslogs-create-group is not true: the container cannot start", **where)


# -- what the execution role may do (iam:SimulatePrincipalPolicy) -----------------------------

def gate_execution_role_permissions(refs: Refs, t: Target) -> Iterator[Result]:
    role = t.td.get("executionRoleArn")
    launch = platform(t.td, t.service)
    if not role or placeholder(role):
        yield skipped(t.arn, f"{t.label}: no execution role to simulate"
                      + (" (placeholder)" if role else ""), json_path="executionRoleArn")
        return
    arn = str(role) if str(role).startswith("arn:") else (
        f"arn:aws:iam::{refs.account}:role/{role}")
    asks = plan(t.td, launch, refs.region, refs.account, refs.kms_keys, partition_of(arn))
    if not asks:
        yield skipped(arn, f"{t.label}: the execution role has nothing to do here ({launch}: "
                      "the container instance role pulls images and writes logs)",
                      json_path="executionRoleArn")
        return
    for ask in asks:
        try:
            decisions = _simulate(refs.client("iam"), arn, ask)
        except Exception as exc:
            yield unknown(arn, could_not("iam:SimulatePrincipalPolicy", arn, exc) +
                          f"; not simulated: {len(asks)} permission set(s) ("
                          + "; ".join(a.why for a in asks) + ")", json_path="executionRoleArn",
                          needs="iam:SimulatePrincipalPolicy",
                          asks=[{"resource": a.resource, "actions": list(a.actions)}
                                for a in asks])
            return
        yield _judged(arn, role_name(arn), ask, decisions)


def _simulate(iam: Any, arn: str, ask: Ask) -> list[tuple[str, str]]:
    """(action, decision) for every action of `ask` on its resource, all pages."""
    kw: dict[str, Any] = {"PolicySourceArn": arn, "ActionNames": list(ask.actions)}
    if ask.resource != "*":
        kw["ResourceArns"] = [ask.resource]
    out: list[tuple[str, str]] = []
    while True:
        response = iam.simulate_principal_policy(**kw)
        out += [(str(r.get("EvalActionName")), str(r.get("EvalDecision")))
                for r in response.get("EvaluationResults", [])]
        if not response.get("IsTruncated") or not response.get("Marker"):
            return out
        kw["Marker"] = response["Marker"]


def _judged(arn: str, name: str, ask: Ask, decisions: list[tuple[str, str]]) -> Result:
    where: dict[str, Any] = {"json_path": ask.json_path, "role": name,
                             "resource_arn": ask.resource}
    denied = [(a, d) for a, d in decisions if d != "allowed"]
    missing = sorted(set(ask.actions) - {a for a, _ in decisions})
    on = "" if ask.resource == "*" else f" on {ask.resource}"
    if denied or missing:
        lacks = ", ".join([f"{a} ({d})" for a, d in denied]
                          + [f"{a} (not evaluated)" for a in missing])
        return failed(arn, f"execution role {name} lacks {lacks}{on} — needed to {ask.why}",
                      denied=[{"action": a, "decision": d} for a, d in denied] + [
                          {"action": a, "decision": "not evaluated"} for a in missing],
                      **where)
    return passed(arn, f"execution role {name} may {', '.join(ask.actions)}{on} ({ask.why})",
                  **where)
