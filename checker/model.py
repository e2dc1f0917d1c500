"""The typed result model shared by checks, playbooks, ranking and renderers.

Renderers import only this module: everything they print is on a Report. The JSON shape
produced by `Report.to_dict()` is report v1 (CONTRACTS.md §2); fields may be added, never
renamed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

from checker import gcpause
from checker.ranking import DEFAULT as _RANKING

# EC2-style ids (i-…, sg-…, subnet-…, nat-…) are unique on their own; drop the type prefix.
_EC2_ID = re.compile(r"^[a-z]+(?:-[a-z]+)*-[0-9a-f]{8,17}$")


def short_name(resource: str) -> str:
    """A resource name an engineer recognises: `…:service/prod/web` → `prod/web`.

    Full ARNs repeat account and region already in the header; the resource part is what
    tells two things apart. Services (the usual subject) lose their `service/` prefix;
    other resources keep their type (`task/prod/…`) unless their id is self-describing.
    """
    name = resource.split(":", 5)[5] if resource.startswith("arn:") and resource.count(
        ":") >= 5 else resource
    if name.startswith("service/"):
        return name[len("service/"):]
    last = name.rsplit("/", 1)[-1]
    return last if _EC2_ID.match(last) else name


_C = TypeVar("_C")


@dataclass_transform(frozen_default=True)
def _many(cls: type[_C]) -> type[_C]:
    """A slotted dataclass for the value objects made by the hundred thousand (a result
    and a finding per check and resource, evidence per diagnosis): frozen to the type
    checker, which rejects any assignment to a field, but built by a plain ``__init__``.
    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``,
    4-5× slower; on a 1,000-service account that was half a second of the analysis.
    None of them is hashed (their `data` is a dict), so nothing relies on the hash a
    frozen dataclass would generate."""
    return dataclass(slots=True)(cls)


#: The `level` of a report `errors` entry that is a warning about the bundle, not a
#: collection that failed.
WARNING = "warning"


class Severity(StrEnum):
    """Ordered by urgency; `weight` feeds the ranking formula (docs/ranking.md)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def weight(self) -> float:
        """The default table's weight (checker.ranking), kept here for code that ranks
        without an injected table; the ranking itself reads its own table's."""
        return _RANKING.severity(self)

    @property
    def order(self) -> int:
        """0 for critical … 4 for info: a sort key where smaller is more urgent."""
        return list(Severity).index(self)

    def at_least(self, other: Severity) -> bool:
        return self.order <= other.order


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


@_many
class Result:
    """What a check body yields; the runner stamps check id and severity onto it.

    `service` is the ARN of the ECS service the result is about (when there is one): the
    playbook walk correlates evidence per service through it.
    """

    status: Status
    resource: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    service: str | None = None
    severity: Severity | None = None
    #: The JSON path, relative to the task definition (as RegisterTaskDefinition takes it),
    #: of the field the result is about: `containerDefinitions[2].privileged`, `cpu`, or ""
    #: for the task definition as a whole. None: not about a task definition field.
    path: str | None = None


def passed(resource: str, message: str, *, service: str | None = None,
           path: str | None = None, **data: Any) -> Result:
    return Result(Status.PASS, resource, message, data, service, path=path)


def failed(
    resource: str,
    message: str,
    *,
    service: str | None = None,
    severity: Severity | None = None,
    path: str | None = None,
    **data: Any,
) -> Result:
    return Result(Status.FAIL, resource, message, data, service, severity, path)


def unknown(resource: str, message: str, *, service: str | None = None,
            path: str | None = None, **data: Any) -> Result:
    return Result(Status.UNKNOWN, resource, message, data, service, path=path)


def skipped(resource: str, message: str, *, service: str | None = None,
            path: str | None = None, **data: Any) -> Result:
    return Result(Status.SKIPPED, resource, message, data, service, path=path)


@_many
class Finding:
    check: str
    status: Status
    severity: Severity
    resource: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    service: str | None = None
    #: The result's JSON path in its task definition (Result.path). Not in `to_dict()`:
    #: report v1 is a stable contract (scan reports stay byte-identical), and where a path
    #: means something to a reader — a file the gate was given — the gate puts it in the
    #: data as a path and line in that file (`json_path`, `line`).
    path: str | None = None
    #: The account and Region the finding was made in: set by a fleet scan (checker.fleet),
    #: which merges many targets into one report; absent from `to_dict()` when None, so a
    #: single-account report stays byte-identical.
    account: str | None = None
    region: str | None = None

    def sort_key(self) -> tuple[str, str, str]:
        return (self.check, self.resource, self.message)

    def to_dict(self) -> dict[str, Any]:
        # `_value_`, the member's value as stored: `.value` is a Python-level property,
        # read twice for each of a large account's 130,000 findings
        out: dict[str, Any] = {
            "check": self.check,
            "status": self.status._value_,
            "severity": self.severity._value_,
            "resource": self.resource,
            "message": self.message,
            "data": dict(self.data),
        }
        if self.service:
            out["service"] = self.service
        if self.account is not None or self.region is not None:
            out.update(_where(self.account, self.region))
        return out


def _where(account: str | None, region: str | None) -> dict[str, str]:
    """The `account`/`region` keys of a fleet report's items; none in a single account's."""
    out: dict[str, str] = {}
    if account is not None:
        out["account"] = account
    if region is not None:
        out["region"] = region
    return out


@dataclass(frozen=True, slots=True)
class Remediation:
    step: str
    command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step}
        if self.command:
            out["command"] = self.command
        return out


@_many
class Evidence:
    """A finding as it supports (or could not check) a diagnosis.

    `role` says why it is here: `symptom`, `confirm`, `support`, `contradict` (lowered the
    confidence), or `missing` for evidence that was `unknown` ("could not check: needs X").
    """

    check: str
    status: Status
    resource: str
    message: str
    role: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status._value_,  # as in Finding.to_dict
            "resource": self.resource,
            "message": self.message,
            "role": self.role,
            "data": dict(self.data),
        }


#: Diagnosis `status` (CONTRACTS.md §5): going on, or over since a completed fix.
ACTIVE, RESOLVED = "active", "resolved"


@dataclass(frozen=True, slots=True)
class Trigger:
    """The change that most plausibly started a diagnosis (checker/past/reasoning.py):
    when, who (`user/ops-admin`, `assumed-role/<role>/<session>`), what, to which
    resource, seen where (`cloudtrail` or `deployment`), and the command undoing it."""

    time: str
    actor: str
    event: str
    resource: str
    source: str
    revert: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "actor": self.actor, "event": self.event,
                "resource": self.resource, "source": self.source, "revert": self.revert}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One moment of the report's timeline; `kind` is change, deployment, stopped-task,
    service-event, alarm or log, and `summary` is cleaned AWS text (checker/past)."""

    time: str
    kind: str
    resource: str
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "kind": self.kind, "resource": self.resource,
                "summary": self.summary}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    id: str
    title: str
    scenario: str
    severity: Severity
    confidence: float
    score: float
    resources: tuple[str, ...]
    summary: str
    evidence: tuple[Evidence, ...]
    remediation: tuple[Remediation, ...]
    references: tuple[str, ...]
    why: tuple[str, ...] = ()
    impact: float = 1.0
    rank: int = 0
    #: other diagnoses this cause accounts for ("image-pull-failure on prod/payments")
    explains: tuple[str, ...] = ()
    #: the diagnoses that account for this one
    explained_by: tuple[str, ...] = ()
    #: ACTIVE, or RESOLVED when every failure behind it predates a completed fix
    status: str = ACTIVE
    #: ISO time of the earliest failure evidence behind it, None when nothing is dated
    onset: str | None = None
    trigger: Trigger | None = None
    #: The account and Region it was diagnosed in (a fleet scan, checker.fleet); absent
    #: from `to_dict()` when None (a single-account report is unchanged).
    account: str | None = None
    region: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.id,
            **_where(self.account, self.region),
            "title": self.title,
            "scenario": self.scenario,
            "severity": self.severity.value,
            "confidence": round(self.confidence, 2),
            "score": round(self.score, 2),
            "impact": round(self.impact, 2),
            "status": self.status,
            "onset": self.onset,
            "trigger": self.trigger.to_dict() if self.trigger else None,
            "resources": list(self.resources),
            "summary": self.summary,
            "why": list(self.why),
            "explains": list(self.explains),
            "explained_by": list(self.explained_by),
            "evidence": [e.to_dict() for e in self.evidence],
            "remediation": [r.to_dict() for r in self.remediation],
            "references": list(self.references),
        }


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """What a renderer may say about a check that ran (SARIF rules, JUnit test cases):
    filled from the registry by the engine, so renderers need nothing but the Report."""

    id: str
    title: str
    severity: Severity
    docs: str
    area: str
    description: str = ""


#: A finding's status, read in C (Report.status_counts).
_STATUS_OF = attrgetter("status")


@dataclass(frozen=True, slots=True)
class Report:
    generated_at: str
    account: str | None
    region: str | None
    scope: Mapping[str, Any]
    diagnoses: tuple[Diagnosis, ...]
    findings: tuple[Finding, ...]
    errors: tuple[Mapping[str, Any], ...] = ()
    #: The checks that ran, by id order. Not in `to_dict()` (report v1 unchanged): the
    #: machine formats that describe rules (SARIF, JUnit) read it.
    checks: tuple[CheckInfo, ...] = ()
    #: Changes, deployments, stopped tasks, events, alarms and log lines around the
    #: diagnoses' onsets, ascending and bounded (checker/past/timeline.py).
    timeline: tuple[TimelineEntry, ...] = ()

    FORMAT = "ecsdoctor-report"
    VERSION = 1

    @property
    def highest_severity(self) -> Severity | None:
        sevs = [d.severity for d in self.diagnoses]
        return min(sevs, key=lambda s: s.order) if sevs else None

    def status_counts(self) -> dict[str, int]:
        """Findings per status, every status present, in Status order. Counted by member in
        C: `.value` is a Python-level property, and a large account has 400,000 findings."""
        counted = Counter(map(_STATUS_OF, self.findings))
        return {s.value: counted[s] for s in Status}

    @property
    def failed_collections(self) -> list[Mapping[str, Any]]:
        """`errors` entries for collections that could not be read: their checks are
        `unknown`, and `--strict` fails on them."""
        return [e for e in self.errors if e.get("level") != WARNING]

    @property
    def warnings(self) -> list[Mapping[str, Any]]:
        """`errors` entries that warn about the bundle's items (not in their AWS shape,
        checker.shapes): every format shows them, none fails a run."""
        return [e for e in self.errors if e.get("level") == WARNING]

    def failing_at_least(self, threshold: Severity) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.severity.at_least(threshold)]

    def to_dict(self) -> dict[str, Any]:
        with gcpause.paused():  # millions of small dicts: no collection walking them all
            return {key: value.batch(0, len(value)) if type(value) is ItemDicts else value
                    for key, value in self.to_dict_in_batches().items()}

    def to_dict_in_batches(self) -> dict[str, Any]:
        """`to_dict()` with its lists of items (diagnoses, timeline, findings, errors) as
        `ItemDicts`, built when sliced: the JSON renderer converts and writes a batch at a
        time, so the dictionaries of a 100,000-finding report never all exist at once. The
        one definition of the shape, which `to_dict()` completes."""
        top = self.highest_severity
        return {
            "format": self.FORMAT,
            "version": self.VERSION,
            "generated_at": self.generated_at,
            "account": self.account,
            "region": self.region,
            "scope": dict(self.scope),
            "summary": {
                "diagnoses": len(self.diagnoses),
                "highest_severity": top.value if top else None,
                "findings": self.status_counts(),
            },
            "diagnoses": ItemDicts(self.diagnoses, Diagnosis.to_dict),
            "timeline": ItemDicts(self.timeline, TimelineEntry.to_dict),
            "findings": ItemDicts(self.findings, Finding.to_dict),
            "errors": ItemDicts(self.errors, dict),
        }


@dataclass(frozen=True, slots=True)
class ItemDicts:
    """One of a report's lists in `Report.to_dict_in_batches()`: the items and the function
    that makes each one's dictionary, applied to a slice at a time."""

    items: Sequence[Any]
    convert: Callable[[Any], dict[str, Any]]

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, start: int, stop: int) -> list[dict[str, Any]]:
        """The dictionaries of items[start:stop], as `to_dict()` lists them."""
        convert = self.convert
        with gcpause.paused():  # thousands of small dicts: no collection walking them all
            return [convert(item) for item in self.items[start:stop]]
