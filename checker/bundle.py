"""Load, validate and save bundle v1 (CONTRACTS.md §1).

A bundle is plain JSON in the AWS API shapes so that anyone who knows the API can read one,
write one by hand, or diff two. Validation here is structural (format, version, types of
every top-level list): it is what stands between a hand-written file and a check that would
otherwise trip over a string where a list was promised, and a failure is an input error.
The items themselves are checked against botocore's shapes by checker.shapes, as warnings,
in Engine.analyze: bundles from scan, demo and the Lambda audit never pass through load().
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from checker import gcpause
from checker.errors import BundleError, InputError
from checker.files import PRIVATE, write_text

FORMAT = "ecsdoctor-bundle"
VERSION = 1

#: Every resource collection of bundle v1, with the API call it comes from.
COLLECTIONS: dict[str, str] = {
    "clusters": "ecs:DescribeClusters",
    # each service as DescribeServices returns it, with `taskSets` (EXTERNAL, CODE_DEPLOY)
    "services": "ecs:DescribeServices",
    "tasks": "ecs:DescribeTasks",
    "task_definitions": "ecs:DescribeTaskDefinition",
    "container_instances": "ecs:DescribeContainerInstances",
    "capacity_providers": "ecs:DescribeCapacityProviders",
    "account_settings": "ecs:ListAccountSettings",
    "ec2_instances": "ec2:DescribeInstances",
    "instance_types": "ec2:DescribeInstanceTypes",
    "credit_specifications": "ec2:DescribeInstanceCreditSpecifications",
    "vpcs": "ec2:DescribeVpcs",
    "subnets": "ec2:DescribeSubnets",
    "route_tables": "ec2:DescribeRouteTables",
    "nat_gateways": "ec2:DescribeNatGateways",
    "vpc_endpoints": "ec2:DescribeVpcEndpoints",
    "security_groups": "ec2:DescribeSecurityGroups",
    "network_acls": "ec2:DescribeNetworkAcls",
    "load_balancers": "elasticloadbalancing:DescribeLoadBalancers",
    "target_groups": "elasticloadbalancing:DescribeTargetGroups",
    "target_health": "elasticloadbalancing:DescribeTargetHealth",
    # per Application Load Balancer: [{"LoadBalancerArn", "Attributes": [{"Key", "Value"}]}]
    "load_balancer_attributes": "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "scalable_targets": "application-autoscaling:DescribeScalableTargets",
    "scaling_policies": "application-autoscaling:DescribeScalingPolicies",
    "auto_scaling_groups": "autoscaling:DescribeAutoScalingGroups",
    # CONTRACTS.md §5: the history log group (deploy/history.yaml) and CloudTrail
    "task_history": "logs:FilterLogEvents",
    "ecs_events": "logs:FilterLogEvents",
    "cloudtrail_events": "cloudtrail:LookupEvents",
    # CONTRACTS.md §5: container logs of failing services, and the alarms on them
    "log_events": "logs:GetLogEvents",
    "alarms": "cloudwatch:DescribeAlarms",
    # what the task roles may do for ECS Exec and X-Ray: [{"PolicySourceArn", "EvaluationResults"}]
    "task_role_simulations": "iam:SimulatePrincipalPolicy",
    # the images of containers whose log says exec format error (checker/collect/images.py):
    # the same collections, in the same shapes, as the gate's reference collector writes
    "ecr_images": "ecr:DescribeImages",
    "ecr_manifests": "ecr:BatchGetImage",
}

#: What the gate's reference collector (checker/collect/refs.py) reads about the names a
#: task definition holds: resource collections like the ones above (AWS item shapes; a
#: failed read is an `errors[]` entry naming the collection), written by
#: `ecsdoctor gate --cluster`. A scan writes only the two ECR ones, for the images of
#: containers that logged exec format error (COLLECTIONS above).
REFERENCES: dict[str, str] = {
    "iam_roles": "iam:GetRole",
    "ecr_images": "ecr:DescribeImages",
    "ecr_manifests": "ecr:BatchGetImage",
    "secrets": "secretsmanager:DescribeSecret",
    "ssm_parameters": "ssm:DescribeParameters",
    "log_groups": "logs:DescribeLogGroups",
    "policy_simulations": "iam:SimulatePrincipalPolicy",
}

#: The pseudo-collection that holds CloudWatch series (bundle["metrics"]).
METRICS = "metrics"
#: The key that holds the gate's input (bundle["gate"], an object): the candidate task
#: definition's ARN and file, what reading the file found (null fields, values outside the
#: API's enums), the target cluster and service, the revision the service runs now and
#: the waivers. Absent from every other bundle.
GATE = "gate"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def new_bundle(
    *, account: str | None, region: str | None, scope: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "collected_at": now_iso(),
        "account": account,
        "region": region,
        "scope": dict(scope),
        "resources": {},
        "metrics": [],
        "errors": [],
    }


def to_jsonable(value: Any) -> Any:
    """AWS responses carry datetimes; the bundle stores them as ISO-8601 strings."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _where(path: str, problem: str) -> BundleError:
    return BundleError(f"invalid bundle: {path}: {problem}")


def validate(bundle: Any, source: str = "bundle") -> dict[str, Any]:
    """Return the bundle if it is bundle v1; otherwise raise BundleError naming the key."""
    if not isinstance(bundle, dict):
        raise _where(source, f"expected a JSON object, got {type(bundle).__name__}")
    if bundle.get("format") != FORMAT:
        raise _where(
            f"{source}: format",
            f"expected {FORMAT!r}, got {bundle.get('format')!r} (is this an ecsdoctor bundle?)",
        )
    version = bundle.get("version")
    if version != VERSION or isinstance(version, bool):
        raise _where(
            f"{source}: version",
            f"expected {VERSION}, got {version!r}; this ecsdoctor reads v{VERSION}",
        )
    for key in ("account", "region", "collected_at"):  # the report's header: string or null
        if not isinstance(bundle.get(key), str | None):
            raise _where(f"{source}: {key}", f"expected a string or null, "
                                             f"got {type(bundle[key]).__name__}")
    _validate_resources(bundle.get("resources", {}), source)
    _validate_metrics(bundle.get("metrics", []), source)
    for key in ("errors", "retries"):  # retries: additive, written by scans since issue 7
        entries = bundle.get(key, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise _where(f"{source}: {key}", "expected a list of objects")
    for key in ("scope", GATE):
        if not isinstance(bundle.get(key, {}), dict):
            raise _where(f"{source}: {key}", "expected an object")
    _validate_labels(bundle, source)
    return bundle


def _validate_labels(bundle: dict[str, Any], source: str) -> None:
    """What the report quotes as text (an error's collection, operation, code, message;
    the scope's names) must be text: a list there is a hand-edit gone wrong, one line and
    exit 2, not a crash in the middle of the checks."""
    for i, entry in enumerate(bundle.get("errors", [])):
        for key in ("collection", "operation", "code", "message", "level"):
            if not isinstance(entry.get(key), str | None):
                raise _where(f"{source}: errors[{i}].{key}", "expected a string")
    for key, names in bundle.get("scope", {}).items():
        if key in ("clusters", "services") and not (
                isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise _where(f"{source}: scope.{key}", "expected a list of names")


def _validate_resources(resources: Any, source: str) -> None:
    if not isinstance(resources, dict):
        raise _where(f"{source}: resources", "expected an object of collection lists")
    for name, items in resources.items():
        if not isinstance(items, list):
            raise _where(
                f"{source}: resources.{name}", f"expected a list, got {type(items).__name__}"
            )
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise _where(
                    f"{source}: resources.{name}[{i}]",
                    f"expected an object, got {type(item).__name__}",
                )
    for i, svc in enumerate(resources.get("services", [])):
        # a service is known by its ARN everywhere (tasks, metrics, findings, ranking)
        if not isinstance(svc.get("serviceArn"), str):
            raise _where(f"{source}: resources.services[{i}].serviceArn",
                         "expected a string (every DescribeServices item has one)")
        count = svc.get("desiredCount")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise _where(f"{source}: resources.services[{i}].desiredCount",
                         f"expected an integer, got {type(count).__name__}")


def _validate_metrics(metrics: Any, source: str) -> None:
    if not isinstance(metrics, list):
        raise _where(f"{source}: metrics", "expected a list of series")
    for i, series in enumerate(metrics):
        where = f"{source}: metrics[{i}]"
        if not isinstance(series, dict):
            raise _where(where, "expected an object")
        for key in ("namespace", "name"):
            if not isinstance(series.get(key), str):
                raise _where(f"{where}.{key}", "expected a string")
        if not isinstance(series.get("dimensions", {}), dict):
            raise _where(f"{where}.dimensions", "expected an object")
        stamps, values = series.get("timestamps", []), series.get("values", [])
        if not isinstance(stamps, list) or not isinstance(values, list):
            raise _where(where, "timestamps and values must be lists")
        if len(stamps) != len(values):
            raise _where(where, f"{len(stamps)} timestamps but {len(values)} values")
        if not _finite_numbers(values):
            raise _where(f"{where}.values", "expected numbers (no NaN or Infinity)")


def _finite_numbers(values: list[Any]) -> bool:
    """Every value an int or a finite float (no bool). The usual answer is found in C:
    the set of the values' types, and a finite sum (a NaN or an infinity makes it
    non-finite); only a doubtful list (a bool, a sum beyond the float range) is looked at
    value by value, and an integer too large for a float is refused there. 4,000 series
    of a large bundle were a genexpr call per datapoint."""
    if set(map(type, values)) <= _NUMBER_TYPES:
        with contextlib.suppress(OverflowError):
            if math.isfinite(sum(values)):
                return True
    return all(_finite(v) for v in values)


def _finite(value: Any) -> bool:
    """A number a float can hold (an integer of 400 digits is not one: every reader of
    the series converts to float)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


_NUMBER_TYPES = frozenset({int, float})


def read_text(path: Path, shown: str, expected: str,
              error: type[InputError] = BundleError) -> str:
    """A user-given file as text, or one line saying why not (bundles and the gate's task
    definition files both come through here). A BOM (Windows editors) is not an error."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise error(f"{shown}: is a directory, expected {expected}") from None
    except UnicodeDecodeError:
        raise error(f"{shown}: not UTF-8 text; expected {expected}") from None
    except OSError as exc:
        raise error(f"{shown}: cannot read: {exc.strerror}") from None


def load(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    text = read_text(p, str(p), "a bundle JSON file")
    try:
        with gcpause.paused():  # millions of containers in a burst: a quarter of the read
            data = json.loads(text, parse_constant=_not_json)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):  # NaN, Infinity: Python-only JSON
            raise BundleError(f"{p}: not valid JSON ({exc})") from None
        raise BundleError(
            f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "expected a bundle written by `ecsdoctor scan --save-bundle`"
        ) from None
    except RecursionError:
        raise BundleError(f"{p}: not valid JSON (nested too deeply)") from None
    return validate(data, str(p))


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def dumps(bundle: Mapping[str, Any]) -> str:
    return json.dumps(to_jsonable(bundle), indent=1, sort_keys=False) + "\n"


def save(bundle: Mapping[str, Any], path: str | Path) -> None:
    """Write atomically and readable by the owner only (checker.files): a half-written
    bundle is worse than none, and a bundle holds task definitions (secret values
    redacted), service events, stop reasons, CloudTrail events and log lines."""
    write_text(Path(path), dumps(bundle), mode=PRIVATE)
