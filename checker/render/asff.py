"""Report → AWS Security Finding Format (ASFF), for Security Hub's BatchImportFindings.

Why these choices:
- **Stable ids.** A finding's ``Id`` is a hash of (account, region, generator, resource), so
  the hourly audit *updates* the same Security Hub finding instead of adding one per run, and
  a finding that is gone can be found again and archived. Two failing results of one check on
  one resource (a task definition with two bad containers) are one finding: Security Hub
  rejects a batch that repeats an id, and the resource is what an operator triages.
- **What is imported:** every failing check finding at or above ``min_severity`` (default
  low: the info-level summaries would churn every hour), and every diagnosis once per
  resource it names (it carries the remediation). Passes, unknowns and collection errors
  are not findings in Security Hub's sense; the S3 report keeps them. Warnings about the
  bundle's items (not in their AWS shape) are one informational finding on the account.
- **Scope.** ``ProductFields["ecsdoctor/ScopeKey"]`` records which scan produced a finding
  (``all`` clusters, or the cluster names): an audit archives only what *its own* scope
  stopped seeing, never what another schedule with other clusters found.
- Field limits are Security Hub's (Title 256, Description 1024, Recommendation text 512);
  timestamps are the RFC 3339 ``…Z`` form its docs show.

This module imports only :mod:`checker.model` (STYLE rule 8): check titles and docs come in
as plain :class:`CheckInfo` values, built by the caller from the registry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from checker.model import Diagnosis, Finding, Report, Severity, Status, short_name
from checker.render._text import bundle_warnings, warning_line

if TYPE_CHECKING:
    from checker.render import RenderOptions

SCHEMA_VERSION = "2018-10-08"
GENERATOR_PREFIX = "ecsdoctor/"
PRODUCT_NAME = "ecsdoctor"
SCOPE_FIELD = "ecsdoctor/ScopeKey"
KIND_FIELD = "ecsdoctor/Kind"
WARNINGS_GENERATOR = f"{GENERATOR_PREFIX}bundle-validation"
#: Diagnoses (CONTRACTS §3) about security rather than reliability.
SECURITY_DIAGNOSES = frozenset({"plaintext-secrets", "public-task-ip"})
TITLE_MAX, DESCRIPTION_MAX, RECOMMENDATION_MAX, FIELD_MAX = 256, 1024, 512, 2048

#: Security Hub's severity labels (ASFF Severity.Label).
LABEL = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFO: "INFORMATIONAL",
}

#: ECS ARN resource type → ASFF Resources[].Type.
_ECS_TYPES = {
    "service": "AwsEcsService",
    "cluster": "AwsEcsCluster",
    "task-definition": "AwsEcsTaskDefinition",
    "task": "AwsEcsTask",
}
#: EC2 id prefix → (ARN resource type, ASFF type); ids like ``subnet-0abc`` become ARNs.
_EC2_IDS = {
    "i": ("instance", "AwsEc2Instance"),
    "sg": ("security-group", "AwsEc2SecurityGroup"),
    "subnet": ("subnet", "AwsEc2Subnet"),
    "vpc": ("vpc", "AwsEc2Vpc"),
    "acl": ("network-acl", "AwsEc2NetworkAcl"),
    "rtb": ("route-table", "AwsEc2RouteTable"),
    "eni": ("network-interface", "AwsEc2NetworkInterface"),
    "nat": ("natgateway", "Other"),
    "vpce": ("vpc-endpoint", "AwsEc2VpcEndpointService"),
}
_EC2_ID = re.compile(r"^([a-z]+)-[0-9a-f]{8,17}$")


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """What the report's findings do not carry about their check (from the registry)."""

    title: str
    area: str = ""
    docs: str = ""


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def product_arn(account: str, region: str) -> str:
    """The account's own "default" product: where a custom integration imports findings."""
    return f"arn:{partition(region)}:securityhub:{region}:{account}:product/{account}/default"


def finding_id(account: str, region: str, generator: str, resource: str) -> str:
    """Stable across runs: the same issue on the same resource is the same finding."""
    digest = hashlib.sha256("\x1f".join((account, region, generator, resource)).encode())
    return f"ecsdoctor/{region}/{digest.hexdigest()}"


def asff_time(iso: str) -> str:
    """``2026-11-20T10:05:00+00:00`` → ``2026-11-20T10:05:00.000Z``."""
    when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{when.microsecond // 1000:03d}Z")


def clip(text: str, limit: int) -> str:
    """Security Hub rejects over-long fields; cut with an ellipsis, never empty."""
    text = " ".join(str(text).split()) or "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def asff_resource(resource: str, account: str, region: str) -> dict[str, str]:
    """One Resources[] entry: an ARN where we can build one, the typed ASFF resource type."""
    part = partition(region)
    res_type, res_id = "Other", resource
    if resource.startswith("arn:"):
        fields = resource.split(":", 5)
        service = fields[2] if len(fields) > 2 else ""
        kind = fields[5].split("/", 1)[0] if len(fields) > 5 else ""
        if service == "ecs":
            res_type = _ECS_TYPES.get(kind, "Other")
        elif service == "elasticloadbalancing" and kind == "loadbalancer":
            res_type = "AwsElbv2LoadBalancer"
        elif service == "autoscaling":
            res_type = "AwsAutoScalingAutoScalingGroup"
    else:
        match = _EC2_ID.match(resource)
        if match and match.group(1) in _EC2_IDS:
            arn_type, res_type = _EC2_IDS[match.group(1)]
            res_id = f"arn:{part}:ec2:{region}:{account}:{arn_type}/{resource}"
    return {"Type": res_type, "Id": clip(res_id, 512), "Partition": part, "Region": region}


def to_asff(
    report: Report,
    *,
    checks: Mapping[str, CheckInfo] | None = None,
    home_region: str | None = None,
    scope_key: str = "all",
    min_severity: Severity = Severity.LOW,
) -> list[dict[str, Any]]:
    """Every ASFF finding for ``report``, sorted by id (deterministic batches).

    ``home_region`` is the Security Hub the findings go to (default: the scanned region);
    the findings' ``Region`` is always the scanned one. Raises ValueError when the report
    has no account or region: ASFF cannot name a finding without them.
    """
    if not report.account or not report.region:
        raise ValueError("ASFF needs the report's account and region (the scan could not "
                         "read them: sts:GetCallerIdentity failed?)")
    base = _Base(report.account, report.region, home_region or report.region, scope_key,
                 asff_time(report.generated_at))
    out = [_check_finding(base, group, (checks or {}).get(group[0].check))
           for group in _groups(report.findings, min_severity)]
    out += [_diagnosis_finding(base, d, resource)
            for d in report.diagnoses if d.severity.at_least(min_severity)
            for resource in dict.fromkeys(d.resources)]
    warnings = bundle_warnings(report)
    if warnings:
        out.append(_warnings_finding(base, warnings))
    return sorted(out, key=lambda f: str(f["Id"]))


def render_asff(report: Report, options: RenderOptions) -> str:
    """The Renderer signature (``RENDERERS["asff"]`` if wanted): a JSON array of findings."""
    del options
    return json.dumps(to_asff(report), indent=2, ensure_ascii=True) + "\n"


@dataclass(frozen=True, slots=True)
class _Base:
    account: str
    region: str
    home_region: str
    scope_key: str
    now: str


def _groups(findings: Iterable[Finding], min_severity: Severity) -> list[list[Finding]]:
    """Failing findings grouped by (check, resource), most severe first in each group."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.status is Status.FAIL and f.severity.at_least(min_severity):
            groups.setdefault((f.check, f.resource), []).append(f)
    return [sorted(g, key=lambda f: (f.severity.order, f.message)) for g in groups.values()]


def _common(base: _Base, generator: str, resource: str, severity: Severity,
            types: list[str]) -> dict[str, Any]:
    sev = {"Label": LABEL[severity], "Original": severity.value}
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(base.account, base.region, generator, resource),
        "ProductArn": product_arn(base.account, base.home_region),
        "ProductName": PRODUCT_NAME,
        "CompanyName": PRODUCT_NAME,
        "GeneratorId": generator,
        "AwsAccountId": base.account,
        "Region": base.region,
        "Types": types,
        "CreatedAt": base.now,
        "UpdatedAt": base.now,
        "FirstObservedAt": base.now,
        "LastObservedAt": base.now,
        "Severity": sev,
        "FindingProviderFields": {"Severity": dict(sev), "Types": list(types)},
        "Resources": [asff_resource(resource, base.account, base.region)],
        "RecordState": "ACTIVE",
    }


def _types(security: bool) -> list[str]:
    """ASFF namespace/category/classifier: ecsdoctor is mostly about reliability."""
    if security:
        return ["Software and Configuration Checks/AWS Security Best Practices/Amazon ECS"]
    return ["Software and Configuration Checks/Industry and Regulatory Standards/"
            "AWS Well-Architected Reliability"]


def _fields(base: _Base, kind: str, **extra: str | None) -> dict[str, str]:
    fields = {SCOPE_FIELD: base.scope_key, KIND_FIELD: kind}
    fields.update({f"ecsdoctor/{k}": v for k, v in extra.items() if v})
    return {k: clip(v, FIELD_MAX) for k, v in fields.items()}


def _check_finding(base: _Base, group: list[Finding], info: CheckInfo | None) -> dict[str, Any]:
    first = group[0]
    info = info or CheckInfo(title=first.check)
    out = _common(base, f"{GENERATOR_PREFIX}check/{first.check}", first.resource,
                  first.severity, _types(info.area == "security"))
    messages = list(dict.fromkeys(f.message for f in group))
    out["Title"] = clip(f"{info.title}: {short_name(first.resource)}", TITLE_MAX)
    out["Description"] = clip(" | ".join(messages), DESCRIPTION_MAX)
    out["ProductFields"] = _fields(base, "check", Check=first.check, Area=info.area,
                                   Service=first.service)
    if info.docs:
        out["SourceUrl"] = info.docs
        out["Remediation"] = {"Recommendation": {
            "Text": clip(f"See the AWS documentation for {first.check}.", RECOMMENDATION_MAX),
            "Url": info.docs}}
    return out


def _warnings_finding(base: _Base, warnings: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One informational finding on the account for every warning about the bundle's items:
    its checks read values that were not in their AWS shape. Whatever ``min_severity``, so
    a scan that could not read its data right is never a clean account in Security Hub;
    the next clean run archives it like any finding that is gone."""
    account = f"AWS::::Account:{base.account}"
    out = _common(base, WARNINGS_GENERATOR, account, Severity.INFO, _types(False))
    out["Resources"] = [{"Type": "AwsAccount", "Id": account,
                         "Partition": partition(base.region), "Region": base.region}]
    out["Title"] = clip(f"ecsdoctor: {len(warnings)} bundle warning(s): items not in their "
                        "AWS shape", TITLE_MAX)
    out["Description"] = clip(" | ".join(warning_line(e) for e in warnings), DESCRIPTION_MAX)
    out["ProductFields"] = _fields(base, "bundle-validation", Warnings=str(len(warnings)))
    return out


def _diagnosis_finding(base: _Base, d: Diagnosis, resource: str) -> dict[str, Any]:
    out = _common(base, f"{GENERATOR_PREFIX}diagnosis/{d.id}", resource, d.severity,
                  _types(d.id in SECURITY_DIAGNOSES))
    confidence = max(0, min(100, round(d.confidence * 100)))
    out["Confidence"] = confidence
    out["FindingProviderFields"]["Confidence"] = confidence
    out["Title"] = clip(f"{d.title}: {short_name(resource)}", TITLE_MAX)
    out["Description"] = clip(" ".join([d.summary, *d.why]) or d.title, DESCRIPTION_MAX)
    out["ProductFields"] = _fields(base, "diagnosis", Diagnosis=d.id, Scenario=d.scenario,
                                   Rank=str(d.rank), Score=f"{d.score:.1f}")
    steps = " ".join(f"{n}. {r.step}" for n, r in enumerate(d.remediation, start=1))
    url = next((r for r in d.references if r.startswith("https://")), None)
    if steps or url:
        recommendation: dict[str, str] = {"Text": clip(steps or d.title, RECOMMENDATION_MAX)}
        if url:
            recommendation["Url"] = url
            out["SourceUrl"] = url
        out["Remediation"] = {"Recommendation": recommendation}
    return out
