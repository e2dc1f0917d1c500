"""Values the remediation commands need that no check emits, so that a command works when
pasted (checker.rank.context adds them to every diagnosis's context):

- `window_start`, `window_end` (ISO-8601, UTC), `window_start_ms` (epoch milliseconds, what
  CloudWatch Logs takes) and `day_start` (24 hours before the end): the report's own data
  window — the oldest metric point to the bundle's collection time — so that no command
  computes a time with GNU `date -d`, which macOS's `date` does not have;
- `awsvpc_subnets`, `awsvpc_security_groups` (comma-joined, as in the CLI's shorthand),
  `assign_public_ip` and `service_security_groups` (a list): the service's current awsvpc
  configuration, because `update-service --network-configuration` replaces all of it — a
  command that leaves out assignPublicIp turns a public-subnet Fargate service's public IP
  off, and with it its only way out;
  for a service run by task sets (EXTERNAL, CODE_DEPLOY) with none of its own, its PRIMARY
  task set's (checker.facts.awsvpc_config);
- `network_update`: the `aws ecs` operation, with its own arguments, that sets the service's
  network configuration: `create-task-set --task-definition <its definition>` for an
  EXTERNAL service, as UpdateService refuses a network configuration for one (a new task set
  carries it); absent otherwise, so templates fall back to `update-service`
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html);
- `vpc`, when no evidence names it: the VPC of the service's subnets;
- `task_security_group`, `lb_security_group`: the first of `security_groups` and
  `lb_security_groups`, for the options that take one group (`--group-id`,
  `--source-group`); one group is enough, as an ENI's groups' rules add up;
  `first_container`: the first of `containers`, for `execute-command --container`;
- `ecr_repository`, `ecr_image_id` (`imageTag=…` or `imageDigest=sha256:…`),
  `ecr_registry_id`: the ECR parts of `image`, so that an image pinned by digest keeps a
  valid repository name; `registry_login`: the `docker login` a pull of `image` needs;
- `route_verb`: `create-route` when the subnet's table has no default route (`egress`
  none: `replace-route` would fail), else `replace-route` (a blackhole, a route to an
  internet gateway for tasks without a public IP).

Each is absent when the bundle does not know it; templates name them with a fallback
(`{assign_public_ip|<ENABLED-or-DISABLED>}`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from checker.facts import Facts, awsvpc_config, obj, parse_time, strs, task_definition_arn
from checker.names import ecr_image

#: The keys this module may add (checker.playbook lets every template name them).
KEYS = frozenset({"window_start", "window_end", "window_start_ms", "day_start",
                  "awsvpc_subnets", "awsvpc_security_groups", "assign_public_ip",
                  "service_security_groups", "vpc", "task_security_group", "lb_security_group",
                  "first_container",
                  "ecr_repository", "ecr_image_id", "ecr_registry_id", "registry_login",
                  "route_verb", "network_update"})
#: Without metrics, the window a scan looks back over by default.
DEFAULT_WINDOW = dt.timedelta(hours=3)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window(facts: Facts) -> dict[str, Any]:
    """The data window's times; the same for every diagnosis of a report."""
    return facts.memo(("command_context", "window"), lambda: _window(facts))


def _window(facts: Facts) -> dict[str, Any]:
    end = facts.collected_at
    firsts = [parse_time(s["timestamps"][0]) for s in facts.bundle.get("metrics") or []
              if isinstance(s, Mapping) and isinstance(s.get("timestamps"), list)
              and s["timestamps"]]
    start = min((t for t in firsts if t is not None and t < end),
                default=end - DEFAULT_WINDOW)
    return {"window_start": _iso(start), "window_end": _iso(end),
            "window_start_ms": int(start.timestamp() * 1000),
            "day_start": _iso(end - dt.timedelta(hours=24))}


def network(facts: Facts, service_arn: str) -> dict[str, Any]:
    """The service's awsvpc configuration as the commands write it, and its VPC."""
    service = facts.service_of_arn(service_arn) if facts.has("services") else None
    if service is None:  # not collected (or refused): nothing to write, no crash either
        return {}
    conf = awsvpc_config(service)
    subnets, groups = strs(conf.get("subnets")), strs(conf.get("securityGroups"))
    out: dict[str, Any] = {}
    if obj(service.get("deploymentController")).get("type") == "EXTERNAL":
        td = task_definition_arn(service)
        out["network_update"] = f"create-task-set --task-definition {td or '<task-definition>'}"
    if subnets:
        out["awsvpc_subnets"] = ",".join(subnets)
        out["assign_public_ip"] = str(conf.get("assignPublicIp") or "DISABLED")
        found = [facts.lookup("subnets", "SubnetId", i) for i in subnets
                 ] if facts.has("subnets") else []
        vpcs = {str(s.get("VpcId")) for s in found if s and s.get("VpcId")}
        if len(vpcs) == 1:
            out["vpc"] = vpcs.pop()
    if groups:
        out["awsvpc_security_groups"] = ",".join(groups)
        out["service_security_groups"] = groups
    return out


def _first(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list | tuple) and value and isinstance(value[0], str):
        return value[0]
    return None


def from_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the evidence's own data gives: single groups, the image's ECR parts."""
    out: dict[str, Any] = {}
    for key, one in (("security_groups", "task_security_group"),
                     ("lb_security_groups", "lb_security_group"),
                     ("containers", "first_container")):
        first = _first(data.get(key))
        if first:
            out[one] = first
    egress = data.get("egress")
    if isinstance(egress, str) and egress in ("none", "broken", "igw"):
        out["route_verb"] = "create-route" if egress == "none" else "replace-route"
    image = data.get("image")
    if isinstance(image, str) and image:
        out["registry_login"] = registry_login(image)
        ecr = ecr_image(image)
        if ecr is not None:
            tag_or_digest = next(iter(ecr.image_id.items()))
            out.update(ecr_repository=ecr.repository, ecr_registry_id=ecr.account,
                       ecr_image_id="=".join(tag_or_digest))
    return out


def registry_login(image: str) -> str:
    """The login before `docker pull image`: ECR's token for a private ECR image (a pull is
    refused without it), else `docker login` to the image's registry."""
    ecr = ecr_image(image)
    host = image.split("/", 1)[0] if "/" in image else ""
    if ecr is not None:
        return (f"aws ecr get-login-password --region {ecr.region} | docker login --username "
                f"AWS --password-stdin {host}")
    if "." in host or ":" in host:
        return f"docker login {host}"
    return "docker login"


def known(data: Mapping[str, Any], service_arn: str | None, facts: Facts | None) -> dict[str, Any]:
    """Every value of this module for one diagnosis (its evidence data, its first service)."""
    out = from_data(data)
    if facts is not None:
        out |= window(facts)
        if service_arn:
            out |= network(facts, service_arn)
    return out
