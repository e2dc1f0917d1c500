"""Tasks that never get going: a crash loop, an image that cannot be pulled, a secret that
cannot be fetched. Reasons are the texts ECS writes (cut at 255 characters like ECS does)."""

from __future__ import annotations

from tests import builders as b
from tests.incidents.healthy import ECR, INSTANCES, SECRET
from tests.incidents.scenarios import Cluster, fires, scenario

LIMIT = 255
START_FAILURES = ("(service {name}) is unable to consistently start tasks successfully. For "
                  "more information, see the Troubleshooting section.")


def cut(text: str) -> str:
    """ECS keeps about 255 characters of a reason."""
    return text if len(text) <= LIMIT else text[:LIMIT - 3] + "..."


@scenario("crash-loop", "app-crash-loop",
          fires("stopped-task-app-exit", "checkout"),
          fires("service-event-start-failures", "checkout"))
def crash_loop(c: Cluster) -> None:
    """checkout 1.19.0 went out 28 minutes ago and its container exits with code 1 within
    seconds of starting (a missing FEATURE_FLAGS_URL makes the config loader throw). The
    two 1.18.0 tasks keep serving; ECS keeps launching the new revision and has started
    backing off; the circuit breaker has counted 7 failures."""
    env = [*c.ctr("checkout").get("environment", []),
           {"name": "FEATURE_FLAGS_PATH", "value": "/etc/flags/prod.json"}]
    c.deploy("checkout", 28, rollout="IN_PROGRESS", failed=7,
             image=f"{ECR}/checkout:1.19.0", environment=env)
    for i, (stopped, uptime) in enumerate(((26, 9), (22, 14), (17, 7), (12, 22), (8, 11),
                                           (3, 6))):
        c.stopped("checkout", i % 3, stopped_min=stopped, uptime_s=uptime,
                  reason="Essential container in task exited", exit_code=1)
    c.event("checkout", START_FAILURES.format(name="checkout"), 9)


@scenario("image-pull-auth", "image-pull-failure",
          fires("stopped-task-image-pull", "orders", cause="auth"))
def image_pull_auth(c: Cluster) -> None:
    """orders 2.9.0 (orders:89, 22 minutes ago) points at the new shared-services ECR
    repository in account 111122223333, whose repository policy does not let the prod
    instances pull: every new task stops with CannotPullContainerError 403. The three
    orders:88 tasks keep serving."""
    image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/orders:2.9.0"
    c.deploy("orders", 22, rollout="IN_PROGRESS", failed=5, image=image)
    for i, stopped in enumerate((20, 16, 12, 8, 4)):
        iid = INSTANCES[i % 3]
        reason = cut(f"CannotPullContainerError: pull access denied for {image.split(':')[0]}, "
                     "repository does not exist or may require 'docker login': denied: User: "
                     f"arn:aws:sts::{b.ACCOUNT}:assumed-role/prod-ecs-instance/{iid} is not "
                     "authorized to perform: ecr:BatchGetImage on resource: "
                     "arn:aws:ecr:us-east-1:111122223333:repository/orders")
        task = c.stopped("orders", i % 3, stopped_min=stopped, uptime_s=None, reason=reason,
                         stop_code="TaskFailedToStart", container_reason=reason)
        task["pullStartedAt"] = b.ago(minutes=stopped + 0.5)
    c.event("orders", START_FAILURES.format(name="orders"), 10)


@scenario("secrets-pull", "secrets-pull-failure",
          fires("stopped-task-secrets-pull", "api", cause="secrets-manager"))
def secrets_pull(c: Cluster) -> None:
    """api:113 (20 minutes ago) adds REDIS_AUTH_TOKEN from the new secret prod/api/redis,
    which the shared task execution role may not read (its policy allows prod/api/db-*
    only). Every new task stops before its containers start with
    ResourceInitializationError ... AccessDeniedException; the api:112 tasks keep serving."""
    redis = f"{SECRET}:prod/api/redis-Qw3Er5"
    secrets = [*c.ctr("api").get("secrets", []), {"name": "REDIS_AUTH_TOKEN", "valueFrom": redis}]
    c.deploy("api", 20, rollout="IN_PROGRESS", failed=6, secrets=secrets)
    reason = cut("ResourceInitializationError: unable to pull secrets or registry auth: "
                 "execution resource retrieval failed: unable to retrieve secret from asm: "
                 f"service call has been retried 1 time(s): failed to fetch secret {redis} "
                 "from secrets manager: AccessDeniedException: User: arn:aws:sts::"
                 f"{b.ACCOUNT}:assumed-role/prod-ecs-task-execution/5e2f0c9a is not "
                 "authorized to perform: secretsmanager:GetSecretValue")
    for i, stopped in enumerate((18, 15, 11, 7, 3)):
        c.stopped("api", i % 3, stopped_min=stopped, uptime_s=None, reason=reason,
                  stop_code="TaskFailedToStart")
    c.event("api", START_FAILURES.format(name="api"), 8)
