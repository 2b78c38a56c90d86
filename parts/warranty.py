"""Warranty and charges: pure rules, no storage.

A robot is in warranty on a day up to and including its warranty end: the end recorded on the
robot (the sales contract), else its install date plus the policy's ``default_months``. In
warranty, parts and work are free; otherwise parts cost the catalogue price and work the
policy's labour rate per started hour. The charge is always computed from these, never typed.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from parts.errors import BadRequest
from parts.policy import PartsPolicy

__all__ = ["Warranty", "add_months", "warranty_of", "Quote", "quote"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Warranty:
    in_warranty: bool
    end: date | None
    basis: str          # "recorded", "install+12 months" or "unknown"


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months; the 31st becomes the month's last day."""
    if months < 0:
        raise BadRequest("months must not be negative")
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def warranty_of(
    *, install_date: date | None, warranty_end: date | None, on: date, policy: PartsPolicy
) -> Warranty:
    """Is the robot in warranty on ``on``? The recorded end wins over the default term."""
    months = policy.warranty.default_months
    if warranty_end is not None:
        end, basis = warranty_end, "recorded"
    elif install_date is not None:
        end, basis = add_months(install_date, months), f"install+{months} months"
    else:
        return Warranty(in_warranty=policy.warranty.unknown_is_in_warranty, end=None,
                        basis="unknown")
    return Warranty(in_warranty=on <= end, end=end, basis=basis)


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    parts: Decimal
    labour: Decimal
    currency: str

    @property
    def total(self) -> Decimal:
        return self.parts + self.labour


def quote(
    *, in_warranty: bool, unit_price: Decimal, quantity: int, labour_minutes: int,
    policy: PartsPolicy,
) -> Quote:
    """What the customer pays for ``quantity`` parts and ``labour_minutes`` of work. Work is
    billed per started hour."""
    if quantity < 0 or labour_minutes < 0:
        raise BadRequest("quantity and labour minutes must not be negative")
    currency = policy.charges.currency
    if in_warranty:
        return Quote(parts=Decimal("0.00"), labour=Decimal("0.00"), currency=currency)
    hours = math.ceil(labour_minutes / 60)
    return Quote(parts=(unit_price * quantity).quantize(Decimal("0.01")),
                 labour=(policy.charges.labour_rate * hours).quantize(Decimal("0.01")),
                 currency=currency)
