"""A small evaluator for the ECS cluster query language (memberOf placement constraints).

Why: a memberOf expression that no registered container instance satisfies leaves the
service's tasks PENDING forever, and ECS only says "MemberOf placement constraint
unsatisfied". Evaluating the expression against the instances' attributes names the
expression and shows why nothing matches.

Grammar, as documented on
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-query-language.html :
`subject operator [argument]`, combined with `and`/`&&`, `or`/`||`, `not`/`!` and
parentheses. Operators: `==`/equals, `!=`/not_equals, `>`, `>=`, `<`, `<=` (and their word
forms), `exists`, `!exists`/not_exists, `in`/`!in`/not_in with `[a, b]` lists, `=~`/matches,
`!~`/not_matches with Java regular expressions (evaluated as a whole-value match, like
java.util.regex `Matcher.matches`). Subjects: `attribute:<name>`, `agentConnected`,
`agentVersion`, `ec2InstanceId`, `registeredAt`, `runningTasksCount`, `task:group`.

Evaluation is three-valued: None means "cannot tell from the bundle" (an unknown subject,
`task:group` without the tasks), so a caller reports `unknown` instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from checker.facts import Item, dig, objs, parse_time


class PlacementSyntaxError(ValueError):
    """The expression does not follow the documented grammar."""


@dataclass(frozen=True, slots=True)
class Comparison:
    subject: str
    op: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    inner: Node


Node = Comparison | BoolOp | Not

#: Every spelling of an operator → its canonical symbol.
_OPS = {
    "==": "==", "equals": "==", "!=": "!=", "not_equals": "!=",
    ">": ">", "greater_than": ">", ">=": ">=", "greater_than_equal": ">=",
    "<": "<", "less_than": "<", "<=": "<=", "less_than_equal": "<=",
    "exists": "exists", "!exists": "!exists", "not_exists": "!exists",
    "in": "in", "!in": "!in", "not_in": "!in",
    "=~": "=~", "matches": "=~", "!~": "!~", "not_matches": "!~",
}
_NO_ARG = {"exists", "!exists"}
_LIST_ARG = {"in", "!in"}
_BOOL = {"and": "and", "&&": "and", "or": "or", "||": "or"}
_TOKEN = re.compile(
    r"""\s*(?:(?P<quoted>'[^']*'|"[^"]*")|(?P<sym>&&|\|\||==|!=|>=|<=|=~|!~|!in\b|!exists\b"""
    r"""|[()\[\],!<>])|(?P<word>[^\s()\[\],!<>=~'"]+))"""
)


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """(token, start, end): positions let a regex argument glue adjacent tokens back."""
    out: list[tuple[str, int, int]] = []
    pos = 0
    while text[pos:].strip():
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise PlacementSyntaxError(f"unexpected character at {pos}: {text[pos:pos + 12]!r}")
        tok = m.group("quoted") or m.group("sym") or m.group("word")
        out.append((tok, m.end() - len(tok), m.end()))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            want = expected or "more input"
            raise PlacementSyntaxError(f"expected {want!r}, got {tok or 'end of expression'!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise PlacementSyntaxError(f"unexpected {self.peek()!r}")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while (tok := self.peek()) is not None and _BOOL.get(tok.lower()) == "or":
            self.take()
            node = BoolOp("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while (tok := self.peek()) is not None and _BOOL.get(tok.lower()) == "and":
            self.take()
            node = BoolOp("and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.lower() in ("not", "!"):
            self.take()
            return Not(self.not_expr())
        if tok == "(":
            self.take()
            node = self.or_expr()
            self.take(")")
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        subject = self.take()
        if subject in "()[],":
            raise PlacementSyntaxError(f"expected a subject, got {subject!r}")
        raw = self.take()
        op = _OPS.get(raw.lower())
        if op is None:
            raise PlacementSyntaxError(f"unknown operator {raw!r} after {subject!r}")
        if op in _NO_ARG:
            return Comparison(subject, op)
        if op in _LIST_ARG:
            return Comparison(subject, op, self.arg_list())
        return Comparison(subject, op, (self.argument(regex=op in ("=~", "!~")),))

    def argument(self, *, regex: bool = False) -> str:
        if regex:
            return self.regex()
        tok = self.take()
        if tok in "()[],":
            raise PlacementSyntaxError(f"expected an argument, got {tok!r}")
        return _unquote(tok)

    def regex(self) -> str:
        """A Java regex may hold ( ) [ ] that the tokenizer split off: glue the tokens that
        touch each other back together, leaving a `)` that closes an outer group alone."""
        if self.peek() is None:
            raise PlacementSyntaxError("expected a pattern, got end of expression")
        text, _, end = self.toks[self.i]
        self.i += 1
        while self.i < len(self.toks):
            tok, start, nxt_end = self.toks[self.i]
            closes_outer = (tok == ")" and text.count("(") <= text.count(")")) or (
                tok == "]" and text.count("[") <= text.count("]"))
            if start != end or closes_outer:
                break
            text, end = text + tok, nxt_end
            self.i += 1
        return _unquote(text)

    def arg_list(self) -> tuple[str, ...]:
        self.take("[")
        args = [self.argument()]
        while self.peek() == ",":
            self.take()
            args.append(self.argument())
        self.take("]")
        return tuple(args)


def _unquote(tok: str) -> str:
    return tok[1:-1] if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "'\"" else tok


def parse(text: str) -> Node:
    """Parse one expression; PlacementSyntaxError when it is not in the documented form."""
    if not isinstance(text, str) or not text.strip():
        raise PlacementSyntaxError("empty expression")
    return _Parser(text).parse()


def subjects(node: Node) -> set[str]:
    if isinstance(node, Comparison):
        return {node.subject}
    if isinstance(node, Not):
        return subjects(node.inner)
    return subjects(node.left) | subjects(node.right)


# -- evaluation -------------------------------------------------------------------------
def attr(ci: Item, name: str) -> str | None:
    """Value of a container instance attribute ("" when set without a value), None when
    absent — tolerant of odd `attributes` lists in hand-written bundles."""
    for item in objs(ci.get("attributes")):
        if item.get("name") == name:
            value = item.get("value")
            return "" if value is None else str(value)
    return None


def _subject_value(subject: str, ci: Item) -> tuple[bool, Any]:
    """(known, value) of a subject on one container instance; value None = absent."""
    if subject.startswith("attribute:"):
        return True, attr(ci, subject.removeprefix("attribute:"))
    simple: dict[str, Callable[[], Any]] = {
        "agentConnected": lambda: (None if ci.get("agentConnected") is None
                                   else str(bool(ci.get("agentConnected"))).lower()),
        "agentVersion": lambda: dig(ci, "versionInfo", "agentVersion"),
        "ec2InstanceId": lambda: ci.get("ec2InstanceId"),
        "registeredAt": lambda: ci.get("registeredAt"),
        "runningTasksCount": lambda: ci.get("runningTasksCount"),
    }
    getter = simple.get(subject)
    if getter is None:
        return False, None
    return True, getter()


def _ordered(subject: str, value: Any, arg: str) -> tuple[Any, Any] | None:
    """Comparable forms of value and argument: dates, versions or numbers, else None."""
    if subject == "registeredAt":
        a, b = parse_time(value), parse_time(arg if "T" in arg else f"{arg}T00:00:00")
        return (a, b) if a and b else None
    if subject == "agentVersion":
        va, vb = _version(str(value)), _version(arg)
        return (va, vb) if va and vb else None
    try:
        return float(value), float(arg)
    except (TypeError, ValueError):
        return None


def _version(text: str) -> tuple[int, ...] | None:
    parts = text.strip().lstrip("v").split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def _compare(subject: str, op: str, value: Any, args: tuple[str, ...]) -> bool | None:
    if op == "exists":
        return value is not None
    if op == "!exists":
        return value is None
    text = None if value is None else str(value)
    if op in ("==", "!="):
        return (text == args[0]) == (op == "==")
    if op in ("in", "!in"):
        return (text in args) == (op == "in")
    if op in ("=~", "!~"):
        try:
            hit = text is not None and re.fullmatch(args[0], text) is not None
        except re.error:
            return None
        return hit == (op == "=~")
    if value is None:
        return False
    pair = _ordered(subject, value, args[0])
    if pair is None:
        return None
    a, b = pair
    return bool({">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op])


def _group_match(op: str, args: tuple[str, ...], groups: Collection[str]) -> bool | None:
    """`task:group` selects instances hosting a task of that group."""
    if op in ("==", "in"):
        return any(g in args for g in groups)
    if op in ("!=", "!in"):
        return not any(g in args for g in groups)
    if op in ("exists", "!exists"):
        return bool(groups) == (op == "exists")
    if op in ("=~", "!~"):
        hit = any(re.fullmatch(args[0], g) for g in groups)
        return hit == (op == "=~")
    return None


def evaluate(node: Node, ci: Item, task_groups: Collection[str] | None = None) -> bool | None:
    """Does container instance `ci` satisfy the expression? None when it cannot be told.

    `task_groups` are the groups of the tasks running on `ci` (needed for `task:group`)."""
    if isinstance(node, Not):
        inner = evaluate(node.inner, ci, task_groups)
        return None if inner is None else not inner
    if isinstance(node, BoolOp):
        left = evaluate(node.left, ci, task_groups)
        right = evaluate(node.right, ci, task_groups)
        if node.op == "and":
            return False if False in (left, right) else (None if None in (left, right)
                                                          else True)
        return True if True in (left, right) else (None if None in (left, right) else False)
    if node.subject == "task:group":
        return None if task_groups is None else _group_match(node.op, node.args, task_groups)
    known, value = _subject_value(node.subject, ci)
    return _compare(node.subject, node.op, value, node.args) if known else None


@dataclass(frozen=True, slots=True)
class Verdict:
    """How many of the given instances satisfy an expression, and which could not be told."""

    expression: str
    error: str | None
    matching: tuple[str, ...]
    undecided: tuple[str, ...]
    examined: int


def match_instances(expression: str, instances: Iterable[Item],
                    groups_by_instance: dict[str, set[str]] | None = None) -> Verdict:
    """Evaluate `expression` over container instances (named by their EC2 instance id)."""
    try:
        node = parse(expression)
    except PlacementSyntaxError as exc:
        return Verdict(expression, str(exc), (), (), 0)
    matching: list[str] = []
    undecided: list[str] = []
    count = 0
    for ci in instances:
        count += 1
        name = str(ci.get("ec2InstanceId") or ci.get("containerInstanceArn", "?"))
        groups = None if groups_by_instance is None else groups_by_instance.get(
            str(ci.get("containerInstanceArn")), set())
        verdict = evaluate(node, ci, groups)
        if verdict is None:
            undecided.append(name)
        elif verdict:
            matching.append(name)
    return Verdict(expression, None, tuple(matching), tuple(undecided), count)
