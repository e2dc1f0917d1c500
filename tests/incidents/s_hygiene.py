"""Hygiene findings that are not outages yet: a single-AZ service, missing logs, a secret in
plain text, an old agent and AMI, tasks with a public IP."""

from __future__ import annotations

from tests import builders_network as bn
from tests.incidents._infra import container_instance, ec2_instance
from tests.incidents.healthy import AZS, PRIVATE, PUBLIC, task_sg
from tests.incidents.scenarios import Cluster, fires, scenario


@scenario("single-az", "single-az",
          fires("service-subnets-single-az", "worker"), fires("service-tasks-single-az", "worker"))
def single_az(c: Cluster) -> None:
    """The worker service was re-created from a module whose default subnet list holds the
    us-east-1a private subnet only: both worker tasks run there, and an AZ outage stops
    all job processing."""
    conf = c.service("worker")["networkConfiguration"]["awsvpcConfiguration"]
    conf["subnets"] = [PRIVATE[0]]
    for task in c.tasks("worker"):
        task["availabilityZone"] = AZS[0]
        for att in task["attachments"]:
            for d in att["details"]:
                if d["name"] == "subnetId":
                    d["value"] = PRIVATE[0]
                elif d["name"] == "privateIPv4Address":
                    d["value"] = "10.0.1." + d["value"].rsplit(".", 1)[1]


@scenario("observability-gaps", "observability-gaps",
          fires("container-no-log-configuration", "reports"))
def observability_gaps(c: Cluster) -> None:
    """reports:20 was registered from an old template without a logConfiguration: its
    output goes nowhere ECS can show, so the next crash will leave no trace."""
    c.deploy("reports", 26 * 60, logConfiguration=None)


@scenario("plaintext-secrets", "plaintext-secrets",
          fires("environment-plaintext-secrets", "checkout"))
def plaintext_secrets(c: Cluster) -> None:
    """While debugging a payment failure someone moved the Stripe key out of Secrets
    Manager into a plain environment variable (checkout:42, three hours ago): anyone with
    ecs:DescribeTaskDefinition can read it, and every later revision copies it."""
    env = [*c.ctr("checkout").get("environment", []),
           {"name": "STRIPE_API_KEY", "value": "sk_live_51Hx8QpLmZ3vRt7YbN2cKdWf9sJ4aE6uG0hT"}]
    c.deploy("checkout", 3 * 60, environment=env, secrets=None)


@scenario("stale-agent-or-ami", "stale-agent-or-ami",
          fires("instance-agent-outdated"), fires("instance-ami-stale"))
def stale_agent_or_ami(c: Cluster) -> None:
    """One container instance (i-0c9e4a6b8d0f23579) is scale-in protected and was never
    replaced: launched 420 days ago from an old AMI, it still runs ECS agent 1.68.0 and
    Docker 20.10.7 while its two neighbours run the current ones."""
    ci = container_instance(2, agent="1.68.0")
    ci["versionInfo"]["dockerVersion"] = "DockerVersion: 20.10.7"
    for attr in ci["attributes"]:
        if attr["name"] == "ecs.ami-id":
            attr["value"] = "ami-09d3b3274b6c5d4aa"
    c.res["container_instances"][2] = ci
    c.res["ec2_instances"][2] = ec2_instance(2, launched_days=420, image="ami-09d3b3274b6c5d4aa")


@scenario("public-task-ip", "public-task-ip",
          fires("service-assigns-public-ip", "worker", exposure="internet"))
def public_task_ip(c: Cluster) -> None:
    """To test a payment provider's webhook against the worker, someone moved it to the
    public subnets with assignPublicIp ENABLED and opened tcp/8080 on its group to
    0.0.0.0/0: the worker answers anyone on the internet, past the load balancer."""
    conf = c.service("worker")["networkConfiguration"]["awsvpcConfiguration"]
    conf.update(subnets=list(PUBLIC), assignPublicIp="ENABLED")
    for task in c.tasks("worker", None):
        for att in task.get("attachments", []):
            for d in att["details"]:
                if d["name"] == "subnetId":
                    d["value"] = PUBLIC[PRIVATE.index(d["value"])]
    group = c.find("security_groups", "GroupId", task_sg("worker"))
    group["IpPermissions"].append(bn.rule("tcp", 8080, cidrs=("0.0.0.0/0",)))
