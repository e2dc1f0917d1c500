"""Where in the task definition file each finding points: a JSON path and a line.

Code scanning (SARIF) shows an alert on a line of a file; a reviewer fixes a field. Gate
checks know their field and put it in `data["json_path"]` (relative to the request); the
registry's taskdef and security checks name the container they judged (`data["container"]`),
so the field is derived here from a small table. Paths are then made paths *in the file*
(`taskDefinition.` in front for describe-task-definition output) with the line of the value,
or of its nearest ancestor when the field is absent (a missing `logConfiguration` points at
its container).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from checker.gate.candidate import Candidate
from checker.model import Finding
from checks.lib.taskdefs import container_name, containers

#: Registry check → the container field it judges ("" = the container itself).
CONTAINER_FIELDS: Mapping[str, str] = {
    "container-no-memory-limit": "memory",
    "container-no-log-configuration": "logConfiguration",
    "container-nofile-ulimit-low": "ulimits",
    "container-image-tag-mutable": "image",
    "container-privileged": "privileged",
    "container-root-filesystem-writable": "readonlyRootFilesystem",
    "environment-plaintext-secrets": "environment",
    "lb-container-no-health-check": "healthCheck",
    "runtime-heap-exceeds-limit": "environment",
    "xray-sidecar-misconfigured": "",
    "dotnet-monitor-sidecar-misconfigured": "",
}
#: Registry check → the task-level field it judges.
TASK_FIELDS: Mapping[str, str] = {
    "fargate-task-size-invalid": "cpu",
    "task-cpu-unreserved": "cpu",
}


def annotate(findings: Sequence[Finding], candidate: Candidate) -> list[Finding]:
    """Findings with `json_path` (in the file) and `line` where they concern the file."""
    out = []
    for f in findings:
        rel = relative_path(f, candidate)
        if rel is None:
            out.append(f)
            continue
        path = candidate.file_path(rel)
        data: dict[str, Any] = {**f.data, "json_path": path}
        line = candidate.line(path)
        if line is not None:
            data["line"] = line
        out.append(replace(f, data=data))
    return out


def relative_path(f: Finding, candidate: Candidate) -> str | None:
    """The request-relative path a finding is about, or None when it is not about the file."""
    if "file" in f.data:  # waiver findings point at the waiver file
        return None
    given = f.data.get("json_path")
    if isinstance(given, str):
        return given
    if f.resource != candidate.arn:
        return None
    if f.check in TASK_FIELDS:
        return _task_field(f)
    if f.check in CONTAINER_FIELDS:
        return _container_field(f, candidate.request)
    return ""


def _task_field(f: Finding) -> str:
    missing = f.data.get("missing")
    if isinstance(missing, list) and missing:
        return str(missing[0])
    field = f.data.get("field")
    return str(field) if field in ("cpu", "memory") else TASK_FIELDS[f.check]


def _container_field(f: Finding, request: Mapping[str, Any]) -> str:
    name = f.data.get("container")
    index = next((i for i, c in enumerate(containers(request))
                  if container_name(c) == name), None)
    if index is None:
        return "containerDefinitions"
    base = f"containerDefinitions[{index}]"
    ctr = containers(request)[index]
    field = CONTAINER_FIELDS[f.check]
    if f.check == "runtime-heap-exceeds-limit" and f.data.get("source") in ("command",
                                                                          "entryPoint"):
        return f"{base}.{f.data['source']}"
    if field == "environment":
        wanted = f.data.get("source") if f.check == "runtime-heap-exceeds-limit" else next(
            iter(f.data.get("names") or []), None)
        env = ctr.get("environment") or []
        hit = next((i for i, e in enumerate(env)
                    if isinstance(e, dict) and e.get("name") == wanted), None)
        return f"{base}.environment[{hit}]" if hit is not None else f"{base}.environment"
    return f"{base}.{field}" if field else base
