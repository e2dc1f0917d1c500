"""The image probe (checker/collect/images.py): moto's ECR holds the images (real put_image
of an image index → real DescribeImages and BatchGetImage), moto's CloudWatch Logs the
lines the logs collector reads first; ECS items come from the shape-validated builders
(MOTO.md: moto cannot set the stop codes and exit codes of a crash loop)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from checker.collect import COLLECTORS, Scope, images, logs
from checker.collect.aws import Context
from checks.lib.references import manifest_platforms
from tests import builders as b
from tests.collect.support import REGION, Calls, denied

NOW = dt.datetime.now(dt.UTC)
REGISTRY = f"{b.ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
INDEX = "application/vnd.oci.image.index.v1+json"
EXEC = "exec /usr/local/bin/docker-entrypoint.sh: exec format error"
SIGNATURES = Path(__file__).resolve().parents[2] / "checks" / "data" / "log_signatures.yaml"


@pytest.fixture
def session(aws: None) -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)


def _ctx(session: boto3.session.Session,
         resources: dict[str, list[dict[str, Any]]]) -> Iterator[Context]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield Context(scope=Scope(clusters=("prod",), log_lines=50), region=REGION,
                      pool=pool, session=session, resources=resources)


def _push(repository: str, tag: str, *archs: str) -> None:
    """An image index carrying linux/<arch> for each of `archs`, as buildx pushes it."""
    ecr = boto3.client("ecr", region_name=REGION)
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
         "digest": f"sha256:{i:064x}", "platform": {"architecture": a, "os": "linux"}}
        for i, a in enumerate(archs, 1)]}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(index), imageTag=tag,
                  imageManifestMediaType=INDEX)


def _put_lines(service: str, task: dict[str, Any], lines: list[str]) -> None:
    api = boto3.client("logs", region_name=REGION)
    with contextlib.suppress(api.exceptions.ResourceAlreadyExistsException):
        api.create_log_group(logGroupName=f"/ecs/{service}")
    stream = f"{service}/{service}/{task['taskArn'].rsplit('/', 1)[-1]}"
    api.create_log_stream(logGroupName=f"/ecs/{service}", logStreamName=stream)
    start = int((NOW - dt.timedelta(minutes=5)).timestamp() * 1000)
    api.put_log_events(logGroupName=f"/ecs/{service}", logStreamName=stream, logEvents=[
        {"timestamp": start + i * 1000, "message": m} for i, m in enumerate(lines)])


def _account(images_by_service: dict[str, str],
             lines: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """One crash-looping service per entry, running `image`; its crashes printed `lines`."""
    res: dict[str, list[dict[str, Any]]] = {"clusters": [b.cluster()], "services": [],
                                            "tasks": [], "task_definitions": []}
    for name, image in images_by_service.items():
        res["services"].append(b.service(name))
        res["task_definitions"].append(b.task_definition(
            name, containers=[b.container_def(name, image=image, memory=512)]))
        crash = b.task(name, status="STOPPED", stopped=b.ago(minutes=2),
                       stop_code="EssentialContainerExited",
                       reason="Essential container in task exited",
                       containers=[b.container(name, 255)])
        res["tasks"].append(crash)
        _put_lines(name, crash, lines.get(name, ["starting"]))
    return res


def _scan(session: boto3.session.Session, res: dict[str, list[dict[str, Any]]],
          budget: int = images.IMAGE_BUDGET) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    for ctx in _ctx(session, res):
        logs.collect_logs(ctx)
        images.read_images(ctx, budget)
        return ctx.resources, ctx.recorder.errors()
    raise AssertionError("no context")


def test_the_image_of_a_container_that_logged_exec_format_error_is_read(session: Any) -> None:
    _push("checkout", "1.19.0", "arm64")
    _push("web", "2.0", "amd64")
    res = _account({"checkout": f"{REGISTRY}/checkout:1.19.0", "web": f"{REGISTRY}/web:2.0"},
                   {"checkout": [EXEC], "web": ["Traceback (most recent call last):"]})
    calls = Calls(session)
    got, errors = _scan(session, res)
    assert errors == []
    ecr = [a for a in calls.actions if a.startswith("ecr:")]
    assert sorted(ecr) == ["ecr:BatchGetImage", "ecr:DescribeImages"]  # checkout's only
    (detail,) = got["ecr_images"]
    assert (detail["repositoryName"], detail["imageTags"]) == ("checkout", ["1.19.0"])
    (image,) = got["ecr_manifests"]
    assert image["imageId"]["imageTag"] == "1.19.0"
    assert manifest_platforms(image["imageManifest"],
                              image.get("imageManifestMediaType")) == [("linux", "arm64")]


def test_no_exec_format_error_makes_no_ecr_call(session: Any) -> None:
    _push("web", "2.0", "amd64")
    res = _account({"web": f"{REGISTRY}/web:2.0"}, {"web": ["KeyError: 'x'"]})
    calls = Calls(session)
    got, errors = _scan(session, res)
    assert [a for a in calls.actions if a.startswith("ecr:")] == []
    assert "ecr_images" not in got and "ecr_manifests" not in got and errors == []


def test_an_image_outside_private_ecr_is_not_asked_about(session: Any) -> None:
    res = _account({"hub": "docker.io/library/nginx:1.27"}, {"hub": [EXEC]})
    calls = Calls(session)
    got, errors = _scan(session, res)
    assert [a for a in calls.actions if a.startswith("ecr:")] == []
    assert "ecr_images" not in got and errors == []


def test_an_image_ecr_does_not_have_is_no_failure(session: Any) -> None:
    res = _account({"gone": f"{REGISTRY}/gone:1.0"}, {"gone": [EXEC]})
    calls = Calls(session)
    got, errors = _scan(session, res)
    assert [a for a in calls.actions if a.startswith("ecr:")] == ["ecr:DescribeImages"]
    assert (got["ecr_images"], got["ecr_manifests"], errors) == ([], [], [])


def test_a_denied_read_is_recorded_and_the_collection_left_absent(session: Any) -> None:
    _push("checkout", "1.19.0", "arm64")
    res = _account({"checkout": f"{REGISTRY}/checkout:1.19.0"}, {"checkout": [EXEC]})
    session.events.register("before-call.ecr.BatchGetImage", denied("BatchGetImage"))
    got, errors = _scan(session, res)
    assert [(e["collection"], e["operation"], e["code"]) for e in errors] == [
        ("ecr_manifests", "ecr:BatchGetImage", "AccessDeniedException")]
    assert "ecr_manifests" not in got and len(got["ecr_images"]) == 1


def test_the_image_budget_leaves_images_out_with_a_warning(session: Any) -> None:
    names = ("a1", "a2", "a3")
    for name in names:
        _push(name, "1", "arm64")
    res = _account({n: f"{REGISTRY}/{n}:1" for n in names}, {n: [EXEC] for n in names})
    calls = Calls(session)
    got, errors = _scan(session, res, budget=2)
    assert calls.actions.count("ecr:DescribeImages") == 2
    assert calls.actions.count("ecr:BatchGetImage") == 2
    assert sorted(d["repositoryName"] for d in got["ecr_images"]) == ["a1", "a2"]
    (warning,) = errors
    assert (warning["code"], warning["level"], warning["count"]) == ("Truncated", "warning", 1)


def test_the_probe_runs_after_the_logs_it_reads() -> None:
    order = [getattr(c, "__name__", "") for c in COLLECTORS]
    assert order.index("collect_images") > order.index("collect_logs")


def test_the_trigger_is_the_exec_format_log_signature() -> None:
    """The collector cannot import the checks (tests/test_meta.py); it reads the same words
    the knowledge table classifies, and this keeps the two from drifting apart."""
    table = yaml.safe_load(SIGNATURES.read_text(encoding="utf-8"))
    patterns = [s["pattern"] for s in table["signatures"] if s["class"] == "exec-format"]
    assert patterns == [images.EXEC_FORMAT]
