"""Pure rules of the parts package: warranty, charges, the policy file, the lifecycles and the
parts actions of the access policy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from parts.errors import BadRequest, NotAllowed, PolicyError
from parts.lifecycle import (
    REQUISITION_EVENTS,
    SERIAL_EVENTS,
    check_requisition,
    check_serial,
)
from parts.policy import builtin_policy, load_policy
from parts.warranty import add_months, quote, warranty_of
from ticketing.access import PARTS_ACTIONS, builtin_access
from ticketing.errors import PolicyError as AccessPolicyError

POLICY = builtin_policy()


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2026, 5, 20), 12, date(2027, 5, 20)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),   # no 29 February next year
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2026, 12, 15), 0, date(2026, 12, 15)),
])
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_warranty_is_install_plus_the_policy_term_up_to_its_last_day() -> None:
    installed = date(2025, 12, 2)
    last = warranty_of(install_date=installed, warranty_end=None, on=date(2026, 12, 2),
                       policy=POLICY)
    assert (last.in_warranty, last.end, last.basis) == (True, date(2026, 12, 2),
                                                        "install+12 months")
    after = warranty_of(install_date=installed, warranty_end=None, on=date(2026, 12, 3),
                        policy=POLICY)
    assert not after.in_warranty


def test_a_recorded_warranty_end_wins_over_the_default_term() -> None:
    w = warranty_of(install_date=date(2022, 1, 1), warranty_end=date(2027, 1, 1),
                    on=date(2026, 12, 2), policy=POLICY)
    assert (w.in_warranty, w.basis) == (True, "recorded")


def test_unknown_install_follows_the_policy() -> None:
    w = warranty_of(install_date=None, warranty_end=None, on=date(2026, 12, 2), policy=POLICY)
    assert (w.in_warranty, w.end, w.basis) == (False, None, "unknown")
    lenient = POLICY.model_copy(update={"warranty": POLICY.warranty.model_copy(
        update={"unknown_is_in_warranty": True})})
    assert warranty_of(install_date=None, warranty_end=None, on=date(2026, 12, 2),
                       policy=lenient).in_warranty


def test_quote_is_free_in_warranty_and_charged_per_started_hour_out_of_it() -> None:
    free = quote(in_warranty=True, unit_price=Decimal("4800"), quantity=2, labour_minutes=200,
                 policy=POLICY)
    assert (free.parts, free.labour, free.total) == (Decimal("0"), Decimal("0"), Decimal("0"))
    paid = quote(in_warranty=False, unit_price=Decimal("120.50"), quantity=4,
                 labour_minutes=61, policy=POLICY)
    assert (paid.parts, paid.labour, paid.currency) == (Decimal("482.00"), Decimal("700.00"),
                                                        "CNY")
    with pytest.raises(BadRequest):
        quote(in_warranty=False, unit_price=Decimal(1), quantity=-1, labour_minutes=0,
              policy=POLICY)


def test_the_policy_refuses_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "parts" / "policies" / "default.toml").read_text()
    typo = tmp_path / "typo.toml"
    typo.write_text(text.replace("default_months = 12", "default_month = 12"))
    with pytest.raises(PolicyError, match="default_month"):
        load_policy(typo)
    negative = tmp_path / "negative.toml"
    negative.write_text(text.replace("max_quantity = 50", "max_quantity = 0"))
    with pytest.raises(PolicyError, match="requisitions.max_quantity"):
        load_policy(negative)
    with pytest.raises(PolicyError, match="not valid TOML"):
        (tmp_path / "bad.toml").write_text("[policy")
        load_policy(tmp_path / "bad.toml")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")
    assert POLICY.label == "robowatch-parts-default@2026.1"
    assert POLICY.model_config.get("frozen") and POLICY.model_config.get("extra") == "forbid"


@pytest.mark.parametrize(("state", "event", "details", "target"), [
    ("requested", "approve", {}, "approved"),
    ("requested", "reject", {"reason": "not needed"}, "rejected"),
    ("approved", "cancel", {"reason": "postponed"}, "cancelled"),
    ("approved", "issue", {}, "issued"),
    ("issued", "consume", {}, "closed"),
    ("issued", "return_unused", {"quantity": 2}, "closed"),
])
def test_requisition_moves(state: str, event: str, details: dict[str, object],
                           target: str) -> None:
    assert check_requisition(state=state, event=event, **details) == target


@pytest.mark.parametrize(("state", "event", "details", "error"), [
    ("requested", "issue", {}, NotAllowed),
    ("closed", "cancel", {"reason": "x"}, NotAllowed),
    ("issued", "cancel", {"reason": "x"}, NotAllowed),
    ("lost", "approve", {}, NotAllowed),
    ("requested", "reject", {"reason": "  "}, BadRequest),
    ("issued", "return_unused", {"quantity": 0}, BadRequest),
    ("issued", "return_unused", {"quantity": True}, BadRequest),
])
def test_requisition_refusals(state: str, event: str, details: dict[str, object],
                              error: type[Exception]) -> None:
    with pytest.raises(error):
        check_requisition(state=state, event=event, **details)


def test_serial_life_from_purchase_to_scrap() -> None:
    state = "purchased"
    for event, details in (("receive", {}), ("transfer", {}), ("issue", {}), ("install", {}),
                           ("replace", {"reason": "worn"}), ("scrap", {"reason": "worn"})):
        state = check_serial(state=state, event=event, **details)
    assert state == "scrapped"
    with pytest.raises(NotAllowed):
        check_serial(state="installed", event="scrap", reason="x")  # replace it first
    assert set(SERIAL_EVENTS) >= {"receive", "issue", "install", "replace", "scrap"}
    assert set(REQUISITION_EVENTS) == {"approve", "reject", "cancel", "issue", "consume",
                                       "return_unused"}


def test_parts_actions_in_the_access_policy() -> None:
    access = builtin_access()
    assert access.allows("parts_keeper", "parts_approve")
    assert access.allows("parts_keeper", "parts_issue")
    assert access.allows("engineer", "parts_request")
    assert not access.allows("engineer", "parts_approve")
    assert not access.allows("engineer", "parts_issue")
    assert not access.allows("customer_viewer", "parts_request")
    assert access.may_read("customer_viewer", "parts")
    assert set(access.rights("parts_keeper").parts) <= set(PARTS_ACTIONS)
    with pytest.raises(AccessPolicyError, match="unknown action"):
        access.allows("engineer", "parts_steal")
