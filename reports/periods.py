"""Report periods: an ISO week (``2026-W48``), a month (``2026-11``) or a quarter
(``2026-Q4``), each from local midnight to local midnight in the policy's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from reports.errors import PeriodError

__all__ = ["PeriodKind", "Period", "parse_period", "custom_period"]

PeriodKind = Literal["weekly", "monthly", "quarterly", "custom"]

_PATTERNS: dict[PeriodKind, re.Pattern[str]] = {
    "weekly": re.compile(r"^(\d{4})-W(\d{2})$"),
    "monthly": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarterly": re.compile(r"^(\d{4})-Q([1-4])$"),
}
_EXAMPLES = {"weekly": "2026-W48", "monthly": "2026-11", "quarterly": "2026-Q4"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """``[start, end)`` as aware UTC instants, with the label it was asked for."""

    kind: PeriodKind
    label: str
    first_day: date
    last_day: date
    start: datetime
    end: datetime


def _span(kind: PeriodKind, label: str, first: date, after: date, zone: ZoneInfo) -> Period:
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(after, datetime.min.time(), zone).astimezone(UTC)
    return Period(kind=kind, label=label, first_day=first, last_day=after - timedelta(days=1),
                  start=start, end=end)


def parse_period(kind: PeriodKind, text: str, *, zone: ZoneInfo) -> Period:
    """The period ``text`` names; :class:`PeriodError` when it is not one."""
    if kind == "custom":
        raise PeriodError("a custom period is given by its first and last day")
    m = _PATTERNS[kind].match(text.strip())
    if m is None:
        raise PeriodError(f"{text!r} is not a {kind} period (like {_EXAMPLES[kind]})")
    year, n = int(m.group(1)), int(m.group(2))
    try:
        if kind == "weekly":
            first = date.fromisocalendar(year, n, 1)
            after = first + timedelta(days=7)
        elif kind == "monthly":
            first = date(year, n, 1)
            after = date(year + n // 12, n % 12 + 1, 1)
        else:
            first = date(year, 3 * n - 2, 1)
            after = date(year + n // 4, (3 * n) % 12 + 1, 1)
    except ValueError as exc:
        raise PeriodError(f"{text!r}: {exc}") from exc
    return _span(kind, text.strip(), first, after, zone)


def custom_period(first: date, last: date, *, zone: ZoneInfo) -> Period:
    """Any run of whole days, ``first`` to ``last`` inclusive."""
    if last < first:
        raise PeriodError(f"{last} is before {first}")
    return _span("custom", f"{first}..{last}", first, last + timedelta(days=1), zone)
