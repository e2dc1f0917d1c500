"""`ecsdoctor demo` end to end: moto server, real collectors, checks, playbooks, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from checker.bundle import load
from checker.cli import app


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "-f", "json", "-o", str(out / "report.json"),
                                      "--save-bundle", str(out / "bundle.json")])
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text()), out / "bundle.json"


def test_demo_finds_each_incident_and_nothing_on_healthy_services(
        demo_run: tuple[dict, Path]) -> None:
    report, _ = demo_run
    found = {(d["id"], d["resources"][0].rsplit("/", 1)[1]) for d in report["diagnoses"]}
    assert found == {("app-crash-loop", "orders-worker"), ("memory-leak", "checkout"),
                     ("memory-undersized", "search")}
    assert report["diagnoses"][0]["severity"] == "critical"
    serious = {f["service"].rsplit("/", 1)[-1] for f in report["findings"]
               if f["status"] == "fail" and "service" in f
               and f["severity"] in ("critical", "high")}
    assert not serious & {"web", "catalog", "auth", "reports"}


def test_demo_bundle_is_real_collector_output(demo_run: tuple[dict, Path]) -> None:
    report, path = demo_run
    bundle = load(path)
    res = bundle["resources"]
    assert {"clusters", "services", "tasks", "task_definitions", "container_instances",
            "capacity_providers", "account_settings"} <= set(res)
    assert len(res["services"]) == 7
    assert {t["lastStatus"] for t in res["tasks"]} >= {"RUNNING", "STOPPED"}
    assert bundle["errors"] == []
    assert bundle["metrics"] and {"ec2_instances", "subnets", "security_groups",
                                  "load_balancers", "scalable_targets"} <= set(res)
    # nothing is unknown for want of a collection: only for want of data points
    gaps = [f for f in report["findings"] if f["status"] == "unknown"
            and f["message"].startswith("could not check: needs ")]
    assert gaps == []
