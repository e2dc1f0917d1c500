"""What the names in a task definition point at — ECR images, secrets, parameters, log
groups, roles — and what the ECS agent does with them under the task execution role.

Pure string work, no AWS call: the gate's reference collector (checker/collect/refs.py)
uses it to know what to ask AWS, and the gate's checks (checks/gate/, with
checks/lib/references.py) to know what they judge. Kept in the engine, apart from both, so
that the rules — a Secrets Manager `valueFrom` may carry `:json-key:stage:version` after
the secret ARN, an SSM parameter may be a bare name in the task's Region, an image with
neither tag nor digest means `latest` — are one piece of code, tested without AWS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checker.facts import Item, obj, objs

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


def container_image(td: Any, container: str) -> str | None:
    """The image a task definition names for the container called ``container``: the scan's
    image probe asks ECR about it, and the log checks judge what ECR answered."""
    defs = td.get("containerDefinitions") if isinstance(td, dict) else None
    for ctr in defs if isinstance(defs, list) else []:
        if isinstance(ctr, dict) and ctr.get("name") == container:
            image = ctr.get("image")
            return str(image) if image else None
    return None


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
    for i, ctr in enumerate(objs(td.get("containerDefinitions"))):
        name, base = str(ctr.get("name") or "?"), f"containerDefinitions[{i}]"
        for j, secret in enumerate(objs(ctr.get("secrets"))):
            yield Reference(name, f"{base}.secrets[{j}].valueFrom", str(secret.get("valueFrom")))
        log = obj(ctr.get("logConfiguration"))
        for j, secret in enumerate(objs(log.get("secretOptions"))):
            yield Reference(name, f"{base}.logConfiguration.secretOptions[{j}].valueFrom",
                            str(secret.get("valueFrom")))
        creds = obj(ctr.get("repositoryCredentials")).get("credentialsParameter")
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
    for i, ctr in enumerate(objs(td.get("containerDefinitions"))):
        log = obj(ctr.get("logConfiguration"))
        if log.get("logDriver") != "awslogs":
            continue
        options = obj(log.get("options"))
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


def kms_key(item: Item | None) -> str | None:
    """The customer-managed KMS key ARN a secret (KmsKeyId) or parameter (KeyId) is
    encrypted with; None for AWS-managed keys, aliases and deleted secrets."""
    if item is None or item.get("DeletedDate"):
        return None
    key = str(item.get("KmsKeyId") or item.get("KeyId") or "")
    return key if key.startswith("arn:") and ":key/" in key else None


#: Image indexes (several platforms) and what BatchGetImage is asked to return.
INDEX_TYPES = frozenset({"application/vnd.docker.distribution.manifest.list.v2+json",
                          "application/vnd.oci.image.index.v1+json"})
ACCEPTED_MANIFESTS = (*sorted(INDEX_TYPES),
                      "application/vnd.docker.distribution.manifest.v2+json",
                      "application/vnd.oci.image.manifest.v1+json")


# -- what the agent does with the execution role (iam:SimulatePrincipalPolicy asks) --------
# Who uses the execution role depends on where the task runs (task_execution_IAM_role.html):
# secrets and private-registry credentials always go through it; image pulls from ECR and
# awslogs only on Fargate and external instances — on EC2 the container instance role does
# those, and the gate does not simulate it.

PULL = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
AUTH = ("ecr:GetAuthorizationToken",)
LOG = ("logs:CreateLogStream", "logs:PutLogEvents")
AGENT_PULLS_AND_LOGS = frozenset({"FARGATE", "EXTERNAL"})


@dataclass(frozen=True)
class Ask:
    """Actions to simulate on one resource ("*" for account-wide actions), and why: one
    simulation per resource, so an action is never evaluated against a resource it does
    not apply to."""

    resource: str
    actions: tuple[str, ...]
    why: str
    json_path: str


def plan(td: Item, launch: str, region: str, account: str, kms_keys: Mapping[str, str],
         partition: str = "aws") -> list[Ask]:
    """The actions, on the exact ARNs the task definition names, that the agent performs
    with the execution role where the task runs (`launch`: FARGATE, EC2 or EXTERNAL)."""
    asks: list[Ask] = []
    if launch in AGENT_PULLS_AND_LOGS:
        asks += _pulls(td, partition)
    asks += _secrets(td, region, account, kms_keys, partition)
    if launch in AGENT_PULLS_AND_LOGS:
        asks += _logs(td, region, account, partition)
    seen: set[tuple[str, tuple[str, ...]]] = set()
    out = []
    for ask in asks:
        if (ask.resource, ask.actions) not in seen:
            seen.add((ask.resource, ask.actions))
            out.append(ask)
    return out


def _pulls(td: Item, partition: str) -> list[Ask]:
    out = []
    for i, ctr in enumerate(objs(td.get("containerDefinitions"))):
        ref = ecr_image(ctr.get("image"))
        if ref is not None:
            path = f"containerDefinitions[{i}].image"
            out.append(Ask("*", AUTH, "log in to ECR", path))
            out.append(Ask(ref.arn(partition), PULL,
                           f"pull {ref.repository}{ref.ref} (container "
                           f"{ctr.get('name') or '?'})", path))
    return out


def _secrets(td: Item, region: str, account: str, kms_keys: Mapping[str, str],
             partition: str) -> list[Ask]:
    out = []
    for item in secret_references(td):
        ref = secret_ref(item.value, region, account, partition)
        if ref is None:
            continue
        action = ("secretsmanager:GetSecretValue",) if ref.kind == "secretsmanager" else (
            "ssm:GetParameters",)
        what = "secret" if ref.kind == "secretsmanager" else "parameter"
        out.append(Ask(ref.arn, action, f"read {what} {ref.name} (container {item.container})",
                       item.json_path))
        key = kms_keys.get(ref.arn)
        if key:
            out.append(Ask(key, ("kms:Decrypt",), f"decrypt {what} {ref.name}", item.json_path))
    return out


def _logs(td: Item, region: str, account: str, partition: str) -> list[Ask]:
    out = []
    for group in awslogs_groups(td, region):
        if not group.name:
            continue
        base = f"arn:{partition}:logs:{group.region}:{account}:log-group:{group.name}"
        out.append(Ask(f"{base}:log-stream:*", LOG,
                       f"write logs to {group.name} (container {group.container})",
                       group.json_path))
        if group.create:
            out.append(Ask(f"{base}:*", ("logs:CreateLogGroup",),
                           f"create log group {group.name}", group.json_path))
    return out
