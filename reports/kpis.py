"""The KPI set of service rules section 9 for one period and scope, with the policy's targets.

Ticket figures come from ``storage.reports`` (one query per grade table, two for failures,
one for the daily series). The feedback figures (satisfaction, satisfied share, complaint
rate) are separate sources (:data:`FEEDBACK_SOURCES`) over the callback surveys and
complaints of after sales (``storage.callbacks``, ``storage.feedback``); with none in the
period they answer "no data", never zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from reports.periods import Period
from reports.policy import ReportsPolicy, Target
from storage.callbacks import callback_scores
from storage.connect import Conn
from storage.feedback import complaints_between
from storage.reports import (
    DayCounts,
    GradeCounts,
    ReportScope,
    day_counts,
    fleet_failures,
    grade_counts,
    robot_failures,
)

__all__ = ["Unit", "Kpi", "GradeLine", "RobotMtbf", "KpiReport", "FeedbackSource",
           "FEEDBACK_SOURCES", "compute_kpis"]

Unit = Literal["share", "min", "h", "score"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Kpi:
    """One figure: ``value`` None means no data (nothing to count, or not recorded yet), and
    ``note`` says which."""

    name: str
    title: str
    unit: Unit
    value: float | None
    basis: int | None            # how many tickets (or answers) the figure is over
    target: Target | None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.target.met(self.value)

    def shown(self) -> str:
        return "no data" if self.value is None else format_value(self.value, self.unit)

    def target_shown(self) -> str:
        if self.target is None:
            return ""
        sign = ">=" if self.target.direction == "min" else "<="
        return f"{sign} {format_value(self.target.value, self.unit)}"


def format_value(value: float, unit: Unit) -> str:
    if unit == "share":
        return f"{100 * value:.1f} %"
    if unit == "min":
        return f"{value:.1f} min"
    if unit == "h":
        return f"{value:.1f} h"
    return f"{value:.2f}"


@dataclass(frozen=True, slots=True, kw_only=True)
class GradeLine:
    grade: str
    tickets: int
    response_on_time: float | None
    resolution_on_time: float | None
    completion: float | None
    first_response_min: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotMtbf:
    robot: str
    failures: int
    down_h: float
    mtbf_h: float


@dataclass(frozen=True, slots=True, kw_only=True)
class KpiReport:
    period: Period
    scope: ReportScope
    as_of: datetime
    policy: str
    kpis: list[Kpi]
    grades: list[GradeLine]
    fleet_mtbf_h: float | None
    fleet_robots: int
    fleet_failures: int
    robots: list[RobotMtbf]
    days: list[DayCounts]

    def kpi(self, name: str) -> Kpi:
        for k in self.kpis:
            if k.name == name:
                return k
        raise KeyError(name)


# A feedback KPI: (connection, period, scope, as_of, target, tickets of the period) -> figure.
FeedbackSource = Callable[[Conn, Period, ReportScope, datetime, Target | None, int], Kpi]

# Callbacks and complaints belong to a customer, not to a site, engineer or department.
_CUSTOMER_ONLY = "by customer only: surveys and complaints are not per site or person"


def _scores(conn: Conn, period: Period, scope: ReportScope) -> list[int]:
    return [c.score for c in callback_scores(conn=conn, since=period.start, until=period.end,
                                              customer=scope.customer)]


def _satisfaction(conn: Conn, period: Period, scope: ReportScope, as_of: datetime,
                  target: Target | None, tickets: int) -> Kpi:
    scores = _scores(conn, period, scope)
    return Kpi(name="satisfaction", title="Customer satisfaction (mean of 5)", unit="score",
               value=sum(scores) / len(scores) if scores else None, basis=len(scores),
               target=target, note="" if scope.customer or not _narrowed(scope)
               else _CUSTOMER_ONLY)


def _satisfied_share(conn: Conn, period: Period, scope: ReportScope, as_of: datetime,
                     target: Target | None, tickets: int) -> Kpi:
    scores = _scores(conn, period, scope)
    return Kpi(name="satisfied_share", title="Satisfied customers (score >= 4)", unit="share",
               value=_share(sum(1 for x in scores if x >= 4), len(scores)), basis=len(scores),
               target=target, note="" if not _narrowed(scope) else _CUSTOMER_ONLY)


def _complaint_rate(conn: Conn, period: Period, scope: ReportScope, as_of: datetime,
                    target: Target | None, tickets: int) -> Kpi:
    complaints = complaints_between(conn=conn, since=period.start, until=period.end,
                                    customer=scope.customer)
    return Kpi(name="complaint_rate", title="Complaint rate", unit="share",
               value=_share(len(complaints), tickets), basis=tickets, target=target,
               note="complaints registered per ticket of the period"
               + ("" if not _narrowed(scope) else f"; {_CUSTOMER_ONLY}"))


def _narrowed(scope: ReportScope) -> bool:
    return any((scope.site, scope.department, scope.engineer))


FEEDBACK_SOURCES: dict[str, FeedbackSource] = {
    "satisfaction": _satisfaction,
    "satisfied_share": _satisfied_share,
    "complaint_rate": _complaint_rate,
}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _line(g: GradeCounts) -> GradeLine:
    return GradeLine(
        grade=g.grade, tickets=g.tickets,
        response_on_time=_share(g.responded_on_time, g.respond_due),
        resolution_on_time=_share(g.resolved_on_time, g.resolve_due),
        completion=_share(g.resolved, g.tickets),
        first_response_min=g.first_response_s / 60 / g.responded if g.responded else None)


def _total(grades: Sequence[GradeCounts], field: str) -> int:
    return sum(int(getattr(g, field)) for g in grades)


def compute_kpis(
    *, conn: Conn, period: Period, scope: ReportScope, policy: ReportsPolicy, now: datetime,
    feedback: dict[str, FeedbackSource] | None = None,
) -> KpiReport:
    """Every KPI of ``period`` for ``scope``, counted up to the period's end (or ``now``, while
    it runs)."""
    as_of = min(period.end, now)
    header = policy.reports
    grades = grade_counts(conn=conn, start=period.start, end=period.end, as_of=as_of,
                          scope=scope, recurrence_window=header.recurrence_window)
    fleet = fleet_failures(conn=conn, start=period.start, end=period.end, as_of=as_of,
                           scope=scope)
    worst = robot_failures(conn=conn, start=period.start, end=period.end, as_of=as_of,
                           scope=scope, limit=header.mtbf_rows)
    days = day_counts(conn=conn, start=period.start, end=period.end, as_of=as_of, scope=scope,
                      timezone=header.timezone)
    t = policy.targets.get

    def total(field: str) -> int:
        return _total(grades, field)

    tickets, resolved, responded = total("tickets"), total("resolved"), total("responded")
    with_dups = tickets + total("duplicates")
    kpis = [
        Kpi(name="response_on_time", title="Response on time", unit="share",
            value=_share(total("responded_on_time"), total("respond_due")),
            basis=total("respond_due"), target=t("response_on_time")),
        Kpi(name="resolution_on_time", title="Resolution on time", unit="share",
            value=_share(total("resolved_on_time"), total("resolve_due")),
            basis=total("resolve_due"), target=t("resolution_on_time")),
        Kpi(name="completion", title="Completion rate", unit="share",
            value=_share(resolved, tickets), basis=tickets, target=t("completion")),
        Kpi(name="first_response_min", title="Average first response", unit="min",
            value=total("first_response_s") / 60 / responded if responded else None,
            basis=responded, target=t("first_response_min")),
        Kpi(name="mttr_h", title="Mean time to repair (MTTR)", unit="h",
            value=total("repair_s") / 3600 / resolved if resolved else None, basis=resolved,
            target=t("mttr_h")),
        Kpi(name="first_time_fix", title="First-time fix", unit="share",
            value=_share(total("fixed_first_time"), resolved), basis=resolved,
            target=t("first_time_fix")),
        Kpi(name="recurrence", title="Recurrence (repeat faults)", unit="share",
            value=_share(total("repeats"), tickets), basis=tickets, target=t("recurrence")),
        Kpi(name="work_order_accuracy", title="Work-order accuracy", unit="share",
            value=_share(tickets - total("regraded"), with_dups), basis=with_dups,
            target=t("work_order_accuracy"),
            note="neither regraded nor a duplicate merged into another"),
        Kpi(name="archive_completeness", title="Archive completeness", unit="share",
            value=_share(total("archive_complete"), total("closed")), basis=total("closed"),
            target=t("archive_completeness"),
            note="closed tickets with intake, dispatch, handling report and sign-off"),
    ]
    for name, source in (feedback if feedback is not None else FEEDBACK_SOURCES).items():
        kpis.append(source(conn, period, scope, as_of, t(name), tickets))
    hours = (as_of - period.start).total_seconds() / 3600   # up time so far
    robots = [RobotMtbf(robot=r.robot, failures=r.failures, down_h=r.down_s / 3600,
                        mtbf_h=(hours - r.down_s / 3600) / r.failures) for r in worst]
    fleet_mtbf = ((fleet.robots * hours - fleet.down_s / 3600) / fleet.failures
                  if fleet.failures else None)
    return KpiReport(period=period, scope=scope, as_of=as_of, policy=policy.label, kpis=kpis,
                     grades=[_line(g) for g in grades], fleet_mtbf_h=fleet_mtbf,
                     fleet_robots=fleet.robots, fleet_failures=fleet.failures, robots=robots,
                     days=days)
