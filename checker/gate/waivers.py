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
silently waive nothing — or everything.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from checker.errors import InputError
from checker.model import Finding, Status

DEFAULT_FILE = ".ecsdoctor.yaml"
#: The check that keeps each waiver (checks/gate/waivers.py): its findings are never waived.
CHECK = "waiver-expired"
_TOP = ("waivers",)
_REQUIRED = ("check", "resource", "reason", "expires")
_KEYS = (*_REQUIRED, "container")


@dataclass(frozen=True)
class Waiver:
    index: int
    check: str
    resource: str
    reason: str
    expires: dt.date
    container: str | None = None
    line: int | None = None

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


def load(path: str | Path, known: Iterable[str] | None = None) -> WaiverFile:
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{shown}: no such waiver file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{shown}: cannot read the waiver file: {exc}") from None
    return parse(text, shown, known)


def parse(text: str, shown: str, known: Iterable[str] | None = None) -> WaiverFile:
    try:
        raw = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{shown}: not valid YAML{where}: {problem}") from None
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
    waivers = [_waiver(shown, i, entry, ids, lines[i] if i < len(lines) else None)
               for i, entry in enumerate(entries)]
    return WaiverFile(shown, tuple(waivers))


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


def _waiver(shown: str, i: int, entry: Any, known: set[str] | None, line: int | None) -> Waiver:
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
            raise InputError(f"{where}.{key}: expected a string, got {entry[key]!r}")
    check = entry["check"]
    if known is not None and check not in known:
        raise InputError(f"{where}.check: unknown check {check!r}{_hint(check, sorted(known))} "
                         "(list them with: ecsdoctor checks)")
    return Waiver(index=i, check=check, resource=entry["resource"], reason=entry["reason"],
                  expires=_date(entry["expires"], f"{where}.expires"),
                  container=entry.get("container"), line=line)


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
         "expires": w.expires.isoformat(), "container": w.container, "line": w.line}
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
