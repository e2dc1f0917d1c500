"""The ECS collector against moto in-process: the real boto3 clients, the real call plan.

moto cannot show batching or paging (it ignores maxResults and batch limits, MOTO.md
finding 3), so the call counts here prove the plan makes no *extra* calls; the limits
themselves are proved with Stubber in test_batching.py.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError

from checker.bundle import validate
from checker.collect import Scope, collect
from checker.errors import InputError
from tests.collect.support import (
    ACCOUNT,
    PROD,
    REGION,
    WORKER_TASKS,
    WORKERS,
    Calls,
    build_account,
    denied,
)

ECS_COLLECTIONS = {"clusters", "services", "tasks", "task_definitions", "container_instances",
                   "capacity_providers", "account_settings"}


def add_service_event(cluster: str, service: str, message: str) -> None:
    """moto never writes service events (MOTO.md); seed one the way ECS would."""
    from moto.ecs.models import ecs_backends

    svc = ecs_backends[ACCOUNT][REGION]._get_service(cluster, service)
    svc.events.insert(0, {"id": "e-1", "message": message,
                          "createdAt": dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)})


class Labels:
    def __init__(self) -> None:
        self.labels: list[str] = []
        self._lock = threading.Lock()

    def step(self, label: str) -> None:
        with self._lock:
            self.labels.append(label)


@pytest.fixture
def account(aws: None) -> dict[str, Any]:
    return build_account()


def test_every_collection_present_and_valid(account: dict[str, Any],
                                            session: boto3.session.Session) -> None:
    bundle = collect(session, PROD)
    assert validate(bundle) is bundle
    assert set(bundle["resources"]) >= ECS_COLLECTIONS  # + the EC2/Auto Scaling collectors'
    assert bundle["errors"] == []
    assert (bundle["account"], bundle["region"], bundle["scope"]) == (
        ACCOUNT, REGION, {"clusters": ["prod"]})
    assert isinstance(bundle["metrics"], list)  # collected by the CloudWatch collector
    res = bundle["resources"]
    assert len(res["services"]) == WORKERS + 2
    assert len(res["tasks"]) == 3 + 2 + WORKER_TASKS
    assert len(res["container_instances"]) == 2
    assert [c["clusterName"] for c in res["clusters"]] == ["prod"]
    assert [cp["name"] for cp in res["capacity_providers"]] == ["prod-asg"]  # moto: FARGATE MISSING
    assert res["account_settings"] == []  # moto has no defaults (MOTO.md)
    json.dumps(bundle)  # plain JSON, datetimes already strings


def test_running_and_stopped_tasks_both_collected(account: dict[str, Any],
                                                  session: boto3.session.Session) -> None:
    tasks = {t["taskArn"]: t for t in collect(session, PROD)["resources"]["tasks"]}
    assert tasks[account["stopped"]]["desiredStatus"] == "STOPPED"
    assert tasks[account["stopped"]]["stoppedReason"] == "Task failed ELB health checks"
    assert sum(t["desiredStatus"] == "RUNNING" for t in tasks.values()) == len(tasks) - 1


def test_services_keep_their_events(account: dict[str, Any],
                                    session: boto3.session.Session) -> None:
    add_service_event("prod", "web", "(service web) was unable to place a task.")
    services = {s["serviceName"]: s for s in collect(session, PROD)["resources"]["services"]}
    assert all("events" in s for s in services.values())
    assert services["web"]["events"][0] == {
        "id": "e-1", "message": "(service web) was unable to place a task.",
        "createdAt": "2026-11-20T10:00:00+00:00"}


def test_calls_per_operation_are_the_lower_bound(account: dict[str, Any],
                                                 session: boto3.session.Session,
                                                 calls: Calls) -> None:
    bundle = collect(session, PROD)
    res = bundle["resources"]
    ecs_calls = {a: n for a, n in calls.count().items() if a.startswith(("ecs:", "sts:"))}
    assert ecs_calls == {
        "sts:GetCallerIdentity": 1,
        "ecs:DescribeClusters": 1,
        "ecs:ListServices": 1,
        "ecs:DescribeServices": math.ceil(len(res["services"]) / 10),  # 25 → 3
        "ecs:ListTasks": 2,  # RUNNING, STOPPED
        "ecs:DescribeTasks": math.ceil(len(res["tasks"]) / 100),  # 115 → 2
        "ecs:ListContainerInstances": 1,
        "ecs:DescribeContainerInstances": 1,
        "ecs:DescribeCapacityProviders": 1,
        "ecs:ListAccountSettings": 1,
        "ecs:DescribeTaskDefinition": len(res["task_definitions"]),
    }
    assert calls.count()["ecs:DescribeServices"] == 3
    assert calls.count()["ecs:DescribeTasks"] == 2


def test_each_task_definition_described_once(account: dict[str, Any],
                                             session: boto3.session.Session,
                                             calls: Calls) -> None:
    bundle = collect(session, PROD)
    described = [p["taskDefinition"] for a, p in calls.params
                 if a == "ecs:DescribeTaskDefinition"]
    assert len(described) == len(set(described))
    labels = sorted(td["taskDefinitionArn"].rsplit("/", 1)[-1]
                    for td in bundle["resources"]["task_definitions"])
    # web:2 is only the service's target (no task runs it yet); web:1 its tasks' revision
    assert labels == ["api:1", "web:1", "web:2", "worker:1"]


def test_same_account_gives_the_same_bundle(account: dict[str, Any],
                                            session: boto3.session.Session) -> None:
    first, second = collect(session, PROD), collect(session, PROD, max_workers=3)
    first.pop("collected_at")
    second.pop("collected_at")
    assert json.dumps(first) == json.dumps(second)
    for name, key in (("services", "serviceArn"), ("tasks", "taskArn"),
                      ("task_definitions", "taskDefinitionArn")):
        keys = [item[key] for item in first["resources"][name]]
        assert keys == sorted(keys)


def test_progress_reports_each_batch(account: dict[str, Any],
                                     session: boto3.session.Session) -> None:
    progress = Labels()
    collect(session, PROD, progress=progress)
    assert "ecs:DescribeTasks prod (100)" in progress.labels
    assert "ecs:DescribeTasks prod (15)" in progress.labels
    assert progress.labels.count("ecs:DescribeServices prod (10)") == 2


def test_unknown_cluster_is_an_input_error(account: dict[str, Any],
                                           session: boto3.session.Session) -> None:
    with pytest.raises(InputError) as err:
        collect(session, Scope(clusters=("prod", "staging")))
    assert str(err.value) == (
        f"cluster 'staging' not found in {REGION} (account {ACCOUNT}); "
        f"list them with: aws ecs list-clusters --region {REGION}")


def test_deleted_cluster_is_an_input_error(aws: None, session: boto3.session.Session) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="old")
    ecs.delete_cluster(cluster="old")
    with pytest.raises(InputError, match="cluster 'old' not found"):
        collect(session, Scope(clusters=("old",)))


def test_unknown_service_is_an_input_error(account: dict[str, Any],
                                           session: boto3.session.Session,
                                           calls: Calls) -> None:
    with pytest.raises(InputError, match=r"service 'wbe' not found in cluster 'prod'"):
        collect(session, Scope(clusters=("prod",), services=("web", "wbe")))
    assert "ecs:ListTasks" not in calls.count()  # fails before the expensive part


def test_named_services_limit_the_scan(account: dict[str, Any],
                                       session: boto3.session.Session) -> None:
    bundle = collect(session, Scope(clusters=("prod",), services=("web",)))
    res = bundle["resources"]
    assert bundle["scope"] == {"clusters": ["prod"], "services": ["web"]}
    assert [s["serviceName"] for s in res["services"]] == ["web"]
    assert {t["group"] for t in res["tasks"]} == {"service:web"}
    assert len(res["tasks"]) == 3
    assert sorted(td["family"] + f":{td['revision']}" for td in res["task_definitions"]) == [
        "web:1", "web:2"]
    assert len(res["container_instances"]) == 2  # capacity is cluster-wide


def test_clusters_by_arn_and_several_at_once(account: dict[str, Any],
                                             session: boto3.session.Session) -> None:
    boto3.client("ecs", region_name=REGION).create_cluster(clusterName="batch")
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"
    res = collect(session, Scope(clusters=(arn, "batch", "prod")))["resources"]
    assert [c["clusterName"] for c in res["clusters"]] == ["batch", "prod"]
    assert len(res["services"]) == WORKERS + 2


def test_access_denied_is_recorded_and_the_scan_goes_on(
    account: dict[str, Any], session: boto3.session.Session
) -> None:
    session.events.register("before-call.ecs.DescribeTasks", denied("DescribeTasks"))
    bundle = collect(session, PROD)
    validate(bundle)
    assert bundle["errors"] == [
        {"collection": "tasks", "operation": "ecs:DescribeTasks",
         "code": "AccessDeniedException", "message": "not authorized: DescribeTasks"}] * 2
    res = bundle["resources"]
    assert res["tasks"] == []  # the collection exists; its error marks it unknown
    assert set(res) >= ECS_COLLECTIONS
    assert len(res["services"]) == WORKERS + 2 and len(res["container_instances"]) == 2
    assert res["task_definitions"]  # still fetched for the services


def test_other_failures_are_recorded_too(account: dict[str, Any],
                                         session: boto3.session.Session) -> None:
    session.events.register("before-call.ecs.ListServices",
                            denied("ListServices", "ThrottlingException"))

    def broken(**_: Any) -> None:
        raise RuntimeError("connection reset")

    session.events.register("before-call.ecs.DescribeContainerInstances", broken)
    bundle = collect(session, PROD)
    assert [(e["collection"], e["operation"], e["code"]) for e in bundle["errors"]] == [
        ("container_instances", "ecs:DescribeContainerInstances", "RuntimeError"),
        ("services", "ecs:ListServices", "ThrottlingException")]
    assert bundle["resources"]["services"] == []
    assert len(bundle["resources"]["tasks"]) == 115


def test_denied_caller_identity_leaves_account_unknown(
    account: dict[str, Any], session: boto3.session.Session
) -> None:
    session.events.register("before-call.sts.GetCallerIdentity", denied("GetCallerIdentity"))
    bundle = collect(session, PROD)
    assert bundle["account"] is None
    assert [(e["collection"], e["operation"]) for e in bundle["errors"]] == [
        ("account", "sts:GetCallerIdentity")]
    with pytest.raises(InputError, match=r"\(account unknown\)"):
        collect(session, Scope(clusters=("nope",)))


def test_denied_describe_clusters_goes_on_with_the_typed_names(
    account: dict[str, Any], session: boto3.session.Session
) -> None:
    session.events.register("before-call.ecs.DescribeClusters", denied("DescribeClusters"))
    bundle = collect(session, PROD)
    res = bundle["resources"]
    assert res["clusters"] == [] and "capacity_providers" not in res
    assert len(res["services"]) == WORKERS + 2
    assert [e["operation"] for e in bundle["errors"]] == ["ecs:DescribeClusters"]


def test_no_region_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(InputError, match=r"^no AWS region: pass --region or set AWS_REGION$"):
        collect(boto3.session.Session(), PROD)


def test_no_credentials_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(InputError, match=r"^no AWS credentials found: "):
        collect(boto3.session.Session(region_name=REGION), PROD)


def test_unreachable_endpoint_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"cannot reach http://127\.0\.0\.1:9"):
        collect(boto3.session.Session(region_name=REGION), PROD, endpoint_url="http://127.0.0.1:9")


def test_connect_timeout_on_the_first_call_is_an_input_error(
    account: dict[str, Any], session: boto3.session.Session
) -> None:
    def timeout(**_: Any) -> None:
        raise ConnectTimeoutError(endpoint_url="https://sts.us-east-1.amazonaws.com/")

    session.events.register("before-call.sts.GetCallerIdentity", timeout)
    with pytest.raises(InputError, match=r"^cannot reach https://sts\.us-east-1\.amazonaws"):
        collect(session, PROD)


def test_empty_scope_is_an_input_error(session: boto3.session.Session) -> None:
    with pytest.raises(InputError, match="no cluster to scan"):
        collect(session, Scope(clusters=()))
