"""Which CPU architectures an image carries, against the one its task ran on: the evidence
that tells an image built for another CPU from an image with the right CPU but something
inside it the kernel cannot run.

The image's platforms are read from its manifest (an image index names one entry per
platform) in the ``ecr_manifests`` collection, which a scan fills for the containers that
logged ``exec format error`` (checker/collect/images.py) and the gate for every image of
its candidate (checker/collect/refs.py); :func:`checks.lib.references.manifest_platforms`
reads them the same way for both.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.facts import Facts, Item
from checker.names import EcrImage, container_image, ecr_image
from checks.lib.references import find_image, find_manifest, manifest_platforms

#: The task's CPU as ECS names it → as image manifests name it.
ARCH = {"X86_64": "amd64", "ARM64": "arm64"}
MATCH, MISMATCH, UNKNOWN = "match", "mismatch", "unknown"
TRUNCATED = "Truncated"


@dataclass(frozen=True, slots=True)
class Verdict:
    """``arch``: MATCH, MISMATCH or UNKNOWN; ``platforms``: what the image carries
    ("linux/arm64", "" when unread); ``why``: the sentence a finding ends with."""

    arch: str
    image: str
    platforms: str
    why: str


def _os(td: Item | None) -> str:
    runtime = (td or {}).get("runtimePlatform")
    family = str(runtime.get("operatingSystemFamily") or "") if isinstance(runtime, dict) else ""
    return "windows" if family.startswith("WINDOWS") else "linux"


def _truncated(facts: Facts) -> bool:
    return any(e.get("collection") == "ecr_images" and e.get("code") == TRUNCATED
               for e in facts.errors)


def _unread(facts: Facts, ref: EcrImage, name: str) -> str | None:
    """Why the manifest of ``ref`` is not in the bundle, or None when it is."""
    for collection in ("ecr_images", "ecr_manifests"):
        reason = facts.missing_reason(collection)
        if reason is not None:
            return f"the manifest of {name} was not read ({collection}: {reason})"
    if find_manifest(ref, facts.items("ecr_manifests")) is not None:
        return None
    if find_image(ref, facts.items("ecr_images")) is None:
        if _truncated(facts):
            return (f"{name} was not read: the scan's budget of images ran out (errors "
                    "say how many were left)")
        return (f"ECR has no image {name} now (deleted, or its tag moved to another "
                "repository): its platforms cannot be read")
    return f"ECR returned no manifest for {name}"


def verdict(facts: Facts, td: Item | None, container: str, task_arch: str) -> Verdict:
    """The image of ``container`` in ``td`` against ``task_arch`` (ECS's X86_64 / ARM64)."""
    image = container_image(td, container)
    if image is None:
        return Verdict(UNKNOWN, "", "", f"the task definition of container {container} is "
                       "not in the bundle: its image is unknown")
    ref = ecr_image(image)
    if ref is None:
        return Verdict(UNKNOWN, image, "", f"image {image} is not in a private ECR registry "
                       "(Docker Hub, public.ecr.aws or another registry): its manifest was "
                       "not read — `docker buildx imagetools inspect` lists its platforms")
    name = f"{ref.repository}{ref.ref}"
    unread = _unread(facts, ref, name)
    if unread is not None:
        return Verdict(UNKNOWN, image, "", unread)
    manifest = find_manifest(ref, facts.items("ecr_manifests")) or {}
    found = manifest_platforms(manifest.get("imageManifest"),
                               manifest.get("imageManifestMediaType"))
    if found is None:
        return Verdict(UNKNOWN, image, "", f"{name} is a single-platform image: its "
                       "architecture is in its config blob, which ecsdoctor does not "
                       "download — `docker buildx imagetools inspect` shows it")
    carried = ", ".join("/".join(p) for p in found) or "no platform"
    want = ARCH.get(task_arch.upper())
    if want is None:
        return Verdict(UNKNOWN, image, carried, f"image {name} carries {carried}, but the "
                       "task's own architecture is unknown")
    wanted = f"{_os(td)}/{want}"
    if (_os(td), want) in found:
        return Verdict(MATCH, image, carried, f"image {name} carries {carried}, which "
                       f"includes {wanted}, the task's CPU: the CPU is not the cause — the "
                       "kernel could not run a file inside the image (an entrypoint script "
                       "without a #! line, or a binary built for another CPU)")
    only = f"{carried} only" if len(found) == 1 else f"only {carried}"
    return Verdict(MISMATCH, image, carried, f"image {name} is {only}, the task runs on "
                   f"{wanted}: built for another CPU")
