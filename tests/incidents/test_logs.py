"""The log-revealed diagnoses ruled out: the same whole-account incidents as
tests/incidents/s_logs.py, each with the one fact that makes it something else. The
confirming runs are the suite's (test_incidents.py: each scenario's top diagnosis)."""

from __future__ import annotations

from checker.model import Diagnosis, Finding, Report
from checker.pipeline import Engine
from tests.incidents import s_logs
from tests.incidents.s_logs import log_lines
from tests.incidents.scenarios import Cluster

ENGINE = Engine()
NOW = "2026-11-20T10:00:00+00:00"


def _ids(c: Cluster) -> list[str]:
    report: Report = ENGINE.analyze(c.bundle, generated_at=NOW)
    return [d.id for d in report.diagnoses]


def _cluster(build: object) -> Cluster:
    c = Cluster()
    assert callable(build)
    build(c)
    return c


def test_a_binary_that_printed_a_traceback_ran_so_the_cpu_matches() -> None:
    c = _cluster(s_logs.arch_mismatch)
    assert _ids(c)[0] == "arch-mismatch"
    newest = c.res["log_events"][0]
    log_lines(c, {"taskArn": newest["taskArn"] + "0", "group": "service:checkout"},
              ["Traceback (most recent call last):", "KeyError: 'FEATURE_FLAGS_URL'"], 1,
              "exited 1")
    ids = _ids(c)
    assert "arch-mismatch" not in ids and ids[0] == "app-crash-loop"


def _arch(c: Cluster) -> list[Diagnosis]:
    report: Report = ENGINE.analyze(c.bundle, generated_at=NOW)
    return [d for d in report.diagnoses if d.id == "arch-mismatch"]


def _exec_finding(c: Cluster) -> Finding:
    report: Report = ENGINE.analyze(c.bundle, generated_at=NOW)
    (f,) = [f for f in report.findings if f.check == "log-exec-format-error"
            and f.status.value == "fail"]
    return f


def test_an_arm64_only_image_on_x86_64_is_confirmed_with_the_image_evidence() -> None:
    c = _cluster(s_logs.arch_mismatch)
    (diag,) = _arch(c)
    assert diag.rank == 1 and diag.confidence >= 0.95
    assert "image checkout:1.19.0 is linux/arm64 only, the task runs on linux/amd64" in \
        diag.summary
    assert "(X86_64: task definition runtimePlatform)" in diag.summary
    assert any("image_arch=mismatch" in w for w in diag.why)


def test_an_image_that_carries_the_tasks_cpu_rules_out_arch_mismatch() -> None:
    """The same crash loop, but the image's index names linux/amd64 too: the CPU is not
    the cause, and the finding says where to look instead."""
    c = _cluster(s_logs.arch_mismatch)
    c.res["ecr_images"], c.res["ecr_manifests"] = [], []
    s_logs.pushed(c, "checkout", "1.19.0", "amd64", "arm64", minutes_ago=27)
    assert _arch(c) == []
    assert _ids(c)[0] == "app-crash-loop"
    f = _exec_finding(c)
    assert f.data["image_arch"] == "match"
    assert f.data["image_platforms"] == "linux/amd64, linux/arm64"
    assert "the CPU is not the cause" in f.message and "without a #! line" in f.message


def test_an_image_whose_manifest_could_not_be_read_is_named_with_less_certainty() -> None:
    c = _cluster(s_logs.arch_mismatch)
    del c.res["ecr_manifests"]
    c.bundle["errors"].append({"collection": "ecr_manifests", "operation": "ecr:BatchGetImage",
                               "code": "AccessDeniedException", "message": "not authorized"})
    (diag,) = _arch(c)
    (confirmed,) = _arch(_cluster(s_logs.arch_mismatch))
    assert diag.title.startswith("An image built for another CPU, likely")
    assert diag.confidence < confirmed.confidence
    assert "needs permission ecr:BatchGetImage" in diag.summary
    assert _exec_finding(c).data["image_arch"] == "unknown"


def test_a_host_disk_full_while_pulling_is_an_image_pull_failure() -> None:
    c = _cluster(s_logs.ephemeral_storage_exhausted)
    assert _ids(c)[0] == "ephemeral-storage-exhausted"
    reason = ("CannotPullContainerError: failed to register layer: write /var/lib/docker/"
              "overlay2/4f2c/diff/usr/lib/libx.so: no space left on device")
    c.stopped("reports", 0, stopped_min=1, uptime_s=None, reason=reason,
              stop_code="TaskFailedToStart", container_reason=reason)
    assert "ephemeral-storage-exhausted" not in _ids(c)


def test_denied_before_start_is_the_execution_role_not_the_task_role() -> None:
    c = _cluster(s_logs.task_role_missing_permissions)
    assert _ids(c)[0] == "task-role-missing-permissions"
    reason = ("ResourceInitializationError: unable to pull secrets or registry auth: "
              "execution resource retrieval failed: unable to retrieve secret from asm: "
              "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/"
              "prod-ecs-task-execution/5e2f is not authorized to perform: "
              "secretsmanager:GetSecretValue")
    for minutes in (3, 2):
        c.stopped("worker", 0, stopped_min=minutes, uptime_s=None, reason=reason,
                  stop_code="TaskFailedToStart")
    assert "task-role-missing-permissions" not in _ids(c)


def test_slow_and_cpu_bound_is_not_waiting_on_a_dependency() -> None:
    c = _cluster(s_logs.downstream_latency)
    assert _ids(c)[0] == "downstream-latency"
    from tests.incidents import _metrics as m
    c.put(m.ecs("orders", "CPUUtilization", "Average", c.series(lambda mins: 97.0, 1.0)),
          m.ecs("orders", "CPUUtilization", "Maximum", c.series(lambda mins: 100.0)))
    assert "downstream-latency" not in _ids(c)


def test_without_log_lines_none_of_them_is_claimed() -> None:
    for build in (s_logs.arch_mismatch, s_logs.ephemeral_storage_exhausted,
                  s_logs.task_role_missing_permissions, s_logs.downstream_latency):
        c = _cluster(build)
        del c.res["log_events"]
        ids = set(_ids(c))
        assert not ids & {"arch-mismatch", "ephemeral-storage-exhausted",
                          "task-role-missing-permissions", "downstream-latency"}, build


def _exec_cluster(decision: str) -> Cluster:
    """The healthy account with ECS Exec turned on for worker, its task role simulated."""
    from checker import roles

    c = Cluster()
    c.service("worker")["enableExecuteCommand"] = True
    role = str(c.td("worker")["taskRoleArn"])
    c.res["task_role_simulations"] = [{"PolicySourceArn": role, "EvaluationResults": [
        {"EvalActionName": a, "EvalResourceName": "*",
         "EvalDecision": decision if a.endswith("DataChannel") else "allowed"}
        for a in roles.ECS_EXEC]}]
    return c


def test_a_task_role_without_ecs_exec_permissions_is_diagnosed() -> None:
    report = ENGINE.analyze(_exec_cluster("implicitDeny").bundle, generated_at=NOW)
    (diag,) = [d for d in report.diagnoses if d.id == "task-role-missing-permissions"]
    assert diag.severity.value == "medium" and diag.resources[0].endswith("/worker")
    assert "ssmmessages:CreateDataChannel" in diag.summary
    allowed = ENGINE.analyze(_exec_cluster("allowed").bundle, generated_at=NOW)
    assert "task-role-missing-permissions" not in [d.id for d in allowed.diagnoses]


def test_a_firing_alarm_dates_the_diagnosis_and_log_lines_join_the_timeline() -> None:
    """The orders 5xx alarm went to ALARM 45 minutes before collection: that is the onset
    of downstream-latency, and both the alarm and the lines show on the timeline."""
    report = ENGINE.analyze(_cluster(s_logs.downstream_latency).bundle, generated_at=NOW)
    (diag,) = [d for d in report.diagnoses if d.id == "downstream-latency"]
    assert diag.onset == "2026-11-20T09:15:00+00:00"
    alarms = [t for t in report.timeline if t.kind == "alarm"]
    assert [t.summary.split(":")[0] for t in alarms] == [
        "alarm orders-HTTPCode_Target_5XX_Count → ALARM"]
    crash = ENGINE.analyze(_cluster(s_logs.arch_mismatch).bundle, generated_at=NOW)
    lines = [t for t in crash.timeline if t.kind == "log"]
    assert lines and all("exec format error" in t.summary for t in lines)
