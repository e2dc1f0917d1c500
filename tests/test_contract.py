"""Report v1 against its published JSON Schema (docs/schema/report-v1.schema.json).

The schema is the contract other tools code against; these tests make sure what we emit
still satisfies it, for hand-written bundles and for reports with every status in them.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from checker.bundle import load
from checker.pipeline import Engine
from checker.render import render
from tests import builders as b
from tests.conftest import REPO

SCHEMA = json.loads((REPO / "docs" / "schema" / "report-v1.schema.json").read_text())
BUNDLES = sorted((Path(__file__).parent / "bundles").glob("*.json"))
ENGINE = Engine()


def _validate(report: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_handwritten_bundles_give_valid_reports(path: Path) -> None:
    report = json.loads(render(ENGINE.analyze(load(path)), "json"))
    _validate(report)
    assert [d["rank"] for d in report["diagnoses"]] == list(range(1, len(report["diagnoses"]) + 1))


def test_report_with_unknown_evidence_and_errors_is_valid() -> None:
    tasks = [b.oom_task("web", 30) for _ in range(2)]
    for t in tasks:
        del t["startedAt"]
    bundle = b.ecs_bundle([b.service("web", desired=2, running=1)], tasks)
    bundle["errors"] = [{"collection": "container_instances", "code": "AccessDeniedException",
                         "operation": "ecs:DescribeContainerInstances", "message": "no"}]
    report = json.loads(render(ENGINE.analyze(bundle), "json"))
    _validate(report)
    roles = {e["role"] for d in report["diagnoses"] for e in d["evidence"]}
    assert "missing" in roles
    assert report["summary"]["findings"]["unknown"] >= 1


def test_schema_rejects_a_renamed_field() -> None:
    report = json.loads(render(ENGINE.analyze(load(BUNDLES[0])), "json"))
    report["diagnoses"][0]["diagnosis_id"] = report["diagnoses"][0].pop("id")
    with pytest.raises(jsonschema.ValidationError, match="'id' is a required property"):
        _validate(report)
