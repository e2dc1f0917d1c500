"""Task-definition checks: static mistakes that cause incidents later.

Every collected task definition is judged once per service that runs it (results carry
`service=`), and once with no service when nothing in scope uses it (`uses` in
checks/lib/taskdefs.py). One module per concern: sizing (limits, Fargate sizes, CPU),
memory (peak use and runtime heaps against the limit), containers (logs, health check,
open files, image tag), hardening (capabilities, host mounts and namespaces, host networking
as root, awslogs blocking mode) and sidecars (X-Ray daemon, dotnet-monitor).
"""
