"""A read-only typed index over a bundle: the only way checks see AWS data.

Built once per analysis; every index is computed lazily and cached, so a check that asks
"tasks of this service" a thousand times pays for the grouping once. Asking for a
collection that was not collected, or whose collection failed, raises MissingFacts, which
the runner turns into an `unknown` finding.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from functools import cached_property, lru_cache
from typing import Any, TypeVar

from checker.bundle import COLLECTIONS, GATE, METRICS, REFERENCES
from checker.errors import MissingFacts
from checker.model import WARNING

Item = Mapping[str, Any]

#: Error codes AWS uses for "the caller lacks the IAM permission" (ECS, EC2, ELB, STS, …):
#: the unknown finding then names the action to grant.
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                    "UnauthorizedException", "AuthorizationError"})
T = TypeVar("T")
#: Why a check that needs AWS data was not run by the gate without --cluster.
OFFLINE = "offline: pass --cluster (and --service) to check against the live target"


def parse_time(value: Any) -> dt.datetime | None:
    """ISO-8601 string (bundle) or datetime → aware datetime; None when absent or odd."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    return _parse_iso(value)


def parse_times(values: Sequence[Any]) -> tuple[dt.datetime | None, ...]:
    """parse_time of each of `values` (a series' timestamps). A bundle's series share a
    few timestamp lists between thousands of series, so a list of strings is parsed once
    per distinct list: hashing it costs far less than a parse_time call per datapoint.
    Anything else (numbers, which hash equal to booleans) goes one value at a time."""
    if all(type(v) is str for v in values):
        return _parse_isos(tuple(values))
    return tuple(parse_time(v) for v in values)


@lru_cache(maxsize=256)
def _parse_isos(values: tuple[str, ...]) -> tuple[dt.datetime | None, ...]:
    """parse_times of strings, kept per tuple (bounded like _parse_iso)."""
    return tuple(_parse_iso(v) if v else None for v in values)


@lru_cache(maxsize=1 << 16)
def _parse_iso(value: str) -> dt.datetime | None:
    """parse_time of a string, kept per string (bounded, for a long-lived Lambda
    container): a bundle's metric series share a few dozen distinct timestamps across
    tens of thousands of datapoints, and datetimes are immutable."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def arn_name(arn: str) -> str:
    """Last path segment of an ARN (`…:service/prod/web` → `web`); a plain name stays."""
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]


def task_definition_label(arn: str) -> str:
    """`arn:…:task-definition/web:42` → `web:42`, the form people say out loud."""
    return arn.rsplit("/", 1)[-1]


class Facts:
    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.bundle = bundle
        self.resources: Mapping[str, list[Item]] = bundle.get("resources", {}) or {}
        self.errors: list[Item] = list(bundle.get("errors", []) or [])
        self.account: str | None = bundle.get("account")
        self.region: str | None = bundle.get("region")
        self.scope: Mapping[str, Any] = bundle.get("scope", {}) or {}
        self.collected_at: dt.datetime = parse_time(bundle.get("collected_at")) or dt.datetime.now(
            dt.UTC
        )

    # -- availability ---------------------------------------------------------------
    @cached_property
    def _errors_by_collection(self) -> dict[str, list[Item]]:
        """Failed reads per collection. Entries with ``"level": "warning"`` (shape warnings,
        checker.shapes) are left out: the collection was read, so its checks still run."""
        out: dict[str, list[Item]] = defaultdict(list)
        for err in self.errors:
            if err.get("level") != WARNING:
                out[str(err.get("collection", ""))].append(err)
        return out

    def error_for(self, collection: str) -> Item | None:
        errs = self._errors_by_collection.get(collection)
        return errs[0] if errs else None

    def missing_reason(self, collection: str) -> str | None:
        """Why `collection` cannot be trusted, or None when it can (worked out once per
        collection: every check and lookup asks, 100,000 times on a large account)."""
        known = self._missing
        if collection in known:
            return known[collection]
        reason = known[collection] = self._missing_reason(collection)
        return reason

    @cached_property
    def _missing(self) -> dict[str, str | None]:
        return {}

    def _missing_reason(self, collection: str) -> str | None:
        err = self.error_for(collection)
        if err is not None:
            code = err.get("code") or "error"
            op = err.get("operation") or COLLECTIONS.get(collection) or REFERENCES.get(
                collection, collection)
            grant = f"; needs permission {op}" if code in DENIED else ""
            # a collector that knows the one command setting the source up says it
            setup = f"; set it up with: {err['setup']}" if err.get("setup") else ""
            return f"collection failed: {op} {code}{grant}{setup}"
        if collection == METRICS:
            return None if METRICS in self.bundle else "not collected (no metrics in bundle)"
        if collection == GATE:
            return None if isinstance(self.bundle.get(GATE), Mapping) else (
                "not collected (not a gate run)")
        if collection not in self.resources:
            return "not collected"
        return None

    def has(self, collection: str) -> bool:
        return self.missing_reason(collection) is None

    def skip_reason(self, collection: str) -> str | None:
        """Why `collection` is absent on purpose, or None. The gate without --cluster reads
        nothing from AWS: a check that needs AWS data is then `skipped`, saying how to get
        it checked, rather than `unknown` (could not check)."""
        gate = self.bundle.get(GATE)
        offline = isinstance(gate, Mapping) and not gate.get("live")
        if not offline or self.error_for(collection) is not None or self.has(collection):
            return None
        return OFFLINE

    # -- the gate's input --------------------------------------------------------------
    @property
    def gate(self) -> Item:
        """The gate's input (bundle key `gate`, checker.bundle.GATE); MissingFacts in any
        other bundle."""
        reason = self.missing_reason(GATE)
        if reason is not None:
            raise MissingFacts(GATE, reason)
        value: Item = self.bundle[GATE]
        return value

    @property
    def subject(self) -> str:
        """What a finding about nothing more precise is about (the runner's own findings:
        missing facts, nothing to check): the gate's candidate task definition, else the
        clusters in scope, else the bundle."""
        candidate = self._candidate
        if candidate is not None:
            return candidate
        clusters = self.scope.get("clusters") or []
        return ",".join(str(c) for c in clusters) if clusters else "bundle"

    @property
    def subject_path(self) -> str | None:
        """The subject's JSON path in its task definition: "" (all of it) when the subject
        is the gate's candidate, else None."""
        return "" if self._candidate is not None else None

    @property
    def _candidate(self) -> str | None:
        gate = self.bundle.get(GATE)
        value = gate.get("task_definition") if isinstance(gate, Mapping) else None
        return value if isinstance(value, str) else None

    def items(self, collection: str) -> list[Item]:
        reason = self.missing_reason(collection)
        if reason is not None:
            raise MissingFacts(collection, reason)
        return list(self.resources.get(collection, []))

    # -- generic lookups -----------------------------------------------------------
    def index(self, collection: str, key: str) -> dict[str, Item]:
        """`collection` items keyed by their `key` field, built once per (collection, key).

        The common case for every collection in AWS shapes: subnets by SubnetId, instance
        types by InstanceType, target groups by TargetGroupArn, …"""
        cache_key = (collection, key)
        hit = self._indexes.get(cache_key)
        if hit is None:
            hit = {str(item[key]): item for item in self.items(collection)
                   if isinstance(item.get(key), str | int)}
            self._indexes[cache_key] = hit
        return hit

    def lookup(self, collection: str, key: str, value: Any) -> Item | None:
        if value is None:
            return None
        return self.index(collection, key).get(str(value))

    @cached_property
    def _indexes(self) -> dict[tuple[str, str], dict[str, Item]]:
        return {}

    def memo(self, key: Hashable, build: Callable[[], T]) -> T:
        """A value derived from the facts alone, built once per analysis and shared by
        every check asking with the same ``key`` (a module-qualified tuple, e.g.
        ``("capacity", "hosts")``). For groupings that many checks need per service or
        per instance: rebuilding one per question makes the analysis quadratic in the
        cluster's size. The value is shared, so callers must not mutate it; a build that
        raises (MissingFacts) is not cached."""
        cache = self._memo
        if key in cache:
            value: T = cache[key]
            return value
        value = build()
        cache[key] = value
        return value

    def memo_of(self, item: object, name: str, build: Callable[[], T]) -> T:
        """:meth:`memo` per object (a service, a metric series of the bundle), by identity.
        The item is kept with its value, so its ``id`` cannot be reused by another object
        while this Facts lives."""
        cache, key = self._memo, (name, id(item))
        pair: tuple[object, T] | None = cache.get(key)
        if pair is None:  # inline, not through memo(): asked ~100k times on a big account
            pair = (item, build())
            cache[key] = pair
        return pair[1]

    @cached_property
    def _memo(self) -> dict[Hashable, Any]:
        return {}

    # -- EC2 hosts ------------------------------------------------------------------
    def ec2_instance_of(self, container_instance: Item) -> Item | None:
        """The EC2 instance behind a container instance (ec2_instances collection)."""
        return self.lookup("ec2_instances", "InstanceId", container_instance.get("ec2InstanceId"))

    def instance_type_of(self, container_instance: Item) -> Item | None:
        """DescribeInstanceTypes item for the container instance's type: from its EC2
        instance when collected, else from its `ecs.instance-type` attribute."""
        inst = self.ec2_instance_of(container_instance) if self.has("ec2_instances") else None
        name = (inst or {}).get("InstanceType") or attribute(container_instance,
                                                              "ecs.instance-type")
        return self.lookup("instance_types", "InstanceType", name)

    def service_of_arn(self, service_arn: str | None) -> Item | None:
        return self.lookup("services", "serviceArn", service_arn)

    # -- ECS ----------------------------------------------------------------------
    @property
    def clusters(self) -> list[Item]:
        return self.items("clusters")

    @property
    def services(self) -> list[Item]:
        return self.items("services")

    @property
    def tasks(self) -> list[Item]:
        return self.items("tasks")

    @property
    def container_instances(self) -> list[Item]:
        return self.items("container_instances")

    @cached_property
    def _task_definitions(self) -> dict[str, Item]:
        return {td["taskDefinitionArn"]: td for td in self.items("task_definitions")
                if isinstance(td.get("taskDefinitionArn"), str)}

    def task_definition(self, arn: Any) -> Item | None:
        if not arn or not isinstance(arn, str):
            return None
        hit = self._task_definitions.get(arn)
        if hit is not None:
            return hit
        label = task_definition_label(arn)  # services may name `family:rev` only
        for full, td in self._task_definitions.items():
            if task_definition_label(full) == label:
                return td
        return None

    @cached_property
    def _services_by_key(self) -> dict[tuple[str, str], Item]:
        return {(str(s.get("clusterArn", "")), str(s.get("serviceName", ""))): s
                for s in self.services}

    @cached_property
    def _tasks_by_service(self) -> dict[str, list[Item]]:
        """Tasks grouped by service ARN via `group: service:<name>` (as ECS itself fills it)."""
        out: dict[str, list[Item]] = defaultdict(list)
        for task in self.tasks:
            svc = self._service_for_task(task)
            if svc is not None:
                out[str(svc["serviceArn"])].append(task)
        return out

    def _service_for_task(self, task: Item) -> Item | None:
        group = str(task.get("group") or "")
        if not group.startswith("service:"):
            return None
        key = (str(task.get("clusterArn", "")), group.removeprefix("service:"))
        svc = self._services_by_key.get(key)
        if svc is None:  # hand-written bundles may omit clusterArn on one side
            name = key[1]
            matches = [s for (c, n), s in self._services_by_key.items() if n == name]
            svc = matches[0] if len(matches) == 1 else None
        return svc

    def service_of_task(self, task: Item) -> Item | None:
        if not self.has("services"):
            return None
        return self._service_for_task(task)

    def tasks_of_service(self, service: Item, status: str | None = None) -> list[Item]:
        tasks = self._tasks_by_service.get(str(service.get("serviceArn")), [])
        if status is None:
            return list(tasks)
        return [t for t in tasks if t.get("lastStatus") == status]

    def stopped_tasks(self) -> list[Item]:
        return [t for t in self.tasks if t.get("lastStatus") == "STOPPED"]

    def stopped_tasks_with_history(self) -> list[Item]:
        """The API's stopped tasks, then those of `task_history` the API no longer shows
        (one per taskArn, the API item winning): what the stopped-task checks count, so
        kills from hours ago still count. The API's alone when there is no history."""
        from checker.past.records import stopped_tasks  # it reads Facts: imported late
        return self.memo(("past", "stopped"), lambda: stopped_tasks(self))

    @cached_property
    def _container_instances(self) -> dict[str, Item]:
        return {str(ci.get("containerInstanceArn")): ci for ci in self.container_instances}

    def container_instance(self, arn: str | None) -> Item | None:
        return self._container_instances.get(arn or "")

    def instances_of_cluster(self, cluster_arn: str) -> list[Item]:
        """Container instances whose ARN sits under the cluster (ARN carries its name)."""
        return list(self._instances_by_cluster.get(arn_name(cluster_arn), ()))

    @cached_property
    def _instances_by_cluster(self) -> dict[str, list[Item]]:
        """Container instances under each name that sits between two slashes of their ARN
        (``container-instance/<cluster>/<id>``), in bundle order: a cluster's instances
        are asked for per service, so they are grouped once."""
        out: dict[str, list[Item]] = defaultdict(list)
        for arn, ci in self._container_instances.items():
            for segment in dict.fromkeys(arn.split("/")[1:-1]):
                out[segment].append(ci)
        return out

    # -- metrics --------------------------------------------------------------------
    def metric(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str],
        stat: str | None = None,
    ) -> list[Item]:
        """Series matching exactly these dimensions (CloudWatch matches exactly too)."""
        if not self.has(METRICS):
            raise MissingFacts(METRICS, self.missing_reason(METRICS) or "not collected")
        want = dict(dimensions)
        key = _metric_key(namespace, name, want)
        index = self._metrics_by_key
        if index is None or key is None:  # odd series or dimensions: compare one by one
            return [
                s for s in self.bundle.get(METRICS, [])
                if s.get("namespace") == namespace and s.get("name") == name
                and dict(s.get("dimensions", {})) == want
                and (stat is None or s.get("stat") == stat)
            ]
        return [s for s in index.get(key, ()) if stat is None or s.get("stat") == stat]

    @cached_property
    def _metrics_by_key(self) -> dict[MetricKey, list[Item]] | None:
        """Series by (namespace, name, dimensions), built once: checks ask for a series per
        service, instance and target group, so a scan per question would be quadratic.
        None when some series is not a plain object with hashable dimension values."""
        index: dict[MetricKey, list[Item]] = defaultdict(list)
        for series in self.bundle.get(METRICS, []) or []:
            if not isinstance(series, Mapping):
                return None
            dims = series.get("dimensions", {})
            key = _metric_key(series.get("namespace"), series.get("name"),
                              dict(dims) if isinstance(dims, Mapping) else None)
            if key is None:
                return None
            index[key].append(series)
        return index


MetricKey = tuple[Any, Any, frozenset[tuple[Any, Any]]]


def _metric_key(namespace: Any, name: Any, dimensions: dict[Any, Any] | None) -> MetricKey | None:
    """The index key of a series; None when a part of it is unhashable."""
    if dimensions is None:
        return None
    try:
        key = (namespace, name, frozenset(dimensions.items()))
        hash(key)
    except TypeError:
        return None
    return key


def _objects(value: Any) -> list[Item]:
    """The dict items of a list field; anything else (None, a string, junk) gives []."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def attribute(container_instance: Item, name: str) -> str | None:
    """Value of a container instance attribute (`ecs.instance-type`, custom ones, …)."""
    for attr in _objects(container_instance.get("attributes")):
        if attr.get("name") == name:
            value = attr.get("value")
            return str(value) if value is not None else ""
    return None


def resource_value(container_instance: Item, which: str, name: str) -> Any:
    """registeredResources/remainingResources entry `name` (CPU, MEMORY, PORTS, …):
    integerValue for numbers, stringSetValue for port lists."""
    for res in _objects(container_instance.get(which)):
        if res.get("name") == name:
            if res.get("type") == "STRINGSET" or "stringSetValue" in res:
                return list(res.get("stringSetValue", []) or [])
            return res.get("integerValue")
    return None


def essential_containers(task_definition: Item) -> Iterable[Item]:
    for c in task_definition.get("containerDefinitions", []) or []:
        if c.get("essential", True):
            yield c


# -- reading fields that may be odd ------------------------------------------------------
# Bundles are validated against botocore's shapes when read (checker.shapes), but a
# hand-written bundle with a warning still goes through: a field may hold a string, a list
# or null where the API returns an object. These four are the one way checks read such
# fields, so a wrong type degrades to "absent" instead of raising.

def obj(value: Any) -> Item:
    """`value` when it is an object, else {} (`"logConfiguration": "awslogs"` reads as none)."""
    return value if type(value) is dict or isinstance(value, Mapping) else {}


def objs(value: Any) -> list[Item]:
    """The objects of a list field; anything else (None, a string, junk items) gives none.
    Plain dicts (what JSON gives) are let through before the Mapping test, an ABC check
    that was 3× the cost: checks read these fields 200,000 times on a large account."""
    if type(value) is not list and not isinstance(value, list):
        return []
    return [v for v in value if type(v) is dict or isinstance(v, Mapping)]


def strs(value: Any) -> list[str]:
    """The non-empty strings of a list of ids or names; anything else gives none."""
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def dig(item: Any, *keys: str) -> Any:
    """item[k1][k2]…, None as soon as a level is missing or not an object."""
    for key in keys[:-1]:
        item = obj(item).get(key)
    return obj(item).get(keys[-1])


# -- services run by task sets (EXTERNAL, CODE_DEPLOY deployment controllers) ---------------
#: Task set statuses that run (or are about to run) tasks; INACTIVE ones run nothing.
LIVE_TASK_SET = frozenset({"PRIMARY", "ACTIVE", "DRAINING"})


def task_sets(svc: Item) -> list[Item]:
    """The service's task sets that run tasks (DescribeServices' `taskSets`), in id order."""
    return sorted((t for t in objs(svc.get("taskSets"))
                   if str(t.get("status") or "ACTIVE").upper() in LIVE_TASK_SET),
                  key=lambda t: str(t.get("taskSetArn") or t.get("id") or ""))


def _primary_first(svc: Item) -> list[Item]:
    return sorted(task_sets(svc), key=lambda s: s.get("status") != "PRIMARY")


def task_definition_arn(svc: Item) -> str | None:
    """The ARN of the service's task definition; for one run by task sets, its PRIMARY task
    set's (else the first one's). Here, not in the checks, because the remediation
    commands (checker.command_context) need it as much as the checks do."""
    arn = svc.get("taskDefinition") or next(
        (s.get("taskDefinition") for s in _primary_first(svc) if s.get("taskDefinition")), None)
    return arn if isinstance(arn, str) and arn else None


def awsvpc_config(svc: Item) -> Item:
    """The service's own awsvpcConfiguration; for a service run by task sets (EXTERNAL,
    CODE_DEPLOY) with none of its own, its PRIMARY task set's (else the first one's)."""
    own = obj(obj(svc.get("networkConfiguration")).get("awsvpcConfiguration"))
    if own:
        return own
    configs = [c for s in _primary_first(svc)
               if (c := obj(obj(s.get("networkConfiguration")).get("awsvpcConfiguration")))]
    return configs[0] if configs else {}
