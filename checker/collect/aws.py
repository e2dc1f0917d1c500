"""The plumbing every collector shares: clients, paging, batching, fan-out, failure recording.

Collectors (``ecs.py`` and later ``ec2.py``, ``elbv2.py``, ``cloudwatch.py``) only say *what*
to fetch; this module decides *how*: one botocore client per AWS service shared by every
thread (the adaptive retry limiter and retry quota live on the client, so sharing it is what
makes the pacing account-wide instead of per thread), explicit ``nextToken`` loops (not every
operation has a boto3 paginator, e.g. DescribeCapacityProviders), batches cut to the API
limits, and a bounded pool.

A failed call never aborts the scan: :meth:`Context.call` records it in ``bundle.errors``
(the engine then treats that collection as unknown) and the scan goes on. The exceptions
that do escape are :class:`~checker.errors.InputError`, because they are the user's to fix
(no credentials, no region, unknown cluster, unreachable endpoint).
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from checker.bundle import COLLECTIONS
from checker.errors import InputError

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
Item = dict[str, Any]

USER_AGENT = "ecsdoctor/0.1"
#: The gate's reference probes and the audit's sinks say who they are too: CloudTrail shows
#: which part of ecsdoctor made a call, and the test suite checks each part's calls against
#: its own IAM policy (tests/conftest.py).
GATE_USER_AGENT = f"{USER_AGENT} gate"
AUDIT_USER_AGENT = f"{USER_AGENT} audit"

NO_CREDENTIALS = (
    "no AWS credentials found: run `aws configure` or `aws sso login`, set AWS_PROFILE, "
    "or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
NO_REGION = "no AWS region: pass --region or set AWS_REGION"

#: botocore names services by their hyphenated service id (that is also what its event names
#: carry); IAM names them by their action prefix. The two differ for these.
IAM_PREFIX: Mapping[str, str] = {
    "elastic-load-balancing-v2": "elasticloadbalancing",
    "elastic-load-balancing": "elasticloadbalancing",
    "auto-scaling": "autoscaling",
    "application-auto-scaling": "application-autoscaling",
    "cloudwatch-logs": "logs",
    "secrets-manager": "secretsmanager",
}


#: Where deploy/history.yaml (and the audit template) keep the ECS events.
HISTORY_LOG_GROUP = "/ecsdoctor/ecs-events"
#: The history window `scan` and the audit read by default (CONTRACTS.md §5).
DEFAULT_HISTORY = dt.timedelta(hours=24)

#: How long a scan may read (``--timeout``) before it gives up on what is still outstanding:
#: long enough for a large, throttled account, short enough that a silent endpoint cannot hold
#: a terminal for many minutes or outlive the audit Lambda's own timeout.
DEFAULT_TIMEOUT = 300.0
#: Per attempt, under the scan's deadline: connecting, and waiting for the answer.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
#: Pages one listing may take: 500 pages of 100 are 50,000 ARNs, ten times the per-cluster
#: quotas on services and container instances. Past it the service is looping on nextToken.
MAX_PAGES = 500
#: ``bundle.errors`` codes of the two ways a scan stops reading on its own.
TIMED_OUT = "ScanTimeout"
PAGE_LIMIT = "PageLimitExceeded"


class ScanTimeout(Exception):
    """Raised in place of an AWS call, or of its retry, once the scan's deadline has passed
    or the scan was interrupted: the request is never sent, so nothing waits on it."""


class PageLimitExceeded(Exception):
    """A listing went past :data:`MAX_PAGES` pages: the pages read so far are kept."""


def seconds(value: float) -> str:
    """``300.0`` → ``300``, ``5.9995`` → ``6``, ``2.5`` → ``2.5``: a limit as people write it."""
    text = f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    return text.removesuffix(".0")


class Deadline:
    """When the scan stops reading: ``seconds`` after it was made (``None``: never), or at
    once after :meth:`cancel` (Ctrl-C). Every attempt of every call checks it first.

    ``origin`` says where the limit came from, for the error entries (``--timeout``, or the
    Lambda invocation's remaining time).
    """

    def __init__(self, seconds: float | None = DEFAULT_TIMEOUT, *, origin: str = "--timeout",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if seconds is not None and not seconds > 0:
            raise ValueError(f"a scan's time limit must be positive, got {seconds}")
        self.seconds, self.origin = seconds, origin
        self._clock = clock
        self._end = None if seconds is None else clock() + seconds
        self._cancelled = threading.Event()

    def remaining(self) -> float | None:
        """Seconds left (0 once passed or cancelled); None when there is no limit."""
        if self._cancelled.is_set():
            return 0.0
        if self._end is None:
            return None
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() == 0.0

    def cancel(self) -> None:
        """No call may start from now on (thread-safe; a call already waiting is not cut)."""
        self._cancelled.set()

    def why(self) -> str:
        """The message of a call that was cut or never made because of this deadline."""
        if self._cancelled.is_set() and (self._end is None or self._clock() < self._end):
            return "not read: the scan was stopped"
        limit = "" if self.seconds is None else f" {seconds(self.seconds)} s"
        return f"not read within the scan's{limit} time limit ({self.origin})"

    def check(self) -> None:
        if self.expired:
            raise ScanTimeout(self.why())
#: Last log lines read per container of a failing service by default (``scan --log-lines``).
DEFAULT_LOG_LINES = 50


@dataclass(frozen=True)
class Scope:
    """What the user asked to scan, as typed (names or ARNs).

    ``since`` is the metrics window. ``history`` is the window of the history collections
    (task_history, ecs_events from ``history_log_group``; cloudtrail_events): zero, the
    default here, reads none of them, so a caller that builds a Scope by hand gets the
    same calls as before they existed; ``scan`` and the audit pass DEFAULT_HISTORY.
    ``log_lines`` is how many last log lines to read per container of a failing service
    (checker/collect/logs.py); zero here reads none, ``scan`` passes DEFAULT_LOG_LINES.
    """

    clusters: tuple[str, ...]
    services: tuple[str, ...] = ()
    since: dt.timedelta = dt.timedelta(hours=3)
    history: dt.timedelta = dt.timedelta(0)
    history_log_group: str = HISTORY_LOG_GROUP
    log_lines: int = 0


class Progress(Protocol):
    def step(self, label: str) -> None:
        """Called from any thread after each API call or batch.

        E.g. ``ecs:DescribeTasks prod (100)``.
        """


def iam_prefix(service_id: str) -> str:
    """IAM action prefix of a hyphenated botocore service id (``elastic-load-balancing-v2``)."""
    return IAM_PREFIX.get(service_id, service_id)


def iam_action(client: Any, op: str) -> str:
    """``(ecs client, "describe_tasks")`` → ``"ecs:DescribeTasks"``, the name IAM and errors use."""
    service_id = client.meta.service_model.service_id.hyphenize()
    return f"{iam_prefix(service_id)}:{client.meta.method_to_api_mapping[op]}"


def batched(seq: Sequence[T], n: int) -> Iterator[list[T]]:
    """Cut ``seq`` into lists of at most ``n`` (itertools.batched is 3.12+)."""
    if n < 1:
        raise ValueError("batch size must be at least 1")
    for start in range(0, len(seq), n):
        yield list(seq[start : start + n])


def pages(client: Any, op: str, *, max_pages: int = MAX_PAGES,
          **kw: Any) -> Iterator[dict[str, Any]]:
    """Every response page of ``op``, following ``nextToken`` (ECS) or ``NextToken`` (EC2, CW).

    Written out instead of boto3 paginators because some operations we need have none
    (DescribeCapacityProviders). A token seen twice stops with an error rather than looping,
    and so does a listing still handing out new tokens after ``max_pages`` pages
    (:class:`PageLimitExceeded`, once those pages are yielded).
    """
    method = getattr(client, op)
    seen: set[str] = set()
    for _ in range(max_pages):
        page: dict[str, Any] = method(**kw)
        yield page
        name = next((n for n in ("nextToken", "NextToken") if page.get(n)), None)
        if name is None:
            return
        token = str(page[name])
        if token in seen:
            raise RuntimeError(f"{op}: the service returned the same {name} twice")
        seen.add(token)
        kw = {**kw, name: token}
    raise PageLimitExceeded(f"stopped after {max_pages} pages: the service kept returning a "
                            "new page token; the items of those pages are kept")


def paginate(client: Any, op: str, key: str, **kw: Any) -> list[Any]:
    """All items under ``key`` across every page of ``op``."""
    return [item for page in pages(client, op, **kw) for item in page.get(key, [])]


def client(
    session: Any, service: str, endpoint_url: str | None, max_workers: int,
    *, max_attempts: int = 10, read_timeout: float = READ_TIMEOUT,
    region_name: str | None = None,
) -> Any:
    """A client built for a shared, throttled, parallel scan.

    ``adaptive`` retries slow the whole client down after the first throttle, which is what
    the shared per-account ECS token buckets need; ``max_pool_connections`` matches the
    thread pool so no thread waits for (or discards) a connection.
    """
    config = Config(
        retries={"mode": "adaptive", "max_attempts": max_attempts},
        connect_timeout=min(CONNECT_TIMEOUT, read_timeout),
        read_timeout=read_timeout,
        max_pool_connections=max_workers,
        user_agent_extra=USER_AGENT,
    )
    try:
        if region_name:
            return session.client(service, region_name=region_name, endpoint_url=endpoint_url,
                                  config=config)
        return session.client(service, endpoint_url=endpoint_url, config=config)
    except NoRegionError:
        raise InputError(NO_REGION) from None


def error_entry(collection: str, operation: str, exc: BaseException) -> dict[str, str]:
    """The bundle.errors item for a failed call: AWS's own code and message when it has one."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "ClientError")
        message = str(err.get("Message") or exc)
    else:
        code, message = type(exc).__name__, str(exc)
    return {"collection": collection, "operation": operation, "code": code, "message": message}


def input_error(exc: BaseException) -> InputError | None:
    """The user-facing error for failures only the user can fix; None for the rest."""
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return InputError(NO_CREDENTIALS)
    return None


def unreachable(exc: BaseException) -> InputError | None:
    """An InputError naming the endpoint when ``exc`` means AWS could not be reached at all
    (refused, no route or DNS: EndpointConnectionError; no answer: ConnectTimeoutError, or
    ReadTimeoutError: connected, but nothing ever came back)."""
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        endpoint = exc.kwargs.get("endpoint_url", "the AWS endpoint")
        what = "no answer from" if isinstance(exc, ReadTimeoutError) else "cannot reach"
        return InputError(
            f"{what} {endpoint}: check the network, proxy, --region and AWS_ENDPOINT_URL"
        )
    return None


class DaemonPool(Executor):
    """A bounded pool whose workers are daemon threads, fair between the threads that
    submit to it.

    A call stuck on a silent endpoint keeps its thread until its read timeout; with the
    standard library's pool the interpreter waits for every such thread at exit, so a scan
    that gave up on the call (deadline, Ctrl-C) still could not end. Here the process ends
    when the scan does; an abandoned call is refused its retries (:class:`Deadline`).

    Fair: the collectors run side by side, each submitting from its own thread, and a
    worker takes the next job of each submitter in turn. One first-in-first-out queue made
    two ELB calls wait behind the 200 task-definition reads submitted a moment before them.
    """

    def __init__(self, max_workers: int, name: str = "ecsdoctor-collect") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max, self._name = max_workers, name
        #: One token per job submitted (None: a worker is to stop); the job itself waits in
        #: its submitter's line in ``_lines``, which are served in turn.
        self._queue: queue.SimpleQueue[bool | None] = queue.SimpleQueue()
        self._lines: dict[int, deque[tuple[Future[Any], Callable[[], Any]]]] = {}
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a pool that was shut down")
            line = self._lines.setdefault(threading.get_ident(), deque())
            line.append((future, lambda: fn(*args, **kwargs)))
            self._queue.put(True)
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._max:
                worker = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                self._threads.append(worker)
                worker.start()
        return future

    def _next(self) -> tuple[Future[Any], Callable[[], Any]] | None:
        """The first job of the line whose turn it is; that line goes to the back."""
        with self._lock:
            if not self._lines:
                return None  # cancelled by shutdown after its token was taken
            submitter, line = next(iter(self._lines.items()))
            item = line.popleft()
            del self._lines[submitter]
            if line:
                self._lines[submitter] = line
            return item

    def _work(self) -> None:
        while self._queue.get() is not None:
            item = self._next()
            if item is None:
                continue
            future, job = item
            if future.set_running_or_notify_cancel():
                try:
                    result = job()
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
            if cancel_futures:
                for line in self._lines.values():
                    for future, _ in line:
                        future.cancel()
                self._lines.clear()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()


_LOCAL = threading.local()


@dataclass
class Slot:
    """One job on the pool: the collections it fills, the call it is making, and whether the
    scan stopped waiting for it (then nothing it does later reaches the bundle)."""

    collections: tuple[str, ...]
    operation: str = ""
    abandoned: bool = False


def current_slot() -> Slot | None:
    """The job the calling thread runs (None on the scan's own thread)."""
    slot: Slot | None = getattr(_LOCAL, "slot", None)
    return slot


def abandoned() -> bool:
    """Whether the calling thread runs a job the scan no longer waits for."""
    slot = current_slot()
    return slot is not None and slot.abandoned


def collections_of(key: Hashable) -> tuple[str, ...]:
    """The bundle collections a gather key names: the key itself, or the collection names in
    a tuple key (``("services", cluster)``, ``("task_history", "ecs_events")``)."""
    parts = key if isinstance(key, tuple) else (key,)
    named = tuple(p for p in parts if isinstance(p, str) and p in KNOWN_COLLECTIONS)
    return named or (str(key),)


#: What a gather key may name; ``account`` is the GetCallerIdentity entry.
KNOWN_COLLECTIONS = frozenset({*COLLECTIONS, "metrics", "account"})


class Recorder:
    """``bundle.errors`` and ``bundle.retries``, appended to from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: list[dict[str, Any]] = []
        self._retries: Counter[str] = Counter()
        self._retried_calls: Counter[str] = Counter()

    def after_call(self, model: Any = None, parsed: Any = None, **_: Any) -> None:
        """botocore ``after-call`` hook (every response, success or error): count the
        retries botocore made before it (throttling, 5xx, dropped connections), so the
        report can say which collections only came back after retrying."""
        meta = parsed.get("ResponseMetadata") if isinstance(parsed, dict) else None
        attempts = meta.get("RetryAttempts") if isinstance(meta, dict) else None
        if not isinstance(attempts, int) or attempts <= 0 or model is None:
            return
        service_id = model.service_model.service_id.hyphenize()
        action = f"{iam_prefix(service_id)}:{model.name}"
        with self._lock:
            self._retries[action] += attempts
            self._retried_calls[action] += 1

    def retries(self) -> list[dict[str, Any]]:
        """``bundle.retries``: per operation, the retries made (``count``) and the calls that
        needed them (``calls``), sorted by operation."""
        with self._lock:
            return [{"operation": op, "count": n, "calls": self._retried_calls[op]}
                    for op, n in sorted(self._retries.items())]

    def record(self, collection: str, operation: str, exc: BaseException) -> None:
        self.add(error_entry(collection, operation, exc))

    def add(self, entry: Mapping[str, Any]) -> None:
        """An entry as it goes into ``bundle.errors``: a failure, or a ``"level": "warning"``
        one with a ``count`` (lines skipped, a window cut short: the collection is kept)."""
        if abandoned():
            return  # the scan has already recorded this job as timed out
        with self._lock:
            if entry.get("code") == TIMED_OUT and any(
                    e.get("code") == TIMED_OUT and e.get("collection") == entry.get("collection")
                    and e.get("operation") == entry.get("operation") for e in self._errors):
                return  # one line per collection and operation, not one per batch
            self._errors.append(dict(entry))

    def failed(self, collection: str) -> bool:
        """Whether any call of ``collection`` failed so far (its data is then incomplete);
        warnings do not count."""
        with self._lock:
            return any(e.get("collection") == collection and e.get("level") != "warning"
                       for e in self._errors)

    def errors(self) -> list[dict[str, Any]]:
        """Sorted, so that the same failures give the same bundle whatever thread came first."""
        with self._lock:
            entries = list(self._errors)
        keys = ("collection", "operation", "code", "message")
        return sorted(entries, key=lambda e: tuple(e.get(k, "") for k in keys))


@dataclass
class Context:
    """Everything a collector needs, passed in (never a global), so tests can inject clients.

    ``clients`` maps a boto3 service name to a client; a missing one is built from
    ``session`` on first use. ``resources`` is what collectors have stored so far: later
    collectors read it (EC2 needs the container instances' instance ids).

    ``deadline`` bounds the whole scan: no attempt starts after it (each client refuses it),
    :meth:`gather` stops waiting at it and records what is still outstanding as
    :data:`TIMED_OUT`, and the collectors that come after it fail fast, so the bundle is
    assembled from what was read in time.
    """

    scope: Scope
    region: str
    pool: Executor
    session: Any = None
    endpoint_url: str | None = None
    max_workers: int = 8
    progress: Progress | None = None
    account: str | None = None
    clients: dict[str, Any] = field(default_factory=dict)
    recorder: Recorder = field(default_factory=Recorder)
    resources: dict[str, list[Item]] = field(default_factory=dict)
    metrics: list[Item] | None = None
    deadline: Deadline = field(default_factory=Deadline)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Collections a pool job finished reading before the deadline.
    _in_time: set[str] = field(default_factory=set, repr=False)

    def client(self, service: str, *, region: str | None = None, **kw: Any) -> Any:
        """The one shared client for ``service``; built under a lock (Session isn't thread-safe).

        ``region``: a client of another Region than the scan's, kept as ``service@region``
        (CloudTrail records IAM's events in us-east-1 only)."""
        name = f"{service}@{region}" if region and region != self.region else service
        with self._lock:
            if name not in self.clients:
                if name != service:
                    kw["region_name"] = region
                if self.deadline.seconds is not None:  # no one attempt outlasts the scan
                    kw["read_timeout"] = min(kw.get("read_timeout", READ_TIMEOUT),
                                             max(1.0, self.deadline.seconds))
                api = client(self.session, service, self.endpoint_url, self.max_workers, **kw)
                api.meta.events.register("after-call", self.recorder.after_call)
                api.meta.events.register("before-call", _note_operation)
                # last: adaptive retries wait for a token in their own before-send handler
                # (botocore.retries.adaptive); checked before that wait, an attempt left
                # a second after the limit
                api.meta.events.register_last("before-send", self._before_send)
                api.meta.events.register("needs-retry", self._before_retry)
                self.clients[name] = api
            return self.clients[name]

    def _before_send(self, **_: Any) -> None:
        """botocore ``before-send``, every attempt (retries too): none after the deadline."""
        self.deadline.check()

    def _before_retry(self, response: Any = None, caught_exception: Any = None,
                      **_: Any) -> None:
        """botocore ``needs-retry``: a failed attempt is not retried (nor slept on) once the
        deadline has passed; the call fails as timed out instead."""
        failed = caught_exception is not None or (
            isinstance(response, tuple) and getattr(response[0], "status_code", 200) >= 400)
        if failed:
            self.deadline.check()

    def step(self, label: str) -> None:
        if self.progress is not None:
            self.progress.step(label)

    def fail(self, collection: str, operation: str, exc: BaseException) -> None:
        """Record a failed call, unless it is the user's to fix: then raise InputError."""
        user = input_error(exc)
        if user is not None:
            raise user from exc
        self.recorder.record(collection, operation, exc)

    def call(
        self, collection: str, api: Any, op: str, where: str, n: int | None = None,
        **kw: Any,
    ) -> dict[str, Any] | None:
        """One API call; on failure the error is recorded and None returned."""
        action = iam_action(api, op)
        try:
            response: dict[str, Any] = getattr(api, op)(**kw)
        except Exception as exc:
            self.fail(collection, action, exc)
            self.step(f"{action} {where} failed")
            return None
        self.step(f"{action} {where}" + ("" if n is None else f" ({n})"))
        return response

    def paginate(
        self, collection: str, api: Any, op: str, key: str, where: str,
        *, on_page: Callable[[dict[str, Any]], None] | None = None, **kw: Any,
    ) -> list[Any]:
        """Every page of ``op``; on failure the error is recorded and the pages so far kept.

        ``on_page`` sees each whole response (for the ``failures`` a describe may carry).
        """
        action = iam_action(api, op)
        out: list[Any] = []
        try:
            for page in pages(api, op, **kw):
                items = page.get(key, [])
                out.extend(items)
                if on_page is not None:
                    on_page(page)
                self.step(f"{action} {where} ({len(items)})")
        except Exception as exc:
            self.fail(collection, action, exc)
            self.step(f"{action} {where} failed")
        return out

    def gather(self, jobs: Iterable[tuple[K, Callable[[], list[T]]]]) -> dict[K, list[T]]:
        """Run jobs on the pool; results concatenated per key, in submission order.

        Jobs must not wait on the pool themselves (a full pool would deadlock): collectors
        run phases from the calling thread and only leaf API calls go to the pool.

        Waits until the deadline at most. A job still running then is abandoned and its
        collections (:func:`collections_of` its key) recorded as timed out; a job not yet
        started runs here instead, where each of its calls fails fast and records itself.
        Past the deadline every job runs here: no new call would be sent anyway.
        """
        listed = list(jobs)
        if self.deadline.expired:
            return self._run_here(listed)
        running = [(key, Slot(collections_of(key)), job) for key, job in listed]
        futures = [self.pool.submit(_in_slot, slot, job) for _, slot, job in running]
        wait(futures, timeout=self.deadline.remaining())
        out: dict[K, list[T]] = {}
        for (key, slot, job), future in zip(running, futures, strict=True):
            if future.done():
                out.setdefault(key, []).extend(future.result())  # raises the job's error
                self._in_time.update(slot.collections)
            elif future.cancel():
                out.setdefault(key, []).extend(job())
            else:
                self._abandon(slot)
                out.setdefault(key, [])
        return out

    def _run_here(self, jobs: list[tuple[K, Callable[[], list[T]]]]) -> dict[K, list[T]]:
        out: dict[K, list[T]] = {}
        for key, job in jobs:
            out.setdefault(key, []).extend(job())
        return out

    def _abandon(self, slot: Slot) -> None:
        """Give up on a running job: its collections are recorded as timed out, with the call
        it was waiting on, and nothing it does from now on reaches the bundle."""
        slot.abandoned = True
        for collection in slot.collections:
            self.recorder.add({"collection": collection,
                               "operation": slot.operation or COLLECTIONS.get(collection, "-"),
                               "code": TIMED_OUT, "message": self.deadline.why()})

    def store(
        self, collection: str, items: Iterable[Item], key: str | Callable[[Item], str]
    ) -> list[Item]:
        """Keep ``items`` under ``collection``, one per key, sorted by it: the same account
        must give the same bundle whatever order the threads finished in."""
        key_of = key if callable(key) else (lambda item: str(item.get(key, "")))
        unique = {key_of(item): item for item in items}
        stored = [unique[k] for k in sorted(unique)]
        if abandoned():
            return stored  # the scan went on without this job
        self.resources[collection] = stored
        if not stored:
            self.unread_if_late(collection)
        return stored

    def unread_if_late(self, collection: str) -> None:
        """An empty collection made after the deadline, with no call of it answered in time,
        is empty because what it depends on was never read, not because AWS has none:
        recorded as timed out."""
        if self.deadline.expired and collection not in self._in_time \
                and not self.recorder.failed(collection):
            self.recorder.add({"collection": collection,
                               "operation": COLLECTIONS.get(collection, "-"), "code": TIMED_OUT,
                               "message": self.deadline.why()})


def _in_slot(slot: Slot, job: Callable[[], T]) -> T:
    """Run a pool job with its slot visible to the botocore hooks and the recorder."""
    _LOCAL.slot = slot
    try:
        return job()
    finally:
        _LOCAL.slot = None


def _note_operation(model: Any = None, **_: Any) -> None:
    """botocore ``before-call``: the job's current call, named if the scan gives up on it."""
    slot = current_slot()
    if slot is not None and model is not None:
        service_id = model.service_model.service_id.hyphenize()
        slot.operation = f"{iam_prefix(service_id)}:{model.name}"
