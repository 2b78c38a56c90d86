"""``GET /api/v1/reports/{weekly|monthly|quarterly}/{period}``: the KPI report of a period
(``2026-W48``, ``2026-11``, ``2026-Q4``) as JSON, or with ``?format=`` as Markdown, CSV (a
download) or a self-contained HTML page. Filters: customer, site, department, engineer.
Targets come from the shipped reports policy (``reports/policies/reports.toml``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from api.auth import require_read
from api.auth.problems import not_found, problem_response
from api.deps import ConnDep, CurrentUser, NowDep
from api.schemas import CODE_PATTERN
from reports.errors import PeriodError
from reports.kpis import compute_kpis
from reports.periods import parse_period
from reports.policy import builtin_reports_policy
from reports.render import MEDIA_TYPES, as_format, render
from storage.reports import ReportScope

__all__ = ["router", "ReportsPublic"]

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[require_read("reports")])

Code = Annotated[str | None, Query(pattern=CODE_PATTERN)]


class KpiPublic(BaseModel):
    name: str
    title: str
    unit: str
    value: float | None
    shown: str
    basis: int | None
    target: str
    met: bool | None
    note: str


class ReportsPublic(BaseModel):
    period: str
    start: datetime
    end: datetime
    as_of: datetime
    scope: str
    policy: str
    kpis: list[KpiPublic]
    fleet_mtbf_h: float | None
    fleet_robots: int
    fleet_failures: int


@router.get("/{kind}/{period}", response_model=None,
            responses={200: {"content": {v: {} for v in MEDIA_TYPES.values()}},
                       404: {"description": "Not a report kind"},
                       422: {"description": "Not a period of that kind"}})
def report(
    conn: ConnDep, caller: CurrentUser, now: NowDep,
    kind: Literal["weekly", "monthly", "quarterly"], period: str,
    format: Annotated[Literal["json", "md", "csv", "html"], Query()] = "json",
    customer: Code = None, site: Code = None, department: Code = None, engineer: Code = None,
) -> ReportsPublic | Response:
    """The period's KPIs beside their targets."""
    if not caller.may_list(customer):
        raise not_found(f"customer {customer} not found")
    policy = builtin_reports_policy()
    try:
        span = parse_period(kind, period, zone=policy.reports.zone)
    except PeriodError as exc:
        return problem_response(422, str(exc))
    scope = ReportScope(customer=caller.customer_filter(customer), site=site,
                        department=department, engineer=engineer)
    r = compute_kpis(conn=conn, period=span, scope=scope, policy=policy, now=now)
    if format != "json":
        fmt = as_format(format)
        headers = ({"Content-Disposition": f'attachment; filename="report-{period}.csv"'}
                   if fmt == "csv" else {})
        return Response(render(r, fmt), media_type=MEDIA_TYPES[fmt], headers=headers)
    return ReportsPublic(
        period=span.label, start=span.start, end=span.end, as_of=r.as_of,
        scope=scope.label(), policy=r.policy, fleet_mtbf_h=r.fleet_mtbf_h,
        fleet_robots=r.fleet_robots, fleet_failures=r.fleet_failures,
        kpis=[KpiPublic(name=k.name, title=k.title, unit=k.unit, value=k.value,
                        shown=k.shown(), basis=k.basis, target=k.target_shown(), met=k.met,
                        note=k.note) for k in r.kpis])
