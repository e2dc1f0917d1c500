"""What the network checks (checks/network/) evaluate with: a model of the VPC paths a
service's traffic takes, built from the bundle alone.

- `rules`: security-group and network-ACL rule evaluation, port ranges and CIDRs.
- `topology`: the subnets a service's traffic starts in (origins) and the lookups they need.
- `egress`: a subnet's default route classified, and each service subnet with it resolved.
- `endpoints`: what the tasks must reach before their containers run, and which VPC
  endpoint serves it.
- `lb_paths`: load balancer → target paths: ports, target groups, target security groups.
- `flows`: a path written as the packets a network ACL sees, and their verdicts.

The tuples below are the bundle collections those evaluators read, for the checks' `needs`.
"""

from __future__ import annotations

#: Where a service's tasks run: services, their tasks and task definitions, the subnets.
NET = ("services", "tasks", "task_definitions", "subnets")
#: NET plus what decides the way out of a subnet.
ROUTES = (*NET, "route_tables", "nat_gateways", "vpc_endpoints")
#: NET plus the load balancers in front of the services.
LB = (*NET, "load_balancers", "target_groups")
