"""Calendars a clock counts in: every hour (``Always``, 24x7), or the hours of working days in a
site's time zone (``WorkingDays``: no weekends, no public holidays, but a country's swapped
working weekends count).

Both answer two questions over timezone-aware instants, and each is the inverse of the other:
``add(t, d)`` is the instant at which ``d`` of counted time has passed since ``t``;
``elapsed(a, b)`` is the counted time between two instants (negative when ``b`` is before
``a``). When several instants have the same count (a weekend), ``add`` answers the earliest:
that is when the time ran out. A working day counts whole, midnight to midnight local time,
as real elapsed time: so "3 working days" from Friday 15:00 ends Wednesday 15:00, and a
working day that loses an hour to daylight saving counts 23 h.

Pure and deterministic; the holiday tables come from the ``holidays`` package.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_tables

from ticketing.errors import CalendarError
from ticketing.policy import CalendarKind, Timers

__all__ = ["Calendar", "Always", "WorkingDays", "calendar_for", "ALWAYS"]

_ZERO = timedelta(0)
_DAY = timedelta(days=1)


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


class Calendar(Protocol):
    def add(self, start: datetime, span: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...


@dataclass(frozen=True, slots=True)
class Always:
    """Every hour counts (24x7)."""

    def add(self, start: datetime, span: timedelta) -> datetime:
        _aware("start", start)
        return start + span

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        _aware("start", start)
        _aware("end", end)
        return end - start


ALWAYS = Always()


@functools.lru_cache(maxsize=16)
def _holidays(country: str) -> holiday_tables.HolidayBase:
    try:
        return holiday_tables.country_holidays(country)
    except NotImplementedError as exc:
        raise CalendarError(f"no public holiday table for country {country!r}") from exc


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown time zone {name!r} (use an IANA name such as "
                            "'Asia/Shanghai')") from exc


@dataclass(frozen=True, slots=True)
class WorkingDays:
    """Whole working days in ``tz``: ISO ``workdays`` (1 = Monday) that are not public holidays
    of ``country``, plus the country's weekend days declared working (China's swapped days).
    ``extra_holidays`` adds closing days of one's own (and lets tests use known dates)."""

    tz: str
    country: str | None = "CN"
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    extra_holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        _zone(self.tz)
        if self.country is not None:
            _holidays(self.country)
        if not self.workdays or not self.workdays <= set(range(1, 8)):
            raise CalendarError(f"workdays must be ISO weekdays 1-7, got {sorted(self.workdays)}")

    def is_working(self, day: date) -> bool:
        if day in self.extra_holidays:
            return False
        if self.country is not None:
            table = _holidays(self.country)
            if day in table:  # also loads the year, and with it its swapped working days
                return False
            if day in table.weekend_workdays:
                return True
        return day.isoweekday() in self.workdays

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        """The UTC instants a local day starts and ends (23 or 25 h apart around DST)."""
        zone = _zone(self.tz)
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + _DAY, time(0), tzinfo=zone).astimezone(UTC)
        return start, end

    def _local_day(self, t: datetime) -> date:
        return t.astimezone(_zone(self.tz)).date()

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        _aware("start", start)
        _aware("end", end)
        if end < start:
            return -self.elapsed(end, start)
        total = _ZERO
        day = self._local_day(start)
        while True:
            lo, hi = self._bounds(day)
            if lo >= end:
                return total
            if self.is_working(day):
                total += max(_ZERO, min(hi, end) - max(lo, start))
            day += _DAY

    def add(self, start: datetime, span: timedelta) -> datetime:
        """The earliest instant at which the counted time since ``start`` is ``span``.

        Earliest matters when the answer falls in non-working time: a clock whose allowed time
        ran out on Friday at midnight was due then, not on Monday morning. So a zero or
        negative ``span`` may answer before ``start`` when ``start`` is not working time.
        """
        _aware("start", start)
        left = abs(span)
        day = self._local_day(start)
        # A year of non-working days in a row means the calendar is unusable, not slow.
        for _ in range(366 + 366 * (left // _DAY + 1)):
            lo, hi = self._bounds(day)
            if self.is_working(day):
                if span > _ZERO:
                    seg_start, seg_end = max(lo, start), hi
                    if seg_end > seg_start:
                        if seg_end - seg_start >= left:
                            return seg_start + left
                        left -= seg_end - seg_start
                else:
                    seg_start, seg_end = lo, min(hi, start)
                    if seg_end > seg_start:
                        # Strictly inside: landing on a segment's start means the count was
                        # already reached at the end of the working time before it.
                        if seg_end - seg_start > left:
                            return seg_end - left
                        left -= seg_end - seg_start
            day += _DAY if span > _ZERO else -_DAY
        raise CalendarError(f"no working day within a year of {start.isoformat()}")


def calendar_for(*, kind: CalendarKind | str, timers: Timers, tz: str) -> Calendar:
    """The calendar a clock of ``kind`` counts in at a site in time zone ``tz``."""
    if kind == "24x7":
        return ALWAYS
    if kind == "working":
        return WorkingDays(tz=tz, country=timers.holidays, workdays=frozenset(timers.workdays))
    raise CalendarError(f"unknown calendar {kind!r}; expected '24x7' or 'working'")
