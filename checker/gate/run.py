"""`ecsdoctor gate`: judge a task definition file before it is registered and deployed.

Three layers, each optional beyond the first:

1. **Static** (always, offline): the file is validated against the API model
   (checker.gate.candidate), then every taskdef and security check of the registry runs on it as
   the only task definition of a bundle, plus the gate's own file checks.
2. **Live** (`--cluster`, and `--service`): the existing collectors read the target; the
   candidate is put next to the revision the service runs now, and checked for fit, load
   balancer and network configuration, memory against the observed peak, and what it removes
   (checker.gate.checks, checker.gate.diff). The service's network checks run again on a
   "what if" bundle where the service runs the candidate.
3. **References** (with `--cluster`): read-only calls prove that the roles, images, secrets and
   log groups the file names exist and that the execution role may use them
   (checker.collect.gate_refs).

Then waivers (checker.gate.waivers) turn accepted findings into skipped ones, and the findings are
replayed through the one pipeline (checker.pipeline.Engine) so that playbooks, ranking and
the Report are exactly what `scan` produces. Exit code: 1 when a failing finding or a
diagnosis is at or above `--fail-on`, else 0 (bad input raises InputError → 2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker import registry
from checker.bundle import new_bundle
from checker.errors import InputError
from checker.facts import Facts, Item, arn_name
from checker.gate import checks as static_live
from checker.gate import diff as gate_diff
from checker.gate import waivers
from checker.gate.candidate import Candidate, load_candidate
from checker.gate.catalog import GATE_RULES, LIVE, REFS, rules
from checker.gate.paths import annotate
from checker.gate.target import GateCheck, Target, offline, run
from checker.model import Finding, Report, Result, Severity, Status
from checker.registry import CheckSpec, Registry

#: Registry areas whose checks judge a task definition on its own.
STATIC_AREAS = ("taskdef", "security")
#: Registry checks replaced by a gate check that compares with the running revision.
REPLACED = {"task-memory-near-limit": "gate-memory-below-peak"}
#: Network checks re-run with the service running the candidate ("what if").
WHAT_IF = ("image-registry-unreachable", "lb-to-task-security-group", "nacl-blocks-lb-traffic",
           "secrets-logs-unreachable", "task-sg-egress-https", "task-subnet-default-route")

STATIC_CHECKS: tuple[tuple[str, GateCheck], ...] = (
    ("gate-input-null-fields", static_live.gate_input_null_fields),
    ("gate-input-invalid-value", static_live.gate_input_invalid_value),
    ("gate-execution-role-missing", static_live.gate_execution_role_missing),
)
LIVE_CHECKS: tuple[tuple[str, GateCheck], ...] = (
    ("gate-cluster-active", static_live.gate_cluster_active),
    ("gate-capacity-fit", static_live.gate_capacity_fit),
    ("gate-load-balancer-container", static_live.gate_load_balancer_container),
    ("gate-network-configuration", static_live.gate_network_configuration),
    ("gate-memory-below-peak", gate_diff.gate_memory_below_peak),
    ("gate-resources-reduced", gate_diff.gate_resources_reduced),
    ("gate-health-check-removed", gate_diff.gate_health_check_removed),
    ("gate-log-configuration-removed", gate_diff.gate_log_configuration_removed),
    ("gate-revision-diff", gate_diff.gate_revision_diff),
)
assert {c for c, _ in LIVE_CHECKS} == set(LIVE)


@dataclass(frozen=True)
class GateOptions:
    task_definition: Path
    cluster: str | None = None
    service: str | None = None
    region: str | None = None
    profile: str | None = None
    fail_on: Severity = Severity.HIGH
    #: None: `.ecsdoctor.yaml` in the working directory when it exists.
    waivers: Path | None = None
    since: dt.timedelta = dt.timedelta(days=7)
    today: dt.date | None = None
    endpoint_url: str | None = None


@dataclass(frozen=True)
class Verdict:
    report: Report
    exit_code: int
    blocking: tuple[Finding, ...] = ()
    waived: int = 0
    unknown: int = 0

    def line(self, fail_on: Severity) -> str:
        """The one line CI logs show, whatever the output format."""
        tail = f"{self.waived} waived, {self.unknown} could not be checked"
        if self.exit_code:
            names = ", ".join(sorted({f.check for f in self.blocking})) or "diagnoses"
            return (f"ecsdoctor gate: FAIL — {len(self.blocking)} finding(s) at or above "
                    f"{fail_on.value} ({names}); {tail}")
        return f"ecsdoctor gate: PASS — nothing at or above {fail_on.value}; {tail}"


def run_gate(opts: GateOptions, session: Any = None) -> Verdict:
    if opts.service and not opts.cluster:
        raise InputError("--service needs --cluster (the cluster the service runs in)")
    candidate = load_candidate(opts.task_definition)
    reg = registry.load()
    waiver_file = _waivers(opts.waivers, set(reg.specs) | set(GATE_RULES))
    if opts.cluster and session is None:
        from checker.collect.session import session_for

        session = session_for(opts.region, opts.profile)
    target, bundle = _target(opts, candidate, session)
    findings = _static(reg, target) + run(STATIC_CHECKS, target)
    if target.facts is not None and bundle is not None:
        findings += _live(reg, target, bundle, session, opts)
    else:
        findings += list(offline([*LIVE, *REFS], candidate.arn))
    findings = annotate(findings, candidate)
    findings = waivers.apply(findings, waiver_file, opts.today or dt.datetime.now(dt.UTC).date())
    scope = _scope(opts, candidate, target, waiver_file)
    report = replay(findings, reg, scope, target.facts, bundle)
    return verdict(report, opts.fail_on)


def _waivers(path: Path | None, known: set[str]) -> waivers.WaiverFile | None:
    if path is not None:
        return waivers.load(path, known)
    default = Path(waivers.DEFAULT_FILE)
    return waivers.load(default, known) if default.is_file() else None


def _target(opts: GateOptions, candidate: Candidate,
            session: Any) -> tuple[Target, dict[str, Any] | None]:
    if not opts.cluster:
        return Target(candidate), None
    from checker.collect import Scope, collect

    scope = Scope(clusters=(opts.cluster,), services=(opts.service,) if opts.service else (),
                  since=opts.since)
    bundle = collect(session, scope, endpoint_url=opts.endpoint_url)
    facts = Facts(bundle)
    service = _service(facts, opts.service) if opts.service else None
    return Target(candidate, facts, cluster=opts.cluster, service=service), bundle


def _service(facts: Facts, name: str) -> Item | None:
    wanted = arn_name(name)
    found = [s for s in (facts.services if facts.has("services") else [])
             if s.get("serviceName") == wanted]
    return found[0] if found else None


def _live(reg: Registry, target: Target, bundle: dict[str, Any], session: Any,
          opts: GateOptions) -> list[Finding]:
    from checker.collect import gate_refs

    out = run(LIVE_CHECKS, target)
    if target.service is not None:
        out += what_if(reg, bundle, target)
    facts = target.facts
    assert facts is not None
    refs = gate_refs.Refs(session=session, region=str(facts.region or session.region_name),
                          account=str(facts.account or ""), endpoint_url=opts.endpoint_url)
    return out + run(gate_refs.checks(refs), target)


# -- registry checks on the candidate -------------------------------------------------------

def _specs(reg: Registry, ids: Iterable[str]) -> list[CheckSpec]:
    return [reg[i] for i in ids if i in reg]


def _static(reg: Registry, target: Target) -> list[Finding]:
    """Every taskdef/security check on a bundle whose only task definition is the candidate
    (and, live, whose only service is the target service running it)."""
    resources: dict[str, list[Item]] = {"task_definitions": [target.td]}
    if target.service is not None:
        resources["services"] = [swap(target.service, target.arn)]
    if target.facts is not None and target.facts.has("clusters"):
        resources["clusters"] = target.facts.clusters
    run_now, skip = [], []
    for spec in reg:
        if spec.area not in STATIC_AREAS:
            continue
        if spec.id in REPLACED or not set(spec.needs) <= set(resources):
            skip.append(spec)
        else:
            run_now.append(spec)
    facts = target.facts
    bundle = new_bundle(account=facts.account if facts else None,
                        region=facts.region if facts else None, scope={})
    bundle["resources"] = resources
    return analyze(Registry(run_now), bundle) + [_not_run(s, target) for s in skip]


def _not_run(spec: CheckSpec, target: Target) -> Finding:
    if spec.id in REPLACED:
        why = f"judged by {REPLACED[spec.id]} (the candidate's limit against the running peak)"
    else:
        why = f"needs --cluster and --service ({', '.join(spec.needs)})"
    return Finding(spec.id, Status.SKIPPED, spec.severity, target.arn, why)


def swap(service: Item, td_arn: str) -> dict[str, Any]:
    """The service as it will be once it runs `td_arn` (primary deployment included)."""
    deployments = [{**d, "taskDefinition": td_arn} if d.get("status") == "PRIMARY" else d
                   for d in service.get("deployments", []) or [] if isinstance(d, dict)]
    return {**service, "taskDefinition": td_arn, "deployments": deployments}


def what_if(reg: Registry, bundle: Mapping[str, Any], target: Target) -> list[Finding]:
    """The service's network checks, as if it already ran the candidate."""
    assert target.service is not None
    resources = dict(bundle.get("resources", {}))
    resources["services"] = [swap(s, target.arn) if s.get("serviceArn") == target.service_arn
                             else s for s in resources.get("services", [])]
    resources["task_definitions"] = [*resources.get("task_definitions", []), target.td]
    return analyze(Registry(_specs(reg, WHAT_IF)), {**bundle, "resources": resources})


def analyze(checks: Registry, bundle: Mapping[str, Any]) -> list[Finding]:
    from checker.pipeline import Engine

    return list(Engine(checks=checks, playbooks=[]).analyze(bundle).findings)


# -- the report -----------------------------------------------------------------------------

def _scope(opts: GateOptions, candidate: Candidate, target: Target,
           waiver_file: waivers.WaiverFile | None) -> dict[str, Any]:
    scope: dict[str, Any] = {"clusters": [opts.cluster] if opts.cluster else []}
    if opts.service:
        scope["services"] = [opts.service]
    scope.update({"task_definition_file": candidate.path, "task_definition": candidate.arn,
                  "mode": "live" if target.live else "offline", "fail_on": opts.fail_on.value})
    if waiver_file is not None:
        scope["waivers_file"] = waiver_file.path
    return scope


def replay(findings: Sequence[Finding], reg: Registry, scope: dict[str, Any],
           facts: Facts | None, bundle: Mapping[str, Any] | None) -> Report:
    """Run the final findings through the one pipeline (playbook walk, ranking, Report):
    each check becomes a spec that yields what it found."""
    from checker import playbook
    from checker.pipeline import Engine

    by_check: dict[str, list[Finding]] = {}
    for f in findings:
        by_check.setdefault(f.check, []).append(f)
    specs = [_replayed(check_id, found) for check_id, found in sorted(by_check.items())]
    scope = {**scope, "rules": rules(reg, by_check)}
    replay_bundle = new_bundle(account=facts.account if facts else None,
                               region=facts.region if facts else None, scope=scope)
    replay_bundle["errors"] = list((bundle or {}).get("errors", []))
    if bundle is not None:
        replay_bundle["collected_at"] = bundle.get("collected_at")
    engine = Engine(checks=Registry(specs), playbooks=playbook.load(reg))
    return engine.analyze(replay_bundle)


def _replayed(check_id: str, found: list[Finding]) -> CheckSpec:
    results = [Result(f.status, f.resource, f.message, f.data, f.service, f.severity)
               for f in found]

    def replay_check(facts: Facts, prior: registry.Prior) -> Iterable[Result]:
        del facts, prior
        return results

    return CheckSpec(id=check_id, area="taskdef", severity=found[0].severity,
                     title=check_id, needs=(), after=(), docs="", func=replay_check,
                     module=__name__)


def verdict(report: Report, fail_on: Severity) -> Verdict:
    blocking = tuple(f for f in report.findings
                     if f.status is Status.FAIL and f.severity.at_least(fail_on))
    failing_diagnoses = report.failing_at_least(fail_on)
    waived = sum(1 for f in report.findings if "waived" in f.data)
    unknown = sum(1 for f in report.findings if f.status is Status.UNKNOWN)
    code = 1 if blocking or failing_diagnoses else 0
    return Verdict(report, code, blocking, waived, unknown)
