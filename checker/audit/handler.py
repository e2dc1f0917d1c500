"""The scheduled audit: an EventBridge rule invokes ``handler`` (deploy/template.yaml).

One invocation = one scan of the region's ECS clusters through the same pipeline as
``ecsdoctor scan`` (checker.collect → checker.pipeline.Engine), rendered as the JSON report
and the Markdown summary, then handed to the sinks the environment turns on (checker.audit.sinks,
checker.audit.securityhub: S3, SNS, Security Hub, CloudWatch metrics); S3 also gets the
HTML page (checker.render.html) beside the JSON.

Which clusters: ``event["clusters"]`` (a list or a comma-separated string), else
ECSDOCTOR_CLUSTERS, else every cluster of the region (ecs:ListClusters). ``event["region"]``
scans another region; the sinks stay in the function's own region. The scheduled event
EventBridge sends carries its own ``region``, the function's, so it changes nothing.

Failure policy: a scan that cannot start (unknown cluster, no credentials) raises, so the
invocation fails and the function's ``Errors`` metric shows it. A sink that fails is logged
and listed under ``errors`` in the return value, and the other sinks still run.

Time: the scan's deadline is the invocation's remaining time less :data:`SINK_RESERVE`
(at most half of it), so however slow or silent AWS is, the report is built from what was
read in time and the sinks run before Lambda stops the function; what was not read is in
the report's errors as timed out.

Lambda-friendly on purpose: nothing here imports rich, typer or moto, and the Engine (check
registry + playbooks) is built on the first invocation and kept for the warm container.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from checker.audit.securityhub import import_findings
from checker.audit.sinks import Audit, Config, notify_sns, put_metrics, split_names, write_s3
from checker.bundle import now_iso
from checker.collect import Scope, collect
from checker.collect.aws import (
    AUDIT_USER_AGENT,
    DEFAULT_HISTORY,
    DEFAULT_TIMEOUT,
    READ_TIMEOUT,
    Deadline,
    PageLimitExceeded,
    ScanTimeout,
    pages,
)
from checker.errors import InputError
from checker.model import Report, Severity, Status
from checker.pipeline import Engine, shared_engine
from checker.render import RenderOptions
from checker.render.asff import CheckInfo
from checker.render.html import render_html
from checker.render.json_report import render_json
from checker.render.markdown import render_markdown

log = logging.getLogger("ecsdoctor.audit")
log.setLevel(logging.INFO)

#: The one extra IAM action the audit needs beyond the scan's (deploy/template.yaml lists it).
LIST_CLUSTERS = "ecs:ListClusters"
ALL_CLUSTERS = "all"
_SCOPE_KEY_MAX = 200
#: Seconds of the invocation kept back from the scan for the analysis, the renderers and
#: the sinks (Security Hub imports in batches of 100; S3, SNS and metrics one call each).
SINK_RESERVE = 60.0
_OPTIONS = RenderOptions(color=False, width=100, verbose=False)



def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda entry point: ``checker.audit.handler.handler``."""
    summary = run(event if isinstance(event, Mapping) else {}, os.environ,
                  deadline=scan_deadline(context))
    log.info("ecsdoctor audit %s", json.dumps(summary, sort_keys=True))
    return summary


def scan_deadline(context: Any) -> Deadline:
    """The scan's deadline, from the Lambda context's remaining time less SINK_RESERVE (or
    half the remaining time, when that is less than twice the reserve); without a context
    (a direct call) the CLI's default."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return Deadline(DEFAULT_TIMEOUT)
    left = max(0.0, float(remaining()) / 1000)
    budget = max(left - SINK_RESERVE, left / 2, 0.001)  # positive, if next to nothing
    return Deadline(budget, origin="the Lambda invocation's remaining time")


def run(event: Mapping[str, Any], env: Mapping[str, str], *,
        session: boto3.session.Session | None = None,
        deadline: Deadline | None = None) -> dict[str, Any]:
    """Scan, render, send. ``session`` is the function's own (sinks); tests inject one.
    ``deadline`` bounds the scan, ListClusters included (default: the CLI's)."""
    config = Config.from_env(env)
    home = session or boto3.session.Session()
    if not home.region_name:
        raise InputError("no AWS region: set AWS_REGION")
    deadline = deadline or Deadline(DEFAULT_TIMEOUT)
    region = str(event.get("region") or home.region_name)
    scan = home if region == home.region_name else boto3.session.Session(region_name=region)
    clusters, scope_key = clusters_to_scan(event, config, scan, deadline)
    if not clusters:
        log.warning("no ECS cluster in %s: nothing to scan", region)
        return {"status": "no-clusters", "region": region, "clusters": [], "errors": []}
    report = shared_engine().analyze(collect(scan, scan_scope(clusters, config),
                                             deadline=deadline))
    audit = Audit(report=report, json_text=render_json(report, _OPTIONS),
                  markdown_text=render_markdown(report, _OPTIONS), scope_key=scope_key,
                  home_region=str(home.region_name), checks=check_info(shared_engine()),
                  html_text=render_html(report, _OPTIONS) if config.s3_bucket else "")
    results, errors = run_sinks(config, home, audit)
    return summarize(audit, results, errors)


def scan_scope(clusters: tuple[str, ...], config: Config) -> Scope:
    """What to scan: with a history log group (the template's History parameter), the last
    24 hours of it and of CloudTrail, as ``ecsdoctor scan`` reads by default."""
    if config.history_log_group is None:
        return Scope(clusters=clusters)
    return Scope(clusters=clusters, history=DEFAULT_HISTORY,
                 history_log_group=config.history_log_group)


def clusters_to_scan(event: Mapping[str, Any], config: Config, session: boto3.session.Session,
                     deadline: Deadline | None = None) -> tuple[tuple[str, ...], str]:
    """The clusters, and the scope key Security Hub findings are archived under."""
    named = event_clusters(event) or config.clusters
    if named:
        return named, scope_key(named)
    return tuple(list_clusters(session, deadline)), ALL_CLUSTERS


def event_clusters(event: Mapping[str, Any]) -> tuple[str, ...]:
    value = event.get("clusters")
    if value is None:
        return ()
    if isinstance(value, str):
        return split_names(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return split_names(",".join(value))
    raise InputError(f"event clusters: expected a list of names or a comma-separated string, "
                     f"got {type(value).__name__}")


def scope_key(clusters: tuple[str, ...]) -> str:
    """Sorted names (ARNs reduced to names), hashed when too long for a ProductFields value."""
    names = sorted({c.rsplit("/", 1)[-1] for c in clusters})
    key = ",".join(names)
    if len(key) <= _SCOPE_KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def list_clusters(session: boto3.session.Session, deadline: Deadline | None = None) -> list[str]:
    """Every cluster ARN of the region (ecs:ListClusters, 100 per page), within the scan's
    deadline and page cap: past either the invocation fails with one line, as a scan that
    cannot start does."""
    deadline = deadline or Deadline(DEFAULT_TIMEOUT)
    ecs = session.client("ecs", config=_client_config(deadline))
    # last, after adaptive retries' token wait (as Context.client does)
    ecs.meta.events.register_last("before-send", lambda **_: deadline.check())
    try:
        return sorted(arn for page in pages(ecs, "list_clusters", maxResults=100)
                      for arn in page.get("clusterArns", []))
    except (ScanTimeout, PageLimitExceeded) as exc:
        raise InputError(f"ecs:ListClusters: {exc}") from exc


def check_info(eng: Engine) -> dict[str, CheckInfo]:
    return {s.id: CheckInfo(title=s.title, area=s.area, docs=s.docs) for s in eng.registry}


def _client_config(deadline: Deadline | None = None) -> BotoConfig:
    """Sink clients; ListClusters's too, whose read timeout stays under the scan's limit."""
    limit = deadline.seconds if deadline is not None and deadline.seconds else READ_TIMEOUT
    return BotoConfig(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5,
                      read_timeout=max(1.0, min(READ_TIMEOUT, limit)),
                      user_agent_extra=AUDIT_USER_AGENT)


Sink = Callable[[], dict[str, Any]]


def run_sinks(config: Config, session: boto3.session.Session,
              audit: Audit) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Each configured sink, in order; one failing never stops the next."""
    results: dict[str, Any] = {}
    errors: list[dict[str, str]] = []

    def client(name: str) -> Any:
        return session.client(name, config=_client_config())

    def attempt(name: str, sink: Sink) -> None:
        try:
            results[name] = sink()
        except Exception as exc:
            log.exception("ecsdoctor audit: the %s sink failed", name)
            errors.append({"sink": name, "error": f"{type(exc).__name__}: {exc}"})
            return
        errors.extend({"sink": name, "error": e} for e in results[name].pop("errors", []))

    if config.s3_bucket:
        bucket = config.s3_bucket
        attempt("s3", lambda: write_s3(client("s3"), bucket, config.s3_prefix, audit))
    if config.sns_topic_arn:
        topic = config.sns_topic_arn
        attempt("sns", lambda: notify_sns(client("sns"), topic, config.threshold(), audit,
                                          results.get("s3")))
    if config.security_hub:
        attempt("securityhub", lambda: import_findings(client("securityhub"), audit, now_iso()))
    if config.metrics_namespace:
        namespace, failed = config.metrics_namespace, len({e["sink"] for e in errors})
        attempt("metrics", lambda: put_metrics(client("cloudwatch"), namespace, audit, failed))
    return results, errors


def summarize(audit: Audit, results: Mapping[str, Any],
              errors: list[dict[str, str]]) -> dict[str, Any]:
    """The small JSON the invocation returns (and logs): counts, where things went, errors."""
    report: Report = audit.report
    top = report.highest_severity
    return {
        "status": "sink-errors" if errors else "ok",
        "account": report.account,
        "region": report.region,
        "clusters": list(report.scope.get("clusters", [])),
        "scope_key": audit.scope_key,
        "generated_at": report.generated_at,
        "diagnoses": len(report.diagnoses),
        "highest_severity": top.value if top else None,
        "diagnoses_by_severity": {s.value: sum(d.severity is s for d in report.diagnoses)
                                  for s in Severity},
        "findings": report.status_counts(),
        "failing_by_severity": {s.value: sum(f.severity is s for f in report.findings
                                             if f.status is Status.FAIL) for s in Severity},
        "collection_errors": len(report.failed_collections),
        "sinks": dict(results),
        "errors": errors,
        "finished_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
