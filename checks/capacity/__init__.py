"""EC2 capacity: can the cluster's container instances take the tasks that wait for a place?

Every check here reasons from `registeredResources`/`remainingResources` of ACTIVE container
instances whose agent is connected (the only ones ECS places on), and from the demand model
in checks/lib/hosts.py (tasks waiting for placement, not tasks already placed).
Service results carry `service=`; instance results use the container instance ARN.
One module per limit: cluster (reservation, managed scaling), placement (CPU, memory and
static ports of the waiting copies), eni_slots (awsvpc ENIs per instance).
"""
