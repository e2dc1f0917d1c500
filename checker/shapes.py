"""Bundle items against their AWS shapes, read from botocore's own service models.

Why: a bundle promises "exactly the item the boto3 call returns" (CONTRACTS §1), and a
check reads the real key. A hand-written or hand-edited bundle with `"privilege": true` in
a container definition is therefore read as "not privileged" and passes in silence — the
Checkov bug STYLE.md warns about. botocore's parsers only ever emit the members of the
output shape, with the modelled types, so anything else in a bundle is a typo, a hand edit
or a collector bug: worth a warning in the report, never a failure (the analysis still runs
on what is there, and a warning never makes a collection "missing").

How, and why this way:
- **No hand-written schemas.** Each shape is compiled once per process from botocore's
  model (no network) — as exported into checker/data/shapes.json by `python -m
  checker.shapes`, so an analysis imports no botocore; a test keeps the export equal to the
  installed botocore — into small validator objects: a structure keeps a dict of its
  scalar members (key → the Python types a JSON bundle may hold) and one of its nested
  members, so the common case — a known key with a value of the right type — costs one dict
  lookup and one set lookup (timestamp strings are parsed inline). Bundles reach 170,000
  tasks; paths are only built for problems. Measured: about 7 µs a task, 2.5x a walk that
  checks nothing; caching by (keys, value types) signature was tried and was slower.
- **What is checked:** unknown keys (with a `difflib` suggestion), and types — structure,
  list, map, string, integer/long (bools are not ints), double/float (ints are fine),
  boolean, timestamp (an ISO-8601 string as bundles store it, or epoch seconds). Not
  checked: enum values and required members (AWS adds values and omits members freely).
- **Bundle-specific additions** (CONTRACTS §1) are allowed: `vpcs[].Attributes`, the
  `target_health` wrapper around DescribeTargetHealth's descriptions and the
  `load_balancer_attributes` wrapper around DescribeLoadBalancerAttributes' attributes.
- **Readable at any size:** identical problems (same path pattern, same message) across
  items are one warning with a count, and each collection lists at most
  ``PER_COLLECTION`` of them, then one "… and N more" line.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

#: collection → (botocore service, output shape) of one item; one home for the engine and
#: the test builders. Collections not here (task_history, ecs_events, log_events, unknown
#: ones) are not shape-checked. `target_health` items wrap TargetHealthDescriptions.
SHAPES: dict[str, tuple[str, str]] = {
    "clusters": ("ecs", "Cluster"), "services": ("ecs", "Service"), "tasks": ("ecs", "Task"),
    "task_definitions": ("ecs", "TaskDefinition"),
    "container_instances": ("ecs", "ContainerInstance"),
    "capacity_providers": ("ecs", "CapacityProvider"), "account_settings": ("ecs", "Setting"),
    "ec2_instances": ("ec2", "Instance"), "instance_types": ("ec2", "InstanceTypeInfo"),
    "credit_specifications": ("ec2", "InstanceCreditSpecification"), "vpcs": ("ec2", "Vpc"),
    "subnets": ("ec2", "Subnet"), "route_tables": ("ec2", "RouteTable"),
    "nat_gateways": ("ec2", "NatGateway"), "vpc_endpoints": ("ec2", "VpcEndpoint"),
    "security_groups": ("ec2", "SecurityGroup"), "network_acls": ("ec2", "NetworkAcl"),
    "load_balancers": ("elbv2", "LoadBalancer"), "target_groups": ("elbv2", "TargetGroup"),
    "target_health": ("elbv2", "TargetHealthDescription"),
    "load_balancer_attributes": ("elbv2", "LoadBalancerAttribute"),
    "scalable_targets": ("application-autoscaling", "ScalableTarget"),
    "scaling_policies": ("application-autoscaling", "ScalingPolicy"),
    "auto_scaling_groups": ("autoscaling", "AutoScalingGroup"),
    "alarms": ("cloudwatch", "MetricAlarm"), "cloudtrail_events": ("cloudtrail", "Event"),
    "ecr_images": ("ecr", "ImageDetail"), "ecr_manifests": ("ecr", "Image"),
}

#: collection → the key that names an item in a warning (`task_definitions[3] (web:31)`).
LABELS: dict[str, str] = {
    "clusters": "clusterName", "services": "serviceName", "tasks": "taskArn",
    "task_definitions": "taskDefinitionArn", "container_instances": "ec2InstanceId",
    "capacity_providers": "name", "account_settings": "name",
    "ec2_instances": "InstanceId", "instance_types": "InstanceType",
    "credit_specifications": "InstanceId", "vpcs": "VpcId", "subnets": "SubnetId",
    "route_tables": "RouteTableId", "nat_gateways": "NatGatewayId",
    "vpc_endpoints": "VpcEndpointId", "security_groups": "GroupId",
    "network_acls": "NetworkAclId", "load_balancers": "LoadBalancerName",
    "target_groups": "TargetGroupName", "target_health": "TargetGroupArn",
    "load_balancer_attributes": "LoadBalancerArn",
    "scalable_targets": "ResourceId", "scaling_policies": "PolicyName",
    "auto_scaling_groups": "AutoScalingGroupName", "alarms": "AlarmName",
    "cloudtrail_events": "EventId", "ecr_images": "repositoryName",
    "ecr_manifests": "repositoryName",
}

#: Warnings listed per collection before one "… and N more" line.
PER_COLLECTION = 20
OPERATION = "bundle-validation"
UNKNOWN_KEY, WRONG_TYPE, MORE = "UnknownKey", "WrongType", "MoreWarnings"

# botocore type → the Python types a JSON bundle holds for it (exact types: the fast path).
# Blobs are text in a bundle (bundle.to_jsonable); timestamp strings are parsed.
_SCALARS: dict[str, frozenset[type]] = {
    "string": frozenset({str}), "blob": frozenset({str}), "boolean": frozenset({bool}),
    "integer": frozenset({int}), "long": frozenset({int}), "double": frozenset({int, float}),
    "float": frozenset({int, float}), "timestamp": frozenset({int, float, dt.datetime})}
_STAMPS = _SCALARS["timestamp"]
_LOOSE: dict[str, Any] = {"integer": int, "long": int, "double": int | float,
                          "float": int | float, "timestamp": int | float | dt.datetime}
_from_iso = dt.datetime.fromisoformat
_EXPECTED = {"string": "a string", "blob": "a string", "integer": "an integer",
             "long": "an integer", "boolean": "a boolean", "double": "a number",
             "float": "a number", "timestamp": "an ISO-8601 timestamp",
             "structure": "an object", "map": "an object", "list": "a list"}


class Problem:
    """One problem at a path; `parts` is built backwards while the walk unwinds, so a valid
    value never pays for a path."""

    __slots__ = ("code", "example", "parts", "text")

    def __init__(self, code: str, text: str, example: str = "") -> None:
        self.code, self.text, self.example = code, text, example
        self.parts: list[str | int] = []

    def path(self, pattern: bool = False) -> str:
        out = ""
        for part in reversed(self.parts):
            if isinstance(part, int):
                out += "[]" if pattern else f"[{part}]"
            else:
                out += f".{part}" if out else part
        return out

    def message(self) -> str:
        return f"{self.text}{self.example}"


def _json_type(value: Any) -> str:
    """What the value is, in JSON's words (bool first: it is an int to Python)."""
    for kind, name in ((type(None), "null"), (bool, "a boolean"), (int | float, "a number"),
                       (str, "a string"), (Mapping, "an object"), (list | tuple, "a list")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _wrong(kind: str, value: Any) -> Problem:
    shown = ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = repr(value)
        shown = f" ({text[:40]}…)" if len(text) > 40 else f" ({text})"
    return Problem(WRONG_TYPE, f"expected {_EXPECTED.get(kind, kind)}, got {_json_type(value)}",
                   shown)


def _scalar_ok(kind: str, value: Any) -> bool:
    """The slow path, after the exact-type test failed: subclasses (a StrEnum, an IntEnum),
    and timestamps as ISO strings."""
    if kind == "timestamp" and isinstance(value, str):
        try:
            _from_iso(value)
        except ValueError:
            return False
        return True
    if kind == "boolean" or isinstance(value, bool):
        return kind == "boolean" and isinstance(value, bool)
    return isinstance(value, _LOOSE.get(kind, str))


class Validator:
    """A compiled shape: ``check(value)`` returns the problems, or None when it is valid."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, value: Any) -> list[Problem] | None:
        raise NotImplementedError


class _Any(Validator):
    """A document type: any JSON value is valid."""

    __slots__ = ()

    def check(self, value: Any) -> list[Problem] | None:
        return None


class _Scalar(Validator):
    __slots__ = ("allowed", "kind")

    def __init__(self, name: str, kind: str) -> None:
        super().__init__(name)
        self.kind, self.allowed = kind, _SCALARS[kind]

    def check(self, value: Any) -> list[Problem] | None:
        if type(value) in self.allowed or _scalar_ok(self.kind, value):
            return None
        return [_wrong(self.kind, value)]


class _List(Validator):
    __slots__ = ("member",)

    def __init__(self, name: str, member: Validator | None = None) -> None:
        super().__init__(name)
        self.member: Validator = member or _Any(name)

    def check(self, value: Any) -> list[Problem] | None:
        if type(value) is not list and not isinstance(value, list | tuple):
            return [_wrong("list", value)]
        member = self.member
        if isinstance(member, _Scalar):  # list of strings (ARNs, ids): no call per item
            allowed, kind = member.allowed, member.kind
            bad = [i for i, v in enumerate(value)
                   if type(v) not in allowed and not _scalar_ok(kind, v)]
            return _at_indexes(bad, value, kind) if bad else None
        found: list[Problem] | None = None
        for i, item in enumerate(value):
            sub = member.check(item)
            if sub is not None:
                for p in sub:
                    p.parts.append(i)
                found = sub if found is None else found + sub
        return found


def _at_indexes(bad: list[int], value: Sequence[Any], kind: str) -> list[Problem]:
    out = []
    for i in bad:
        p = _wrong(kind, value[i])
        p.parts.append(i)
        out.append(p)
    return out


class _Map(Validator):
    __slots__ = ("value",)

    def __init__(self, name: str, value: Validator | None = None) -> None:
        super().__init__(name)
        self.value: Validator = value or _Any(name)

    def check(self, value: Any) -> list[Problem] | None:
        if not isinstance(value, Mapping):
            return [_wrong("map", value)]
        found: list[Problem] | None = None
        for key, item in value.items():
            sub = self.value.check(item)
            if sub is not None:
                for p in sub:
                    p.parts.append(str(key))
                found = sub if found is None else found + sub
        return found


class _Struct(Validator):
    """Scalar members in one dict (checked inline), nested members in another."""

    __slots__ = ("_hints", "kinds", "nested", "scalars")

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.scalars: dict[str, frozenset[type]] = {}
        self.kinds: dict[str, str] = {}
        self.nested: dict[str, Validator] = {}
        self._hints: dict[str, str] = {}

    def add(self, key: str, member: Validator) -> None:
        if isinstance(member, _Scalar):
            self.scalars[key], self.kinds[key] = member.allowed, member.kind
        else:
            self.nested[key] = member

    def extended(self, name: str, extra: Mapping[str, Validator]) -> _Struct:
        """This structure plus bundle-specific members (CONTRACTS §1)."""
        out = _Struct(name)
        out.scalars, out.kinds = dict(self.scalars), dict(self.kinds)
        out.nested = dict(self.nested)
        for key, member in extra.items():
            out.add(key, member)
        return out

    def check(self, value: Any) -> list[Problem] | None:
        if type(value) is not dict and not isinstance(value, Mapping):
            return [_wrong("structure", value)]
        scalar, nested = self.scalars.get, self.nested.get  # bound once: the hot loop
        found: list[Problem] | None = None
        for key, val in value.items():
            allowed = scalar(key)
            if allowed is not None:
                if type(val) in allowed:
                    continue
                if allowed is _STAMPS and type(val) is str:  # the usual timestamp, inline
                    try:
                        _from_iso(val)
                        continue
                    except ValueError:
                        pass
                elif _scalar_ok(self.kinds[key], val):
                    continue
                sub = [_wrong(self.kinds[key], val)]
            else:
                member = nested(key)
                if member is None:
                    sub = [Problem(UNKNOWN_KEY, self._unknown(key))]
                else:
                    got = member.check(val)
                    if got is None:
                        continue
                    sub = got
            for p in sub:
                p.parts.append(key)
            found = sub if found is None else found + sub
        return found

    def _unknown(self, key: Any) -> str:
        """"unknown key (did you mean 'privileged'?)", cached: a typo repeats per item."""
        key = str(key)
        hint = self._hints.get(key)
        if hint is None:
            names = [*self.scalars, *self.nested]
            same_case = [n for n in names if n.lower() == key.lower()]
            close = same_case or difflib.get_close_matches(key, names, n=1, cutoff=0.75)
            hint = (f"unknown key (did you mean {close[0]!r}?)" if close
                    else f"unknown key (not in {self.name})")
            self._hints[key] = hint
        return hint


@cache
def _model(service: str) -> Any:
    """botocore's service model, loaded from the installed package (no network)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@cache
def validator(service: str, shape_name: str) -> Validator:
    """The compiled validator of one botocore shape (compiled once per process): from the
    exported shapes when they have it, else from botocore's model."""
    table = _exported().get(service)
    if table is not None and shape_name in table:
        return _compile_exported(table, shape_name, {})
    return _compile(_model(service).shape_for(shape_name), {})


#: The shapes SHAPES reaches, exported from botocore's models by ``python -m
#: checker.shapes`` (tests/test_shapes.py asserts the file equals what the installed
#: botocore gives). Every analysis validates its bundle: reading these 90 KB instead of
#: importing botocore and loading eight service models (about 0.5 s and 40 MB) is most of
#: what an analysis of a small bundle pays beyond start-up.
EXPORTED = "data/shapes.json"


@cache
def _exported() -> dict[str, dict[str, Any]]:
    import json
    from importlib import resources

    try:
        text = resources.files("checker").joinpath(EXPORTED).read_text(encoding="utf-8")
    except OSError:  # not installed with the package: botocore's models answer
        return {}
    value: dict[str, dict[str, Any]] = json.loads(text)
    return value


def _compile_exported(table: Mapping[str, Any], name: str,
                      done: dict[str, Validator]) -> Validator:
    """_compile over an exported table: a structure is {member: shape}, a list or map
    ["list" | "map", shape], a document "document", a scalar its botocore type."""
    if name in done:
        return done[name]
    spec = table[name]
    if isinstance(spec, dict):
        struct = _Struct(name)
        done[name] = struct
        for key, member in spec.items():
            struct.add(key, _compile_exported(table, member, done))
        return struct
    if isinstance(spec, list):
        holder: _List | _Map = _List(name) if spec[0] == "list" else _Map(name)
        done[name] = holder
        inner = _compile_exported(table, spec[1], done)
        if isinstance(holder, _List):
            holder.member = inner
        else:
            holder.value = inner
        return holder
    return _Scalar(name, spec) if spec in _SCALARS else _Any(name)


def export() -> dict[str, dict[str, Any]]:
    """Every shape SHAPES reaches, per service, from the installed botocore (what
    EXPORTED holds). Members keep botocore's order: a typo's suggestion depends on it."""
    out: dict[str, dict[str, Any]] = {}
    for service in sorted({s for s, _ in SHAPES.values()}):
        model, table = _model(service), dict[str, Any]()

        def visit(shape: Any, table: dict[str, Any] = table) -> None:
            if shape.name in table:
                return
            kind = shape.type_name
            if kind == "structure" and getattr(shape, "is_document_type", False):
                table[shape.name] = "document"
            elif kind == "structure":
                table[shape.name] = {k: m.name for k, m in shape.members.items()}
                for member in shape.members.values():
                    visit(member)
            elif kind in ("list", "map"):
                inner = shape.member if kind == "list" else shape.value
                table[shape.name] = [kind, inner.name]
                visit(inner)
            else:
                table[shape.name] = kind

        for svc, name in SHAPES.values():
            if svc == service:
                visit(model.shape_for(name))
        out[service] = dict(sorted(table.items()))
    return out


def exported_text() -> str:
    """EXPORTED's content for the installed botocore: one shape a line, diffable."""
    import json

    lines = []
    for service, table in export().items():
        lines += [f"{json.dumps(service)}: {{"]
        lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in table.items()]
        lines[-1] = lines[-1].rstrip(",")
        lines += ["},"]
    lines[-1] = "}"
    return "{\n" + "\n".join(lines) + "\n}\n"


def _compile(shape: Any, done: dict[str, Validator]) -> Validator:
    """Compile a botocore shape; `done` ties recursive shapes to their one validator."""
    name, kind = shape.name, shape.type_name
    if name in done:
        return done[name]
    if kind == "structure":
        if getattr(shape, "is_document_type", False):
            return _Any(name)
        struct = _Struct(name)
        done[name] = struct
        for key, member in shape.members.items():
            struct.add(key, _compile(member, done))
        return struct
    if kind == "list":
        items = _List(name)
        done[name] = items
        items.member = _compile(shape.member, done)
        return items
    if kind == "map":
        pairs = _Map(name)
        done[name] = pairs
        pairs.value = _compile(shape.value, done)
        return pairs
    return _Scalar(name, kind) if kind in _SCALARS else _Any(name)


@cache
def item_validator(collection: str) -> Validator | None:
    """The validator of one item of `collection`, with CONTRACTS §1's additions; None for a
    collection that is not shape-checked."""
    if collection not in SHAPES:
        return None
    base = validator(*SHAPES[collection])
    if collection == "target_health":
        wrapper = _Struct("the bundle's target_health item")
        wrapper.add("TargetGroupArn", _Scalar("TargetGroupArn", "string"))
        wrapper.add("TargetHealthDescriptions", _List("TargetHealthDescriptions", base))
        return wrapper
    if collection == "load_balancer_attributes":
        wrapper = _Struct("the bundle's load_balancer_attributes item")
        wrapper.add("LoadBalancerArn", _Scalar("LoadBalancerArn", "string"))
        wrapper.add("Attributes", _List("Attributes", base))
        return wrapper
    if collection == "vpcs" and isinstance(base, _Struct):
        attributes = _Struct("the bundle's VPC Attributes")
        for key in ("EnableDnsSupport", "EnableDnsHostnames"):
            attributes.add(key, _Scalar(key, "boolean"))
        return base.extended("Vpc", {"Attributes": attributes})
    return base


def problems(service: str, shape_name: str, value: Any) -> list[str]:
    """`path: message` for every problem of `value` as botocore's `shape_name` (test
    builders assert this is empty)."""
    found = validator(service, shape_name).check(value) or []
    return [f"{shape_name}{'.' if p.parts and isinstance(p.parts[-1], str) else ''}"
            f"{p.path()}: {p.message()}" for p in found]


def _label(collection: str, item: Mapping[str, Any]) -> str:
    value = item.get(LABELS.get(collection, ""))
    if not isinstance(value, str) or not value:
        return ""
    if collection == "target_health" and "targetgroup/" in value:
        return f" ({value.split('targetgroup/', 1)[1].split('/', 1)[0]})"
    return f" ({value.rsplit('/', 1)[-1]})"


def validate_bundle(bundle: Mapping[str, Any],
                    per_collection: int = PER_COLLECTION) -> list[dict[str, Any]]:
    """Warnings for every shape-checked collection of the bundle, as report `errors`
    entries with ``"level": "warning"`` (Facts ignores those: a warning is not a failed
    collection). Identical problems are aggregated; at most `per_collection` per collection,
    then one "… and N more" entry."""
    resources = bundle.get("resources")
    if not isinstance(resources, Mapping):
        return []
    out: list[dict[str, Any]] = []
    for collection, items in resources.items():
        check = item_validator(str(collection))
        if check is None or not isinstance(items, list):
            continue
        out += _collection_warnings(str(collection), items, check, per_collection)
    return out


def _collection_warnings(collection: str, items: list[Any], check: Validator,
                         per_collection: int) -> list[dict[str, Any]]:
    """One collection: problems grouped by (path pattern, code, message), in bundle order."""
    groups: dict[tuple[str, str, str], list[Any]] = {}  # → [code, first message, count]
    for index, item in enumerate(items):
        found = check.check(item)
        if not found:
            continue
        label = _label(collection, item) if isinstance(item, Mapping) else ""
        for p in found:
            key = (p.path(pattern=True), p.code, p.text)
            group = groups.get(key)
            if group is None:
                where = p.path()
                at = f"{collection}[{index}]{label}" + (f": {where}" if where else "")
                groups[key] = [p.code, f"{at}: {p.message()}", 1]
            else:
                group[2] += 1
    out = []
    for (pattern, _, _), (code, message, count) in list(groups.items())[:per_collection]:
        if count > 1:
            message += f" (and {count - 1} more at {collection}[].{pattern})" if pattern else \
                f" (and {count - 1} more items)"
        out.append(_entry(collection, code, message, count))
    hidden = list(groups.values())[per_collection:]
    if hidden:
        total = sum(g[2] for g in hidden)
        out.append(_entry(collection, MORE, f"… and {len(hidden)} more kinds of problem in "
                          f"{collection} ({total} in all), not listed", total))
    return out


def _entry(collection: str, code: str, message: str, count: int) -> dict[str, Any]:
    return {"collection": collection, "operation": OPERATION, "code": code,
            "message": message, "level": "warning", "count": count}


if __name__ == "__main__":  # python -m checker.shapes: rewrite EXPORTED after a botocore upgrade
    from pathlib import Path

    Path(__file__).with_name("data").joinpath("shapes.json").write_text(exported_text(),
                                                                        encoding="utf-8")
