"""Classify why a stopped task stopped, from the data table checks/data/stop_reasons.yaml.

Order of evidence follows the AWS guidance: the reason text first (an OOM kill can come
with exit code 0 or none), then the stopCode, then the containers' exit codes. ECS
truncates reasons to about 255 characters, so the table's patterns match near the start
of a message; a cause the truncation cut off degrades to `other`, never to a wrong
category. The text that decided is kept verbatim on the `Stop`.
"""

from __future__ import annotations

import re
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, NamedTuple

from checker.facts import Facts, Item, obj, objs
from checks.lib.knowledge import table
from checks.lib.labels import service_label
from checks.lib.task_window import HOUR, Window, window
from checks.lib.values import int_or_none

#: ECS cuts reasons at this many characters (the cut often ends in "...").
REASON_LIMIT = 255


@dataclass(frozen=True, slots=True)
class Stop:
    """Why one task stopped: category and sub-cause, the container that decided it, and
    the original text (never rewritten, so a report can quote it)."""

    category: str
    cause: str | None
    container: str | None
    exit_code: int | None
    reason: str
    target: str | None = None

    @property
    def problem(self) -> bool:
        return bool(categories()[self.category]["problem"])

    @property
    def label(self) -> str:
        """`image-pull/network`: the key the summary counts by."""
        return f"{self.category}/{self.cause}" if self.cause else self.category

    @property
    def truncated(self) -> bool:
        """Only a reason that ends at the API's cut length was cut: a shorter one ending
        in "..." is whole (a URL of ECS's own, a message that says "retrying...")."""
        return len(self.reason) >= REASON_LIMIT


class _Rule(NamedTuple):
    category: str
    pattern: re.Pattern[str]
    causes: tuple[tuple[str, re.Pattern[str]], ...]
    targets: tuple[tuple[str, re.Pattern[str]], ...]
    hints: dict[str, str]


class _Text(NamedTuple):
    container: str | None
    exit_code: int | None
    text: str


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _pairs(rows: Iterable[Mapping[str, str]], key: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((str(r[key]), _compile(r["match"])) for r in rows)


@cache
def categories() -> dict[str, Any]:
    return dict(table("stop_reasons")["categories"])


@cache
def _rules() -> tuple[_Rule, ...]:
    return tuple(
        _Rule(r["category"], _compile(r["match"]), _pairs(r.get("causes", []), "cause"),
              _pairs(r.get("targets", []), "target"),
              {str(c["cause"]): str(c.get("hint", "")) for c in r.get("causes", [])})
        for r in table("stop_reasons")["rules"])


def causes(category: str) -> tuple[str, ...]:
    """Every cause a stop of `category` can be given (`other` when no cause rule matched):
    the values a check's `cause` data can take, so a playbook `where: {cause: …}` naming
    anything else fails at load."""
    names = [name for rule in _rules() if rule.category == category for name, _ in rule.causes]
    return (*dict.fromkeys(names), "other")


def hint(category: str, cause: str | None, **names: str) -> str:
    """The one-line explanation of a cause, from the table (`{registry}`, `{target}`)."""
    for rule in _rules():
        if rule.category == category and rule.hints.get(cause or ""):
            return rule.hints[cause or ""].format(**names)
    return str(table("stop_reasons")["other_hint"])


def match_reason(text: str | None) -> str | None:
    """Category of one reason text on its own (no stopCode or exit code), or None."""
    first = _first_rule(text) if text else None
    return None if first is None else _rules()[first].category


@lru_cache(maxsize=4096)
def _first_rule(text: str) -> int | None:
    """Index of the first rule (table order) whose pattern finds `text`, or None; kept per
    text (bounded, for a long-lived process). A large account's stopped tasks repeat a few
    reasons thousands of times, and each judgement tried the rules' patterns in turn."""
    return next((i for i, r in enumerate(_rules()) if r.pattern.search(text)), None)


def _first(pairs: Iterable[tuple[str, re.Pattern[str]]], texts: list[str]) -> str | None:
    for name, pattern in pairs:
        if any(pattern.search(t) for t in texts):
            return name
    return None


def _split(value: str) -> tuple[str, str | None]:
    category, _, cause = value.partition("/")
    return category, cause or None


def _exit_rank(code: int | None) -> int:
    """The container whose exit explains the stop: an application code before the SIGKILL
    (137) ECS sends the other containers, before SIGTERM (143), before a clean 0."""
    return {None: 4, 0: 3, 143: 2, 137: 1}.get(code, 0)


def _texts(task: Item) -> list[_Text]:
    """Containers (the one that explains the stop first), then the task's own reason."""
    ordered = sorted(objs(task.get("containers")),
                     key=lambda c: (_exit_rank(int_or_none(c.get("exitCode"))),
                                    str(c.get("name", ""))))
    out = [_Text(c.get("name"), int_or_none(c.get("exitCode")), str(c.get("reason") or ""))
           for c in ordered]
    out.append(_Text(None, None, str(task.get("stoppedReason") or "")))
    return out


def _by_rule(texts: list[_Text]) -> Stop | None:
    """The first rule that finds any of the texts decides, on the texts it finds: those
    whose own first rule it is (a text found by an earlier rule would have decided)."""
    firsts = [_first_rule(t.text) if t.text else None for t in texts]
    decided = min((i for i in firsts if i is not None), default=None)
    if decided is not None:
        rule = _rules()[decided]
        hits = [t for t, i in zip(texts, firsts, strict=True) if i == decided]
        found = [t.text for t in hits]
        cause = _first(rule.causes, found) or ("other" if rule.causes else None)
        who = next((t for t in hits if t.container), texts[0])
        return Stop(rule.category, cause, who.container, who.exit_code, hits[0].text,
                    _first(rule.targets, found))
    return None


def _by_exit_code(texts: list[_Text], task_reason: str) -> Stop | None:
    ctr = next((t for t in texts if t.container and t.exit_code is not None), None)
    if ctr is None or ctr.exit_code is None:
        return None
    mapped = table("stop_reasons")["exit_codes"].get(str(ctr.exit_code))
    category, cause = _split(str(mapped)) if mapped else ("app-error", None)
    return Stop(category, cause, ctr.container, ctr.exit_code, ctr.text or task_reason)


def _sigkilled(stop: Stop, texts: list[_Text]) -> Stop:
    """A requested stop whose container needed SIGKILL: the app ignores SIGTERM."""
    if stop.category not in table("stop_reasons")["requested_stops"]:
        return stop
    killed = next((t for t in texts if t.exit_code == 137), None)
    if killed is None:
        return stop
    return Stop("sigkill-after-stop", stop.category, killed.container, 137, stop.reason)


def classify(task: Item) -> Stop:
    """Category and cause of one stopped task; `unknown` keeps the text verbatim."""
    data = table("stop_reasons")
    texts = _texts(task)
    task_reason = texts[-1].text
    stop = _by_rule(texts)
    if stop is None and str(task.get("stopCode")) in data["stop_codes"]:
        category, cause = _split(str(data["stop_codes"][str(task.get("stopCode"))]))
        stop = Stop(category, cause, None, None, task_reason)
    if stop is not None:
        return _sigkilled(stop, texts)
    stop = _by_exit_code(texts, task_reason)
    if stop is not None:
        return stop
    weak = data["exited_without_code"]
    if _compile(weak["match"]).search(task_reason):
        return Stop(weak["category"], None, None, None, task_reason)
    reason = task_reason or next((t.text for t in texts if t.text), "")
    return Stop("unknown", None, None, None, reason)


def shorten(text: str, limit: int = 110) -> str:
    """Head and tail of a long reason, cut at spaces: the error type and the final cause
    both show."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    budget = limit * 2 // 5
    head = text[:budget].rsplit(" ", 1)[0] if " " in text[:budget] else text[:budget]
    tail = text[-(limit - len(head) - 3):]
    tail = tail.split(" ", 1)[1] if " " in tail[:-1] else tail
    return f"{head} … {tail}"


def tally(labels: Iterable[str]) -> dict[str, int]:
    """Counts, most frequent first (ties by name) — stable across runs."""
    counts = Counter(labels)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


class Subject(NamedTuple):
    """The stopped tasks of one service (or one task group of standalone tasks)."""

    key: str
    service: Item | None
    stops: list[tuple[Item, Stop]]
    #: how far back `stops` reach: the API's last hour, or the task history
    window: Window = HOUR

    @property
    def arn(self) -> str | None:
        return str(self.service["serviceArn"]) if self.service else None

    @property
    def label(self) -> str:
        return f"service {service_label(self.service)}" if self.service else f"tasks of {self.key}"

    def affected(self, n: int, shortfall: bool = False) -> int:
        """How many of the service's desired tasks `n` stops touch; with `shortfall`,
        tasks that never come up cost it the gap between desired and running."""
        if not self.service:
            return n
        desired = int_or_none(self.service.get("desiredCount")) or 0
        running = int_or_none(self.service.get("runningCount")) or 0
        if shortfall and desired > running:
            return desired - running
        return min(n, desired) or n


#: Facts are read-only: classify each bundle's stopped tasks once, not once per check.
_SUBJECTS: weakref.WeakKeyDictionary[Facts, list[Subject]] = weakref.WeakKeyDictionary()


def subjects(facts: Facts) -> list[Subject]:
    """Stopped tasks classified once, keyed by service ARN or, for standalone tasks, by
    task group — sorted, so findings come out in the same order every run."""
    if facts in _SUBJECTS:
        return _SUBJECTS[facts]
    groups: dict[str, list[Item]] = defaultdict(list)
    owners: dict[str, Item | None] = {}
    stopped = facts.stopped_tasks_with_history()
    win = window(facts, stopped)
    for task in stopped:
        svc = facts.service_of_task(task)
        key = str(svc["serviceArn"]) if svc else str(task.get("group") or task.get("taskArn"))
        groups[key].append(task)
        owners[key] = svc
    out = [Subject(key, owners[key],
                   [(t, classify(t)) for t in sorted(groups[key],
                                                     key=lambda t: str(t.get("taskArn")))],
                   win)
           for key in sorted(groups)]
    _SUBJECTS[facts] = out
    return out


#: `failed to resolve ref "<image>"`, `pull access denied for <image>,`: the image a pull
#: reason names (registry URLs in the text are not image references).
_IMAGE_IN_TEXT = re.compile(r'(?:resolve ref|access denied for) "?([^"\s,]+)')


def task_definition_of(facts: Facts, task: Item) -> Item | None:
    """The task's task definition, when that (optional) collection was gathered."""
    if not facts.has("task_definitions"):
        return None
    return facts.task_definition(task.get("taskDefinitionArn"))


def memory_limit_of(facts: Facts, task: Item, container: str | None) -> int | None:
    """The container's hard limit (MiB), else the task's memory: what an OOM hit."""
    td = task_definition_of(facts, task)
    for c in objs(obj(td).get("containerDefinitions")):
        if c.get("name") == container and int_or_none(c.get("memory")):
            return int_or_none(c.get("memory"))
    return int_or_none(task.get("memory") or obj(td).get("memory"))


def soft_limit_of(facts: Facts, task: Item, container: str | None) -> int | None:
    """The container's memoryReservation (MiB): what placement counted for it."""
    td = task_definition_of(facts, task)
    for c in objs(obj(td).get("containerDefinitions")):
        if c.get("name") == container:
            return int_or_none(c.get("memoryReservation"))
    return None


def image_of(facts: Facts, task: Item, stop: Stop) -> str | None:
    """The image a pull failed on: the container's own `image`, else the reference the
    reason names, else the task definition's (the named container, or the first)."""
    for c in objs(task.get("containers")):
        if c.get("name") == stop.container and c.get("image"):
            return str(c["image"])
    if m := _IMAGE_IN_TEXT.search(stop.reason):
        return m.group(1).rstrip(":")
    defs = objs(obj(task_definition_of(facts, task)).get("containerDefinitions"))
    named = [d for d in defs if d.get("name") == stop.container] or defs[:1]
    return str(named[0]["image"]) if named and named[0].get("image") else None


def registry_of(image: str | None) -> str:
    """`ECR`, `Docker Hub` or the registry host: what a "no route to …" hint names."""
    host = image.split("/")[0] if image and "/" in image else ""
    if ".dkr.ecr." in host:
        return "ECR"
    if not host or not ("." in host or ":" in host) or host.endswith("docker.io"):
        return "Docker Hub" if image else "the registry"
    return host
