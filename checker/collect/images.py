"""ECR → ``ecr_images`` and ``ecr_manifests`` for the containers whose log says ``exec format
error``: which CPU architectures the image was built for.

Why: the kernel prints ``exec format error`` when it cannot run a binary, and the usual
cause is an image built for another CPU than the task runs on (an arm64 image from an
Apple-silicon laptop on X86_64 Fargate). The task's architecture is in the bundle already
(runtimePlatform, the Fargate default, the container instance's attribute); the image's
is in its manifest: an image index lists one entry per platform. Reading it tells the
two causes apart — the image lacks the task's architecture (arch-mismatch), or it has it
and the error comes from something inside the image (a script without a ``#!`` line, one
binary of another architecture).

Asked exactly as the gate asks (checker/collect/refs.py :func:`ecr_lookup`): DescribeImages,
then BatchGetImage for the manifest, in the image's own Region and registry. Only the
image of a container whose stored log lines contain :data:`EXEC_FORMAT` (the log
signature of checks/data/log_signatures.yaml, tested to agree), named by the task
definition the task ran; an image outside private ECR (Docker Hub, public.ecr.aws,
another registry) is not asked about and the check says so.

Runs after the logs collector (it reads ``log_events``); nothing is stored unless a line
matched, so a scan of a healthy account makes no ECR call. Budget: at most
:data:`IMAGE_BUDGET` images a scan, two calls each; past it a ``"level": "warning"`` entry
(``Truncated``) names how many were left. A denied or failed call is an ``errors[]`` entry
under its collection: the check is then ``unknown``, naming the permission. An image ECR
does not have (ImageNotFoundException, RepositoryNotFoundException) is no failure: it is
simply not in ``ecr_images``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from checker.collect.aws import Context, Item
from checker.collect.refs import NOT_FOUND, code_of, ecr_lookup, image_key
from checker.names import EcrImage, container_image, ecr_image

#: The actions this module calls; deploy/iam-policy.json is checked against them.
OPERATIONS: frozenset[str] = frozenset({"ecr:DescribeImages", "ecr:BatchGetImage"})

IMAGES, MANIFESTS = "ecr_images", "ecr_manifests"
#: What the kernel prints (ENOEXEC); checks/data/log_signatures.yaml's exec-format entry.
EXEC_FORMAT = "exec format error"
IMAGE_BUDGET = 10  # images probed a scan (DescribeImages + BatchGetImage each)
CALLS_PER_IMAGE = 2
TRUNCATED = "Truncated"


def collect_images(ctx: Context) -> None:
    read_images(ctx, IMAGE_BUDGET)


def read_images(ctx: Context, budget: int) -> None:
    """:func:`collect_images` with the image budget passed in."""
    refs = wanted(ctx.resources)
    if not refs:
        return
    if len(refs) > budget:
        left = len(refs) - budget
        ctx.recorder.add({
            "collection": IMAGES, "operation": "ecr:DescribeImages", "code": TRUNCATED,
            "level": "warning", "count": left,
            "message": f"{left} image(s) of containers that logged 'exec format error' not "
                       f"read: the budget of {budget} images a scan ran out (images in "
                       f"name order)"})
    chosen = sorted(refs.items())[:budget]
    jobs: list[tuple[tuple[Any, ...], Callable[[], list[tuple[list[Item], list[Item]]]]]] = [
        ((i, IMAGES, MANIFESTS), _job(ctx, ref)) for i, (_, ref) in enumerate(chosen)]
    got = ctx.gather(jobs)
    details = [d for key in sorted(got) for found, _ in got[key] for d in found]
    manifests = [m for key in sorted(got) for _, images in got[key] for m in images]
    for collection, items in ((IMAGES, details), (MANIFESTS, manifests)):
        if ctx.recorder.failed(collection):
            continue  # the check says unknown, naming the permission
        ctx.store(collection, items, _item_key)


def _job(ctx: Context, ref: EcrImage) -> Callable[[], list[tuple[list[Item], list[Item]]]]:
    return lambda: [ecr_lookup(ctx.client("ecr", region=ref.region), ref, _asker(ctx))]


def _asker(ctx: Context) -> Callable[..., Any]:
    """The scan's side of ecr_lookup's ``ask``: AWS's "no such image" is an answer (None),
    any other failure an ``errors[]`` entry (no credentials: the user's to fix)."""

    def ask(collection: str, operation: str, call: Callable[..., Any], *args: Any,
            **kw: Any) -> Any:
        try:
            answer = call(*args, **kw)
        except Exception as exc:
            if code_of(exc) in NOT_FOUND:
                ctx.step(f"{operation} {kw.get('repositoryName')} (not found)")
                return None
            ctx.fail(collection, operation, exc)
            ctx.step(f"{operation} {kw.get('repositoryName')} failed")
            return None
        ctx.step(f"{operation} {kw.get('repositoryName')}")
        return answer

    return ask


def _item_key(item: Item) -> str:
    image_id = item.get("imageId") if isinstance(item.get("imageId"), dict) else {}
    assert isinstance(image_id, dict)
    digest = item.get("imageDigest") or image_id.get("imageDigest") or ""
    tag = image_id.get("imageTag") or ""
    return f"{item.get('registryId')}\n{item.get('repositoryName')}\n{digest}\n{tag}"


def wanted(res: dict[str, list[Item]]) -> dict[tuple[str, str, str, str], EcrImage]:
    """The private ECR images of the containers whose log lines say exec format error."""
    tasks = {str(t.get("taskArn")): t for source in ("tasks", "task_history")
             for t in res.get(source, [])}
    tds = {str(t.get("taskDefinitionArn")): t for t in res.get("task_definitions", [])}
    out: dict[tuple[str, str, str, str], EcrImage] = {}
    for item in res.get("log_events", []):
        if not exec_format(item.get("events") or []):
            continue
        task = tasks.get(str(item.get("taskArn"))) or {}
        td = tds.get(str(task.get("taskDefinitionArn"))) or {}
        image = container_image(td, str(item.get("containerName")))
        ref = ecr_image(image)
        if ref is not None:
            out[image_key(ref)] = ref
    return out


def exec_format(events: Iterable[Any]) -> bool:
    return any(isinstance(e, dict) and EXEC_FORMAT in str(e.get("message", "")) for e in events)
