"""Service events and API failure reasons (checks/lib/service_events.py) against real ECS wording.

The corpus (shared/corpus/messages/ecs-messages.tsv) holds the documented messages; every
`service-event` and `api-failure-reason` row must get a known kind (or, for a message not
worth one, "unknown" with its text kept verbatim), and the same kind when cut at 255
characters. The rows of kind `stopped-reason` belong to checks/lib/stop_reasons.py.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.lib.service_events import UNKNOWN, current, kinds, parse
from tests import builders as b

MINE = ("service-event", "api-failure-reason")
#: corpus row n → (kind, reason): the expected classification, so a pattern edit that
#: moves a message to another kind fails here.
EXPECTED = {
    1: ("steady-state", None), 2: ("placement-failure", "unspecified"),
    3: ("placement-failure", "port-in-use"), 4: ("placement-failure", "insufficient-cpu"),
    5: ("placement-failure", "agent-disconnected"), 6: ("lb-unhealthy", "threshold"),
    7: ("start-failures", None), 8: ("throttled", None), 9: ("deployment-config-blocked", None),
    10: ("quota-limit", "task-limit"), 11: ("internal-error", None),
    12: ("quota-limit", "cpu-configuration"), 13: ("quota-limit", "memory-configuration"),
    14: ("quota-limit", "vcpu-limit"), 15: ("task-protection", "protected-tasks"),
    16: ("placement-failure", "no-container-instances"), 17: ("capacity-unavailable", None),
    18: ("deployment-failed", "tasks-failed-to-start"), 19: ("agent-timeout", None),
    20: ("lb-unhealthy", "target-group-not-found"), 21: ("lb-unhealthy", "target-not-found"),
    24: ("launch-incomplete", None), 25: ("quota-limit", "provisioning-limit"),
    26: ("lb-unhealthy", "unspecified"), 27: ("lb-unhealthy", "unspecified"),
    28: ("lb-unhealthy", "unspecified"), 29: ("lb-unhealthy", "unspecified"),
    30: ("container-unhealthy", None), 59: ("resource-missing", None),
    60: ("placement-failure", "insufficient-resources"),
    61: ("placement-failure", "agent-disconnected"),
    62: ("placement-failure", "placement-constraint"),
    63: ("placement-failure", "missing-attribute"),
    64: ("placement-failure", "no-container-instances"),
    65: ("placement-failure", "no-container-instances"), 66: ("placement-failure", "eni"),
    67: ("placement-failure", "insufficient-gpu"), 68: ("placement-failure", "wrong-az"),
    69: ("placement-failure", "instance-inactive"),
    70: ("task-protection", "deployment-blocked"), 71: ("task-protection", "task-not-valid"),
    91: ("placement-failure", "eni"), 92: ("placement-failure", "insufficient-memory"),
    93: ("deployment-failed", "tasks-failed-to-start"), 94: ("start-failures", None),
    99: ("placement-failure", "port-in-use"),
}


def _rows(shared: Path) -> list[dict[str, str]]:
    path = shared / "corpus" / "messages" / "ecs-messages.tsv"
    with path.open(encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh, delimiter="\t") if r["kind"] in MINE]


def test_every_corpus_message_is_classified(shared_dir: Path) -> None:
    rows = _rows(shared_dir)
    assert len(rows) >= 40
    counts: Counter[str] = Counter()
    for row in rows:
        event = parse(row["message"])
        counts[event.kind] += 1
        assert event.message == row["message"]  # kept verbatim, whatever the kind
        assert event.kind in kinds()
        expected = EXPECTED.get(int(row["n"]))
        assert expected is not None, f"new corpus row {row['n']}: add it to EXPECTED"
        assert (event.kind, event.reason) == expected, row["message"]
        assert parse(row["message"][:255]).kind == event.kind
    assert counts[UNKNOWN] == 0
    print("\ncorpus classification:", dict(sorted(counts.items())))


#: Real wording seen in the wild (service names, ids, ECS' own punctuation) → kind, reason,
#: and fields the parser must pull out.
REAL = [
    ("(service clouddriver-dev-v0013) was unable to place a task because no container instance"
     " met all of its requirements. The closest matching (container-instance b2db08b9-0e55-4f7e"
     "-8331-f9fb0a707938) has insufficient CPU units available. For more information, see the "
     "Troubleshooting section of the Amazon ECS Developer Guide.",
     "placement-failure", "insufficient-cpu",
     {"service_name": "clouddriver-dev-v0013",
      "container_instance": "b2db08b9-0e55-4f7e-8331-f9fb0a707938"}),
    ("(service PLM-ECS-Service) was unable to place a task because no container instance met all"
     " of its requirements. The closest matching (container-instance 3a09814c860f4d3fb05f6f14c6"
     "489eb3) doesn't have the agent connected. For more information, see the Troubleshooting "
     "section of the Amazon ECS Developer Guide.", "placement-failure", "agent-disconnected",
     {"container_instance": "3a09814c860f4d3fb05f6f14c6489eb3"}),
    ("service hello-world was unable to place a task because no container instance met all of "
     "its requirements. Reason: No Container Instances were found in your cluster.",
     "placement-failure", "no-container-instances", {"service_name": "hello-world"}),
    ("(service api) (deployment ecs-svc/3468368874827011691) deployment failed: tasks failed to"
     " start.", "deployment-failed", "tasks-failed-to-start",
     {"deployment": "ecs-svc/3468368874827011691"}),
    ("(service fraud-api-prod) (deployment ecs-svc/8028) deployment failed: alarm detected.",
     "deployment-failed", "alarm", {}),
    ("(service hokusai-api-development) rolling back to deployment ecs-svc/7812920447217021088.",
     "deployment-rollback", None, {"deployment": "ecs-svc/7812920447217021088"}),
    ("(service auth) (deployment ecs-svc/4898377691688528528) deployment completed.",
     "deployment-completed", None, {}),
    ("(service web) has started 2 tasks: (task 1a4459fa94c64ad9b4e0e0a3d3c2b1a0) (task "
     "2b5560ab05d75be0c5f1f1b4e4d3c2b1).", "tasks-started", None,
     {"count": 2, "tasks": ["1a4459fa94c64ad9b4e0e0a3d3c2b1a0",
                            "2b5560ab05d75be0c5f1f1b4e4d3c2b1"]}),
    ("(service web) has stopped 1 running tasks: (task 41cbdd2a7b8c4d5e9f0a1b2c3d4e5f60).",
     "tasks-stopped", None, {"count": 1}),
    ("(service tcgl01-api) stopped 2 pending tasks.", "tasks-stopped", None, {"count": 2}),
    ("(service cerebrumdev-backend, taskSet ecs-svc/2724164339164815955) has begun draining "
     "connections on 1 tasks.", "draining", None, {"service_name": "cerebrumdev-backend"}),
    ("(service cerebrumdev-backend) deregistered 1 targets in (target-group arn:aws:elastic"
     "loadbalancing:us-west-2:123456789012:targetgroup/cb/0a1b2c3d4e5f6a7b)",
     "targets-deregistered", None, {"count": 1}),
    ("(service web) registered 1 targets in (target-group arn:aws:elasticloadbalancing:us-east-"
     "1:123456789012:targetgroup/prod-web/69ffe37c0167f71c)", "targets-registered", None,
     {"target_group": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/"
                      "prod-web/69ffe37c0167f71c"}),
    ("(service web) (task fb1a36d8a1b2c3d4e5f60718293a4b5c) (port 4000) is unhealthy in "
     "(target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-web/"
     "69ffe37c0167f71c) due to (reason Request timed out).", "lb-unhealthy", "timeout",
     {"port": 4000, "detail": "Request timed out", "tasks": ["fb1a36d8a1b2c3d4e5f60718293a4b5c"]}),
    ("(service course-app-svc) rolling back to deployment ecs-svc/123456. (reason: deployment "
     "circuit breaker triggered)", "deployment-rollback", None, {}),
]


@pytest.mark.parametrize(("message", "kind", "reason", "fields"), REAL)
def test_real_wording(message: str, kind: str, reason: str | None,
                      fields: dict[str, object]) -> None:
    event = parse(message, "2026-11-20T09:55:00+00:00")
    assert (event.kind, event.reason) == (kind, reason)
    assert {k: event.fields.get(k) for k in fields} == fields
    assert event.created_at is not None and event.message == message


def test_truncated_placement_failure_keeps_its_kind_and_loses_only_the_reason() -> None:
    long_name = "checkout-api-" + "x" * 150
    message = (f"(service {long_name}) was unable to place a task because no container "
               "instance met all of its requirements. The closest matching (container-instance "
               "3f4de1c5-ffdd-4954-af7e-75b4be0c8841) has insufficient memory available.")
    assert parse(message).reason == "insufficient-memory"
    cut = parse(message[:255])
    assert (cut.kind, cut.reason) == ("placement-failure", "unspecified")


def test_unknown_messages_are_kept_verbatim() -> None:
    text = "(service web) did something ECS never documented (code 42)."
    event = parse(text)
    assert (event.kind, event.message, event.problem) == (UNKNOWN, text, False)
    assert event.fields["service_name"] == "web"
    assert event.to_data()["message"] == text


def test_service_names_that_look_like_codes_do_not_change_the_reason() -> None:
    event = parse("(service AGENT-LOCATION) was unable to place a task because no container "
                  "instance met all of its requirements. The closest matching (container-"
                  "instance 3f4de1c5-ffdd) has insufficient memory available.")
    assert event.reason == "insufficient-memory"


def test_current_events() -> None:
    def ev(minutes: float, text: str) -> object:
        return parse(text, b.ago(minutes=minutes))
    fail = "(service web) is unable to consistently start tasks successfully."
    steady = "(service web) has reached a steady state."
    wanted = frozenset({"start-failures"})
    events = [ev(100, steady), ev(200, fail)]
    assert current(events, b.NOW, wanted) == []                   # resolved since
    assert len(current([ev(200, fail)], b.NOW, wanted)) == 1      # unresolved, < 6 h
    assert current([ev(400, fail)], b.NOW, wanted) == []          # older than 6 h
    assert len(current([ev(5, steady), ev(50, fail)], b.NOW, wanted)) == 1  # < 1 h


@given(st.one_of(st.none(), st.integers(), st.text(max_size=300)))
def test_parse_never_raises(message: object) -> None:
    event = parse(message)
    assert event.kind in kinds()
