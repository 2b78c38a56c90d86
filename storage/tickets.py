"""Tickets and their append-only history: written by ticketing, read by the API.

Each function takes the connection as ``conn`` and works in the caller's transaction when one
is open (``atomic``), in its own otherwise. Rows are read through an explicit row factory, so a
connection built with any ``row_factory`` can be passed in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import psycopg
from psycopg.types.json import Jsonb

from storage.listing import order_by, page, where_all
from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one

__all__ = [
    "Conn", "UnticketedAnomaly", "NewTicket", "TicketRow",
    "TicketEventRow", "EngineerLoad", "TicketFilter", "TicketClocks", "TICKET_SORTS",
    "ticket_clocks", "get_tickets", "ticket_id_of", "RobotOwner", "atomic",
    "unticketed_anomalies", "claim_anomaly", "find_open_ticket", "same_kind_customers",
    "create_ticket", "attach_anomaly", "transition", "add_event", "list_tickets", "get_ticket",
    "lock_ticket", "ticket_events", "get_ticket_event", "events_since",
    "engineers_for_dispatch", "engineer_id", "open_tickets_of_kind", "robot_owner",
    "site_timezone", "move_anomalies",
    "TICKET_COLUMNS_SET_BY_TRANSITION",
]

Conn: TypeAlias = psycopg.Connection

# Columns a lifecycle transition may change besides state; anything else is refused so a
# typo cannot write an arbitrary column.
TICKET_COLUMNS_SET_BY_TRANSITION = frozenset({
    "assignee_id", "grade", "responded_at", "onsite_at", "plan_at", "resolved_at", "closed_at",
    "respond_by", "onsite_by", "plan_by", "resolve_by", "update_every", "escalation",
    "merged_into",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class UnticketedAnomaly:
    id: int
    robot_id: int
    robot: str
    component: str
    kind: str
    impact: str
    detector: str
    score: float | None
    started_at: datetime
    created_at: datetime
    customer_id: int
    customer: str
    tier: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTicket:
    robot_id: int
    customer_id: int
    tier: str
    impact: str
    grade: str
    component: str
    kind: str
    title: str
    policy: str
    created_at: datetime
    respond_by: datetime
    resolve_by: datetime
    onsite_by: datetime | None = None
    plan_by: datetime | None = None
    update_every: timedelta | None = None
    channel: str = "monitoring"
    state: str = "new"
    reporter: str | None = None      # who reported it (manual intake); None from monitoring
    description: str | None = None   # what the customer says happens
    request: str | None = None       # what the customer asks for


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketRow:
    id: int
    number: str
    robot_id: int
    robot: str
    customer_id: int
    customer: str
    tier: str
    impact: str
    grade: str
    component: str
    kind: str
    title: str
    channel: str
    state: str
    assignee: str | None
    policy: str
    created_at: datetime
    respond_by: datetime
    onsite_by: datetime | None
    plan_by: datetime | None
    resolve_by: datetime
    update_every: timedelta | None
    responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    anomaly_ids: list[int] = field(default_factory=list)
    # When the current wait for the customer began; None unless waiting_customer.
    paused_since: datetime | None = None
    # Optimistic concurrency: +1 on every change a person could be acting against.
    version: int = 1
    escalation: int = 1              # ladder level reached; 1 = the assignee
    onsite_at: datetime | None = None
    plan_at: datetime | None = None
    reporter: str | None = None
    description: str | None = None
    request: str | None = None
    merged_into: int | None = None
    timezone: str = "Asia/Shanghai"  # the site's: working-day clocks count in it


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketEventRow:
    id: int
    ticket_id: int
    at: datetime
    event: str
    actor: str
    from_state: str | None
    to_state: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotOwner:
    robot_id: int
    robot: str
    customer_id: int
    customer: str
    tier: str
    timezone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineerLoad:
    id: int
    code: str
    role: str
    city: str | None
    skills: list[str]
    open_tickets: int
    # engineers_for_dispatch returns people on duty only; a planner that judges duty per
    # slot (maintenance) marks who is off.
    on_duty: bool = True


def atomic(*, conn: Conn) -> contextlib.AbstractContextManager[Any]:
    """One transaction (a savepoint inside an open one): all of it is committed or none."""
    return conn.transaction()


_ANOMALY_SELECT = """
    SELECT a.id, a.robot_id, r.code AS robot, a.component, a.kind, a.impact, a.detector,
           a.score, a.started_at, a.created_at, c.id AS customer_id, c.code AS customer, c.tier,
           a.evidence
    FROM anomalies a
    JOIN robots r ON r.id = a.robot_id
    JOIN lines l ON l.id = r.line_id
    JOIN sites s ON s.id = l.site_id
    JOIN customers c ON c.id = s.customer_id
"""


def unticketed_anomalies(
    *, conn: Conn, limit: int, after_id: int = 0
) -> list[UnticketedAnomaly]:
    """Anomalies no ticket has taken yet, oldest first, with their robot and customer."""
    rows = _rows(conn, f"{_ANOMALY_SELECT} WHERE a.ticket_id IS NULL AND a.id > %s "
                       "ORDER BY a.id LIMIT %s", (after_id, limit))
    return [UnticketedAnomaly(**r) for r in rows]


def claim_anomaly(*, conn: Conn, anomaly_id: int) -> UnticketedAnomaly | None:
    """Lock an unticketed anomaly for the rest of the transaction; None if it is gone, already
    ticketed or being handled by another worker."""
    r = _one(conn, f"{_ANOMALY_SELECT} WHERE a.id = %s AND a.ticket_id IS NULL "
                   "FOR UPDATE OF a SKIP LOCKED", (anomaly_id,))
    return UnticketedAnomaly(**r) if r else None


_PAUSED_SINCE = """CASE WHEN t.state = 'waiting_customer' THEN
               (SELECT max(ev.at) FROM ticket_events ev
                WHERE ev.ticket_id = t.id AND ev.to_state = 'waiting_customer'
                  AND ev.from_state IS DISTINCT FROM 'waiting_customer')
           END"""
_TICKET_SELECT = f"""
    SELECT t.id, t.number, t.robot_id, r.code AS robot, t.customer_id, c.code AS customer,
           t.tier, t.impact, t.grade, t.component, t.kind, t.title, t.channel, t.state,
           e.code AS assignee, t.policy, t.created_at, t.respond_by, t.onsite_by, t.plan_by,
           t.resolve_by, t.update_every, t.responded_at, t.resolved_at, t.closed_at,
           t.updated_at,
           COALESCE((SELECT array_agg(a.id ORDER BY a.id) FROM anomalies a
                     WHERE a.ticket_id = t.id), '{{}}') AS anomaly_ids,
           {_PAUSED_SINCE} AS paused_since,
           t.version, t.escalation, t.onsite_at, t.plan_at, t.reporter, t.description,
           t.request, t.merged_into, s.timezone
    FROM tickets t
    JOIN robots r ON r.id = t.robot_id
    JOIN lines l ON l.id = r.line_id
    JOIN sites s ON s.id = l.site_id
    JOIN customers c ON c.id = t.customer_id
    LEFT JOIN engineers e ON e.id = t.assignee_id
"""


def _ticket(r: dict[str, Any]) -> TicketRow:
    return TicketRow(**{**r, "anomaly_ids": [int(i) for i in r["anomaly_ids"]]})


def find_open_ticket(*, conn: Conn, robot_id: int, component: str, kind: str) -> TicketRow | None:
    """The open (not closed) ticket of this robot + component + kind, if any.

    Inside a transaction it also takes a lock on that key until commit, so two workers
    cannot both decide to open a ticket for the same fault.
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                 (f"ticket:{robot_id}:{component}:{kind}",))
    r = _one(conn, f"{_TICKET_SELECT} WHERE t.robot_id = %s AND t.component = %s AND t.kind = %s "
                   "AND t.closed_at IS NULL ORDER BY t.id DESC LIMIT 1",
             (robot_id, component, kind))
    return _ticket(r) if r else None


def same_kind_customers(*, conn: Conn, kind: str, tiers: Sequence[str], since: datetime) -> int:
    """How many distinct customers of ``tiers`` had an anomaly of ``kind`` recorded since
    ``since``: the input of the multi-customer escalation rule."""
    r = _one(conn, f"""SELECT count(DISTINCT c.id) AS n FROM ({_ANOMALY_SELECT}) x
                       JOIN customers c ON c.id = x.customer_id
                       WHERE x.kind = %s AND c.tier = ANY(%s) AND x.created_at >= %s""",
             (kind, list(tiers), since))
    return int(r["n"]) if r else 0


def _insert_event(
    conn: Conn, *, ticket_id: int, at: datetime, event: str, actor: str,
    from_state: str | None, to_state: str | None, data: dict[str, Any],
) -> int:
    row = _one(conn, """INSERT INTO ticket_events
                            (ticket_id, at, event, actor, from_state, to_state, data)
                        VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
               (ticket_id, at, event, actor, from_state, to_state, Jsonb(data)))
    assert row is not None  # INSERT ... RETURNING always yields the row
    return int(row["id"])


def add_event(
    *, conn: Conn, ticket_id: int, at: datetime, event: str, actor: str, state: str,
    data: dict[str, Any] | None = None,
) -> int:
    """Append a history row that changes nothing on the ticket (a warning, a breach, a merged
    duplicate): its id, which the notification outbox reads past (``events_since``)."""
    return _insert_event(conn, ticket_id=ticket_id, at=at, event=event, actor=actor,
                         from_state=state, to_state=state, data=data or {})


def create_ticket(
    *, conn: Conn, ticket: NewTicket, actor: str, data: dict[str, Any] | None = None
) -> TicketRow:
    """Insert a ticket numbered ``RW-YYYYMMDD-NNNN`` (UTC day of ``created_at``, counter per
    day) and its ``created`` history row."""
    if ticket.created_at.utcoffset() is None:
        raise ValueError("created_at must be timezone-aware")
    prefix = f"RW-{ticket.created_at.astimezone(UTC):%Y%m%d}-"
    with conn.transaction():
        # Serialises numbering across workers; released at commit.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('robowatch:ticket-number'))")
        last = _one(conn, "SELECT number FROM tickets WHERE number LIKE %s "
                          "ORDER BY length(number) DESC, number DESC LIMIT 1", (prefix + "%",))
        seq = int(last["number"].rsplit("-", 1)[1]) + 1 if last else 1
        values = {f.name: getattr(ticket, f.name) for f in fields(NewTicket)}
        values["number"] = f"{prefix}{seq:04d}"
        cols = ", ".join(values)
        marks = ", ".join(f"%({c})s" for c in values)
        new_id = _one(conn, f"INSERT INTO tickets ({cols}, updated_at) "
                            f"VALUES ({marks}, %(created_at)s) RETURNING id", values)
        assert new_id is not None  # INSERT ... RETURNING always yields the row
        _insert_event(conn, ticket_id=new_id["id"], at=ticket.created_at, event="created",
                      actor=actor, from_state=None, to_state=ticket.state, data=data or {})
        row = get_ticket(conn=conn, ticket_id=new_id["id"])
    assert row is not None
    return row


def attach_anomaly(
    *, conn: Conn, ticket_id: int, anomaly_id: int, actor: str = "ticketing",
    at: datetime | None = None, data: dict[str, Any] | None = None,
) -> bool:
    """Link an unticketed anomaly to a ticket and record ``anomaly_appended`` (with ``data``,
    e.g. why it belongs there); False when the anomaly is unknown or already ticketed."""
    with conn.transaction():
        linked = _one(conn, """UPDATE anomalies SET ticket_id = %s
                               WHERE id = %s AND ticket_id IS NULL RETURNING id, kind, component""",
                      (ticket_id, anomaly_id))
        if linked is None:
            return False
        t = _one(conn, "UPDATE tickets SET updated_at = COALESCE(%s, now()) WHERE id = %s "
                       "RETURNING state, updated_at", (at, ticket_id))
        if t is None:
            raise ValueError(f"no ticket {ticket_id}")
        _insert_event(conn, ticket_id=ticket_id, at=t["updated_at"], event="anomaly_appended",
                      actor=actor, from_state=t["state"], to_state=t["state"],
                      data={"anomaly_id": anomaly_id, **(data or {})})
    return True


def transition(
    *,
    conn: Conn,
    ticket_id: int,
    from_state: str,
    to_state: str,
    event: str,
    actor: str,
    at: datetime,
    data: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> TicketRow | None:
    """Move a ticket from ``from_state`` to ``to_state``, add 1 to its version and append the
    history row, in one transaction. None, and nothing written, when the ticket is no longer
    in ``from_state`` or no longer at ``expected_version`` (when given)."""
    changes = dict(changes or {})
    bad = set(changes) - TICKET_COLUMNS_SET_BY_TRANSITION
    if bad:
        raise ValueError(f"a transition cannot set {sorted(bad)}")
    sets = ", ".join(["state = %(to_state)s", "updated_at = %(at)s", "version = version + 1",
                      *(f"{c} = %(c_{c})s" for c in changes)])
    params = {"to_state": to_state, "at": at, "id": ticket_id, "from_state": from_state,
              "version": expected_version, **{f"c_{c}": v for c, v in changes.items()}}
    with conn.transaction():
        moved = _one(conn, f"UPDATE tickets SET {sets} WHERE id = %(id)s "
                           "AND state = %(from_state)s "
                           "AND (%(version)s::integer IS NULL OR version = %(version)s) "
                           "RETURNING id", params)
        if moved is None:
            return None
        _insert_event(conn, ticket_id=ticket_id, at=at, event=event, actor=actor,
                      from_state=from_state, to_state=to_state, data=data or {})
        return get_ticket(conn=conn, ticket_id=ticket_id)


TICKET_SORTS = {"created_at": "t.created_at", "updated_at": "t.updated_at",
                "number": "t.number", "grade": "t.grade", "state": "t.state",
                "respond_by": "t.respond_by", "resolve_by": "t.resolve_by"}
# What a ticket filter may refer to (TicketFilter.where): the ticket and its robot, line,
# site, customer and assignee.
_TICKET_FROM = """FROM tickets t
                  JOIN robots r ON r.id = t.robot_id JOIN lines l ON l.id = r.line_id
                  JOIN sites s ON s.id = l.site_id JOIN customers c ON c.id = t.customer_id
                  LEFT JOIN engineers e ON e.id = t.assignee_id"""
_TICKET_COUNT = f"SELECT count(*) AS n {_TICKET_FROM}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketFilter:
    """Which tickets a list holds; ``None``: any. Codes match case-insensitively."""

    open_only: bool = False
    state: str | None = None
    robot: str | None = None
    customer: str | None = None
    grade: str | None = None
    assignee: str | None = None
    site: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        return where_all([
            ("open", "t.closed_at IS NULL", True if self.open_only else None),
            ("state", "t.state = %(state)s", self.state),
            ("robot", "lower(r.code) = lower(%(robot)s)", self.robot),
            ("customer", "lower(c.code) = lower(%(customer)s)", self.customer),
            ("grade", "t.grade = %(grade)s", self.grade),
            ("assignee", "lower(e.code) = lower(%(assignee)s)", self.assignee),
            ("site", "lower(s.code) = lower(%(site)s)", self.site),
        ])


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketClocks:
    """What ordering tickets by urgency needs: the deadlines and the milestones met."""

    id: int
    grade: str
    respond_by: datetime
    onsite_by: datetime | None
    plan_by: datetime | None
    resolve_by: datetime
    update_every: timedelta | None
    responded_at: datetime | None
    onsite_at: datetime | None
    plan_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    paused_since: datetime | None


def list_tickets(
    *, conn: Conn, open_only: bool = False, state: str | None = None, robot: str | None = None,
    customer: str | None = None, grade: str | None = None, assignee: str | None = None,
    site: str | None = None, sort: str = "-created_at", limit: int = 100, offset: int = 0,
) -> tuple[list[TicketRow], int]:
    """One page of tickets in ``sort`` order (a key of :data:`TICKET_SORTS`, ``-key``
    descending; newest first by default) and the total count matching the filters
    (:class:`TicketFilter`)."""
    cond, params = TicketFilter(open_only=open_only, state=state, robot=robot,
                                customer=customer, grade=grade, assignee=assignee,
                                site=site).where()
    rows, total = page(conn, _TICKET_SELECT, _TICKET_COUNT, cond,
                       order_by(sort, TICKET_SORTS, tiebreak="t.id DESC"), params, limit,
                       offset)
    return [_ticket(r) for r in rows], total


def ticket_clocks(*, conn: Conn, where: TicketFilter) -> list[TicketClocks]:
    """The clocks of every ticket matching ``where``: a narrow read, so that the caller can
    order them by a rule SQL does not hold (SLA urgency) and fetch one page with
    :func:`get_tickets`."""
    cond, params = where.where()
    rows = _rows(conn, f"""
        SELECT t.id, t.grade, t.respond_by, t.onsite_by, t.plan_by, t.resolve_by,
               t.update_every, t.responded_at, t.onsite_at, t.plan_at, t.resolved_at,
               t.closed_at, {_PAUSED_SINCE} AS paused_since
        {_TICKET_FROM}
        WHERE {cond}""", params)
    return [TicketClocks(**r) for r in rows]


def get_tickets(*, conn: Conn, ids: Sequence[int]) -> list[TicketRow]:
    """The tickets ``ids``, in that order (missing ones left out)."""
    rows = {r["id"]: _ticket(r)
            for r in _rows(conn, f"{_TICKET_SELECT} WHERE t.id = ANY(%s)", (list(ids),))}
    return [rows[i] for i in ids if i in rows]


def ticket_id_of(*, conn: Conn, ref: str) -> int | None:
    """The id of the ticket ``ref`` names: its id (``"42"``) or its number
    (``"RW-20261202-0001"``, in any case); None when there is no such ticket."""
    if ref.isdigit():
        r = _one(conn, "SELECT id FROM tickets WHERE id = %s", (int(ref),))
    else:
        r = _one(conn, "SELECT id FROM tickets WHERE number = %s", (ref.upper(),))
    return int(r["id"]) if r else None


def get_ticket(*, conn: Conn, ticket_id: int) -> TicketRow | None:
    r = _one(conn, f"{_TICKET_SELECT} WHERE t.id = %s", (ticket_id,))
    return _ticket(r) if r else None


def lock_ticket(*, conn: Conn, ticket_id: int) -> TicketRow | None:
    """The ticket, locked until the caller's transaction ends (others wait for it)."""
    r = _one(conn, f"{_TICKET_SELECT} WHERE t.id = %s FOR UPDATE OF t", (ticket_id,))
    return _ticket(r) if r else None


def ticket_events(*, conn: Conn, ticket_id: int) -> list[TicketEventRow]:
    """The ticket's history, oldest first."""
    rows = _rows(conn, """SELECT id, ticket_id, at, event, actor, from_state, to_state, data
                          FROM ticket_events WHERE ticket_id = %s ORDER BY id""", (ticket_id,))
    return [TicketEventRow(**r) for r in rows]


def get_ticket_event(*, conn: Conn, event_id: int) -> TicketEventRow | None:
    r = _one(conn, "SELECT id, ticket_id, at, event, actor, from_state, to_state, data "
                   "FROM ticket_events WHERE id = %s", (event_id,))
    return TicketEventRow(**r) if r else None


def events_since(
    *, conn: Conn, after_id: int, events: Sequence[str] | None = None, limit: int = 1000
) -> list[TicketEventRow]:
    """History rows of every ticket with an id above ``after_id``, oldest first, optionally of
    the given ``events`` only: how a consumer (the notification outbox) reads what is new."""
    rows = _rows(conn, """SELECT id, ticket_id, at, event, actor, from_state, to_state, data
                          FROM ticket_events
                          WHERE id > %s AND (%s::text[] IS NULL OR event = ANY(%s::text[]))
                          ORDER BY id LIMIT %s""",
                 (after_id, None if events is None else list(events),
                  None if events is None else list(events), limit))
    return [TicketEventRow(**r) for r in rows]


def robot_owner(*, conn: Conn, code: str) -> RobotOwner | None:
    """The robot ``code`` with its customer (and tier) and its site's time zone."""
    r = _one(conn, """SELECT r.id AS robot_id, r.code AS robot, c.id AS customer_id,
                             c.code AS customer, c.tier, s.timezone
                      FROM robots r JOIN lines l ON l.id = r.line_id
                      JOIN sites s ON s.id = l.site_id JOIN customers c ON c.id = s.customer_id
                      WHERE r.code = %s""", (code,))
    return RobotOwner(**r) if r else None


def site_timezone(*, conn: Conn, robot_id: int) -> str:
    """The time zone of the site the robot stands at."""
    r = _one(conn, """SELECT s.timezone FROM robots r JOIN lines l ON l.id = r.line_id
                      JOIN sites s ON s.id = l.site_id WHERE r.id = %s""", (robot_id,))
    if r is None:
        raise ValueError(f"no robot {robot_id}")
    return str(r["timezone"])


def move_anomalies(*, conn: Conn, from_ticket: int, to_ticket: int) -> list[int]:
    """Hand every anomaly of one ticket to another (a merged duplicate); their ids."""
    rows = _rows(conn, "UPDATE anomalies SET ticket_id = %s WHERE ticket_id = %s RETURNING id",
                 (to_ticket, from_ticket))
    return sorted(int(r["id"]) for r in rows)


def engineers_for_dispatch(
    *, conn: Conn, role: str, codes: Sequence[str] | None
) -> list[EngineerLoad]:
    """The people of ``role`` among ``codes`` (those on duty: ``ticketing.duty``; None: all of
    them) with their count of open tickets, least loaded first."""
    rows = _rows(conn, """
        SELECT e.id, e.code, e.role, e.city, e.skills,
               (SELECT count(*) FROM tickets t
                WHERE t.assignee_id = e.id AND t.closed_at IS NULL) AS open_tickets
        FROM engineers e
        WHERE e.role = %s AND (%s::text[] IS NULL OR e.code = ANY(%s::text[]))
        ORDER BY open_tickets, e.code""", (role, None if codes is None else list(codes),
                                           None if codes is None else list(codes)))
    return [EngineerLoad(**{**r, "skills": list(r["skills"]),
                            "open_tickets": int(r["open_tickets"])}) for r in rows]


def engineer_id(*, conn: Conn, code: str) -> int | None:
    r = _one(conn, "SELECT id FROM engineers WHERE code = %s", (code,))
    return int(r["id"]) if r else None


def open_tickets_of_kind(
    *, conn: Conn, kind: str, tiers: Sequence[str], since: datetime
) -> list[TicketRow]:
    """Open tickets of fault ``kind`` at customers of ``tiers`` created since ``since``."""
    rows = _rows(conn, f"{_TICKET_SELECT} WHERE t.kind = %s AND t.tier = ANY(%s) "
                       "AND t.created_at >= %s AND t.closed_at IS NULL ORDER BY t.id",
                 (kind, list(tiers), since))
    return [_ticket(r) for r in rows]
