"""The command that undoes a change, where one exists (a trigger's `revert`).

Built from the values the change itself recorded (CloudTrail `requestParameters`), so an
engineer can paste it: DeleteRoute → `aws ec2 create-route` with the same table and
destination; RevokeSecurityGroupIngress → `authorize-security-group-ingress` with the same
permissions; UpdateService to a new task definition → `update-service` back to the one it
replaced. A value the change did not record (the target a deleted route pointed at) comes
from an earlier change of the same route, else from the bundle (the NAT gateway of the
route table's Availability Zone, unless that is the target it was changed to), else there
is no revert: a command with a blank to fill cannot be pasted. Changes nothing can undo
(a deleted NAT gateway, a deregistered revision) have no revert. Every value is
shell-quoted: it comes from AWS.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from checker.facts import Facts, obj, objs
from checker.past.cloudtrail import TrailEvent

#: requestParameters key of a route target → the create-route / replace-route option.
ROUTE_TARGETS = {
    "natGatewayId": "--nat-gateway-id", "gatewayId": "--gateway-id",
    "transitGatewayId": "--transit-gateway-id", "networkInterfaceId": "--network-interface-id",
    "vpcPeeringConnectionId": "--vpc-peering-connection-id", "instanceId": "--instance-id",
    "egressOnlyInternetGatewayId": "--egress-only-internet-gateway-id",
    "vpcEndpointId": "--vpc-endpoint-id", "carrierGatewayId": "--carrier-gateway-id",
    "localGatewayId": "--local-gateway-id", "coreNetworkArn": "--core-network-arn",
}
_DESTINATIONS = {"destinationCidrBlock": "--destination-cidr-block",
                 "destinationIpv6CidrBlock": "--destination-ipv6-cidr-block",
                 "destinationPrefixListId": "--destination-prefix-list-id"}
_PERMISSION_LISTS = {"groups": ("UserIdGroupPairs", {"groupId": "GroupId", "userId": "UserId",
                                                     "description": "Description"}),
                     "ipRanges": ("IpRanges", {"cidrIp": "CidrIp", "description": "Description"}),
                     "ipv6Ranges": ("Ipv6Ranges", {"cidrIpv6": "CidrIpv6",
                                                   "description": "Description"}),
                     "prefixListIds": ("PrefixListIds", {"prefixListId": "PrefixListId",
                                                         "description": "Description"})}


def q(value: Any) -> str:
    return shlex.quote(str(value))


def _items(value: Any) -> list[Mapping[str, Any]]:
    """CloudTrail lists EC2 collections as `{"items": [...]}`; a plain list also reads."""
    return objs(obj(value).get("items") if isinstance(value, Mapping) else value)


def _destination(params: Mapping[str, Any]) -> tuple[str, str] | None:
    for key, option in _DESTINATIONS.items():
        if isinstance(params.get(key), str) and params[key]:
            return option, str(params[key])
    return None


def _target(params: Mapping[str, Any]) -> tuple[str, str] | None:
    for key, option in ROUTE_TARGETS.items():
        if isinstance(params.get(key), str) and params[key]:
            return option, str(params[key])
    return None


def _earlier_target(ev: TrailEvent, earlier: Sequence[TrailEvent]) -> tuple[str, str] | None:
    """The target the same route had, from the last CreateRoute/ReplaceRoute before it."""
    key = (ev.params.get("routeTableId"), _destination(ev.params))
    for old in sorted(earlier, key=lambda e: e.time, reverse=True):
        if old.time < ev.time and old.name in ("CreateRoute", "ReplaceRoute") and (
                old.params.get("routeTableId"), _destination(old.params)) == key:
            return _target(old.params)
    return None


def _nat_of_route_table(facts: Facts, table_id: str) -> tuple[str, str] | None:
    """The one available NAT gateway in the Availability Zone of the subnets the route
    table serves: what a private subnet's default route usually points at."""
    if not all(facts.has(c) for c in ("route_tables", "subnets", "nat_gateways")):
        return None
    table = facts.lookup("route_tables", "RouteTableId", table_id)
    subnets = {str(a.get("SubnetId")) for a in objs(obj(table).get("Associations"))}
    zones = {str(s.get("AvailabilityZone")) for s in facts.items("subnets")
             if s.get("SubnetId") in subnets}
    zone_of = {str(s.get("SubnetId")): str(s.get("AvailabilityZone"))
               for s in facts.items("subnets")}
    nats = sorted(str(n.get("NatGatewayId")) for n in facts.items("nat_gateways")
                  if n.get("State") == "available" and zone_of.get(str(n.get("SubnetId"))) in zones)
    return ("--nat-gateway-id", nats[0]) if len(nats) == 1 else None


def _route(ev: TrailEvent, earlier: Sequence[TrailEvent], facts: Facts) -> str | None:
    table, dest = ev.params.get("routeTableId"), _destination(ev.params)
    if not isinstance(table, str) or dest is None:
        return None
    head = f"--route-table-id {q(table)} {dest[0]} {q(dest[1])}"
    if ev.name == "CreateRoute":
        return f"aws ec2 delete-route {head}"
    target = _earlier_target(ev, earlier)
    if target is None and dest[1] == "0.0.0.0/0":
        target = _nat_of_route_table(facts, table)
        if target is not None and target == _target(ev.params):
            target = None  # the NAT the route was replaced *with*: no way back from it
    if target is None:
        return None  # a command with a blank to fill is not a revert anyone can paste
    verb = "create-route" if ev.name == "DeleteRoute" else "replace-route"
    return f"aws ec2 {verb} {head} {target[0]} {q(target[1])}"


def permissions(value: Any) -> list[dict[str, Any]]:
    """CloudTrail's `ipPermissions` in the shape the EC2 CLI takes (`--ip-permissions`)."""
    out: list[dict[str, Any]] = []
    for perm in _items(value):
        item: dict[str, Any] = {"IpProtocol": str(perm.get("ipProtocol", "-1"))}
        for key, name in (("fromPort", "FromPort"), ("toPort", "ToPort")):
            if isinstance(perm.get(key), int) and not isinstance(perm.get(key), bool):
                item[name] = perm[key]
        for key, (name, fields) in _PERMISSION_LISTS.items():
            rows = [{fields[k]: v for k, v in row.items() if k in fields}
                    for row in _items(perm.get(key))]
            if rows := [r for r in rows if r]:
                item[name] = rows
        out.append(item)
    return out


def _security_group(ev: TrailEvent, earlier: Sequence[TrailEvent], facts: Facts) -> str | None:
    group, perms = ev.params.get("groupId"), permissions(ev.params.get("ipPermissions"))
    if not isinstance(group, str) or not perms:
        return None  # a rule revoked by its rule id: what it allowed is not recorded
    direction = "ingress" if ev.name.endswith("Ingress") else "egress"
    verb = "authorize" if ev.name.startswith("Revoke") else "revoke"
    text = json.dumps(perms, separators=(",", ":"), sort_keys=True)
    return (f"aws ec2 {verb}-security-group-{direction} --group-id {q(group)} "
            f"--ip-permissions {q(text)}")


def _vpc_attribute(ev: TrailEvent, earlier: Sequence[TrailEvent], facts: Facts) -> str | None:
    vpc = ev.params.get("vpcId")
    for key, option in (("enableDnsSupport", "--enable-dns-support"),
                        ("enableDnsHostnames", "--enable-dns-hostnames")):
        value = obj(ev.params.get(key)).get("value")
        if isinstance(vpc, str) and isinstance(value, bool):
            return (f"aws ec2 modify-vpc-attribute --vpc-id {q(vpc)} {option} "
                    f"Value={'false' if value else 'true'}")
    return None


def _nacl_entry(ev: TrailEvent, earlier: Sequence[TrailEvent], facts: Facts) -> str | None:
    acl, number = ev.params.get("networkAclId"), ev.params.get("ruleNumber")
    if not isinstance(acl, str) or not isinstance(number, int):
        return None
    way = "--egress" if ev.params.get("egress") is True else "--ingress"
    return (f"aws ec2 delete-network-acl-entry --network-acl-id {q(acl)} "
            f"--rule-number {number} {way}")


def _role_policy(ev: TrailEvent, earlier: Sequence[TrailEvent], facts: Facts) -> str | None:
    role, policy = ev.params.get("roleName"), ev.params.get("policyArn")
    if not isinstance(role, str) or not isinstance(policy, str):
        return None
    verb = "attach" if ev.name == "DetachRolePolicy" else "detach"
    return f"aws iam {verb}-role-policy --role-name {q(role)} --policy-arn {q(policy)}"


def _targets(ev: TrailEvent, earlier: Sequence[TrailEvent], facts: Facts) -> str | None:
    group = ev.params.get("targetGroupArn")
    targets = [t for t in objs(ev.params.get("targets")) if isinstance(t.get("id"), str)]
    if not isinstance(group, str) or not targets:
        return None
    verb = "register" if ev.name == "DeregisterTargets" else "deregister"
    spec = " ".join(q(f"Id={t['id']}" + (f",Port={t['port']}" if isinstance(
        t.get("port"), int) else "")) for t in targets)
    return f"aws elbv2 {verb}-targets --target-group-arn {q(group)} --targets {spec}"


Builder = Callable[[TrailEvent, Sequence[TrailEvent], Facts], str | None]
#: eventName → how to undo it. Events not here have no revert (None).
REVERTS: dict[str, Builder] = {
    "DeleteRoute": _route, "ReplaceRoute": _route, "CreateRoute": _route,
    "RevokeSecurityGroupIngress": _security_group, "RevokeSecurityGroupEgress": _security_group,
    "AuthorizeSecurityGroupIngress": _security_group,
    "AuthorizeSecurityGroupEgress": _security_group,
    "ModifyVpcAttribute": _vpc_attribute, "CreateNetworkAclEntry": _nacl_entry,
    "DetachRolePolicy": _role_policy, "AttachRolePolicy": _role_policy,
    "DeregisterTargets": _targets, "RegisterTargets": _targets,
}


def revert(ev: TrailEvent, earlier: Sequence[TrailEvent], facts: Facts) -> str | None:
    """The command undoing `ev`, or None (module docstring). UpdateService is undone in
    checker.past.changes, which knows the revision the service ran before."""
    build = REVERTS.get(ev.name)
    return build(ev, earlier, facts) if build else None


def update_service(service_arn: str, previous: str | None) -> str | None:
    """`aws ecs update-service` back to `previous` (a `family:revision` label)."""
    if not previous or ":service/" not in service_arn:
        return None
    path = service_arn.split(":service/", 1)[1]
    cluster, _, name = path.rpartition("/")
    return (f"aws ecs update-service --cluster {q(cluster or 'default')} --service {q(name)} "
            f"--task-definition {q(previous)}")
