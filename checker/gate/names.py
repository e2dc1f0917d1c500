"""What the names in a task definition point at: ECR images, secrets, parameters, log
groups, roles.

Pure string work shared by the gate's static checks and by checker/collect/gate_refs.py
(which asks AWS about them). Kept apart so that the rules — a Secrets Manager `valueFrom`
may carry `:json-key:stage:version` after the secret ARN, an SSM parameter may be a bare
name in the task's Region, an image with neither tag nor digest means `latest` — are tested
without AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from checker.facts import Item

_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<repo>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\$\{|<[^>]*>|^\$[A-Za-z_]|%[A-Za-z_]+%|#\{")


def placeholder(value: Any) -> bool:
    """A template variable (`{{image}}`, `${TAG}`, `<IMAGE1_NAME>`, `$IMAGE`): the file was
    not rendered, so there is nothing real to look up."""
    return isinstance(value, str) and bool(_PLACEHOLDER.search(value))


@dataclass(frozen=True)
class EcrImage:
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def image_id(self) -> dict[str, str]:
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag or "latest"}

    @property
    def ref(self) -> str:
        return f"@{self.digest}" if self.digest else f":{self.tag or 'latest'}"

    def arn(self, partition: str = "aws") -> str:
        return f"arn:{partition}:ecr:{self.region}:{self.account}:repository/{self.repository}"


def ecr_image(image: Any) -> EcrImage | None:
    """A private ECR image reference, or None (Docker Hub, public.ecr.aws, placeholders)."""
    if not isinstance(image, str):
        return None
    m = _ECR.match(image.strip())
    if m is None:
        return None
    return EcrImage(account=m["account"], region=m["region"], repository=m["repo"],
                    tag=m["tag"], digest=m["digest"])


@dataclass(frozen=True)
class SecretRef:
    """One `valueFrom` (or credentialsParameter), resolved to what can be described."""

    kind: str  # "secretsmanager" | "ssm"
    arn: str  # the ARN the execution role needs access to
    name: str  # SecretId for DescribeSecret / Name for DescribeParameters
    region: str
    account: str


def secret_ref(value_from: Any, region: str, account: str,
               partition: str = "aws") -> SecretRef | None:
    """Secrets Manager ARN (maybe with `:json-key:stage:version`), SSM parameter ARN, or a
    bare SSM parameter name (same Region and account as the task)."""
    if not isinstance(value_from, str) or not value_from or placeholder(value_from):
        return None
    if value_from.startswith("arn:"):
        parts = value_from.split(":")
        if len(parts) < 6:
            return None
        service, reg, acct = parts[2], parts[3], parts[4]
        if service == "secretsmanager" and len(parts) >= 7 and parts[5] == "secret":
            arn = ":".join(parts[:7])
            return SecretRef("secretsmanager", arn, arn, reg, acct)
        resource = ":".join(parts[5:])
        if service == "ssm" and resource.startswith("parameter/"):
            rest = resource.removeprefix("parameter/")
            name = f"/{rest}" if "/" in rest else rest
            return SecretRef("ssm", ":".join(parts[:5]) + ":" + resource, name, reg, acct)
        return None
    name = value_from
    rest = name.lstrip("/")
    return SecretRef("ssm", f"arn:{partition}:ssm:{region}:{account}:parameter/{rest}", name,
                     region, account)


@dataclass(frozen=True)
class Reference:
    """A name in the file and where it is (request-relative JSON path)."""

    container: str
    json_path: str
    value: str


def secret_references(td: Item) -> Iterator[Reference]:
    """Every `secrets[].valueFrom`, `logConfiguration.secretOptions[].valueFrom` and
    `repositoryCredentials.credentialsParameter` of every container."""
    for i, ctr in enumerate(_objects(td.get("containerDefinitions"))):
        name, base = str(ctr.get("name") or "?"), f"containerDefinitions[{i}]"
        for j, secret in enumerate(_objects(ctr.get("secrets"))):
            yield Reference(name, f"{base}.secrets[{j}].valueFrom", str(secret.get("valueFrom")))
        log = _object(ctr.get("logConfiguration"))
        for j, secret in enumerate(_objects(log.get("secretOptions"))):
            yield Reference(name, f"{base}.logConfiguration.secretOptions[{j}].valueFrom",
                            str(secret.get("valueFrom")))
        creds = _object(ctr.get("repositoryCredentials")).get("credentialsParameter")
        if creds:
            yield Reference(name, f"{base}.repositoryCredentials.credentialsParameter",
                            str(creds))


@dataclass(frozen=True)
class LogGroup:
    container: str
    json_path: str
    name: str
    region: str
    create: bool

    def arn(self, account: str, partition: str = "aws") -> str:
        return f"arn:{partition}:logs:{self.region}:{account}:log-group:{self.name}"


def awslogs_groups(td: Item, default_region: str) -> Iterator[LogGroup]:
    for i, ctr in enumerate(_objects(td.get("containerDefinitions"))):
        log = _object(ctr.get("logConfiguration"))
        if log.get("logDriver") != "awslogs":
            continue
        options = _object(log.get("options"))
        base = f"containerDefinitions[{i}].logConfiguration.options"
        yield LogGroup(container=str(ctr.get("name") or "?"),
                       json_path=f"{base}.awslogs-group",
                       name=str(options.get("awslogs-group") or ""),
                       region=str(options.get("awslogs-region") or default_region),
                       create=str(options.get("awslogs-create-group", "")).lower() == "true")


def role_name(role: str) -> str:
    """`arn:aws:iam::1:role/service/ecsTaskRole` or `ecsTaskRole` → `ecsTaskRole`
    (GetRole takes the name without its path)."""
    return role.rsplit("/", 1)[-1] if role.startswith("arn:") else role


def partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if arn.startswith("arn:") and len(parts) > 1 and parts[1] else "aws"


def _object(value: Any) -> Item:
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[Item]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


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


_INDEX_TYPES = frozenset({"application/vnd.docker.distribution.manifest.list.v2+json",
                          "application/vnd.oci.image.index.v1+json"})
ACCEPTED_MANIFESTS = (*sorted(_INDEX_TYPES),
                      "application/vnd.docker.distribution.manifest.v2+json",
                      "application/vnd.oci.image.manifest.v1+json")


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
    if kind not in _INDEX_TYPES and "manifests" not in doc:
        return None
    out = []
    for entry in _objects(doc.get("manifests")):
        platform = _object(entry.get("platform"))
        os_name, arch = str(platform.get("os", "")), str(platform.get("architecture", ""))
        if os_name and arch and "unknown" not in (os_name, arch):
            out.append((os_name, arch))
    return sorted(set(out))
