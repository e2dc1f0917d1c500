"""How the gate's checks (checks/gate/) see a candidate: the task definition the gate was
given — the only one of the bundle — with what the gate knows around it (bundle key `gate`,
read through Facts.gate): the file it came from, the target cluster and service, and the
revision that service runs now.

Live (`--cluster`), the bundle's `services` hold the target service as it will be once it
runs the candidate (none without `--service`), and the revision it runs now is kept beside
(`gate.running`), so the revision checks can compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.errors import MissingFacts
from checker.facts import Facts, Item, arn_name, obj

#: The ECS developer guide: the gate's checks link to its pages.
DEV_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide"


@dataclass(frozen=True)
class Target:
    """The candidate and its target, for one gate run."""

    facts: Facts
    gate: Item
    td: Item

    @property
    def arn(self) -> str:
        """The candidate's synthetic ARN: `<family>:candidate` (it has no revision yet)."""
        return str(self.gate.get("task_definition"))

    @property
    def label(self) -> str:
        return f"task def {self.arn}"

    @property
    def file(self) -> str:
        return str(self.gate.get("file") or "?")

    @property
    def live(self) -> bool:
        return bool(self.gate.get("live"))

    @property
    def cluster(self) -> str | None:
        value = self.gate.get("cluster")
        return str(value) if value else None

    @property
    def service(self) -> Item | None:
        """The target service, as it will be once it runs the candidate."""
        arn = self.gate.get("service")
        if not arn or not self.facts.has("services"):
            return None
        return self.facts.service_of_arn(str(arn))

    @property
    def service_arn(self) -> str | None:
        svc = self.service
        return str(svc["serviceArn"]) if svc else None

    @property
    def service_label(self) -> str:
        svc = self.service
        if not svc:
            return "?"
        return f"{arn_name(str(svc.get('clusterArn', '')))}/{svc.get('serviceName', '?')}"

    @property
    def running(self) -> Item | None:
        """The task definition the service runs now (its primary deployment's), when it
        could be read."""
        running = self.gate.get("running")
        return obj(running) if running else None

    @property
    def running_arn(self) -> str | None:
        value = self.gate.get("running_task_definition")
        return str(value) if value else None

    @property
    def region(self) -> str:
        return str(self.facts.region or "")

    @property
    def account(self) -> str:
        return str(self.facts.account or "")


def target(facts: Facts) -> Target:
    """The candidate of a gate bundle; MissingFacts in any other bundle."""
    gate = facts.gate
    td = facts.task_definition(gate.get("task_definition"))
    if td is None:
        raise MissingFacts("task_definitions", "the candidate is not among them")
    return Target(facts, gate, td)

