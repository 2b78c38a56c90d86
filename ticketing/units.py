"""The units policy files are written in: durations (``"15m"``, ``"3d"``), the two calendars a
clock counts in, and the frozen, closed model every policy section derives from.

Kept apart from ``ticketing.policy`` so that the sections of other concepts (the after-sales
rules in ``ticketing.feedback.policy``) can be typed with them and still be fields of the one
service policy, without an import cycle.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

__all__ = ["parse_duration", "format_duration", "Duration", "CalendarKind", "FrozenModel",
           "POSITIVE"]

# How a clock counts: every hour ("24x7"), or only the hours of working days in the site's
# time zone, without weekends and public holidays ("working").
CalendarKind = Literal["24x7", "working"]

_DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")


def parse_duration(value: Any) -> Any:
    """``"15m"``, ``"2h"``, ``"1h30m"``, ``"7d"`` -> timedelta; other values go to pydantic."""
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m and any(m.groups()):
            d, h, mi = (int(g) if g else 0 for g in m.groups())
            return timedelta(days=d, hours=h, minutes=mi)
        if not value.strip().upper().startswith("P"):
            raise ValueError(f"duration {value!r}: write it like '15m', '2h', '1h30m' or '7d'")
    return value


def format_duration(td: timedelta | None) -> str:
    if td is None:
        return "-"
    minutes = int(td.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days >= 4 and not hours and not mins:
        return f"{days}d"
    hours += days * 24
    return "".join(p for p in (f"{hours}h" if hours else "", f"{mins}m" if mins else "")) or "0m"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
POSITIVE = "must be longer than zero"


class FrozenModel(BaseModel):
    """Frozen, and refuses unknown keys: a typo in a policy file is an error, not a default."""

    model_config = ConfigDict(frozen=True, extra="forbid")
