"""Check specs and their discovery.

A check is a pure function decorated with `@check(...)`. The decorator only attaches a
frozen CheckSpec; `load()` walks the `checks` package and builds a fresh Registry each time
(no module-level global to patch in tests).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from checker.bundle import COLLECTIONS, GATE, METRICS, REFERENCES
from checker.errors import RegistryError
from checker.model import Finding, Result, Severity, Status

#: A value a finding's data may hold that a playbook `where:` can match.
Scalar = str | int | float | bool
#: What `emits=` accepts: data keys, or data key → the values it can take (None: any).
EmitsArg = Iterable[str] | Mapping[str, Iterable[Scalar] | None]

if TYPE_CHECKING:
    from checker.facts import Facts

_ATTR = "__ecsdoctor_check__"
AREAS = (
    "taskdef", "service", "stopped_tasks", "history", "logs", "capacity", "instances",
    "network", "metrics", "security", "ecs_exec", "gate",
)
#: What runs checks: `scan` (scan, analyze, demo, the Lambda audit) and `gate` (a task
#: definition before it is deployed). Registry.select(product) is what each one runs.
PRODUCTS = ("scan", "gate")
#: Which products run a check of each area, unless its decorator says otherwise: a task
#: definition's own checks judge a candidate as well as a running revision; the gate's
#: checks need the gate's input; every other area reads a running account.
AREA_PRODUCTS: Mapping[str, frozenset[str]] = {
    "taskdef": frozenset({"scan", "gate"}), "security": frozenset({"scan", "gate"}),
    "gate": frozenset({"gate"}),
}
SCAN_ONLY = frozenset({"scan"})
#: What `needs=` may name: bundle collections, the metrics and the gate's input.
NEEDS = frozenset(COLLECTIONS) | frozenset(REFERENCES) | {METRICS, GATE}


class Prior:
    """Read access to the findings of checks that already ran (the check's `after`)."""

    def __init__(self, findings: Mapping[str, list[Finding]]) -> None:
        self._findings = findings

    def findings(self, check_id: str) -> list[Finding]:
        return list(self._findings.get(check_id, []))

    def failed(self, check_id: str) -> list[Finding]:
        return [f for f in self.findings(check_id) if f.status is Status.FAIL]

    def failed_services(self, check_id: str) -> set[str]:
        return {f.service for f in self.failed(check_id) if f.service}


class CheckFunc(Protocol):
    def __call__(self, facts: Facts, prior: Prior) -> Iterable[Result]: ...


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    area: str
    severity: Severity
    title: str
    needs: tuple[str, ...]
    after: tuple[str, ...]
    docs: str
    func: CheckFunc = field(repr=False, compare=False)
    module: str = ""
    #: data key → the values it can take (None: any value); None: not declared.
    #: Playbooks are validated against it at load: a template placeholder or a `where:`
    #: naming a key (or value) no referenced check emits is an error, not a blank in front
    #: of a user.
    emits: Mapping[str, frozenset[Scalar] | None] | None = field(
        default=None, repr=False, compare=False)
    #: The products (PRODUCTS) that run it; by default its area's (AREA_PRODUCTS).
    products: frozenset[str] = SCAN_ONLY

    @property
    def description(self) -> str:
        """The docstring: why the check exists and what it cannot see."""
        return inspect.cleandoc(self.func.__doc__ or "")


def check(
    *,
    id: str,
    area: str,
    severity: Severity,
    title: str,
    needs: tuple[str, ...],
    docs: str,
    after: tuple[str, ...] = (),
    emits: EmitsArg | None = None,
    products: Iterable[str] | None = None,
) -> Callable[[Callable[..., Iterator[Result]]], Callable[..., Iterator[Result]]]:
    """Declare a check. Validation of the metadata happens here, at import."""

    def wrap(func: Callable[..., Iterator[Result]]) -> Callable[..., Iterator[Result]]:
        where = f"{func.__module__}.{func.__name__}"
        if area not in AREAS:
            raise RegistryError(f"{where}: unknown area {area!r}; one of {', '.join(AREAS)}")
        for need in needs:
            if need not in NEEDS:
                raise RegistryError(f"{where}: needs unknown bundle collection {need!r}")
        if not docs.startswith("https://"):
            raise RegistryError(f"{where}: docs must be an https URL to the AWS documentation")
        spec = CheckSpec(
            id=id, area=area, severity=severity, title=title, needs=tuple(needs),
            after=tuple(after), docs=docs, func=func, module=func.__module__,
            emits=_emits(where, emits), products=_products(where, area, products),
        )
        setattr(func, _ATTR, spec)
        return func

    return wrap


def _products(where: str, area: str, products: Iterable[str] | None) -> frozenset[str]:
    if products is None:
        return AREA_PRODUCTS.get(area, SCAN_ONLY)
    if isinstance(products, str):
        raise RegistryError(f"{where}: products must be a list of products, not one string")
    chosen = frozenset(products)
    unknown = sorted(chosen - set(PRODUCTS))
    if unknown or not chosen:
        raise RegistryError(f"{where}: products must be some of {', '.join(PRODUCTS)}, "
                            f"got {sorted(chosen)}")
    return chosen


def _emits(where: str, emits: EmitsArg | None) -> dict[str, frozenset[Scalar] | None] | None:
    if emits is None:
        return None
    if isinstance(emits, str):
        raise RegistryError(f"{where}: emits must be a list of data keys, not one string")
    if not isinstance(emits, Mapping):
        return {str(key): None for key in emits}
    out: dict[str, frozenset[Scalar] | None] = {}
    for key, values in emits.items():
        if isinstance(values, str):
            raise RegistryError(f"{where}: emits[{key!r}] must list values, not one string")
        out[str(key)] = None if values is None else frozenset(values)
    return out


class Registry:
    def __init__(self, specs: Iterable[CheckSpec]) -> None:
        self.specs: dict[str, CheckSpec] = {}
        for spec in specs:
            if spec.id in self.specs:
                other = self.specs[spec.id]
                raise RegistryError(
                    f"duplicate check id {spec.id!r} in {spec.module} and {other.module}"
                )
            self.specs[spec.id] = spec

    def __contains__(self, check_id: object) -> bool:
        return check_id in self.specs

    def __getitem__(self, check_id: str) -> CheckSpec:
        return self.specs[check_id]

    def __iter__(self) -> Iterator[CheckSpec]:
        return iter(sorted(self.specs.values(), key=lambda s: (AREAS.index(s.area), s.id)))

    def __len__(self) -> int:
        return len(self.specs)

    def select(self, product: str) -> Registry:
        """The checks `product` runs (CheckSpec.products)."""
        if product not in PRODUCTS:
            raise RegistryError(f"unknown product {product!r}; one of {', '.join(PRODUCTS)}")
        return Registry(s for s in self.specs.values() if product in s.products)


def specs_in(module: ModuleType) -> list[CheckSpec]:
    out: list[CheckSpec] = []
    for _, obj in sorted(vars(module).items()):
        spec: Any = getattr(obj, _ATTR, None)
        if isinstance(spec, CheckSpec) and spec.module == module.__name__:
            out.append(spec)
    return out


#: Subpackages of `checks` that hold helpers, never checks: not searched.
LIBRARY = "lib"


def check_modules(package: str = "checks") -> list[str]:
    """Every module of `package` (subpackages included, `lib` and `_private` ones left out)
    that may declare checks, in a fixed order."""
    pkg = importlib.import_module(package)
    names: list[str] = []
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        parts = info.name.split(".")[1:]
        if parts[0] == LIBRARY or any(p.startswith("_") for p in parts):
            continue
        names.append(info.name)
    return sorted(names)


def load(package: str = "checks") -> Registry:
    """Import every check module of `package` and collect the checks they declare."""
    specs: list[CheckSpec] = []
    for name in check_modules(package):
        specs.extend(specs_in(importlib.import_module(name)))
    return Registry(specs)
