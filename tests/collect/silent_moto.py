"""moto's HTTP server with some operations made silent: the request is accepted and answered
only when the test ends, as an overloaded or half-broken endpoint does. The rest of the
account is moto as usual, reached over real HTTP (AWS_ENDPOINT_URL or ``endpoint_url``), so
the scan's own clients, timeouts, retries and threads are the real ones.

The account: cluster ``prod`` with a Fargate service ``web`` and one of its tasks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

REGION = "us-east-1"
CLUSTER = "prod"
#: The longest a silent request is held if a test forgets to end (it never should).
HOLD_S = 600.0


@dataclass
class SilentMoto:
    """The running server: its URL, and how many silent requests it is holding."""

    url: str
    release: threading.Event = field(default_factory=threading.Event)
    #: When each throttled request arrived (time.monotonic()).
    throttled: list[float] = field(default_factory=list)
    _held: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self) -> None:
        with self._lock:
            self._held += 1
        self.release.wait(HOLD_S)

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    def wait_until_holding(self, n: int = 1, timeout: float = 60.0) -> None:
        """Block until ``n`` silent requests have arrived (the scan is now waiting)."""
        end = time.monotonic() + timeout
        while self.held < n:
            if time.monotonic() > end:
                raise AssertionError(f"no silent request arrived within {timeout} s")
            time.sleep(0.05)


def _operation(environ: dict[str, Any]) -> str:
    """The API operation of a JSON-protocol request (ECS: X-Amz-Target) or of a CBOR one
    (CloudWatch: ``/service/<name>/operation/<Op>``)."""
    path = str(environ.get("PATH_INFO", ""))
    if "/operation/" in path:
        return path.rsplit("/", 1)[-1]
    return str(environ.get("HTTP_X_AMZ_TARGET", "")).rsplit(".", 1)[-1]


#: ECS's answer when a request is throttled (JSON protocol), which botocore retries.
THROTTLED = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'


@contextmanager
def silent_moto(operations: Iterable[str],
                throttled: Iterable[str] = ()) -> Iterator[SilentMoto]:
    """A moto server on 127.0.0.1 whose ``operations`` never answer while the test runs,
    and whose ``throttled`` operations are always refused as throttled."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from checker.demo.moto_seed import reset_backends

    silent, refused = frozenset(operations), frozenset(throttled)
    moto_app = DomainDispatcherApplication(create_backend_app)
    state: list[SilentMoto] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if _operation(environ) in silent:
            state[0].hold()
        if _operation(environ) in refused:
            state[0].throttled.append(time.monotonic())
            start_response("400 Bad Request", [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(THROTTLED)))])
            return [THROTTLED]
        return moto_app(environ, start_response)

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)
    reset_backends()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    state.append(SilentMoto(url=f"http://127.0.0.1:{server.server_port}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        seed(state[0].url)
        yield state[0]
    finally:
        state[0].release.set()
        server.shutdown()
        server.server_close()
        reset_backends()
        werkzeug.setLevel(level)


def seed(url: str) -> None:
    """Cluster prod: service web (Fargate) and one of its tasks running."""
    ecs = boto3.client("ecs", region_name=REGION, endpoint_url=url)
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "nginx:1.27", "essential": True, "memory": 512}])
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition="web",
                       desiredCount=1, launchType="FARGATE")
    ecs.run_task(cluster=CLUSTER, taskDefinition="web", launchType="FARGATE",
                 group="service:web", startedBy="ecs-svc/1")
