"""Which CloudTrail write events touch a resource the scan covers (for cloudtrail.py).

LookupEvents cannot filter by "these resources" (one lookup attribute a call, and the
``Resources`` it would match on is left empty by many EC2 and ELB events), so the collector
reads every write event of the window and this module keeps the ones whose *target* is in
scope. The target of a write call is a top-level request parameter (``groupId`` of
RevokeSecurityGroupIngress, ``routeTableId`` of DeleteRoute, ``service`` and ``cluster``
of UpdateService, ``roleName`` of DetachRolePolicy), so that is what is read: after
unwrapping the ``{"<Action>Request": {…}}`` object newer EC2 APIs log, with keys compared
case-insensitively (those APIs log ``NatGatewayId``, older ones ``natGatewayId``).

Top-level only, on purpose: a security group id nested in ``groupSet`` is an ENI or an
instance *using* the group (CreateNetworkInterface for every awsvpc task, RunInstances for
every ASG launch), not a change to it. :data:`KINDS` says which parameters name which
resource, and, where a parameter also appears in routine calls (``subnetId`` in
CreateNetworkInterface, ``cluster`` in the agent's SubmitTaskStateChange), which event names
count. Never kept: read-only events, tagging (``TagResource``, ``CreateTags``, …: a tag
changes nothing a task does), and the per-task calls ECS itself makes on the scanned
resources (RegisterTargets/DeregisterTargets on a target group, SetInstanceProtection on
the ASG), which would otherwise be most of the events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from checker.collect.aws import Item

Resources = Mapping[str, list[Item]]
ECS, EC2 = "ecs.amazonaws.com", "ec2.amazonaws.com"
ELB, ASG = "elasticloadbalancing.amazonaws.com", "autoscaling.amazonaws.com"
AAS, IAM = "application-autoscaling.amazonaws.com", "iam.amazonaws.com"
TAGGING = frozenset({"CreateTags", "DeleteTags", "AddTags", "RemoveTags",
                     "CreateOrUpdateTags", "AddTagsToResource", "RemoveTagsFromResource"})
#: Calls ECS makes for every task it starts or stops, on resources the scan covers.
ECS_ROUTINE = frozenset({"RegisterTargets", "DeregisterTargets", "SetInstanceProtection"})


@dataclass(frozen=True)
class Kind:
    """A kind of resource: the event source that changes it, the top-level parameters
    (lower case) that name it, and the event names that count (None: any write)."""

    name: str
    source: str
    keys: tuple[str, ...]
    events: frozenset[str] | None = None


KINDS: tuple[Kind, ...] = (
    Kind("service", ECS, ("service", "servicename")),
    Kind("task-definition", ECS, ("family", "taskdefinition", "taskdefinitions"),
         frozenset({"RegisterTaskDefinition", "DeregisterTaskDefinition",
                    "DeleteTaskDefinitions"})),
    Kind("cluster", ECS, ("cluster",),
         frozenset({"UpdateCluster", "UpdateClusterSettings", "PutClusterCapacityProviders",
                    "DeleteCluster"})),
    Kind("security-group", EC2, ("groupid",)),
    Kind("route-table", EC2, ("routetableid", "associationid")),
    Kind("network-acl", EC2, ("networkaclid", "associationid")),
    Kind("nat-gateway", EC2, ("natgatewayid",),
         frozenset({"DeleteNatGateway", "AssociateNatGatewayAddress",
                    "DisassociateNatGatewayAddress", "AssignPrivateNatGatewayAddress",
                    "UnassignPrivateNatGatewayAddress"})),
    Kind("subnet", EC2, ("subnetid",),
         frozenset({"ModifySubnetAttribute", "DeleteSubnet", "AssociateRouteTable",
                    "AssociateSubnetCidrBlock", "DisassociateSubnetCidrBlock"})),
    Kind("vpc", EC2, ("vpcid",), frozenset({"ModifyVpcAttribute"})),
    Kind("vpc-endpoint", EC2, ("vpcendpointid", "vpcendpointids")),
    Kind("load-balancer", ELB, ("loadbalancerarn", "listenerarn", "rulearn")),
    Kind("target-group", ELB, ("targetgrouparn",)),
    Kind("auto-scaling-group", ASG, ("autoscalinggroupname",)),
    Kind("scalable-target", AAS, ("resourceid",)),
    Kind("iam-role", IAM, ("rolename",)),
)


def _last(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def _family(value: str) -> str:
    """``web:3``, ``arn:…:task-definition/web:3`` or ``web`` → ``web``."""
    return _last(value).split(":", 1)[0]


def _lb_key(arn: str) -> str:
    """``loadbalancer/app/web/1a2b``, ``listener/app/web/1a2b/9f``, ``listener-rule/…`` →
    ``app/web/1a2b``: a listener or rule belongs to its load balancer."""
    resource = arn.split(":", 5)[-1]
    return "/".join(resource.split("/")[1:4])


def _service_key(value: str, params: Mapping[str, Any]) -> str:
    """``<cluster>/<service>``; the cluster from a new-format ARN, else the ``cluster``
    parameter (a name or an ARN), else ECS's ``default``."""
    resource = value.split(":", 5)[-1] if value.startswith("arn:") else value
    parts = resource.split("/")
    if len(parts) >= 3:
        return f"{parts[1]}/{parts[2]}"
    cluster = params.get("cluster")
    return f"{_last(cluster) if isinstance(cluster, str) else 'default'}/{parts[-1]}"


def _same(value: str, params: Mapping[str, Any]) -> str:
    del params
    return value


#: How an event's parameter value is compared with the scanned ids (exact otherwise).
NORMALIZE: dict[str, Callable[[str, Mapping[str, Any]], str]] = {
    "service": _service_key,
    "task-definition": lambda v, _: _family(v),
    "cluster": lambda v, _: _last(v),
    "load-balancer": lambda v, _: _lb_key(v),
    "iam-role": lambda v, _: _last(v),
}


def scope_ids(res: Resources) -> dict[str, frozenset[str]]:
    """Kind → the ids of the scanned resources of that kind, as :data:`NORMALIZE` keys them."""
    def of(collection: str, key: str) -> set[str]:
        return {str(i[key]) for i in res.get(collection, []) if i.get(key)}

    def associations(collection: str, key: str) -> set[str]:
        return {str(a[key]) for i in res.get(collection, []) for a in i.get("Associations", [])
                or [] if isinstance(a, dict) and a.get(key)}

    services = res.get("services", [])
    task_defs = res.get("task_definitions", [])
    roles = {_last(str(td[k])) for td in task_defs for k in ("taskRoleArn", "executionRoleArn")
             if td.get(k)}
    families = {_family(str(td["taskDefinitionArn"])) for td in task_defs
                if td.get("taskDefinitionArn")}
    families |= {_family(str(s["taskDefinition"])) for s in services if s.get("taskDefinition")}
    service_keys = {f"{_last(str(s.get('clusterArn', '')))}/{s['serviceName']}"
                    for s in services if s.get("serviceName")}
    ids: dict[str, set[str]] = {
        "service": service_keys,
        "task-definition": families,
        "cluster": of("clusters", "clusterName"),
        "security-group": of("security_groups", "GroupId"),
        "route-table": of("route_tables", "RouteTableId")
        | associations("route_tables", "RouteTableAssociationId"),
        "network-acl": of("network_acls", "NetworkAclId")
        | associations("network_acls", "NetworkAclAssociationId"),
        "nat-gateway": of("nat_gateways", "NatGatewayId"),
        "subnet": of("subnets", "SubnetId"),
        "vpc": of("vpcs", "VpcId"),
        "vpc-endpoint": of("vpc_endpoints", "VpcEndpointId"),
        "load-balancer": {_lb_key(a) for a in of("load_balancers", "LoadBalancerArn")},
        "target-group": of("target_groups", "TargetGroupArn"),
        "auto-scaling-group": of("auto_scaling_groups", "AutoScalingGroupName"),
        "scalable-target": of("scalable_targets", "ResourceId")
        | {f"service/{k}" for k in service_keys},
        "iam-role": roles,
    }
    return {kind: frozenset(values) for kind, values in ids.items()}


def role_names(res: Resources) -> list[str]:
    """The tasks' IAM roles (task and execution roles of the scanned task definitions)."""
    return sorted(scope_ids(res)["iam-role"])


def parameters(event: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level request parameters, lower-cased keys, ``<Action>Request`` unwrapped."""
    params = event.get("requestParameters")
    if not isinstance(params, dict):
        return {}
    if len(params) == 1:
        (key, inner), = params.items()
        if key.endswith("Request") and isinstance(inner, dict):
            params = inner
    return {str(k).lower(): v for k, v in params.items()}


def routine(event: Mapping[str, Any]) -> bool:
    """Read-only, tagging, or a per-task call ECS made itself: never a change worth keeping."""
    name = str(event.get("eventName") or "")
    if event.get("readOnly") is True or name in TAGGING or name.startswith(("Tag", "Untag")):
        return True
    identity = event.get("userIdentity")
    invoked_by = identity.get("invokedBy") if isinstance(identity, dict) else None
    by_ecs = ECS in (invoked_by, event.get("sourceIPAddress"))
    return by_ecs and name in ECS_ROUTINE


def touches(event: Mapping[str, Any], ids: Mapping[str, frozenset[str]]) -> list[str]:
    """The kinds of scanned resource this write event changes (empty: out of scope)."""
    if routine(event):
        return []
    source, name = event.get("eventSource"), str(event.get("eventName") or "")
    params = parameters(event)
    found = []
    for kind in KINDS:
        if kind.source != source or (kind.events is not None and name not in kind.events):
            continue
        normalize = NORMALIZE.get(kind.name, _same)
        wanted = ids.get(kind.name, frozenset())
        if any(normalize(v, params) in wanted for key in kind.keys
               for v in _strings(params.get(key))):
            found.append(kind.name)
    return found


def _strings(value: Any) -> Iterable[str]:
    """A parameter's string values: itself, or the strings of a list."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return ()
