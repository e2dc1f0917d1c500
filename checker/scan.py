"""`scan`: a boto3 session from the user's usual AWS environment, then the collectors."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from checker.collect import Scope, collect
from checker.errors import InputError
from checker.progress import collect_progress


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


def run_scan(scope: Scope, *, region: str | None, profile: str | None, workers: int,
             console: Console, show_progress: bool) -> dict[str, Any]:
    session = session_for(region, profile)
    with collect_progress(console, show_progress) as progress:
        return collect(session, scope, progress=progress, max_workers=workers)
