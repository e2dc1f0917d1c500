"""Service-level checks: does the service run what it was asked to run?"""

from __future__ import annotations

from collections.abc import Iterator

from checker.facts import Facts
from checker.model import Result, Severity, failed, passed, skipped
from checker.registry import Prior, check
from checks._common import service_label


@check(id="service-running-below-desired", area="service", severity=Severity.HIGH,
       title="Service runs fewer tasks than desired",
       needs=("services",),
       docs="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service_definition_parameters.html")
def service_running_below_desired(facts: Facts, prior: Prior) -> Iterator[Result]:
    """runningCount below desiredCount is the symptom users feel first (capacity lost,
    latency up); the playbooks then look for why. A service with no running task at all
    is an outage, so its finding is critical."""
    for svc in sorted(facts.services, key=lambda s: str(s.get("serviceArn"))):
        arn = str(svc.get("serviceArn"))
        desired = int(svc.get("desiredCount", 0) or 0)
        running = int(svc.get("runningCount", 0) or 0)
        pending = int(svc.get("pendingCount", 0) or 0)
        label = service_label(svc)
        if desired == 0:
            yield skipped(arn, f"service {label}: desired count is 0", service=arn)
        elif running >= desired:
            yield passed(arn, f"service {label}: running {running} of {desired} desired",
                         service=arn, desired=desired, running=running)
        else:
            yield failed(
                arn,
                f"service {label}: running {running} of {desired} desired tasks "
                f"({pending} pending)" + (" — no task is running" if running == 0 else ""),
                service=arn,
                severity=Severity.CRITICAL if running == 0 else None,
                desired=desired, running=running, pending=pending,
                affected_tasks=desired - running,
            )
