"""Free IP addresses in the tasks' subnets: every awsvpc task (Fargate, or EC2 with
awsvpc) holds one address of its subnet for as long as it lives.

A /24 subnet has 251 usable addresses, and everything in it shares them: other services'
tasks, load balancer nodes, Lambda functions, endpoints. When they run out, new tasks stop
before their containers start ("Unexpected EC2 error while attempting to Create Network
Interface …") and nothing in the task definition or the cluster says why. A rolling
deployment needs the most: with maximumPercent 200 it starts a whole second set of tasks
before stopping the old ones, so a service can run today and fail at its next deploy or
scale-out. Services that share subnets draw on the same addresses: each may fit alone while
their deployments or scale-outs together do not (a release of them all, a traffic peak that
scales them all), so each service is judged alone and then with its pool.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from checker.facts import Facts, Item, arn_name, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.labels import service_label
from checks.lib.values import int_or_none
from checks.service.fields import services

_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html"
#: ECS's default maximumPercent for a rolling deployment.
DEFAULT_MAX_PERCENT = 200


@dataclass(frozen=True, slots=True)
class Demand:
    """How many new addresses the service needs: now, at its next deployment, and at its
    scaling maximum (each beyond the tasks already running, which hold theirs)."""

    running: int
    waiting: int
    deploy: int
    scale: int
    max_percent: int

    @property
    def most(self) -> int:
        return max(self.waiting, self.deploy, self.scale)


def task_subnets(svc: Item) -> list[str]:
    conf = (svc.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    return [str(s) for s in conf.get("subnets") or []]


def _scale_max(facts: Facts, svc: Item) -> int | None:
    if not facts.has("scalable_targets"):
        return None
    resource = f"service/{arn_name(str(svc.get('clusterArn', '')))}/{svc.get('serviceName')}"
    for target in objs(facts.bundle["resources"].get("scalable_targets")):
        if target.get("ResourceId") == resource and target.get("ServiceNamespace") == "ecs":
            return int_or_none(target.get("MaxCapacity"))
    return None


def demand(facts: Facts, svc: Item) -> Demand:
    """What the service asks of its subnets; once per service and analysis (every service
    of a pool asks about all the others)."""
    return facts.memo_of(svc, "capacity.subnet_demand", lambda: _demand(facts, svc))


def _demand(facts: Facts, svc: Item) -> Demand:
    desired = int_or_none(svc.get("desiredCount")) or 0
    running = int_or_none(svc.get("runningCount")) or 0
    pending = int_or_none(svc.get("pendingCount")) or 0
    held = running + pending  # a PENDING awsvpc task already has its address
    conf = svc.get("deploymentConfiguration") or {}
    max_percent = int_or_none(conf.get("maximumPercent")) or DEFAULT_MAX_PERCENT
    peak = math.floor(desired * max_percent / 100)
    scale_max = _scale_max(facts, svc)
    return Demand(running=held, waiting=max(desired - held, 0),
                  deploy=max(peak - held, 0),
                  scale=max((scale_max or 0) - held, 0), max_percent=max_percent)


def _subnet_rows(facts: Facts, ids: list[str]) -> tuple[list[tuple[str, str, int]], list[str]]:
    """(subnet, AZ, free addresses) for the subnets the bundle has, and those it has not."""
    rows, missing = [], []
    for sid in ids:
        sub = facts.lookup("subnets", "SubnetId", sid)
        free = int_or_none(sub.get("AvailableIpAddressCount")) if sub else None
        if sub is None or free is None:
            missing.append(sid)
        else:
            rows.append((sid, str(sub.get("AvailabilityZone") or "?"), free))
    return rows, missing


@dataclass(frozen=True, slots=True)
class Pool:
    """Subnets that services share, directly or through one another (A and B in subnet-1,
    B and C in subnet-2): one set of free addresses that all their new tasks draw from."""

    subnets: tuple[str, ...]
    services: tuple[Item, ...]


def pools(svcs: list[Item]) -> dict[str, Pool]:
    """Service ARN → the pool its subnets belong to (connected by shared subnets)."""
    parent: dict[str, str] = {}

    def root(sid: str) -> str:
        while parent.setdefault(sid, sid) != sid:
            parent[sid] = parent[parent[sid]]
            sid = parent[sid]
        return sid

    for svc in svcs:
        ids = task_subnets(svc)
        for sid in ids[1:]:
            parent[root(sid)] = root(ids[0])
        for sid in ids[:1]:
            root(sid)
    members: dict[str, list[Item]] = {}
    subnets: dict[str, set[str]] = {}
    for svc in svcs:
        key = root(task_subnets(svc)[0])
        members.setdefault(key, []).append(svc)
        subnets.setdefault(key, set()).update(task_subnets(svc))
    out: dict[str, Pool] = {}
    for key, group in members.items():
        pool = Pool(tuple(sorted(subnets[key])),
                    tuple(sorted(group, key=lambda s: str(s.get("serviceArn")))))
        out.update({str(svc.get("serviceArn")): pool for svc in group})
    return out


def _listed(rows: list[tuple[str, str, int]]) -> list[str]:
    return [f"{sid} ({az}): {n} free" for sid, az, n in rows]


#: Services of a pool named in a finding (its message and data); the rest are counted.
NAMED = 5


@dataclass(frozen=True, slots=True)
class Pooled:
    """Every service of a pool with its demand, and the pool's totals: built once per pool
    and shared by its services' findings (per service, summing the others is services²)."""

    members: list[tuple[str, str, Demand]]  # (ARN, label, demand)
    most: int
    waiting: int


@dataclass(frozen=True, slots=True)
class PoolWords:
    """The pool's side of every member's finding, worked out once per pool (per member,
    a 1,000-service pool summed, sorted and listed the same subnets 1,000 times). Shared:
    copy the lists before handing them out."""

    free: int
    listed: list[str]  # the pool's subnets with their free addresses
    names: str  # the pool's subnet ids, space-separated
    lowest: str | None  # the subnet with the fewest free addresses
    head: frozenset[str]  # ARNs of the first NAMED members
    #: others(NAMED) and named() of any member not in `head`: the first NAMED members
    shared_with: list[str]
    named: list[str]


def pool_words(pool: Pooled, rows: list[tuple[str, str, int]]) -> PoolWords:
    lowest = sorted(rows, key=lambda r: (r[2], r[0]))
    head = pool.members[:NAMED]
    rest = len(pool.members) - 1 - NAMED
    shown = [f"{label} ({d.most} more)" for _, label, d in head]
    return PoolWords(sum(n for _, _, n in rows), _listed(rows),
                     " ".join(sorted(r[0] for r in rows)), lowest[0][0] if lowest else None,
                     frozenset(member for member, _, _ in head),
                     [label for _, label, _ in head],
                     [*shown, f"{rest} other service(s)"] if rest > 0 else shown)


@dataclass(frozen=True, slots=True)
class Shared:
    """What the other services of a pool need beside this one, and the pool's addresses."""

    pool: Pooled
    arn: str  # the service judged
    rows: list[tuple[str, str, int]]  # the pool's subnets
    words: PoolWords  # the pool's side of data()

    @property
    def free(self) -> int:
        return self.words.free

    @property
    def count(self) -> int:
        """How many other services share the pool."""
        return len(self.pool.members) - 1

    def others(self, n: int) -> list[tuple[str, Demand]]:
        """The first ``n`` other services (label, demand)."""
        return list(islice(((label, d) for member, label, d in self.pool.members
                            if member != self.arn), n))

    def named(self) -> list[str]:
        """The first :data:`NAMED` others by name, then how many more: a pool of 1,000
        services must not put 999 names in each of its 1,000 findings."""
        if self.arn not in self.words.head:
            return list(self.words.named)
        shown = [f"{label} ({d.most} more)" for label, d in self.others(NAMED)]
        rest = self.count - NAMED
        return [*shown, f"{rest} other service(s)"] if rest > 0 else shown

    def data(self) -> dict[str, Any]:
        """The pool's totals include the judged service's own demand."""
        words = self.words
        shared_with = list(words.shared_with) if self.arn not in words.head else [
            label for label, _ in self.others(NAMED)]
        return {"shared_with": shared_with,
                "shared_count": self.count,
                "shared_need": self.pool.most, "shared_waiting": self.pool.waiting,
                "pool": words.names,
                "pool_free": words.free, "pool_subnets": list(words.listed),
                "shared_needs": self.named(), "pool_lowest": words.lowest}


def _verdict(label: str, arn: str, need: Demand, rows: list[tuple[str, str, int]],
             shared: Shared | None = None) -> Result:
    free = sum(n for _, _, n in rows)
    listed = _listed(rows)
    lowest = min(rows, key=lambda r: (r[2], r[0]))[0]
    data: dict[str, Any] = {
        "free_ips": free, "need": need.most, "waiting": need.waiting,
        "deploy_need": need.deploy, "scale_need": need.scale, "max_percent": need.max_percent,
        "subnets": listed, "subnet": lowest}
    where = f"its subnets have {free} free address(es) ({'; '.join(listed)})"
    pooled = shared is not None and shared.count > 0
    if shared is not None and pooled:
        data.update(shared.data())
        where += f", shared with {', '.join(shared.named())}"
    if need.waiting and free < need.waiting:
        return failed(arn, f"service {label}: {need.waiting} task(s) wait to start and {where}: "
                      "awsvpc tasks cannot get an address", service=arn, kind="blocked",
                      affected_tasks=need.waiting, **data)
    if shared is not None and pooled and need.waiting \
            and shared.free < data["shared_waiting"]:
        return _pooled(label, arn, need, shared, data)
    if free < need.most:
        why = (f"a deployment at maximumPercent {need.max_percent} starts {need.deploy} "
               f"more task(s)" if need.deploy >= need.scale else
               f"scaling to its maximum adds {need.scale} task(s)")
        return failed(arn, f"service {label}: {why} and {where}: the next deployment or "
                      "scale-out will stall", service=arn, kind="short",
                      severity=Severity.MEDIUM, affected_tasks=need.most - free, **data)
    if shared is not None and pooled:
        return _pooled(label, arn, need, shared, data)
    return passed(arn, f"service {label}: {where}, enough for the {need.most} more task(s) a "
                  "deployment or scale-out needs", service=arn, **data)


def _pooled(label: str, arn: str, need: Demand, shared: Shared,
            data: dict[str, Any]) -> Result:
    """This service judged with every service of its pool, whose new tasks draw on the same
    addresses: their waiting tasks first (blocked), then their next deployments' or
    scale-outs' needs added up (shared)."""
    others = ", ".join(shared.named())
    pool = (f"its subnets are shared with {others}: {shared.free} free address(es) in "
            f"{', '.join(data['pool_subnets'])}")
    waiting, total = data["shared_waiting"], data["shared_need"]
    data = {**data, "free_ips": shared.free, "subnets": data["pool_subnets"],
            "subnet": data["pool_lowest"]}
    if need.waiting and shared.free < waiting:
        return failed(arn, f"service {label}: {need.waiting} task(s) wait to start and {pool}, "
                      f"while {waiting} task(s) of those services wait for one: not every "
                      "awsvpc task can get an address", service=arn, kind="blocked",
                      affected_tasks=min(need.waiting, waiting - shared.free), **data)
    if need.most and shared.free < total:
        return failed(arn, f"service {label}: needs {need.most} more address(es) for its next "
                      f"deployment or scale-out, and {pool}; together they need {total}: "
                      "deployments or scale-outs at the same time (a release, a traffic peak "
                      "scaling them all) will stall", service=arn, kind="shared",
                      severity=Severity.MEDIUM,
                      affected_tasks=min(need.most, total - shared.free), **data)
    return passed(arn, f"service {label}: {pool}, enough for the {total} more task(s) their "
                  f"deployments or scale-outs need together ({need.most} of them its own)",
                  service=arn, **data)


@check(id="task-subnets-free-ips", area="capacity", severity=Severity.HIGH,
       title="Task subnets have too few free IP addresses for the service's awsvpc tasks",
       needs=("services", "subnets"), docs=_DOCS,
       emits={"affected_tasks": None, "deploy_need": None, "free_ips": None,
              "kind": ("blocked", "short", "shared"), "max_percent": None, "missing": None,
              "need": None, "pool": None, "pool_free": None, "pool_lowest": None,
              "pool_subnets": None, "scale_need": None, "shared_need": None,
              "shared_needs": None, "shared_waiting": None, "shared_with": None,
              "shared_count": None,
              "subnet": None, "subnets": None, "waiting": None})
def task_subnets_free_ips(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Compares the subnets' AvailableIpAddressCount with the addresses the service needs
    beyond those its tasks hold: the tasks waiting now (fail: they cannot start), and the
    extra tasks of a deployment (desired × maximumPercent) or of a scale-out to the
    scalable target's maximum (fail at medium: the next one will stall). A service that
    fits alone is judged again with every service sharing its subnets (through one another:
    a pool): their waiting tasks and their deployments' or scale-outs' needs added up
    against the pool's free addresses (kind `shared` when only the sum does not fit).
    Services without awsvpc subnets are skipped; a subnet missing from the bundle is
    unknown."""
    active = [svc for svc in services(facts)
              if task_subnets(svc) and svc.get("status") in (None, "ACTIVE")]
    by_pool = pools(active)
    for svc in services(facts):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        ids = task_subnets(svc)
        if not ids or svc.get("status") not in (None, "ACTIVE"):
            yield skipped(arn, f"service {label}: no awsvpc subnets (bridge or host "
                          "networking, or inactive)", service=arn)
            continue
        rows, missing = _subnet_rows(facts, ids)
        if missing:
            yield unknown(arn, f"service {label}: subnet(s) {', '.join(missing)} not in the "
                          "bundle (free addresses unknown)", service=arn, missing=missing)
            continue
        yield _verdict(label, arn, demand(facts, svc), rows, _shared(facts, by_pool[arn], arn))


def _shared(facts: Facts, pool: Pool, arn: str) -> Shared | None:
    """The pool of ``arn`` with the others' demands; None when a subnet of the pool is
    missing from the bundle (the service is then judged alone, on its own subnets)."""
    view = facts.memo_of(pool, "capacity.pool_view", lambda: _pool_view(facts, pool))
    return None if view is None else Shared(view[0], arn, view[1], view[2])


def _pool_view(facts: Facts, pool: Pool) -> tuple[Pooled, list[tuple[str, str, int]],
                                                  PoolWords] | None:
    """The pool's demand, subnets and words, once per pool (every member asks); None when a
    subnet of the pool is missing from the bundle."""
    rows, missing = _subnet_rows(facts, list(pool.subnets))
    if missing:
        return None
    pooled = facts.memo_of(pool, "capacity.pool_members", lambda: _pooled_demand(facts, pool))
    return pooled, rows, pool_words(pooled, rows)


def _pooled_demand(facts: Facts, pool: Pool) -> Pooled:
    members = [(str(s.get("serviceArn")), service_label(s), demand(facts, s))
               for s in pool.services]
    return Pooled(members, sum(d.most for _, _, d in members),
                  sum(d.waiting for _, _, d in members))
