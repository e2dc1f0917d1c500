"""ECS Exec readiness: would `aws ecs execute-command` work against this service's tasks?

The prerequisites come from the ECS Exec page (cited on the check). What the bundle cannot
show is said in every result's `not_visible`: the task role's `ssmmessages:*` permissions
(no IAM policies are collected) and the network path from the tasks to Session Manager.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, arn_name, obj, objs
from checker.model import Result, Severity, failed, passed, unknown
from checker.registry import Prior, check
from checker.roles import decisions, needed, role_arn
from checks.lib.agent_versions import dotted, is_windows, version
from checks.lib.hosts import Host, hosts
from checks.lib.knowledge import table
from checks.lib.labels import service_label
from checks.lib.taskdefs import EC2, FARGATE, containers, platform
from checks.lib.taskdefs import is_windows as td_is_windows

EXEC_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html"
FARGATE_LINUX_MINIMUM = (1, 4, 0)
NOT_VISIBLE = (
    "the task role's ssmmessages:CreateControlChannel, CreateDataChannel, OpenControlChannel "
    "and OpenDataChannel permissions (the bundle holds no IAM policies)",
    "a network path from the tasks to ssmmessages (NAT gateway or VPC endpoint)",
)


def _task_blockers(svc: Item, running: list[Item]) -> list[str]:
    """Running tasks keep the setting they started with; the agent must be RUNNING."""
    out: list[str] = []
    if svc.get("enableExecuteCommand") is not True:
        return out
    stale = [t for t in running if t.get("enableExecuteCommand") is not True]
    if stale:
        out.append(f"{len(stale)} of {len(running)} running task(s) started before "
                   "enableExecuteCommand was turned on: force a new deployment")
    down = sorted({f"{c.get('name')}: {a.get('lastStatus')}"
                   for t in running if t not in stale for c in objs(t.get("containers"))
                   for a in objs(c.get("managedAgents"))
                   if a.get("name") == "ExecuteCommandAgent" and a.get("lastStatus") != "RUNNING"})
    if down:
        out.append(f"ExecuteCommandAgent not RUNNING ({', '.join(down)})")
    return out


def _platform_blockers(facts: Facts, svc: Item, td: Item, running: list[Item]) -> list[str]:
    where = platform(td, svc)
    if where == FARGATE:
        if td_is_windows(td):
            return []
        versions = [v for t in running if (v := version(t.get("platformVersion")))]
        pv = min(versions) if versions else version(svc.get("platformVersion"))
        if pv is not None and pv < FARGATE_LINUX_MINIMUM:
            return [f"Fargate platform version {dotted(pv)} is below 1.4.0"]
        return []
    if where != EC2 or not facts.has("container_instances"):
        return []
    on = {t.get("containerInstanceArn") for t in running}
    cluster = arn_name(str(svc.get("clusterArn", "")))
    mine = [h for h in hosts(facts) if h.arn in on] or [
        h for h in hosts(facts) if h.cluster == cluster and h.usable]
    old = [text for h in mine if (text := _old_agent(facts, h))]
    return [f"ECS agent too old for ECS Exec on {', '.join(old)}"] if old else []


def _old_agent(facts: Facts, h: Host) -> str | None:
    """`i-0abc (1.49.0 < 1.50.2)` when the host's agent is below the ECS Exec floor for its
    OS, else None. Judged once per host and analysis: every service on the cluster asks
    about the same few hosts, and the attribute scan and version parsing were most of the
    check's cost on a large account."""
    def judge() -> str | None:
        floors = table("agent_versions")["exec_agent_minimum"]
        floor = version(floors["windows" if is_windows(h.ci) else "linux"])
        agent = version(obj(h.ci.get("versionInfo")).get("agentVersion"))
        if agent is not None and floor is not None and agent < floor:
            return f"{h.instance_id} ({dotted(agent)} < {dotted(floor)})"
        return None
    return facts.memo_of(h, "ecs_exec.old_agent", judge)


def _definition_blockers(td: Item) -> list[str]:
    out: list[str] = []
    readonly = [str(c.get("name")) for c in containers(td) if c.get("readonlyRootFilesystem")
                is True]
    if readonly:
        out.append(f"readonlyRootFilesystem is true on {', '.join(readonly)}: the SSM agent "
                   "must write to the container's filesystem, so ECS Exec is not supported")
    if not td.get("taskRoleArn"):
        out.append("no task role (taskRoleArn): ECS Exec needs one with ssmmessages:* "
                   "permissions")
    return out


def _recommendations(td: Item) -> list[str]:
    if td_is_windows(td):
        return []
    no_init = [str(c.get("name")) for c in containers(td)
               if obj(c.get("linuxParameters")).get("initProcessEnabled") is not True]
    return [f"initProcessEnabled is off on {', '.join(no_init)} (recommended: it reaps "
            "zombie SSM agent processes)"] if no_init else []


@check(id="ecs-exec-blocked", area="ecs_exec", severity=Severity.LOW,
       title="ECS Exec (aws ecs execute-command) would not work for the service",
       needs=("services", "task_definitions"), docs=EXEC_DOCS,
       emits=("blockers", "enabled", "not_visible", "platform", "recommendations",
              "running_tasks"))
def ecs_exec_blocked(facts: Facts, prior: Prior) -> Iterator[Result]:
    """ECS Exec is the break-glass shell during an incident (heap dumps, curl from inside
    the task); finding out mid-incident that it is off, or that the tasks predate turning
    it on, costs a redeploy at the worst moment. Lists every blocker at once: the task
    flags, platform version or agent version, read-only root filesystem and the task role
    (whose permissions cannot be seen offline). A service with ECS Exec switched off
    passes: that is a choice, and container-root-filesystem-writable then judges the root
    filesystem alone, so the two never fail one container over the same setting."""
    for svc in sorted(facts.services, key=lambda s: str(s.get("serviceArn"))):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        td = facts.task_definition(svc.get("taskDefinition"))
        if td is None:
            yield unknown(arn, f"service {label}: task definition not in the bundle",
                          service=arn)
            continue
        running = facts.tasks_of_service(svc, "RUNNING") if facts.has("tasks") else []
        off = svc.get("enableExecuteCommand") is not True
        blockers = [*_task_blockers(svc, running), *_platform_blockers(facts, svc, td, running),
                    *_definition_blockers(td)]
        data: dict[str, Any] = {
            "blockers": blockers, "recommendations": _recommendations(td),
            "not_visible": list(NOT_VISIBLE), "platform": platform(td, svc),
            "running_tasks": len(running), "enabled": not off}
        if off:
            # switched off is a choice (a read-only root filesystem, no shell in prod), not
            # a fault; what turning it on would also need is said, not failed
            more = f"; turning it on would also need: {'; '.join(blockers)}" if blockers else ""
            yield passed(arn, f"service {label}: ECS Exec is switched off "
                         f"(enableExecuteCommand false){more}", service=arn, **data)
        elif blockers:
            listed = "; ".join(f"({i}) {b}" for i, b in enumerate(blockers, 1))
            yield failed(arn, f"service {label}: aws ecs execute-command would fail — {listed}",
                         service=arn, **data)
        else:
            yield passed(arn, f"service {label}: aws ecs execute-command will work "
                         "(exec enabled, platform/agent and task definition fit; the task "
                         "role's ssmmessages permissions cannot be seen offline)",
                         service=arn, **data)


@check(id="task-role-feature-permissions", area="ecs_exec", severity=Severity.MEDIUM,
       title="Task role lacks what ECS Exec or the X-Ray daemon needs",
       needs=("services", "task_definitions", "task_role_simulations"),
       docs=f"{EXEC_DOCS}#ecs-exec-required-iam-permissions",
       emits=("denied", "features", "role"))
def task_role_feature_permissions(facts: Facts, prior: Prior) -> Iterator[Result]:
    """iam:SimulatePrincipalPolicy of the task role (checker/collect/task_roles.py) on the
    actions ECS Exec (ssmmessages:*) and the X-Ray daemon (xray:Put*, GetSampling*) need:
    a denial here is `execute-command` failing mid-incident, or traces silently dropped.
    No task role at all for a service that needs one fails too."""
    sims = {str(s.get("PolicySourceArn")): decisions(objs(s.get("EvaluationResults")))
            for s in facts.items("task_role_simulations")}
    for svc in sorted(facts.services, key=lambda s: str(s.get("serviceArn"))):
        arn, label = str(svc.get("serviceArn")), service_label(svc)
        td = facts.task_definition(svc.get("taskDefinition"))
        features = needed(svc, td) if td else {}
        if td is None or not features:
            continue
        role = role_arn(td, facts.account)
        names = sorted(features)
        if role is None:
            yield failed(arn, f"service {label}: {' and '.join(names)} need a task role; the "
                         "task definition has none", service=arn, role=None,
                         features=names, denied=sorted({a for v in features.values()
                                                        for a in v}))
            continue
        decided = sims.get(role)
        if decided is None:
            yield unknown(arn, f"service {label}: task role {arn_name(role)} was not "
                          "simulated (over the scan's budget)", service=arn, role=role,
                          features=names)
            continue
        denied = sorted(a for v in features.values() for a in v
                        if decided.get(a, "not evaluated") != "allowed")
        data: dict[str, Any] = {"role": role, "features": names, "denied": denied}
        if denied:
            yield failed(arn, f"service {label}: task role {arn_name(role)} may not "
                         f"{', '.join(denied)} — {' and '.join(names)} will not work",
                         service=arn, **data)
        else:
            yield passed(arn, f"service {label}: task role {arn_name(role)} may do what "
                         f"{' and '.join(names)} need", service=arn, **data)
