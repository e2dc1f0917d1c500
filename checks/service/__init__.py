"""Service checks: does the service run what it was asked to run, and if not, why?

One module per question, each holding its checks with the code that builds their results:

- task_counts: running below desired, tasks stuck PENDING;
- deployments: stuck or failed deployments, the circuit breaker, health-check grace;
- events: what the scheduler says in the service's event stream;
- placement: constraints, strategies and Availability Zones;
- scaling: Application Auto Scaling and the capacity providers' Auto Scaling groups.

`fields` is how all of them read a service (no checks there).
"""
