"""Bad input, from the command line: each is a clear result, or one clear line on stderr with
the exit code of CONTRACTS §4 — never a traceback, never a partial report.

Scan inputs run against moto in-process (the conftest `aws` fixture); bundle inputs go
through `ecsdoctor analyze`. The 200 MB bundle runs in a subprocess so its peak memory can be
measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest

from checker import files, graph
from checker.cli import main
from checker.pipeline import Engine
from checker.render import RENDERERS
from tests.conftest import REPO
from tests.incidents.healthy import healthy_cluster

HANDWRITTEN = REPO / "tests" / "bundles" / "handwritten-oom.json"
SCHEMA = json.loads((REPO / "docs" / "schema" / "report-v1.schema.json").read_text())
HEADER = {"format": "ecsdoctor-bundle", "version": 1, "collected_at": "2026-11-20T10:00:00Z",
          "account": "123456789012", "region": "us-east-1", "scope": {"clusters": ["prod"]}}
ARN = "arn:aws:ecs:us-east-1:123456789012"


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == "", "no report on an input error"
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("ecsdoctor: error: ") and "Traceback" not in captured.err
    return lines[0]


def analyze(tmp_path: Path, content: str | bytes, *args: str) -> int:
    path = tmp_path / "bundle.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return main(["analyze", str(path), *args])


# -- scan inputs ----------------------------------------------------------------------------
@pytest.fixture
def ecs(aws: None) -> Any:
    return boto3.client("ecs", region_name="us-east-1")


def test_no_credentials(monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    start = time.monotonic()
    assert main(["scan", "--cluster", "prod"]) == 2
    assert time.monotonic() - start < 10
    assert one_line(capsys).startswith("ecsdoctor: error: no AWS credentials found: run "
                                       "`aws configure`")


def test_unknown_cluster(ecs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ecs.create_cluster(clusterName="prod")
    assert main(["scan", "--cluster", "prdo"]) == 2
    assert "cluster 'prdo' not found in us-east-1 (account 123456789012); list them with: " \
           "aws ecs list-clusters --region us-east-1" in one_line(capsys)


def test_unknown_service(ecs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ecs.create_cluster(clusterName="prod")
    assert main(["scan", "--cluster", "prod", "--service", "wbe"]) == 2
    assert "service 'wbe' not found in cluster 'prod'" in one_line(capsys)


def _scan_json(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "report.json"
    assert main(["scan", *args, "-f", "json", "-o", str(out)]) == 0
    report: dict[str, Any] = json.loads(out.read_text())
    jsonschema.validate(report, SCHEMA)
    assert not [f for f in report["findings"] if "internal_error" in f["data"]]
    return report


def test_cluster_without_services_is_a_clean_empty_report(
    ecs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    ecs.create_cluster(clusterName="empty")
    # --history 0: this account has no history log group (that error is tested elsewhere)
    report = _scan_json(tmp_path, "--cluster", "empty", "--history", "0")
    assert report["diagnoses"] == [] and report["errors"] == []
    assert {f["status"] for f in report["findings"]} == {"skipped"}
    capsys.readouterr()
    assert main(["scan", "--cluster", "empty"]) == 0
    assert "No diagnoses" in capsys.readouterr().out


def test_service_with_zero_desired_tasks(ecs: Any, tmp_path: Path) -> None:
    """Nothing runs, nothing should: no availability finding, and what needs a running task
    says so instead of guessing."""
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "nginx:1.25", "memory": 256}])
    ecs.create_service(cluster="prod", serviceName="idle", taskDefinition="web", desiredCount=0)
    report = _scan_json(tmp_path, "--cluster", "prod")
    by_check = {f["check"]: f for f in report["findings"]}
    assert by_check["service-running-below-desired"]["status"] != "fail"
    assert not [d for d in report["diagnoses"] if d["severity"] in ("critical", "high")]
    for f in report["findings"]:
        if f["check"] == "history-unavailable":
            continue  # moto has no LookupEvents: CloudTrail unread, and the finding says so
        if f["status"] == "unknown":
            assert "no running task" in f["message"] or "needs" in f["message"], f


# -- bundle inputs --------------------------------------------------------------------------
TEXT = HANDWRITTEN.read_text()


@pytest.mark.parametrize("cut", [1, len(TEXT) // 3, len(TEXT) // 2, len(TEXT) - 2])
def test_truncated_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], cut: int) -> None:
    assert analyze(tmp_path, TEXT[:cut]) == 2
    assert "not valid JSON (line " in one_line(capsys)


@pytest.mark.parametrize(("content", "message"), [
    ("", "not valid JSON (line 1, column 1: Expecting value)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
    ('{"format": "ecsdoctor-bundle", "version": 1, "metrics": [{"namespace": "AWS/ECS", '
     '"name": "CPUUtilization", "timestamps": ["2026-11-20T10:00:00Z"], "values": [NaN]}]}',
     "not valid JSON (NaN is not a JSON value)"),
    ('{"format": "ecsdoctor-bundle", "version": 1, "resources": {"services": [{"serviceArn": '
     '"a", "desiredCount": Infinity}]}}', "not valid JSON (Infinity is not a JSON value)"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deeply)"),
])
def test_unreadable_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           content: str | bytes, message: str) -> None:
    assert analyze(tmp_path, content) == 2
    assert message in one_line(capsys)


def test_directory_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path)]) == 2
    assert "is a directory" in one_line(capsys)
    assert main(["analyze", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in one_line(capsys)


def test_a_byte_order_mark_is_not_an_error(tmp_path: Path) -> None:
    """PowerShell's Out-File and Notepad write one; the bundle is still the same JSON."""
    assert analyze(tmp_path, "\ufeff" + TEXT, "-f", "json") == 0


def _bundle(**fields: Any) -> str:
    return json.dumps({**HEADER, **fields})


@pytest.mark.parametrize(("content", "message"), [
    (json.dumps({"version": 1}), "format: expected 'ecsdoctor-bundle', got None"),
    (json.dumps({"format": "ecsdoctor-report", "version": 1}),  # a report, not a bundle
     "format: expected 'ecsdoctor-bundle', got 'ecsdoctor-report' (is this an ecsdoctor"),
    (json.dumps({"format": "ecsdoctor-bundle"}), "version: expected 1, got None"),
    (_bundle(version=2), "version: expected 1, got 2; this ecsdoctor reads v1"),
    (_bundle(version="1"), "version: expected 1, got '1'"),
    (_bundle(version=True), "version: expected 1, got True"),
])
def test_wrong_format_or_version(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 content: str, message: str) -> None:
    assert analyze(tmp_path, content) == 2
    assert message in one_line(capsys)


@pytest.mark.parametrize(("fields", "message"), [
    ({"resources": []}, "resources: expected an object of collection lists"),
    ({"resources": {"tasks": {"taskArn": "x"}}}, "resources.tasks: expected a list, got dict"),
    ({"resources": {"tasks": ["arn:aws:ecs:…:task/prod/1"]}},
     "resources.tasks[0]: expected an object, got str"),
    ({"resources": {"services": [{"serviceName": "web"}]}},
     "resources.services[0].serviceArn: expected a string"),
    ({"resources": {"services": [{"serviceArn": f"{ARN}:service/prod/web",
                                  "desiredCount": "3"}]}},
     "resources.services[0].desiredCount: expected an integer, got str"),
    ({"metrics": {}}, "metrics: expected a list of series"),
    ({"metrics": [{"namespace": "AWS/ECS"}]}, "metrics[0].name: expected a string"),
    ({"metrics": [{"namespace": "AWS/ECS", "name": "CPUUtilization",
                   "timestamps": ["2026-11-20T10:00:00Z"], "values": []}]},
     "metrics[0]: 1 timestamps but 0 values"),
    ({"metrics": [{"namespace": "AWS/ECS", "name": "CPUUtilization",
                   "timestamps": ["2026-11-20T10:00:00Z"], "values": ["61.0"]}]},
     "metrics[0].values: expected numbers"),
    ({"metrics": [{"namespace": "AWS/ECS", "name": "CPUUtilization",
                   "timestamps": ["2026-11-20T10:00:00Z", "2026-11-20T10:01:00Z"],
                   "values": [61.0, True]}]},
     "metrics[0].values: expected numbers"),
    ({"metrics": [{"namespace": "AWS/ECS", "name": "CPUUtilization",
                   "timestamps": ["2026-11-20T10:00:00Z"], "values": [10 ** 400]}]},
     "metrics[0].values: expected numbers"),
    ({"errors": "AccessDenied"}, "errors: expected a list of objects"),
    ({"retries": [3]}, "retries: expected a list of objects"),
    ({"scope": ["prod"]}, "scope: expected an object"),
    ({"account": 123456789012}, "account: expected a string or null, got int"),
    ({"region": ["us-east-1"]}, "region: expected a string or null, got list"),
])
def test_wrong_types(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     fields: dict[str, Any], message: str) -> None:
    assert analyze(tmp_path, _bundle(**fields)) == 2
    line = one_line(capsys)
    assert line.startswith("ecsdoctor: error: invalid bundle: ") and message in line


@pytest.mark.parametrize("drop", ["resources", "metrics", "errors", "scope", "collected_at",
                                  "account", "region"])
def test_missing_optional_keys_give_a_correct_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], drop: str,
) -> None:
    """Keys a hand-written bundle may leave out: what they held is `unknown` (or the header
    null), never a crash and never a silent pass."""
    bundle = json.loads(TEXT)
    bundle.pop(drop)
    out = tmp_path / "report.json"
    assert analyze(tmp_path, json.dumps(bundle), "-f", "json", "-o", str(out)) == 0
    report = json.loads(out.read_text())
    jsonschema.validate(report, SCHEMA)
    assert not [f for f in report["findings"] if "internal_error" in f["data"]]
    if drop == "resources":
        assert {f["status"] for f in report["findings"]} <= {"unknown", "skipped"}
        assert report["summary"]["findings"]["pass"] == 0
    if drop == "metrics":
        assert any("not collected (no metrics in bundle)" in f["message"]
                   for f in report["findings"] if f["status"] == "unknown")


UNICODE_NAME = "zahlungsdienst-ü-支付"
UNICODE_REASON = "OutOfMemoryError: コンテナがメモリ不足で停止しました 💥"


def _unicode_bundle() -> str:
    text = TEXT.replace("cart", UNICODE_NAME)
    bundle = json.loads(text)
    for task in bundle["resources"].get("tasks", []):
        if task.get("stoppedReason"):
            task["stoppedReason"] = UNICODE_REASON
    return json.dumps(bundle, ensure_ascii=False)


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_unicode_names_and_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    fmt: str) -> None:
    """Names and messages in any script come out intact in every format."""
    out = tmp_path / f"report.{fmt}"
    assert analyze(tmp_path, _unicode_bundle(), "-f", fmt, "-o", str(out)) == 0
    text = out.read_text(encoding="utf-8")
    assert UNICODE_NAME in (json.dumps(json.loads(text), ensure_ascii=False)
                            if fmt == "json" else text)
    assert "memory-leak" in text or "memory-undersized" in text


def test_unicode_on_a_console_that_cannot_encode_it(tmp_path: Path) -> None:
    """An ASCII stdout (legacy console, PYTHONIOENCODING=ascii): "?" for what it cannot
    show, the report still complete, exit 0."""
    path = tmp_path / "bundle.json"
    path.write_text(_unicode_bundle(), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "checker.cli", "analyze", str(path)],
                          capture_output=True, cwd=REPO, check=False,
                          env={**_env(), "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert b"zahlungsdienst-?-??" in proc.stdout and b"Traceback" not in proc.stderr


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("ECSDOCTOR_")}


# -- never a partial report -----------------------------------------------------------------
def _fails_in_render(report: Any, options: Any) -> str:
    raise RuntimeError("renderer blew up half-way")


def _disk_full(fd: int) -> None:
    """The disk fills while the temporary file is flushed: part of it is written."""
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("where", ["render", "checks", "interrupt", "disk-full"])
def test_a_failure_mid_run_leaves_no_output_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    """--output is written to a temporary file and renamed: whatever fails before the
    rename, the previous report is untouched and no half-written file is left."""
    out = tmp_path / "report.json"
    out.write_text("previous report\n")
    if where == "render":
        monkeypatch.setitem(RENDERERS, "json", _fails_in_render)
    elif where == "checks":
        calls = {"n": 0}
        run_one = graph.run_one

        def dies_half_way(*args: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 30:
                raise MemoryError("out of memory in the middle of the checks")
            return run_one(*args)

        monkeypatch.setattr(graph, "run_one", dies_half_way)
    elif where == "interrupt":
        monkeypatch.setattr(graph, "run", lambda *a, **k: (_ for _ in ()).throw(
            KeyboardInterrupt()))
    else:
        monkeypatch.setattr(files.os, "fsync", _disk_full)
    code = main(["analyze", str(HANDWRITTEN), "-f", "json", "-o", str(out)])
    assert code == {"render": 70, "checks": 70, "interrupt": 130, "disk-full": 2}[where]
    assert out.read_text() == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    if where == "interrupt":
        assert err.strip() == "ecsdoctor: interrupted"
    if where == "disk-full":
        assert "--output" in err and "No space left on device" in err


def test_a_failed_bundle_save_leaves_nothing(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    boto3.client("ecs", region_name="us-east-1").create_cluster(clusterName="prod")
    monkeypatch.setattr(files.os, "fsync", _disk_full)
    saved = tmp_path / "bundle.json"
    assert main(["scan", "--cluster", "prod", "--save-bundle", str(saved)]) == 2
    assert list(tmp_path.iterdir()) == []
    assert "--save-bundle" in one_line(capsys)


# -- a 200 MB bundle ------------------------------------------------------------------------
BIG_MB = 200
#: Measured on the project machine (2 cores): ≈ 5 s load, ≈ 9 s analysis, ≈ 0.9 GB peak RSS
#: for 210 MB / 150k tasks. The bounds leave room for a slower CI runner.
BIG_TIME_BOUND_S = 90
BIG_RSS_BOUND_MB = 3000


def _big_bundle(path: Path, megabytes: int) -> tuple[dict[str, Any], int]:
    """The incident suite's healthy cluster with its tasks repeated (each copy its own
    taskArn) until the file, as `--save-bundle` writes it, is about ``megabytes``."""
    small = healthy_cluster()
    tasks = small["resources"]["tasks"]
    texts = [json.dumps(t, indent=1) for t in tasks]
    shell = json.dumps({**small, "resources": {**small["resources"], "tasks": ["@TASKS@"]}},
                       indent=1)
    head, tail = shell.split('"@TASKS@"')
    per_copy = sum(len(t) for t in texts) + 2 * len(texts)
    rounds = max(1, (megabytes * 2**20 - len(shell)) // per_copy)
    with path.open("w", encoding="utf-8") as f:
        f.write(head)
        for i in range(rounds):
            if i:
                f.write(",\n")
            f.write(",\n".join(text.replace(task["taskArn"], f"{task['taskArn']}-{i:06d}")
                               for task, text in zip(tasks, texts, strict=True)))
        f.write(tail)
    return small, rounds * len(tasks)


#: CPU seconds (user + system), not wall time: a loaded CI machine stretches wall time
#: several-fold without the analysis doing any more work.
_MEASURE = ("import resource, sys, time\n"
            "t = time.process_time()\n"
            "from checker.cli import main\n"
            "rc = main(sys.argv[1:])\n"
            "print(f'ECSDOCTOR-MEASURE {rc} {time.process_time() - t:.2f} '\n"
            "      f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}',"
            " file=sys.stderr)\n")


def test_a_200_mb_bundle_is_analysed_correctly(tmp_path: Path) -> None:
    """Load + analysis of a 200 MB bundle, in a fresh process: a complete, valid report
    that examined the same resources as the small one (the extra tasks are copies), in
    bounded time and memory."""
    path = tmp_path / "big.json"
    small, n_tasks = _big_bundle(path, BIG_MB)
    size_mb = path.stat().st_size / 2**20
    assert size_mb >= BIG_MB * 0.95
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-c", _MEASURE, "analyze", str(path), "-f", "json",
                           "-o", str(out)], capture_output=True, text=True, cwd=REPO,
                          env=_env(), timeout=300, check=False)
    measure = [line for line in proc.stderr.splitlines() if line.startswith("ECSDOCTOR-MEASURE")]
    assert measure, proc.stderr
    rc, took, rss_mb = measure[0].split()[1:]
    print(f"\n200 MB bundle: {size_mb:.0f} MB, {n_tasks} tasks, load+analyze+render {took} CPU s, "
          f"peak RSS {rss_mb} MB")
    assert rc == "0", proc.stderr
    assert float(took) < BIG_TIME_BOUND_S and int(rss_mb) < BIG_RSS_BOUND_MB
    big = json.loads(out.read_text())
    jsonschema.validate(big, SCHEMA)
    assert not [f for f in big["findings"] if "internal_error" in f["data"]]
    expected = Engine().analyze(small).to_dict()
    # every check examined the same resources (services, instances, task definitions, …)
    assert Counter(f["check"] for f in big["findings"]) == Counter(
        f["check"] for f in expected["findings"])
    changed = {f["check"] for f in big["findings"]} - {
        f["check"] for f in big["findings"]
        if (f["check"], f["status"], f["resource"]) in {
            (e["check"], e["status"], e["resource"]) for e in expected["findings"]}}
    # only what sums the tasks per host may change: 10,000× the tasks on the same 3 hosts
    assert changed <= {"instance-memory-overcommit"}, changed
