"""cluster-container-insights-off (checks/capacity/cluster.py): the cluster's own setting
decides; without one, the account default the account settings hold stands in for it."""

from __future__ import annotations

from typing import Any

import pytest

from tests import builders as b
from tests.checks.harness import run_check

ROOT = f"arn:aws:iam::{b.ACCOUNT}:root"


def _setting(value: str) -> list[dict[str, str]]:
    return [{"name": "containerInsights", "value": value}]


def _account(value: str, principal: str = ROOT) -> dict[str, Any]:
    return b.shaped("ecs", "Setting", {"name": "containerInsights", "value": value,
                                       "principalArn": principal, "type": "user"})


@pytest.mark.parametrize(("settings", "account", "status", "value", "source"), [
    (_setting("enabled"), None, "pass", "enabled", "cluster"),
    (_setting("enhanced"), None, "pass", "enhanced", "cluster"),
    (_setting("disabled"), None, "fail", "disabled", "cluster"),
    (_setting("disabled"), [_account("enhanced")], "fail", "disabled", "cluster"),
    (None, None, "fail", "unset", "none"),
    (None, [_account("enabled")], "pass", "enabled", "account"),
    (None, [_account("disabled")], "fail", "disabled", "account"),
    # the root principal's default, not an IAM user's override
    (None, [_account("enabled", f"arn:aws:iam::{b.ACCOUNT}:user/ops"),
            _account("disabled")], "fail", "disabled", "account"),
])
def test_cluster_container_insights_off(settings: list[dict[str, str]] | None,
                                        account: list[dict[str, Any]] | None, status: str,
                                        value: str, source: str) -> None:
    cluster = b.cluster("prod", **({"settings": settings} if settings is not None else {}))
    resources: dict[str, Any] = {"clusters": [cluster]}
    if account is not None:
        resources["account_settings"] = account
    (f,) = run_check("cluster-container-insights-off", b.bundle(**resources))
    assert (f.status.value, f.severity.value, f.resource) == (status, "low",
                                                              b.cluster_arn("prod"))
    assert (f.data["container_insights"], f.data["setting_source"]) == (value, source)
    if status == "fail":
        assert ("aws ecs update-cluster-settings --cluster prod "
                "--settings name=containerInsights,value=enhanced") in f.message


def test_the_command_in_the_message_fits_the_ecs_model() -> None:
    """The command a failing finding prints names a real operation, real parameters and a
    real setting name."""
    import botocore.session

    (f,) = run_check("cluster-container-insights-off", b.bundle(clusters=[b.cluster("prod")]))
    command = f.message[f.message.index("aws ecs "):].split()
    op_name = "".join(w.capitalize() for w in command[2].split("-"))
    model = botocore.session.get_session().get_service_model("ecs")
    op = model.operation_model(op_name)
    flags = {w.removeprefix("--") for w in command[3:] if w.startswith("--")}
    assert flags == set(op.input_shape.members) == {"cluster", "settings"}
    pairs = dict(kv.split("=") for kv in command[command.index("--settings") + 1].split(","))
    assert set(pairs) == set(op.input_shape.members["settings"].member.members)
    assert pairs["name"] in model.shape_for("ClusterSettingName").enum


def test_an_empty_cluster_is_skipped_until_something_runs_in_it() -> None:
    """DescribeClusters' counts all zero: nothing to observe yet; one service makes it
    count (and counts the bundle lacks are not taken for zero: the cases above)."""
    empty = {"activeServicesCount": 0, "runningTasksCount": 0, "pendingTasksCount": 0}
    (f,) = run_check("cluster-container-insights-off",
                     b.bundle(clusters=[b.cluster("prod", **empty)], services=[], tasks=[]))
    assert f.status.value == "skipped" and "runs no service" in f.message
    busy = {**empty, "activeServicesCount": 1}
    (f,) = run_check("cluster-container-insights-off",
                     b.bundle(clusters=[b.cluster("prod", **busy)], services=[], tasks=[]))
    assert f.status.value == "fail"
    # counts at zero but a service read in it (the counts lag): judged
    web = b.service("web")
    (f,) = run_check("cluster-container-insights-off",
                     b.bundle(clusters=[b.cluster("prod", **empty)], services=[web], tasks=[]))
    assert f.status.value == "fail"
