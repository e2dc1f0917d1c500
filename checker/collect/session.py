"""A boto3 session from the user's usual AWS environment (profile, Region, credential
chain), for every entry point that reads an account: scan, the gate, the fleet; and
``--endpoint-url``, which sends every client of that session to one endpoint."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from checker.errors import InputError


def region_from(region: str | None, environ: Mapping[str, str]) -> str | None:
    """The Region as the AWS CLI and SDKs pick it: --region, then AWS_REGION, then
    AWS_DEFAULT_REGION, then the profile (None: let botocore read the profile). boto3
    reads only AWS_DEFAULT_REGION, so AWS_REGION alone used to be ignored — or, with a
    profile, silently lose to the profile's Region."""
    for value in (region, environ.get("AWS_REGION"), environ.get("AWS_DEFAULT_REGION")):
        if value and value.strip():
            return value.strip()
    return None


def session_for(region: str | None, profile: str | None) -> Any:
    """Honour profiles, AWS_REGION, AWS_ENDPOINT_URL and the credential chain as the AWS
    CLI does; turn the ways that fails into one actionable line."""
    import boto3
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=profile,
                                        region_name=region_from(region, os.environ))
    except ProfileNotFound:
        raise InputError(f"--profile {profile}: no such profile in your AWS config "
                         "(list them with: aws configure list-profiles)") from None
    except BotoCoreError as exc:
        raise InputError(f"cannot set up AWS session: {exc}") from None
    if not session.region_name:
        raise InputError("no AWS region: pass --region, set AWS_REGION, or give the profile "
                         "a region (aws configure set region <region>)")
    return session


def endpoint_url(value: str | None) -> str | None:
    """``--endpoint-url``: an http(s) URL with a host (LocalStack, moto, a proxy), or None."""
    if value is None:
        return None
    parsed = urlparse(value.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"--endpoint-url {value!r}: expected a URL like "
                         "http://localhost:4566 (http or https, with a host)")
    return value.strip()


class EndpointSession:
    """A boto3 session whose clients all go to one endpoint unless a caller names another.

    Why a wrapper and not ``collect(endpoint_url=...)`` alone: a fleet scan makes its
    clients (STS, Organizations, EC2 for the Regions, and each target's collectors) from the
    sessions it is given, so the endpoint has to travel with the session. Everything else
    (credentials, Region, the botocore session the fleet shares its loader from) is the
    wrapped session's."""

    def __init__(self, session: Any, url: str) -> None:
        self._wrapped, self.endpoint_url = session, url

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint_url
        return self._wrapped.client(service_name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def with_endpoint(session: Any, url: str | None) -> Any:
    """``session`` itself without a URL, else every client it makes goes to ``url``."""
    return session if url is None else EndpointSession(session, url)
