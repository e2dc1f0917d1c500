"""Amazon ECS → the bundle's ECS collections (CONTRACTS.md §1).

The call plan is the minimum AWS-FACTS.md §9 works out: per cluster one paged ListServices
(``maxResults=100``: its default is 10), DescribeServices by 10, ListTasks for desiredStatus
RUNNING and then STOPPED (PENDING tasks have desiredStatus RUNNING; stopped tasks stay
visible for about an hour), DescribeTasks by 100, ListContainerInstances and
DescribeContainerInstances by 100; then one DescribeTaskDefinition per distinct revision
referenced by a service, a deployment, a task set or a task; DescribeCapacityProviders for
the providers the clusters name; ListAccountSettings. Lists and describes are plans (data)
so the batch sizes sit in one place and the tests can check them against the API limits.

Phases run from the calling thread and fan their calls out on the pool: clusters → (named
services) → all lists → all describes → task definitions. A phase never waits on the pool
from inside the pool, so a small pool cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from checker.collect.aws import Context, Item, batched, iam_action, input_error, unreachable
from checker.errors import InputError
from checker.redact import redact_task, redact_task_definition

#: Every ECS action this module calls; deploy/iam-policy.json is checked against it.
OPERATIONS: frozenset[str] = frozenset({
    "ecs:DescribeCapacityProviders",
    "ecs:DescribeClusters",
    "ecs:DescribeContainerInstances",
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "ecs:DescribeTasks",
    "ecs:ListAccountSettings",
    "ecs:ListContainerInstances",
    "ecs:ListServices",
    "ecs:ListTasks",
})

PAGE_SIZE = 100  # ListServices / ListTasks / ListContainerInstances maximum
CLUSTER_BATCH = 100  # DescribeClusters
CAPACITY_PROVIDER_BATCH = 100  # DescribeCapacityProviders names per call
CAPACITY_PROVIDER_PAGE = 10  # ... but at most 10 results per page
SETTINGS_PAGE = 10  # ListAccountSettings maximum
CLUSTER_INCLUDE = ("ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS")
TASK_STATUSES = ("RUNNING", "STOPPED")

Job = Callable[[], list[Any]]


@dataclass(frozen=True)
class ClusterRef:
    """A cluster as later calls name it (``arn``) and as progress labels show it (``name``)."""

    arn: str
    name: str


@dataclass(frozen=True)
class ListPlan:
    collection: str
    op: str
    key: str


@dataclass(frozen=True)
class DescribePlan:
    collection: str
    op: str
    param: str
    key: str
    batch: int
    include: tuple[str, ...]


LIST_SERVICES = ListPlan("services", "list_services", "serviceArns")
LIST_TASKS = ListPlan("tasks", "list_tasks", "taskArns")
LIST_INSTANCES = ListPlan("container_instances", "list_container_instances",
                          "containerInstanceArns")
#: DescribeServices returns a service's task sets (EXTERNAL and CODE_DEPLOY controllers) in
#: its `taskSets`, each with its task definition, network configuration and platform
#: version, so the bundle's services carry them and no DescribeTaskSets call is needed.
#: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html
DESCRIBE_SERVICES = DescribePlan("services", "describe_services", "services", "services",
                                 10, ("TAGS",))
DESCRIBE_TASKS = DescribePlan("tasks", "describe_tasks", "tasks", "tasks", 100, ("TAGS",))
DESCRIBE_INSTANCES = DescribePlan("container_instances", "describe_container_instances",
                                  "containerInstances", "containerInstances", 100,
                                  ("CONTAINER_INSTANCE_HEALTH",))
#: Which describe consumes which list, in the order their jobs are queued.
DESCRIBES: tuple[DescribePlan, ...] = (DESCRIBE_SERVICES, DESCRIBE_TASKS, DESCRIBE_INSTANCES)


def collect_ecs(ctx: Context) -> None:
    """Fill clusters, services, tasks, task_definitions, container_instances,
    capacity_providers and account_settings in ``ctx.resources``."""
    collect_ecs_resources(ctx)
    collect_task_definitions(ctx)


def collect_ecs_resources(ctx: Context) -> None:
    """All of :func:`collect_ecs` but the task definitions, which the scan reads as a
    collector of their own: the collectors that need only services, tasks and instances
    (ELB, EC2, Auto Scaling) need not wait for one DescribeTaskDefinition per revision."""
    refs, clusters = resolve_clusters(ctx)
    names = service_names(ctx.scope.services)
    scoped = find_services(ctx, refs, names) if names else None
    listed = ctx.gather(listing_jobs(ctx, refs, names))
    jobs = [job for ref in refs for plan in DESCRIBES
            for job in describe_jobs(ctx, ref, plan, listed.get((plan.collection, ref), []))]
    if clusters is not None:
        jobs.append(("capacity_providers",
                      partial(describe_capacity_providers, ctx, capacity_provider_names(clusters))))
    jobs.append(("account_settings", partial(list_account_settings, ctx)))
    described = ctx.gather(jobs)
    ctx.store("services", scoped if scoped is not None else described.get("services", []),
              "serviceArn")
    ctx.store("tasks", [redact_task(t) for t in tasks_of(described.get("tasks", []), names)],
              "taskArn")
    ctx.store("container_instances", described.get("container_instances", []),
              "containerInstanceArn")
    if clusters is not None:
        ctx.store("capacity_providers", described.get("capacity_providers", []), "name")
    ctx.store("account_settings", described.get("account_settings", []), _setting_key)


def resolve_clusters(ctx: Context) -> tuple[list[ClusterRef], list[Item] | None]:
    """Describe the scope's clusters; an unknown or deleted one is the user's error.

    If DescribeClusters itself fails (e.g. denied) the error is recorded and the scan goes
    on with the names as typed: every other ECS call accepts a name as well as an ARN.
    """
    typed = list(dict.fromkeys(ctx.scope.clusters))
    api = ctx.client("ecs")
    action = iam_action(api, "describe_clusters")
    as_typed = [ClusterRef(t, t.rsplit("/", 1)[-1]) for t in typed]
    try:  # on the pool, so that the scan's deadline bounds it too
        found = ctx.gather([("clusters", partial(describe_clusters, ctx, api, typed))])
    except Exception as exc:
        fatal = unreachable(exc) or input_error(exc)
        if fatal is not None:
            raise fatal from exc
        ctx.fail("clusters", action, exc)
        ctx.store("clusters", [], "clusterArn")
        return as_typed, None
    if ctx.recorder.failed("clusters"):  # the deadline passed before DescribeClusters answered
        ctx.store("clusters", [], "clusterArn")
        return as_typed, None
    return check_clusters(ctx, typed, found.get("clusters", []))


def describe_clusters(ctx: Context, api: Any, typed: list[str]) -> list[Item]:
    """The active clusters among ``typed``; raises what DescribeClusters raises."""
    action = iam_action(api, "describe_clusters")
    found: list[Item] = []
    for batch in batched(typed, CLUSTER_BATCH):
        response = api.describe_clusters(clusters=batch, include=list(CLUSTER_INCLUDE))
        ctx.step(f"{action} ({len(batch)})")
        found += [c for c in response.get("clusters", []) if c.get("status") != "INACTIVE"]
    return found


def check_clusters(ctx: Context, typed: list[str],
                   found: list[Item]) -> tuple[list[ClusterRef], list[Item]]:
    """Every cluster typed must exist: an unknown or deleted one is the user's error."""
    for name in typed:
        if not any(name in (c.get("clusterName"), c.get("clusterArn")) for c in found):
            raise InputError(
                f"cluster {name!r} not found in {ctx.region} (account {ctx.account or 'unknown'});"
                f" list them with: aws ecs list-clusters --region {ctx.region}"
            )
    clusters = ctx.store("clusters", found, "clusterArn")
    return [ClusterRef(c["clusterArn"], c["clusterName"]) for c in clusters], clusters


def service_names(typed: Iterable[str]) -> tuple[str, ...]:
    """Service names from what the user typed (a service ARN ends with its name)."""
    return tuple(dict.fromkeys(s.rsplit("/", 1)[-1] for s in typed))


def find_services(ctx: Context, refs: Sequence[ClusterRef], names: Sequence[str]) -> list[Item]:
    """Describe the named services in every scoped cluster; a name found in none is an
    InputError (raised before any task is listed, so a typo costs one call, not a scan)."""
    jobs = [job for ref in refs for job in describe_jobs(ctx, ref, DESCRIBE_SERVICES, names)]
    found = [s for s in ctx.gather(jobs).get("services", []) if s.get("status") != "INACTIVE"]
    missing = [n for n in names if n not in {s.get("serviceName") for s in found}]
    if missing and not ctx.recorder.failed("services"):
        where = ", ".join(repr(r.name) for r in refs)
        raise InputError(
            f"service {missing[0]!r} not found in cluster {where} ({ctx.region}); list them"
            f" with: aws ecs list-services --cluster {refs[0].name} --region {ctx.region}"
        )
    return found


def listing_jobs(
    ctx: Context, refs: Sequence[ClusterRef], names: Sequence[str]
) -> list[tuple[tuple[str, ClusterRef], Job]]:
    """One job per list call chain: services (unless named), tasks per desired status (per
    named service when services are named), container instances; keyed by collection and
    cluster so the describes can be cut per cluster."""
    jobs: list[tuple[tuple[str, ClusterRef], Job]] = []
    for ref in refs:
        if not names:
            jobs.append((("services", ref), partial(list_ids, ctx, ref, LIST_SERVICES)))
        for status in TASK_STATUSES:
            for name in names or (None,):
                filters = {"desiredStatus": status} | ({"serviceName": name} if name else {})
                jobs.append((("tasks", ref), partial(list_ids, ctx, ref, LIST_TASKS, **filters)))
        jobs.append((("container_instances", ref), partial(list_ids, ctx, ref, LIST_INSTANCES)))
    return jobs


def list_ids(ctx: Context, ref: ClusterRef, plan: ListPlan, **filters: Any) -> list[str]:
    """Every ARN of one list call, all pages, at the maximum page size."""
    return ctx.paginate(plan.collection, ctx.client("ecs"), plan.op, plan.key, ref.name,
                        cluster=ref.arn, maxResults=PAGE_SIZE, **filters)


def describe_jobs(
    ctx: Context, ref: ClusterRef, plan: DescribePlan, ids: Iterable[str]
) -> list[tuple[str, Job]]:
    """One job per batch of ``plan.batch`` distinct ids (a task listed as RUNNING and again
    as STOPPED, because it stopped in between, is described once)."""
    unique = sorted(set(ids))
    return [(plan.collection, partial(describe_batch, ctx, ref, plan, batch))
            for batch in batched(unique, plan.batch)]


def describe_batch(ctx: Context, ref: ClusterRef, plan: DescribePlan, ids: list[str]) -> list[Item]:
    api = ctx.client("ecs")
    response = ctx.call(plan.collection, api, plan.op, ref.name, len(ids), cluster=ref.arn,
                        include=list(plan.include), **{plan.param: ids})
    if response is None:
        return []
    record_failures(ctx, plan.collection, iam_action(api, plan.op), response)
    return list(response.get(plan.key, []))


def record_failures(ctx: Context, collection: str, operation: str, response: Item) -> None:
    """Put a describe's ``failures`` other than MISSING into bundle.errors.

    MISSING is ignored: a task or instance that vanished between the list and the describe
    is a race, not a gap; and moto answers FARGATE/FARGATE_SPOT capacity providers with it.
    """
    for failure in response.get("failures", []):
        reason = str(failure.get("reason") or "")
        if reason == "MISSING":
            continue
        ctx.recorder.add({
            "collection": collection, "operation": operation, "code": reason or "Failure",
            "message": f"{failure.get('arn', '')}: {failure.get('detail', reason)}",
        })


def tasks_of(tasks: list[Item], names: Sequence[str]) -> list[Item]:
    """With named services, keep only their tasks (``group`` is ``service:<name>``): a
    ListTasks serviceName filter is not honoured everywhere (moto ignores it)."""
    if not names:
        return tasks
    groups = {f"service:{n}" for n in names}
    return [t for t in tasks if t.get("group") in groups]


def capacity_provider_names(clusters: Iterable[Item]) -> list[str]:
    names: set[str] = set()
    for cluster in clusters:
        names.update(cluster.get("capacityProviders", []))
        names.update(s["capacityProvider"]
                     for s in cluster.get("defaultCapacityProviderStrategy", []))
    return sorted(names)


def describe_capacity_providers(ctx: Context, names: Sequence[str]) -> list[Item]:
    """The clusters' providers, by name only: with no names the API lists every provider in
    the account (and moto crashes). No botocore paginator exists, so ``nextToken`` is looped."""
    api = ctx.client("ecs")
    op = "describe_capacity_providers"
    on_page = partial(record_failures, ctx, "capacity_providers", iam_action(api, op))
    return [cp for batch in batched(names, CAPACITY_PROVIDER_BATCH)
            for cp in ctx.paginate("capacity_providers", api, op, "capacityProviders",
                                   "account", on_page=on_page, capacityProviders=batch,
                                   maxResults=CAPACITY_PROVIDER_PAGE)]


def list_account_settings(ctx: Context) -> list[Item]:
    """Effective settings (account default or per-principal override, as the caller sees)."""
    return ctx.paginate("account_settings", ctx.client("ecs"), "list_account_settings",
                        "settings", "account", effectiveSettings=True, maxResults=SETTINGS_PAGE)


def _setting_key(setting: Item) -> str:
    return f"{setting.get('name', '')}\n{setting.get('principalArn', '')}"


def task_definition_arns(services: Iterable[Item], tasks: Iterable[Item]) -> list[str]:
    """Every distinct revision anything in scope runs or is rolling to or from.

    Distinct by ``family:revision``, so a revision named both by ARN and by ``family:rev``
    (moto's update_service stores the latter) is described once, by its ARN.
    """
    refs: set[str] = set()
    for service in services:
        refs.add(service.get("taskDefinition", ""))
        refs.update(d.get("taskDefinition", "") for d in service.get("deployments", []))
        refs.update(s.get("taskDefinition", "") for s in service.get("taskSets", []))
    refs.update(t.get("taskDefinitionArn", "") for t in tasks)
    by_revision: dict[str, str] = {}
    for ref in sorted(r for r in refs if r):
        label = ref.rsplit("/", 1)[-1]
        if len(ref) > len(by_revision.get(label, "")):
            by_revision[label] = ref
    return sorted(by_revision.values())


def collect_task_definitions(ctx: Context) -> None:
    """One DescribeTaskDefinition per distinct revision (there is no batch API)."""
    arns = task_definition_arns(ctx.resources.get("services", []),
                                ctx.resources.get("tasks", []))
    jobs = [("task_definitions", partial(describe_task_definition, ctx, arn)) for arn in arns]
    found = ctx.gather(jobs).get("task_definitions", [])
    ctx.store("task_definitions", found, "taskDefinitionArn")


def describe_task_definition(ctx: Context, arn: str) -> list[Item]:
    response = ctx.call("task_definitions", ctx.client("ecs"), "describe_task_definition",
                        arn.rsplit("/", 1)[-1], taskDefinition=arn)
    if response is None or "taskDefinition" not in response:
        return []
    return [redact_task_definition(response["taskDefinition"])]  # before it enters the bundle
