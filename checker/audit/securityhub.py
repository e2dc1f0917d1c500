"""The Security Hub sink: import this run's findings, archive the ones that went away.

Why it works this way:
- **Re-runs update, never duplicate.** Finding ids are stable (checker.render.asff), and
  BatchImportFindings with a known id updates that finding. ``CreatedAt`` and
  ``FirstObservedAt`` are carried over from the previous import, so "first seen" stays true.
- **Resolved means archived.** The previous run's ACTIVE findings are read back with
  GetFindings (filtered on our ProductArn, the ``ecsdoctor/`` GeneratorId prefix, account,
  scanned region and this audit's ScopeKey; the same filter is re-applied locally, so a
  backend that ignores filters cannot make us archive someone else's findings). Each one not
  found again is re-imported with ``RecordState: ARCHIVED`` (the provider's side), then set to
  ``Workflow: RESOLVED`` with BatchUpdateFindings when its workflow is still NEW or NOTIFIED
  (an analyst's SUPPRESSED is left alone). If it comes back, the next import makes it ACTIVE
  again and Security Hub resets the workflow to NEW by itself.
- **Batches of 100**, the BatchImportFindings / BatchUpdateFindings maximum. Rejected findings
  (FailedFindings, UnprocessedFindings) are returned as errors, not raised mid-way: the other
  batches still go in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from checker.audit.sinks import Audit
from checker.render.asff import (
    GENERATOR_PREFIX,
    SCOPE_FIELD,
    asff_time,
    product_arn,
    to_asff,
)

BATCH = 100
ERRORS_SHOWN = 5
#: Input members of AwsSecurityFinding an archive update re-sends (read back from GetFindings,
#: whose output carries more than an import accepts).
ARCHIVE_KEYS = (
    "SchemaVersion", "Id", "ProductArn", "ProductName", "CompanyName", "GeneratorId",
    "AwsAccountId", "Region", "Types", "CreatedAt", "FirstObservedAt", "LastObservedAt",
    "Severity", "Title", "Description", "Remediation", "SourceUrl", "Resources",
)
_OPEN_WORKFLOW = frozenset({"NEW", "NOTIFIED"})


def import_findings(client: Any, audit: Audit, now: str) -> dict[str, Any]:
    """Import, archive, resolve; the result counts each step and lists what was refused."""
    report = audit.report
    findings = to_asff(report, checks=audit.checks, home_region=audit.home_region,
                       scope_key=audit.scope_key)
    product = product_arn(audit.account, audit.home_region)
    previous = previous_findings(client, product, audit.account, audit.region, audit.scope_key)
    current = {f["Id"] for f in findings}
    for f in findings:
        _keep_first_seen(f, previous.get(f["Id"]))
    gone = [p for fid, p in sorted(previous.items()) if fid not in current]
    archives = [archived(p, asff_time(now)) for p in gone]
    failed = batch_import(client, [*findings, *archives])
    refused = {e["Id"] for e in failed}
    to_resolve = [p for p in gone if p["Id"] not in refused
                  and (p.get("Workflow") or {}).get("Status", "NEW") in _OPEN_WORKFLOW]
    errors = [f"BatchImportFindings refused {e['Id']}: {e.get('ErrorCode')} "
              f"{e.get('ErrorMessage')}" for e in failed[:ERRORS_SHOWN]]
    try:
        unprocessed = resolve(client, to_resolve)
    except Exception as exc:  # archived already; only the workflow label is missing
        unprocessed = [str(f["Id"]) for f in to_resolve]
        errors.append(f"BatchUpdateFindings failed ({len(to_resolve)} archived finding(s) "
                      f"keep their workflow status): {type(exc).__name__}: {exc}")
    else:
        errors += [f"BatchUpdateFindings did not resolve {e}"
                   for e in unprocessed[:ERRORS_SHOWN]]
    return {
        "product_arn": product,
        "imported": len([f for f in findings if f["Id"] not in refused]),
        "archived": len([a for a in archives if a["Id"] not in refused]),
        "resolved": len(to_resolve) - len(unprocessed),
        "failed": len(failed) + len(unprocessed),
        **({"errors": errors} if errors else {}),
    }


def previous_filters(product: str, account: str, region: str,
                     scope_key: str) -> dict[str, list[dict[str, str]]]:
    def eq(value: str) -> list[dict[str, str]]:
        return [{"Value": value, "Comparison": "EQUALS"}]

    return {
        "ProductArn": eq(product),
        "GeneratorId": [{"Value": GENERATOR_PREFIX, "Comparison": "PREFIX"}],
        "AwsAccountId": eq(account),
        "Region": eq(region),
        "RecordState": eq("ACTIVE"),
        "ProductFields": [{"Key": SCOPE_FIELD, "Value": scope_key, "Comparison": "EQUALS"}],
    }


def previous_findings(client: Any, product: str, account: str, region: str,
                      scope_key: str) -> dict[str, dict[str, Any]]:
    """This audit's ACTIVE findings from earlier runs, by id."""
    filters = previous_filters(product, account, region, scope_key)
    out: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("get_findings").paginate(
            Filters=filters, PaginationConfig={"PageSize": BATCH}):
        for f in page.get("Findings", []):
            if ours(f, product, account, region, scope_key):
                out[str(f["Id"])] = f
    return out


def ours(f: Mapping[str, Any], product: str, account: str, region: str,
         scope_key: str) -> bool:
    """The GetFindings filter, applied again locally."""
    return (f.get("ProductArn") == product
            and str(f.get("GeneratorId", "")).startswith(GENERATOR_PREFIX)
            and f.get("AwsAccountId") == account and f.get("Region") == region
            and f.get("RecordState", "ACTIVE") == "ACTIVE"
            and (f.get("ProductFields") or {}).get(SCOPE_FIELD) == scope_key)


def archived(previous: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The provider-side update that archives ``previous``: its own fields, re-sent, with
    ``RecordState: ARCHIVED`` and a new ``UpdatedAt``."""
    out = {k: previous[k] for k in ARCHIVE_KEYS if k in previous}
    fields = {k: v for k, v in (previous.get("ProductFields") or {}).items()
              if not str(k).startswith("aws/")}  # Security Hub's own keys are not ours to send
    out.update(ProductFields=fields, UpdatedAt=now, RecordState="ARCHIVED")
    return out


def _keep_first_seen(finding: dict[str, Any], previous: Mapping[str, Any] | None) -> None:
    if previous is None:
        return
    for key in ("CreatedAt", "FirstObservedAt"):
        if previous.get(key):
            finding[key] = previous[key]


def batches(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def batch_import(client: Any, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BatchImportFindings, 100 at a time; the FailedFindings of every batch."""
    failed: list[dict[str, Any]] = []
    for batch in batches(findings):
        response = client.batch_import_findings(Findings=batch)
        failed += list(response.get("FailedFindings") or [])
    return failed


def resolve(client: Any, findings: Iterable[Mapping[str, Any]]) -> list[str]:
    """Workflow RESOLVED on archived findings; the ids Security Hub did not process."""
    identifiers = [{"Id": f["Id"], "ProductArn": f["ProductArn"]} for f in findings]
    unprocessed: list[str] = []
    for batch in batches(identifiers):
        response = client.batch_update_findings(FindingIdentifiers=batch,
                                                Workflow={"Status": "RESOLVED"})
        unprocessed += [f"{u['FindingIdentifier']['Id']}: {u.get('ErrorCode')} "
                        f"{u.get('ErrorMessage')}"
                        for u in response.get("UnprocessedFindings") or []]
    return unprocessed
