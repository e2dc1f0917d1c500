"""Waivers: known findings a team accepts for a while, written down with a reason and a date.

A gate that cannot be told "we know, and here is why" gets switched off; a waiver that never
ends is the same thing, slower. So a waiver names one check, the resources it covers (a
glob), why, and when it expires. A waived finding stays in the report — as `skipped` with
`data["waived"]` saying by which waiver — and no longer counts for `--fail-on`. Once the date
has passed the waiver covers nothing and fails itself (check `waiver-expired`, high), naming
the waiver, so someone renews it or fixes the finding on purpose.

File format (`.ecsdoctor.yaml`)::

    waivers:
      - check: container-root-filesystem-writable   # a check id (ecsdoctor checks)
        resource: "web:*"                           # glob on the finding's resource
        container: nginx                            # optional glob on data.container
        reason: nginx writes its cache to /var/cache (JIRA-123)
        expires: 2026-12-31                         # through this day, UTC

A malformed file is an input error (one line naming the key, exit 2): a typo must not
silently waive nothing — or everything. So is a waiver that quietly switches the gate off: one
whose resource glob matches every resource (`"*"`, `arn:aws:ecs:*:*:task-definition/*`), or
that runs more than a year ahead. When that is meant, the waiver says why in `broad:`::

      - check: container-privileged
        resource: "*"
        reason: the sandbox cluster runs the vendor's agent everywhere (SEC-42)
        expires: 2026-12-31
        broad: every task definition of the sandbox account carries the agent

The file is read with limits (size, aliases, the values it expands to), so a few hundred
bytes of nested aliases fail in milliseconds instead of exhausting memory.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from checker.errors import InputError
from checker.model import Finding, Report, Status
from checker.sanitize import one_line

DEFAULT_FILE = ".ecsdoctor.yaml"
#: The check that keeps each waiver (checks/gate/waivers.py): its findings are never waived.
CHECK = "waiver-expired"
_TOP = ("waivers",)
_REQUIRED = ("check", "resource", "reason", "expires")
_KEYS = (*_REQUIRED, "container", "broad")
#: Limits on the file: far above any real waiver list, far below what hurts.
MAX_BYTES = 256 << 10
MAX_ALIASES = 100
MAX_VALUES = 50_000
MAX_DEPTH = 50
#: How far ahead a waiver may run without `broad:`.
HORIZON = "a year"


@dataclass(frozen=True)
class Waiver:
    index: int
    check: str
    resource: str
    reason: str
    expires: dt.date
    container: str | None = None
    line: int | None = None
    broad: str | None = None

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def matches(self, finding: Finding) -> bool:
        if finding.check != self.check or not fnmatchcase(finding.resource, self.resource):
            return False
        return self.container is None or fnmatchcase(str(finding.data.get("container", "")),
                                                     self.container)


@dataclass(frozen=True)
class WaiverFile:
    path: str
    waivers: tuple[Waiver, ...]


def load(path: str | Path, known: Iterable[str] | None = None,
         today: dt.date | None = None) -> WaiverFile:
    """The waiver file at `path`; `today` (UTC by default) dates the one-year horizon."""
    shown = str(path)
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{shown}: no such waiver file") from None
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the waiver file: {exc}") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{shown}: larger than {MAX_BYTES >> 10} KiB; a waiver file is a "
                         "list of waivers, not a data set")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown}: cannot read the waiver file: {exc}") from None
    return parse(text, shown, known, today)


def parse(text: str, shown: str, known: Iterable[str] | None = None,
          today: dt.date | None = None) -> WaiverFile:
    raw, node = _read_yaml(text, shown)
    if raw is None:
        return WaiverFile(shown, ())
    if not isinstance(raw, dict):
        raise InputError(f"{shown}: expected a mapping with a `waivers:` list, got "
                         f"{type(raw).__name__}")
    for key in raw:
        if key not in _TOP:
            raise InputError(f"{shown}: {key}: unknown key{_hint(str(key), _TOP)} "
                             "(expected: waivers)")
    entries = raw.get("waivers") or []
    if not isinstance(entries, list):
        raise InputError(f"{shown}: waivers: expected a list of waivers")
    lines = _entry_lines(node)
    ids = set(known) if known is not None else None
    day = today or dt.datetime.now(dt.UTC).date()
    waivers = [_waiver(shown, i, entry, ids, lines[i] if i < len(lines) else None, day)
               for i, entry in enumerate(entries)]
    return WaiverFile(shown, tuple(waivers))


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses, while the document is still being read, more than
    MAX_ALIASES aliases (an alias bomb is many aliases to aliases) and nesting deeper than
    MAX_DEPTH (the composer recurses once per level)."""

    aliases = 0
    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _TooBig(f"more than {MAX_ALIASES} aliases (*name)")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooBig(f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _TooBig(Exception):
    pass


def _read_yaml(text: str, shown: str) -> tuple[Any, Any]:
    """The document and its node tree, with the limits on what it may expand to checked
    before any Python value is built (safe_load alone builds whatever the aliases say)."""
    loader = _Loader(text)
    try:
        _flow_depth(text)
        node = loader.get_single_node()
        if node is None:
            return None, None
        _expanded(node)
        return loader.construct_document(node), node
    except _TooBig as exc:
        raise InputError(f"{shown}: refused: {exc}; write the waivers out instead") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{shown}: not valid YAML{where}: {problem}") from None
    finally:
        loader.dispose()


def _flow_depth(text: str) -> None:
    """Refuse `[[[[…` before PyYAML's scanner sees it: it looks ahead over every open
    bracket for a possible key, quadratically (about a second for a thousand). Counts every
    bracket, quoted or not: over-counting only refuses what no waiver file looks like."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested more than {MAX_DEPTH} levels deep")


_BRACKETS = re.compile(r"[\[\]{}]")


def _expanded(root: yaml.Node) -> None:
    """Count the values the tree stands for once aliases are expanded (each shared node
    counted as often as it is referred to, computed once per node); refuse past MAX_VALUES
    and refuse a node that contains itself."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise _TooBig("an alias refers to a value that contains it")
        open_.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_.discard(key)
        if total > MAX_VALUES:
            raise _TooBig(f"expands to more than {MAX_VALUES} values")
        sizes[key] = total
        return total

    size(root)


def _hint(key: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _entry_lines(node: Any) -> list[int]:
    """1-based line of each waiver entry, for SARIF locations of waiver findings."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if getattr(key, "value", None) == "waivers" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _waiver(shown: str, i: int, entry: Any, known: set[str] | None, line: int | None,
            today: dt.date) -> Waiver:
    where = f"{shown}: waivers[{i}]"
    if not isinstance(entry, dict):
        raise InputError(f"{where}: expected a mapping with {', '.join(_REQUIRED)}")
    for key in entry:
        if key not in _KEYS:
            raise InputError(f"{where}.{key}: unknown key{_hint(str(key), _KEYS)}")
    for key in _REQUIRED:
        if key not in entry or entry[key] in (None, ""):
            raise InputError(f"{where}.{key}: missing (required: {', '.join(_REQUIRED)})")
    for key in ("check", "resource", "reason", "container"):
        if key in entry and not isinstance(entry[key], str):
            raise InputError(f"{where}.{key}: expected a string, got {_short(entry[key])}")
    check = entry["check"]
    if known is not None and check not in known:
        raise InputError(f"{where}.check: unknown check {check!r}{_hint(check, sorted(known))} "
                         "(list them with: ecsdoctor checks)")
    waiver = Waiver(index=i, check=check, resource=entry["resource"], reason=entry["reason"],
                    expires=_date(entry["expires"], f"{where}.expires"),
                    container=entry.get("container"), line=line,
                    broad=_broad(entry.get("broad"), f"{where}.broad"))
    if waiver.broad is None:
        _refuse_broad(waiver, where, today)
    return waiver


def _short(value: Any) -> str:
    """A value for an error line: a type for collections (their repr can be huge)."""
    return type(value).__name__ if isinstance(value, list | dict) else repr(value)[:80]


def _broad(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: expected the reason this waiver is meant to be this wide "
                         f"or long (a sentence), got {_short(value)}")
    return value


def matches_everything(glob: str) -> bool:
    """Whether a resource glob leaves the resource's own name open: no letter or digit
    after its last `/` outside wildcards (`*`, `?`, `[...]`). `*`, `*:*` and
    `arn:aws:ecs:*:*:task-definition/*` match every resource a check reports; `web:*`
    (every revision of web) does not."""
    last = re.sub(r"\[[^\]]*\]", "", glob.rsplit("/", 1)[-1])
    return not any(ch.isalnum() for ch in last)


def horizon(today: dt.date) -> dt.date:
    """The last day a waiver may run to without `broad:` (one year from today)."""
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 1, day=28)


def _refuse_broad(w: Waiver, where: str, today: dt.date) -> None:
    hint = ("; if that is meant, say why in `broad:` (a sentence) — see docs/gate.md")
    if matches_everything(w.resource):
        raise InputError(f"{where}.resource: {w.resource!r} matches every resource, so the "
                         f"check {w.check} could never fail; name the resources{hint}")
    if w.expires > horizon(today):
        raise InputError(f"{where}.expires: {w.expires.isoformat()} is more than {HORIZON} "
                         f"ahead (latest {horizon(today).isoformat()}); a waiver is a dated "
                         f"promise{hint}")


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise InputError(f"{where}: expected a date YYYY-MM-DD, got a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"{where}: expected a date YYYY-MM-DD, got {value!r}")


def gate_input(waivers: WaiverFile | None, today: dt.date) -> dict[str, Any] | None:
    """The waivers as the gate's bundle holds them (`gate.waivers`), for the check
    `waiver-expired` (checks/gate/waivers.py)."""
    if waivers is None:
        return None
    return {"file": waivers.path, "today": today.isoformat(), "waivers": [
        {"index": w.index, "check": w.check, "resource": w.resource, "reason": w.reason,
         "expires": w.expires.isoformat(), "container": w.container, "line": w.line,
         "broad": w.broad}
        for w in waivers.waivers]}


def apply(findings: Sequence[Finding], waivers: WaiverFile | None,
          today: dt.date) -> list[Finding]:
    """The findings with those a valid waiver covers turned into `skipped` (data["waived"]
    says why), and each valid waiver's own finding (check `waiver-expired`, pass) saying
    how many it covered."""
    if waivers is None:
        return list(findings)
    valid = [w for w in waivers.waivers if not w.expired(today)]
    used: dict[int, int] = {}
    out: list[Finding] = []
    for f in findings:
        waiver = None if f.check == CHECK else next((w for w in valid if w.matches(f)), None)
        if waiver is None:
            out.append(f)
            continue
        used[waiver.index] = used.get(waiver.index, 0) + 1
        out.append(_waived(f, waiver, waivers.path))
    return [_counted(f, used) if f.check == CHECK and f.status is Status.PASS else f
            for f in out]


def _waived(f: Finding, w: Waiver, path: str) -> Finding:
    data = {**f.data, "waived": {"waiver": w.index, "file": path, "reason": w.reason,
                                 "expires": w.expires.isoformat(), "status": f.status.value}}
    return replace(f, status=Status.SKIPPED, data=data,
                   message=f"waived until {w.expires.isoformat()} ({w.reason}): {f.message}")


def _counted(f: Finding, used: dict[int, int]) -> Finding:
    index = f.data.get("waiver")
    n = used.get(index, 0) if isinstance(index, int) else 0
    what = f"waives {n} finding(s)" if n else "matches no finding (stale? remove it)"
    return replace(f, message=f"{f.message}: {what}", data={**f.data, "used": n})


#: How many hidden findings the gate's summary names before it counts the rest.
SHOWN = 20


def hidden_lines(report: Report) -> str:
    """What the waivers hid, one line per finding that failed or could not be checked
    before a waiver turned it into `skipped`, for the gate's summary: a green gate says
    what it did not look at. Empty when nothing was hidden."""
    hidden = [f for f in report.findings
              if isinstance(w := f.data.get("waived"), dict) and w.get("status") != "pass"]
    lines = [f"\n  {_hidden(f)}" for f in hidden[:SHOWN]]
    if len(hidden) > SHOWN:
        lines.append(f"\n  … and {len(hidden) - SHOWN} more waived (see the report)")
    return "".join(lines)


def _hidden(f: Finding) -> str:
    """`waived fail: container-privileged on <resource>, container agent (waivers[0] until
    2026-12-31: reason)`, each piece on one line and escaped (it comes from AWS or a file)."""
    w, name = f.data["waived"], f.data.get("container")
    where = f", container {one_line(name)}" if isinstance(name, str) and name else ""
    return (f"waived {one_line(w.get('status'))}: {f.check} on {one_line(f.resource)}{where} "
            f"(waivers[{w.get('waiver')}] until {w.get('expires')}: "
            f"{one_line(w.get('reason'))})")
