"""Batch sizes and page loops, where moto cannot show them (it ignores both: MOTO.md #3).

botocore's Stubber sits on a real ECS client and checks every request against the API model
(a batch over the model's limits or a misspelt parameter fails here); the expected params
pin the batch cuts and the nextToken hand-over. The pool has one worker, so the jobs run in
the order they were queued and the Stubber's queue of responses lines up with them.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from botocore.stub import Stubber

from checker.collect import Context, ecs
from checker.collect.aws import batched, paginate
from tests.collect.support import stub_fixtures

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
REF = ecs.ClusterRef(CLUSTER, "prod")
PREFIX = "arn:aws:ecs:us-east-1:123456789012"


stub, ctx = stub_fixtures("ecs")


def arns(kind: str, n: int) -> list[str]:
    return [f"{PREFIX}:{kind}/prod/{i:04}" for i in range(n)]


def test_batched_cuts_at_n() -> None:
    assert [len(b) for b in batched(list(range(25)), 10)] == [10, 10, 5]
    assert list(batched([], 10)) == []
    with pytest.raises(ValueError):
        list(batched([1], 0))


def test_list_services_pages_at_100_and_follows_next_token(stub: Stubber, ctx: Context) -> None:
    first, second = arns("service", 100), arns("service", 130)[100:]
    stub.add_response("list_services", {"serviceArns": first, "nextToken": "t1"},
                      {"cluster": CLUSTER, "maxResults": 100})
    stub.add_response("list_services", {"serviceArns": second},
                      {"cluster": CLUSTER, "maxResults": 100, "nextToken": "t1"})
    assert ecs.list_ids(ctx, REF, ecs.LIST_SERVICES) == first + second


def test_list_tasks_running_and_stopped_paged_and_deduplicated(stub: Stubber,
                                                               ctx: Context) -> None:
    running, stopped = arns("task", 150), arns("task", 160)[149:]  # task 149 in both
    base = {"cluster": CLUSTER, "maxResults": 100}
    stub.add_response("list_services", {"serviceArns": []}, base)
    stub.add_response("list_tasks", {"taskArns": running[:100], "nextToken": "r1"},
                      {**base, "desiredStatus": "RUNNING"})
    stub.add_response("list_tasks", {"taskArns": running[100:]},
                      {**base, "desiredStatus": "RUNNING", "nextToken": "r1"})
    stub.add_response("list_tasks", {"taskArns": stopped}, {**base, "desiredStatus": "STOPPED"})
    stub.add_response("list_container_instances", {"containerInstanceArns": []}, base)
    listed = ctx.gather(ecs.listing_jobs(ctx, [REF], ()))
    jobs = ecs.describe_jobs(ctx, REF, ecs.DESCRIBE_TASKS, listed[("tasks", REF)])
    assert len(listed[("tasks", REF)]) == 161 and len(jobs) == 2  # 160 distinct → 2 batches


def test_list_tasks_per_named_service(stub: Stubber, ctx: Context) -> None:
    base = {"cluster": CLUSTER, "maxResults": 100}
    for status in ecs.TASK_STATUSES:
        for name in ("api", "web"):
            stub.add_response("list_tasks", {"taskArns": []},
                              {**base, "desiredStatus": status, "serviceName": name})
    stub.add_response("list_container_instances", {"containerInstanceArns": []}, base)
    listed = ctx.gather(ecs.listing_jobs(ctx, [REF], ("api", "web")))
    assert ("services", REF) not in listed  # named services are described, not listed


def _item(plan: ecs.DescribePlan, arn: str) -> dict[str, Any]:
    key = {"services": "serviceArn", "tasks": "taskArn",
           "container_instances": "containerInstanceArn"}[plan.collection]
    return {key: arn}


@pytest.mark.parametrize(("plan", "api_limit", "n"), [
    (ecs.DESCRIBE_SERVICES, 10, 25),
    (ecs.DESCRIBE_TASKS, 100, 250),
    (ecs.DESCRIBE_INSTANCES, 100, 150),
])
def test_describes_are_cut_at_the_api_limit(stub: Stubber, ctx: Context,
                                            plan: ecs.DescribePlan, api_limit: int,
                                            n: int) -> None:
    assert plan.batch == api_limit
    ids = arns(plan.collection, n)
    for batch in batched(ids, api_limit):
        stub.add_response(plan.op, {plan.key: [_item(plan, a) for a in batch], "failures": []},
                          {"cluster": CLUSTER, plan.param: batch, "include": list(plan.include)})
    jobs = ecs.describe_jobs(ctx, REF, plan, ids + ids[:5])  # duplicates described once
    assert len(jobs) == math.ceil(n / api_limit)
    assert len(ctx.gather(jobs)[plan.collection]) == n


def test_describe_failures_other_than_missing_are_recorded(stub: Stubber, ctx: Context) -> None:
    batch = arns("container-instance", 2)
    stub.add_response("describe_container_instances", {"containerInstances": [], "failures": [
        {"arn": batch[0], "reason": "MISSING"},
        {"arn": batch[1], "reason": "ACCESS_DENIED", "detail": "no"}]})
    assert ecs.describe_batch(ctx, REF, ecs.DESCRIBE_INSTANCES, batch) == []
    assert ctx.recorder.errors() == [{
        "collection": "container_instances", "operation": "ecs:DescribeContainerInstances",
        "code": "ACCESS_DENIED", "message": f"{batch[1]}: no"}]


def test_capacity_providers_follow_next_token_10_at_a_time(stub: Stubber, ctx: Context) -> None:
    names = [f"cp-{i:02}" for i in range(12)]
    providers = [{"name": n, "capacityProviderArn": f"{PREFIX}:capacity-provider/{n}"}
                 for n in names]
    stub.add_response("describe_capacity_providers",
                      {"capacityProviders": providers[:10], "nextToken": "c1"},
                      {"capacityProviders": names, "maxResults": 10})
    stub.add_response("describe_capacity_providers",
                      {"capacityProviders": providers[10:],
                       "failures": [{"arn": f"{PREFIX}:capacity-provider/FARGATE",
                                     "reason": "MISSING"}]},
                      {"capacityProviders": names, "maxResults": 10, "nextToken": "c1"})
    assert ecs.describe_capacity_providers(ctx, names) == providers
    assert ctx.recorder.errors() == []


def test_capacity_providers_never_described_without_names(ctx: Context) -> None:
    # no response queued: any call would raise UnStubbedResponseError
    assert ecs.describe_capacity_providers(ctx, []) == []
    assert ctx.recorder.errors() == []


def test_capacity_provider_names_from_clusters() -> None:
    clusters: list[dict[str, Any]] = [
        {"capacityProviders": ["FARGATE", "asg-b"],
         "defaultCapacityProviderStrategy": [{"capacityProvider": "asg-a"}]},
        {"capacityProviders": ["asg-b"]},
    ]
    assert ecs.capacity_provider_names(clusters) == ["FARGATE", "asg-a", "asg-b"]


def test_account_settings_follow_next_token(stub: Stubber, ctx: Context) -> None:
    page1 = [{"name": "awsvpcTrunking", "value": "enabled"}]
    page2 = [{"name": "containerInsights", "value": "disabled"}]
    stub.add_response("list_account_settings", {"settings": page1, "nextToken": "s1"},
                      {"effectiveSettings": True, "maxResults": 10})
    stub.add_response("list_account_settings", {"settings": page2},
                      {"effectiveSettings": True, "maxResults": 10, "nextToken": "s1"})
    assert ecs.list_account_settings(ctx) == page1 + page2


def _td(label: str) -> dict[str, Any]:
    family, revision = label.split(":")
    return {"taskDefinitionArn": f"{PREFIX}:task-definition/{label}", "family": family,
            "revision": int(revision), "containerDefinitions": []}


def test_each_distinct_task_definition_described_once(stub: Stubber, ctx: Context) -> None:
    web1, web2, api1 = (_td(x)["taskDefinitionArn"] for x in ("web:1", "web:2", "api:1"))
    ctx.resources["services"] = [
        {"serviceArn": "s/web", "taskDefinition": web2,
         "deployments": [{"taskDefinition": web2}, {"taskDefinition": web1}]},
        {"serviceArn": "s/api", "taskDefinition": "api:1"},  # family:rev, same as api1
    ]
    ctx.resources["tasks"] = [{"taskArn": f"t/{i}", "taskDefinitionArn": web1} for i in range(5)]
    ctx.resources["tasks"].append({"taskArn": "t/api", "taskDefinitionArn": api1})
    for label in ("api:1", "web:1", "web:2"):  # sorted ARNs, one call each
        stub.add_response("describe_task_definition", {"taskDefinition": _td(label)},
                          {"taskDefinition": _td(label)["taskDefinitionArn"]})
    ecs.collect_task_definitions(ctx)
    assert [td["family"] + f":{td['revision']}" for td in ctx.resources["task_definitions"]] == [
        "api:1", "web:1", "web:2"]


def test_throttled_page_is_recorded_and_earlier_pages_kept(stub: Stubber, ctx: Context) -> None:
    first = arns("service", 100)
    stub.add_response("list_services", {"serviceArns": first, "nextToken": "t1"})
    stub.add_client_error("list_services", service_error_code="ThrottlingException",
                          service_message="Rate exceeded", http_status_code=400)
    assert ecs.list_ids(ctx, REF, ecs.LIST_SERVICES) == first
    assert ctx.recorder.errors() == [{"collection": "services", "operation": "ecs:ListServices",
                                      "code": "ThrottlingException", "message": "Rate exceeded"}]


def test_a_repeated_token_stops_the_loop(stub: Stubber, ctx: Context) -> None:
    stub.add_response("list_services", {"serviceArns": ["a"], "nextToken": "same"})
    stub.add_response("list_services", {"serviceArns": ["b"], "nextToken": "same"})
    with pytest.raises(RuntimeError, match="same nextToken twice"):
        paginate(stub.client, "list_services", "serviceArns", cluster=CLUSTER)
