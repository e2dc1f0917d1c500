"""The candidate file alone (offline): what the CLI would reject — null values, values
outside the API's enums — and an execution role the task cannot start without."""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts, Item, obj, objs
from checker.model import Result, Severity, failed, passed, unknown
from checker.names import ecr_image, placeholder
from checker.registry import Prior, check
from checks.lib.gate import DEV_DOCS, target
from checks.lib.taskdefs import FARGATE, container_name, containers, platform


@check(id="gate-input-null-fields", area="gate", severity=Severity.LOW,
       title="Task definition file has null values", needs=("gate",),
       docs=f"{DEV_DOCS}/create-task-definition.html", emits=("nulls",))
def gate_input_null_fields(facts: Facts, prior: Prior) -> Iterator[Result]:
    """The AWS CLI rejects null (`Invalid type for parameter …, value: None`); the
    console's JSON export is full of them. The gate reads them as absent and says so."""
    gate = facts.gate
    arn, path = str(gate.get("task_definition")), str(gate.get("file"))
    nulls = [str(n) for n in gate.get("nulls") or []]
    if not nulls:
        yield passed(arn, f"{path}: no null values", path="")
        return
    shown = ", ".join(nulls[:3]) + (f" and {len(nulls) - 3} more" if len(nulls) > 3 else "")
    yield failed(arn, f"{path}: {len(nulls)} null value(s) ({shown}): `aws ecs "
                 "register-task-definition --cli-input-json` rejects null; read as absent here, "
                 "delete them from the file", path=nulls[0], nulls=nulls)


@check(id="gate-input-invalid-value", area="gate", severity=Severity.HIGH,
       title="Task definition value is not one the API accepts", needs=("gate",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/APIReference/"
            "API_RegisterTaskDefinition.html",
       emits=("allowed", "value"))
def gate_input_invalid_value(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A value outside its enumeration (networkMode "default", protocol "http") passes JSON
    parsing but RegisterTaskDefinition rejects it; a template placeholder means the file
    was not rendered before the gate."""
    gate = facts.gate
    arn = str(gate.get("task_definition"))
    invalid = objs(gate.get("invalid_values"))
    if not invalid:
        yield passed(arn, f"{gate.get('file')}: every enumerated value is one the API accepts",
                     path="")
    for bad in invalid:
        where, value = str(bad.get("path")), str(bad.get("value") or "")
        allowed = [str(a) for a in bad.get("allowed") or []]
        if placeholder(value):
            yield unknown(arn, f"{where}: template placeholder {value!r} (one of "
                          f"{', '.join(allowed)} expected): render the template before the gate",
                          path=where, value=value)
        else:
            shown = repr(value) if value else "this value"
            yield failed(arn, f"{where}: {shown} is not one of {', '.join(allowed)}: "
                         "RegisterTaskDefinition rejects it", path=where, value=value,
                         allowed=allowed)


def execution_role_needs(td: Item, launch: str) -> list[str]:
    """Why the task needs an execution role (empty: it does not)."""
    reasons: list[str] = []
    for ctr in containers(td):
        name = container_name(ctr)
        log = obj(ctr.get("logConfiguration"))
        if ctr.get("secrets") or log.get("secretOptions"):
            reasons.append(f"container {name} reads secrets")
        if obj(ctr.get("repositoryCredentials")).get("credentialsParameter"):
            reasons.append(f"container {name} pulls with private registry credentials")
        if launch == FARGATE and log.get("logDriver") == "awslogs":
            reasons.append(f"container {name} logs with awslogs on Fargate")
        if launch == FARGATE and ecr_image(ctr.get("image")) is not None:
            reasons.append(f"container {name} pulls a private ECR image on Fargate")
    return reasons


@check(id="gate-execution-role-missing", area="gate", severity=Severity.HIGH,
       title="Task needs an execution role but names none",
       needs=("gate", "task_definitions"), docs=f"{DEV_DOCS}/task_execution_IAM_role.html",
       emits=("launch_type", "reasons"))
def gate_execution_role_missing(facts: Facts, prior: Prior) -> Iterator[Result]:
    """Secrets, private-registry credentials, and on Fargate the awslogs driver and private
    ECR images are fetched by the agent with the task execution role: without one the task
    never starts (ResourceInitializationError / CannotPullContainerError)."""
    t = target(facts)
    launch = platform(t.td, t.service)
    reasons = execution_role_needs(t.td, launch)
    role = t.td.get("executionRoleArn")
    svc = t.service_arn
    if role:
        yield passed(t.arn, f"{t.label}: execution role {role}", service=svc,
                     path="executionRoleArn")
    elif not reasons:
        yield passed(t.arn, f"{t.label}: needs no execution role ({launch})", service=svc,
                     path="")
    else:
        yield failed(t.arn, f"{t.label}: no executionRoleArn, but " + "; ".join(reasons)
                     + " — the task will not start", service=svc, path="executionRoleArn",
                     reasons=reasons, launch_type=launch)


@check(id="gate-input-placeholder", area="gate", severity=Severity.MEDIUM,
       title="Task definition file is a template (placeholders in values)", needs=("gate",),
       docs=f"{DEV_DOCS}/task_definition_parameters.html", emits=("placeholder",))
def gate_input_placeholder(facts: Facts, prior: Prior) -> Iterator[Result]:
    """A `${VAR}`, `{{ var }}` or `<YOUR_...>` left in a value is what a template renders at
    deploy time: nothing judged on it is true of what will be registered. The gate refuses
    such a file (exit 2) unless `--allow-placeholders` asks for one finding per placeholder,
    so that a team gating its templates sees exactly which values went unchecked."""
    gate = facts.gate
    arn, path = str(gate.get("task_definition")), str(gate.get("file"))
    found = objs(gate.get("placeholders"))
    if not found:
        yield passed(arn, f"{path}: no template placeholder in any value", path="")
    for item in found:
        where, text = str(item.get("path")), str(item.get("text"))
        yield failed(arn, f"{where}: template placeholder {text!r}: its value is set when the "
                     "template is rendered, so it is not checked here", path=where,
                     placeholder=text)
