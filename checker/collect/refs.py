"""The gate's reference collector: what AWS says about the names a task definition holds
(its roles, ECR images and their manifests, secrets, SSM parameters, awslogs log groups,
and what its execution role may do), read as a careful deployer would check by hand before
`update-service`.

It writes resource collections (checker.bundle.REFERENCES) in the AWS response shapes —
GetRole's Role, DescribeImages' ImageDetail, BatchGetImage's Image, DescribeSecret's
answer, DescribeParameters' ParameterMetadata, DescribeLogGroups' LogGroup and
SimulatePrincipalPolicy's EvaluationResult (for the execution role, one simulation per
resource: checker.names.plan) — and records a failed call in the bundle's errors under its
collection, as every collector does: the checks that need it are then `unknown`, naming
the permission. A name AWS does not know (NoSuchEntity, ImageNotFoundException, …) is no
failure: it is simply not in its collection, and the gate's checks (checks/gate/) say so.
Names that cannot be looked up — template placeholders, another account's roles and
parameters — are not asked about.

Every call is read-only and listed in :data:`OPERATIONS` (deploy/gate-iam-policy.json is
tested to equal it), with the gate's own user agent. Values are never read: secrets are
described (DescribeSecret) and parameters listed by name (DescribeParameters), never fetched.
One client per service and Region: images, secrets and log groups may live in other Regions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from checker.bundle import to_jsonable
from checker.collect.aws import (
    GATE_USER_AGENT,
    MAX_PAGES,
    PageLimitExceeded,
    Recorder,
    input_error,
)
from checker.facts import Item
from checker.names import (
    ACCEPTED_MANIFESTS,
    EcrImage,
    awslogs_groups,
    ecr_image,
    kms_key,
    partition_of,
    placeholder,
    plan,
    role_name,
    secret_ref,
    secret_references,
)

#: Every IAM action the reference collector may call (read-only).
OPERATIONS: frozenset[str] = frozenset({
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "iam:GetRole",
    "iam:SimulatePrincipalPolicy",
    "logs:DescribeLogGroups",
    "secretsmanager:DescribeSecret",
    "ssm:DescribeParameters",
})

#: AWS's answer "no such thing": the name is not in its collection, nothing failed.
NOT_FOUND = frozenset({"NoSuchEntity", "ResourceNotFoundException", "ImageNotFoundException",
                       "RepositoryNotFoundException", "ParameterNotFound"})
#: The launch type whose execution role does the most (pulls and logs too): the simulations
#: asked cover every launch type, and the check keeps those of the task's own.
_MOST = "FARGATE"


def code_of(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


@dataclass
class Probe:
    """The clients and the failures of one gate run's reference reads."""

    session: Any
    region: str
    account: str
    endpoint_url: str | None = None
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    recorder: Recorder = field(default_factory=Recorder)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self.clients:
            config = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5,
                            read_timeout=30, user_agent_extra=GATE_USER_AGENT)
            self.clients[key] = self.session.client(service, region_name=key[1],
                                                    endpoint_url=self.endpoint_url,
                                                    config=config)
        return self.clients[key]

    def ask(self, collection: str, operation: str, call: Callable[..., Any], *args: Any,
            **kw: Any) -> Any:
        """`call(*args, **kw)`'s answer; None when AWS knows no such thing, or when the call
        failed (recorded under `collection`). A failure only the user can fix (no
        credentials) raises InputError."""
        try:
            return call(*args, **kw)
        except Exception as exc:
            if code_of(exc) in NOT_FOUND:
                return None
            user = input_error(exc)
            if user is not None:
                raise user from exc
            self.recorder.record(collection, operation, exc)
            return None


def collect_refs(session: Any, td: Item, *, region: str, account: str,
                 endpoint_url: str | None = None) -> tuple[dict[str, list[Item]], list[Item]]:
    """(resources, errors): the reference collections for the candidate `td`, and an
    `errors[]` entry per failed call."""
    probe = Probe(session=session, region=region, account=account, endpoint_url=endpoint_url)
    images, manifests = _images(probe, td)
    secrets, parameters = _secrets(probe, td), _parameters(probe, td)
    keys = {arn: key for arn, item in {**secrets, **parameters}.items()
            if (key := kms_key(item)) is not None}
    resources = {
        "iam_roles": sorted(_roles(probe, td), key=lambda r: str(r.get("RoleName"))),
        "ecr_images": images, "ecr_manifests": manifests,
        "secrets": sorted(secrets.values(), key=lambda s: str(s.get("ARN"))),
        "ssm_parameters": sorted(parameters.values(), key=lambda p: str(p.get("Name"))),
        "log_groups": _log_groups(probe, td),
        "policy_simulations": _simulations(probe, td, keys),
    }
    return to_jsonable(resources), list(probe.recorder.errors())


def _roles(probe: Probe, td: Item) -> Iterable[Item]:
    seen: set[str] = set()
    for key in ("taskRoleArn", "executionRoleArn"):
        value = td.get(key)
        if not isinstance(value, str) or not value or placeholder(value):
            continue
        parts = value.split(":")
        if value.startswith("arn:") and len(parts) > 4 and parts[4] not in ("", probe.account):
            continue  # GetRole sees this account only; the check says so
        name = role_name(value)
        if name in seen:
            continue
        seen.add(name)
        answer = probe.ask("iam_roles", "iam:GetRole", probe.client("iam").get_role,
                           RoleName=name)
        if answer is not None:
            yield answer["Role"]


#: ``ask(collection, operation, call, *args, **kw)``: the call's answer, or None when AWS
#: knows no such thing or the call failed (the asker records the failure its own way: the
#: gate in its Probe, the scan in its Context).
Asker = Callable[..., Any]


def ecr_lookup(ecr: Any, ref: EcrImage,
               ask: Asker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(DescribeImages' ImageDetail items, BatchGetImage's Image items) of one ECR image:
    the image as ECR knows it, then its manifest (an index names every platform it
    carries). No BatchGetImage for an image ECR does not have. The gate's reference
    collector and the scan's image probe (checker/collect/images.py) both ask this way, so
    the checks read one shape whichever wrote it."""
    where = {"registryId": ref.account, "repositoryName": ref.repository,
             "imageIds": [ref.image_id]}
    found = ask("ecr_images", "ecr:DescribeImages", ecr.describe_images, **where)
    details = list((found or {}).get("imageDetails", []))
    if not details:
        return [], []
    got = ask("ecr_manifests", "ecr:BatchGetImage", ecr.batch_get_image, **where,
              acceptedMediaTypes=list(ACCEPTED_MANIFESTS))
    return details, list((got or {}).get("images", []))


def image_key(ref: EcrImage) -> tuple[str, str, str, str]:
    """One image reference, as the bundle's ECR collections are ordered by it."""
    return ref.account, ref.region, ref.repository, ref.ref


def _images(probe: Probe, td: Item) -> tuple[list[Item], list[Item]]:
    details: dict[tuple[str, ...], Item] = {}
    manifests: dict[tuple[str, ...], Item] = {}
    refs = {image_key(r): r for ctr in _containers(td)
            if (r := ecr_image(ctr.get("image"))) is not None}
    for key, ref in sorted(refs.items()):
        found, got = ecr_lookup(probe.client("ecr", ref.region), ref, probe.ask)
        for item in found:
            details[(*key, str(item.get("imageDigest")))] = item
        for item in got:
            manifests[key] = item
    return [details[k] for k in sorted(details)], [manifests[k] for k in sorted(manifests)]


def _secrets(probe: Probe, td: Item) -> dict[str, Item]:
    """Secret ARN as referenced → DescribeSecret's answer."""
    out: dict[str, Item] = {}
    for item in secret_references(td):
        ref = secret_ref(item.value, probe.region, probe.account)
        if ref is None or ref.kind != "secretsmanager" or ref.arn in out:
            continue
        answer = probe.ask("secrets", "secretsmanager:DescribeSecret",
                           probe.client("secretsmanager", ref.region).describe_secret,
                           SecretId=ref.name)
        if answer is not None:
            out[ref.arn] = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    return out


def _parameters(probe: Probe, td: Item) -> dict[str, Item]:
    """Parameter ARN → its DescribeParameters item (this account's only)."""
    out: dict[str, Item] = {}
    for item in secret_references(td):
        ref = secret_ref(item.value, probe.region, probe.account)
        if ref is None or ref.kind != "ssm" or ref.account != probe.account or ref.arn in out:
            continue
        answer = probe.ask("ssm_parameters", "ssm:DescribeParameters",
                           probe.client("ssm", ref.region).describe_parameters,
                           ParameterFilters=[{"Key": "Name", "Option": "Equals",
                                              "Values": [ref.name]}])
        found = (answer or {}).get("Parameters") or []
        if found:
            out[ref.arn] = found[0]
    return out


def _log_groups(probe: Probe, td: Item) -> list[Item]:
    out: dict[tuple[str, str], Item] = {}
    for group in awslogs_groups(td, probe.region):
        if not group.name or placeholder(group.name) or (group.region, group.name) in out:
            continue
        for found in probe.ask("log_groups", "logs:DescribeLogGroups", _log_group,
                               probe.client("logs", group.region), group.name) or []:
            out[(group.region, group.name)] = found
    return [out[k] for k in sorted(out)]


def _log_group(logs: Any, name: str) -> list[Item]:
    """The log group named `name` (DescribeLogGroups matches by prefix)."""
    pages = logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=name, PaginationConfig={"MaxItems": 200})
    return [g for page in pages for g in page.get("logGroups", [])
            if g.get("logGroupName") == name]


def _simulations(probe: Probe, td: Item, keys: dict[str, str]) -> list[Item]:
    """What the execution role may do: every action the agent may perform with it."""
    role = td.get("executionRoleArn")
    if not isinstance(role, str) or not role or placeholder(role):
        return []
    arn = role if role.startswith("arn:") else f"arn:aws:iam::{probe.account}:role/{role}"
    out: list[Item] = []
    for ask in plan(td, _MOST, probe.region, probe.account, keys, partition_of(arn)):
        kw: dict[str, Any] = {"PolicySourceArn": arn, "ActionNames": list(ask.actions)}
        if ask.resource != "*":
            kw["ResourceArns"] = [ask.resource]
        results = probe.ask("policy_simulations", "iam:SimulatePrincipalPolicy", _simulate,
                            probe.client("iam"), kw)
        if results is None:
            break  # denied or failed: recorded; the rest would fail the same way
        out += results
    return out


def _simulate(iam: Any, kw: dict[str, Any]) -> list[Item]:
    """Every EvaluationResult of one simulation, all pages (at most MAX_PAGES: past it
    the service is looping on Marker, and the failure is recorded)."""
    out: list[Item] = []
    for _ in range(MAX_PAGES):
        response = iam.simulate_principal_policy(**kw)
        out += response.get("EvaluationResults", [])
        if not response.get("IsTruncated") or not response.get("Marker"):
            return out
        kw = {**kw, "Marker": response["Marker"]}
    raise PageLimitExceeded(f"stopped after {MAX_PAGES} pages: the service kept returning a "
                            "new Marker")


def _containers(td: Item) -> list[Item]:
    raw = td.get("containerDefinitions")
    return [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []
