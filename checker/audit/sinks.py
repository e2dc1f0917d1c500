"""Where the scheduled audit (checker.audit.handler) sends a report: S3, SNS, CloudWatch.

Security Hub lives in :mod:`checker.audit.securityhub`. Every sink is optional and is
configured by environment variables only (:class:`Config`), so the one deployed function
is tuned from the template's parameters without a code change:

=============================== ============================================================
ECSDOCTOR_CLUSTERS              comma-separated cluster names/ARNs (default: every cluster)
ECSDOCTOR_S3_BUCKET             write ``report.json``, ``summary.md`` and ``report.html``
                                there (off if unset)
ECSDOCTOR_S3_PREFIX             key prefix (default ``ecsdoctor``)
ECSDOCTOR_SNS_TOPIC_ARN         publish a short summary there (off if unset)...
ECSDOCTOR_NOTIFY_SEVERITY       ...when a diagnosis or failing finding is at/above this
                                (critical, high, medium, low, info; default ``high``)
ECSDOCTOR_SECURITY_HUB          ``1``/``true``: import findings as ASFF (default off)
ECSDOCTOR_METRICS_NAMESPACE     CloudWatch namespace (default ``ECSDoctor``; ``off`` or an
                                empty value turns metrics off)
ECSDOCTOR_HISTORY_LOG_GROUP     the history log group (docs/history.md): the scan reads the
                                last 24 h of it and of CloudTrail; unset or empty: no history
=============================== ============================================================

What people read (the SNS subject and message, and through them e-mail and chat) comes
from a report passed through the one sanitizer (checker.sanitize) first: AWS text with
terminal escapes or bidi overrides is shown escaped, and no line begins with ``::``.

Sinks run in a fixed order (S3 first: the notification links to the report it wrote) and
each one's failure is caught by the handler, logged and returned, so a denied ``sns:Publish``
never costs the Security Hub import or the metrics an alarm watches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from checker.model import Report, Severity, Status, short_name
from checker.render.asff import CheckInfo
from checker.sanitize import guard_lines, one_line, sanitize_report

DEFAULT_PREFIX = "ecsdoctor"
DEFAULT_NAMESPACE = "ECSDoctor"
DEFAULT_NOTIFY = Severity.HIGH
SUBJECT_MAX = 99  # SNS: "must be less than 100 characters", ASCII, no line breaks
TOP_DIAGNOSES = 5
METRIC_BATCH = 20  # the long-standing PutMetricData limit; 1000 today, 20 works everywhere
#: Every environment variable the audit reads (the template sets each one).
ENV_VARS = (
    "ECSDOCTOR_CLUSTERS", "ECSDOCTOR_S3_BUCKET", "ECSDOCTOR_S3_PREFIX",
    "ECSDOCTOR_SNS_TOPIC_ARN", "ECSDOCTOR_NOTIFY_SEVERITY", "ECSDOCTOR_SECURITY_HUB",
    "ECSDOCTOR_METRICS_NAMESPACE", "ECSDOCTOR_HISTORY_LOG_GROUP",
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"", "off", "none", "false", "0"})


@dataclass(frozen=True)
class Config:
    """The audit's settings, read once from the environment (see the module docstring)."""

    clusters: tuple[str, ...] = ()
    s3_bucket: str | None = None
    s3_prefix: str = DEFAULT_PREFIX
    sns_topic_arn: str | None = None
    notify_severity: str = DEFAULT_NOTIFY.value
    security_hub: bool = False
    metrics_namespace: str | None = DEFAULT_NAMESPACE
    history_log_group: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        namespace = env.get("ECSDOCTOR_METRICS_NAMESPACE", DEFAULT_NAMESPACE).strip()
        return cls(
            clusters=split_names(env.get("ECSDOCTOR_CLUSTERS", "")),
            s3_bucket=env.get("ECSDOCTOR_S3_BUCKET", "").strip() or None,
            s3_prefix=env.get("ECSDOCTOR_S3_PREFIX", DEFAULT_PREFIX).strip().strip("/"),
            sns_topic_arn=env.get("ECSDOCTOR_SNS_TOPIC_ARN", "").strip() or None,
            notify_severity=env.get("ECSDOCTOR_NOTIFY_SEVERITY", "").strip().lower()
            or DEFAULT_NOTIFY.value,
            security_hub=env.get("ECSDOCTOR_SECURITY_HUB", "").strip().lower() in _TRUE,
            metrics_namespace=None if namespace.lower() in _OFF else namespace,
            history_log_group=env.get("ECSDOCTOR_HISTORY_LOG_GROUP", "").strip() or None,
        )

    def threshold(self) -> Severity:
        """ECSDOCTOR_NOTIFY_SEVERITY as a Severity; a typo fails the SNS sink, loudly."""
        try:
            return Severity(self.notify_severity)
        except ValueError:
            valid = ", ".join(s.value for s in Severity)
            raise ValueError(f"ECSDOCTOR_NOTIFY_SEVERITY={self.notify_severity!r}: expected "
                             f"one of {valid}") from None


def split_names(value: str) -> tuple[str, ...]:
    """``"prod, staging,,"`` → ``("prod", "staging")``, order kept, duplicates dropped."""
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


@dataclass(frozen=True)
class Audit:
    """One scan's outputs, as every sink needs them."""

    report: Report
    json_text: str
    markdown_text: str
    scope_key: str
    home_region: str
    checks: Mapping[str, CheckInfo] = field(default_factory=dict)
    #: The page a person opens (checker.render.html); none: no HTML object is written.
    html_text: str = ""

    @property
    def account(self) -> str:
        return one_line(self.report.account or "unknown-account")

    @property
    def region(self) -> str:
        return one_line(self.report.region or "unknown-region")


# --- S3 ------------------------------------------------------------------------------------


def s3_keys(prefix: str, audit: Audit) -> tuple[str, str]:
    """``PREFIX/ACCOUNT/REGION/YYYY-MM-DD/HHMMSSZ-report.json`` and ``…-summary.md``:
    one folder per day, so a lifecycle rule or an Athena partition can use the date."""
    stem = _stem(prefix, audit)
    return f"{stem}-report.json", f"{stem}-summary.md"


def html_key(prefix: str, audit: Audit) -> str:
    """``…-report.html``, beside the JSON report it draws."""
    return f"{_stem(prefix, audit)}-report.html"


def _stem(prefix: str, audit: Audit) -> str:
    when = dt.datetime.fromisoformat(audit.report.generated_at).astimezone(dt.UTC)
    return "/".join(p for p in (prefix, audit.account, audit.region,
                                when.strftime("%Y-%m-%d"), when.strftime("%H%M%SZ")) if p)


def write_s3(client: Any, bucket: str, prefix: str, audit: Audit) -> dict[str, Any]:
    report_key, summary_key = s3_keys(prefix, audit)
    client.put_object(Bucket=bucket, Key=report_key, Body=audit.json_text.encode("utf-8"),
                      ContentType="application/json")
    client.put_object(Bucket=bucket, Key=summary_key, Body=audit.markdown_text.encode("utf-8"),
                      ContentType="text/markdown; charset=utf-8")
    out = {"bucket": bucket, "report_key": report_key, "summary_key": summary_key}
    if audit.html_text:
        out["html_key"] = html_key(prefix, audit)
        client.put_object(Bucket=bucket, Key=out["html_key"],
                          Body=audit.html_text.encode("utf-8"),
                          ContentType="text/html; charset=utf-8")
    return out


def console_url(bucket: str, key: str, region: str) -> str:
    """A link a person can click in an e-mail; an s3:// URI alone is not clickable."""
    return (f"https://{region}.console.aws.amazon.com/s3/object/{bucket}"
            f"?region={region}&prefix={quote(key, safe='')}")


# --- SNS -----------------------------------------------------------------------------------


def above(report: Report, threshold: Severity) -> tuple[list[Any], list[Any]]:
    """Diagnoses, and failing findings no diagnosis covers, at or above ``threshold``
    (the CLI's --fail-on rule: either one is reason enough)."""
    diagnoses = report.failing_at_least(threshold)
    cited = {(ev.check, ev.resource) for d in diagnoses for ev in d.evidence}
    findings = [f for f in report.findings if f.status is Status.FAIL
                and f.severity.at_least(threshold) and (f.check, f.resource) not in cited]
    return diagnoses, findings


def subject(audit: Audit, n_diagnoses: int, n_findings: int) -> str:
    """≤ 99 ASCII characters, no line break (SNS rejects anything else)."""
    report = sanitize_report(audit.report)
    top = report.highest_severity
    parts = [f"ecsdoctor {audit.account}/{audit.region}:"]
    if n_diagnoses:
        parts.append(f"{n_diagnoses} diagnos{'is' if n_diagnoses == 1 else 'es'}"
                     + (f", highest {top.value}" if top else ""))
        first = report.diagnoses[0]
        parts.append(f"- {first.title}")
    else:
        parts.append(f"{n_findings} failing finding{'' if n_findings == 1 else 's'}")
    text = " ".join(" ".join(parts).split()).encode("ascii", "ignore").decode()
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 3].rstrip() + "..."


def message(audit: Audit, threshold: Severity, s3: Mapping[str, Any] | None) -> str:
    """Plain text for e-mail and chat: what, where, the first step, and where the rest is."""
    report = sanitize_report(audit.report)
    diagnoses, findings = above(report, threshold)
    clusters = ", ".join(str(c).rsplit("/", 1)[-1]
                         for c in report.scope.get("clusters", [])) or "(none)"
    lines = [f"ecsdoctor audit of {audit.account} {audit.region} (clusters: {clusters}) at "
             f"{report.generated_at}: {len(diagnoses)} diagnosis(es) and {len(findings)} other "
             f"failing finding(s) at or above {threshold.value}.", ""]
    for d in diagnoses[:TOP_DIAGNOSES]:
        names = ", ".join(short_name(r) for r in d.resources[:3])
        lines.append(f"{d.rank}. [{d.severity.value.upper()}] {d.title} - {names} "
                     f"({d.id}, confidence {d.confidence:.0%})")
        if d.summary:
            lines.append(f"   {d.summary}")
        if d.remediation:
            lines.append(f"   Next: {d.remediation[0].step}")
    if len(diagnoses) > TOP_DIAGNOSES:
        lines.append(f"... and {len(diagnoses) - TOP_DIAGNOSES} more diagnosis(es)")
    for f in findings[:TOP_DIAGNOSES]:
        lines.append(f"- [{f.severity.value.upper()}] {f.check}: {f.message}")
    if report.failed_collections:
        lines.append(f"{len(report.failed_collections)} collection error(s): some checks could "
                     "not run.")
    lines.append("")
    if s3:
        bucket, key = s3["bucket"], s3["report_key"]
        lines += [f"Report: s3://{bucket}/{key}",
                  f"Summary: s3://{bucket}/{s3['summary_key']}"]
        if s3.get("html_key"):
            lines.append(f"Page: s3://{bucket}/{s3['html_key']}")
        shown = s3.get("html_key") or s3["summary_key"]
        lines.append(f"Open: {console_url(bucket, shown, audit.home_region)}")
    else:
        lines.append("The full report was not stored (the S3 sink is off or failed).")
    return guard_lines("\n".join(lines) + "\n")


def notify_sns(client: Any, topic_arn: str, threshold: Severity, audit: Audit,
               s3: Mapping[str, Any] | None) -> dict[str, Any]:
    """Publish only when something is at or above the threshold: a quiet hour sends
    nothing, so the topic stays worth subscribing to."""
    diagnoses, findings = above(audit.report, threshold)
    if not diagnoses and not findings:
        return {"published": False, "reason": f"nothing at or above {threshold.value}"}
    top = min((x.severity for x in [*diagnoses, *findings]), key=lambda s: s.order)
    response = client.publish(
        TopicArn=topic_arn, Subject=subject(audit, len(diagnoses), len(findings)),
        Message=message(audit, threshold, s3),
        MessageAttributes={  # for subscription filter policies
            "severity": {"DataType": "String", "StringValue": top.value},
            "account": {"DataType": "String", "StringValue": audit.account},
            "region": {"DataType": "String", "StringValue": audit.region},
        })
    return {"published": True, "message_id": response.get("MessageId"),
            "diagnoses": len(diagnoses), "findings": len(findings)}


# --- CloudWatch ----------------------------------------------------------------------------


def metric_data(audit: Audit, sink_errors: int) -> list[dict[str, Any]]:
    """Counts an alarm can watch, zeros included (a missing datapoint is not "zero" to an
    alarm): Diagnoses and FailingFindings per Severity, CollectionErrors, UnknownFindings
    and SinkErrors; dimensions Account and Region (+ Severity)."""
    report = audit.report
    when = dt.datetime.fromisoformat(report.generated_at).astimezone(dt.UTC)
    base = [{"Name": "Account", "Value": audit.account},
            {"Name": "Region", "Value": audit.region}]

    def datum(name: str, value: int, severity: Severity | None = None) -> dict[str, Any]:
        dims = base + ([{"Name": "Severity", "Value": severity.value}] if severity else [])
        return {"MetricName": name, "Dimensions": dims, "Timestamp": when,
                "Value": float(value), "Unit": "Count"}

    failing = [f for f in report.findings if f.status is Status.FAIL]
    data = [datum("Diagnoses", sum(d.severity is s for d in report.diagnoses), s)
            for s in Severity]
    data += [datum("FailingFindings", sum(f.severity is s for f in failing), s)
             for s in Severity]
    data += [datum("CollectionErrors", len(report.failed_collections)),
             datum("UnknownFindings", report.status_counts()[Status.UNKNOWN.value]),
             datum("SinkErrors", sink_errors)]
    return data


def put_metrics(client: Any, namespace: str, audit: Audit, sink_errors: int) -> dict[str, Any]:
    data = metric_data(audit, sink_errors)
    for start in range(0, len(data), METRIC_BATCH):
        client.put_metric_data(Namespace=namespace, MetricData=data[start:start + METRIC_BATCH])
    return {"namespace": namespace, "datapoints": len(data)}
