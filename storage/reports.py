"""The SQL behind the KPIs and reports (``reports/``, service rules section 9): what the stored
tickets, their history and the stoppage anomalies say about one period and scope.

Every function counts; the rates, targets and wording are ``reports``'s. A ticket belongs to
the period it was accepted in (``created_at``); whatever happened to it is counted up to
``as_of`` (the period's end, or now while the period runs), so a report of a closed period
gives the same figures whenever it is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from storage.connect import Conn
from storage.rows import fetch_all as _rows

__all__ = ["ReportScope", "GradeCounts", "RobotFailures", "FleetFailures", "DayCounts",
           "grade_counts", "robot_failures", "fleet_failures", "day_counts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportScope:
    """Which tickets count: every filter given must match (None: any). ``department`` is the
    role of the assigned person (engineer, manager, expert, ...): people carry no department
    of their own yet."""

    customer: str | None = None
    site: str | None = None
    department: str | None = None
    engineer: str | None = None

    def label(self) -> str:
        parts = [f"{k} {v}" for k, v in (("customer", self.customer), ("site", self.site),
                                           ("department", self.department),
                                           ("engineer", self.engineer)) if v]
        return ", ".join(parts) or "all customers"


_SCOPE = """
    (%(customer)s::text IS NULL OR c.code = %(customer)s)
    AND (%(site)s::text IS NULL OR s.code = %(site)s)
    AND (%(department)s::text IS NULL OR e.role = %(department)s)
    AND (%(engineer)s::text IS NULL OR e.code = %(engineer)s)
"""

_COHORT = f"""
    SELECT t.id, t.grade, t.state, t.robot_id, t.kind, t.created_at, t.respond_by,
           t.resolve_by, t.merged_into,
           CASE WHEN t.responded_at < %(as_of)s THEN t.responded_at END AS responded_at,
           CASE WHEN t.resolved_at < %(as_of)s THEN t.resolved_at END AS resolved_at
      FROM tickets t
      JOIN robots r ON r.id = t.robot_id
      JOIN lines l ON l.id = r.line_id
      JOIN sites s ON s.id = l.site_id
      JOIN customers c ON c.id = t.customer_id
      LEFT JOIN engineers e ON e.id = t.assignee_id
     WHERE t.created_at >= %(start)s AND t.created_at < %(as_of)s AND {_SCOPE}
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class GradeCounts:
    """What the tickets of one grade accepted in the period did by ``as_of``.

    ``tickets`` leaves out cancelled and merged ones (``duplicates`` counts the merged);
    ``respond_due`` / ``resolve_due`` are the tickets whose clock was met or had run out;
    ``closed`` the ones signed off or archived, ``archive_complete`` those among them whose
    history holds every document (intake, dispatch, handling report, sign-off).
    """

    grade: str
    tickets: int
    duplicates: int
    respond_due: int
    responded_on_time: int
    resolve_due: int
    resolved_on_time: int
    resolved: int
    first_response_s: float      # summed over the responded tickets
    responded: int
    repair_s: float              # acceptance to resolution, summed over the resolved
    fixed_first_time: int        # resolved and never disputed or reopened
    repeats: int                 # same robot and kind resolved within the window before
    regraded: int
    closed: int
    archive_complete: int


def grade_counts(
    *, conn: Conn, start: datetime, end: datetime, as_of: datetime, scope: ReportScope,
    recurrence_window: timedelta,
) -> list[GradeCounts]:
    """One row per grade that has tickets in the period, grade I first."""
    sql = f"""
    WITH cohort AS ({_COHORT}),
    ev AS (
        SELECT e.ticket_id,
               bool_or(e.event IN ('dispute', 'reopen')) AS redone,
               bool_or(e.event = 'regrade') AS regraded,
               bool_or(e.event = 'created') AS intake,
               bool_or(e.event = 'dispatch') AS dispatched,
               bool_or(e.event = 'resolve' AND e.data ? 'report') AS reported,
               bool_or(e.event = 'sign_off') AS signed,
               bool_or(e.event IN ('sign_off', 'archive')) AS closed
          FROM ticket_events e JOIN cohort k ON k.id = e.ticket_id
         WHERE e.at < %(as_of)s
         GROUP BY e.ticket_id
    ),
    judged AS (
        SELECT k.*, COALESCE(ev.redone, false) AS redone,
               COALESCE(ev.regraded, false) AS regraded,
               COALESCE(ev.closed, false) AS closed,
               COALESCE(ev.intake AND ev.dispatched AND ev.reported AND ev.signed, false)
                   AS complete,
               EXISTS (SELECT 1 FROM tickets p
                        WHERE p.robot_id = k.robot_id AND p.kind = k.kind AND p.id <> k.id
                          AND p.resolved_at < k.created_at
                          AND p.resolved_at >= k.created_at - %(window)s) AS repeat,
               k.state IN ('cancelled', 'merged') AS void
          FROM cohort k LEFT JOIN ev ON ev.ticket_id = k.id
    )
    SELECT grade,
           count(*) FILTER (WHERE NOT void) AS tickets,
           count(*) FILTER (WHERE merged_into IS NOT NULL) AS duplicates,
           count(*) FILTER (WHERE NOT void AND (responded_at IS NOT NULL
                                                 OR respond_by < %(as_of)s)) AS respond_due,
           count(*) FILTER (WHERE NOT void AND responded_at <= respond_by) AS responded_on_time,
           count(*) FILTER (WHERE NOT void AND (resolved_at IS NOT NULL
                                                 OR resolve_by < %(as_of)s)) AS resolve_due,
           count(*) FILTER (WHERE NOT void AND resolved_at <= resolve_by) AS resolved_on_time,
           count(*) FILTER (WHERE NOT void AND resolved_at IS NOT NULL) AS resolved,
           COALESCE(sum(extract(epoch FROM responded_at - created_at))
                    FILTER (WHERE NOT void), 0)::float8 AS first_response_s,
           count(*) FILTER (WHERE NOT void AND responded_at IS NOT NULL) AS responded,
           COALESCE(sum(extract(epoch FROM resolved_at - created_at))
                    FILTER (WHERE NOT void), 0)::float8 AS repair_s,
           count(*) FILTER (WHERE NOT void AND resolved_at IS NOT NULL AND NOT redone)
               AS fixed_first_time,
           count(*) FILTER (WHERE NOT void AND repeat) AS repeats,
           count(*) FILTER (WHERE NOT void AND regraded) AS regraded,
           count(*) FILTER (WHERE NOT void AND closed) AS closed,
           count(*) FILTER (WHERE NOT void AND closed AND complete) AS archive_complete
      FROM judged GROUP BY grade ORDER BY grade"""
    rows = _rows(conn, sql, _params(start, end, as_of, scope, window=recurrence_window))
    return sorted((GradeCounts(**r) for r in rows), key=lambda g: _GRADE_ORDER.get(g.grade, 9))


_GRADE_ORDER = {"I": 0, "II": 1, "III": 2, "IV": 3}


def _params(start: datetime, end: datetime, as_of: datetime, scope: ReportScope,
            **extra: Any) -> dict[str, Any]:
    return {"start": start, "end": end, "as_of": as_of, "customer": scope.customer,
            "site": scope.site, "department": scope.department, "engineer": scope.engineer,
            **extra}


# Failures are the stoppages: each stoppage anomaly (monitoring saw the robot stop) and each
# stoppage ticket taken by hand (a monitoring ticket already has its anomaly). Downtime is the
# part of each between the period's start and as_of: the anomaly until it ended, a manual
# ticket until resolved.
_FAILURES = """
    WITH scoped AS (
        SELECT r.id, r.code FROM robots r
          JOIN lines l ON l.id = r.line_id JOIN sites s ON s.id = l.site_id
          JOIN customers c ON c.id = s.customer_id
         WHERE (%(customer)s::text IS NULL OR c.code = %(customer)s)
           AND (%(site)s::text IS NULL OR s.code = %(site)s)
    ),
    stops AS (
        SELECT a.robot_id, a.started_at AS began, COALESCE(a.ended_at, %(as_of)s) AS ended
          FROM anomalies a
         WHERE a.impact = 'stoppage' AND a.started_at < %(as_of)s
           AND (a.ended_at IS NULL OR a.ended_at > %(start)s)
        UNION ALL
        SELECT t.robot_id, t.created_at, COALESCE(t.resolved_at, %(as_of)s)
          FROM tickets t
         WHERE t.impact = 'stoppage' AND t.channel <> 'monitoring' AND t.created_at < %(as_of)s
           AND (t.resolved_at IS NULL OR t.resolved_at > %(start)s)
    ),
    per_robot AS (
        SELECT s.robot_id,
               count(*) FILTER (WHERE s.began >= %(start)s) AS failures,
               sum(extract(epoch FROM LEAST(s.ended, %(as_of)s) - GREATEST(s.began, %(start)s)))
                   FILTER (WHERE LEAST(s.ended, %(as_of)s) > GREATEST(s.began, %(start)s))
                   AS down_s
          FROM stops s JOIN scoped r ON r.id = s.robot_id
         GROUP BY s.robot_id
    )
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotFailures:
    robot: str
    failures: int
    down_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetFailures:
    robots: int
    failures: int
    down_s: float


def robot_failures(
    *, conn: Conn, start: datetime, end: datetime, as_of: datetime, scope: ReportScope,
    limit: int,
) -> list[RobotFailures]:
    """The robots with at least one failure started in the period, those up the shortest time
    per failure first (lowest MTBF), at most ``limit``. Robot-level: the customer and site of
    ``scope`` apply, its department and engineer do not."""
    # Up time counts until as_of: a running period has not had all its hours yet.
    hours = (as_of - start).total_seconds()
    rows = _rows(conn, f"""{_FAILURES}
        SELECT r.code AS robot, p.failures, COALESCE(p.down_s, 0)::float8 AS down_s
          FROM per_robot p JOIN scoped r ON r.id = p.robot_id
         WHERE p.failures > 0
         ORDER BY (%(secs)s - COALESCE(p.down_s, 0)) / p.failures, r.code
         LIMIT %(limit)s""", _params(start, end, as_of, scope, secs=hours, limit=limit))
    return [RobotFailures(**r) for r in rows]


def fleet_failures(
    *, conn: Conn, start: datetime, end: datetime, as_of: datetime, scope: ReportScope,
) -> FleetFailures:
    """Robots in scope, their failures started in the period and their downtime in it."""
    rows = _rows(conn, f"""{_FAILURES}
        SELECT (SELECT count(*) FROM scoped) AS robots,
               COALESCE(sum(failures), 0)::bigint AS failures,
               COALESCE(sum(down_s), 0)::float8 AS down_s
          FROM per_robot""", _params(start, end, as_of, scope))
    return FleetFailures(**rows[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class DayCounts:
    day: date
    opened: int
    resolved: int
    breached: int        # resolve clocks that ran out that day


def day_counts(
    *, conn: Conn, start: datetime, end: datetime, as_of: datetime, scope: ReportScope,
    timezone: str,
) -> list[DayCounts]:
    """Per local day of the period: tickets accepted, resolved and past their resolve
    deadline unresolved, for the report's chart."""
    rows = _rows(conn, f"""
        WITH days AS (
            SELECT d::date AS day
              FROM generate_series((%(start)s AT TIME ZONE %(tz)s)::date,
                                   ((%(end)s - interval '1 microsecond') AT TIME ZONE %(tz)s)::date,
                                   interval '1 day') d
        ), cohort AS ({_COHORT}), marks AS (
            SELECT (created_at AT TIME ZONE %(tz)s)::date AS day, 1 AS opened, 0 AS resolved,
                   0 AS breached FROM cohort WHERE state NOT IN ('cancelled', 'merged')
            UNION ALL
            SELECT (resolved_at AT TIME ZONE %(tz)s)::date, 0, 1, 0 FROM cohort
             WHERE resolved_at IS NOT NULL
            UNION ALL
            SELECT (resolve_by AT TIME ZONE %(tz)s)::date, 0, 0, 1 FROM cohort
             WHERE state NOT IN ('cancelled', 'merged') AND resolve_by < %(as_of)s
               AND (resolved_at IS NULL OR resolved_at > resolve_by)
        )
        SELECT d.day, COALESCE(sum(m.opened), 0)::int AS opened,
               COALESCE(sum(m.resolved), 0)::int AS resolved,
               COALESCE(sum(m.breached), 0)::int AS breached
          FROM days d LEFT JOIN marks m ON m.day = d.day
         GROUP BY d.day ORDER BY d.day""", _params(start, end, as_of, scope, tz=timezone))
    return [DayCounts(**r) for r in rows]
