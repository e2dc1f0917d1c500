"""A boto3 session from the user's usual AWS environment (profile, Region, credential
chain), for every entry point that reads an account: scan, the gate, the fleet."""

from __future__ import annotations

from typing import Any

from checker.errors import InputError


def session_for(region: str | None, profile: str | None) -> Any:
    """Honour profiles, AWS_REGION, AWS_ENDPOINT_URL and the credential chain as the AWS
    CLI does; turn the ways that fails into one actionable line."""
    import boto3
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise InputError(f"--profile {profile}: no such profile in your AWS config "
                         "(list them with: aws configure list-profiles)") from None
    except BotoCoreError as exc:
        raise InputError(f"cannot set up AWS session: {exc}") from None
    if not session.region_name:
        raise InputError("no AWS region: pass --region or set AWS_REGION")
    return session
