"""Grading: customer tier x impact class through the policy's matrix, plus the multi-customer
escalation rule. Pure: the caller counts the affected customers (``storage.tickets``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ticketing.errors import GradingError
from ticketing.policy import GRADES, IMPACTS, TIERS, Policy

__all__ = ["GradeDecision", "grade_of", "more_severe"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GradeDecision:
    grade: str
    matrix_grade: str
    escalated: bool
    assumed: bool   # the matrix cell is a default the source rules do not state
    reason: str     # recorded on the ticket's ``created`` event: grades are audited


def more_severe(a: str, b: str) -> str:
    """The more urgent of two grades (I is the most urgent)."""
    return a if GRADES.index(a) <= GRADES.index(b) else b


def grade_of(
    *, policy: Policy, tier: str, impact: str, same_kind_customers: int = 1
) -> GradeDecision:
    """Grade of a fault of ``impact`` at a customer of ``tier``.

    ``same_kind_customers`` is how many distinct customers of the multi-customer rule's tiers
    (this one included) had the same fault kind within the rule's window.
    """
    if tier not in TIERS:
        raise GradingError(f"unknown customer tier {tier!r}; expected one of {TIERS}")
    if impact not in IMPACTS:
        raise GradingError(f"unknown impact class {impact!r}; expected one of {IMPACTS}")
    if same_kind_customers < 1:
        raise GradingError(f"same_kind_customers must be >= 1, got {same_kind_customers}")
    base = policy.grading.matrix[tier][impact]
    assumed = f"{tier}.{impact}" in policy.grading.assumed
    reason = f"matrix {tier} x {impact} -> {base}" + (" (assumed cell)" if assumed else "")
    rule = policy.grading.multi_core
    if (rule is not None and tier in rule.tiers
            and same_kind_customers >= rule.min_customers
            and more_severe(rule.grade, base) != base):
        return GradeDecision(
            grade=rule.grade, matrix_grade=base, escalated=True, assumed=assumed,
            reason=(f"{reason}; escalated to {rule.grade}: same fault kind at "
                    f"{same_kind_customers} {'/'.join(rule.tiers)} customers within "
                    f"{rule.window}"),
        )
    return GradeDecision(grade=base, matrix_grade=base, escalated=False, assumed=assumed,
                         reason=reason)
