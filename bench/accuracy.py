"""Top-1 / top-3 accuracy of ecsdoctor's diagnoses over the incident suite (tests/incidents).

Every scenario's bundle goes through checker.pipeline.Engine (the real checks, playbooks and
ranking). Single incidents count for top-1 (the expected diagnosis ranks first) and top-3
(it is among the first three); a mixed incident counts for top-3 only, and only when every
one of its causes is among the first three. The healthy cluster's highest diagnosis
severity is measured in the same run. The last line of the output is the summary:

    top-1 accuracy X% (n/N) · top-3 accuracy Y% (m/M) · healthy max severity Z

Run from the repository root: `python bench/accuracy.py [--seed N] [--why]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checker.model import Report, Severity
from checker.pipeline import Engine
from tests.incidents.healthy import healthy_cluster
from tests.incidents.scenarios import Scenario, all_scenarios, explain


@dataclass
class Row:
    scenario: Scenario
    report: Report
    seconds: float

    @property
    def top3(self) -> list[str]:
        return [d.id for d in self.report.diagnoses[:3]]

    @property
    def hit1(self) -> bool | None:
        if self.scenario.mixed:
            return None
        return self.top3[:1] == [self.scenario.expected[0]]

    @property
    def hit3(self) -> bool:
        return all(e in self.top3 for e in self.scenario.expected)


def misses(row: Row) -> list[str]:
    """Expected diagnoses that are not where they should be (first, or in the top 3)."""
    if row.scenario.mixed:
        return [e for e in row.scenario.expected if e not in row.top3]
    return [] if row.hit1 else [row.scenario.expected[0]]


def _mark(hit: bool | None) -> str:
    return "-" if hit is None else "yes" if hit else "NO"


def _pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:.0f}%" if total else "n/a"


def table(rows: list[Row]) -> str:
    head = ("scenario", "expected", "top-3 got", "hit@1", "hit@3")
    lines = [[r.scenario.name, " + ".join(r.scenario.expected),
              ", ".join(r.top3) or "(no diagnosis)", _mark(r.hit1), _mark(r.hit3)]
             for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7, help="noise seed of the fixtures")
    parser.add_argument("--why", action="store_true", help="explain every miss")
    args = parser.parse_args(argv)
    engine = Engine()
    rows = []
    for sc in all_scenarios():
        start = time.perf_counter()
        report = engine.analyze(sc.bundle(args.seed))
        rows.append(Row(sc, report, time.perf_counter() - start))
    healthy = engine.analyze(healthy_cluster(args.seed))
    worst = min((d.severity for d in healthy.diagnoses), key=lambda s: s.order, default=None)
    print(table(rows))
    if args.why:
        for row in rows:
            for expected in misses(row):
                print(f"\n{row.scenario.name} ({expected}):\n"
                      + explain(row.report, engine.playbooks, expected))
    singles = [r for r in rows if not r.scenario.mixed]
    n1 = sum(1 for r in singles if r.hit1)
    n3 = sum(1 for r in rows if r.hit3)
    total = sum(r.seconds for r in rows)
    print(f"\n{len(rows)} scenarios analysed in {total:.1f} s; healthy cluster: "
          f"{len(healthy.diagnoses)} diagnoses")
    severity = worst.value if isinstance(worst, Severity) else "none"
    print(f"top-1 accuracy {_pct(n1, len(singles))} ({n1}/{len(singles)}) · top-3 accuracy "
          f"{_pct(n3, len(rows))} ({n3}/{len(rows)}) · healthy max severity {severity}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
