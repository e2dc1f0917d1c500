"""Every real stopped-task message of the corpus is classified as we expect.

The corpus (/work/shared/corpus/messages/ecs-messages.tsv, kind `stopped-reason`) holds
the messages AWS documents and users reported. Each is classified as the task's
stoppedReason, as a container's reason where ECS puts it there, cut at ECS's ~255
characters, and as the head of a longer message ECS truncated: the classification must
not change. Messages that are not stop reasons at all (API errors of
RegisterTaskDefinition/UpdateService filed under that kind) stay `unknown`, text kept.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pytest

from checks.lib.stop_reasons import REASON_LIMIT, Stop, classify
from tests import builders as b

# n → (expected category[/cause], also realistic as a container's `reason`)
EXPECTED: dict[int, tuple[str, bool]] = {
    31: ("start-failure/eni", False),          # Create Network Interface: subnet out of IPs
    32: ("start-failure/eni", False),          # InternalError: ENI attached after timeout
    33: ("start-failure/incompatible", False),
    34: ("start-failure/eni", False),
    35: ("start-failure/agent", False),
    36: ("oom", True),
    37: ("start-failure/runtime", True),
    38: ("start-failure/timeout", True),
    39: ("start-failure/memory", True),        # documented: over its memory at start
    40: ("start-failure/runtime", True),
    41: ("resource-init/volume", False),
    42: ("host-lost/spot", False),
    43: ("secrets-pull/secrets-manager", False),
    44: ("secrets-pull/secrets-manager", False),
    45: ("image-pull/auth", True),
    46: ("image-pull/network", True),
    47: ("image-pull/network", True),
    48: ("image-pull/not-found", True),
    49: ("image-pull/network", True),
    50: ("unknown", False),                    # bare heading "API error": says nothing alone
    51: ("image-pull/disk", True),
    52: ("image-pull/rate-limit", True),
    53: ("image-pull/network", True),
    54: ("image-pull/other", True),            # layer copy failed, status code cut off
    55: ("image-pull/auth", True),
    56: ("image-pull/network", True),          # documented: no route to S3 for the layers
    57: ("image-pull/other", True),            # rate limit OR network: the text cannot tell
    58: ("image-pull/network", True),
    72: ("elb-health", False),
    73: ("scheduler", False),
    74: ("host-lost/terminated", False),
    75: ("host-lost/deregistered", False),
    76: ("exited-no-code", False),             # the exit code decides; none given here
    77: ("start-failure/disk", True),
    78: ("unknown", False),                    # RegisterTaskDefinition error, not a stop
    79: ("unknown", False),                    # Terraform's form of the same
    80: ("unknown", False),                    # UpdateService error, not a stop
    81: ("secrets-pull/network", False),
    82: ("secrets-pull/secrets-manager", False),
    83: ("resource-init/log-group", False),
    84: ("start-failure/logging", True),
    85: ("resource-init/efs", False),
    86: ("secrets-pull/registry-auth", False),
    87: ("secrets-pull/network", False),
    88: ("oom", True),                         # CannotStartContainerError: init OOM-killed
    89: ("start-failure/logging", True),
    90: ("image-pull/other", True),            # cause cut off by ECS's truncation
    95: ("start-failure/eni", False),
    96: ("start-failure/failed-to-start", False),
    97: ("exited-no-code", False),
    98: ("oom", True),
}

TARGETS = {43: "Secrets Manager", 44: "Secrets Manager", 81: "SSM Parameter Store",
           82: "Secrets Manager", 86: "ECR (registry auth)", 87: "SSM Parameter Store"}

#: ECS sends these exactly as shown; they are never the head of a longer text.
WHOLE = {35}


@cache
def _corpus(path: Path) -> dict[int, str]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {int(r["n"]): r["message"] for r in rows if r["kind"] == "stopped-reason"}


@pytest.fixture
def corpus(shared_dir: Path) -> dict[int, str]:
    return _corpus(shared_dir / "corpus/messages/ecs-messages.tsv")


def _as_task_reason(message: str) -> Stop:
    return classify(b.task("web", status="STOPPED", reason=message,
                           containers=[b.container("web")]))


def _as_container_reason(message: str, category: str) -> Stop:
    """How ECS reports it: the container carries the reason; an OOM stops the task as an
    essential-container exit (here without exit code — it does happen), a start failure
    as TaskFailedToStart with no more detail on the task."""
    if category == "oom":
        task = b.task("web", status="STOPPED", stop_code="EssentialContainerExited",
                      reason="Essential container in task exited",
                      containers=[b.container("web", None, message)])
    else:
        task = b.task("web", status="STOPPED", stop_code="TaskFailedToStart",
                      containers=[b.container("web", None, message)])
    return classify(task)


def test_the_table_covers_exactly_the_corpus(corpus: dict[int, str]) -> None:
    assert set(corpus) == set(EXPECTED), (
        f"new corpus messages: {sorted(set(corpus) - set(EXPECTED))}; "
        f"gone: {sorted(set(EXPECTED) - set(corpus))}")


@pytest.mark.parametrize("n", sorted(EXPECTED))
def test_message_classifies_as_expected(corpus: dict[int, str], n: int) -> None:
    message, (expected, in_container) = corpus[n], EXPECTED[n]
    stop = _as_task_reason(message)
    assert stop.label == expected, f"#{n} {message!r}"
    assert stop.reason == message  # verbatim, unknown ones included
    if n in TARGETS:
        assert stop.target == TARGETS[n]
    if in_container:
        ctr = _as_container_reason(message, expected)
        assert (ctr.label, ctr.reason, ctr.container) == (expected, message, "web")


@pytest.mark.parametrize("n", sorted(EXPECTED))
def test_truncation_does_not_change_the_class(corpus: dict[int, str], n: int) -> None:
    message, (expected, _) = corpus[n], EXPECTED[n]
    assert _as_task_reason(message[:REASON_LIMIT]).label == expected
    if n in WHOLE:
        return
    # The documented text as the head of a longer real message that ECS cut at ~255.
    longer = f"{message}: caused by: {'detail ' * 60}"
    cut = longer[:REASON_LIMIT - 3] + "..."
    stop = _as_task_reason(cut)
    assert stop.label == expected, f"#{n} truncated: {cut!r}"
    assert stop.truncated


def test_unknown_reasons_keep_their_text(corpus: dict[int, str]) -> None:
    unknown = [n for n, (label, _) in EXPECTED.items() if label == "unknown"]
    for n in unknown:
        stop = _as_task_reason(corpus[n])
        assert (stop.category, stop.cause, stop.reason) == ("unknown", None, corpus[n])
        assert not stop.problem
