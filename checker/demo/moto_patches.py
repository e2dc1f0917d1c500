"""Class patches on moto, for what its responses cannot say or say too slowly: route states
(blackhole), CPU-credit modes, target health reasons, and an indexed GetMetricData; and the
VPC seeds that go with them (blackhole routes, NAT gateway states). CloudTrail's LookupEvents,
which moto lacks, is in :mod:`checker.demo.moto_history`; it is installed and removed here
with the rest.

:mod:`checker.demo.moto_seed` re-exports everything public here; use it from there. Each patch is
idempotent, keeps moto's original for :func:`uninstall_patches`, and changes nothing until
installed (importing this module loads no moto). Overrides are keyed by ids, so stale keys
after a backend reset are harmless; clear them with :func:`reset_overrides`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from checker.demo import moto_history, moto_iam

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

CREDIT_MODE: dict[str, str] = {}
"""instance id -> ``"standard"`` | ``"unlimited"`` (needs :func:`patch_credit_specs`)."""
TARGET_HEALTH: dict[tuple[str, str], tuple[str, str, str]] = {}
"""(target group ARN, target id) -> (state, reason, description) (needs
:func:`patch_target_health`)."""

# (class, attribute) -> moto's original, for every class patch in force (uninstall_patches).
_ORIGINALS: dict[tuple[Any, str], Any] = {}


def _ec2(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _patch(owner: Any, name: str, replacement: Any) -> None:
    """Replace ``owner.name`` once, keeping moto's original for :func:`uninstall_patches`."""
    if (owner, name) not in _ORIGINALS:
        _ORIGINALS[(owner, name)] = owner.__dict__[name]
        setattr(owner, name, replacement)


# --- EC2 / VPC ----------------------------------------------------------------------------


def _route_state(route: Any) -> str:
    return str(getattr(route, "_ecsdoctor_state", "active"))


def patch_route_state() -> None:
    """moto's ``Route.state`` is a read-only property fixed to "active"; make it overridable
    (``route._ecsdoctor_state``, see ``moto_seed.blackhole_route``).

    A subclass is impossible (moto's metaclass wants model classes in ``moto.*`` modules), so
    the property is replaced; a route that was not overridden still reads "active".
    """
    from moto.ec2.models import route_tables

    _patch(route_tables.Route, "state", property(_route_state))


def blackhole_route(
    route_table_id: str,
    cidr: str = "0.0.0.0/0",
    *,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
) -> Any:
    """Show the route to ``cidr`` as ``State: blackhole`` (its target was deleted, as AWS
    reports it; moto always says "active"). KeyError if the table has no such route."""
    patch_route_state()
    for route in _ec2(account, region).get_route_table(route_table_id).routes:
        if route.destination_cidr_block == cidr:
            route._ecsdoctor_state = "blackhole"
            return route
    raise KeyError(f"{route_table_id} has no route to {cidr}")


def set_nat_state(
    nat_gateway_id: str,
    state: str,
    *,
    failure_code: str | None = None,
    failure_message: str | None = None,
    created_at: dt.datetime | None = None,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
    **fields: Any,
) -> Any:
    """Set a NAT gateway's State (e.g. ``failed``) with FailureCode/FailureMessage; moto
    creates every NAT ``available`` and has no failure path. ``created_at`` sets CreateTime
    (moto: the moment of creation); ``fields`` set other members by snake_case name, e.g.
    ``delete_time`` for a ``deleted`` one."""
    nat = _ec2(account, region).nat_gateways[nat_gateway_id]
    nat.state = state
    if failure_code is not None:
        nat.failure_code = failure_code
        nat.failure_message = failure_message
    if created_at is not None:
        nat._created_at = created_at  # moto's CreateTime property reads it
    for name, value in fields.items():
        setattr(nat, name, value)
    return nat


def _default_credit_mode(instance_type: str) -> str:
    # AWS launches T3/T3a/T4g as "unlimited" by default and T2 as "standard".
    return "unlimited" if instance_type.startswith(("t3", "t4g")) else "standard"


def patch_credit_specs() -> None:
    """Make DescribeInstanceCreditSpecifications read :data:`CREDIT_MODE` (moto hard-codes
    "standard"); instances not in it get the AWS default for their type. Idempotent."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses import instances as ec2_instances

    def describe_instance_credit_specifications(self: Any) -> Any:
        ids = self._get_param("InstanceIds", [])
        instances = self.ec2_backend.describe_instance_credit_specifications(ids)
        specs = [
            {
                "InstanceId": i.id,
                "CpuCredits": CREDIT_MODE.get(i.id, _default_credit_mode(i.instance_type)),
            }
            for i in instances
        ]
        return ActionResult({"InstanceCreditSpecifications": specs})

    _patch(ec2_instances.InstanceResponse, "describe_instance_credit_specifications",
           describe_instance_credit_specifications)


# --- ELBv2 --------------------------------------------------------------------------------


def patch_target_health() -> None:
    """Make DescribeTargetHealth read :data:`TARGET_HEALTH`; moto reports every registered ip
    target ``healthy`` and cannot produce FailedHealthChecks/ResponseCodeMismatch. Targets not
    in it keep moto's answer. Idempotent."""
    from moto.elbv2 import models as elbv2_models

    original = elbv2_models.FakeTargetGroup.__dict__["health_for"]
    if (elbv2_models.FakeTargetGroup, "health_for") in _ORIGINALS:
        return

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        status = original(self, target, ec2_backend)
        override = TARGET_HEALTH.get((self.arn, target["Id"]))
        if override:
            status.status, status.reason, status.description = override
        return status

    _patch(elbv2_models.FakeTargetGroup, "health_for", health_for)


# --- CloudWatch ---------------------------------------------------------------------------


def patch_metric_data() -> None:
    """Make GetMetricData answer in one pass over the datapoints. moto's own scans every
    datapoint of the window once per period per query (a 3-hour scan of a few thousand
    points takes seconds); this buckets each query's points once, with moto's own matching
    (name and dimensions, namespace only without dimensions, unit when asked) and moto's
    Statistics. Calls with a math expression go to moto's original. Idempotent.

    "moto's own matching" includes its quirk: it compares ``sorted()`` dimension lists, and
    its Dimension ordering is not by name alone, so a query matches data whose dimensions
    were put in the same order (put them sorted by name, as the collector asks)."""
    from moto.cloudwatch import models as cw_models

    original = cw_models.CloudWatchBackend.__dict__["get_metric_data"]

    def get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: dt.datetime,
                        end_time: dt.datetime,
                        scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
        if start_time >= end_time or not _plain(queries):
            return list(original(self, queries, start_time, end_time, scan_by))
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        index: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
        for md in self.get_all_metrics():
            if start <= md.timestamp < end:
                index[_key(md.name, md.dimensions)].append(md)
                index[("ns", md.namespace, md.name)].append(md)
        return [_answer(q, index, start, scan_by, cw_models) for q in queries
                if q.get("ReturnData", True)]

    _patch(cw_models.CloudWatchBackend, "get_metric_data", get_metric_data)


def _plain(queries: list[dict[str, Any]]) -> bool:
    """Only metric queries, every dimension with a value (moto reads a missing value as a
    wildcard: that matching stays with moto's original)."""
    return all("MetricStat" in q and all(d.get("Value") is not None for d in q["MetricStat"][
        "Metric"].get("Dimensions", [])) for q in queries)


def _key(name: str, dimensions: list[Any]) -> tuple[Any, ...]:
    """The series key, with moto's own ``sorted()`` of its Dimension objects."""
    return ("dims", name, tuple((d.name, d.value) for d in sorted(dimensions)))


def _answer(query: dict[str, Any], index: dict[tuple[Any, ...], list[Any]],
            start: dt.datetime, scan_by: str, cw_models: Any) -> dict[str, Any]:
    stat = query["MetricStat"]
    metric = stat["Metric"]
    dims = metric.get("Dimensions", [])
    if dims:
        wanted = [cw_models.Dimension(d["Name"], d["Value"]) for d in dims]
        points = index.get(_key(metric["MetricName"], wanted), [])
    else:
        points = index.get(("ns", metric["Namespace"], metric["MetricName"]), [])
    if stat.get("Unit"):
        points = [md for md in points if md.unit == stat["Unit"]]
    period = int(stat["Period"])
    buckets: dict[int, list[Any]] = defaultdict(list)
    for md in points:
        buckets[int((md.timestamp - start).total_seconds() // period)].append(md)
    values, stamps = [], []
    for number in sorted(buckets):
        stats = cw_models.Statistics([stat["Stat"]],
                                     start + dt.timedelta(seconds=number * period))
        stats.metric_data = buckets[number]
        values.append(stats.get_statistics_for_type(stat["Stat"]))
        stamps.append(stats.timestamp)
    if scan_by == "TimestampDescending":
        values.reverse()
        stamps.reverse()
    label = query.get("Label") or f"{metric['MetricName']} {stat['Stat']}"
    return {"id": query["Id"], "label": label, "values": values, "timestamps": stamps,
            "status_code": "Complete"}


# --- lifecycle ------------------------------------------------------------------------------


def install_patches() -> None:
    """Install every class patch this module has. Idempotent. Until an override is set, routes
    and targets read as moto has them, and credit modes are the AWS defaults (T3/T4g
    "unlimited", where moto says "standard" for every instance)."""
    patch_route_state()
    patch_credit_specs()
    patch_target_health()
    patch_metric_data()
    moto_history.patch_lookup_events()  # CloudTrail events put with put_cloudtrail_event
    moto_iam.patch_simulate()  # the task role simulations the scan asks for


def uninstall_patches() -> None:
    """Put moto's own classes back (tests, so patched behaviour does not leak). Idempotent."""
    for (owner, name), original in _ORIGINALS.items():
        setattr(owner, name, original)
    _ORIGINALS.clear()
    moto_history.unpatch_lookup_events()
    moto_iam.unpatch_simulate()


def reset_overrides() -> None:
    """Forget CREDIT_MODE and TARGET_HEALTH overrides (call when the backends are reset)."""
    CREDIT_MODE.clear()
    TARGET_HEALTH.clear()
    moto_history.reset_history()
