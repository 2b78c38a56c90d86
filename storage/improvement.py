"""The improvement loop's rows (service rules section 6): repeat faults, root-cause reports,
common problems with their CAPA, and quality-control draws with their checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one
from storage.tickets import Conn

__all__ = ["PreviousTicket", "RcaRow", "KindSpread", "CommonProblemRow", "QcDrawRow",
           "QcCheckRow", "previous_closed", "flag_repeat", "repeat_of", "require_rca",
           "get_rca", "set_rca_due", "submit_rca", "kind_spread", "lock_open_problem",
           "create_problem", "link_recent", "join_problem", "get_problem", "lock_problem",
           "list_problems", "update_problem", "problem_tickets", "resolved_between",
           "create_draw", "get_draw", "draw_checks", "record_check"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviousTicket:
    id: int
    number: str
    closed_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RcaRow:
    id: int
    ticket_id: int
    ticket: str
    required_for: list[str]
    required_at: datetime
    due_at: datetime | None
    category: str | None
    cause: str | None
    lessons: str | None
    gaps: str | None
    actions: list[str] | None
    submitted_at: datetime | None
    submitted_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class KindSpread:
    robots: int
    customers: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CommonProblemRow:
    id: int
    number: str
    kind: str
    opened_at: datetime
    robots: int
    customers: int
    owner: str
    state: str
    capa_due: datetime
    corrective: str | None
    preventive: str | None
    capa_at: datetime | None
    verify_due: datetime | None
    verification: str | None
    verified_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QcDrawRow:
    id: int
    period_from: datetime
    period_to: datetime
    seed: int
    share: float
    population: int
    drawn_at: datetime
    drawn_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QcCheckRow:
    draw_id: int
    ticket_id: int
    ticket: str
    result: str | None
    note: str | None
    checked_at: datetime | None
    checked_by: str | None


def previous_closed(
    *, conn: Conn, robot_id: int, kind: str, since: datetime, exclude: int
) -> PreviousTicket | None:
    """The latest ticket of this robot and fault kind completed (signed off or archived) since
    ``since``: the one a new ticket repeats."""
    r = _one(conn, """SELECT id, number, closed_at FROM tickets
                      WHERE robot_id = %s AND kind = %s AND id <> %s
                        AND state IN ('signed_off', 'archived') AND closed_at >= %s
                      ORDER BY closed_at DESC, id DESC LIMIT 1""",
             (robot_id, kind, exclude, since))
    return PreviousTicket(**r) if r else None


def flag_repeat(*, conn: Conn, ticket_id: int, previous_id: int, at: datetime) -> None:
    conn.execute("""INSERT INTO ticket_repeats (ticket_id, previous_id, flagged_at)
                    VALUES (%s, %s, %s) ON CONFLICT (ticket_id) DO NOTHING""",
                 (ticket_id, previous_id, at))


def repeat_of(*, conn: Conn, ticket_id: int) -> int | None:
    r = _one(conn, "SELECT previous_id FROM ticket_repeats WHERE ticket_id = %s", (ticket_id,))
    return int(r["previous_id"]) if r else None


_RCA = """SELECT r.id, r.ticket_id, t.number AS ticket, r.required_for, r.required_at, r.due_at,
                 r.category, r.cause, r.lessons, r.gaps, r.actions, r.submitted_at,
                 r.submitted_by
          FROM rca_reports r JOIN tickets t ON t.id = r.ticket_id"""


def require_rca(*, conn: Conn, ticket_id: int, why: str, at: datetime) -> None:
    """The ticket owes a root-cause report (``why``: grade, repeat); reasons accumulate."""
    conn.execute("""INSERT INTO rca_reports (ticket_id, required_for, required_at)
                    VALUES (%s, ARRAY[%s], %s)
                    ON CONFLICT (ticket_id) DO UPDATE SET required_for = ARRAY(
                        SELECT DISTINCT unnest(rca_reports.required_for || EXCLUDED.required_for)
                        ORDER BY 1)""", (ticket_id, why, at))


def get_rca(*, conn: Conn, ticket_id: int) -> RcaRow | None:
    r = _one(conn, f"{_RCA} WHERE r.ticket_id = %s", (ticket_id,))
    return RcaRow(**r) if r else None


def set_rca_due(*, conn: Conn, ticket_id: int, due_at: datetime) -> None:
    conn.execute("UPDATE rca_reports SET due_at = %s WHERE ticket_id = %s AND due_at IS NULL",
                 (due_at, ticket_id))


def submit_rca(
    *, conn: Conn, ticket_id: int, category: str, cause: str, lessons: str, gaps: str,
    actions: Sequence[str], at: datetime, by: str,
) -> bool:
    """Store the report once; False if there is none owed or it was submitted already."""
    r = _one(conn, """UPDATE rca_reports SET category = %s, cause = %s, lessons = %s, gaps = %s,
                          actions = %s, submitted_at = %s, submitted_by = %s
                      WHERE ticket_id = %s AND submitted_at IS NULL RETURNING id""",
             (category, cause, lessons, gaps, Jsonb(list(actions)), at, by, ticket_id))
    return r is not None


_RECENT_OF_KIND = """FROM tickets WHERE kind = %(kind)s AND created_at >= %(since)s
                        AND state NOT IN ('cancelled', 'merged')"""


def kind_spread(*, conn: Conn, kind: str, since: datetime) -> KindSpread:
    """Tickets of fault ``kind`` opened since ``since`` (not cancelled or merged): on how many
    robots, at how many customers. Asked only while no common problem of the kind is open."""
    r = _one(conn, f"""SELECT count(DISTINCT robot_id) AS robots,
                              count(DISTINCT customer_id) AS customers {_RECENT_OF_KIND}""",
             {"kind": kind, "since": since})
    assert r is not None  # an aggregate always yields a row
    return KindSpread(robots=int(r["robots"]), customers=int(r["customers"]))


_PROBLEM_COLS = ("id, number, kind, opened_at, robots, customers, owner, state, capa_due, "
                 "corrective, preventive, capa_at, verify_due, verification, verified_at")


def lock_open_problem(*, conn: Conn, kind: str) -> CommonProblemRow | None:
    """The open common problem of ``kind``, if any; serialises the decision to open one."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"common-problem:{kind}",))
    r = _one(conn, f"SELECT {_PROBLEM_COLS} FROM common_problems "
                   "WHERE kind = %s AND state IN ('open', 'capa') FOR UPDATE", (kind,))
    return CommonProblemRow(**r) if r else None


def create_problem(
    *, conn: Conn, kind: str, opened_at: datetime, robots: int, customers: int, owner: str,
    capa_due: datetime,
) -> CommonProblemRow:
    r = _one(conn, f"""WITH n AS (SELECT nextval(pg_get_serial_sequence('common_problems', 'id'))
                                         AS id)
                       INSERT INTO common_problems (id, number, kind, opened_at, robots,
                                                    customers, owner, state, capa_due)
                       SELECT n.id, 'PRB-' || lpad(n.id::text, 5, '0'), %s, %s, %s, %s, %s,
                              'open', %s FROM n
                       RETURNING {_PROBLEM_COLS}""",
             (kind, opened_at, robots, customers, owner, capa_due))
    assert r is not None  # INSERT ... RETURNING always yields the row
    return CommonProblemRow(**r)


def link_recent(*, conn: Conn, problem_id: int, kind: str, since: datetime) -> None:
    """Link a new problem to the tickets of its kind since ``since``, in one statement."""
    conn.execute(f"""INSERT INTO common_problem_tickets (problem_id, ticket_id, robot_id,
                                                        customer_id)
                     SELECT %(p)s, id, robot_id, customer_id {_RECENT_OF_KIND}
                     ON CONFLICT DO NOTHING""", {"p": problem_id, "kind": kind, "since": since})


def join_problem(
    *, conn: Conn, problem_id: int, ticket_id: int, robot_id: int, customer_id: int
) -> None:
    """A ticket joins an open problem; its robot and customer count once each."""
    conn.execute("""UPDATE common_problems SET
                        robots = robots + (NOT EXISTS (
                            SELECT 1 FROM common_problem_tickets
                            WHERE problem_id = %(p)s AND robot_id = %(r)s))::int,
                        customers = customers + (NOT EXISTS (
                            SELECT 1 FROM common_problem_tickets
                            WHERE problem_id = %(p)s AND customer_id = %(c)s))::int
                    WHERE id = %(p)s""", {"p": problem_id, "r": robot_id, "c": customer_id})
    conn.execute("""INSERT INTO common_problem_tickets (problem_id, ticket_id, robot_id,
                                                        customer_id)
                    VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                 (problem_id, ticket_id, robot_id, customer_id))


def get_problem(*, conn: Conn, problem_id: int) -> CommonProblemRow | None:
    r = _one(conn, f"SELECT {_PROBLEM_COLS} FROM common_problems WHERE id = %s", (problem_id,))
    return CommonProblemRow(**r) if r else None


def lock_problem(*, conn: Conn, problem_id: int) -> CommonProblemRow | None:
    r = _one(conn, f"SELECT {_PROBLEM_COLS} FROM common_problems WHERE id = %s FOR UPDATE",
             (problem_id,))
    return CommonProblemRow(**r) if r else None


def list_problems(*, conn: Conn, state: str | None = None) -> list[CommonProblemRow]:
    rows = _rows(conn, f"SELECT {_PROBLEM_COLS} FROM common_problems "
                       "WHERE %(s)s::text IS NULL OR state = %(s)s ORDER BY id DESC",
                 {"s": state})
    return [CommonProblemRow(**r) for r in rows]


_PROBLEM_SETTABLE = frozenset({"state", "corrective", "preventive", "capa_at", "verify_due",
                               "verification", "verified_at"})


def update_problem(*, conn: Conn, problem_id: int, changes: dict[str, Any]) -> None:
    bad = set(changes) - _PROBLEM_SETTABLE
    if bad:
        raise ValueError(f"cannot set {sorted(bad)} on a common problem")
    sets = ", ".join(f"{c} = %({c})s" for c in changes)
    conn.execute(f"UPDATE common_problems SET {sets} WHERE id = %(id)s",
                 {**changes, "id": problem_id})


def problem_tickets(*, conn: Conn, problem_id: int) -> list[str]:
    rows = _rows(conn, """SELECT t.number FROM common_problem_tickets p
                          JOIN tickets t ON t.id = p.ticket_id
                          WHERE p.problem_id = %s ORDER BY t.id""", (problem_id,))
    return [str(r["number"]) for r in rows]


def resolved_between(*, conn: Conn, since: datetime, until: datetime) -> list[int]:
    """Ids of tickets resolved in ``[since, until)`` and still resolved (not reopened): the
    population of a quality-control draw."""
    rows = _rows(conn, """SELECT id FROM tickets
                          WHERE resolved_at >= %s AND resolved_at < %s
                            AND state IN ('resolved', 'signed_off', 'archived')
                          ORDER BY id""", (since, until))
    return [int(r["id"]) for r in rows]


def create_draw(
    *, conn: Conn, since: datetime, until: datetime, seed: int, share: float, population: int,
    ticket_ids: Sequence[int], at: datetime, by: str,
) -> int:
    r = _one(conn, """INSERT INTO qc_draws (period_from, period_to, seed, share, population,
                                            drawn_at, drawn_by)
                      VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
             (since, until, seed, share, population, at, by))
    assert r is not None  # INSERT ... RETURNING always yields the row
    draw_id = int(r["id"])
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO qc_checks (draw_id, ticket_id) VALUES (%s, %s)",
                        [(draw_id, t) for t in ticket_ids])
    return draw_id


def get_draw(*, conn: Conn, draw_id: int) -> QcDrawRow | None:
    r = _one(conn, "SELECT id, period_from, period_to, seed, share, population, drawn_at, "
                   "drawn_by FROM qc_draws WHERE id = %s", (draw_id,))
    return QcDrawRow(**r) if r else None


def draw_checks(*, conn: Conn, draw_id: int) -> list[QcCheckRow]:
    rows = _rows(conn, """SELECT q.draw_id, q.ticket_id, t.number AS ticket, q.result, q.note,
                                 q.checked_at, q.checked_by
                          FROM qc_checks q JOIN tickets t ON t.id = q.ticket_id
                          WHERE q.draw_id = %s ORDER BY q.ticket_id""", (draw_id,))
    return [QcCheckRow(**r) for r in rows]


def record_check(
    *, conn: Conn, draw_id: int, ticket_id: int, result: str, note: str | None, at: datetime,
    by: str,
) -> bool:
    """Record one check's result once; False if the ticket is not in the draw or is checked."""
    r = _one(conn, """UPDATE qc_checks SET result = %s, note = %s, checked_at = %s,
                          checked_by = %s
                      WHERE draw_id = %s AND ticket_id = %s AND checked_at IS NULL
                      RETURNING ticket_id""", (result, note, at, by, draw_id, ticket_id))
    return r is not None
