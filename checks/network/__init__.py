"""Network-path checks: can the tasks reach what they need, and can the load balancer reach
the tasks? Evaluated from the VPC configuration alone (routes, NAT gateways, endpoints,
security groups, network ACLs), so they predict failures before a task tries.

One module per thing an engineer looks at: `routes` (default routes, NAT, VPC endpoints),
`dns`, `security_groups`, `network_acls`, `load_balancer` (AZs, target health). Each result
is per (service, subnet) or per (service, target group, load balancer); the evaluators they
share (rules, origins, routes, endpoints, LB paths, ACL flows) are in checks/lib/network/.
"""
