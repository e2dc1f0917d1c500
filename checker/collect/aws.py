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
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
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


def pages(client: Any, op: str, **kw: Any) -> Iterator[dict[str, Any]]:
    """Every response page of ``op``, following ``nextToken`` (ECS) or ``NextToken`` (EC2, CW).

    Written out instead of boto3 paginators because some operations we need have none
    (DescribeCapacityProviders). A token seen twice stops with an error rather than looping.
    """
    method = getattr(client, op)
    seen: set[str] = set()
    while True:
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


def paginate(client: Any, op: str, key: str, **kw: Any) -> list[Any]:
    """All items under ``key`` across every page of ``op``."""
    return [item for page in pages(client, op, **kw) for item in page.get(key, [])]


def client(
    session: Any, service: str, endpoint_url: str | None, max_workers: int,
    *, max_attempts: int = 10, read_timeout: int = 30, region_name: str | None = None,
) -> Any:
    """A client built for a shared, throttled, parallel scan.

    ``adaptive`` retries slow the whole client down after the first throttle, which is what
    the shared per-account ECS token buckets need; ``max_pool_connections`` matches the
    thread pool so no thread waits for (or discards) a connection.
    """
    config = Config(
        retries={"mode": "adaptive", "max_attempts": max_attempts},
        connect_timeout=5,
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
        with self._lock:
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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self, service: str, *, region: str | None = None, **kw: Any) -> Any:
        """The one shared client for ``service``; built under a lock (Session isn't thread-safe).

        ``region``: a client of another Region than the scan's, kept as ``service@region``
        (CloudTrail records IAM's events in us-east-1 only)."""
        name = f"{service}@{region}" if region and region != self.region else service
        with self._lock:
            if name not in self.clients:
                if name != service:
                    kw["region_name"] = region
                api = client(self.session, service, self.endpoint_url, self.max_workers, **kw)
                api.meta.events.register("after-call", self.recorder.after_call)
                self.clients[name] = api
            return self.clients[name]

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
        """
        futures = [(key, self.pool.submit(job)) for key, job in jobs]
        out: dict[K, list[T]] = {}
        for key, future in futures:
            out.setdefault(key, []).extend(future.result())
        return out

    def store(
        self, collection: str, items: Iterable[Item], key: str | Callable[[Item], str]
    ) -> list[Item]:
        """Keep ``items`` under ``collection``, one per key, sorted by it: the same account
        must give the same bundle whatever order the threads finished in."""
        key_of = key if callable(key) else (lambda item: str(item.get(key, "")))
        unique = {key_of(item): item for item in items}
        stored = [unique[k] for k in sorted(unique)]
        self.resources[collection] = stored
        return stored
