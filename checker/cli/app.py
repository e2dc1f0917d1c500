"""The `ecsdoctor` command line: thin on purpose.

Every command parses its options, runs the one pipeline (checker.pipeline), renders with
the renderer the format names, and maps the result onto the exit codes of CONTRACTS.md §4.
Errors a user can cause print one line on stderr and exit 2; an internal error prints one
"please report" line and exits 70, with the traceback only under `--debug` (or
ECSDOCTOR_DEBUG=1). Every line written for a person, stderr included, passes through the
one sanitizer (checker.sanitize).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

try:  # typer >= 0.2x vendors its own click; older ones use click itself
    from typer import _click as click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]
    from click import exceptions as click_exceptions  # type: ignore[no-redef]
from typer.core import TyperArgument, TyperCommand

from checker import __version__
from checker.errors import EcsdoctorError, InputError
from checker.model import Report, Severity
from checker.sanitize import guard_lines, one_line, safe_pieces, safe_text

#: -h everywhere, as every other command line tool has it.
CONTEXT = {"help_option_names": ["-h", "--help"]}


class _Argument(TyperArgument):
    """An argument shown by its metavar alone: `BUNDLE.json`, `[ID]`. typer would add the
    raw type (`BUNDLE.json <path>`) and brace a required one (`{BUNDLE.json}`)."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"


class _Command(TyperCommand):
    """A command whose arguments are `_Argument`s (typer makes them from the signature)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument


app = typer.Typer(
    name="ecsdoctor", no_args_is_help=True, add_completion=True,
    pretty_exceptions_enable=False, rich_markup_mode=None, context_settings=CONTEXT,
    help="Ranked diagnoses for Amazon ECS: what is wrong, the evidence, and what to run next.",
)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


class Color(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


class Sev(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"


@contextmanager
def user_errors() -> Iterator[None]:
    """Our deliberate errors become one line and exit 2 (CONTRACTS.md §4)."""
    try:
        yield
    except EcsdoctorError as exc:
        say(f"ecsdoctor: error: {exc}")
        raise typer.Exit(2) from None


def say(line: str) -> None:
    """One line for a person on stderr: it may quote a file name or an AWS string, so it
    goes through the sanitizer like the report does."""
    err.print(guard_lines(one_line(line)), markup=False)


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
#: The longest window accepted: CloudWatch keeps metrics 15 months
#: (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#metrics-retention).
LONGEST = dt.timedelta(days=455)


def parse_since(text: str) -> dt.timedelta:
    m = _DURATION.match(text)
    if not m or int(m.group(1)) <= 0:
        raise InputError(f"--since {text!r}: expected a duration like 30m, 6h or 2d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
    try:
        window = dt.timedelta(**{unit: int(m.group(1))})
    except OverflowError:
        window = LONGEST + LONGEST
    if window > LONGEST:
        raise InputError(f"--since {text!r}: at most {LONGEST.days}d (CloudWatch keeps "
                         "metrics 15 months)")
    return window


def parse_history(text: str) -> dt.timedelta:
    """``--history``: a duration like --since, or 0 to read no history at all."""
    if text.strip() in {"0", "0s", "0m", "0h", "0d"}:
        return dt.timedelta(0)
    try:
        return parse_since(text)
    except InputError as exc:
        if "at most" in str(exc):
            raise InputError(f"--history {text!r}: at most {LONGEST.days}d") from None
        raise InputError(f"--history {text!r}: expected a duration like 6h, 24h or 7d "
                         "(0 turns history off)") from None


#: Width of the report when stdout is not a terminal and COLUMNS does not say.
PIPED_WIDTH = 100
#: Width of a report written to a file (-o).
FILE_WIDTH = 120


def output_width(tty: bool, environ: Mapping[str, str]) -> int:
    """The terminal's width; piped, COLUMNS when it is a number (a CI log, `| less`),
    else PIPED_WIDTH."""
    if tty:
        return Console().width
    columns = environ.get("COLUMNS", "").strip()
    return int(columns) if columns.isdigit() and int(columns) > 0 else PIPED_WIDTH


def use_color(choice: Color, tty: bool, environ: Mapping[str, str]) -> bool:
    """--color: always, never, or auto (a terminal, NO_COLOR unset, TERM not dumb;
    https://no-color.org)."""
    if choice is not Color.auto:
        return choice is Color.always
    return tty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def _emit(report: Report, fmt: StrEnum, output: Path | None, verbose: bool,
          color: Color = Color.auto) -> None:
    """The report to `output` (written by checker.files: atomic for a file, direct for a
    FIFO or device) or to stdout (`-o -` too). Whatever the format, the text passes the
    sanitizer's safety net last: no raw control character (colour codes aside) and no line
    starting with `::` reaches a terminal, a file or a CI log. It is rendered, sanitized and
    written in pieces (checker.render.render_pieces: the JSON report a batch of items at a
    time), so a large report is never held whole, nor copied to be sanitized or encoded."""
    from checker import gcpause
    from checker.render import RenderOptions, render_pieces

    if output is not None and str(output) != "-":
        paint = color is Color.always
        pieces = render_pieces(report, fmt.value, RenderOptions(
            color=paint, width=FILE_WIDTH, verbose=verbose))
        with gcpause.paused():  # no collection walking the bundle between two pieces
            write_file(output, "--output", safe_pieces(pieces, color=paint))
        say(f"report written to {output}")
        return
    tty = sys.stdout.isatty()
    color_on = use_color(color, tty, os.environ)
    width = output_width(tty, os.environ)
    pieces = render_pieces(report, fmt.value, RenderOptions(color=color_on, width=width,
                                                            verbose=verbose))
    # a stdout that cannot encode a name (non-UTF-8 console): "?" rather than no report
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    with gcpause.paused():
        for piece in safe_pieces(pieces, color=color_on):
            sys.stdout.write(piece.decode("ascii") if isinstance(piece, bytes)  # ASCII only
                             else piece.encode(encoding, "replace").decode(encoding))
    sys.stdout.flush()


def write_file(path: Path, option: str, text: str | Iterable[str | bytes], *,
               mode: int | None = None) -> None:
    """A file the user named, written safely (checker.files); a failure is one line.
    `text` may come in pieces (str, or bytes in UTF-8), written as they come."""
    from checker.files import write_pieces

    try:
        write_pieces(path, (text,) if isinstance(text, str) else text, mode=mode)
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write: "
                         f"{exc.strerror or exc}") from None


#: The collections that say what the scope holds: when one of them could not be read, a
#: clean result means nothing was checked, so --fail-on fails (exit 3) without --strict.
SCOPE_COLLECTIONS = ("clusters", "services", "tasks")


def unread_scope(report: Report) -> list[str]:
    """The scope collections (SCOPE_COLLECTIONS) that could not be read, in that order."""
    failed = {str(e.get("collection")) for e in report.failed_collections}
    return [name for name in SCOPE_COLLECTIONS if name in failed]


def exit_code(report: Report, fail_on: Sev | None, strict: bool) -> int:
    """3 when --strict and collections failed, or when --fail-on is given and the ECS
    clusters, services or tasks of the scope could not be read (green must mean checked);
    1 when a diagnosis or failing finding is at or above --fail-on; else 0."""
    if strict and report.failed_collections:
        return 3
    if fail_on is not None and unread_scope(report):
        return 3
    if fail_on is not None:
        threshold = Severity(fail_on.value)
        if report.failing_at_least(threshold) or any(
            f.status.value == "fail" and f.severity.at_least(threshold) for f in report.findings
        ):
            return 1
    return 0


def _analyze(bundle: dict[str, Any], progress: bool) -> Report:
    from checker.pipeline import Engine

    engine = Engine()
    if not progress:
        return engine.analyze(bundle)
    from checker.cli.progress import check_progress

    with check_progress(err, len(engine.registry)) as hook:
        return engine.analyze(bundle, on_check=hook)


def choices(enum: type[StrEnum]) -> str:
    """`table|json|markdown`: a choice option's metavar (typer would print `<…>`)."""
    return "|".join(member.value for member in enum)


FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", metavar=choices(Format), help="Output format.")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", metavar="FILE", dir_okay=False,
    help="Write the report to FILE (atomically) instead of stdout.")]
FailOnOpt = Annotated[Sev | None, typer.Option(
    "--fail-on", metavar="SEV", help="Exit 1 if a diagnosis or failing finding is at or "
                                     f"above SEV ({choices(Sev)}).")]
StrictOpt = Annotated[bool, typer.Option(
    "--strict", help="Exit 3 if any collection failed (AccessDenied, throttling, …).")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="The whole report: every evidence row and step, the reasoning, "
                            "the timeline, every failing and unknown finding.")]
SaveOpt = Annotated[Path | None, typer.Option(
    "--save-bundle", metavar="FILE", dir_okay=False,
    help="Save what was collected as a bundle for `ecsdoctor analyze`.")]
ColorOpt = Annotated[Color, typer.Option(
    "--color", metavar=choices(Color),
    help="Colour: auto (on a terminal, unless NO_COLOR is set), always, never.")]
EndpointOpt = Annotated[str | None, typer.Option(
    "--endpoint-url", metavar="URL",
    help="Send every AWS call to URL (LocalStack, moto, a proxy) instead of AWS's "
         "endpoints; AWS_ENDPOINT_URL does the same.")]
RegionOpt = Annotated[str | None, typer.Option(
    "--region", metavar="REGION",
    help="AWS Region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's).")]
ProfileOpt = Annotated[str | None, typer.Option(
    "--profile", metavar="NAME", help="AWS named profile.")]


@app.command(cls=_Command)
def scan(
    cluster: Annotated[list[str] | None, typer.Option(
        "--cluster", "-c", metavar="NAME",
        help="Cluster name or ARN; repeat for several (a fleet scan without it reads every "
             "cluster of each target).")] = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    service: Annotated[list[str] | None, typer.Option(
        "--service", "-s", metavar="NAME",
        help="Only these services (name); repeat for several.")] = None,
    since: Annotated[str, typer.Option(
        metavar="DURATION",
        help="Metric window, e.g. 30m, 6h, 2d (stopped tasks stay visible ~1h).")] = "3h",
    history: Annotated[str, typer.Option(
        metavar="DURATION",
        help="History window: stopped tasks and ECS events from the history log group "
             "(deploy/history.yaml), CloudTrail changes; 0 turns it off.")] = "24h",
    history_log_group: Annotated[str, typer.Option(
        metavar="NAME", help="The history log group.")] = "/ecsdoctor/ecs-events",
    log_lines: Annotated[int, typer.Option(
        min=0, max=10_000, metavar="N",
        help="Last log lines read per container of a failing service (awslogs); 0 reads "
             "no logs.")] = 50,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    save_bundle: SaveOpt = None,
    fail_on: FailOnOpt = None,
    strict: StrictOpt = False,
    verbose: VerboseOpt = False,
    color: ColorOpt = Color.auto,
    endpoint_url: EndpointOpt = None,
    workers: Annotated[int, typer.Option(
        min=1, max=32, metavar="N", help="Parallel API calls (a bounded thread pool).")] = 8,
    timeout: Annotated[str, typer.Option(
        metavar="DURATION",
        help="Time limit for reading the account, e.g. 90s, 5m: what is not read by then "
             "is reported as not read (timed out) and the report is built from the rest.")]
    = "5m",
    regions: Annotated[str | None, typer.Option(
        metavar="LIST",
        help="Fleet: comma-separated Regions, or 'all' (every Region enabled for the "
             "account).")] = None,
    accounts: Annotated[str | None, typer.Option(
        metavar="LIST",
        help="Fleet: comma-separated account ids, each entered through --role-arn.")] = None,
    organization: Annotated[bool, typer.Option(
        "--organization", help="Fleet: every ACTIVE account of the AWS Organization.")]
    = False,
    role_arn: Annotated[str | None, typer.Option(
        metavar="ARN",
        help="Fleet: arn:aws:iam::{account}:role/NAME, assumed in each account.")] = None,
    fleet_workers: Annotated[int, typer.Option(
        min=1, max=32, metavar="N", help="Fleet: accounts × Regions scanned at once.")] = 4,
) -> None:
    """Read the account (read-only: Describe/List/Get) and print ranked diagnoses."""
    with user_errors():
        window = parse_since(since)
        past = parse_history(history)
        from checker.cli.scan import parse_timeout, run_scan
        from checker.collect import Scope
        from checker.collect import session as aws_session
        from checker.fleet import FleetRequest

        limit = parse_timeout(timeout)
        endpoint = aws_session.endpoint_url(endpoint_url)

        scope = Scope(clusters=tuple(cluster or ()), services=tuple(service or ()),
                      since=window, history=past, history_log_group=history_log_group,
                      log_lines=log_lines)
        fleet = FleetRequest.parse(regions=regions, accounts=accounts,
                                   organization=organization, role_arn=role_arn,
                                   workers=fleet_workers)
        if fleet.is_fleet:
            report = _scan_fleet(fleet, scope, region=region, profile=profile,
                                 workers=workers, save_bundle=save_bundle, timeout=limit,
                                 endpoint_url=endpoint)
            _emit(report, fmt, output, verbose, color)
            exit_with(report, fail_on, strict)
        if not cluster:
            raise InputError("no cluster to scan: pass --cluster NAME (or, to read every "
                             "cluster, scan a fleet: --regions, --accounts, --organization)")
        bundle = run_scan(
            scope,
            region=region, profile=profile, workers=workers, console=err,
            show_progress=err.is_terminal, timeout=limit, endpoint_url=endpoint,
        )
        _finish(bundle, fmt, output, save_bundle, fail_on, strict, verbose, color)


def _scan_fleet(fleet: Any, scope: Any, *, region: str | None, profile: str | None,
                workers: int, save_bundle: Path | None, timeout: float,
                endpoint_url: str | None) -> Report:
    """Many accounts and Regions, one report (checker.fleet; docs/fleet.md)."""
    if save_bundle is not None:
        raise InputError("--save-bundle saves one account's bundle: scan one account and "
                         "Region to save it (a fleet scan has one bundle per target)")
    from checker.cli.fleet import run_fleet

    return run_fleet(fleet, scope, region=region, profile=profile, workers=workers,
                     console=err, show_progress=err.is_terminal, timeout=timeout,
                     endpoint_url=endpoint_url)


def _finish(bundle: dict[str, Any], fmt: Format, output: Path | None, save_bundle: Path | None,
            fail_on: Sev | None, strict: bool, verbose: bool, color: Color = Color.auto) -> None:
    from checker import bundle as bundle_mod
    from checker.files import PRIVATE

    if save_bundle is not None:
        if str(save_bundle) == "-":
            raise InputError("--save-bundle -: name a file (stdout carries the report)")
        write_file(save_bundle, "--save-bundle", bundle_mod.dumps(bundle), mode=PRIVATE)
        say(f"bundle saved to {save_bundle}")
    from checker import gcpause

    # One pause from the analysis to the last byte written: the engine and the renderer
    # each pause the collector, but between and after those pauses it then ran full
    # collections over the bundle and the report (half a second at x10). A command is
    # one short process and builds few cycles; reference counting frees the rest.
    with gcpause.paused():
        report = _analyze(bundle, progress=err.is_terminal)
        _emit(report, fmt, output, verbose, color)
    _note_retries(bundle)
    exit_with(report, fail_on, strict)


def exit_with(report: Report, fail_on: Sev | None, strict: bool) -> NoReturn:
    """End the command with exit_code(); exit 3 first says on stderr what was not read."""
    code = exit_code(report, fail_on, strict)
    if code == 3:
        _say_why_incomplete(report, fail_on, strict)
    raise typer.Exit(code)


def _say_why_incomplete(report: Report, fail_on: Sev | None, strict: bool) -> None:
    """Exit 3 names what could not be read, on stderr, so CI logs say why it failed."""
    failed = report.failed_collections
    names = ", ".join(dict.fromkeys(f"{e.get('collection')} ({e.get('code') or 'error'})"
                                    for e in failed))
    if strict:
        say(f"ecsdoctor: --strict: {len(failed)} collection error(s), the report is "
            f"incomplete: {names}")
    else:
        unread = ", ".join(unread_scope(report))
        say(f"ecsdoctor: --fail-on {fail_on.value if fail_on else ''}: could not read the "
            f"scope's {unread}, so nothing there was checked: {names}")


def _note_retries(bundle: dict[str, Any]) -> None:
    """One stderr line naming the operations botocore had to retry (throttling, 5xx): the
    data came back, but the account was under pressure, and the user should know which
    collections nearly failed; those that did fail are also in the report's errors."""
    retries = [r for r in bundle.get("retries") or [] if isinstance(r, dict)]
    if not retries:
        return
    failed = {str(e.get("operation")): str(e.get("code"))
              for e in bundle.get("errors") or [] if isinstance(e, dict)}
    parts = [f"{op} {r.get('count')}× ("
             + (f"failed: {failed[op]}" if op in failed else "recovered") + ")"
             for r in retries for op in [str(r.get("operation"))]]
    say("ecsdoctor: retried after throttling or transient errors: " + ", ".join(parts))


@app.command(cls=_Command)
def analyze(
    bundle_file: Annotated[Path, typer.Argument(
        metavar="BUNDLE.json", help="A bundle from `scan --save-bundle`, or written by hand.")],
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    strict: StrictOpt = False,
    verbose: VerboseOpt = False,
    color: ColorOpt = Color.auto,
) -> None:
    """Analyse a saved bundle offline: same report as `scan`, no AWS access."""
    with user_errors():
        from checker import bundle as bundle_mod

        _finish(bundle_mod.load(bundle_file), fmt, output, None, fail_on, strict, verbose,
                color)


@app.command(cls=_Command)
def demo(
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    save_bundle: SaveOpt = None,
    verbose: VerboseOpt = False,
    color: ColorOpt = Color.auto,
) -> None:
    """Run the whole pipeline against an embedded demo account (moto on 127.0.0.1)."""
    with user_errors():
        from checker.demo import require_moto

        require_moto()
        from checker.cli.progress import collect_progress
        from checker.collect import Scope, collect
        from checker.collect.aws import DEFAULT_LOG_LINES, HISTORY_LOG_GROUP
        from checker.demo.run import demo_account

        with ExitStack() as stack:
            starting = "Starting the demo account (moto on 127.0.0.1, no AWS access)…"
            with err.status(starting) if err.is_terminal else nullcontext():
                acct = stack.enter_context(demo_account())
            with collect_progress(err, err.is_terminal) as progress:
                scope = Scope(clusters=(acct.cluster,), history=dt.timedelta(hours=24),
                              history_log_group=HISTORY_LOG_GROUP,
                              log_lines=DEFAULT_LOG_LINES)
                bundle = collect(acct.session(), scope, progress=progress,
                                 endpoint_url=acct.endpoint_url)
        _finish(bundle, fmt, output, save_bundle, None, False, verbose, color)


class GateFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"
    markdown = "markdown"


@app.command(cls=_Command)
def gate(
    task_definition: Annotated[list[Path], typer.Option(
        "--task-definition", "-t", dir_okay=False, metavar="FILE",
        help="A RegisterTaskDefinition request JSON (as `aws ecs register-task-definition "
             "--cli-input-json` takes) or describe-task-definition output. Repeat it, or "
             "give a quoted glob ('deploy/*.json'), to judge several files in one report.")],
    cluster: Annotated[str | None, typer.Option(
        "--cluster", "-c", metavar="NAME",
        help="Check against this cluster (and the referenced resources in AWS); without it "
             "the gate is offline.")] = None,
    service: Annotated[str | None, typer.Option(
        "--service", "-s", metavar="NAME",
        help="The service the new revision goes to (needs --cluster).")] = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    fail_on: Annotated[Sev, typer.Option(
        "--fail-on", metavar="SEV",
        help=f"Exit 1 if a failing finding or diagnosis is at or above SEV ({choices(Sev)}).")]
    = Sev.high,
    fmt: Annotated[GateFormat, typer.Option(
        "--format", "-f", metavar=choices(GateFormat), help="Output format.")]
    = GateFormat.table,
    output: OutputOpt = None,
    waivers: Annotated[Path | None, typer.Option(
        "--waivers", dir_okay=False, metavar="FILE",
        help="Waiver file (default: .ecsdoctor.yaml in the working directory, if any).")]
    = None,
    since: Annotated[str, typer.Option(
        metavar="DURATION",
        help="Window for the running revision's peak CPU/memory, e.g. 6h, 7d.")] = "7d",
    allow_placeholders: Annotated[bool, typer.Option(
        "--allow-placeholders",
        help="A file with template placeholders (${VAR}, {{ var }}, <YOUR_...>) gets one "
             "finding per placeholder instead of exit 2.")] = False,
    verbose: VerboseOpt = False,
    color: ColorOpt = Color.auto,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Check a task definition before it is registered and deployed (CI gate)."""
    with user_errors():
        from checker.collect import session as aws_session
        from checker.gate.run import GateOptions, run_gate

        opts = GateOptions(task_definition=tuple(task_definition), cluster=cluster,
                           service=service, region=region, profile=profile,
                           fail_on=Severity(fail_on.value), waivers=waivers,
                           since=parse_since(since), allow_placeholders=allow_placeholders,
                           endpoint_url=aws_session.endpoint_url(endpoint_url))
        verdict = run_gate(opts)
        _emit(verdict.report, fmt, output, verbose, color)
        for line in verdict.line(opts.fail_on).splitlines():  # the verdict, then what
            say(line)                                         # waivers hid, one per line
    raise typer.Exit(verdict.exit_code)


class ListFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


ListFormatOpt = Annotated[ListFormat, typer.Option(
    "--format", "-f", metavar=choices(ListFormat),
    help="table for a person; json (a stable, versioned listing) for a program; markdown "
         "for docs.")]


def _console(color: Color) -> Console:
    """stdout for the listings: the terminal's width (COLUMNS when piped), colour as
    --color says."""
    tty = sys.stdout.isatty()
    on = use_color(color, tty, os.environ)
    return Console(width=output_width(tty, os.environ), force_terminal=on,
                   no_color=not on, color_system="standard" if on else None,
                   highlight=False, markup=False, emoji=False, soft_wrap=False)


def _check_ids(incomplete: str) -> list[str]:
    """Shell completion of a check id."""
    from checker import registry

    return [spec.id for spec in registry.load() if spec.id.startswith(incomplete)]


def _diagnosis_ids(incomplete: str) -> list[str]:
    """Shell completion of a diagnosis or scenario id."""
    from checker import playbook, registry

    books = playbook.load(registry.load())
    names = [*playbook.catalog(), *(book.scenario for book in books)]
    return sorted(n for n in dict.fromkeys(names) if n.startswith(incomplete))


def _print_listing(text: str) -> None:
    """A listing (JSON, Markdown) as it is: no wrapping, no colour."""
    sys.stdout.write(safe_text(text))
    sys.stdout.flush()


def _listing(fmt: ListFormat, color: Color, table: Callable[[int], Any],
             as_json: Callable[[], str], as_markdown: Callable[[], str]) -> None:
    """One listing in the asked format: a table sized to the console, or text as it is."""
    with user_errors():
        if fmt is ListFormat.table:
            console = _console(color)
            console.print(table(console.width))
        else:
            _print_listing(as_json() if fmt is ListFormat.json else as_markdown())


@app.command("checks", cls=_Command)
def list_checks(
    check_id: Annotated[str | None, typer.Argument(
        metavar="ID", help="Show one check.", autocompletion=_check_ids)] = None,
    fmt: ListFormatOpt = ListFormat.table,
    color: ColorOpt = Color.auto,
) -> None:
    """List every check (id, area, severity, title), or show one."""
    from checker.cli import explain as listing

    _listing(fmt, color,
             lambda width: listing.show_check(check_id) if check_id
             else listing.show_checks(width),
             lambda: listing.checks_json(check_id), lambda: listing.checks_markdown(check_id))


@app.command("diagnoses", cls=_Command)
def list_diagnoses(
    fmt: ListFormatOpt = ListFormat.table,
    color: ColorOpt = Color.auto,
) -> None:
    """List every diagnosis id a report can name, with its title and severity."""
    from checker.cli import explain as listing

    _listing(fmt, color, listing.show_diagnoses, listing.diagnoses_json,
             listing.diagnoses_markdown)


@app.command(cls=_Command)
def explain(
    diagnosis_id: Annotated[str, typer.Argument(
        metavar="DIAGNOSIS_ID", autocompletion=_diagnosis_ids,
        help="A diagnosis id (e.g. memory-leak; `ecsdoctor diagnoses` lists them) or a "
             "scenario id.")],
    color: ColorOpt = Color.auto,
) -> None:
    """Show the playbook behind a diagnosis: symptoms, hypotheses, evidence, remediation."""
    with user_errors():
        from checker.cli.explain import explain_tree

        _console(color).print(explain_tree(diagnosis_id))


@app.command("mcp")
def mcp_server() -> None:
    """Serve scan, analyze, explain and checks to an AI assistant (MCP over stdio)."""
    from checker.cli.mcp import main as serve

    raise typer.Exit(serve())


def _version(value: bool) -> None:
    if value:
        print(f"ecsdoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Log every AWS request and response (botocore's debug log) on "
                        "stderr, and print the traceback of an internal error "
                        "(ECSDOCTOR_DEBUG=1 does the same).")] = False,
) -> None:
    """Ranked diagnoses for Amazon ECS."""
    if debug or os.environ.get("ECSDOCTOR_DEBUG"):
        debug_logging()
    # the traceback is printed by main(), which handles the error after the app returned


class _SafeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """botocore's log quotes what AWS sent: escaped by the sanitizer like every other
    line for a person (a response body cannot clear the screen)."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_text(super().format(record)).rstrip("\n")

    def emit(self, record: logging.LogRecord) -> None:
        """To the stderr of now, not of when --debug was first given: one process (a
        test run, an embedding program) may replace sys.stderr between commands."""
        self.stream = sys.stderr
        super().emit(record)


def debug_logging() -> None:
    """botocore and boto3 at DEBUG on stderr, as `aws --debug` shows them: every request,
    its retries and every response. For the one command: main() ends it
    (end_debug_logging), so the next command of the same process (a test run, an
    embedding program) does not log."""
    handler = _SafeHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s [%(levelname)s] %(message)s"))
    for name in DEBUG_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, _SafeHandler) for h in logger.handlers):
            _LEVELS_BEFORE_DEBUG.setdefault(name, logger.level)
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def end_debug_logging() -> None:
    """The loggers as they were before debug_logging(): its handler gone, levels back."""
    for name in DEBUG_LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, _SafeHandler)]:
            logger.removeHandler(handler)
        if name in _LEVELS_BEFORE_DEBUG:
            logger.setLevel(_LEVELS_BEFORE_DEBUG.pop(name))


DEBUG_LOGGERS = ("botocore", "boto3", "checker")
_LEVELS_BEFORE_DEBUG: dict[str, int] = {}


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry: usage errors and surprises become one line, never a traceback
    (unless --debug): 2 for what the user can fix, 70 for our own bug."""
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        return _main(args)
    finally:
        end_debug_logging()


def _main(args: list[str]) -> int:
    try:
        rv = app(args=args, prog_name="ecsdoctor", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else str(exc))
        return 0
    except click_exceptions.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "ecsdoctor"
        say(f"ecsdoctor: error: {exc.format_message()} (see `{cmd} --help`)")
        return 2
    except (typer.Abort, KeyboardInterrupt):
        say("ecsdoctor: interrupted")
        return 130
    except Exception as exc:
        return _internal_error(exc, debug="--debug" in args)
    if rv == 130:  # typer turns Ctrl-C into a silent Exit(130) (128 + SIGINT)
        say("ecsdoctor: interrupted")
    return int(rv or 0)


def _internal_error(exc: BaseException, *, debug: bool) -> int:
    """Exit 70: one line asking for a report; the traceback only under --debug."""
    if debug or os.environ.get("ECSDOCTOR_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    say(f"ecsdoctor: internal error: {type(exc).__name__}: {exc} (a bug in ecsdoctor: "
        "please report it with the command that failed; `ecsdoctor --debug ...` shows "
        "the traceback)")
    return 70


def run() -> None:  # pragma: no cover - the console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
