"""What a record is about, as comparable references.

A change names the resources it touched (CloudTrail `requestParameters`, `Resources`), a
diagnosis names the resources on its evidence path (its services, its findings' resources,
the ids in their data); the trigger search intersects the two. Both sides go through
`refs_in`, so an id means the same thing wherever it was read: EC2 ids as they are
(`rtb-…`, `sg-…`), ARNs of EC2 resources as their id, IAM roles as `role/<name>`, load
balancer resources as their resource part (`targetgroup/prod-web/…`, what a CloudWatch
dimension holds), task definitions as `task-definition/<family>:<revision>`, and ECS
services as their full ARN (what a diagnosis' resources hold).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

#: EC2-style ids worth matching (instances, ENIs and AMIs come and go with every task).
_EC2_ID = re.compile(r"^(?:rtb|sg|acl|subnet|vpc|nat|igw|vpce|eigw|tgw|pcx|eipalloc)-"
                     r"[0-9a-f]{8,17}$")
_TD_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,255}:\d+$")
#: Data keys whose plain value is a task definition label (`web:42`).
_TD_KEYS = frozenset({"task_definition", "taskDefinition", "onset_revision"})
_ELB_PARTS = ("targetgroup/", "loadbalancer/", "listener/", "listener-rule/")
#: How deep `refs_in` looks into nested data (evidence data and request parameters are
#: shallow; the bound keeps an odd bundle from recursing without end).
_DEPTH = 8


def ref_of(value: str, key: str = "") -> str | None:
    """The reference a string stands for, or None when it names no resource we match.
    Kept per string: the evidence of a diagnosis spanning 1,000 services names the same
    few subnets, groups and target groups a hundred thousand times."""
    return _ref_of(value, key in _TD_KEYS)


@lru_cache(maxsize=1 << 16)
def _ref_of(value: str, td_key: bool) -> str | None:
    if _EC2_ID.match(value):
        return value
    if td_key and _TD_LABEL.match(value):
        return f"task-definition/{value}"
    if not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    if len(parts) < 6:
        return None
    service, resource = parts[2], parts[5]
    if service == "ec2":
        last = resource.rsplit("/", 1)[-1]
        return last if _EC2_ID.match(last) else None
    if service == "iam" and resource.startswith("role/"):
        return f"role/{resource.rsplit('/', 1)[-1]}"
    if service == "elasticloadbalancing":
        return resource if resource.startswith(_ELB_PARTS) else f"loadbalancer/{resource}"
    if service == "ecs" and resource.startswith("task-definition/"):
        return resource
    if service == "ecs" and resource.startswith(("service/", "cluster/")):
        return value
    if service == "autoscaling" and "autoScalingGroupName/" in resource:
        return f"asg/{resource.rsplit('autoScalingGroupName/', 1)[-1]}"
    return None


def refs_in(value: Any, key: str = "", depth: int = 0) -> Iterator[str]:
    """Every reference in a value: strings, and those inside lists and objects (collected
    by plain recursion into one list: nested generators cost a frame per level and item)."""
    out: list[str] = []
    _collect(value, key, depth, out)
    return iter(out)


def _collect(value: Any, key: str, depth: int, out: list[str]) -> None:
    if depth > _DEPTH:
        return
    if isinstance(value, str):
        one = ref_of(value, key)
        if one:
            out.append(one)
        return
    if isinstance(value, Mapping):
        pairs: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple):
        pairs = ((key, v) for v in value)
    else:
        return
    inner = depth + 1
    for k, v in pairs:
        kind = type(v)
        if kind is str and inner <= _DEPTH:  # the common leaf, without a call per value
            found = _ref_of(v, k in _TD_KEYS)
            if found:
                out.append(found)
        elif kind not in _LEAVES:
            _collect(v, str(k), inner, out)


#: Values that never hold a reference: skipped without a call.
_LEAVES = frozenset({int, float, bool, type(None)})


def service_arn(region: str, account: str, cluster: str, service: str) -> str:
    """An ECS service's ARN from names (CloudTrail may give names or ARNs for either)."""
    if service.startswith("arn:"):
        return service
    cluster_name = cluster.rsplit("/", 1)[-1] if cluster else "default"
    return f"arn:aws:ecs:{region}:{account}:service/{cluster_name}/{service}"


def alarm_refs(dimensions: Any, region: str, account: str) -> set[str]:
    """The references a CloudWatch alarm's dimensions name: an ECS service from
    ClusterName + ServiceName, load balancer parts, EC2 ids, Auto Scaling groups."""
    dims = {str(d.get("Name")): str(d.get("Value")) for d in dimensions
            if isinstance(d, Mapping) and d.get("Value") is not None} if isinstance(
        dimensions, list) else {}
    out: set[str] = set()
    if "ServiceName" in dims and "ClusterName" in dims:
        out.add(service_arn(region, account, dims["ClusterName"], dims["ServiceName"]))
    if "TargetGroup" in dims:
        out.add(dims["TargetGroup"])
    if "LoadBalancer" in dims:
        out.add(f"loadbalancer/{dims['LoadBalancer']}")
    if "AutoScalingGroupName" in dims:
        out.add(f"asg/{dims['AutoScalingGroupName']}")
    out.update(v for v in dims.values() if _EC2_ID.match(v))
    return out
