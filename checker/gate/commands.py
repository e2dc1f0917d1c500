"""The suggested commands of a gate report, made valid for the gate's subject.

Why: the playbooks' commands are written for a scan, where a diagnosis is about a service
(`--cluster prod --service web`) and a log group is named after it. A gate run offline has no
cluster and no service — its subject is the candidate `<family>:candidate` — so the same
templates would print `--cluster  --service web:candidate` and the log group
`/ecs/web:candidate`, which AWS rejects (a log group name is letters, digits and `._-/#`).
The gate knows what the commands should name instead: the cluster and service it was
given, else a placeholder a reader must fill (`<cluster>`, `<service>`), and the family
where the candidate's synthetic name would be wrong.
"""

from __future__ import annotations

import re
from dataclasses import replace

from checker.model import Diagnosis, Report

#: What CloudWatch Logs accepts in a log group name.
LOG_GROUP = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
_EMPTY_CLUSTER = re.compile(r"--cluster(?:\s+(?=--)|\s*$)")


def fix_commands(report: Report, *, family: str, cluster: str | None,
                 service: str | None) -> Report:
    """`report` with each remediation command naming the target (or a placeholder for it)
    instead of an empty cluster and the candidate's synthetic name."""
    candidate = f"{family}:candidate"
    diagnoses = tuple(_diagnosis(d, candidate, family, cluster, service)
                      for d in report.diagnoses)
    return replace(report, diagnoses=diagnoses)


def fix_command(command: str, *, candidate: str, family: str, cluster: str | None,
                service: str | None) -> str:
    text = _EMPTY_CLUSTER.sub(lambda m: f"--cluster {cluster or '<cluster>'}"
                              + (" " if m.group().strip() != m.group() else ""), command)
    text = text.replace(f"--service {candidate}", f"--service {service or '<service>'}")
    text = text.replace(f"--services {candidate}", f"--services {service or '<service>'}")
    return text.replace(candidate, family)


def _diagnosis(d: Diagnosis, candidate: str, family: str, cluster: str | None,
               service: str | None) -> Diagnosis:
    steps = tuple(
        replace(r, step=r.step.replace(f"/ecs/{candidate}", f"/ecs/{family}"),
                command=fix_command(r.command, candidate=candidate, family=family,
                                    cluster=cluster, service=service) if r.command else None)
        for r in d.remediation)
    return replace(d, remediation=steps)
