"""Waivers (`.ecsdoctor.yaml`, read by checker/gate/waivers.py into the gate's input): each
one is a dated promise, and this check keeps it. The gate turns the findings a valid waiver
covers into `skipped` after the checks ran, and counts on each waiver's finding how many it
covered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.facts import Facts, obj, objs
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check


def label(waiver: Any) -> str:
    """`waivers[0] (container-privileged on web:*, container agent)`."""
    w = obj(waiver)
    extra = f", container {w['container']}" if w.get("container") else ""
    return f"waivers[{w.get('index')}] ({w.get('check')} on {w.get('resource')}{extra})"


@check(id="waiver-expired", area="gate", severity=Severity.HIGH,
       title="Waiver has expired", needs=("gate",),
       docs="https://docs.aws.amazon.com/securityhub/latest/userguide/"
            "finding-workflow-status.html",
       emits=("check_waived", "expires", "file", "line", "reason", "used", "waiver"))
def waiver_expired(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A waiver is a dated promise; once past its date the finding it covered counts again
    and the waiver itself fails, so it is renewed or removed on purpose."""
    waivers = obj(facts.gate.get("waivers"))
    if not waivers:
        yield skipped(facts.subject, "no waiver file (.ecsdoctor.yaml in the working directory, "
                      "or --waivers)")
        return
    path, today = str(waivers.get("file")), str(waivers.get("today"))
    for w in objs(waivers.get("waivers")):
        expires = str(w.get("expires"))
        data: dict[str, Any] = {"file": path, "waiver": w.get("index"),
                                "check_waived": w.get("check"), "expires": expires,
                                "reason": w.get("reason")}
        if w.get("line") is not None:
            data["line"] = w.get("line")
        resource = f"{path}#waivers[{w.get('index')}]"
        if today > expires:  # ISO dates order as strings
            yield failed(resource, f"{label(w)} expired on {expires}: the findings it covered "
                         f"count again; renew it with a new date or fix them (reason was: "
                         f"{w.get('reason')})", **data)
        else:
            yield passed(resource, f"{label(w)} is valid until {expires}", **data)
