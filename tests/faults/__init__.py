"""Faults and bad input (issue 7): what ecsdoctor does when AWS throttles, denies, hangs or
answers with something odd, and when a bundle is broken.

Shared helpers live here. Faults are injected with botocore's own event hooks on a real
session, never by patching ecsdoctor:

- ``before-send.<service>.<Op>`` returns a fake HTTP response in the service's own wire
  protocol (JSON, query XML, EC2 XML, CBOR). It runs *inside* botocore's retry loop, so a
  throttling answer there goes through the real retry handler and the adaptive rate
  limiter, exactly like one from AWS. (``before-call`` and Stubber answer *outside* that
  loop: an error they return is never retried.)
- ``before-call.<service>.<Op>`` raising a ClientError: a denial, which is not retried anyway.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError


@dataclass(frozen=True)
class Service:
    """How one AWS service names itself in botocore events and says "slow down"/"denied"."""

    event_id: str  # hyphenated botocore service id, as in `before-send.<event_id>.<Op>`
    protocol: str  # json | query | ec2 (CBOR when the request itself is CBOR)
    throttle: str  # the code AWS answers when throttling this service
    denied: str  # the code AWS answers when the caller lacks the permission


#: IAM prefix → service, for every service the collectors call.
SERVICES: dict[str, Service] = {
    "ecs": Service("ecs", "json", "ThrottlingException", "AccessDeniedException"),
    "ec2": Service("ec2", "ec2", "RequestLimitExceeded", "UnauthorizedOperation"),
    "elasticloadbalancing": Service("elastic-load-balancing-v2", "query", "Throttling",
                                    "AccessDenied"),
    "autoscaling": Service("auto-scaling", "query", "Throttling", "AccessDenied"),
    "application-autoscaling": Service("application-auto-scaling", "json",
                                       "ThrottlingException", "AccessDeniedException"),
    # botocore lists rpc-v2-cbor first for CloudWatch but this version speaks JSON to it
    "cloudwatch": Service("cloudwatch", "json", "Throttling", "AccessDenied"),
    "sts": Service("sts", "query", "Throttling", "AccessDenied"),
    "logs": Service("cloudwatch-logs", "json", "ThrottlingException", "AccessDeniedException"),
    "cloudtrail": Service("cloudtrail", "json", "ThrottlingException",
                          "AccessDeniedException"),
    "iam": Service("iam", "query", "Throttling", "AccessDenied"),
    "ecr": Service("ecr", "json", "ThrottlingException", "AccessDeniedException"),
}


def service_of(action: str) -> tuple[Service, str]:
    """`ecs:DescribeTasks` → (the ECS service, "DescribeTasks")."""
    prefix, op = action.split(":")
    return SERVICES[prefix], op


class _Raw:
    """The minimum of a urllib3 response botocore reads a body from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 256
    return (bytes([0x60 | len(data)]) if len(data) < 24 else bytes([0x78, len(data)])) + data


def _cbor_map(values: dict[str, str]) -> bytes:
    assert len(values) < 24
    return bytes([0xA0 | len(values)]) + b"".join(
        _cbor_text(k) + _cbor_text(v) for k, v in values.items())


def error_response(request: Any, service: Service, code: str, message: str) -> AWSResponse:
    """An HTTP error answer to ``request`` in the wire protocol it was sent in."""
    headers = {"x-amzn-RequestId": "ecsdoctor-fault"}
    cbor = request.headers.get("smithy-protocol") in ("rpc-v2-cbor", b"rpc-v2-cbor")
    if cbor:
        body = _cbor_map({"__type": code, "message": message})
        headers |= {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    elif service.protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        headers["Content-Type"] = "application/x-amz-json-1.1"
    elif service.protocol == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                "</Error></Errors><RequestID>ecsdoctor-fault</RequestID></Response>").encode()
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error>"
                "<RequestId>ecsdoctor-fault</RequestId></ErrorResponse>").encode()
    status = 503 if code == "RequestLimitExceeded" else 400
    return AWSResponse(request.url, status, headers, _Raw(body))


class Throttle:
    """Answer the first ``times`` attempts of each operation with its throttling error
    (``times=None``: every attempt), then let the real request through. Counts per
    operation, across threads and calls: ``sent[action]`` attempts were throttled."""

    def __init__(self, session: Any, actions: dict[str, int | None]) -> None:
        self.left = dict(actions)
        self.sent: dict[str, int] = dict.fromkeys(actions, 0)
        self._lock = threading.Lock()
        for action in actions:
            service, op = service_of(action)
            session.events.register(f"before-send.{service.event_id}.{op}",
                                    self._handler(action, service))

    def _handler(self, action: str, service: Service) -> Callable[..., AWSResponse | None]:
        def handler(request: Any, **_: Any) -> AWSResponse | None:
            with self._lock:
                left = self.left[action]
                if left is not None:
                    if left <= 0:
                        return None
                    self.left[action] = left - 1
                self.sent[action] += 1
            return error_response(request, service, service.throttle, "Rate exceeded")
        return handler


def deny(session: Any, action: str) -> str:
    """Make every call of ``action`` fail as AWS does for a missing permission; returns
    the error code used."""
    service, op = service_of(action)

    def handler(**_: Any) -> None:
        raise ClientError({"Error": {
            "Code": service.denied,
            "Message": f"User: arn:aws:sts::123456789012:assumed-role/ecsdoctor/ci is not "
                       f"authorized to perform: {action} because no identity-based policy "
                       "allows it"}}, op)

    session.events.register(f"before-call.{service.event_id}.{op}", handler)
    return service.denied


@dataclass
class Waits:
    """What botocore's retry machinery asked to sleep, recorded instead of slept."""

    backoff: list[float]
    rate_limiter: list[float]


def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Waits:
    """Keep botocore's retry decisions, skip its sleeps: the exponential backoff between
    attempts and the adaptive token bucket's wait both become 0, and what they would have
    waited is recorded (proof that the adaptive limiter engaged)."""
    from botocore.retries import bucket, standard

    waits = Waits([], [])
    backoff = standard.ExponentialBackoff.delay_amount
    sleep_amount = bucket.TokenBucket._sleep_amount

    def no_backoff(self: Any, context: Any) -> float:
        waits.backoff.append(backoff(self, context))
        return 0.0

    def no_wait(self: Any, amount: Any) -> float:
        wanted = sleep_amount(self, amount)
        if wanted > 0:
            waits.rate_limiter.append(wanted)
            self._current_capacity = amount  # as if the wait had refilled the bucket
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", no_backoff)
    monkeypatch.setattr(bucket.TokenBucket, "_sleep_amount", no_wait)
    return waits


def scan_with(monkeypatch: pytest.MonkeyPatch, session: Any) -> None:
    """Make `ecsdoctor scan` use ``session``: only checker.collect.session.session_for is
    replaced, to hand the CLI the hooked session; everything after it is the real CLI and
    collectors."""
    monkeypatch.setattr("checker.collect.session.session_for", lambda region, profile: session)


@contextmanager
def demo() -> Iterator[Any]:
    """The demo account (moto on 127.0.0.1, every collector has something to collect)."""
    from checker.demo.run import demo_account

    with demo_account() as acct:
        _exec_format_error(acct.session())
        yield acct


def _exec_format_error(session: Any) -> None:
    """One crash of orders-worker also printed ``exec format error``, and its image is in
    ECR: the demo itself has no such container, so without this the image probe's two ECR
    operations would be the only ones these tests never exercise."""
    logs, ecr = session.client("logs"), session.client("ecr")
    group = "/ecs/prod/orders-worker"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    last = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                               startFromHead=False, limit=1)["events"][-1]["timestamp"]
    logs.put_log_events(logGroupName=group, logStreamName=stream["logStreamName"], logEvents=[
        {"timestamp": last + 100, "message": "exec /app/entrypoint.sh: exec format error"}])
    index = "application/vnd.oci.image.index.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": index, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
         "digest": f"sha256:{1:064x}", "platform": {"architecture": "amd64", "os": "linux"}}]}
    ecr.create_repository(repositoryName="orders-worker")
    ecr.put_image(repositoryName="orders-worker", imageManifest=json.dumps(manifest),
                  imageTag="2026.11.20", imageManifestMediaType=index)
