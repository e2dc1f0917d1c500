"""`ecsdoctor gate`: judge a task definition file before it is registered and deployed.

The gate is the engine's pipeline over a bundle of its own:

1. **Read** the file (checker.gate.candidate): validated against the API model, nulls
   dropped and values outside the API's enums noted; and the waivers (checker.gate.waivers).
2. **Build one bundle.** Offline: the candidate as its only task definition, and the gate's
   input (bundle key `gate`: the file, what reading it found, the waivers). Live
   (`--cluster`, `--service`): the collectors read the target; the candidate replaces the
   task definitions, the target service is put there as if it already ran the candidate,
   the revision it runs now is kept in the gate's input, and the reference collector
   (checker.collect.refs) asks AWS about the roles, images, secrets and log groups the file
   names.
3. **Run** the registry's `gate` selection over it (graph.run): the task definition's own
   checks, the gate's checks (checks/gate/) and the network checks that judge the service
   running the candidate. Checks that need AWS data are skipped offline by the runner.
4. **Locate** each finding's path in the file (a line for code scanning), apply the waivers,
   and let the engine diagnose, rank and report (Engine.report), with the playbooks of the
   whole registry. Exit code: 1 when a failing finding or a diagnosis is at or above
   `--fail-on`, else 0 (bad input raises InputError → 2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from checker import graph, registry
from checker.bundle import GATE, METRICS, new_bundle
from checker.errors import InputError
from checker.facts import Facts, Item, arn_name
from checker.gate import waivers
from checker.gate.candidate import Candidate, load_candidate
from checker.model import Finding, Report, Severity, Status
from checker.pipeline import Engine

#: The registry's selection the gate runs (CheckSpec.products).
PRODUCT = "gate"


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
                    f"{fail_on.value} ({names}); {tail}{waivers.hidden_lines(self.report)}")
        return (f"ecsdoctor gate: PASS — nothing at or above {fail_on.value}; {tail}"
                f"{waivers.hidden_lines(self.report)}")


def run_gate(opts: GateOptions, session: Any = None) -> Verdict:
    if opts.service and not opts.cluster:
        raise InputError("--service needs --cluster (the cluster the service runs in)")
    candidate = load_candidate(opts.task_definition)
    known = registry.load()
    today = opts.today or dt.datetime.now(dt.UTC).date()
    waiver_file = _waivers(opts.waivers, set(known.specs), today)
    if opts.cluster and session is None:
        from checker.collect.session import session_for

        session = session_for(opts.region, opts.profile)
    bundle = _bundle(opts, candidate, waivers.gate_input(waiver_file, today), session)
    facts = Facts(bundle)
    checks = known.select(PRODUCT)
    findings = waivers.apply(locate(graph.run(checks, facts), candidate), waiver_file, today)
    report = Engine(checks=known).report(
        facts, findings, checks=checks, scope=_scope(opts, candidate, waiver_file))
    return verdict(report, opts.fail_on)


def _waivers(path: Path | None, known: set[str],
             today: dt.date) -> waivers.WaiverFile | None:
    if path is not None:
        return waivers.load(path, known, today)
    default = Path(waivers.DEFAULT_FILE)
    return waivers.load(default, known, today) if default.is_file() else None


# -- the bundle -----------------------------------------------------------------------------

def _bundle(opts: GateOptions, candidate: Candidate, waiver_input: dict[str, Any] | None,
            session: Any) -> dict[str, Any]:
    gate: dict[str, Any] = {
        "task_definition": candidate.arn, "file": candidate.path, "live": bool(opts.cluster),
        "nulls": list(candidate.nulls),
        "invalid_values": [{"path": o.path, "value": o.value, "allowed": list(o.allowed)}
                           for o in candidate.off_enum],
        "cluster": opts.cluster, "service": None, "running_task_definition": None,
        "running": None, "waivers": waiver_input,
    }
    if not opts.cluster:
        bundle = new_bundle(account=None, region=None, scope={})
        del bundle[METRICS]  # not collected: the runner skips what needs them
        bundle["resources"] = {"task_definitions": [candidate.task_definition()]}
    else:
        bundle = _live(opts, candidate, gate, session)
    bundle[GATE] = gate
    return bundle


def _live(opts: GateOptions, candidate: Candidate, gate: dict[str, Any],
          session: Any) -> dict[str, Any]:
    """The target as collected, with the candidate in place of its task definitions and
    the target service running it; the revision it runs now goes to the gate's input."""
    from checker.collect import Scope, collect
    from checker.collect.refs import collect_refs

    assert opts.cluster is not None
    scope = Scope(clusters=(opts.cluster,), services=(opts.service,) if opts.service else (),
                  since=opts.since)
    bundle = collect(session, scope, endpoint_url=opts.endpoint_url)
    facts = Facts(bundle)
    resources: dict[str, Any] = dict(bundle.get("resources", {}))
    td = candidate.task_definition()
    service = _service(facts, opts.service) if opts.service else None
    if service is not None:
        running = str(service.get("taskDefinition") or "")
        gate.update(service=service.get("serviceArn"), running_task_definition=running,
                    running=facts.task_definition(running)
                    if facts.has("task_definitions") else None)
    if facts.has("services"):
        resources["services"] = [swap(service, candidate.arn)] if service is not None else []
    resources["task_definitions"] = [td]
    region = str(facts.region or session.region_name)
    refs, errors = collect_refs(session, td, region=region, account=str(facts.account or ""),
                                endpoint_url=opts.endpoint_url)
    resources.update(refs)
    bundle["resources"] = resources
    # a failed DescribeTaskDefinition was about the running revision (the revision checks
    # say so), not about the candidate
    bundle["errors"] = [{**e, "collection": "running_task_definition"}
                        if e.get("collection") == "task_definitions" else e
                        for e in [*bundle.get("errors", []), *errors]]
    return bundle


def _service(facts: Facts, name: str) -> Item | None:
    wanted = arn_name(name)
    found = [s for s in (facts.services if facts.has("services") else [])
             if s.get("serviceName") == wanted]
    return found[0] if found else None


def swap(service: Item, td_arn: str) -> dict[str, Any]:
    """The service as it will be once it runs `td_arn` (primary deployment included)."""
    deployments = [{**d, "taskDefinition": td_arn} if d.get("status") == "PRIMARY" else d
                   for d in service.get("deployments", []) or [] if isinstance(d, dict)]
    return {**service, "taskDefinition": td_arn, "deployments": deployments}


# -- the report -----------------------------------------------------------------------------

def locate(findings: Sequence[Finding], candidate: Candidate) -> list[Finding]:
    """Each finding's path in the task definition (Finding.path) as a path and a line in
    the file (data `json_path`, `line`): where code scanning shows the alert."""
    out = []
    for f in findings:
        if f.path is None:
            out.append(f)
            continue
        path = candidate.file_path(f.path)
        data: dict[str, Any] = {**f.data, "json_path": path}
        line = candidate.line(path)
        if line is not None:
            data["line"] = line
        out.append(replace(f, data=data))
    return out


def _scope(opts: GateOptions, candidate: Candidate,
           waiver_file: waivers.WaiverFile | None) -> dict[str, Any]:
    scope: dict[str, Any] = {"clusters": [opts.cluster] if opts.cluster else []}
    if opts.service:
        scope["services"] = [opts.service]
    scope.update({"task_definition_file": candidate.path, "task_definition": candidate.arn,
                  "mode": "live" if opts.cluster else "offline", "fail_on": opts.fail_on.value})
    if waiver_file is not None:
        scope["waivers_file"] = waiver_file.path
    return scope


def verdict(report: Report, fail_on: Severity) -> Verdict:
    blocking = tuple(f for f in report.findings
                     if f.status is Status.FAIL and f.severity.at_least(fail_on))
    failing_diagnoses = report.failing_at_least(fail_on)
    waived = sum(1 for f in report.findings if "waived" in f.data)
    unknown = sum(1 for f in report.findings if f.status is Status.UNKNOWN)
    code = 1 if blocking or failing_diagnoses else 0
    return Verdict(report, code, blocking, waived, unknown)
