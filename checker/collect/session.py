"""A boto3 session from the user's usual AWS environment (profile, Region, credential
chain), for every entry point that reads an account: scan, the gate, the fleet."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

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
