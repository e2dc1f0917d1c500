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
   names. Several files (`-t a.json -t b.json`, globs) are judged one by one against one
   collection of the target and reported together, each finding naming its file.
3. **Run** the registry's `gate` selection over it (graph.run): the task definition's own
   checks, the gate's checks (checks/gate/) and the network checks that judge the service
   running the candidate. Checks that need AWS data are skipped offline by the runner.
4. **Locate** each finding's path in the file (a line for code scanning), apply the waivers,
   and let the engine diagnose, rank and report (Engine.report), with the playbooks of the
   whole registry; the suggested commands name the target, never the candidate's synthetic
   name (checker.gate.commands). Exit code: 1 when a failing finding or a diagnosis is at or
   above `--fail-on`, else 0 (bad input raises InputError → 2, and so does a template:
   placeholders left in values, unless `--allow-placeholders`).
"""

from __future__ import annotations

import datetime as dt
import glob
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from checker import graph, registry
from checker.bundle import GATE, METRICS, new_bundle
from checker.errors import InputError
from checker.facts import Facts, Item, arn_name
from checker.gate import waivers
from checker.gate.candidate import Candidate, load_candidate, refuse_templates
from checker.gate.commands import fix_commands
from checker.model import Finding, Report, Severity, Status
from checker.pipeline import Engine

#: The registry's selection the gate runs (CheckSpec.products).
PRODUCT = "gate"


@dataclass(frozen=True)
class GateOptions:
    #: One file, or several (a path may be a glob: `deploy/*.json`).
    task_definition: Path | Sequence[Path]
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
    #: Report each template placeholder as a finding instead of refusing the file (exit 2).
    allow_placeholders: bool = False

    @property
    def paths(self) -> tuple[Path, ...]:
        given = self.task_definition
        return (given,) if isinstance(given, Path) else tuple(given)


@dataclass(frozen=True)
class Verdict:
    report: Report
    exit_code: int
    blocking: tuple[Finding, ...] = ()
    waived: int = 0
    unknown: int = 0

    def line(self, fail_on: Severity) -> str:
        """The one line CI logs show, whatever the output format (then what waivers hid)."""
        return f"ecsdoctor gate: {self.headline(fail_on)}{waivers.hidden_lines(self.report)}"

    def headline(self, fail_on: Severity) -> str:
        """`PASS — …` or `FAIL — …` with the counts: the verdict in one line."""
        tail = f"{self.waived} waived, {self.unknown} could not be checked"
        if self.exit_code:
            names = ", ".join(sorted({f.check for f in self.blocking})) or "diagnoses"
            return (f"FAIL — {len(self.blocking)} finding(s) at or above {fail_on.value} "
                    f"({names}); {tail}")
        return f"PASS — nothing at or above {fail_on.value}; {tail}"


def run_gate(opts: GateOptions, session: Any = None) -> Verdict:
    if opts.service and not opts.cluster:
        raise InputError("--service needs --cluster (the cluster the service runs in)")
    paths = expand(opts.paths)
    if opts.service and len(paths) > 1:
        raise InputError(f"--service takes one task definition file, got {len(paths)}: a "
                         "service runs one task definition")
    # every file is read before anything runs: a bad one is exit 2 before any AWS call
    candidates = [load_candidate(p) for p in paths]
    if not opts.allow_placeholders:
        for candidate in candidates:
            refuse_templates(candidate)
    known = registry.load()
    today = opts.today or dt.datetime.now(dt.UTC).date()
    waiver_file = _waivers(opts.waivers, set(known.specs), today)
    collected = None
    if opts.cluster:
        if session is None:
            from checker.collect.session import session_for

            session = session_for(opts.region, opts.profile)
        collected = _collect(opts, session)
    reports = [_judge(opts, c, known, waiver_file, today, session, collected, len(candidates))
               for c in candidates]
    report = reports[0] if len(reports) == 1 else merge(reports, _scope_of_many(
        opts, candidates, waiver_file))
    judged = verdict(report, opts.fail_on)
    # the verdict travels with the report: a pull-request comment opens with it
    scope = {**judged.report.scope, "verdict": judged.headline(opts.fail_on)}
    return replace(judged, report=replace(judged.report, scope=scope))


def expand(paths: Sequence[Path]) -> list[Path]:
    """The files named, a glob (`deploy/*.json`, quoted so the shell left it) standing for
    the files it matches in name order; each file once. InputError for a glob matching
    nothing."""
    out: list[Path] = []
    for path in paths:
        text = str(path)
        if not path.exists() and glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise InputError(f"{text}: no file matches this pattern")
            found = [Path(m) for m in matches]
        else:
            found = [path]
        out.extend(p for p in found if p not in out)
    return out


def _judge(opts: GateOptions, candidate: Candidate, known: registry.Registry,
           waiver_file: waivers.WaiverFile | None, today: dt.date, session: Any,
           collected: dict[str, Any] | None, files: int) -> Report:
    """One file's report: its bundle, the gate's checks over it, located and waived
    findings naming the file (in their message too when several files share the report)."""
    bundle = _bundle(opts, candidate, waivers.gate_input(waiver_file, today), session,
                     collected)
    facts = Facts(bundle)
    checks = known.select(PRODUCT)
    located = locate(graph.run(checks, facts), candidate)
    if files > 1:
        located = [replace(f, message=f"{candidate.path}: {f.message}") for f in located]
    findings = waivers.apply(located, waiver_file, today)
    report = Engine(checks=known).report(
        facts, findings, checks=checks, scope=_scope(opts, candidate, waiver_file))
    if files > 1:
        report = replace(report, diagnoses=tuple(
            replace(d, summary=f"{candidate.path}: {d.summary}") for d in report.diagnoses))
    return fix_commands(report, family=candidate.family, cluster=opts.cluster,
                        service=opts.service)


def merge(reports: Sequence[Report], scope: dict[str, Any]) -> Report:
    """One report of several files: findings in file order, diagnoses ranked together."""
    diagnoses = sorted((d for r in reports for d in r.diagnoses), key=lambda d: -d.score)
    errors: list[Any] = []
    for r in reports:
        errors.extend(e for e in r.errors if e not in errors)
    first = reports[0]
    return replace(first, scope=scope, findings=tuple(f for r in reports for f in r.findings),
                   diagnoses=tuple(replace(d, rank=i) for i, d in enumerate(diagnoses, 1)),
                   errors=tuple(errors), timeline=())


def _waivers(path: Path | None, known: set[str],
             today: dt.date) -> waivers.WaiverFile | None:
    if path is not None:
        return waivers.load(path, known, today)
    default = Path(waivers.DEFAULT_FILE)
    return waivers.load(default, known, today) if default.is_file() else None


# -- the bundle -----------------------------------------------------------------------------

def _bundle(opts: GateOptions, candidate: Candidate, waiver_input: dict[str, Any] | None,
            session: Any, collected: dict[str, Any] | None = None) -> dict[str, Any]:
    gate: dict[str, Any] = {
        "task_definition": candidate.arn, "file": candidate.path, "live": bool(opts.cluster),
        "nulls": list(candidate.nulls),
        "invalid_values": [{"path": o.path, "value": o.value, "allowed": list(o.allowed)}
                           for o in candidate.off_enum],
        "cluster": opts.cluster, "service": None, "running_task_definition": None,
        "running": None, "waivers": waiver_input,
        "placeholders": [{"path": p.path, "text": p.text} for p in candidate.placeholders],
    }
    if not opts.cluster:
        bundle = new_bundle(account=None, region=None, scope={})
        del bundle[METRICS]  # not collected: the runner skips what needs them
        bundle["resources"] = {"task_definitions": [candidate.task_definition()]}
    else:
        bundle = _live(opts, candidate, gate, session,
                       collected if collected is not None else _collect(opts, session))
    bundle[GATE] = gate
    return bundle


def _collect(opts: GateOptions, session: Any) -> dict[str, Any]:
    """The target cluster (and service) as `scan` reads it: once per run, whatever the
    number of files."""
    from checker.collect import Scope, collect

    assert opts.cluster is not None
    scope = Scope(clusters=(opts.cluster,), services=(opts.service,) if opts.service else (),
                  since=opts.since)
    return collect(session, scope, endpoint_url=opts.endpoint_url)


def _live(opts: GateOptions, candidate: Candidate, gate: dict[str, Any],
          session: Any, collected: dict[str, Any]) -> dict[str, Any]:
    """The target as collected, with the candidate in place of its task definitions and
    the target service running it; the revision it runs now goes to the gate's input."""
    from checker.collect.refs import collect_refs

    bundle = dict(collected)
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

#: Checks about the network the service would run the candidate in (subnets, route tables,
#: security groups): their findings are about AWS resources, not a field; the field of the
#: candidate that puts the task there is where a reviewer acts on them.
NEAREST_FIELD: dict[str, tuple[str, ...]] = {
    "secrets-logs-unreachable": ("secrets", "logConfiguration"),
    "image-registry-unreachable": ("image",),
}


def nearest_field(check: str, candidate: Candidate) -> str:
    """The candidate's field a finding without a path is about: the first container field
    the check names (`containerDefinitions[0].secrets`), else `networkMode`, else the file."""
    request = candidate.request
    for key in NEAREST_FIELD.get(check, ()):
        for i, ctr in enumerate(request.get("containerDefinitions") or []):
            if isinstance(ctr, dict) and ctr.get(key):
                return f"containerDefinitions[{i}].{key}"
    return "networkMode" if "networkMode" in request else ""


def locate(findings: Sequence[Finding], candidate: Candidate) -> list[Finding]:
    """Each finding's path in the task definition (Finding.path) as a path and a line in
    the file (data `json_path`, `line`): where code scanning shows the alert. A finding with
    no path (the network checks' subnets and security groups) is put at the nearest field
    of the candidate, marked `located: nearest`, never on line 1 for no reason."""
    out = []
    for f in findings:
        if f.path is None and "file" in f.data:
            out.append(f)  # located in a file of its own (the waiver file)
            continue
        if f.path is None:
            rel = nearest_field(f.check, candidate)
            f = replace(f, path=rel, data={**f.data, "located": "nearest"})
        path = candidate.file_path(f.path or "")
        data: dict[str, Any] = {**f.data, "file": candidate.path, "json_path": path}
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


def _scope_of_many(opts: GateOptions, candidates: Sequence[Candidate],
                   waiver_file: waivers.WaiverFile | None) -> dict[str, Any]:
    scope: dict[str, Any] = {"clusters": [opts.cluster] if opts.cluster else [],
                             "task_definition_files": [c.path for c in candidates],
                             "task_definitions": [c.arn for c in candidates],
                             "mode": "live" if opts.cluster else "offline",
                             "fail_on": opts.fail_on.value}
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
