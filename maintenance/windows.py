"""Customer maintenance windows: when a site's robots are not producing.

A site produces in its shifts (``[windows] production``), except on its country's public
holidays (the ``holidays`` package; days in ``working_days`` produce anyway) and during planned
stops. Everything else is a maintenance window, and :meth:`SiteCalendar.slot` places an
inspection of a given length inside one, never across production. Pure.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays as holiday_tables

from maintenance.errors import NoWindow
from maintenance.policy import SiteWindows

__all__ = ["Slot", "SiteCalendar"]

_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    start: datetime
    end: datetime


@functools.lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holiday_tables.country_holidays(country, years=year))


class SiteCalendar:
    """Production and maintenance windows of one site."""

    def __init__(self, windows: SiteWindows) -> None:
        self.windows = windows
        self._zone = ZoneInfo(windows.timezone)
        # Production intervals per local day: a calendar kept across planning runs (the
        # benchmark's) computes each day once.
        self._days: dict[date, tuple[Slot, ...]] = {}

    def _holiday(self, day: date) -> bool:
        w = self.windows
        return (w.holidays is not None and day not in w.working_days
                and day in _holidays(w.holidays, day.year))

    def _day(self, day: date) -> tuple[Slot, ...]:
        got = self._days.get(day)
        if got is None:
            got = ()
            if not self._holiday(day):
                got = tuple(
                    Slot(start=datetime.combine(day, s.start, self._zone),
                         end=datetime.combine(day + _DAY if s.end <= s.start else day, s.end,
                                              self._zone))
                    for s in self.windows.production if day.weekday() in s.weekdays)
            self._days[day] = got
        return got

    def _shifts(self, first: date, last: date) -> Iterator[Slot]:
        """Production intervals of the local days ``first..last`` (before planned stops)."""
        day = first
        while day <= last:
            yield from self._day(day)
            day += _DAY

    def production(self, after: datetime, until: datetime) -> list[Slot]:
        """Merged production intervals overlapping ``[after, until)``, planned stops cut out."""
        if after.utcoffset() is None or until.utcoffset() is None:
            raise ValueError("after and until must be timezone-aware")
        first = after.astimezone(self._zone).date() - _DAY
        last = until.astimezone(self._zone).date()
        busy = sorted((s.start, s.end) for s in self._shifts(first, last)
                       if s.end > after and s.start < until)
        for stop in self.windows.planned_stops:
            cut: list[tuple[datetime, datetime]] = []
            for a, b in busy:
                if stop.end <= a or stop.start >= b:
                    cut.append((a, b))
                    continue
                if a < stop.start:
                    cut.append((a, stop.start))
                if stop.end < b:
                    cut.append((stop.end, b))
            busy = cut
        merged: list[tuple[datetime, datetime]] = []
        for a, b in sorted(busy):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return [Slot(start=a, end=b) for a, b in merged]

    def is_production(self, at: datetime) -> bool:
        return any(s.start <= at < s.end for s in self.production(at, at + timedelta(seconds=1)))

    def free(self, after: datetime, until: datetime) -> list[Slot]:
        """Maintenance windows inside ``[after, until)``, in order."""
        out: list[Slot] = []
        cursor = after
        for p in self.production(after, until):
            if p.start > cursor:
                out.append(Slot(start=cursor, end=min(p.start, until)))
            cursor = max(cursor, p.end)
        if cursor < until:
            out.append(Slot(start=cursor, end=until))
        return out

    def slot(self, *, after: datetime, duration: timedelta, search: timedelta) -> Slot:
        """The earliest ``duration`` inside one maintenance window, starting at or after
        ``after``; ``NoWindow`` when none starts within ``search``."""
        if duration <= timedelta(0):
            raise ValueError("duration must be positive")
        # A week at a time: most slots are found in the first, and the rest of the search
        # span is not computed (the long-horizon benchmark plans thousands of visits).
        start, limit = after, after + search
        while start <= limit:
            until = min(start + _WEEK, limit)
            for w in self.free(start, until + duration):
                if w.start <= until and w.end - w.start >= duration:
                    return Slot(start=w.start, end=w.start + duration)
            start = until + timedelta(microseconds=1) if until == limit else until
        raise NoWindow(f"no {duration} maintenance window in the {search} after "
                       f"{after.isoformat()}")
