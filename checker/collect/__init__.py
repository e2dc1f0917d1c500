"""AWS → bundle v1: the only code in ecsdoctor that talks to AWS.

One module per AWS service. Each declares ``OPERATIONS`` (every IAM action it may call;
``deploy/iam-policy.json`` is tested to equal their union) and a ``collect_<service>(ctx)``
that stores its collections in ``ctx.resources``. A collector reads what earlier ones
stored (EC2 reads the container instances' ids): :data:`AFTER` names which, and
:func:`run_collectors` starts each as soon as those have finished, the independent ones at
the same time. Adding a module (``elbv2.py``) means: write it, add its collector to
:data:`COLLECTORS` (and to :data:`AFTER` when it need not wait for every collector before
it) and its operations to :data:`OPERATIONS`, regenerate the IAM policy.

Only :class:`~checker.errors.InputError` escapes :func:`collect` (no region, no credentials,
endpoint unreachable, unknown cluster or service): everything else that fails is one entry
in ``bundle["errors"]`` and the rest of the scan goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial, wraps
from typing import TYPE_CHECKING, Any

from checker.bundle import COLLECTIONS, new_bundle, to_jsonable
from checker.collect import (
    alarms,
    autoscaling,
    cloudtrail,
    cloudwatch,
    ec2,
    ecs,
    elbv2,
    history,
    images,
    logs,
    task_roles,
)
from checker.collect.aws import (
    DEFAULT_TIMEOUT,
    NO_REGION,
    Context,
    DaemonPool,
    Deadline,
    Progress,
    Scope,
    iam_action,
    input_error,
    unreachable,
)
from checker.errors import InputError

if TYPE_CHECKING:
    import boto3.session

__all__ = ["COLLECTORS", "DEFAULT_TIMEOUT", "OPERATIONS", "Context", "Deadline", "Progress",
           "Scope", "collect"]

Collector = Callable[[Context], None]


def on_pool(collector: Collector, *collections: str) -> Collector:
    """``collector`` run as one pool job, for a collector that makes its calls itself rather
    than through ``ctx.gather``: from the scan's own thread such a call would hold the scan
    up to a read timeout past its deadline; as a job the scan stops waiting at the deadline
    and records ``collections`` as timed out (what the job stores later is dropped)."""

    @wraps(collector)
    def run(ctx: Context) -> None:
        ctx.gather([(collections, partial(_no_items, collector, ctx))])

    return run


def _no_items(collector: Collector, ctx: Context) -> list[None]:
    collector(ctx)
    return []


#: Each fills its collections in ctx.resources. A collector runs once those it reads have
#: finished (:data:`AFTER`; by default every collector listed before it), beside the others
#: that are ready: the scan's wall time is its longest chain, not the sum of them all.
COLLECTORS: tuple[Collector, ...] = (
    ecs.collect_ecs_resources,  # clusters, services, tasks, container instances, …
    ecs.collect_task_definitions,  # one call per revision the services and tasks name
    elbv2.collect_elbv2,  # before ec2: the LB subnets and groups are on the network path
    ec2.collect_ec2,
    autoscaling.collect_autoscaling,
    history.collect_history,  # scope.history > 0 only, as cloudtrail
    cloudtrail.collect_cloudtrail,  # after every resource collector: keeps events on them
    cloudwatch.collect_cloudwatch,  # reads what every resource collector stored
    on_pool(alarms.collect_alarms, "alarms"),  # the alarms on the resources stored so far
    logs.collect_logs,  # "slow or erroring" is read from the metrics and alarms
    images.collect_images,  # the images of containers whose log says exec format error
    on_pool(task_roles.collect_task_roles,  # the task roles of the services stored above
            "task_role_simulations"),
)

#: Collector name → the collectors whose collections it reads. One not named here runs
#: after every collector listed before it in COLLECTORS, and every collector named here
#: waits for it too when it comes first (the safe default for a new one).
#: The bundle does not depend on which finishes first: every collection is stored sorted
#: and the errors are sorted (checker.collect.aws.Context.store, Recorder.errors).
_ECS, _TDS = "collect_ecs_resources", "collect_task_definitions"
_RESOURCES = (_ECS, "collect_elbv2", "collect_ec2", "collect_autoscaling")
AFTER: dict[str, tuple[str, ...]] = {
    _TDS: (_ECS,),  # the revisions the services and tasks name
    "collect_elbv2": (_ECS,),  # the services' target groups
    "collect_ec2": (_ECS, "collect_elbv2"),  # instances, task subnets, LB subnets
    "collect_autoscaling": (_ECS,),  # services, capacity providers
    "collect_history": (_ECS,),  # clusters, services
    "collect_cloudtrail": (*_RESOURCES, _TDS),  # events on every scanned resource, roles
    "collect_cloudwatch": _RESOURCES,  # the series of every scanned resource
    "collect_alarms": _RESOURCES,  # the alarms on every scanned resource
    "collect_logs": (_ECS, _TDS, "collect_cloudwatch", "collect_alarms"),
    "collect_images": (_ECS, _TDS, "collect_logs"),  # log_events, task definitions
    "collect_task_roles": (_ECS, _TDS),  # services, task definitions
}

#: Every IAM action the collectors can call (read-only: Describe*, List*, Get*, and the two
#: history reads logs:FilterLogEvents and cloudtrail:LookupEvents).
OPERATIONS: frozenset[str] = (frozenset({"sts:GetCallerIdentity", "ecs:ListClusters"})
                               | ecs.OPERATIONS
                               | ec2.OPERATIONS | autoscaling.OPERATIONS | elbv2.OPERATIONS
                               | cloudwatch.OPERATIONS
                               | history.OPERATIONS | cloudtrail.OPERATIONS
                               | alarms.OPERATIONS | logs.OPERATIONS | images.OPERATIONS
                               | task_roles.OPERATIONS)

#: The first call is retried less and waits less: an unreachable or silent endpoint should
#: be a quick, clear error (2 attempts of at most 5 s plus one backoff ≤ 1 s), not eleven
#: attempts of 30 s each. GetCallerIdentity answers in milliseconds when the endpoint is
#: alive. (botocore's ``max_attempts`` counts retries: 1 retry = 2 attempts.)
_FIRST_CALL_RETRIES = 1
_FIRST_CALL_READ_TIMEOUT = 5


def collect(
    session: boto3.session.Session,
    scope: Scope,
    *,
    progress: Progress | None = None,
    max_workers: int = 8,
    endpoint_url: str | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Returns a bundle v1 dict (checker.bundle.new_bundle + resources + errors), already
    passed through to_jsonable; raises InputError only (and KeyboardInterrupt).

    ``deadline`` (default: :data:`DEFAULT_TIMEOUT` from now) bounds the whole scan: what is
    still outstanding when it passes is in ``errors`` as ``ScanTimeout`` and the bundle holds
    what was read. Whichever way the scan ends, no call starts after it: the pool's threads
    are daemons, and a call still waiting on a silent endpoint keeps no process alive.
    """
    region = session.region_name
    if not region:
        raise InputError(NO_REGION)
    if max_workers < 1:
        raise InputError(f"max_workers must be at least 1, got {max_workers}")
    if not scope.clusters:
        raise InputError("no cluster to scan: pass --cluster NAME (list them with: "
                         f"aws ecs list-clusters --region {region})")
    deadline = deadline or Deadline(DEFAULT_TIMEOUT)
    pool = DaemonPool(max_workers, "ecsdoctor-collect")
    ctx = Context(scope=scope, region=region, pool=pool, session=session,
                  endpoint_url=endpoint_url, max_workers=max_workers, progress=progress,
                  deadline=deadline)
    try:
        ctx.account = caller_account(ctx)
        run_collectors(ctx, COLLECTORS)
        bundle: dict[str, Any] = to_jsonable(assemble(ctx))
    finally:
        deadline.cancel()  # an abandoned call gets no retry; Ctrl-C: nothing more is sent
        pool.shutdown(wait=False, cancel_futures=True)
    return bundle


def run_collectors(ctx: Context, collectors: tuple[Collector, ...]) -> None:
    """Every collector, each on its own thread once the ones it reads (:data:`AFTER`) have
    finished. Their API calls still go through ``ctx.gather``'s one pool (``--workers``)
    and stop at ``ctx.deadline``; a collector whose input failed does not run, and the
    first error in COLLECTORS order is raised here once all have ended (InputError: no
    such cluster; KeyboardInterrupt reaches this thread, and the threads are daemons)."""
    names = [getattr(c, "__name__", repr(c)) for c in collectors]
    # a collector AFTER names waits for those, and for every earlier one AFTER does not
    # know (a new collector, a test's): what it stores may be what this one reads
    needs = [[j for j in range(i) if names[j] in AFTER[name] or names[j] not in AFTER]
             if name in AFTER else list(range(i)) for i, name in enumerate(names)]
    done = [threading.Event() for _ in collectors]
    failed: list[BaseException | None] = [None] * len(collectors)

    def run(i: int) -> None:
        try:
            for j in needs[i]:
                done[j].wait()
            if not any(failed[j] is not None for j in needs[i]):
                collectors[i](ctx)
            else:
                failed[i] = _InputFailed()
        except BaseException as exc:  # raised on the scan's thread below
            failed[i] = exc
        finally:
            done[i].set()

    threads = [threading.Thread(target=run, args=(i,), name=f"ecsdoctor-{name}", daemon=True)
               for i, name in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = next((e for e in failed if e is not None and not isinstance(e, _InputFailed)), None)
    if first is not None:
        raise first


class _InputFailed(Exception):
    """A collector skipped because one it reads raised (that error is the one reported)."""


def caller_account(ctx: Context) -> str | None:
    """The account id, from the scan's very first call (which also proves that credentials
    exist and the endpoint answers). Denied or failed → None and an error entry."""
    sts = ctx.client("sts", max_attempts=_FIRST_CALL_RETRIES,
                     read_timeout=_FIRST_CALL_READ_TIMEOUT)
    action = iam_action(sts, "get_caller_identity")
    try:
        identity = sts.get_caller_identity()
    except Exception as exc:
        gone = unreachable(exc)
        if gone is not None:
            raise InputError(f"{gone}{region_hint(ctx.session, ctx.region)}") from exc
        fatal = input_error(exc)
        if fatal is not None:
            raise fatal from exc
        ctx.fail("account", action, exc)
        return None
    ctx.step(action)
    account = identity.get("Account")
    return str(account) if account else None


def region_hint(session: Any, region: str) -> str:
    """When the endpoint cannot be reached, say so if the Region itself is unknown
    (``--region mars-1``): a hint, never a refusal, as a new Region may postdate botocore."""
    try:
        known = {r for p in session.get_available_partitions()
                 for r in session.get_available_regions("ecs", partition_name=p)}
    except Exception:
        return ""
    if not known or region in known:
        return ""
    return f"; {region!r} is not an ECS Region this botocore knows (e.g. us-east-1)"


def assemble(ctx: Context) -> dict[str, Any]:
    """The bundle: collections in the contract's order; ``metrics`` only once collected."""
    scope: dict[str, Any] = {"clusters": list(ctx.scope.clusters)}
    if ctx.scope.services:
        scope["services"] = list(ctx.scope.services)
    bundle = new_bundle(account=ctx.account, region=ctx.region, scope=scope)
    bundle["resources"] = {k: ctx.resources[k] for k in COLLECTIONS if k in ctx.resources}
    if ctx.metrics is None:
        del bundle["metrics"]  # not collected yet: absent, not an empty (all-quiet) list
    else:
        bundle["metrics"] = ctx.metrics
    bundle["errors"] = ctx.recorder.errors()
    bundle["retries"] = ctx.recorder.retries()  # additive to bundle v1: [] when none
    return bundle
