"""An embedded demo AWS account: a moto server on 127.0.0.1 holding a realistic ``prod``
ECS cluster with the incidents described in :mod:`checker.demo.scenario`.

``ecsdoctor demo`` and the tests point the real collectors at it::

    with demo_account() as acct:
        ecs = acct.session().client("ecs", endpoint_url=acct.endpoint_url)
        ecs.list_services(cluster=acct.cluster)

How it is built: a ``ThreadedMotoServer`` runs in this process; everything moto's API can
express is created through the public boto3 API against it (as a user would), and what it
cannot (exit codes, stop codes, events, realistic instance resources) is written straight onto
moto's backend objects with :mod:`checker.demo.moto_seed`, which works because the server thread
shares this process's backends. The building lives in :mod:`checker.demo.build` (services,
tasks), :mod:`checker.demo.network` (VPC, ALB), :mod:`checker.demo.capacity` (EC2 capacity)
and :mod:`checker.demo.metrics` (CloudWatch); this module owns the lifecycle. Task status
transitions are frozen and moto's classes patched (:mod:`checker.demo.moto_patches`) for the
lifetime of the account. On exit the server is stopped, moto's state reset and the freeze
and patches undone, also when the body raises.

moto's backends are process-global, so there is one demo account per process at a time
(a second concurrent ``demo_account()`` raises RuntimeError); don't use ``mock_aws`` in the
same process while it is open either, as it resets the same backends.

No credentials and no network beyond 127.0.0.1 are needed: :meth:`DemoAccount.session` has
fake keys, reads no AWS config or credentials file, ignores proxy variables and pins every
client to the demo endpoint. ``os.environ`` is never modified.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from checker.demo import scenario as sc
from checker.demo.build import seed

if TYPE_CHECKING:
    import boto3.session

_FAKE_KEY = "ecsdoctor-demo"
_ONE_ACCOUNT = threading.Lock()
_RANDOM_SEED = 20261121  # moto ids (ARNs, ENIs, instance ids) are the same on every run
# Session variables that would otherwise come from the user's environment or ~/.aws files.
_ISOLATED_VARS: dict[str, tuple[Any, Any, Any, Any]] = {
    "profile": (None, None, None, None),
    "config_file": (None, None, os.devnull, None),
    "credentials_file": (None, None, os.devnull, None),
    "use_fips_endpoint": (None, None, False, None),
    "use_dualstack_endpoint": (None, None, False, None),
    "defaults_mode": (None, None, "legacy", None),
}


@dataclass(frozen=True)
class DemoAccount:
    """A running demo account. Valid only inside the ``demo_account()`` block."""

    endpoint_url: str  # http://127.0.0.1:<port>
    region: str  # "us-east-1"
    cluster: str  # "prod"

    def session(self) -> boto3.session.Session:
        """A boto3 session for the demo account that cannot reach anything else.

        Fake credentials are set explicitly; the user's AWS profile, config and credentials
        files and proxy variables are ignored; every client it makes talks to
        ``endpoint_url``, with or without an ``endpoint_url`` argument.
        """
        import boto3.session
        import botocore.session
        from botocore.config import Config

        core = botocore.session.Session(session_vars=_ISOLATED_VARS)
        core.set_default_client_config(Config(proxies={}))  # HTTP(S)_PROXY must not apply
        endpoint = self.endpoint_url

        def pin_endpoint(builtins: dict[str, Any], **_: Any) -> None:
            builtins["SDK::Endpoint"] = endpoint

        core.register("before-endpoint-resolution", pin_endpoint, unique_id="ecsdoctor-demo")
        return boto3.session.Session(
            aws_access_key_id=_FAKE_KEY,
            aws_secret_access_key=_FAKE_KEY,
            region_name=self.region,
            botocore_session=core,
        )


@contextlib.contextmanager
def demo_account() -> Iterator[DemoAccount]:
    """Start the demo account, seed the scenario, yield it; tear everything down on exit."""
    if not _ONE_ACCOUNT.acquire(blocking=False):
        raise RuntimeError("a demo account is already open in this process")
    try:
        with _moto_server() as endpoint_url:
            account = DemoAccount(endpoint_url, sc.REGION, sc.CLUSTER)
            seed(account)
            yield account
    finally:
        _ONE_ACCOUNT.release()


@contextlib.contextmanager
def _moto_server() -> Iterator[str]:
    from moto.moto_api._internal import mock_random
    from moto.server import ThreadedMotoServer

    from checker.demo import moto_seed

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)  # it logs every request, even with verbose=False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        moto_seed.reset_backends()
        mock_random.seed(_RANDOM_SEED)
        moto_seed.freeze_tasks_running()
        moto_seed.install_patches()  # blackhole routes, credit modes, target health
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        _close_listener(server)
        moto_seed.reset_backends()
        moto_seed.reset_overrides()
        moto_seed.uninstall_patches()
        moto_seed.unfreeze_tasks()
        mock_random.seed()  # back to unpredictable ids for whoever uses moto next
        werkzeug.setLevel(level)


def _close_listener(server: Any) -> None:
    """ThreadedMotoServer.stop() ends the serve loop but leaves the socket listening, so a
    client would hang instead of being refused; close it."""
    wsgi = getattr(server, "_server", None)
    if wsgi is not None:
        wsgi.server_close()
