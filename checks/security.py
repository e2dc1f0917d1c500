"""Security checks on container definitions (privilege, writable root, plaintext secrets)
and on what the tasks expose: a public IP on their network interfaces.

Findings about secrets name the kind and where it is (the variable, flag, label or log
option), never the value: not in the message, not in the data. What a secret looks like is
checker/secrets.py over checks/data/secret_patterns.yaml, the same detector the collector's
redaction uses, so what is found here is what a saved bundle no longer holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, objs, strs
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check
from checker.secrets import Found, Hit, WordHit, classify, patterns, scan_container, scan_words
from checks.lib.network.rules import open_to_world, port_text, protocol, sg_rule_ports
from checks.lib.network.topology import active_services, live_tasks, service_text
from checks.lib.scope import awsvpc_configs, runner_label
from checks.lib.taskdefs import (
    PARAMS_DOCS,
    Use,
    container_name,
    each_container,
    env,
    environment_path,
    is_windows,
)


@check(id="container-privileged", area="security", severity=Severity.HIGH,
       title="Container runs privileged",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_security",
       emits=("affected_tasks", "container"))
def container_privileged(facts: Facts, prior: Prior) -> Iterator[Result]:
    """`privileged: true` gives the container root on its host: every device, every
    capability, a way out of the container. One compromised process owns the instance and
    every other task on it."""
    for use, ctr in each_container(facts):
        where, name = use.where(ctr), container_name(ctr)
        path = use.path(ctr, "privileged")
        if ctr.get("privileged") is True:
            yield failed(use.arn, f"{where}: privileged — root on the host{use.suffix}",
                         service=use.service_arn, path=path, **use.data(container=name))
        else:
            yield passed(use.arn, f"{where}: not privileged{use.suffix}",
                         service=use.service_arn, path=path, container=name)


@check(id="container-root-filesystem-writable", area="security", severity=Severity.LOW,
       title="Container root filesystem is writable",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_storage",
       emits=("affected_tasks", "container"))
def container_root_filesystem_writable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A read-only root filesystem stops an intruder from dropping tools or changing the
    application's files; writes then go to declared volumes only. Not supported for
    Windows containers, so those are skipped; nor with ECS Exec, so a service that turned
    it on passes (ecs-exec-blocked judges that setting there, never both)."""
    for use, ctr in each_container(facts):
        where, name, svc = use.where(ctr), container_name(ctr), use.service_arn
        path = use.path(ctr, "readonlyRootFilesystem")
        if is_windows(use.td, ctr):
            yield skipped(use.arn, f"{where}: readonlyRootFilesystem is not supported on "
                          f"Windows{use.suffix}", service=svc, path=path, container=name)
        elif ctr.get("readonlyRootFilesystem") is True:
            yield passed(use.arn, f"{where}: read-only root filesystem{use.suffix}",
                         service=svc, path=path, container=name)
        elif use.service is not None and use.service.get("enableExecuteCommand") is True:
            # ECS Exec's SSM agent writes to the root filesystem: read-only would break the
            # shell the service turned on, so ecs-exec-blocked, not this, judges the setting
            yield passed(use.arn, f"{where}: root filesystem writable, as ECS Exec (enabled "
                         f"on the service) needs{use.suffix}", service=svc, path=path,
                         container=name)
        else:
            yield failed(use.arn, f"{where}: root filesystem is writable "
                         f"(readonlyRootFilesystem not true){use.suffix}", service=svc,
                         path=path, **use.data(container=name))


def secret_kind(name: str, value: str) -> str | None:
    """The kind of secret `value` of variable `name` is (`password`, `jwt`, …), or None —
    None for a placeholder too."""
    hit = classify(name, value)
    return None if hit is None or hit.placeholder else hit.kind


def _path(use: Use, ctr: Item, first: Found) -> str:
    """Where the first secret is, for a code-scanning line: its `environment` entry, or
    the field it is in (`containerDefinitions[0].logConfiguration.options`)."""
    if first.place == "environment":
        return environment_path(use.td, ctr, first.name)
    return use.path(ctr, first.place)


def _found_text(found: list[Found]) -> str:
    return ", ".join(dict.fromkeys(f.text() for f in found))


@check(id="environment-plaintext-secrets", area="security", severity=Severity.HIGH,
       title="Secrets in plaintext in a container definition",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/specifying-sensitive-data.html",
       emits={"affected_tasks": None, "container": None, "names": None, "found": None,
              "placeholders": None, "kinds": frozenset(patterns().kinds)})
def environment_plaintext_secrets(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A value in `environment`, `command`, `entryPoint`, `dockerLabels` or
    `logConfiguration.options` is stored in the task definition in clear: anyone with
    ecs:DescribeTaskDefinition reads it, every revision keeps it, and it travels into CI
    logs. `secrets` and `secretOptions` (Secrets Manager / Parameter Store) keep it out.
    Matches a value's shape (access keys, private keys, JWTs, tokens, URLs with a
    password), a secret's name with a literal value, and password flags; names the kind and
    where it is, never the value. A placeholder (`${DB_PASSWORD}`) is said to be one.
    Each distinct (name, value) and command line is judged once per analysis: services
    share log options, variables and health checks, and the pattern table is long."""
    def judge(name: str, value: str) -> Hit | None:
        return facts.memo(("secrets.classify", name, value), lambda: classify(name, value))

    def scan(words: list[str]) -> tuple[WordHit, ...]:
        return facts.memo(("secrets.words", tuple(words)), lambda: tuple(scan_words(words)))

    for use, ctr in each_container(facts):
        where, name, svc = use.where(ctr), container_name(ctr), use.service_arn
        everything = scan_container(ctr, judge=judge, scan=scan)
        found = [f for f in everything if not f.placeholder]
        placeholders = sorted({f.label() for f in everything if f.placeholder})
        extra = {"placeholders": placeholders} if placeholders else {}
        held = (f"; placeholders, not secrets: {', '.join(placeholders)}"
                if placeholders else "")
        if not found:
            count = len(env(ctr))
            what = (f"none of {count} environment variables looks like a secret" if count
                    else "no environment variables")
            yield passed(use.arn, f"{where}: {what}, nor any label, log option or command "
                         f"line{held}{use.suffix}", service=svc,
                         path=environment_path(use.td, ctr, None), container=name, **extra)
            continue
        names = sorted({f.label() for f in found})
        kinds = sorted({f.kind for f in found})
        yield failed(use.arn, f"{where}: {_found_text(found)} in plaintext — move them to "
                     f"secrets{held}{use.suffix}", service=svc,
                     path=_path(use, ctr, found[0]),
                     **use.data(container=name, names=names, kinds=kinds,
                                found=[{"in": f.place, "name": f.name, "kind": f.kind}
                                       for f in found], **extra))


# -- public IPs on task ENIs ------------------------------------------------------------------
# Prowler checks services and task sets apart (ecs_service_no_assign_public_ip,
# ecs_task_set_no_assign_public_ip); here a task set's finding is its service's:
# https://github.com/prowler-cloud/prowler/tree/master/prowler/providers/aws/services/ecs

PUBLIC_IP_DOCS = ("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
                  "fargate-task-networking.html")


def world_ingress(sg: Item) -> list[str]:
    """`tcp/443 from 0.0.0.0/0`: each ingress rule of `sg` open to the whole internet."""
    out = []
    for rule in objs(sg.get("IpPermissions")):
        world = open_to_world(rule)
        if not world:
            continue
        proto = protocol(rule.get("IpProtocol"))
        ports = "all traffic" if proto == "all" else (
            f"{proto}/{port_text([sg_rule_ports(rule)])}")
        out.append(f"{ports} from {'/'.join(world)}")
    return out


@check(id="service-assigns-public-ip", area="security", severity=Severity.MEDIUM,
       title="Service or task set gives its tasks public IP addresses",
       needs=("services",), docs=PUBLIC_IP_DOCS, products=("scan",),
       emits={"affected_tasks": None, "open_ingress": None, "runners": None,
              "security_groups": None, "subnets": None, "open_security_group": None,
              "exposure": ("internet", "closed", "unknown")})
def service_assigns_public_ip(facts: Facts, prior: Prior) -> Iterator[Result]:
    """`assignPublicIp: ENABLED` puts each task's ENI on the internet: whatever its
    security groups admit from anywhere reaches the containers directly, past any load
    balancer or WAF, and its egress leaves without the NAT's fixed addresses. Task sets
    (EXTERNAL and CODE_DEPLOY services) carry their own network configuration and count
    as their service's. High when a group of those tasks admits 0.0.0.0/0 or ::/0;
    medium when none does (one rule away), or when the groups were not collected."""
    for svc in active_services(facts):
        arn, label = str(svc.get("serviceArn")), service_text(svc)
        configs = awsvpc_configs(svc)
        public = [(r, c) for r, c in configs
                  if str(c.get("assignPublicIp") or "").upper() == "ENABLED"]
        if not configs:
            yield skipped(arn, f"{label}: no awsvpc network configuration (its tasks use "
                          "the instance's network)", service=arn)
            continue
        if not public:
            yield passed(arn, f"{label}: assignPublicIp DISABLED", service=arn)
            continue
        yield _public_ip_result(facts, svc, public)


def _public_ip_result(facts: Facts, svc: Item, public: list[tuple[Item, Item]]) -> Result:
    arn, label = str(svc.get("serviceArn")), service_text(svc)
    who = [runner_label(r).replace("service", "its own network configuration", 1)
           if r is svc else runner_label(r) for r, _ in public]
    groups = sorted({g for _, c in public for g in strs(c.get("securityGroups"))})
    data: dict[str, Any] = {
        "runners": who, "security_groups": groups,
        "subnets": sorted({s for _, c in public for s in strs(c.get("subnets"))}),
        "affected_tasks": len(live_tasks(facts, svc)) if facts.has("tasks") else None}
    text = f"{label}: assignPublicIp ENABLED ({', '.join(who)})"
    if not facts.has("security_groups"):
        return failed(arn, f"{text} — its security groups were not collected, so how much "
                      "is open to the internet is not known", service=arn, exposure="unknown",
                      **{k: v for k, v in data.items() if v is not None})
    opened = [(g, rule) for g in groups
              if (sg := facts.lookup("security_groups", "GroupId", g))
              for rule in world_ingress(sg)]
    open_ingress = [f"{g} {rule}" for g, rule in opened]
    data["open_ingress"] = open_ingress
    # the world-open groups first: commands that take one group name the first
    open_ids = list(dict.fromkeys(g for g, _ in opened))
    data["security_groups"] = open_ids + [g for g in groups if g not in open_ids]
    data = {k: v for k, v in data.items() if v is not None}
    if opened:
        return failed(arn, f"{text} and its security groups admit the internet: "
                      f"{'; '.join(open_ingress)} — the tasks are reachable from anywhere, "
                      "past any load balancer", service=arn, severity=Severity.HIGH,
                      exposure="internet", open_security_group=opened[0][0], **data)
    return failed(arn, f"{text}; no security group admits 0.0.0.0/0 or ::/0 today, so the "
                  "tasks are one rule away from the internet — put them in private subnets "
                  "behind NAT or VPC endpoints", service=arn, exposure="closed", **data)
