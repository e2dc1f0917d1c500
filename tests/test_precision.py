"""Diagnoses that say exactly the right thing, over the whole incident suite and on the
look-alikes of tests/incidents/s_precision.py: no leak without a climb or a limit reached,
no template placeholder in any rendering, no evidence about other resources, no
double-counted setting, and a ranking that keeps a `low` below a `medium`.

The reports are built once per run (the engine is deterministic) and shared by the tests;
each test reads them and asserts one promise."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from checker.model import Diagnosis, Report
from checker.pipeline import Engine
from checker.render import RenderOptions, render
from tests.incidents import s_precision  # noqa: F401  (registers its look-alikes)
from tests.incidents.healthy import healthy_cluster
from tests.incidents.scenarios import all_scenarios, service_arn

ENGINE = Engine()
NAMES = ["healthy", *(s.name for s in all_scenarios())]
#: A `{name}` or `{name|fallback}` the template filler left: never meant for a reader. JSON
#: objects and JMESPath projections (`{id:ec2InstanceId}`) have a colon or quote and pass.
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(\|[^{}]*)?\}")


@cache
def _bundle(name: str) -> dict[str, Any]:
    if name == "healthy":
        return healthy_cluster()
    return next(s for s in all_scenarios() if s.name == name).bundle()


@cache
def report(name: str) -> Report:
    return ENGINE.analyze(_bundle(name), generated_at="2026-11-20T10:00:00+00:00")


def _on(report_: Report, diagnosis: str, service: str) -> list[Diagnosis]:
    return [d for d in report_.diagnoses
            if d.id == diagnosis and service_arn(service) in d.resources]


# -- a leak needs a climb or a hard limit reached -----------------------------------------
def test_oom_after_hours_with_soft_limits_and_flat_memory_is_no_leak() -> None:
    rep = report("soft-limit-oom-after-hours")
    assert not _on(rep, "memory-leak", "reports"), [d.summary for d in rep.diagnoses[:3]]
    assert rep.diagnoses[0].id == "host-memory-overcommit"


def test_oom_after_hours_at_a_hard_limit_is_still_a_leak() -> None:
    """The rule-out above must not cost the leak its own incident: kills at the hard
    limit after hours of uptime, with the climb on the graph."""
    leak = _on(report("memory-leak"), "memory-leak", "checkout")
    assert leak and leak[0].rank == 1
    assert "MiB hard limit" in leak[0].summary or "climbs" in leak[0].summary


# -- no placeholder reaches a reader ------------------------------------------------------
def _texts(d: Diagnosis) -> list[str]:
    return [d.title, d.summary, *d.why, *(r.step for r in d.remediation),
            *(r.command or "" for r in d.remediation)]


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_no_placeholder_in_any_rendering_of_any_incident(fmt: str) -> None:
    bad = []
    for name in NAMES:
        rep = report(name)
        out = render(rep, fmt, RenderOptions(width=160, verbose=True))
        if fmt == "json":
            diags = json.loads(out)["diagnoses"]
            texts = [str(v) for d in diags for v in _walk_json(d)]
        else:
            texts = out.splitlines()
        bad += [f"{name}: {t.strip()[:200]}" for t in texts if PLACEHOLDER.search(t)]
    assert not bad, "\n".join(bad)


def test_no_placeholder_in_any_diagnosis_field() -> None:
    """The renderers may cut a long line; the diagnosis itself must be clean too."""
    bad = [f"{name} / {d.id}: {t[:200]}" for name in NAMES for d in report(name).diagnoses
           for t in _texts(d) if PLACEHOLDER.search(t)]
    assert not bad, "\n".join(bad)


def _walk_json(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _walk_json(v)]
    if isinstance(value, list):
        return [s for v in value for s in _walk_json(v)]
    return [value] if isinstance(value, str) else []


def test_the_placeholder_pattern_catches_what_the_filler_leaves() -> None:
    from checker.rank import fill

    assert PLACEHOLDER.search(fill("hits the {memory_limit_mib} MiB limit", {}))
    assert PLACEHOLDER.search(fill("{rev|x} and {missing}", {}))
    assert not PLACEHOLDER.search(fill("--query 'x[].{{id:ec2InstanceId}}'", {}))
    assert not PLACEHOLDER.search(fill("hits {limit_text}", {"limit_text": "the 512 MiB"}))


def test_a_leak_of_a_container_without_hard_limit_is_told_by_its_climb() -> None:
    """A soft-limit container whose climb is on the graph still leaks: memory-leak leads,
    told from the metric (a kill proves no limit reached when there is none)."""
    leak = _on(report("soft-limit-leak"), "memory-leak", "reports")
    assert leak and leak[0].rank == 1
    assert "climbs" in leak[0].summary and "{" not in leak[0].summary, leak[0].summary


def test_an_oom_summary_names_the_bound_it_hit() -> None:
    """stopped-task-oom says in words what a container hit: the hard limit, or its host's
    memory when it has a soft reservation only (a summary once read "the
    {memory_limit_mib} MiB limit" for a container without one)."""
    def oom(name: str, service: str) -> dict[str, Any]:
        return next(f.data for f in report(name).findings if f.check == "stopped-task-oom"
                    and f.service == service_arn(service) and f.status.value == "fail")
    soft = oom("soft-limit-oom-after-hours", "reports")
    assert soft["hard_limit"] is False
    assert soft["limit_text"] == "its host's memory (no hard limit; a soft reservation of 1024 MiB)"
    hard = oom("memory-leak", "checkout")
    assert hard["hard_limit"] is True and hard["limit_text"] == "the 1024 MiB hard limit"


# -- a diagnosis cites evidence about itself ----------------------------------------------
def test_every_evidence_row_is_about_the_diagnosis_resources() -> None:
    """Each row's finding is about one of the diagnosis's services, or, for a finding about
    no service (a NAT gateway, a cluster's hosts), about one of its resources or a
    diagnosis that covers no service."""
    bad = []
    for name in NAMES:
        rep = report(name)
        services: dict[tuple[str, str, str], set[str | None]] = {}
        for f in rep.findings:
            services.setdefault((f.check, f.resource, f.message), set()).add(f.service)
        for d in rep.diagnoses:
            lone = not any(":service/" in r for r in d.resources)
            for e in d.evidence:
                svcs = services.get((e.check, e.resource, e.message), set())
                if not (svcs & set(d.resources) or (None in svcs and (
                        lone or e.resource in d.resources))):
                    bad.append(f"{name} / {d.id} {d.resources}: {e.role} {e.check} "
                               f"{e.resource} (about {sorted(map(str, svcs))})")
    assert not bad, "\n".join(bad)


def test_no_diagnosis_cites_another_diagnosis_symptom() -> None:
    """A symptom row is a check the diagnosis's own hypotheses weigh, or the playbook's
    common entry point that no hypothesis weighs: never the proof of a neighbour."""
    books = {b.scenario: b for b in ENGINE.playbooks}
    bad = []
    for name in NAMES:
        for d in report(name).diagnoses:
            book = books[d.scenario]
            mine = {r.check for h in book.hypotheses if h.diagnosis == d.id for r in h.refs()}
            weighed = {r.check for h in book.hypotheses for r in h.refs()}
            bad += [f"{name} / {d.id}: cites {e.check} ({e.message[:80]})" for e in d.evidence
                    if e.role == "symptom" and e.check in weighed - mine]
    assert not bad, "\n".join(bad)


def test_two_gaps_on_one_service_keep_their_own_evidence() -> None:
    """plaintext-secrets cited "no container health check" and the health-check gap cited
    the secret; a blocked load balancer cited the dead default route and back."""
    def cited(name: str, diagnosis: str) -> set[str]:
        return {e.check for d in report(name).diagnoses if d.id == diagnosis
                for e in d.evidence}
    pair = "mixed-plaintext-and-no-health-check"
    assert cited(pair, "plaintext-secrets") == {"environment-plaintext-secrets"}
    assert "environment-plaintext-secrets" not in cited(pair, "observability-gaps")
    pair = "mixed-sg-blocks-lb-and-dead-route"
    sg, route = cited(pair, "security-group-blocks-lb"), cited(pair, "egress-route-missing")
    assert not sg & {"task-subnet-default-route", "stopped-task-image-pull",
                     "service-health-check-grace-too-short"}, sg
    assert not route & {"lb-to-task-security-group", "lb-target-health",
                        "service-event-unhealthy-targets", "stopped-task-elb-health"}, route


# -- secrets-pull-failure: the call that failed, never the network ------------------------
@pytest.mark.parametrize("name", ["sg-blocks-egress", "two-groups-block-egress",
                                  "vpc-dns-disabled"])
def test_a_secrets_call_that_the_network_broke_is_told_by_the_network(name: str) -> None:
    """The tasks could not reach Secrets Manager or ECR: the report names what broke the
    path and does not also claim a secret or a permission is wrong (vpc-dns-disabled's
    reason, cut by ECS after "RequestError: send request failed", read as registry
    credentials)."""
    rep = report(name)
    assert "secrets-pull-failure" not in {d.id for d in rep.diagnoses}
    top = rep.diagnoses[0]
    assert "stopped-task-secrets-pull" in {e.check for e in top.evidence}, top.id


def test_a_refused_secrets_call_is_named() -> None:
    diag = next(d for d in report("secrets-pull").diagnoses if d.id == "secrets-pull-failure")
    assert "could not read a secret from Secrets Manager" in diag.summary


# -- "reason truncated by ECS" only at the cut length -------------------------------------
#: A whole reason that ends in "..." (the agent's own credentials URL), 244 characters.
CREDENTIALS = ("CannotStartContainerError: Error response from daemon: failed to initialize "
               "logging driver: CredentialsEndpointError: failed to load credentials caused "
               "by: RequestError: send request failed caused by: Get http://169.254.170.2/v2/"
               "credentials/...")
#: A reason ECS cut at 255 characters (its cut ends in "...").
SSM_CUT = ("ResourceInitializationError: unable to pull secrets or registry auth: execution "
           "resource retrieval failed: unable to retrieve secrets from ssm: service call has "
           "been retried 5 time(s): RequestCanceled: request context canceled caused by: "
           "context deadli...")


@pytest.mark.parametrize(("check", "reason", "cut"), [
    ("stopped-task-start-failure", CREDENTIALS, False),
    ("stopped-task-secrets-pull", SSM_CUT, True),
])
def test_reason_truncated_only_at_the_api_cut_length(check: str, reason: str,
                                                     cut: bool) -> None:
    from tests import builders as b
    from tests.checks.harness import run_check

    assert len(SSM_CUT) == 255 and len(CREDENTIALS) < 255
    task = b.task("web", status="STOPPED", stop_code="TaskFailedToStart", reason=reason,
                  containers=[b.container("web", None, reason)])
    bundle = b.ecs_bundle([b.service("web", desired=2, running=1)], [task])
    (f,) = run_check(check, bundle)
    assert f.status.value == "fail"
    assert ("reason truncated by ECS" in f.message) is cut, f.message


# -- autoscaling-missing reads memory only against a hard limit ---------------------------
def test_memory_above_100_percent_of_soft_reservations_is_no_hot_service() -> None:
    rep = report("soft-reservation-above-100")
    assert not _on(rep, "autoscaling-missing", "reports"), [d.id for d in rep.diagnoses]
    (f,) = [f for f in rep.findings if f.check == "service-autoscaling-missing"
            and f.service == service_arn("reports")]
    assert f.status.value == "pass" and "soft reservations" in f.message, f.message


def test_memory_hot_against_a_hard_limit_still_counts() -> None:
    """Memory at 85-95 % of task memory with no scaling is still a hot service."""
    from tests import builders as b
    from tests import builders_service as bs
    from tests.checks.harness import run_check

    td = b.task_definition("web", containers=[b.container_def("web", memory=1024)])
    bundle = b.bundle(clusters=[b.cluster()], services=[b.service("web", desired=4)],
                      task_definitions=[td], scalable_targets=[], scaling_policies=[])
    bs.with_metrics(bundle, bs.series("AWS/ECS", "MemoryUtilization", [40, 85, 91, 88, 93]))
    (f,) = run_check("service-autoscaling-missing", bundle)
    assert f.status.value == "fail" and "MemoryUtilization" in f.message, f.message


# -- a Fargate scope gets no EC2 agent/AMI hint -------------------------------------------
@pytest.mark.parametrize(("launch", "hint"), [("FARGATE", False), ("EC2", True)])
def test_an_empty_series_blames_the_agent_only_on_ec2(launch: str, hint: bool) -> None:
    """A running service whose AWS/ECS series is empty: on EC2 the container instance's
    agent publishes it (an old one is a lead); Fargate has no agent to update."""
    from tests import builders as b
    from tests import builders_service as bs
    from tests.checks.harness import run_check

    bundle = b.bundle(clusters=[b.cluster()], services=[b.service("web", launchType=launch)],
                      task_definitions=[b.task_definition("web")])
    bs.with_metrics(bundle, bs.series("AWS/ECS", "CPUUtilization", []))
    (f,) = run_check("service-cpu-saturated", bundle)
    assert f.status.value == "unknown" and "published nothing" in f.message, f.message
    assert ("agent" in f.message) is hint, f.message


# -- a read-only root filesystem and ECS Exec are judged once -----------------------------
def test_root_filesystem_and_ecs_exec_never_both_fail_one_service() -> None:
    """Whatever readonlyRootFilesystem says, one of the two checks would object: read-only
    blocks ECS Exec, writable is a hardening gap. A service that turned ECS Exec on needs
    it writable; one that switched it off has nothing blocked."""
    bad = []
    for name in NAMES:
        rep = report(name)
        failing = {(f.check, f.service) for f in rep.findings if f.status.value == "fail"}
        for svc in _bundle(name)["resources"]["services"]:
            arn = svc["serviceArn"]
            both = {("container-root-filesystem-writable", arn),
                    ("ecs-exec-blocked", arn)} <= failing
            off_fails = (svc.get("enableExecuteCommand") is not True
                         and ("ecs-exec-blocked", arn) in failing)
            if both or off_fails:
                bad.append(f"{name} / {svc['serviceName']}: both={both} off_fails={off_fails}")
    assert not bad, "\n".join(bad)


def test_exec_enabled_with_a_read_only_root_filesystem_fails_once() -> None:
    """worker turned ECS Exec on and runs read-only: ECS Exec is what is broken."""
    rep = report("healthy")
    worker = service_arn("worker")
    fails = {f.check for f in rep.findings if f.service == worker and f.status.value == "fail"
             and f.check in ("ecs-exec-blocked", "container-root-filesystem-writable")}
    assert fails == {"ecs-exec-blocked"}


# -- a private VPC by design lacks an endpoint, not a route ----------------------------------
def test_an_isolated_vpc_is_told_the_missing_endpoint_not_a_default_route() -> None:
    rep = report("isolated-vpc-missing-endpoint")
    assert "egress-route-missing" not in {d.id for d in rep.diagnoses}
    top = rep.diagnoses[0]
    assert top.id == "missing-vpc-endpoints" and "ecr.dkr" in top.summary, top.summary
    assert "image-pull-failure on prod/api" in top.explains


def test_a_deleted_route_in_a_vpc_with_nat_gateways_is_still_the_route() -> None:
    """The look-alike: the same missing default route where NAT gateways exist is a route
    someone took away."""
    rep = report("egress-route-missing")
    assert rep.diagnoses[0].id == "egress-route-missing"
    assert not [d for d in rep.diagnoses if d.id == "missing-vpc-endpoints"
                and d.severity.value == "critical"]


# -- a low never outranks a medium as sure, unless docs/ranking.md says why ---------------
def _documented(low: Diagnosis, medium: Diagnosis) -> bool:
    """The exceptions docs/ranking.md states: a low that explains others is placed as
    their cause; a low incident outranks a medium risk (risks weigh a fifth); a resolved
    diagnosis is placed after every active one."""
    from checker.rank import is_risk

    return bool(low.explains) or (is_risk(medium.id) and not is_risk(low.id)) or (
        medium.status != "active" and low.status == "active")


def test_no_low_outranks_a_medium_of_equal_or_higher_confidence() -> None:
    bad = [f"{name}: #{lo.rank} {lo.id} (low, {lo.confidence}, {lo.score}) above "
           f"#{me.rank} {me.id} (medium, {me.confidence}, {me.score})"
           for name in NAMES for lo in report(name).diagnoses if lo.severity.value == "low"
           for me in report(name).diagnoses if me.severity.value == "medium"
           and me.confidence >= lo.confidence and lo.rank < me.rank
           and not _documented(lo, me)]
    assert not bad, "\n".join(bad)


def test_a_hygiene_gap_shared_by_every_service_stays_below_a_medium_risk() -> None:
    """Six services without alarms summed to 6.0, above worker's single AZ (4.4): the low
    now ties at the medium's score and the tie puts severity first."""
    rep = report("single-az-beside-no-alarms")
    ids = [d.id for d in rep.diagnoses]
    assert ids.index("single-az") < ids.index("observability-gaps"), ids
    gaps = next(d for d in rep.diagnoses if d.id == "observability-gaps")
    assert gaps.score <= next(d for d in rep.diagnoses if d.id == "single-az").score
