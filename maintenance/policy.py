"""The maintenance policy (service rules section 8): plans, their triggers and checklists,
the condition rule, scheduling numbers and the customers' maintenance windows.

Read from TOML (``maintenance/policies/default.toml`` ships the defaults) into frozen pydantic
models that refuse unknown keys, so a misspelt ``every_dayz`` is an error, not a plan that
never falls due.
"""

from __future__ import annotations

from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from maintenance.errors import PolicyError
from ticketing.errors import PolicyError as _TicketingPolicyError
from ticketing.policy import parse_toml

__all__ = ["CalendarRule", "UsageRule", "PartNeed", "PlanDef", "PackageDef", "ConditionRule",
           "Scheduling", "PartsRules", "OverdueRules", "ShiftDef", "PlannedStop", "SiteWindows",
           "MaintenancePolicy",
           "load_policy", "builtin_policy", "COUNTERS"]

# The robots' own counters in the telemetry (docs/signals.md, controller signals).
COUNTERS = ("cycle_count", "operating_hours")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarRule(_Model):
    """Every ``every_days`` days or ``every_months`` months; ``weekday`` (0 = Monday) moves
    the due date forward to that day of the week."""

    every_days: int | None = Field(default=None, gt=0)
    every_months: int | None = Field(default=None, gt=0)
    weekday: int | None = Field(default=None, ge=0, le=6)

    @model_validator(mode="after")
    def _one_period(self) -> CalendarRule:
        if (self.every_days is None) == (self.every_months is None):
            raise ValueError("give exactly one of every_days and every_months")
        return self


class UsageRule(_Model):
    """Every ``every`` units of a robot counter (cycles or servo-on hours)."""

    counter: Literal["cycle_count", "operating_hours"]
    every: float = Field(gt=0)


class PartNeed(_Model):
    """A part a checklist uses: the seam to ``parts/`` (reservation is done there)."""

    part: str = Field(min_length=1)
    quantity: int = Field(default=1, gt=0)


class PlanDef(_Model):
    title: str = Field(min_length=1)
    models: tuple[str, ...] = ("*",)
    calendar: CalendarRule | None = None
    usage: UsageRule | None = None
    # Condition moves this plan earlier when the robot's health or RUL asks for it.
    condition: bool = False
    duration_h: float = Field(gt=0, le=24)
    checklist: tuple[str, ...] = Field(min_length=1)
    parts: tuple[PartNeed, ...] = ()
    skills: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _has_trigger(self) -> PlanDef:
        if self.calendar is None and self.usage is None:
            raise ValueError("a plan needs a calendar or a usage trigger")
        return self

    def applies_to(self, model: str | None) -> bool:
        return "*" in self.models or (model is not None and model in self.models)


class PackageDef(_Model):
    """A service package a customer buys: the plans it includes."""

    title: str
    plans: tuple[str, ...] = Field(min_length=1)


class ConditionRule(_Model):
    health_below: float = Field(gt=0, lt=1)
    lead_time_h: float = Field(gt=0)
    trend_days: float = Field(gt=0)


class Scheduling(_Model):
    create_ahead_days: float = Field(gt=0)
    place_before_days: float = Field(ge=0)
    bundle_within_days: float = Field(ge=0)
    overdue_escalate_h: float = Field(gt=0)
    max_visit_h: float = Field(gt=0, le=24)
    search_days: int = Field(gt=0)


class PartsRules(_Model):
    """Where a checklist's parts are reserved and how far ahead of the visit."""

    reserve_ahead_days: float = Field(gt=0)
    warehouse: str | None = None            # the default warehouse; None: no reservation
    cities: dict[str, str] = Field(default_factory=dict)   # site city -> warehouse
    sites: dict[str, str] = Field(default_factory=dict)    # site code -> warehouse (first)

    def warehouse_for(self, *, site: str, city: str | None) -> str | None:
        """The warehouse serving ``site``: its own entry, its city's, else the default."""
        if site in self.sites:
            return self.sites[site]
        if city is not None and city in self.cities:
            return self.cities[city]
        return self.warehouse


class OverdueRules(_Model):
    """The inspection's clock: a warning this long before the due date; the breach comes
    ``scheduling.overdue_escalate_h`` after it and climbs the service policy's ladder."""

    warn_before_h: float = Field(gt=0)


class ShiftDef(_Model):
    """A production shift: the robots run, nobody inspects them."""

    weekdays: tuple[int, ...] = Field(min_length=1)
    start: time
    end: time  # at or before start: ends the next day

    @model_validator(mode="after")
    def _days(self) -> ShiftDef:
        if any(not 0 <= d <= 6 for d in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) .. 6 (Sunday)")
        return self


class PlannedStop(_Model):
    start: datetime
    end: datetime
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> PlannedStop:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("give planned stops with their UTC offset")
        if self.end <= self.start:
            raise ValueError("a planned stop ends before it starts")
        return self


class SiteWindows(_Model):
    timezone: str = "Asia/Shanghai"
    holidays: str | None = "CN"  # country whose public holidays stop production
    production: tuple[ShiftDef, ...] = ()
    planned_stops: tuple[PlannedStop, ...] = ()
    # Days production runs despite a holiday table (a customer's own choice).
    working_days: tuple[date, ...] = ()


class MaintenancePolicy(_Model):
    plans: dict[str, PlanDef] = Field(min_length=1)
    packages: dict[str, PackageDef] = Field(default_factory=dict)
    condition: ConditionRule
    scheduling: Scheduling
    parts: PartsRules
    overdue: OverdueRules
    windows: SiteWindows = SiteWindows()
    sites: dict[str, SiteWindows] = Field(default_factory=dict)
    default_package: str
    customers: dict[str, str] = Field(default_factory=dict)  # customer code -> package

    @model_validator(mode="after")
    def _packages_known(self) -> MaintenancePolicy:
        for name, pkg in self.packages.items():
            unknown = set(pkg.plans) - set(self.plans)
            if unknown:
                raise ValueError(f"package {name} names unknown plans {sorted(unknown)}")
        for who, pkg_name in {"default_package": self.default_package,
                              **self.customers}.items():
            if pkg_name not in self.packages:
                raise ValueError(f"{who}: unknown package {pkg_name!r}")
        return self

    def plans_of(self, customer: str, model: str | None) -> list[str]:
        """Names of the plans that apply to a robot of ``model`` at ``customer``."""
        pkg = self.packages[self.customers.get(customer, self.default_package)]
        return [p for p in pkg.plans if self.plans[p].applies_to(model)]

    def windows_of(self, site: str) -> SiteWindows:
        return self.sites.get(site, self.windows)


def _parse(text: str, origin: str) -> MaintenancePolicy:
    try:
        return parse_toml(text, origin, MaintenancePolicy, what="maintenance policy")
    except _TicketingPolicyError as exc:
        raise PolicyError(str(exc)) from exc


def load_policy(path: Path) -> MaintenancePolicy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read the maintenance policy: {exc}") from exc
    return _parse(text, str(path))


def builtin_policy() -> MaintenancePolicy:
    entry = resources.files("maintenance.policies").joinpath("default.toml")
    return _parse(entry.read_text(encoding="utf-8"), "built-in maintenance policy")
