"""Container settings an incident depends on: where its logs go, whether ECS can see it
hang, how many connections it can hold, and which image it really runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, Item, obj, objs
from checker.model import Result, Severity, failed, passed, skipped, unknown
from checker.registry import Prior, check
from checks.lib.knowledge import table
from checks.lib.placeholders import has_placeholder
from checks.lib.taskdefs import (
    FARGATE,
    PARAMS_DOCS,
    Use,
    container_name,
    containers,
    each_container,
    essential,
    is_windows,
    uses,
)
from checks.lib.values import int_or_none


@check(id="container-no-log-configuration", area="taskdef", severity=Severity.MEDIUM,
       title="Container has no logConfiguration",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_storage",
       emits=("affected_tasks", "container", "log_driver"))
def container_no_log_configuration(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without a log driver a container's stdout/stderr go nowhere ECS can show: when it
    crashes, the one message that says why is lost with the task."""
    for use, ctr in each_container(facts):
        where, name = use.where(ctr), container_name(ctr)
        driver = obj(ctr.get("logConfiguration")).get("logDriver")
        path = use.path(ctr, "logConfiguration")
        if driver:
            yield passed(use.arn, f"{where}: logs through {driver}{use.suffix}",
                         service=use.service_arn, path=path, container=name,
                         log_driver=str(driver))
        else:
            yield failed(use.arn, f"{where}: no logConfiguration — its output is lost when "
                         f"the task stops{use.suffix}", service=use.service_arn, path=path,
                         **use.data(container=name))


@check(id="lb-container-no-health-check", area="taskdef", severity=Severity.MEDIUM,
       title="Load-balanced essential container has no container health check",
       needs=("task_definitions", "services"),
       docs=f"{PARAMS_DOCS}#container_definition_healthcheck",
       emits=("affected_tasks", "container"))
def lb_container_no_health_check(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The load balancer only sees the port. A container health check lets ECS replace a
    hung-but-listening container, gates dependsOn HEALTHY, and shows the container's own
    health in DescribeTasks when a deployment stalls."""
    for use in uses(facts):
        names = {str(lb.get("containerName"))
                 for lb in objs(obj(use.service).get("loadBalancers"))}
        for ctr in containers(use.td):
            name = container_name(ctr)
            if name not in names or not essential(ctr):
                continue
            check_cmd = obj(ctr.get("healthCheck")).get("command")
            path = use.path(ctr, "healthCheck")
            if check_cmd:
                yield passed(use.arn, f"{use.where(ctr)}: health check defined{use.suffix}",
                             service=use.service_arn, path=path, container=name)
            else:
                yield failed(use.arn, f"{use.where(ctr)}: load-balanced and essential but no "
                             f"healthCheck{use.suffix}", service=use.service_arn, path=path,
                             **use.data(container=name))


def _load_balanced(facts: Facts, td: Item) -> set[str]:
    """Names of `td`'s containers that a service in scope puts behind a load balancer."""
    return facts.memo(("containers", "load_balanced"), lambda: _load_balanced_by_td(facts)).get(
        id(td), set())


def _load_balanced_by_td(facts: Facts) -> dict[int, set[str]]:
    """Per task definition (by identity: the memo lives as long as the bundle's items)."""
    out: dict[int, set[str]] = {}
    for use in uses(facts):
        out.setdefault(id(use.td), set()).update(
            str(lb.get("containerName")) for lb in objs(obj(use.service).get("loadBalancers")))
    return out


@check(id="container-no-health-check", area="taskdef", severity=Severity.LOW,
       title="Essential container has no container health check",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_healthcheck",
       emits=("affected_tasks", "container"))
def container_no_health_check(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Without a health check ECS only knows whether the process runs: a hung worker, a
    deadlocked queue consumer or a web server that lost its database keeps its task, and
    dependsOn HEALTHY has nothing to wait for. Containers behind a load balancer are judged
    by lb-container-no-health-check (medium): this check covers the others, so a task
    definition judged alone (the gate offline) is not silent about it."""
    for use, ctr in each_container(facts):
        name, path = container_name(ctr), use.path(ctr, "healthCheck")
        if not essential(ctr):
            yield skipped(use.arn, f"{use.where(ctr)}: not essential{use.suffix}",
                          service=use.service_arn, path=path, container=name)
        elif name in _load_balanced(facts, use.td):
            yield skipped(use.arn, f"{use.where(ctr)}: load-balanced (see "
                          f"lb-container-no-health-check){use.suffix}",
                          service=use.service_arn, path=path, container=name)
        elif obj(ctr.get("healthCheck")).get("command"):
            yield passed(use.arn, f"{use.where(ctr)}: health check defined{use.suffix}",
                         service=use.service_arn, path=path, container=name)
        else:
            yield failed(use.arn, f"{use.where(ctr)}: essential but no healthCheck — ECS "
                         f"cannot tell a hung container from a working one{use.suffix}",
                         service=use.service_arn, path=path, **use.data(container=name))


def _nofile_result(use: Use, ctr: Item) -> Result:
    th = table("taskdef_thresholds")
    where, svc, name = use.where(ctr), use.service_arn, container_name(ctr)
    path = use.path(ctr, "ulimits")
    if is_windows(use.td, ctr):
        return skipped(use.arn, f"{where}: ulimits do not apply to Windows{use.suffix}",
                       service=svc, path=path, container=name)
    limits = [u for u in objs(ctr.get("ulimits")) if u.get("name") == "nofile"]
    soft = int_or_none(limits[-1].get("softLimit")) if limits else None
    minimum = int(th["nofile_min_soft"])
    if soft is None and use.platform == FARGATE:
        return passed(use.arn, f"{where}: Fargate default nofile "
                      f"{th['fargate_nofile_default']}{use.suffix}", service=svc, path=path,
                      container=name)
    if soft is None:
        return unknown(use.arn, f"{where}: no nofile ulimit — needs the host Docker daemon's "
                       f"--default-ulimit (not collected); set it explicitly{use.suffix}",
                       service=svc, path=path, container=name)
    if soft < minimum:
        return failed(use.arn, f"{where}: serves traffic with nofile soft limit {soft} "
                      f"(< {minimum}): 'too many open files' under load{use.suffix}",
                      service=svc, path=path,
                      **use.data(container=name, soft_limit=soft, minimum=minimum))
    return passed(use.arn, f"{where}: nofile soft limit {soft}{use.suffix}", service=svc,
                  path=path, container=name, soft_limit=soft)


@check(id="container-nofile-ulimit-low", area="taskdef", severity=Severity.MEDIUM,
       title="Web container has a low open-files (nofile) limit",
       needs=("task_definitions",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Ulimit.html",
       emits=("affected_tasks", "container", "minimum", "soft_limit"))
def container_nofile_ulimit_low(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Every connection is a file descriptor: a container with portMappings and a nofile
    soft limit of 1024 fails with 'too many open files' at a few hundred clients with
    keep-alive. Fargate defaults to 65535; on EC2 the host's Docker default applies."""
    for use, ctr in each_container(facts):
        if ctr.get("portMappings"):
            yield _nofile_result(use, ctr)


def _image_kind(image: Any) -> tuple[str, str]:
    """(kind, tag): empty | placeholder | digest | mutable | untagged | unversioned | tagged.

    A digest pins the image; a tag pins it only as far as nobody moves it, which people do
    to `latest`, `stable`, `main`, `dev` (a branch, a channel, an environment) and to any tag
    with no version-like part (`alpine`, `debug`, `IMAGE_TAG`): a tag passes when it carries
    a digit (`1.25.3`, `v2`, `2026.11.19`, a git sha)."""
    if not isinstance(image, str) or not image.strip():
        return "empty", ""
    if has_placeholder(image) or any(ch in image for ch in "<>{}$` "):
        return "placeholder", ""
    if "@sha256:" in image:
        return "digest", ""
    head, _, last = image.rpartition("/")
    repo, _, tag = last.partition(":")
    if any(ch.isupper() for ch in repo) or any(ch.isupper() for ch in head.partition("/")[2]):
        return "placeholder", ""  # repository names must be lowercase: not a real image
    if not tag:
        return "untagged", ""
    mutable = {str(t) for t in table("hardening")["mutable_tags"]}
    if tag.lower() in mutable:
        return "mutable", tag
    if not any(ch.isdigit() for ch in tag):
        return "unversioned", tag
    return "tagged", tag


@check(id="container-image-tag-mutable", area="taskdef", severity=Severity.LOW,
       title="Container image uses a mutable tag (latest, stable, main, none, unversioned)",
       needs=("task_definitions",),
       docs=f"{PARAMS_DOCS}#container_definition_image",
       emits=("affected_tasks", "container", "tag"))
def container_image_tag_mutable(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A mutable tag names a different image over time: two revisions can run different
    code, and rolling back to a revision does not bring the old code back. A version tag or
    a digest pins what runs; an unrendered variable or an empty image pins nothing."""
    for use, ctr in each_container(facts):
        where, svc, name = use.where(ctr), use.service_arn, container_name(ctr)
        image = ctr.get("image")
        kind, tag = _image_kind(image)
        path = use.path(ctr, "image")
        what = {"empty": "image is empty",
                "placeholder": "image is an unrendered template variable, not an image",
                "untagged": f"image {image} has no tag (latest)",
                "mutable": f"image {image} uses the mutable tag {tag}",
                "unversioned": f"image {image} uses tag {tag}, which has no version in it",
                }.get(kind)
        if what is not None:
            yield failed(use.arn, f"{where}: {what}{use.suffix}", service=svc,
                         path=path, **use.data(container=name, tag=tag or None))
        else:
            pin = "a digest" if kind == "digest" else f"tag {tag}"
            yield passed(use.arn, f"{where}: image pinned by {pin}{use.suffix}", service=svc,
                         path=path, container=name)
