"""Every number the playbook walk and the ranking use, in one table (docs/ranking.md).

They live together so that tuning one is a reviewed, one-line change whose effect the
sensitivity test (tests/test_rank_sensitivity.py) measures on the whole incident suite,
and so that a variant can be injected (`Engine(weights=...)`) instead of patching module
globals, which would leak between tests and threads. This module imports nothing from
the engine, so the result model (`Severity.weight`) can read its severity weights here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: Fields that are probabilities (confidences) or shares of a service's tasks: a value
#: above 1 means nothing, so the table refuses it and the sensitivity test clamps at 1.
AT_MOST_ONE = frozenset({"unknown_confirm_cap", "unknown_rule_out_cap", "min_confidence",
                         "max_confidence", "unknown_impact", "min_impact", "max_impact"})


@dataclass(frozen=True, slots=True)
class Weights:
    """The ranking table; `DEFAULT` is what every report uses.

    Frozen so one instance can be shared by engines, threads and tests without any of
    them changing what the others rank with.
    """

    # -- the playbook walk (checker/walk.py): how evidence moves a hypothesis' confidence --
    #: Confidence ceiling when a `confirm` reference could not be checked (unknown): the
    #: diagnosis stands on half its proof, so it is no better than a coin toss.
    unknown_confirm_cap: float = 0.5
    #: Confidence ceiling when a `rule_out` reference was unknown: the proof is all there
    #: but one alternative could not be excluded, so it keeps three chances in four.
    unknown_rule_out_cap: float = 0.75
    #: Confidence gained per failing `support` reference and per diagnosis a cause
    #: explains: corroboration nudges, it never turns a guess into a certainty.
    support_bonus: float = 0.05
    #: Confidence lost per failing `contradict` reference: one counter-indication weighs
    #: four corroborations, since evidence against is rarer and more telling than for.
    contradict_penalty: float = 0.2
    #: Floor that contradictions cannot push a confidence below: a confirmed diagnosis
    #: stays listed (last) rather than vanish from the report.
    min_confidence: float = 0.05
    #: Ceiling that support and explained diagnoses cannot lift a confidence above:
    #: evidence from a snapshot is never a certainty.
    max_confidence: float = 0.99

    # -- the score (checker/rank.py): scale × severity weight × confidence × impact ----------
    #: Puts a certain, critical, whole-service outage at about 100 per service, a scale an
    #: engineer reads at a glance; it multiplies every score alike.
    score_scale: float = 10.0
    #: A service's impact when the evidence does not say how many of its tasks are hit:
    #: halfway, neither promoting nor burying what we cannot measure.
    unknown_impact: float = 0.5
    #: Floor of a service's impact (affected / desired tasks): an incident on one task of
    #: ten (≈ 13 for a high, confident one) still outranks a whole-service risk (≈ 11).
    min_impact: float = 0.25
    #: Ceiling of a service's impact: a service cannot be more than wholly down, however
    #: many stopped tasks a crash loop leaves behind.
    max_impact: float = 1.0
    #: Impact multiplier of risks (diagnoses of kind `risk`: hardening gaps that break
    #: nothing now), so a cluster's standing hygiene never buries what is failing now.
    risk_factor: float = 0.2
    #: How far above the highest diagnosis it explains a cause is placed: the smallest
    #: step at two decimals, so the cause leads without distorting the other scores.
    explains_margin: float = 0.01
    #: Decimals of score, confidence and impact in a report: two is what a reader can
    #: compare; rounding also makes near-equal scores tie, and ties break by severity.
    digits: int = 2

    # -- severity weights (Severity.weight): faster than linear, so a critical diagnosis ----
    # -- needs little confidence to reach the top, as an on-call engineer would want --------
    #: Service down or about to be: no task can run, or all are failing.
    severity_critical: float = 10.0
    #: Service degraded: some tasks failing, deployments stuck.
    severity_high: float = 7.0
    #: A problem waiting for load or the next deployment.
    severity_medium: float = 4.0
    #: Hygiene worth fixing on a quiet day.
    severity_low: float = 2.0
    #: Worth knowing, nothing to fix.
    severity_info: float = 1.0

    def __post_init__(self) -> None:
        """Refuse a table that cannot rank sensibly, at construction rather than as a
        silently odd report."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"ranking weight {f.name} must be a number ≥ 0, not {value!r}")
            if f.name in AT_MOST_ONE and value > 1:
                raise ValueError(f"ranking weight {f.name} is a share, at most 1, not {value}")
        if not self.min_confidence < self.max_confidence:
            raise ValueError("ranking weights: min_confidence must be below max_confidence")
        if not self.min_impact <= self.max_impact:
            raise ValueError("ranking weights: min_impact must not exceed max_impact")
        if not isinstance(self.digits, int):
            raise ValueError(f"ranking weight digits must be an int, not {self.digits!r}")

    def severity(self, severity: str) -> float:
        """Takes the severity's value (`Severity` is a str enum) so this module need not
        import the model that reads it."""
        value: float = getattr(self, f"severity_{severity}")
        return value


DEFAULT = Weights()
