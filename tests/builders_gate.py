"""Gate bundles, as checker/gate/run.py builds them: the candidate as the only task
definition, the gate's input beside it (bundle key `gate`), and — live — the target as
collected with the target service running the candidate and the reference collections."""

from __future__ import annotations

import json
from typing import Any

from checker.bundle import GATE, REFERENCES
from checker.facts import Facts
from checker.gate.run import swap
from tests import builders as b

ECS_TASKS_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def candidate(request: dict[str, Any]) -> dict[str, Any]:
    """The request as the gate's checks see it: `<family>:candidate`, no tags."""
    td = {k: v for k, v in request.items() if k != "tags"}
    td["taskDefinitionArn"] = f"{request['family']}:candidate"
    return td


def gate_bundle(request: dict[str, Any], *, live: dict[str, Any] | None = None,
                service: dict[str, Any] | None = None, refs: dict[str, list[Any]] | None = None,
                nulls: tuple[str, ...] = (), invalid: tuple[dict[str, Any], ...] = (),
                waivers: dict[str, Any] | None = None, errors: tuple[dict[str, Any], ...] = (),
                file: str = "td.json", cluster: str = "prod") -> dict[str, Any]:
    """Offline unless `live` (a collected bundle of the target) is given; `service` is the
    target service in it (running its own task definition, which becomes `gate.running`);
    `refs` the reference collections (the others collected and empty)."""
    td = candidate(request)
    gate: dict[str, Any] = {"task_definition": td["taskDefinitionArn"], "file": file,
                            "live": live is not None, "nulls": list(nulls),
                            "invalid_values": list(invalid), "cluster": None, "service": None,
                            "running_task_definition": None, "running": None,
                            "waivers": waivers}
    if live is None:
        bundle = b.bundle(task_definitions=[td])
        bundle.update(account=None, region=None, scope={})
        del bundle["metrics"]
    else:
        bundle = dict(live)
        resources = dict(live.get("resources", {}))
        if service is not None:
            running = str(service.get("taskDefinition"))
            gate.update(service=service["serviceArn"], running_task_definition=running,
                        running=Facts(live).task_definition(running)
                        if "task_definitions" in resources else None)
        resources["services"] = [swap(service, td["taskDefinitionArn"])] if service else []
        resources["task_definitions"] = [td]
        resources.update({name: [] for name in REFERENCES})
        resources.update(refs or {})
        bundle["resources"] = resources
        gate["cluster"] = cluster
    bundle["errors"] = [*bundle.get("errors", []), *errors]
    bundle[GATE] = gate
    return bundle


def role(name: str, trust: dict[str, Any] | None = None, path: str = "/") -> dict[str, Any]:
    """A GetRole `Role`, its trust policy decoded as boto3 returns it (botocore's
    json_decode_policies handler; the model says string)."""
    item = b.shaped("iam", "Role", {
        "Path": path, "RoleName": name, "RoleId": "AROA" + "X" * 17,
        "Arn": f"arn:aws:iam::{b.ACCOUNT}:role{path}{name}", "CreateDate": b.iso(b.NOW),
        "AssumeRolePolicyDocument": json.dumps(trust or ECS_TASKS_TRUST)})
    return {**item, "AssumeRolePolicyDocument": trust or ECS_TASKS_TRUST}


def image(repository: str, tag: str, digest: str = "sha256:" + "a" * 64) -> dict[str, Any]:
    """A DescribeImages `ImageDetail`."""
    return b.shaped("ecr", "ImageDetail", {"registryId": b.ACCOUNT, "repositoryName": repository,
                                           "imageDigest": digest, "imageTags": [tag]})


def manifest(repository: str, tag: str, *platforms: tuple[str, str]) -> dict[str, Any]:
    """A BatchGetImage `Image`: an image index carrying `platforms` ((os, arch) pairs), or a
    single-platform manifest when there are none."""
    media = ("application/vnd.oci.image.index.v1+json" if platforms
             else "application/vnd.oci.image.manifest.v1+json")
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media}
    if platforms:
        doc["manifests"] = [{"platform": {"os": o, "architecture": a}} for o, a in platforms]
    return b.shaped("ecr", "Image", {
        "registryId": b.ACCOUNT, "repositoryName": repository,
        "imageId": {"imageTag": tag, "imageDigest": "sha256:" + "a" * 64},
        "imageManifest": json.dumps(doc), "imageManifestMediaType": media})


def secret(name: str, **extra: Any) -> dict[str, Any]:
    """A DescribeSecret answer."""
    return b.shaped("secretsmanager", "DescribeSecretResponse", {
        "ARN": f"arn:aws:secretsmanager:{b.REGION}:{b.ACCOUNT}:secret:{name}-AbCdEf",
        "Name": name, **extra})


def parameter(name: str, **extra: Any) -> dict[str, Any]:
    """A DescribeParameters `ParameterMetadata`."""
    return b.shaped("ssm", "ParameterMetadata", {
        "Name": name, "Type": "SecureString",
        "ARN": f"arn:aws:ssm:{b.REGION}:{b.ACCOUNT}:parameter/{name.lstrip('/')}", **extra})


def log_group(name: str, region: str = b.REGION) -> dict[str, Any]:
    """A DescribeLogGroups `LogGroup`."""
    return b.shaped("logs", "LogGroup", {
        "logGroupName": name, "arn": f"arn:aws:logs:{region}:{b.ACCOUNT}:log-group:{name}:*"})


def decision(action: str, resource: str, verdict: str = "allowed") -> dict[str, Any]:
    """A SimulatePrincipalPolicy `EvaluationResult`."""
    return b.shaped("iam", "EvaluationResult", {"EvalActionName": action,
                                                "EvalResourceName": resource,
                                                "EvalDecision": verdict})
