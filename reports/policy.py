"""The reports policy: KPI targets, the report time zone, the recurrence window and records
retention (``reports/policies/reports.toml``), validated by frozen models that refuse unknown
keys."""

from __future__ import annotations

import functools
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ticketing.policy import Grade, Tier, parse_toml, read_toml
from ticketing.units import Duration

__all__ = ["KPI_NAMES", "Target", "ReportsHeader", "Retention", "ReportsPolicy",
           "load_reports_policy", "builtin_reports_policy"]

# The KPI set (docs/reports.md); a target may be given for each, and only for these.
KPI_NAMES = (
    "response_on_time", "resolution_on_time", "completion", "first_response_min", "mttr_h",
    "first_time_fix", "recurrence", "work_order_accuracy", "archive_completeness",
    "satisfaction", "satisfied_share", "complaint_rate",
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Target(_Model):
    """A floor (``min``) or a ceiling (``max``) for one KPI."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Target:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of min or max")
        return self

    @property
    def direction(self) -> Literal["min", "max"]:
        return "min" if self.min is not None else "max"

    @property
    def value(self) -> float:
        v = self.min if self.min is not None else self.max
        assert v is not None  # exactly one is set (validated)
        return v

    def met(self, figure: float) -> bool:
        return figure >= self.value if self.direction == "min" else figure <= self.value

    def label(self) -> str:
        return f"{'>=' if self.direction == 'min' else '<='} {self.value:g}"


class ReportsHeader(_Model):
    name: str
    version: str
    timezone: str
    recurrence_window: Duration
    mtbf_rows: int = Field(ge=1, le=1000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Retention(_Model):
    years: int = Field(ge=1)
    long_years: int = Field(ge=1)
    long_grades: tuple[Grade, ...] = ()
    long_tiers: tuple[Tier, ...] = ()

    @model_validator(mode="after")
    def _longer(self) -> Retention:
        if self.long_years < self.years:
            raise ValueError("long_years is shorter than years")
        return self

    def years_for(self, *, grade: str, tier: str) -> int:
        long = grade in self.long_grades or tier in self.long_tiers
        return self.long_years if long else self.years

    def keep_until(self, *, grade: str, tier: str, closed_at: datetime) -> date:
        """The last day the records of a ticket closed at ``closed_at`` must be kept."""
        return _after(closed_at, self.years_for(grade=grade, tier=tier))

    def feedback_keep_until(self, *, major: bool, tier: str, closed_at: datetime) -> date:
        """The same for a feedback record or complaint completed at ``closed_at``: it has no
        grade; a major item (revisited, section 5) is a major issue and keeps the long period,
        like a customer of a long-kept tier."""
        long = major or tier in self.long_tiers
        return _after(closed_at, self.long_years if long else self.years)


def _after(closed_at: datetime, years: int) -> date:
    """``years`` calendar years after the day of ``closed_at``."""
    closed = closed_at.date()
    try:
        return closed.replace(year=closed.year + years)
    except ValueError:  # 29 February: keep until 1 March
        return closed.replace(year=closed.year + years, month=3, day=1)


class ReportsPolicy(_Model):
    reports: ReportsHeader
    targets: dict[str, Target] = {}
    retention: Retention

    @field_validator("targets")
    @classmethod
    def _known_kpis(cls, v: dict[str, Target]) -> dict[str, Target]:
        unknown = sorted(set(v) - set(KPI_NAMES))
        if unknown:
            raise ValueError(f"unknown KPI {unknown}; known: {list(KPI_NAMES)}")
        return v

    @property
    def label(self) -> str:
        return f"{self.reports.name} v{self.reports.version}"


def load_reports_policy(path: Path | None = None) -> ReportsPolicy:
    """The policy in ``path``, or the shipped default."""
    if path is None:
        return builtin_reports_policy()
    return read_toml(path, ReportsPolicy, what="reports policy")


@functools.cache
def builtin_reports_policy() -> ReportsPolicy:
    entry = resources.files("reports.policies").joinpath("reports.toml")
    return parse_toml(entry.read_text(encoding="utf-8"), "reports/policies/reports.toml",
                      ReportsPolicy, what="reports policy")
