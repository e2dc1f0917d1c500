"""Amazon EC2 and VPC → the bundle's EC2 collections (CONTRACTS.md §1), for what ECS uses.

Scope comes from what the ECS collector stored: the EC2 instances behind the container
instances, the subnets and security groups of the services' awsvpc configurations (and of
their deployments and task sets) and of the tasks' ENIs, plus the instances' own subnet and
groups (and the load balancers' subnets and groups, when the ELB collector ran before).
Everything else is reached from those: the VPCs of the subnets, their route tables
(explicitly associated, and the VPC's main table when a scanned subnet has no explicit one),
the NAT gateways those tables route to,
the VPCs' endpoints, the subnets' network ACLs, and the groups the scoped groups reference.
An unrelated VPC or instance in the same account is never described.

Ids are passed as ``Filters`` (≤200 values each) with ``MaxResults``, not as ``*Ids``: a
filtered, paginated call stays in EC2's larger throttle bucket (AWS-FACTS.md §2b), and an id
that no longer exists (a deleted subnet a service still names) is simply absent from the
answer instead of failing the whole call with ``InvalidSubnetID.NotFound``. The exceptions
are DescribeInstanceTypes (types come from live instances) and
DescribeInstanceCreditSpecifications, which needs ``InstanceIds``: without them it returns
only the instances in ``unlimited`` mode (AWS-FACTS.md §1b).

Phases run from the calling thread; each fans out on the pool (AWS-FACTS.md §2b: EC2 throttles
per API, so parallel describes do not drain one bucket):

1. instances;
2. instance types, subnets, security groups, route tables by subnet, network ACLs;
3. credit specifications, VPCs and their two DNS attributes, main route tables (of the
   VPCs where a scanned subnet has no explicit association), endpoints, referenced security
   groups (one round, not transitive);
4. NAT gateways named by the route tables' routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from checker.collect.aws import Context, Item, batched

#: Every EC2 action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({
    "ec2:DescribeInstanceCreditSpecifications",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
})

FILTER_VALUES = 200  # values per filter (FilterLimitExceeded above)
INSTANCE_TYPE_BATCH = 100  # DescribeInstanceTypes InstanceTypes maximum
CREDIT_BATCH = 1000  # DescribeInstanceCreditSpecifications InstanceIds maximum
BURSTABLE_FAMILIES = frozenset({"t2", "t3", "t3a", "t4g"})
GONE = frozenset({"shutting-down", "terminated"})  # no credit mode worth asking for
#: DescribeVpcAttribute name → the key stored under the VPC's "Attributes" (CONTRACTS §1).
VPC_ATTRIBUTES = (("enableDnsSupport", "EnableDnsSupport"),
                  ("enableDnsHostnames", "EnableDnsHostnames"))

Job = tuple[str | tuple[str, str], Callable[[], list[Any]]]
#: The gather key of the VPC attribute calls: they fill ``vpcs`` (a cut one times it out).
ATTRIBUTES = ("vpcs", "attributes")


@dataclass(frozen=True)
class FilterPlan:
    """One describe by a filter of ids: ``page`` is the operation's MaxResults maximum,
    ``param`` the name of its filter list (DescribeNatGateways says ``Filter``), ``fixed``
    extra single-value filters ANDed with the ids."""

    collection: str
    op: str
    key: str
    filter: str
    page: int
    param: str = "Filters"
    fixed: tuple[tuple[str, str], ...] = ()


INSTANCES = FilterPlan("ec2_instances", "describe_instances", "Reservations", "instance-id",
                       1000)
SUBNETS = FilterPlan("subnets", "describe_subnets", "Subnets", "subnet-id", 1000)
SECURITY_GROUPS = FilterPlan("security_groups", "describe_security_groups", "SecurityGroups",
                             "group-id", 1000)
SUBNET_ROUTE_TABLES = FilterPlan("route_tables", "describe_route_tables", "RouteTables",
                                 "association.subnet-id", 100)
MAIN_ROUTE_TABLES = FilterPlan("route_tables", "describe_route_tables", "RouteTables",
                               "vpc-id", 100, fixed=(("association.main", "true"),))
NETWORK_ACLS = FilterPlan("network_acls", "describe_network_acls", "NetworkAcls",
                          "association.subnet-id", 1000)
VPCS = FilterPlan("vpcs", "describe_vpcs", "Vpcs", "vpc-id", 1000)
VPC_ENDPOINTS = FilterPlan("vpc_endpoints", "describe_vpc_endpoints", "VpcEndpoints", "vpc-id",
                           1000)
NAT_GATEWAYS = FilterPlan("nat_gateways", "describe_nat_gateways", "NatGateways",
                          "nat-gateway-id", 1000, param="Filter")


@dataclass
class Refs:
    """What the collections stored so far point at in EC2."""

    instance_ids: set[str] = field(default_factory=set)
    subnet_ids: set[str] = field(default_factory=set)
    group_ids: set[str] = field(default_factory=set)


def collect_ec2(ctx: Context) -> None:
    """Fill ec2_instances, instance_types, credit_specifications, vpcs, subnets,
    route_tables, nat_gateways, vpc_endpoints, security_groups and network_acls."""
    refs = scope_refs(ctx.resources)
    found = ctx.gather(filter_jobs(ctx, INSTANCES, refs.instance_ids))
    instances = ctx.store("ec2_instances", flatten(found.get("ec2_instances", [])),
                          "InstanceId")
    for instance in instances:
        refs.subnet_ids.add(str(instance.get("SubnetId") or ""))
        refs.group_ids.update(g.get("GroupId", "") for g in instance.get("SecurityGroups", []))
    second = ctx.gather([
        *type_jobs(ctx, instances),
        *filter_jobs(ctx, SUBNETS, refs.subnet_ids),
        *filter_jobs(ctx, SECURITY_GROUPS, refs.group_ids),
        *filter_jobs(ctx, SUBNET_ROUTE_TABLES, refs.subnet_ids),
        *filter_jobs(ctx, NETWORK_ACLS, refs.subnet_ids),
    ])
    types = ctx.store("instance_types", second.get("instance_types", []), "InstanceType")
    subnets = ctx.store("subnets", second.get("subnets", []), "SubnetId")
    ctx.store("network_acls", second.get("network_acls", []), "NetworkAclId")
    groups = second.get("security_groups", [])
    # the instances' VPCs are their subnets' VPCs; named again in case DescribeSubnets failed
    vpc_ids = {str(x.get("VpcId") or "") for x in (*subnets, *instances)}
    main_vpcs = main_table_vpcs(refs.subnet_ids, subnets, second.get("route_tables", []),
                                vpc_ids, ctx.recorder.failed("route_tables"))
    third = ctx.gather([
        *credit_jobs(ctx, burstable_ids(instances, types)),
        *filter_jobs(ctx, VPCS, vpc_ids),
        *attribute_jobs(ctx, vpc_ids),
        *filter_jobs(ctx, MAIN_ROUTE_TABLES, main_vpcs),
        *filter_jobs(ctx, VPC_ENDPOINTS, vpc_ids),
        *filter_jobs(ctx, SECURITY_GROUPS,
                     referenced_groups(groups, ctx.account) - refs.group_ids),
    ])
    ctx.store("credit_specifications", third.get("credit_specifications", []), "InstanceId")
    ctx.store("vpcs", with_attributes(third.get("vpcs", []), third.get(ATTRIBUTES, [])),
              "VpcId")
    ctx.store("vpc_endpoints", third.get("vpc_endpoints", []), "VpcEndpointId")
    ctx.store("security_groups", groups + third.get("security_groups", []), "GroupId")
    tables = ctx.store("route_tables",
                       second.get("route_tables", []) + third.get("route_tables", []),
                       "RouteTableId")
    nats = ctx.gather(filter_jobs(ctx, NAT_GATEWAYS, nat_gateway_ids(tables)))
    ctx.store("nat_gateways", nats.get("nat_gateways", []), "NatGatewayId")


def scope_refs(resources: dict[str, list[Item]]) -> Refs:
    """Instance ids of the container instances; subnets and groups of every awsvpc
    configuration in scope (a deployment may still run on the previous one), the subnets of
    the tasks' ENIs, and the subnets and groups of the load balancers when those were
    collected before (COLLECTORS order)."""
    refs = Refs()
    refs.instance_ids.update(str(ci.get("ec2InstanceId") or "")
                             for ci in resources.get("container_instances", []))
    for config in awsvpc_configurations(resources.get("services", [])):
        refs.subnet_ids.update(config.get("subnets", []))
        refs.group_ids.update(config.get("securityGroups", []))
    for task in resources.get("tasks", []):
        for attachment in task.get("attachments", []):
            refs.subnet_ids.update(str(d.get("value") or "") for d in attachment.get("details", [])
                                   if d.get("name") == "subnetId")
    for lb in resources.get("load_balancers", []):  # when the ELB collector ran first
        zones = lb.get("AvailabilityZones", [])
        refs.subnet_ids.update(str(z.get("SubnetId") or "") for z in zones)
        refs.group_ids.update(lb.get("SecurityGroups", []))
    return refs


def main_table_vpcs(subnet_ids: Iterable[str], subnets: Iterable[Item],
                    tables: Iterable[Item], vpc_ids: set[str], failed: bool) -> set[str]:
    """The VPCs whose main route table a scanned subnet uses: the VPCs of the subnets with
    no explicit association among ``tables`` (a subnet's explicit table overrides the main
    one, so asking for a main table no scanned subnet uses is a wasted call). Every VPC when
    that cannot be told: the by-subnet call failed, or such a subnet was not described."""
    if failed:
        return vpc_ids
    associated = {a.get("SubnetId") for table in tables for a in table.get("Associations", [])}
    loose = {s for s in subnet_ids if s} - associated
    vpc_of = {s.get("SubnetId"): s.get("VpcId") for s in subnets}
    if any(not vpc_of.get(s) for s in loose):
        return vpc_ids
    return {str(vpc_of[s]) for s in loose}


def awsvpc_configurations(services: Iterable[Item]) -> Iterator[Item]:
    for service in services:
        for holder in (service, *service.get("deployments", []), *service.get("taskSets", [])):
            config = (holder.get("networkConfiguration") or {}).get("awsvpcConfiguration")
            if config:
                yield config


def filter_jobs(ctx: Context, plan: FilterPlan, ids: Iterable[str]) -> list[Job]:
    """One job per ``FILTER_VALUES`` distinct ids; none at all without ids (an unfiltered
    describe would return the whole account)."""
    unique = sorted({i for i in ids if i})
    return [(plan.collection, partial(describe_filtered, ctx, plan, batch))
            for batch in batched(unique, FILTER_VALUES)]


def describe_filtered(ctx: Context, plan: FilterPlan, values: list[str]) -> list[Item]:
    filters: dict[str, Any] = {plan.param: [
        {"Name": plan.filter, "Values": values},
        *({"Name": name, "Values": [value]} for name, value in plan.fixed)]}
    return ctx.paginate(plan.collection, ctx.client("ec2"), plan.op, plan.key, plan.filter,
                        MaxResults=plan.page, **filters)


def flatten(reservations: Iterable[Item]) -> list[Item]:
    """DescribeInstances answers Reservations[].Instances[]; the bundle keeps the instances."""
    return [i for r in reservations for i in r.get("Instances", [])]


def type_jobs(ctx: Context, instances: Iterable[Item]) -> list[Job]:
    """Each distinct instance type once, by 100."""
    names = sorted({str(i.get("InstanceType") or "") for i in instances} - {""})
    return [("instance_types", partial(ctx.paginate, "instance_types", ctx.client("ec2"),
                                       "describe_instance_types", "InstanceTypes", "types",
                                       InstanceTypes=batch))
            for batch in batched(names, INSTANCE_TYPE_BATCH)]


def is_burstable(instance_type: str, types: dict[str, Item]) -> bool:
    """T2/T3/T3a/T4g by name, or any type EC2 says supports burstable performance."""
    family = instance_type.split(".", 1)[0]
    info = types.get(instance_type, {})
    return family in BURSTABLE_FAMILIES or bool(info.get("BurstablePerformanceSupported"))


def burstable_ids(instances: Iterable[Item], types: Iterable[Item]) -> list[str]:
    by_name = {str(t.get("InstanceType")): t for t in types}
    return sorted(str(i["InstanceId"]) for i in instances
                  if i.get("InstanceId") and (i.get("State") or {}).get("Name") not in GONE
                  and is_burstable(str(i.get("InstanceType") or ""), by_name))


def credit_jobs(ctx: Context, ids: Sequence[str]) -> list[Job]:
    """Credit modes by explicit id (standard-mode instances are missing otherwise)."""
    return [("credit_specifications",
             partial(ctx.paginate, "credit_specifications", ctx.client("ec2"),
                     "describe_instance_credit_specifications", "InstanceCreditSpecifications",
                     "burstable", InstanceIds=batch))
            for batch in batched(ids, CREDIT_BATCH)]


def attribute_jobs(ctx: Context, vpc_ids: Iterable[str]) -> list[Job]:
    """Two DescribeVpcAttribute per VPC: the API takes one VPC and one attribute."""
    return [(ATTRIBUTES, partial(vpc_attribute, ctx, vpc, name, key))
            for vpc in sorted(v for v in vpc_ids if v) for name, key in VPC_ATTRIBUTES]


def vpc_attribute(ctx: Context, vpc_id: str, name: str, key: str) -> list[Item]:
    response = ctx.call("vpcs", ctx.client("ec2"), "describe_vpc_attribute", vpc_id,
                        VpcId=vpc_id, Attribute=name)
    if response is None or "Value" not in response.get(key, {}):
        return []
    return [{"VpcId": vpc_id, key: bool(response[key]["Value"])}]


def with_attributes(vpcs: Iterable[Item], attributes: Iterable[Item]) -> list[Item]:
    """Each VPC plus ``Attributes`` (CONTRACTS §1); an attribute whose call failed is left
    out (the failure is in bundle.errors under ``vpcs``)."""
    merged: dict[str, Item] = {}
    for attribute in attributes:
        values = {k: v for k, v in attribute.items() if k != "VpcId"}
        merged.setdefault(str(attribute["VpcId"]), {}).update(values)
    return [{**vpc, "Attributes": merged.get(str(vpc.get("VpcId")), {})} for vpc in vpcs]


def referenced_groups(groups: Iterable[Item], account: str | None) -> set[str]:
    """Groups named in the rules' UserIdGroupPairs, except another account's (not ours to
    describe: a peered VPC's group)."""
    found: set[str] = set()
    for group in groups:
        for permission in (*group.get("IpPermissions", []),
                           *group.get("IpPermissionsEgress", [])):
            for pair in permission.get("UserIdGroupPairs", []):
                owner = pair.get("UserId")
                if pair.get("GroupId") and (not owner or not account or owner == account):
                    found.add(str(pair["GroupId"]))
    return found


def nat_gateway_ids(tables: Iterable[Item]) -> set[str]:
    return {str(route["NatGatewayId"]) for table in tables
            for route in table.get("Routes", []) if route.get("NatGatewayId")}
