"""The gate's reference checks (checks/gate/references.py), their side of the reference
collections: the AWS answer to each name in the candidate, found again in the bundle
(checker/collect/refs.py stored it), and judged — a role's trust policy, an image index's
platforms, a simulation's decisions. The names themselves are parsed by checker.names,
which the collector shares.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from checker.facts import Item, obj, objs
from checker.names import (
    INDEX_TYPES,
    Ask,
    EcrImage,
    LogGroup,
    SecretRef,
    kms_key,
    role_name,
    secret_ref,
    secret_references,
)


def find_image(ref: EcrImage, details: Iterable[Item]) -> Item | None:
    """The DescribeImages item (ImageDetail) of `ref`."""
    for item in details:
        if item.get("registryId") != ref.account or item.get("repositoryName") != ref.repository:
            continue
        if ref.digest is not None and item.get("imageDigest") == ref.digest:
            return item
        if ref.digest is None and (ref.tag or "latest") in (item.get("imageTags") or []):
            return item
    return None


def find_manifest(ref: EcrImage, images: Iterable[Item]) -> Item | None:
    """The BatchGetImage item (Image, with its manifest) of `ref`."""
    for item in images:
        if item.get("registryId") != ref.account or item.get("repositoryName") != ref.repository:
            continue
        image_id = obj(item.get("imageId"))
        if ref.digest is not None and image_id.get("imageDigest") == ref.digest:
            return item
        if ref.digest is None and image_id.get("imageTag") == (ref.tag or "latest"):
            return item
    return None


#: A Secrets Manager ARN ends in `-` and six random characters that a reference may omit.
_SECRET_SUFFIX = 7


def find_secret(ref: SecretRef, secrets: Iterable[Item]) -> Item | None:
    """The DescribeSecret answer for `ref` (its ARN in full, or without the suffix)."""
    for item in secrets:
        arn = str(item.get("ARN") or "")
        if arn == ref.arn or (len(arn) == len(ref.arn) + _SECRET_SUFFIX
                              and arn.startswith(ref.arn + "-")):
            return item
    return None


def find_parameter(ref: SecretRef, parameters: Iterable[Item]) -> Item | None:
    """The DescribeParameters item (ParameterMetadata) for `ref`: by ARN when the item
    carries one, else by name."""
    for item in parameters:
        arn = item.get("ARN")
        if (arn == ref.arn) if isinstance(arn, str) and arn else item.get("Name") == ref.name:
            return item
    return None


def find_log_group(group: LogGroup, log_groups: Iterable[Item]) -> Item | None:
    """The DescribeLogGroups item for `group`, in its Region when the item's ARN says."""
    for item in log_groups:
        arn = str(item.get("arn") or "")
        region = arn.split(":")[3] if arn.startswith("arn:") and arn.count(":") > 3 else None
        if item.get("logGroupName") == group.name and region in (None, group.region):
            return item
    return None


def find_role(value: str, roles: Iterable[Item]) -> Item | None:
    """The GetRole item (Role) for a role name or ARN (GetRole asks by name)."""
    name = role_name(value)
    return next((r for r in roles if r.get("RoleName") == name), None)


def kms_keys(td: Item, region: str, account: str, secrets: Iterable[Item],
             parameters: Iterable[Item], partition: str = "aws") -> dict[str, str]:
    """Secret or parameter ARN → the KMS key ARN that decrypts it (customer-managed only)."""
    secrets, parameters = list(secrets), list(parameters)
    out: dict[str, str] = {}
    for item in secret_references(td):
        ref = secret_ref(item.value, region, account, partition)
        if ref is None:
            continue
        found = find_secret(ref, secrets) if ref.kind == "secretsmanager" else \
            find_parameter(ref, parameters)
        key = kms_key(found)
        if key is not None:
            out[ref.arn] = key
    return out


# -- what AWS answers, judged (no calls here) ---------------------------------------------

ECS_TASKS = "ecs-tasks.amazonaws.com"
_ASSUME = frozenset({"sts:assumerole", "sts:*", "*"})


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def trust_policy(document: Any) -> Item:
    """GetRole's AssumeRolePolicyDocument: boto3 decodes it to a dict; the raw API returns
    URL-encoded JSON."""
    if isinstance(document, dict):
        return document
    if isinstance(document, str):
        try:
            parsed = json.loads(unquote(document))
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def trusts_ecs_tasks(document: Any) -> tuple[bool, str]:
    """Whether the trust policy lets ecs-tasks.amazonaws.com call sts:AssumeRole, and a few
    words on why (a Deny wins; conditions are reported, not evaluated)."""
    allowed, denied, conditions = False, False, False
    for st in _as_list(trust_policy(document).get("Statement")):
        if not isinstance(st, dict):
            continue
        actions = {str(a).lower() for a in _as_list(st.get("Action"))}
        if not actions & _ASSUME:
            continue
        principal = st.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if not (principal == "*" or ECS_TASKS in services):
            continue
        if str(st.get("Effect")) == "Deny":
            denied = True
        elif str(st.get("Effect")) == "Allow":
            allowed, conditions = True, conditions or bool(st.get("Condition"))
    if denied:
        return False, f"its trust policy denies {ECS_TASKS} sts:AssumeRole"
    if not allowed:
        return False, f"its trust policy does not allow {ECS_TASKS} to assume it"
    return True, f"trusts {ECS_TASKS}" + (" (with conditions, not evaluated)" if conditions
                                          else "")


_ARCH = {"X86_64": "amd64", "ARM64": "arm64"}


def target_platform(td: Item, launch: str, instance_archs: set[str]) -> tuple[str, str] | None:
    """(os, architecture) the task will run on, as image indexes name them
    (`linux`, `amd64`); None when nothing says (EC2 with mixed or unknown instances)."""
    runtime = td.get("runtimePlatform") if isinstance(td.get("runtimePlatform"), dict) else {}
    assert isinstance(runtime, dict)
    family = str(runtime.get("operatingSystemFamily") or "")
    arch = _ARCH.get(str(runtime.get("cpuArchitecture") or ""))
    os_name = "windows" if family.startswith("WINDOWS") else "linux" if family or arch else ""
    if launch == "FARGATE":
        return os_name or "linux", arch or "amd64"
    if arch is None and len(instance_archs) == 1:
        arch = {"x86_64": "amd64", "arm64": "arm64"}.get(next(iter(instance_archs)))
    return (os_name or "linux", arch) if arch else None


def manifest_platforms(manifest: Any,
                       media_type: str | None = None) -> list[tuple[str, str]] | None:
    """(os, architecture) of every image an index carries (attestations skipped); None for
    a single-image manifest, whose platform is only in its config blob."""
    try:
        doc = json.loads(manifest) if isinstance(manifest, str) else manifest
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    kind = doc.get("mediaType") or media_type
    if kind not in INDEX_TYPES and "manifests" not in doc:
        return None
    out = []
    for entry in objs(doc.get("manifests")):
        platform = obj(entry.get("platform"))
        os_name, arch = str(platform.get("os", "")), str(platform.get("architecture", ""))
        if os_name and arch and "unknown" not in (os_name, arch):
            out.append((os_name, arch))
    return sorted(set(out))


def decisions(ask: Ask, results: Iterable[Item]) -> list[tuple[str, str]]:
    """(action, decision) of the simulation results (EvaluationResult items) that answer
    `ask`: its actions on its resource."""
    return [(str(r.get("EvalActionName")), str(r.get("EvalDecision"))) for r in results
            if r.get("EvalResourceName") == ask.resource and r.get("EvalActionName")
            in ask.actions]
