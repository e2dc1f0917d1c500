"""What a secret in a container definition looks like, and where it sits.

One detector, two readers: the `environment-plaintext-secrets` check reports what it finds
(checks/security.py), and redaction removes the same before a bundle is written
(checker/redact.py). If they disagreed, a saved bundle would hold a secret the check missed,
or the check would flag a value redaction left alone.

Where: `environment`, `command`, `entryPoint`, `healthCheck.command`, `dockerLabels` and
`logConfiguration.options` — every plain-text field of a container definition a person
puts credentials in. What: a value's shape (an access key id, a private key, a JWT, a URL
with a password, …) wherever it sits; a secret-sounding name (variable, label, log option,
command-line flag, `NAME=value` in a shell string) with a literal value; a program's own
password flag (`mysql -pS3cret`). Placeholders (`${DB_PASSWORD}`, `<YOUR_API_KEY>`,
`{{ x }}`) are told apart and reported as such; references (ARNs, paths, another variable's
name) are nothing. The data is ``checks/data/secret_patterns.yaml``; every pattern there is
bounded, so scanning is linear in the size of a value.

A redacted value keeps its kind (``***REDACTED:password***``), so a finding read from a
saved bundle still says what was there.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from checker import yamlload

#: The pattern table, in the `checks` package (a knowledge table like the others).
PATTERNS_FILE = ("data", "secret_patterns.yaml")
#: The kind of a redacted value whose marker carries none (bundles saved before kinds).
REDACTED = "redacted"
#: A token of a command line (whitespace-separated, as a shell splits it).
_TOKEN = re.compile(r"\S+")
#: `NAME=value` / `--flag=value` / `-Dprop.name=value`: the name part.
_ASSIGNED = re.compile(r"-{0,2}[A-Za-z_][A-Za-z0-9_.-]{0,255}")
_QUOTES = "'\""


@dataclass(frozen=True, slots=True)
class NameRule:
    kind: str
    pattern: re.Pattern[str]
    random: bool


@dataclass(frozen=True, slots=True)
class FlagRule:
    programs: frozenset[str]
    flag: str
    attached: bool
    separate: bool
    kind: str
    needs: str


@dataclass(frozen=True, slots=True)
class Patterns:
    kinds: Mapping[str, str]
    values: tuple[tuple[str, re.Pattern[str]], ...]
    hints: Mapping[str, tuple[str, ...]]
    name_hints: tuple[str, ...]
    value_names: Mapping[str, re.Pattern[str]]
    names: tuple[NameRule, ...]
    not_names: re.Pattern[str]
    random: re.Pattern[str]
    placeholders: tuple[re.Pattern[str], ...]
    templates: tuple[re.Pattern[str], ...]
    references: tuple[re.Pattern[str], ...]
    flags: tuple[FlagRule, ...]
    marker_format: str
    markers: re.Pattern[str]
    min_length: int

    def marker(self, kind: str) -> str:
        """What a redacted value of this kind becomes."""
        return self.marker_format.format(kind=kind)


@cache
def patterns() -> Patterns:
    """The table, compiled once; a malformed table fails here, at first use."""
    text = resources.files("checks").joinpath(*PATTERNS_FILE).read_text("utf-8")
    data = yamlload.safe_load(text)
    fmt = str(data["redacted_marker"])
    head, _, tail = fmt.partition("{kind}")
    legacy = "|".join(re.escape(str(m)) for m in data.get("redacted_legacy") or ())
    markers = re.compile(f"{re.escape(head)}(?P<kind>[a-z0-9-]{{1,40}}){re.escape(tail)}"
                         + (f"|{legacy}" if legacy else ""))
    return Patterns(
        kinds={str(k): str(v) for k, v in data["kinds"].items()},
        values=tuple((str(k), re.compile(v)) for k, v in data["values"].items()),
        hints={str(k): tuple(str(h).lower() for h in v)
               for k, v in (data.get("hints") or {}).items()},
        name_hints=tuple(str(h).lower() for h in data.get("name_hints") or ()),
        value_names={str(k): re.compile(v) for k, v in (data.get("value_names") or {}).items()},
        names=tuple(NameRule(str(r["kind"]), re.compile(r["pattern"]), bool(r.get("random")))
                    for r in data["names"]),
        not_names=re.compile(data["not_names"]),
        random=re.compile(data["random"]["charset"]),
        placeholders=tuple(re.compile(p) for p in data["placeholders"]),
        templates=tuple(re.compile(p) for p in data["templates"]),
        references=tuple(re.compile(p) for p in data["references"]),
        flags=tuple(FlagRule(frozenset(map(str, f["programs"])), str(f["flag"]),
                             bool(f.get("attached")), bool(f.get("separate")), str(f["kind"]),
                             str(f.get("needs", ""))) for f in data["flags"]),
        marker_format=fmt, markers=markers, min_length=int(data["min_length"]))


def describe(kind: str) -> str:
    """How a finding names a kind: `a Stripe secret key`."""
    return patterns().kinds.get(kind, f"a secret ({kind})")


# -- names and values -----------------------------------------------------------------------

def normalize(name: str) -> str:
    """`licenseKey` → LICENSE_KEY, `splunk-token` → SPLUNK_TOKEN, `HTTPPasswd` →
    HTTP_PASSWD: the form the name rules are written for."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def name_kind(name: str, value: str) -> str | None:
    """The kind a secret-sounding name gives a literal value, or None."""
    pats = patterns()
    low = name.lower()
    if not any(hint in low for hint in pats.name_hints):
        return None
    norm = normalize(name)
    if not norm or pats.not_names.search(norm):
        return None
    for rule in pats.names:
        if rule.pattern.search(norm):
            if rule.random and not looks_random(value):
                continue
            return rule.kind
    return None


def looks_random(value: str) -> bool:
    """Long, one token of key characters, at least two of upper, lower and digits."""
    text = value.strip()
    if len(text) < 16 or not patterns().random.fullmatch(text):
        return False
    classes = (any(c.isupper() for c in text), any(c.islower() for c in text),
               any(c.isdigit() for c in text))
    return sum(classes) >= 2


def is_placeholder(value: str) -> bool:
    """A template the deployment fills, or a value left to replace."""
    pats, text = patterns(), value.strip()
    return (any(p.fullmatch(text) for p in pats.placeholders)
            or any(p.search(text) for p in pats.templates))


def is_reference(value: str) -> bool:
    """No credential: empty, an ARN, a path, a boolean, another variable's name."""
    text = value.strip()
    return any(p.fullmatch(text) for p in patterns().references)


@dataclass(frozen=True, slots=True)
class Hit:
    """A secret (or, with `placeholder`, a placeholder where a secret would be), and where
    in the value it is (the whole value, or a URL's password)."""

    kind: str
    start: int
    end: int
    placeholder: bool = False


def marker_kind(value: str) -> str | None:
    """The kind a redaction marker in `value` records (REDACTED for an old marker)."""
    match = patterns().markers.search(value)
    if match is None:
        return None
    kind = match.group("kind")
    return kind if kind in patterns().kinds else REDACTED


def shapes(text: str, name: str | None = None) -> Iterator[Hit]:
    """Every credential-shaped piece of `text`. With `name` None (a command line) the
    kinds that need a name to tell them from a hash are skipped."""
    pats = patterns()
    norm = normalize(name) if name is not None else None
    low = text.lower()
    for kind, pattern in pats.values:
        need = pats.value_names.get(kind)
        if need is not None and (norm is None or not need.search(norm)):
            continue
        hints = pats.hints.get(kind)
        if hints and not any(hint in low for hint in hints):
            continue
        for match in pattern.finditer(text):
            group = "password" if "password" in pattern.groupindex else 0
            start, end = match.span(group)
            piece = match.group(group)
            if group and (is_reference(piece) or marker_kind(piece)):
                continue
            yield Hit(kind, start, end, placeholder=bool(group) and is_placeholder(piece))


def classify(name: str, value: str) -> Hit | None:
    """What the value of variable (label, option, flag) `name` is: a secret of some kind, a
    placeholder where a secret would be, or None. A value shape beats the name."""
    marked = marker_kind(value)
    if marked is not None:
        return Hit(marked, 0, len(value))
    placeholder: Hit | None = None
    for hit in shapes(value, name):
        if not hit.placeholder:
            return Hit(hit.kind, 0, len(value))
        placeholder = placeholder or hit
    text = value.strip()
    if len(text) < patterns().min_length or is_reference(text):
        return placeholder
    kind = name_kind(name, value)
    if kind is None:
        return placeholder
    return Hit(kind, 0, len(value), placeholder=is_placeholder(text))


# -- command lines --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WordHit:
    """A secret in word `word` of a command (`start`:`end` within it), and the flag or
    variable that names it ("" for a bare shape)."""

    word: int
    start: int
    end: int
    kind: str
    flag: str
    placeholder: bool = False


@dataclass(frozen=True, slots=True)
class _Token:
    word: int
    start: int
    end: int
    text: str

    def unquoted(self) -> tuple[int, int, str]:
        start, end = self.start, self.end
        text = self.text
        while text and text[0] in _QUOTES:
            text, start = text[1:], start + 1
        while text and text[-1] in _QUOTES:
            text, end = text[:-1], end - 1
        return start, end, text


def scan_words(words: list[str]) -> list[WordHit]:
    """Secrets in a command line given as words (`command`, `entryPoint`): long flags and
    `NAME=value` judged by name, the programs' short password flags, value shapes, and
    values redacted before. Overlapping finds keep the first (a flag's name beats a shape).
    Only tokens that can matter (a flag, an assignment, a quote) get more than a glance,
    so a megabyte of shell script costs a fraction of a second."""
    pats = patterns()
    programs = {m.group() for w in words if any(p in w for p in _program_names())
                for m in _programs().finditer(w)}
    active = tuple(r for r in pats.flags if r.programs & programs)
    hits: list[WordHit] = []
    for i, word in enumerate(words):
        named = _named_at(word)
        for m in _CANDIDATE.finditer(word):
            start, end = m.span()
            k = bisect.bisect_left(named, start)
            if not (k < len(named) and named[k] < end) and not (
                    active and m.group().lstrip(_QUOTES).startswith("-")):
                continue
            hits += _flag_hits(_Token(i, start, end, m.group()), _next(words, i, end),
                               active)
    for i, word in enumerate(words):
        hits += [WordHit(i, h.start, h.end, h.kind, "", h.placeholder) for h in shapes(word)]
        hits += [WordHit(i, m.start(), m.end(), marker_kind(m.group()) or REDACTED, "")
                 for m in pats.markers.finditer(word)]
    kept: list[WordHit] = []
    for hit in hits:
        if not any(k.word == hit.word and k.start < hit.end and hit.start < k.end
                   for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: (h.word, h.start))


#: A token that can name or hold a secret by what it says: a flag, a quoted word, or
#: `NAME=value` (tokens as whitespace splits them).
_CANDIDATE = re.compile(r"(?<!\S)(?:['\"-]|[^\s=]*=)\S*")


def _next(words: list[str], i: int, end: int) -> _Token | None:
    """The token after position `end` of word `i` (in a later word if need be)."""
    for j in range(i, len(words)):
        m = _TOKEN.search(words[j], end if j == i else 0)
        if m is not None:
            return _Token(j, m.start(), m.end(), m.group())
    return None


@cache
def _program_names() -> tuple[str, ...]:
    return tuple(sorted({p for r in patterns().flags for p in r.programs}, key=len,
                        reverse=True))


@cache
def _programs() -> re.Pattern[str]:
    """The programs of the flag rules, as whole words (a path before them allowed)."""
    return re.compile(r"(?<![^\s/'\"])(?:" + "|".join(map(re.escape, _program_names()))
                      + r")(?![^\s'\"])")


def _named_at(word: str) -> list[int]:
    """Sorted positions of the name hints in `word`, case-insensitive (a token without
    one names no secret): `str.find` runs in C, so a megabyte is cheap."""
    low, found = word.lower(), []
    for hint in patterns().name_hints:
        at = low.find(hint)
        while at >= 0:
            found.append(at)
            at = low.find(hint, at + 1)
    return sorted(found)


def _flag_hits(token: _Token, after: _Token | None,
               active: tuple[FlagRule, ...]) -> list[WordHit]:
    """What one token says: `NAME=value` / `--flag=value` by name; a program's password
    flag with the value glued on (`-pS3cret`) or next (`-p S3cret`); a long flag whose name
    is a secret's, with the next token its value (`--db-password S3cret`)."""
    start, end, text = token.unquoted()
    name, eq, value = text.partition("=")
    if eq and _ASSIGNED.fullmatch(name) and (name.startswith("-") or "." not in name):
        hit = classify(name.lstrip("-"), value)
        if hit is not None:
            return [WordHit(token.word, start + len(name) + 1, end, hit.kind, name,
                            hit.placeholder)]
    if not text.startswith("-") or eq:
        return []
    glued = _program_flag(text, text, (token.word, start, end), active, separate=False)
    if glued or after is None:
        return glued
    a_start, a_end, a_text = after.unquoted()
    if a_text.startswith("-"):
        return []
    where = (after.word, a_start, a_end)
    separate = _program_flag(text, a_text, where, active, separate=True)
    if separate:
        return separate
    flag = text.lstrip("-")
    if not (text.startswith("--") or _LONG_FLAG.fullmatch(flag)) \
            or name_kind(flag, a_text) is None:
        return []
    hit = classify(flag, a_text)
    return [] if hit is None else [WordHit(*where, hit.kind, text, hit.placeholder)]


#: A single-dash long flag (`-password`): lower case, at least three characters.
_LONG_FLAG = re.compile(r"[a-z][a-z0-9_.-]{2,255}")


def _program_flag(flag: str, value: str, where: tuple[int, int, int],
                  active: tuple[FlagRule, ...], separate: bool) -> list[WordHit]:
    word, start, end = where
    for rule in active:
        if separate and rule.separate and flag == rule.flag:
            secret = value
        elif not separate and rule.attached and flag.startswith(rule.flag) \
                and len(flag) > len(rule.flag):
            secret, start = flag[len(rule.flag):], start + len(rule.flag)
        else:
            continue
        if rule.needs not in secret or is_reference(secret):
            continue
        marked = marker_kind(secret)
        return [WordHit(word, start, end, marked or rule.kind, rule.flag,
                        placeholder=marked is None and is_placeholder(secret))]
    return []


# -- a container definition ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Found:
    """One secret (or placeholder) in a container definition: the field it is in
    (`environment`, `command`, `dockerLabels`, …), the variable, flag, label or option
    that holds it ("" for a bare shape in a command), and its kind."""

    place: str
    name: str
    kind: str
    placeholder: bool = False

    def label(self) -> str:
        """Where, in a few words: `DB_PASSWORD` for a variable, `command --password`,
        `dockerLabels traefik.http.middlewares.auth.basicauth.users`, `command`."""
        if self.place == "environment":
            return self.name
        return f"{self.place} {self.name}" if self.name else self.place

    def text(self) -> str:
        """`a password in DB_PASSWORD`, `a password in command (--password)`."""
        what = describe(self.kind)
        if self.place == "environment":
            return f"{what} in {self.name}"
        if self.place in ("dockerLabels", "logConfiguration.options"):
            return f"{what} in {self.place} {self.name}"
        return f"{what} in {self.place} ({self.name})" if self.name else \
            f"{what} in {self.place}"


def command_lines(container: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(place, value) of the container's command lines, the health check's included."""
    health = container.get("healthCheck")
    health_cmd = health.get("command") if isinstance(health, dict) else None
    return [("command", container.get("command")), ("entryPoint", container.get("entryPoint")),
            ("healthCheck.command", health_cmd)]


def as_words(value: Any) -> list[str]:
    """A command as its words (a bare string is one word; non-strings are skipped)."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def pairs(container: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(place, name, value) of the container's variables, labels and log options."""
    out: list[tuple[str, str, str]] = []
    env = container.get("environment")
    for pair in env if isinstance(env, list) else []:
        if isinstance(pair, dict) and isinstance(pair.get("name"), str):
            value = pair.get("value")
            out.append(("environment", pair["name"], "" if value is None else str(value)))
    labels = container.get("dockerLabels")
    out += [("dockerLabels", str(k), str(v)) for k, v in
            (labels.items() if isinstance(labels, dict) else ()) if v is not None]
    logs = container.get("logConfiguration")
    options = logs.get("options") if isinstance(logs, dict) else None
    out += [("logConfiguration.options", str(k), str(v)) for k, v in
            (options.items() if isinstance(options, dict) else ()) if v is not None]
    return out


def scan_container(container: Mapping[str, Any], *,
                   judge: Callable[[str, str], Hit | None] = classify,
                   scan: Callable[[list[str]], Sequence[WordHit]] = scan_words) -> list[Found]:
    """Every secret and placeholder-for-a-secret in a container definition. `judge` and
    `scan` stand for classify and scan_words: a caller that scans many containers passes
    them memoized, since task definitions repeat the same variables, options and command
    lines service after service."""
    found: list[Found] = []
    for place, name, value in pairs(container):
        hit = judge(name, value)
        if hit is not None:
            found.append(Found(place, name, hit.kind, hit.placeholder))
    for place, value in command_lines(container):
        found += [Found(place, h.flag, h.kind, h.placeholder)
                  for h in scan(as_words(value))]
    return found
