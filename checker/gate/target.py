"""What a gate check looks at, and how its results become findings.

A gate check is a plain function `(Target) -> Iterator[Result]`: the candidate (validated
file), optionally the live facts of the cluster and service it goes to, and the revision that
service runs now. The runner gives it the registry runner's guarantees — MissingFacts and a
bug in the check become `unknown`, never a crash, and a check with nothing to say is
`skipped` — and stamps the check id and the severity from checker.gate.catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from checker.errors import MissingFacts
from checker.facts import Facts, Item, arn_name
from checker.gate.candidate import Candidate
from checker.gate.catalog import severity_of
from checker.model import Finding, Result, Status


@dataclass(frozen=True)
class Target:
    candidate: Candidate
    facts: Facts | None = None
    cluster: str | None = None
    service: Item | None = None

    @property
    def td(self) -> dict[str, Any]:
        return self.candidate.task_definition()

    @property
    def arn(self) -> str:
        return self.candidate.arn

    @property
    def label(self) -> str:
        return f"task def {self.candidate.arn}"

    @property
    def live(self) -> bool:
        return self.facts is not None

    @property
    def service_arn(self) -> str | None:
        return str(self.service["serviceArn"]) if self.service else None

    @property
    def service_label(self) -> str:
        if not self.service:
            return "?"
        return f"{arn_name(str(self.service.get('clusterArn', '')))}/" \
               f"{self.service.get('serviceName', '?')}"

    @property
    def running(self) -> Item | None:
        """The task definition the service runs now (its primary deployment's)."""
        if self.facts is None or self.service is None:
            return None
        return self.facts.task_definition(self.service.get("taskDefinition"))


GateCheck = Callable[[Target], Iterable[Result]]


def run(checks: Iterable[tuple[str, GateCheck]], target: Target) -> list[Finding]:
    out: list[Finding] = []
    for check_id, func in checks:
        out.extend(run_one(check_id, func, target))
    return out


def run_one(check_id: str, func: GateCheck, target: Target) -> list[Finding]:
    """Like checker.graph.run_one: never raises."""
    resource = target.arn
    try:
        results = list(func(target))
    except MissingFacts as exc:
        results = [Result(Status.UNKNOWN, resource,
                          f"could not check: needs {exc.collection} ({exc.reason})",
                          {"needs": exc.collection, "reason": exc.reason})]
    except Exception as exc:  # a gate bug must not take the verdict down with it
        results = [Result(Status.UNKNOWN, resource,
                          f"check failed internally ({type(exc).__name__}: {exc}); "
                          "please report it", {"internal_error": type(exc).__name__})]
    if not results:
        results = [Result(Status.SKIPPED, resource, "nothing to check")]
    return sorted((finding(check_id, r) for r in results), key=Finding.sort_key)


def finding(check_id: str, result: Result) -> Finding:
    return Finding(check=check_id, status=result.status,
                   severity=result.severity or severity_of(check_id), resource=result.resource,
                   message=result.message, data=dict(result.data), service=result.service)


def offline(check_ids: Iterable[str], resource: str) -> Iterator[Finding]:
    """A skipped finding per live check when no --cluster was given: the report (and the
    JUnit test cases) show what was not checked and how to get it checked."""
    for check_id in check_ids:
        yield finding(check_id, Result(
            Status.SKIPPED, resource,
            "offline: pass --cluster (and --service) to check against the live target"))
