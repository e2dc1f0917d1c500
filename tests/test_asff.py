"""ASFF (checker.render.asff): what Security Hub accepts, and ids that survive re-runs.

Every finding is validated against botocore's own BatchImportFindings input shape (the same
validator a real client runs before sending) and through a Stubber-wrapped client, so a
missing required field or a wrong type fails here instead of in someone's account.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from checker.model import Diagnosis, Finding, Remediation, Report, Severity, Status
from checker.pipeline import Engine
from checker.render import RenderOptions
from checker.render.asff import (
    LABEL,
    CheckInfo,
    asff_resource,
    asff_time,
    finding_id,
    partition,
    product_arn,
    render_asff,
    to_asff,
)

ACCOUNT, REGION = "123456789012", "eu-west-1"
ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
WEB = f"{ARN}:service/prod/web"
TD = f"{ARN}:task-definition/web:3"
BUNDLE = Path(__file__).parent / "bundles" / "handwritten-oom.json"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NAMESPACES = ("Software and Configuration Checks", "TTPs", "Effects", "Unusual Behaviors",
              "Sensitive Data Identifications")


def _finding_shape() -> Any:
    model = botocore.session.get_session().get_service_model("securityhub")
    return model.operation_model("BatchImportFindings").input_shape


def _validate(findings: list[dict[str, Any]]) -> None:
    """botocore's client-side validation of BatchImportFindings (raises on any problem)."""
    for start in range(0, len(findings), 100):
        validate_parameters({"Findings": findings[start:start + 100]}, _finding_shape())


def _report(findings: tuple[Finding, ...] = (), diagnoses: tuple[Diagnosis, ...] = (),
            account: str | None = ACCOUNT) -> Report:
    return Report(generated_at="2026-11-20T10:05:00+00:00", account=account, region=REGION,
                  scope={"clusters": ["prod"]}, diagnoses=diagnoses, findings=findings)


def _fail(check: str, resource: str, message: str,
          severity: Severity = Severity.HIGH) -> Finding:
    return Finding(check, Status.FAIL, severity, resource, message, {}, WEB)


def _diagnosis(resources: tuple[str, ...] = (WEB,)) -> Diagnosis:
    return Diagnosis("memory-undersized", "Memory limit too low", "memory-oom", Severity.HIGH,
                     0.8, 5.6, resources, "OOM-killed 3 times in the last hour.", (),
                     (Remediation("Raise the hard limit", "aws ecs update-service …"),),
                     ("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/x.html",),
                     why=("symptom stopped-task-oom failed",), rank=1)


@pytest.fixture(scope="module")
def engine_report() -> tuple[Report, dict[str, CheckInfo]]:
    engine = Engine()
    report = engine.analyze(json.loads(BUNDLE.read_text()))
    checks = {s.id: CheckInfo(s.title, s.area, s.docs) for s in engine.registry}
    return report, checks


def test_a_real_report_is_valid_asff(engine_report: tuple[Report, dict[str, CheckInfo]]) -> None:
    report, checks = engine_report
    findings = to_asff(report, checks=checks)
    assert findings, "the OOM bundle has failing findings and a diagnosis"
    _validate(findings)
    kinds = {f["ProductFields"]["ecsdoctor/Kind"] for f in findings}
    assert kinds == {"check", "diagnosis"}
    for f in findings:
        assert f["SchemaVersion"] == "2018-10-08"
        assert f["ProductArn"] == product_arn(str(report.account), str(report.region))
        assert f["AwsAccountId"] == report.account and f["Region"] == report.region
        assert f["GeneratorId"].startswith("ecsdoctor/")
        assert f["Severity"]["Label"] in LABEL.values()
        assert f["FindingProviderFields"]["Severity"] == f["Severity"]
        assert all(t.split("/")[0] in NAMESPACES and t.count("/") == 2 for t in f["Types"])
        assert all(TIME.match(f[k]) for k in ("CreatedAt", "UpdatedAt", "FirstObservedAt",
                                              "LastObservedAt"))
        assert len(f["Title"]) <= 256 and len(f["Description"]) <= 1024
        assert f["RecordState"] == "ACTIVE" and f["Resources"]
    ids = [f["Id"] for f in findings]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    check_titles = {f["Title"].split(":")[0] for f in findings
                    if f["ProductFields"]["ecsdoctor/Kind"] == "check"}
    assert check_titles <= {c.title for c in checks.values()}


def test_a_stubbed_client_accepts_a_batch(
        engine_report: tuple[Report, dict[str, CheckInfo]]) -> None:
    findings = to_asff(engine_report[0], checks=engine_report[1])[:100]
    client = boto3.client("securityhub", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("batch_import_findings",
                          {"FailedCount": 0, "SuccessCount": len(findings),
                           "FailedFindings": []}, {"Findings": findings})
        assert client.batch_import_findings(Findings=findings)["SuccessCount"] == len(findings)
        stub.assert_no_pending_responses()


def test_ids_are_stable_across_runs_and_unique(
        engine_report: tuple[Report, dict[str, CheckInfo]]) -> None:
    report = engine_report[0]
    later = replace(report, generated_at="2026-11-20T11:05:00+00:00")
    first, second = to_asff(report), to_asff(later)
    assert [f["Id"] for f in first] == [f["Id"] for f in second]
    assert {f["UpdatedAt"] for f in second} == {"2026-11-20T11:05:00.000Z"}
    assert finding_id(ACCOUNT, REGION, "ecsdoctor/check/x", WEB) == \
        finding_id(ACCOUNT, REGION, "ecsdoctor/check/x", WEB)
    assert finding_id(ACCOUNT, REGION, "ecsdoctor/check/x", WEB) != \
        finding_id(ACCOUNT, "us-east-1", "ecsdoctor/check/x", WEB)


def test_two_results_of_one_check_on_one_resource_are_one_finding() -> None:
    report = _report((_fail("container-root-filesystem-writable", TD, "container app: writable"),
                      _fail("container-root-filesystem-writable", TD, "container envoy: writable",
                            Severity.CRITICAL)))
    (finding,) = to_asff(report)
    assert finding["Severity"]["Label"] == "CRITICAL"  # the worst of the group
    assert "container app" in finding["Description"]
    assert "container envoy" in finding["Description"]
    _validate([finding])


def test_a_diagnosis_is_one_finding_per_resource() -> None:
    api = f"{ARN}:service/prod/api"
    findings = to_asff(_report(diagnoses=(_diagnosis((WEB, api, WEB)),)))
    assert [f["Resources"][0]["Id"] for f in findings] == sorted(
        [WEB, api], key=lambda r: finding_id(ACCOUNT, REGION,
                                             "ecsdoctor/diagnosis/memory-undersized", r))
    for f in findings:
        assert f["GeneratorId"] == "ecsdoctor/diagnosis/memory-undersized"
        assert f["Confidence"] == 80 and f["FindingProviderFields"]["Confidence"] == 80
        assert f["Remediation"]["Recommendation"]["Text"] == "1. Raise the hard limit"
        assert f["Remediation"]["Recommendation"]["Url"].startswith("https://docs.aws")
    _validate(findings)


@pytest.mark.parametrize(("severity", "min_severity", "kept"), [
    (Severity.INFO, Severity.LOW, False),
    (Severity.LOW, Severity.LOW, True),
    (Severity.MEDIUM, Severity.HIGH, False),
    (Severity.CRITICAL, Severity.HIGH, True),
])
def test_min_severity(severity: Severity, min_severity: Severity, kept: bool) -> None:
    report = _report((_fail("stopped-task-summary", WEB, "3 stopped", severity),))
    assert bool(to_asff(report, min_severity=min_severity)) is kept


def test_passes_and_unknowns_are_not_findings() -> None:
    report = _report((Finding("x", Status.PASS, Severity.HIGH, WEB, "ok"),
                      Finding("y", Status.UNKNOWN, Severity.HIGH, WEB, "needs metrics")))
    assert to_asff(report) == []


@pytest.mark.parametrize(("resource", "res_type", "res_id"), [
    (WEB, "AwsEcsService", WEB),
    (TD, "AwsEcsTaskDefinition", TD),
    (f"{ARN}:cluster/prod", "AwsEcsCluster", f"{ARN}:cluster/prod"),
    (f"{ARN}:task/prod/0f3c9a1b", "AwsEcsTask", f"{ARN}:task/prod/0f3c9a1b"),
    (f"{ARN}:container-instance/prod/0f3c", "Other", f"{ARN}:container-instance/prod/0f3c"),
    ("subnet-0a1b2c3d4e5f67890", "AwsEc2Subnet",
     f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-0a1b2c3d4e5f67890"),
    ("sg-0a1b2c3d", "AwsEc2SecurityGroup",
     f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-0a1b2c3d"),
    ("i-0a1b2c3d4e5f67890", "AwsEc2Instance",
     f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0a1b2c3d4e5f67890"),
    (f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/web/50dc6c495c0c9188",
     "AwsElbv2LoadBalancer",
     f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/web/50dc6c495c0c9188"),
    ("account", "Other", "account"),
])
def test_resources(resource: str, res_type: str, res_id: str) -> None:
    assert asff_resource(resource, ACCOUNT, REGION) == {
        "Type": res_type, "Id": res_id, "Partition": "aws", "Region": REGION}


@pytest.mark.parametrize(("region", "expected"), [
    ("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_partition(region: str, expected: str) -> None:
    assert partition(region) == expected
    assert product_arn(ACCOUNT, region).startswith(f"arn:{expected}:securityhub:{region}:")


def test_long_text_is_clipped_and_home_region_is_the_products() -> None:
    report = _report((_fail("c", WEB, "x" * 5000),))
    (finding,) = to_asff(report, home_region="us-east-1", scope_key="prod")
    assert len(finding["Description"]) == 1024 and finding["Description"].endswith("…")
    assert finding["ProductArn"] == product_arn(ACCOUNT, "us-east-1")
    assert finding["Region"] == REGION  # where the finding is, not where it was imported
    assert finding["ProductFields"]["ecsdoctor/ScopeKey"] == "prod"
    _validate([finding])


def test_no_account_is_an_error() -> None:
    with pytest.raises(ValueError, match="account"):
        to_asff(_report((_fail("c", WEB, "m"),), account=None))


@pytest.mark.parametrize(("iso", "expected"), [
    ("2026-11-20T10:05:00+00:00", "2026-11-20T10:05:00.000Z"),
    ("2026-11-20T11:05:00.123456+01:00", "2026-11-20T10:05:00.123Z"),
    ("2026-11-20T10:05:00Z", "2026-11-20T10:05:00.000Z"),
])
def test_asff_time(iso: str, expected: str) -> None:
    assert asff_time(iso) == expected


def test_render_asff_is_the_json_of_to_asff() -> None:
    report = _report((_fail("c", WEB, "m"),), (_diagnosis(),))
    assert json.loads(render_asff(report, RenderOptions())) == to_asff(report)
