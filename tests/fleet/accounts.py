"""Small moto accounts for the fleet tests and bench: one ``prod`` cluster per account and
Region, whose one service runs a task definition with the risks asked for, so each target
has its own diagnoses to rank across the fleet."""

from __future__ import annotations

from typing import Any

import boto3

ROLE = "arn:aws:iam::{account}:role/ecsdoctor-fleet"
CLUSTER = "prod"


def member_session(account: str, region: str) -> boto3.session.Session:
    """A session in ``account`` as moto gives one: AssumeRole credentials carry the account
    id of the role ARN, and moto keeps one backend per account id."""
    sts = boto3.session.Session(region_name=region).client("sts")
    creds = sts.assume_role(RoleArn=ROLE.format(account=account),
                            RoleSessionName="fleet-setup")["Credentials"]
    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                 aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"], region_name=region)


def build(session: Any, *, secret: bool, tasks: int = 2, service: str = "web") -> None:
    """``secret``: the container has a password in its environment (plaintext-secrets);
    every container has no log configuration (observability-gaps)."""
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    env = [{"name": "DB_PASSWORD", "value": "hunter2-prod-password"}] if secret else []
    ecs.register_task_definition(
        family=service, requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
        cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx:1.27", "essential": True,
                               "environment": env}])
    ecs.create_service(cluster=CLUSTER, serviceName=service, taskDefinition=service,
                       desiredCount=tasks, launchType="FARGATE")
