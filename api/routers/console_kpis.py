"""``GET /api/v1/console/kpis``: what the console's KPI dashboard draws, the service KPIs of
the last few periods (weeks, months or quarters, the newest one still running) with their
policy targets and per-grade on-time rates, for the trend charts.

The figures are ``reports.kpis.compute_kpis``'s, the same as ``GET /reports/...`` (which
answers one period, and whose CSV the dashboard links to); this adds the run of periods and
the grades, which the report's JSON does not carry. Callers need the ``reports`` read scope;
a customer-bound caller is narrowed to its own customer (docs/console.md, docs/reports.md).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.auth import require_read
from api.auth.problems import not_found
from api.deps import ConnDep, CurrentUser, NowDep
from api.schemas import CODE_PATTERN
from reports.kpis import GradeLine, KpiReport, compute_kpis
from reports.periods import parse_period
from reports.policy import builtin_reports_policy
from storage.reports import ReportScope

__all__ = ["router", "KpiTrend", "recent_periods"]

router = APIRouter(prefix="/console", tags=["console"], dependencies=[require_read("reports")])

Code = Annotated[str | None, Query(pattern=CODE_PATTERN)]
Kind = Literal["weekly", "monthly", "quarterly"]
# Each period is one compute_kpis (a handful of aggregate queries, `robowatch bench reports`
# kpi_month_s); a year of months is the longest trend the dashboard offers.
MAX_PERIODS = 12


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class KpiFigure(_Out):
    name: str
    unit: str
    value: float | None
    basis: int | None
    target: float | None
    direction: Literal["min", "max"] | None
    met: bool | None


class PeriodKpis(_Out):
    period: str
    start: datetime
    end: datetime
    as_of: datetime
    kpis: list[KpiFigure]
    grades: list[GradeLine]     # the report's own rows: tickets and on-time rates per grade
    fleet_mtbf_h: float | None
    fleet_failures: int


class KpiTrend(_Out):
    kind: Kind
    scope: str
    policy: str
    periods: list[PeriodKpis]   # oldest first; the last is the current period


def _months_back(day: date, n: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 - n
    return index // 12, index % 12 + 1


def recent_periods(kind: Kind, today: date, count: int) -> list[str]:
    """Labels of the ``count`` periods of ``kind`` up to the one holding ``today``, oldest
    first (``2026-W49``, ``2026-12``, ``2026-Q4``)."""
    labels = []
    for n in range(count - 1, -1, -1):
        if kind == "weekly":
            year, week, _ = (today - timedelta(weeks=n)).isocalendar()
            labels.append(f"{year}-W{week:02d}")
        elif kind == "monthly":
            year, month = _months_back(today, n)
            labels.append(f"{year}-{month:02d}")
        else:
            year, month = _months_back(today, 3 * n)
            labels.append(f"{year}-Q{(month - 1) // 3 + 1}")
    return labels


def _period_kpis(r: KpiReport) -> PeriodKpis:
    return PeriodKpis(
        period=r.period.label, start=r.period.start, end=r.period.end, as_of=r.as_of,
        fleet_mtbf_h=r.fleet_mtbf_h, fleet_failures=r.fleet_failures,
        kpis=[KpiFigure(name=k.name, unit=k.unit, value=k.value, basis=k.basis,
                        target=k.target.value if k.target else None,
                        direction=k.target.direction if k.target else None, met=k.met)
              for k in r.kpis],
        grades=r.grades)


@router.get("/kpis", responses={404: {"description": "Another customer (or none such)"}})
def kpi_trend(
    conn: ConnDep, caller: CurrentUser, now: NowDep,
    kind: Kind = "monthly",
    count: Annotated[int, Query(ge=1, le=MAX_PERIODS, description="Periods, newest last")] = 6,
    customer: Code = None, site: Code = None, engineer: Code = None,
) -> KpiTrend:
    """The KPIs of the last ``count`` periods beside their targets, with per-grade rates."""
    if not caller.may_list(customer):
        raise not_found(f"customer {customer} not found")
    policy = builtin_reports_policy()
    zone = policy.reports.zone
    scope = ReportScope(customer=caller.customer_filter(customer), site=site, engineer=engineer)
    periods = [parse_period(kind, label, zone=zone)
               for label in recent_periods(kind, now.astimezone(zone).date(), count)]
    reports = [compute_kpis(conn=conn, period=p, scope=scope, policy=policy, now=now)
               for p in periods]
    return KpiTrend(kind=kind, scope=scope.label(), policy=reports[-1].policy,
                    periods=[_period_kpis(r) for r in reports])
