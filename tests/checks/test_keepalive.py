"""lb-idle-timeout-exceeds-keepalive (checks/metrics/load_balancer.py): the ALB's idle timeout
against the keep-alive of the server in the target container, with the ALB's own 502s."""

from __future__ import annotations

from typing import Any

import pytest

from checks.metrics.load_balancer import keep_alive
from tests import builders as b
from tests import builders_metrics as m
from tests.checks.harness import run_check

IDLE = "idle_timeout.timeout_seconds"


def _bundle(container: dict[str, Any], *, idle: str | None = "60", e502: float | None = 0,
            attributes: bool = True, metrics: bool = True) -> dict[str, Any]:
    """Service `web` (container `web`) behind ALB `web`, idle timeout `idle` (None: the
    attribute left out, as moto answers), the ALB's 502 count over an hour."""
    td = b.task_definition("web", containers=[b.container_def("web", **container)])
    lb = b.shaped("elbv2", "LoadBalancer", {"LoadBalancerArn": m.lb_arn("web"),
                                            "LoadBalancerName": "web", "Type": "application",
                                            "Scheme": "internet-facing"})
    series = [] if e502 is None else [
        m.series("AWS/ApplicationELB", "HTTPCode_ELB_502_Count",
                 {"LoadBalancer": m.lb_dim("web")}, "Sum", m.flat(1, 60, e502 / 60), 60)]
    bundle = m.service_bundle(series if metrics else None, m.lb_service("web"),
                              task_definitions=[td], target_groups=[m.target_group("web")],
                              load_balancers=[lb])
    if attributes:
        attrs = [{"Key": "deletion_protection.enabled", "Value": "false"}]
        if idle is not None:
            attrs.append({"Key": IDLE, "Value": idle})
        bundle["resources"]["load_balancer_attributes"] = [
            {"LoadBalancerArn": m.lb_arn("web"), "Attributes": attrs}]
    return bundle


def _one(bundle: dict[str, Any]) -> Any:
    (f,) = run_check("lb-idle-timeout-exceeds-keepalive", bundle)
    return f


GUNICORN = {"command": ["gunicorn", "app:app", "-b", "0.0.0.0:8080"]}


@pytest.mark.parametrize(("container", "e502", "status", "severity"), [
    (GUNICORN, 120, "fail", "medium"),                 # default 2 s, and the ALB's 502s
    (GUNICORN, 0, "skipped", None),                    # default only: gunicorn.conf.py may set it
    ({"command": ["gunicorn", "app:app", "--keep-alive", "5"]}, 0, "fail", "low"),
    ({"command": ["gunicorn", "app:app", "--keep-alive=75"]}, 120, "pass", None),
    ({"command": ["sh", "-c", "exec gunicorn app:app"],
      "environment": [{"name": "GUNICORN_CMD_ARGS", "value": "--keep-alive 65 -w 4"}]},
     120, "pass", None),
    ({"command": ["uvicorn", "main:app", "--timeout-keep-alive", "30"]}, 3, "fail", "medium"),
    ({"entryPoint": ["node"], "command": ["server.js"]}, 40, "fail", "medium"),
    ({"image": "public.ecr.aws/nginx/nginx:1.25"}, 40, "pass", None),   # nginx keeps 75 s
    ({"command": ["./server"]}, 40, "unknown", None),  # a server not recognised
    ({"command": ["./server"]}, 0, "skipped", None),
])
def test_keepalive_against_the_idle_timeout(container: dict[str, Any], e502: float,
                                            status: str, severity: str | None) -> None:
    f = _one(_bundle(container, e502=e502))
    assert f.status.value == status, f.message
    if severity:
        assert f.severity.value == severity
    if status == "fail":
        assert "not longer than the ALB idle timeout 60 s" in f.message
        assert f.data["load_balancer"] == "web" and f.data["idle_timeout_s"] == 60


def test_a_shorter_idle_timeout_clears_it() -> None:
    f = _one(_bundle(GUNICORN | {"command": ["gunicorn", "--keep-alive", "5", "app:app"]},
                     idle="4", e502=120))
    assert f.status.value == "pass" and "idle timeout 4 s" in f.message


def test_an_absent_idle_timeout_attribute_is_the_default_60_s() -> None:
    f = _one(_bundle(GUNICORN, idle=None, e502=120))
    assert (f.status.value, f.data["idle_timeout_s"]) == ("fail", 60.0)


def test_the_502s_are_named() -> None:
    f = _one(_bundle(GUNICORN, e502=120))
    assert "120 502s" in f.message and f.data["elb_502"] == pytest.approx(120)
    assert f.data["keepalive_s"] == 2 and f.data["server"] == "gunicorn"


def test_without_the_attributes_collection_it_is_unknown() -> None:
    """A denied DescribeLoadBalancerAttributes leaves the collection absent (an error)."""
    bundle = _bundle(GUNICORN, e502=120, attributes=False)
    bundle["errors"] = [{"collection": "load_balancer_attributes",
                         "operation": "elasticloadbalancing:DescribeLoadBalancerAttributes",
                         "code": "AccessDenied", "message": "not authorized"}]
    f = _one(bundle)
    assert f.status.value == "unknown"
    assert "elasticloadbalancing:DescribeLoadBalancerAttributes" in f.message


def test_a_load_balancer_not_read_is_unknown() -> None:
    bundle = _bundle(GUNICORN, e502=120)
    bundle["resources"]["load_balancer_attributes"] = []  # over the budget
    assert _one(bundle).status.value == "unknown"


def test_without_metrics_an_explicit_short_keepalive_still_fails_low() -> None:
    f = _one(_bundle({"command": ["gunicorn", "--keep-alive", "5", "app:app"]}, metrics=False))
    assert (f.status.value, f.severity.value) == ("fail", "low")
    assert "502 count was not collected" in f.message


def test_a_service_without_an_alb_is_skipped() -> None:
    bundle = _bundle(GUNICORN)
    bundle["resources"]["services"] = [b.service("web")]
    assert _one(bundle).status.value == "skipped"


@pytest.mark.parametrize(("container", "expected"), [
    ({"command": ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "app:app"]},
     ("gunicorn", 2.0, "default")),
    ({"command": ["python", "-m", "uvicorn", "main:app"],
      "environment": [{"name": "UVICORN_TIMEOUT_KEEP_ALIVE", "value": "75"}]},
     ("uvicorn", 75.0, "flag")),
    ({"image": "node:20-alpine", "command": ["npm", "start"]}, ("Node.js", 5.0, "default")),
    ({"command": ["bundle", "exec", "puma", "-C", "config/puma.rb"]}, ("Puma", 20.0, "default")),
    ({"image": "httpd:2.4"}, ("Apache httpd", 5.0, "default")),
    ({"command": ["java", "-jar", "app.jar"]}, None),
])
def test_servers_are_recognised(container: dict[str, Any],
                                expected: tuple[str, float, str] | None) -> None:
    got = keep_alive(b.container_def("web", **container))
    assert (None if got is None else (got.server, got.seconds, got.source)) == expected
