"""The fleet audit's three Lambda handlers, run by the state machine of
deploy/fleet/state-machine.yaml (docs/fleet.md):

1. :func:`targets_handler`: the execution input (``accounts`` or ``organization``,
   ``regions`` or ``"all"``) → the list of account × Region targets the Map state runs;
2. :func:`target_handler`: one target, once per Map iteration: assume the member role,
   collect, and store the bundle in the central bucket (a Map iteration's result must stay
   small: Step Functions passes at most 256 KiB between states);
3. :func:`aggregate_handler`: every iteration's result → each bundle analysed by the one
   engine, merged into one fleet report (checker.fleet.merge), written to the bucket as JSON
   and Markdown, and one SNS summary.

Settings are environment variables, set by the template:

=============================== ============================================================
ECSDOCTOR_FLEET_ROLE_ARN        ``arn:aws:iam::{account}:role/NAME`` (deploy/fleet/member-role.yaml)
ECSDOCTOR_S3_BUCKET             the central bucket (bundles and fleet reports)
ECSDOCTOR_S3_PREFIX             key prefix (default ``ecsdoctor``)
ECSDOCTOR_SNS_TOPIC_ARN         the summary's topic (off if unset)
ECSDOCTOR_CLUSTERS              comma-separated cluster names (default: every cluster)
ECSDOCTOR_FLEET_MAX_CONCURRENCY targets scanned at once (the Map reads it; default 10)
ECSDOCTOR_HISTORY_LOG_GROUP     the members' history log group (docs/history.md); unset or
                                empty: no history is read
=============================== ============================================================

Like checker.audit, nothing here imports rich, typer or moto.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
from botocore.config import Config

from checker.bundle import now_iso
from checker.collect import Scope
from checker.collect.aws import AUDIT_USER_AGENT, DEFAULT_HISTORY
from checker.errors import InputError
from checker.fleet import FleetRequest, plan
from checker.fleet.merge import merge, summary_counts
from checker.fleet.run import Outcome, Sessions, scan_target
from checker.fleet.targets import Target, check_role_arn, split
from checker.model import Report, short_name
from checker.pipeline import shared_engine
from checker.render import RenderOptions
from checker.render.json_report import render_json
from checker.render.markdown import render_markdown
from checker.sanitize import safe_text

log = logging.getLogger("ecsdoctor.fleet")
log.setLevel(logging.INFO)

DEFAULT_PREFIX = "ecsdoctor"
SUBJECT_MAX = 99  # SNS: under 100 ASCII characters, one line
TOP = 10
DEFAULT_CONCURRENCY, MAX_CONCURRENCY = 10, 40
_OPTIONS = RenderOptions(color=False, width=100, verbose=False)


def _client(session: Any, service: str) -> Any:
    return session.client(service, config=Config(
        retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30,
        user_agent_extra=AUDIT_USER_AGENT))


def _prefix(env: Mapping[str, str]) -> str:
    return env.get("ECSDOCTOR_S3_PREFIX", DEFAULT_PREFIX).strip().strip("/") or DEFAULT_PREFIX


def _bucket(env: Mapping[str, str]) -> str:
    bucket = env.get("ECSDOCTOR_S3_BUCKET", "").strip()
    if not bucket:
        raise InputError("ECSDOCTOR_S3_BUCKET is not set: the fleet audit needs its bucket")
    return bucket


# --- 1. targets ------------------------------------------------------------------------------


def targets_handler(event: Any, context: Any, *, session: Any | None = None,
                    env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"accounts": [...]} | {"organization": true}``, ``{"regions": [...] | "all"}``
    (default: the function's Region) → ``{"run", "targets": [{"account", "region"}]}``."""
    del context
    env = os.environ if env is None else env
    event = event if isinstance(event, Mapping) else {}
    base = session or boto3.session.Session()
    regions = event.get("regions")
    accounts = event.get("accounts")
    request = FleetRequest.parse(
        regions=_joined(regions, "regions") if regions else None,
        accounts=_joined(accounts, "accounts") if accounts else None,
        organization=bool(event.get("organization")),
        role_arn=env.get("ECSDOCTOR_FLEET_ROLE_ARN") or None, workers=1)
    if not (request.accounts or request.organization):
        raise InputError('the fleet audit needs "accounts": [...] or "organization": true')
    planned = plan(request, base)
    run = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    return {"run": run, "max_concurrency": max_concurrency(env),
            "targets": [{"account": t.account, "region": t.region} for t in planned]}


def max_concurrency(env: Mapping[str, str]) -> int:
    """The Map state's MaxConcurrencyPath reads it (the template's MaxConcurrency)."""
    text = env.get("ECSDOCTOR_FLEET_MAX_CONCURRENCY", "").strip() or str(DEFAULT_CONCURRENCY)
    if not text.isdigit() or not 1 <= int(text) <= MAX_CONCURRENCY:
        raise InputError(f"ECSDOCTOR_FLEET_MAX_CONCURRENCY={text!r}: expected 1 to "
                         f"{MAX_CONCURRENCY}")
    return int(text)


def _joined(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise InputError(f"event {name}: expected a list of strings or a comma-separated string")


# --- 2. one target ---------------------------------------------------------------------------


def target_handler(event: Any, context: Any, *, session: Any | None = None,
                   env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"run", "account", "region"}`` → the target's result for the aggregation step:
    ``status`` scanned (with ``bundle_key``), no-clusters, or failed (with ``error``)."""
    del context
    env = os.environ if env is None else env
    run, target = _target(event)
    base = session or boto3.session.Session()
    role = check_role_arn(env.get("ECSDOCTOR_FLEET_ROLE_ARN") or None, many=True)
    scope = target_scope(env)
    outcome = scan_target(target, Sessions(base, role_arn=role), scope)
    result: dict[str, Any] = {"account": target.account, "region": target.region}
    if outcome.error is not None:
        log.warning("ecsdoctor fleet: %s failed: %s", target.label, outcome.error.get("code"))
        return {**result, "status": "failed", "error": dict(outcome.error)}
    if outcome.bundle is None:
        return {**result, "status": "no-clusters"}
    key = f"{_prefix(env)}/fleet/{run}/targets/{target.account}/{target.region}.bundle.json.gz"
    body = gzip.compress(json.dumps(outcome.bundle).encode("utf-8"))
    _client(base, "s3").put_object(Bucket=_bucket(env), Key=key, Body=body,
                                   ContentType="application/json", ContentEncoding="gzip")
    return {**result, "status": "scanned", "bundle_key": key, "clusters": list(outcome.clusters)}


def target_scope(env: Mapping[str, str]) -> Scope:
    """The clusters named, or all; with a history log group in the member accounts, the
    last 24 hours of it and of CloudTrail, as the single-account audit reads them."""
    clusters = split(env.get("ECSDOCTOR_CLUSTERS", ""))
    group = env.get("ECSDOCTOR_HISTORY_LOG_GROUP", "").strip()
    if not group:
        return Scope(clusters=clusters)
    return Scope(clusters=clusters, history=DEFAULT_HISTORY, history_log_group=group)


def _target(event: Any) -> tuple[str, Target]:
    if not isinstance(event, Mapping):
        raise InputError("the target event must be an object with run, account and region")
    run, account, region = (str(event.get(k) or "") for k in ("run", "account", "region"))
    if not (run and account and region):
        raise InputError(f"the target event needs run, account and region, got {sorted(event)}")
    return run, Target(account, region)


# --- 3. aggregation --------------------------------------------------------------------------


def aggregate_handler(event: Any, context: Any, *, session: Any | None = None,
                      env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"run", "results": [...]}`` (the Map state's output) → the fleet report in the
    bucket, one SNS summary, and a small summary as the execution's output."""
    del context
    env = os.environ if env is None else env
    if not isinstance(event, Mapping) or not isinstance(event.get("results"), list):
        raise InputError("the aggregation event needs run and results (the Map's output)")
    run = str(event.get("run") or "run")
    base = session or boto3.session.Session()
    s3, bucket = _client(base, "s3"), _bucket(env)
    outcomes = [_outcome(s3, bucket, r) for r in event["results"]]
    stamp = now_iso()
    report = merge([(o, shared_engine().analyze(o.bundle, generated_at=stamp)
                         if o.bundle else None)
                    for o in outcomes], stamp)
    stem = f"{_prefix(env)}/fleet/{run}/fleet"
    keys = {"report_key": f"{stem}-report.json", "summary_key": f"{stem}-summary.md"}
    s3.put_object(Bucket=bucket, Key=keys["report_key"],
                  Body=render_json(report, _OPTIONS).encode("utf-8"),
                  ContentType="application/json")
    s3.put_object(Bucket=bucket, Key=keys["summary_key"],
                  Body=render_markdown(report, _OPTIONS).encode("utf-8"),
                  ContentType="text/markdown; charset=utf-8")
    out: dict[str, Any] = {"run": run, "bucket": bucket, **keys, **summary_counts(report),
                           "diagnoses": len(report.diagnoses)}
    topic = env.get("ECSDOCTOR_SNS_TOPIC_ARN", "").strip()
    if topic:
        response = _client(base, "sns").publish(
            TopicArn=topic, Subject=subject(report), Message=message(report, bucket, keys))
        out["message_id"] = response.get("MessageId")
    log.info("ecsdoctor fleet %s", json.dumps(out, sort_keys=True))
    return out


def _outcome(s3: Any, bucket: str, result: Any) -> Outcome:
    """One Map iteration's result back as an Outcome (its bundle read from the bucket)."""
    if not isinstance(result, Mapping):
        raise InputError(f"a Map result must be an object, got {type(result).__name__}")
    target = Target(str(result.get("account") or "") or None, str(result.get("region") or ""))
    status = result.get("status")
    if status == "scanned":
        body = s3.get_object(Bucket=bucket, Key=str(result["bundle_key"]))["Body"].read()
        return Outcome(target, bundle=json.loads(gzip.decompress(body)),
                       clusters=tuple(result.get("clusters") or ()))
    if status == "failed":
        error = result.get("error")
        return Outcome(target, error=dict(error) if isinstance(error, Mapping) else {
            "collection": "target", "operation": "scan", "code": "Failed",
            "message": str(error), "account": target.account, "region": target.region})
    return Outcome(target)


def subject(report: Report) -> str:
    counts = summary_counts(report)
    top = report.highest_severity
    text = (f"ecsdoctor fleet: {len(report.diagnoses)} diagnoses"
            + (f", highest {top.value}" if top else "")
            + f"; {counts['scanned']} targets scanned, {counts['failed']} failed")
    text = text.encode("ascii", "ignore").decode()
    return text if len(text) <= SUBJECT_MAX else text[:SUBJECT_MAX - 3] + "..."


def message(report: Report, bucket: str, keys: Mapping[str, str]) -> str:
    """The top diagnoses of the whole fleet, the targets that failed, and where the rest is."""
    counts = summary_counts(report)
    lines = [f"ecsdoctor fleet audit at {report.generated_at}: {counts['scanned']} target(s) "
             f"scanned, {counts['no-clusters']} without clusters, {counts['failed']} failed; "
             f"{len(report.diagnoses)} diagnosis(es).", ""]
    for d in report.diagnoses[:TOP]:
        names = ", ".join(short_name(r) for r in d.resources[:3])
        lines.append(f"{d.rank}. [{d.severity.value.upper()}] {d.account}/{d.region} "
                     f"{d.title} - {names} ({d.id})")
    if len(report.diagnoses) > TOP:
        lines.append(f"... and {len(report.diagnoses) - TOP} more")
    failed = _failed(report.errors)
    if failed:
        lines += ["", "Not scanned:"]
        lines += [f"- {e.get('account')}/{e.get('region')}: {e.get('code')}" for e in failed]
    lines += ["", f"Report: s3://{bucket}/{keys['report_key']}",
              f"Summary: s3://{bucket}/{keys['summary_key']}"]
    return _printable("\n".join(lines) + "\n")


def _failed(errors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in errors if e.get("collection") == "target"][:TOP]


def _printable(text: str) -> str:
    """Control characters from AWS text shown, not sent (e-mail and chat clients render
    what they get): the one sanitizer every human-facing output uses."""
    return safe_text(text)
