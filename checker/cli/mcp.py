"""`ecsdoctor mcp`: a Model Context Protocol server over stdio, so an AI assistant asks
ecsdoctor instead of improvising `aws ecs describe-*` calls and reading raw JSON.

Tools (each returns JSON text):

- ``scan``: the same read-only scan as ``ecsdoctor scan`` (Describe/List/Get only, under a
  time limit), analysed, as report v1 (CONTRACTS.md §2);
- ``analyze``: a saved bundle (``scan --save-bundle``) analysed offline, as report v1;
- ``explain``: what a check looks at, or the playbook behind a diagnosis or scenario;
- ``checks``: every check (id, area, severity, title, docs).

Report v1 keeps every finding; an assistant's context is small, so by default the reports
here leave out the passing and skipped findings (their counts stay in ``summary``):
``passing: true`` keeps them.

A mistake (an unknown cluster or id, a bundle that is not one, no credentials) is a tool
error with one clear line, as the command line's exit 2 is; the server keeps running. It is
built on the `mcp` SDK (https://github.com/modelcontextprotocol/python-sdk), an optional
extra: without it the command says what to install.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from checker import __version__
from checker.errors import EcsdoctorError, InputError
from checker.model import Report
from checker.sanitize import one_line

log = logging.getLogger("ecsdoctor.mcp")

INSTALL = ("ecsdoctor mcp needs the mcp extra (the MCP SDK): pip install 'ecsdoctor[mcp]' "
           "(from a clone: pip install '.[mcp]')")
#: Statuses a report keeps unless the caller asks for passing findings too.
KEPT = frozenset({"fail", "unknown"})
INSTRUCTIONS = (
    "ecsdoctor diagnoses Amazon ECS: ranked diagnoses (root cause first), the evidence, and "
    "the commands to run next. Call scan with the cluster(s) to read an account (read-only); "
    "analyze for a saved bundle; explain for what a check or diagnosis id means; checks to "
    "list every check. Reports are report v1 JSON: read `diagnoses` in rank order first; "
    "`errors` lists what could not be read (its checks are unknown, not passed).")

T = TypeVar("T")


def available() -> bool:
    """Whether the SDK is installed (the command's one-line refusal otherwise)."""
    try:
        import mcp.server.mcpserver  # noqa: F401
    except ImportError:
        return False
    return True


def serve() -> None:
    """Run the server on stdin/stdout until the client closes it."""
    build_server().run("stdio")


def build_server() -> Any:
    from mcp.server.mcpserver import MCPServer
    from mcp.types import CallToolResult, TextContent, ToolAnnotations

    class Server(MCPServer):
        """Arguments the SDK refuses (its validation runs before our tools) are tool errors
        too: folded into one line, like ours."""

        async def _handle_call_tool(self, ctx: Any, params: Any) -> Any:
            result = await super()._handle_call_tool(ctx, params)
            if isinstance(result, CallToolResult) and result.is_error:
                text = " ".join(c.text for c in result.content if isinstance(c, TextContent))
                result.content = [TextContent(type="text", text=fold(text))]
            return result

    server = Server(name="ecsdoctor", version=__version__, instructions=INSTRUCTIONS,
                    log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=True)
    offline = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                              open_world_hint=False)
    server.add_tool(scan, annotations=read_only, structured_output=False)
    server.add_tool(analyze, annotations=offline, structured_output=False)
    server.add_tool(explain, annotations=offline, structured_output=False)
    server.add_tool(checks, annotations=offline, structured_output=False)
    return server


#: One error of pydantic's multi-line report: the field's path on one line, the problem
#: (and its [type=…] details) indented on the next.
_PYDANTIC = re.compile(r"^(\S[^\n]*)\n +([^\n\[]+?)(?: \[[^\n]*\])?$", re.M)


def fold(message: str) -> str:
    """A tool error on one line: pydantic's argument report as `field: problem; …`, the
    rest with its whitespace folded."""
    head, _, rest = message.partition(" validation error")
    problems = [f"{path}: {why}" for path, why in _PYDANTIC.findall(rest)]
    if problems:
        prefix = head.rsplit(":", 1)[0] if ":" in head else "invalid arguments"
        return one_line(f"{prefix}: invalid arguments: {'; '.join(problems)}")
    return one_line(message)


def _tool_error(message: str) -> Exception:
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(one_line(message))


def _guarded(body: Callable[[], T]) -> T:
    """Our deliberate errors become a tool error with their one line; anything else too,
    named as a bug, with the traceback on stderr (the client's server log)."""
    try:
        return body()
    except EcsdoctorError as exc:
        raise _tool_error(str(exc)) from None
    except Exception as exc:
        log.exception("ecsdoctor mcp: internal error")
        raise _tool_error(f"internal error: {type(exc).__name__}: {exc} (a bug in ecsdoctor: "
                          "please report it)") from None


def report_json(report: Report, passing: bool) -> str:
    """Report v1 as JSON; without `passing`, only the failing and unknown findings (the
    summary still counts every finding)."""
    if passing:
        from checker.render import RenderOptions
        from checker.render.json_report import render_json

        return render_json(report, RenderOptions())
    doc = report.to_dict()
    doc["findings"] = [f for f in doc["findings"] if f["status"] in KEPT]
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def scan(clusters: list[str] | str, region: str | None = None, profile: str | None = None,
         services: list[str] | None = None, since: str = "3h", history: str = "24h",
         history_log_group: str = "/ecsdoctor/ecs-events", log_lines: int = 50,
         timeout: str = "5m", passing: bool = False) -> str:
    """Scan ECS clusters read-only (Describe/List/Get only) and return the ranked
    diagnoses as ecsdoctor report v1 JSON.

    clusters: cluster names or ARNs (a list, or comma-separated). region/profile: as the
    AWS CLI picks them when absent. services: only these services. since: metrics window
    (30m, 6h, 2d). history: window of stopped tasks, ECS events and CloudTrail changes (0
    reads none). log_lines: last log lines per container of a failing service (0 reads
    none). timeout: time limit for reading the account (90s, 5m); what is not read by then
    is in `errors`. passing: also list passing and skipped findings (large)."""

    def run() -> str:
        from checker.cli.app import parse_history, parse_since
        from checker.cli.scan import parse_timeout
        from checker.collect import Deadline, Scope, collect
        from checker.collect import session as aws_session
        from checker.pipeline import shared_engine

        names = clusters.split(",") if isinstance(clusters, str) else clusters
        names = [n.strip() for n in names if n.strip()]
        if not names:
            raise InputError("no cluster to scan: name at least one cluster")
        if not 0 <= log_lines <= 10_000:
            raise InputError(f"log_lines {log_lines}: expected 0 to 10000")
        scope = Scope(clusters=tuple(names), services=tuple(services or ()),
                      since=parse_since(since), history=parse_history(history),
                      history_log_group=history_log_group, log_lines=log_lines)
        limit = parse_timeout(timeout)
        session = aws_session.session_for(region, profile)
        bundle = collect(session, scope, deadline=Deadline(limit))
        return report_json(shared_engine().analyze(bundle), passing)

    return _guarded(run)


def analyze(bundle_path: str, passing: bool = False) -> str:
    """Analyse a saved bundle (`ecsdoctor scan --save-bundle FILE`) offline, without AWS
    access, and return the ranked diagnoses as ecsdoctor report v1 JSON. passing: also list
    passing and skipped findings (large)."""

    def run() -> str:
        from checker import bundle as bundle_mod
        from checker.pipeline import shared_engine

        return report_json(shared_engine().analyze(bundle_mod.load(Path(bundle_path))),
                           passing)

    return _guarded(run)


def explain(id: str) -> str:
    """What a check id looks at, or the playbook behind a diagnosis id or scenario id
    (symptoms, hypotheses, the checks that confirm or weaken each, remediation), as JSON."""
    return _guarded(lambda: json.dumps(_explain(id), indent=2, ensure_ascii=True) + "\n")


def checks() -> str:
    """Every check ecsdoctor runs (id, area, severity, title, docs link), as JSON."""
    from checker import registry

    def run() -> str:
        listed = [{"id": s.id, "area": s.area, "severity": s.severity.value, "title": s.title,
                   "docs": s.docs} for s in registry.load()]
        return json.dumps({"checks": listed}, indent=2, ensure_ascii=True) + "\n"

    return _guarded(run)


def _explain(ident: str) -> dict[str, Any]:
    from checker import playbook, registry

    reg = registry.load()
    books = playbook.load(reg)
    if ident in reg:
        spec = reg[ident]
        return {"kind": "check", "id": spec.id, "title": spec.title, "area": spec.area,
                "severity": spec.severity.value, "needs": list(spec.needs),
                "docs": spec.docs, "description": spec.description.strip(),
                "used_by": sorted({h.diagnosis for b in books for h in b.hypotheses
                                   if ident in _checks_of(h)}
                                  | {f"scenario {b.scenario}" for b in books
                                     if any(r.check == ident for r in b.symptoms)})}
    by_scenario = {b.scenario: b for b in books}
    if ident in by_scenario:
        return {"kind": "scenario", "id": ident, **_playbook(by_scenario[ident], None)}
    using = [b for b in books if any(h.diagnosis == ident for h in b.hypotheses)]
    if not using:
        known = set(reg.specs) | set(by_scenario) | set(playbook.catalog())
        close = difflib.get_close_matches(ident, sorted(known), n=3)
        maybe = f"; did you mean {', '.join(close)}?" if close else ""
        if ident in playbook.catalog():
            raise InputError(f"diagnosis {ident!r} is in the catalog but no playbook reaches "
                             "it yet in this version")
        raise InputError(f"unknown check or diagnosis id {ident!r}{maybe} (the checks tool "
                         "lists the checks)")
    entry = playbook.catalog()[ident]
    return {"kind": "diagnosis", "id": ident, "title": entry.title,
            "severity": entry.severity.value,
            "playbooks": [_playbook(b, ident) for b in using]}


def _checks_of(h: Any) -> set[str]:
    return {r.check for role in ("confirm", "confirm_any", "support", "contradict", "rule_out")
            for r in getattr(h, role)}


def _playbook(book: Any, only: str | None) -> dict[str, Any]:
    hyps = [h for h in book.hypotheses if only is None or h.diagnosis == only]
    return {"scenario": book.scenario, "title": book.title,
            "description": book.description.strip(),
            "symptoms": [r.label() for r in book.symptoms],
            "hypotheses": [{
                "diagnosis": h.diagnosis, "title": h.title, "severity": h.severity.value,
                "base_confidence": h.confidence,
                **{role: [r.label() for r in getattr(h, role)]
                   for role in ("confirm", "confirm_any", "support", "contradict", "rule_out")},
                "explains": list(h.explains),
                "remediation": [{"step": s.step, **({"command": s.command} if s.command
                                                    else {})} for s in h.remediation],
                "references": list(h.references)} for h in hyps]}


def main() -> int:
    """The command: exit 2 with one line when the SDK is missing."""
    if not available():
        print(f"ecsdoctor: error: {INSTALL}", file=sys.stderr)
        return 2
    serve()
    return 0
