"""Template placeholders left in a value: `${VAR}`, `{{ var }}`, `<YOUR_API_KEY>`, `#{Var}`,
`$IMAGE_TAG`.

Why one finder: a task definition file committed as a template (CloudFormation `Sub`,
envsubst, ecspresso, Jinja, Octopus, the hand-edited "replace me" samples) is not what will be
registered. A value such as `DB_PASSWORD=${DB_PASSWORD}` or `image: app:{{tag}}` is neither a
leaked secret nor a pinned tag — it is nothing yet — and every check that reads it must know
so. The gate refuses such a file ("render the template first"); the secret and image checks
ask here before judging a value.

Linear time: one left-to-right pass of one compiled pattern whose every repetition is bounded
(a placeholder is at most a few hundred characters), so a hostile multi-megabyte value costs a
constant per character and no backtracking blow-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Longest placeholder body looked at; longer runs are not template variables.
MAX_BODY = 200

_N = MAX_BODY
_PATTERN = re.compile(
    rf"(?P<dollar>\$\{{[^{{}}\n]{{1,{_N}}}\}})"          # ${VAR}, ${AWS::Region}, ${var:-x}
    rf"|(?P<mustache>\{{\{{[^{{}}\n]{{0,{_N}}}\}}\}})"  # {{ var }}, {{ must_env `X` }}
    rf"|(?P<hash>#\{{[^{{}}\n]{{1,{_N}}}\}})"            # #{Octopus.Var}
    rf"|(?P<angle><[A-Za-z][A-Za-z0-9_ .:/-]{{0,{_N}}}>)"  # <YOUR_API_KEY>, <task_role_arn>
    rf"|(?P<bare>(?<![\w$\\])\$[A-Z][A-Z0-9_]{{1,{_N}}}\b)")  # $IMAGE_TAG (envsubst)

#: `<html>`, `<p>`: markup in a value (an nginx page in a command), not a placeholder.
_HTML_TAGS = frozenset({
    "a", "b", "i", "p", "u", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "li", "ol",
    "ul", "td", "th", "tr", "pre", "div", "img", "span", "html", "head", "body", "title",
    "style", "script", "meta", "link", "table", "form", "input", "label", "code", "center",
    "strong", "small", "main", "nav", "footer", "header", "section", "article", "button",
    "option", "select", "textarea", "iframe", "noscript", "tbody", "thead",
})


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One placeholder: where it is in the value (`start`, `end`) and its text."""

    start: int
    end: int
    text: str
    #: dollar | mustache | hash | angle | bare
    kind: str


def find_placeholders(value: str) -> list[Placeholder]:
    """Every placeholder in `value`, left to right, non-overlapping."""
    out: list[Placeholder] = []
    if not isinstance(value, str) or not any(ch in value for ch in "${<#"):
        return out
    for match in _PATTERN.finditer(value):
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "angle" and _markup(text):
            continue
        out.append(Placeholder(match.start(), match.end(), text, kind))
    return out


def has_placeholder(value: object) -> bool:
    """True when `value` is a string holding at least one placeholder."""
    return isinstance(value, str) and bool(find_placeholders(value))


def _markup(text: str) -> bool:
    """`<html>`, `<p class=x>`-less tags: an HTML tag name alone in angle brackets."""
    return text[1:-1].strip().lower() in _HTML_TAGS
