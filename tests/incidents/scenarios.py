"""The incident scenarios: each breaks one thing in the healthy cluster, realistically, and
names the diagnosis an engineer should see first and the checks that must fire.

A scenario is a function `(Cluster) -> None` registered with `@scenario(name, expected,
*fires(...))`; mixed incidents (two causes at once) compose two of them with `mixed()`.
`Cluster` is the editing API over a `healthy_cluster()` bundle: look things up, deploy a new
task definition revision, add stopped tasks with the reasons ECS writes, post service
events, replace metric series. The scenarios themselves live in tests/incidents/s_*.py,
grouped by area; `all_scenarios()` imports them in a fixed order.
"""

from __future__ import annotations

import copy
import importlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.model import Report, Status, short_name
from checker.playbook import Playbook, Ref
from tests import builders as b
from tests import builders_metrics as bm
from tests import builders_network as bn
from tests.incidents import _metrics as m
from tests.incidents._infra import target_of
from tests.incidents.healthy import (
    CLUSTER,
    SPEC,
    Ids,
    Item,
    Spec,
    deployment,
    ec2_task,
    event,
    fargate_task,
    healthy_cluster,
    sync_hosts,
)

MODULES = ("s_cpu", "s_memory", "s_start", "s_pending", "s_network", "s_lb", "s_hygiene",
           "s_capacity2", "s_logs", "s_mixed", "s_history", "s_precision", "s_commands")


# -- editing the cluster -------------------------------------------------------------------
class Cluster:
    """A healthy cluster being broken; `bundle` is the bundle v1 it edits in place."""

    def __init__(self, seed: int = 7) -> None:
        self.bundle = healthy_cluster(seed)
        self.res: dict[str, list[Item]] = self.bundle["resources"]
        self.ids = Ids(seed + 101)
        self.rng = random.Random(seed + 202)

    def seed(self) -> int:
        return self.rng.randrange(10**6)

    # lookups
    def service(self, name: str) -> Item:
        return next(s for s in self.res["services"] if s["serviceName"] == name)

    def td(self, name: str) -> Item:
        arn = self.service(name)["taskDefinition"]
        return next(t for t in self.res["task_definitions"] if t["taskDefinitionArn"] == arn)

    def ctr(self, name: str) -> Item:
        """The service's main container definition (current revision)."""
        return next(c for c in self.td(name)["containerDefinitions"] if c["name"] == name)

    def tasks(self, name: str, status: str | None = "RUNNING") -> list[Item]:
        return [t for t in self.res["tasks"] if t["group"] == f"service:{name}"
                and (status is None or t["lastStatus"] == status)]

    def find(self, collection: str, key: str, value: str) -> Item:
        return next(i for i in self.res[collection] if i.get(key) == value)

    # services
    def counts(self, name: str, desired: int | None = None, running: int | None = None,
               pending: int | None = None) -> None:
        svc = self.service(name)
        for key, value in (("desiredCount", desired), ("runningCount", running),
                           ("pendingCount", pending)):
            if value is not None:
                svc[key] = value
        primary = svc["deployments"][0]
        primary["desiredCount"] = svc["desiredCount"]

    def event(self, name: str, message: str, minutes_ago: float) -> None:
        svc = self.service(name)
        svc["events"].append(event(self.ids, message, minutes_ago))
        svc["events"].sort(key=lambda e: e["createdAt"], reverse=True)

    def deploy(self, name: str, minutes_ago: float, *, rollout: str = "COMPLETED",
               failed: int = 0, td: Item | None = None, **container: Any) -> Item:
        """Register the next revision of the service's task definition (container changes;
        a None value deletes the key) and deploy it. COMPLETED replaces the running tasks
        (they started at the deployment); IN_PROGRESS keeps them as the ACTIVE deployment
        while the new one has no task running."""
        spec, old = SPEC[name], self.td(name)
        new = copy.deepcopy(old)
        rev = int(old["revision"]) + 1
        new.update(revision=rev, taskDefinitionArn=b.td_arn(name, rev),
                   registeredAt=b.ago(minutes=minutes_ago + 4), **(td or {}))
        main = next(c for c in new["containerDefinitions"] if c["name"] == name)
        for key, value in container.items():
            if value is None:
                main.pop(key, None)
            else:
                main[key] = value
        self.res["task_definitions"].append(b.shaped("ecs", "TaskDefinition", new))
        svc = self.service(name)
        svc["taskDefinition"] = new["taskDefinitionArn"]
        dep = deployment(spec, rev, self.ids, minutes_ago=minutes_ago, rollout=rollout,
                         running=0 if rollout != "COMPLETED" else svc["desiredCount"],
                         failed_tasks=failed)
        dep["desiredCount"] = svc["desiredCount"]
        if rollout == "COMPLETED":
            svc["deployments"] = [dep]
            for t in self.tasks(name):
                t["taskDefinitionArn"] = new["taskDefinitionArn"]
                t["startedAt"] = b.ago(minutes=minutes_ago - 2)
                t["createdAt"] = b.ago(minutes=minutes_ago - 1)
                self._sized(t)
            for t in self.tasks(name, "STOPPED"):  # launched since: the new revision
                if t["startedAt"] > b.ago(minutes=minutes_ago):
                    t["taskDefinitionArn"] = new["taskDefinitionArn"]
            self.event(name, f"(service {name}) (deployment {dep['id']}) deployment completed.",
                       max(minutes_ago - 6, 0.5))
        else:
            previous = svc["deployments"][0]
            previous.update(status="ACTIVE")
            svc["deployments"] = [dep, previous]
        return new

    # tasks
    def run(self, name: str, where: int, started_min: float, **kw: Any) -> Item:
        """A new RUNNING task of the service (Fargate: AZ index; EC2: instance index)."""
        spec = SPEC[name]
        revision = int(self.td(name)["revision"])
        make = fargate_task if spec.fargate else ec2_task
        task = make(spec, where, self.ids, revision=revision, started_min=started_min, **kw)
        self.res["tasks"].append(self._sized(task))
        return task

    def _sized(self, task: Item) -> Item:
        """A Fargate task carries the CPU and memory of its task definition revision."""
        td = next(t for t in self.res["task_definitions"]
                  if t["taskDefinitionArn"] == task["taskDefinitionArn"])
        for key in ("cpu", "memory"):
            if key in task and td.get(key):
                task[key] = td[key]
        return task

    def waiting(self, name: str, created_min: float, status: str = "PROVISIONING") -> Item:
        """A task that was never placed (capacity provider PROVISIONING)."""
        task = self.run(name, 0, created_min, status=status)
        for key in ("startedAt", "containerInstanceArn", "attachments", "availabilityZone",
                    "connectivity"):
            task.pop(key, None)
        task["containers"][0]["lastStatus"] = "PENDING"
        task["createdAt"] = b.ago(minutes=created_min)
        return task

    def stopped(self, name: str, where: int, *, stopped_min: float, uptime_s: float | None,
                reason: str, stop_code: str = "EssentialContainerExited",
                exit_code: int | None = None, container_reason: str | None = None,
                revision: int | None = None, announce: bool = True) -> Item:
        """A STOPPED task with the texts ECS writes; `uptime_s` None = never started.
        `announce` posts the "has started 1 tasks" event ECS wrote when it launched it."""
        spec = SPEC[name]
        ctr: Item = {"name": name, "image": str(self.ctr(name)["image"]), "lastStatus": "STOPPED"}
        if exit_code is not None:
            ctr["exitCode"] = exit_code
        if container_reason:
            ctr["reason"] = container_reason
        started = stopped_min + (uptime_s or 60) / 60.0
        make = fargate_task if spec.fargate else ec2_task
        task = make(spec, where, self.ids, status="STOPPED",
                    revision=revision or int(self.td(name)["revision"]), started_min=started,
                    containers=[b.shaped("ecs", "Container", ctr)],
                    stoppedAt=b.ago(minutes=stopped_min),
                    stoppingAt=b.ago(minutes=stopped_min + 0.2),
                    executionStoppedAt=b.ago(minutes=stopped_min + 0.1))
        if uptime_s is None:
            task.pop("startedAt", None)
        task.update(stopCode=stop_code, stoppedReason=reason)
        self.res["tasks"].append(self._sized(task))
        if announce:
            self.event(name, f"(service {name}) has started 1 tasks: (task "
                       f"{task_id(task)}).", started if uptime_s else stopped_min + 0.5)
        return task

    def scale(self, name: str, desired: int, running: int, minutes: float) -> None:
        """The service's desired count changed `minutes` ago; `running` tasks run now.
        Counts, and the Container Insights series that saw it happen."""
        before = int(self.service(name)["desiredCount"])
        self.counts(name, desired=desired, running=running)
        self.put(m.insights(name, "DesiredTaskCount", m.counts(desired, ((minutes, before),))),
                 m.insights(name, "RunningTaskCount",
                            m.counts(running, ((minutes - 2, before),))),
                 m.insights(name, "PendingTaskCount",
                            m.counts(desired - running, ((minutes - 1, 0),))))

    def targets(self, name: str, states: Sequence[tuple[str, str | None, str | None]] = ()) -> None:
        """Target health of the service's target group from its running tasks; `states`
        gives (state, reason, description) for the first targets (the rest healthy)."""
        spec: Spec = SPEC[name]
        entry = self.find("target_health", "TargetGroupArn", spec.tg)
        descs = [target_of(spec, t) for t in self.tasks(name)]
        for desc, (state, reason, text) in zip(descs, states, strict=False):
            target = desc["Target"]
            desc.update(bn.target(target["Id"], state, reason, text, port=target["Port"]))
        entry["TargetHealthDescriptions"] = descs

    # metrics
    def put(self, *series: Item) -> None:
        """Replace the series with the same namespace, name, dimensions and stat."""
        metrics = self.bundle["metrics"]
        for new in series:
            key = (new["namespace"], new["name"], new["dimensions"], new["stat"])
            metrics[:] = [s for s in metrics
                          if (s["namespace"], s["name"], s["dimensions"], s["stat"]) != key]
            metrics.append(new)

    def series(self, f: Callable[[float], float], sigma: float = 0.0,
               floor: float = 0.0) -> m.Values:
        """Values over the 3 h window from f(minutes ago), with noise from the seed."""
        values: m.Values = [f(float(m.POINTS - i)) for i in range(m.POINTS)]
        return bm.noisy(values, sigma, self.seed(), floor) if sigma else values


def task_id(task: Item) -> str:
    return str(task["taskArn"]).rsplit("/", 1)[1]


def service_arn(name: str) -> str:
    return b.service_arn(CLUSTER, name)


# -- scenarios -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expect:
    """A check that must FAIL on the scenario's bundle, for `service` (short name; None:
    any subject) and with data matching `where` (a list in the data matches any element)."""

    check: str
    service: str | None = None
    where: tuple[tuple[str, Any], ...] = ()

    def describe(self) -> str:
        on = f" on {self.service}" if self.service else ""
        cond = "".join(f", {k}={v}" for k, v in self.where)
        return f"{self.check}{on}{cond}"


def fires(check: str, service: str | None = None, **where: Any) -> Expect:
    return Expect(check, service, tuple(sorted(where.items())))


Break = Callable[[Cluster], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    expected: tuple[str, ...]         # the top diagnosis, or the causes of a mixed incident
    breaks: tuple[Break, ...]
    checks: tuple[Expect, ...]
    story: str
    summary_has: tuple[str, ...] = ()  # text the expected diagnosis' summary must contain
    min_services: int = 0              # services the expected diagnosis must cover
    services: tuple[str, ...] = field(default=())  # where the expected diagnosis must be

    @property
    def mixed(self) -> bool:
        return len(self.expected) > 1

    def bundle(self, seed: int = 7) -> Item:
        cluster = Cluster(seed)
        for brk in self.breaks:
            brk(cluster)
        sync_hosts(cluster.bundle)
        return cluster.bundle


_REGISTRY: dict[str, Scenario] = {}
_BY_FUNCTION: dict[Break, Scenario] = {}


def scenario(name: str, expected: str, *checks: Expect, summary_has: tuple[str, ...] = (),
             min_services: int = 0, services: tuple[str, ...] = ()) -> Callable[[Break], Break]:
    def register(fn: Break) -> Break:
        sc = Scenario(name, (expected,), (fn,), checks, " ".join((fn.__doc__ or "").split()),
                      summary_has, min_services, services)
        assert name not in _REGISTRY, f"duplicate scenario {name}"
        _REGISTRY[name] = _BY_FUNCTION[fn] = sc
        return fn
    return register


def mixed(name: str, *parts: Break) -> None:
    """Two (or more) single incidents at once: every cause must be in the top three."""
    scs = [_BY_FUNCTION[p] for p in parts]
    assert name not in _REGISTRY, f"duplicate scenario {name}"
    _REGISTRY[name] = Scenario(
        name, tuple(s.expected[0] for s in scs), tuple(parts),
        tuple(c for s in scs for c in s.checks), " + ".join(s.name for s in scs))


def scenario_of(fn: Break) -> Scenario:
    """The scenario a registered break function defines."""
    return _BY_FUNCTION[fn]


def all_scenarios() -> list[Scenario]:
    for module in MODULES:
        importlib.import_module(f"tests.incidents.{module}")
    return list(_REGISTRY.values())


# -- explaining a miss ------------------------------------------------------------------------
def _short(resource: str) -> str:
    return short_name(resource)


def _state(report: Report, ref: Ref) -> str:
    """How a check reference fared across the bundle: its failing subjects, else counts."""
    mine = [f for f in report.findings if f.check == ref.check]
    bad = sorted({_short(f.service or f.resource) for f in mine
                  if f.status is Status.FAIL and ref.matches(f.data)})
    if bad:
        return "fail(" + ", ".join(bad[:4]) + (" …" if len(bad) > 4 else "") + ")"
    counts = Counter(f.status.value for f in mine)
    return "/".join(f"{s}×{n}" for s, n in sorted(counts.items())) or "no finding"


def explain(report: Report, playbooks: Sequence[Playbook], expected: str) -> str:
    """Why `expected` is not first: what ranked above it, or which playbook step failed
    (symptom not fired, a confirming check not failing, a rule-out that fired)."""
    lines = ["top: " + ("; ".join(
        f"#{d.rank} {d.id} ({d.severity.value}, confidence {d.confidence:.2f}, score "
        f"{d.score:g}, on {', '.join(_short(r) for r in d.resources)})"
        for d in report.diagnoses[:4]) or "no diagnosis")]
    mine = [d for d in report.diagnoses if d.id == expected]
    if mine:
        top = report.diagnoses[0]
        lines.append(f"{expected} is #{mine[0].rank} (score {mine[0].score:g}); why: "
                     + " | ".join(mine[0].why))
        if top.id != expected:
            lines.append(f"{top.id} ranks above it; why: " + " | ".join(top.why))
        return "\n".join(lines)
    hyps = [(book, h) for book in playbooks for h in book.hypotheses if h.diagnosis == expected]
    if not hyps:
        lines.append(f"{expected} not diagnosed: no playbook has a hypothesis for it")
    for book, hyp in hyps:
        fired = [r.label() for r in book.symptoms if _state(report, r).startswith("fail")]
        parts = [f"playbook {book.scenario}: symptoms fired: "
                 + (", ".join(fired) or "none of " + ", ".join(r.label() for r in book.symptoms))]
        for role in ("confirm", "confirm_any", "rule_out"):
            refs: tuple[Ref, ...] = getattr(hyp, role)
            if refs:
                parts.append(f"{role}: " + ", ".join(f"{r.label()}={_state(report, r)}"
                                                     for r in refs))
        lines.append("; ".join(parts))
    return "\n".join(lines)
