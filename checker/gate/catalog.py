"""The gate's own checks, as metadata: what each is called, how bad a failure is, where AWS
documents the rule.

Why a table here and not `@check` specs in checks/: these checks compare a *candidate* with
the live target, or ask AWS about the resources a file names; they do not read a bundle the
way registry checks do. They still need the same metadata, for three readers: the runner
(severity), the SARIF renderer (rules with a title and help link) and the JUnit renderer
(one test case per check). `rules()` merges them with the registry specs the gate ran, and
the gate puts the result on the report (`scope["rules"]`), because renderers may read
nothing but the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from checker.model import Severity
from checker.registry import CheckSpec

DEV = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide"
PARAMS = f"{DEV}/task_definition_parameters.html"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: Severity
    docs: str
    description: str
    area: str = "gate"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "severity": self.severity.value,
                "docs": self.docs, "area": self.area, "description": self.description}


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


H, M, L, INFO = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO

#: Checks on the file alone (run offline too).
STATIC = _rules(
    Rule("gate-input-null-fields", "Task definition file has null values", L,
         f"{DEV}/create-task-definition.html",
         "The AWS CLI rejects null (`Invalid type for parameter …, value: None`); the console's "
         "JSON export is full of them. The gate reads them as absent and says so."),
    Rule("gate-input-invalid-value", "Task definition value is not one the API accepts", H,
         "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/"
         "API_RegisterTaskDefinition.html",
         "A value outside its enumeration (networkMode \"default\", protocol \"http\") passes "
         "JSON parsing but RegisterTaskDefinition rejects it; a template placeholder means the "
         "file was not rendered before the gate."),
    Rule("gate-execution-role-missing", "Task needs an execution role but names none", H,
         f"{DEV}/task_execution_IAM_role.html",
         "Secrets, private-registry credentials, and on Fargate the awslogs driver and private "
         "ECR images are fetched by the agent with the task execution role: without one the "
         "task never starts (ResourceInitializationError / CannotPullContainerError)."),
)

#: Checks against the live cluster and service (--cluster/--service).
LIVE = _rules(
    Rule("gate-cluster-active", "Target cluster exists and is ACTIVE", H,
         f"{DEV}/clusters.html",
         "A deployment to a missing or INACTIVE cluster fails at UpdateService."),
    Rule("gate-capacity-fit", "New revision fits on a container instance", H,
         f"{DEV}/task-placement.html",
         "On EC2, a task is placed only on an instance with its CPU, memory, static host ports "
         "and (awsvpc) an ENI slot free on that one instance; otherwise the deployment waits "
         "with 'unable to place a task'."),
    Rule("gate-load-balancer-container", "Service load balancer still matches a container port",
         H, f"{DEV}/register-multiple-targetgroups.html",
         "The service's loadBalancers name a container and port: the new revision must have that "
         "container and port mapping, and the target group's target type must fit the network "
         "mode (ip for awsvpc, instance for bridge/host)."),
    Rule("gate-network-configuration", "Service network configuration fits the new revision", H,
         f"{DEV}/task-networking.html",
         "awsvpc tasks need the service's subnets and security groups (which must still exist); "
         "other network modes must not have them. A mismatch fails UpdateService."),
    Rule("gate-memory-below-peak", "Memory limit is below what the running revision used", H,
         f"{DEV}/service_utilization.html",
         "AWS/ECS MemoryUtilization Maximum × the running limit is the most a task of the service "
         "used; a new limit below it is an OOM kill (exit 137) at the next busy hour."),
    Rule("gate-resources-reduced", "CPU or memory goes down compared with the running revision",
         M, f"{PARAMS}#task_size",
         "Shrinking a task is sometimes the point, but it is also the usual typo; the gate shows "
         "each reduction with the peak the service reached."),
    Rule("gate-health-check-removed", "Container health check disappears", M,
         f"{PARAMS}#container_definition_healthcheck",
         "Without its health check ECS no longer replaces a hung container, and dependsOn "
         "HEALTHY conditions on it cannot be met."),
    Rule("gate-log-configuration-removed", "Container log configuration disappears", M,
         f"{PARAMS}#container_definition_storage",
         "A container that loses its log driver loses the one message that says why it "
         "crashed."),
    Rule("gate-revision-diff", "What changes compared with the running revision", INFO,
         f"{DEV}/update-task-definition-console-v2.html",
         "Field by field, running → candidate (environment and secrets by name only), so the "
         "reviewer sees what the deployment changes."),
)

#: Checks that ask AWS about the resources the file names (read-only calls).
REFS = _rules(
    Rule("gate-role-assumable", "Task and execution roles exist and trust ECS tasks", H,
         f"{DEV}/task-iam-roles.html",
         "A role that does not exist, or whose trust policy does not let "
         "ecs-tasks.amazonaws.com assume it, stops the task at start."),
    Rule("gate-image-exists", "Image tag exists in ECR", H,
         "https://docs.aws.amazon.com/AmazonECR/latest/userguide/docker-pull-ecr-image.html",
         "A tag that was never pushed (or was expired by a lifecycle policy) is a "
         "CannotPullContainerError on every task."),
    Rule("gate-image-platform", "Image architecture and OS match runtimePlatform", H,
         f"{PARAMS}#runtime-platform",
         "An arm64-only image on X86_64 (or the reverse) starts and dies with 'exec format "
         "error'; the image index says which platforms the tag carries."),
    Rule("gate-secret-exists", "Referenced secrets and parameters exist", H,
         f"{DEV}/specifying-sensitive-data.html",
         "A secret or parameter that does not exist fails the task at start with "
         "ResourceInitializationError. Checked by name and metadata only: values are never "
         "read."),
    Rule("gate-log-group-exists", "awslogs log group exists", H, f"{DEV}/using_awslogs.html",
         "Without awslogs-create-group, a missing log group stops the container from "
         "starting."),
    Rule("gate-execution-role-permissions", "Execution role may pull, read secrets and log", H,
         "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_testing-policies.html",
         "iam:SimulatePrincipalPolicy on exactly the actions and ARNs the agent will use: the "
         "ECR repository, each secret, the log group. A deny here is a task that never "
         "starts."),
)

WAIVERS = _rules(
    Rule("waiver-expired", "Waiver has expired", H, "",
         "A waiver is a dated promise; once past its date the finding it covered counts again "
         "and the waiver itself fails, so it is renewed or removed on purpose."),
)

GATE_RULES: dict[str, Rule] = {**STATIC, **LIVE, **REFS, **WAIVERS}


def severity_of(check_id: str) -> Severity:
    return GATE_RULES[check_id].severity


def rules(specs: Iterable[CheckSpec], used: Iterable[str]) -> list[dict[str, Any]]:
    """Rule metadata for every check id in `used`, from the gate table or the registry."""
    by_id = {s.id: s for s in specs}
    out: list[dict[str, Any]] = []
    for check_id in sorted(set(used)):
        if check_id in GATE_RULES:
            out.append(GATE_RULES[check_id].to_dict())
        elif check_id in by_id:
            s = by_id[check_id]
            out.append({"id": s.id, "title": s.title, "severity": s.severity.value,
                        "docs": s.docs, "area": s.area,
                        "description": " ".join(s.description.split())})
    return out
