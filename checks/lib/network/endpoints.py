"""What a service's tasks must reach before their containers run, and the VPC endpoint that
serves each of it when the subnet has no way to the internet.

Images (ECR needs ecr.api, ecr.dkr and S3 for the layers; any other registry needs the
internet), `secrets` and repositoryCredentials (Secrets Manager or SSM), and the awslogs
driver are all fetched before the containers start. An interface endpoint serves its
service only with private DNS on; a gateway endpoint (S3) only on the subnet's route table.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.facts import Facts, Item, obj, objs, strs
from checks.lib.knowledge import table
from checks.lib.network.topology import task_definition_of

_ECR = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_TEMPLATE = ("{{", "${", "<", "%(")


# -- what the tasks need --------------------------------------------------------------------

@dataclass(frozen=True)
class Need:
    endpoint: str  # key of checks/data/vpc_endpoints.yaml, or "internet"
    region: str
    why: str

    @property
    def service_name(self) -> str:
        return f"com.amazonaws.{self.region}.{self.endpoint}"

    @property
    def predicts(self) -> str:
        if self.endpoint == "internet":
            return "image-pull-failure"
        return str(table("vpc_endpoints")["endpoints"][self.endpoint]["predicts"])


def _region(value: Any, default: str) -> str:
    return str(value) if isinstance(value, str) and _REGION.match(value) else default


def image_needs(image: str, where: str, region: str) -> list[Need]:
    if not image or any(t in image for t in _TEMPLATE):
        return []
    ecr = _ECR.match(image)
    if ecr:
        reg = _region(ecr.group(1), region)
        return [Need(e, reg, f"image {image} ({where})") for e in ("ecr.api", "ecr.dkr", "s3")]
    first = image.split("/", 1)[0]
    host = first if "/" in image and ("." in first or ":" in first) else "docker.io"
    return [Need("internet", region, f"image {image} from {host} ({where})")]


def _secret_need(value_from: str, where: str, region: str) -> Need | None:
    if not value_from or any(t in value_from for t in _TEMPLATE[1:]):
        return None
    parts = value_from.split(":")
    reg = _region(parts[3], region) if value_from.startswith("arn:") and len(parts) > 3 else region
    kind = "secretsmanager" if "secretsmanager" in value_from else "ssm"
    return Need(kind, reg, f"{where} secret from {kind}")


def _container_needs(ctr: Item, region: str) -> Iterator[Need]:
    where = f"container {ctr.get('name', '?')}"
    yield from image_needs(str(ctr.get("image") or ""), where, region)
    log = obj(ctr.get("logConfiguration"))
    if log.get("logDriver") == "awslogs":
        reg = _region(obj(log.get("options")).get("awslogs-region"), region)
        yield Need("logs", reg, f"{where} awslogs driver")
    refs = [s.get("valueFrom") for s in objs(ctr.get("secrets"))]
    refs += [s.get("valueFrom") for s in objs(log.get("secretOptions"))]
    creds = obj(ctr.get("repositoryCredentials")).get("credentialsParameter")
    for ref in [*refs, creds]:
        need = _secret_need(str(ref or ""), where, region)
        if need:
            yield need


def task_needs(facts: Facts, svc: Item) -> list[Need] | None:
    """Every endpoint the service's tasks need to start, one Need per (endpoint, region);
    None when the task definition is not in the bundle. Built once per service and
    analysis (several checks ask, once per origin subnet); shared: do not change it."""
    return facts.memo_of(svc, "network.task_needs", lambda: _task_needs(facts, svc))


def _task_needs(facts: Facts, svc: Item) -> list[Need] | None:
    td = task_definition_of(facts, svc)
    if td is None:
        return None
    region = facts.region or "us-east-1"
    seen: dict[tuple[str, str], Need] = {}
    for ctr in objs(td.get("containerDefinitions")):
        for need in _container_needs(ctr, region):
            seen.setdefault((need.endpoint, need.region), need)
    return [seen[k] for k in sorted(seen)]


# -- endpoints ------------------------------------------------------------------------------

def _endpoint_problem(ep: Item, need: Need, route_table: str | None) -> str | None:
    eid = ep.get("VpcEndpointId", "?")
    state = str(ep.get("State", "available")).lower()
    if state != "available":
        return f"endpoint {eid} is {state}"
    if ep.get("VpcEndpointType") == "Gateway":
        if route_table not in strs(ep.get("RouteTableIds")):
            return f"gateway endpoint {eid} is not on route table {route_table}"
        return None
    if not ep.get("PrivateDnsEnabled"):
        return (f"endpoint {eid} has private DNS off: {need.endpoint} names still resolve to "
                "public addresses")
    return None


def endpoint_for(facts: Facts, need: Need, vpc: str | None,
                 route_table: str | None) -> tuple[Item | None, str]:
    """A usable endpoint of `vpc` serving `need`, or None with the reason there is none
    (once per question and analysis: every service of the VPC asks the same ones). The
    answer depends on the need's endpoint and region, not on why it is needed (which names
    the service's own image or container), so the question is kept by those two."""
    if need.endpoint == "internet":
        return None, f"{need.why}: no VPC endpoint serves it, it needs internet"
    return facts.memo(("network.endpoint_for", need.endpoint, need.region, vpc, route_table),
                      lambda: _endpoint_for(facts, need, vpc, route_table))


def _endpoint_for(facts: Facts, need: Need, vpc: str | None,
                  route_table: str | None) -> tuple[Item | None, str]:
    matching = [e for e in facts.items("vpc_endpoints") if e.get("VpcId") == vpc
                and str(e.get("ServiceName", "")).endswith(f".{need.region}.{need.endpoint}")]
    problems: list[str] = []
    for ep in sorted(matching, key=lambda e: str(e.get("VpcEndpointId"))):
        problem = _endpoint_problem(ep, need, route_table)
        if problem is None:
            return ep, ""
        problems.append(problem)
    return None, problems[0] if problems else f"no {need.service_name} endpoint"


def endpoint_gaps(facts: Facts, needs: list[Need], vpc: str | None,
                  route_table: str | None) -> list[tuple[Need, str]]:
    """Needs that no usable VPC endpoint of `vpc` serves, each with the reason."""
    out = []
    for need in needs:
        ep, why = endpoint_for(facts, need, vpc, route_table)
        if ep is None:
            out.append((need, why))
    return out


def gap_text(gaps: list[tuple[Need, str]]) -> str:
    """`no VPC endpoint for ecr.dkr, logs (com.amazonaws.us-east-1.*)`, then any other
    reason verbatim."""
    absent = [n for n, why in gaps if why == f"no {n.service_name} endpoint"]
    regions = sorted({n.region for n in absent})
    parts = [f"no VPC endpoint for {', '.join(n.endpoint for n in absent if n.region == r)} "
             f"(com.amazonaws.{r}.*)" for r in regions]
    return "; ".join(parts + [why for n, why in gaps if n not in absent])
