"""Grading: every cell of the seed-000 matrix and the multi-core escalation rule."""

from __future__ import annotations

import pytest

from ticketing.errors import GradingError
from ticketing.grading import grade_of, more_severe
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")

# Service rules section 2; starred cells are the documented defaults.
MATRIX = {
    ("core", "stoppage"): "I", ("core", "core-module"): "II",
    ("core", "non-core"): "III", ("core", "minor"): "IV",
    ("important", "stoppage"): "II", ("important", "core-module"): "II",
    ("important", "non-core"): "III", ("important", "minor"): "IV",
    ("ordinary", "stoppage"): "III", ("ordinary", "core-module"): "III",
    ("ordinary", "non-core"): "IV", ("ordinary", "minor"): "IV",
}
ASSUMED = {("ordinary", "stoppage"), ("ordinary", "non-core")}


@pytest.mark.parametrize(("tier", "impact"), sorted(MATRIX))
def test_every_matrix_cell(tier, impact):
    d = grade_of(policy=POLICY, tier=tier, impact=impact)
    assert d.grade == d.matrix_grade == MATRIX[(tier, impact)]
    assert not d.escalated
    assert d.assumed is ((tier, impact) in ASSUMED)


def test_ordinary_never_outranks_important():
    order = ["I", "II", "III", "IV"]
    for impact in ("stoppage", "core-module", "non-core", "minor"):
        imp = grade_of(policy=POLICY, tier="important", impact=impact).grade
        ordi = grade_of(policy=POLICY, tier="ordinary", impact=impact).grade
        assert order.index(ordi) >= order.index(imp)


@pytest.mark.parametrize("impact", ["core-module", "non-core", "minor"])
def test_two_core_customers_same_kind_escalates_to_i(impact):
    d = grade_of(policy=POLICY, tier="core", impact=impact, same_kind_customers=2)
    assert d.grade == "I" and d.escalated and d.matrix_grade == MATRIX[("core", impact)]
    assert "2 core customers" in d.reason


def test_one_core_customer_is_not_escalated():
    assert grade_of(policy=POLICY, tier="core", impact="minor", same_kind_customers=1).grade == "IV"


def test_already_grade_i_is_not_marked_escalated():
    d = grade_of(policy=POLICY, tier="core", impact="stoppage", same_kind_customers=5)
    assert d.grade == "I" and not d.escalated


@pytest.mark.parametrize("tier", ["important", "ordinary"])
def test_rule_only_escalates_its_tiers(tier):
    d = grade_of(policy=POLICY, tier=tier, impact="minor", same_kind_customers=3)
    assert d.grade == "IV" and not d.escalated


def test_rule_can_be_switched_off():
    off = POLICY.model_copy(update={"grading": POLICY.grading.model_copy(
        update={"multi_core": None})})
    assert grade_of(policy=off, tier="core", impact="minor", same_kind_customers=9).grade == "IV"


@pytest.mark.parametrize(("tier", "impact", "n"), [
    ("gold", "minor", 1), ("core", "meltdown", 1), ("core", "minor", 0)])
def test_bad_input_is_refused(tier, impact, n):
    with pytest.raises(GradingError):
        grade_of(policy=POLICY, tier=tier, impact=impact, same_kind_customers=n)


def test_more_severe():
    assert more_severe("III", "II") == "II" and more_severe("I", "IV") == "I"
