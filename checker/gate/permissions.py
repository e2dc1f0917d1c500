"""Which actions, on which resources, the ECS agent performs with the task execution role.

This is the question `iam:SimulatePrincipalPolicy` answers, asked precisely: the actions on
the exact ARNs the task definition names (its ECR repositories, each secret and parameter
and the KMS key that encrypts it, each awslogs log group), one simulation per resource so
that an action is never evaluated against a resource it does not apply to.

Who uses the execution role depends on where the task runs (task_execution_IAM_role.html):
secrets and private-registry credentials always go through it; image pulls from ECR and
awslogs only on Fargate and external instances — on EC2 the container instance role does
those, and the gate does not simulate it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from checker.facts import Item
from checker.gate.names import awslogs_groups, ecr_image, secret_ref, secret_references
from checks.lib.taskdefs import container_name, containers

PULL = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
AUTH = ("ecr:GetAuthorizationToken",)
LOG = ("logs:CreateLogStream", "logs:PutLogEvents")
AGENT_PULLS_AND_LOGS = frozenset({"FARGATE", "EXTERNAL"})


@dataclass(frozen=True)
class Ask:
    """Actions to simulate on one resource ("*" for account-wide actions), and why."""

    resource: str
    actions: tuple[str, ...]
    why: str
    json_path: str


def plan(td: Item, launch: str, region: str, account: str, kms_keys: Mapping[str, str],
         partition: str = "aws") -> list[Ask]:
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
    for i, ctr in enumerate(containers(td)):
        ref = ecr_image(ctr.get("image"))
        if ref is not None:
            path = f"containerDefinitions[{i}].image"
            out.append(Ask("*", AUTH, "log in to ECR", path))
            out.append(Ask(ref.arn(partition), PULL,
                           f"pull {ref.repository}{ref.ref} (container {container_name(ctr)})",
                           path))
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
