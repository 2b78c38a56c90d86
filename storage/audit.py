"""Records (service rules section 10): verifying the ticket history's hash chains, the archive
of one ticket, the log of archive reads, and purges after an approval.

The chain itself is computed by the database on every insert (migration ``records_audit``:
the ``ticket_events_chain`` trigger and the one ``robowatch_event_hash`` encoding), so no writer
can forget it; this module only reads it back and judges it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from storage.connect import Conn
from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one
from storage.tickets import TicketEventRow

__all__ = [
    "ChainBreak", "ChainSummary", "ArchiveEvent", "ArchiveDocument", "ArchiveRead",
    "RetentionCandidate", "PurgeRecord", "PurgeRefused",
    "verify_chains", "verify_feedback_chains", "chain_summary", "archive_events",
    "archive_documents", "clock_documents", "log_archive_read",
    "archive_reads", "retention_candidates", "approve_purge", "approve_record_purge",
    "purge_ticket", "purge_record", "purge_records",
    "ticket_id_of",
]


class PurgeRefused(RuntimeError):
    """A purge without an approval row, of a ticket already purged, or not due yet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainBreak:
    """One finding of ``verify_chains``.

    ``what`` is ``edited`` (the row's content no longer gives its hash), ``relinked`` (its
    prev_hash is not the hash of the event before it), ``deleted`` (sequence numbers missing
    before it: ``missing_from``..``missing_to``), ``cut`` (the chain ends before its head says:
    the newest events were deleted), ``headless`` (a ticket with history but no head) or
    ``head_edited`` (the head's hash is not the last event's).

    ``record`` says whose history: a ``ticket``'s, or a ``feedback`` record's (feedback and
    complaints); ``ticket_id`` is then that record's id.
    """

    ticket_id: int
    number: str | None
    event_id: int | None
    seq: int | None
    what: str
    missing_from: int | None = None
    missing_to: int | None = None
    record: str = "ticket"

    def describe(self) -> str:
        who = f"{self.record} {self.number or self.ticket_id}"
        if self.what == "edited":
            return f"{who}: event {self.event_id} (#{self.seq}) was edited: its content no " \
                   "longer gives its hash"
        if self.what == "relinked":
            return f"{who}: event {self.event_id} (#{self.seq}) does not link to the event " \
                   f"before it: #{(self.seq or 1) - 1} was rewritten (content and hash) or replaced"
        if self.what == "deleted":
            span = (f"#{self.missing_from}" if self.missing_from == self.missing_to
                    else f"#{self.missing_from}-#{self.missing_to}")
            return f"{who}: event {span} deleted (found before event {self.event_id}, #{self.seq})"
        if self.what == "cut":
            span = (f"#{self.missing_from}" if self.missing_from == self.missing_to
                    else f"#{self.missing_from}-#{self.missing_to}")
            return f"{who}: newest event {span} deleted (chain ends at #{self.seq}, " \
                   f"event {self.event_id})"
        if self.what == "headless":
            return f"{who}: history without a chain head (the head row was deleted)"
        return f"{who}: chain head does not match its last event {self.event_id} (#{self.seq})"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainSummary:
    """How much was checked, and one SHA-256 over every chain head (ordered by ticket): written
    down elsewhere, it lets a later check prove that nobody rebuilt the chains wholesale."""

    tickets: int
    events: int
    root: str


# Two passes. The content check recomputes every hash: independent rows, so PostgreSQL can
# spread it over parallel workers. The link check walks each chain in (ticket_id, seq) order
# (the unique index gives that order without a sort) comparing each row with the one before
# and the last one with the head. `robowatch bench reports`: 5.1 s for 1,000,000 rows (the
# first version, in three passes: 1.15 s for 50,000).
_EDITED = """
SELECT e.{owner} AS ticket_id, e.id AS event_id, e.seq, 'edited' AS what,
       NULL::bigint AS missing_from, NULL::bigint AS missing_to
  FROM {events} e
 WHERE e.hash IS DISTINCT FROM robowatch_event_hash(e.id, e.{owner}, e.seq, e.at, e.event,
                                                    e.actor, e.from_state, e.to_state, e.data,
                                                    e.prev_hash) {and_owner}
"""

_LINKS = """
WITH walk AS (
    SELECT e.id, e.{owner} AS ticket_id, e.seq,
           e.prev_hash = COALESCE(lag(e.hash) OVER w, robowatch_chain_genesis()) AS link_ok,
           COALESCE(lag(e.seq) OVER w, 0) AS prev_seq,
           CASE WHEN lead(e.seq) OVER w IS NULL THEN e.hash END AS last_hash
      FROM {events} e {where_owner}
    WINDOW w AS (PARTITION BY e.{owner} ORDER BY e.seq)
)
SELECT ticket_id, id AS event_id, seq, 'deleted' AS what, prev_seq + 1 AS missing_from,
       seq - 1 AS missing_to
  FROM walk WHERE seq <> prev_seq + 1
UNION ALL
SELECT ticket_id, id, seq, 'relinked', NULL, NULL FROM walk
 WHERE NOT link_ok AND seq = prev_seq + 1
UNION ALL
SELECT w.ticket_id, w.id, w.seq,
       CASE WHEN h.{owner} IS NULL THEN 'headless'
            WHEN h.seq > w.seq THEN 'cut' ELSE 'head_edited' END,
       CASE WHEN h.seq > w.seq THEN w.seq + 1 END, CASE WHEN h.seq > w.seq THEN h.seq END
  FROM walk w LEFT JOIN {heads} h ON h.{owner} = w.ticket_id
 WHERE w.last_hash IS NOT NULL
   AND (h.{owner} IS NULL OR h.seq <> w.seq OR h.hash <> w.last_hash)
UNION ALL
SELECT h.{owner}, NULL, 0, 'cut', 1, h.seq
  FROM {heads} h
 WHERE {head_owner} NOT EXISTS (SELECT 1 FROM {events} e WHERE e.{owner} = h.{owner})
"""


@dataclass(frozen=True, slots=True)
class _Chain:
    """The tables of one kind of hash-chained history (migrations records_audit and
    feedback_records): the same encoding, links and heads, so one verification serves all."""

    record: str
    events: str
    heads: str
    owner: str       # the events' and heads' column naming the record
    owners: str      # the records' table (for their numbers)


_TICKETS = _Chain("ticket", "ticket_events", "ticket_event_heads", "ticket_id", "tickets")
_FEEDBACK = _Chain("feedback", "feedback_events", "feedback_event_heads", "feedback_id",
                   "feedback")


def verify_chains(*, conn: Conn, ticket_id: int | None = None) -> list[ChainBreak]:
    """Every break in the ticket history's hash chains (of one ticket when ``ticket_id`` is
    given), ordered by ticket and sequence number; empty when the history is intact."""
    return _verify(conn, _TICKETS, ticket_id)


def verify_feedback_chains(*, conn: Conn, feedback_id: int | None = None) -> list[ChainBreak]:
    """The same for the feedback and complaint history (of one record when given)."""
    return _verify(conn, _FEEDBACK, feedback_id)


def _verify(conn: Conn, chain: _Chain, owner_id: int | None) -> list[ChainBreak]:
    one = owner_id is not None
    names = {"owner": chain.owner, "events": chain.events, "heads": chain.heads}
    edited = _EDITED.format(**names, and_owner=f"AND e.{chain.owner} = %(t)s" if one else "")
    links = _LINKS.format(**names, where_owner=f"WHERE e.{chain.owner} = %(t)s" if one else "",
                          head_owner=f"h.{chain.owner} = %(t)s AND" if one else "")
    found: list[dict[str, Any]] = []
    for sql in (edited, links):
        found += _rows(conn, sql, {"t": owner_id})
    numbers = _numbers(conn, chain, {int(r["ticket_id"]) for r in found})
    order = {"edited": 0, "deleted": 1, "relinked": 2, "cut": 3, "head_edited": 4,
             "headless": 5}
    found.sort(key=lambda r: (r["ticket_id"], r["seq"], order[r["what"]]))
    return [ChainBreak(**r, number=numbers.get(int(r["ticket_id"])), record=chain.record)
            for r in found]


def _numbers(conn: Conn, chain: _Chain, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = _rows(conn, f"SELECT id, number FROM {chain.owners} WHERE id = ANY(%s)",
                 (sorted(ids),))
    return {int(r["id"]): str(r["number"]) for r in rows}


def chain_summary(*, conn: Conn, record: str = "ticket") -> ChainSummary:
    """The summary of the ticket chains, or of the feedback chains (``record="feedback"``;
    ``tickets`` then counts feedback records)."""
    chain = _FEEDBACK if record == "feedback" else _TICKETS
    r = _one(conn, f"""SELECT count(*) AS tickets, COALESCE(sum(seq), 0) AS events,
                              encode(sha256(COALESCE(string_agg(
                                  int8send({chain.owner}) || int8send(seq) || hash, ''::bytea
                                  ORDER BY {chain.owner}), ''::bytea)), 'hex') AS root
                       FROM {chain.heads}""")
    assert r is not None  # an aggregate always yields one row
    return ChainSummary(tickets=int(r["tickets"]), events=int(r["events"]), root=str(r["root"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveEvent(TicketEventRow):
    """A history row with its place in the chain and its hash (hex)."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveDocument:
    """A document of a ticket's archive besides its history: ``kind`` is ``anomaly`` (the
    monitoring evidence that opened or joined it), ``clock`` (each SLA clock's run and
    verdict) or ``communication`` (each notification planned or sent)."""

    kind: str
    id: int
    at: datetime
    content: dict[str, Any]


def archive_events(*, conn: Conn, ticket_id: int) -> list[ArchiveEvent]:
    """The ticket's history in chain order, with each event's hash (hex)."""
    rows = _rows(conn, """SELECT id, ticket_id, seq, at, event, actor, from_state, to_state,
                                 data, encode(hash, 'hex') AS hash
                            FROM ticket_events WHERE ticket_id = %s ORDER BY seq""",
                 (ticket_id,))
    return [ArchiveEvent(**r) for r in rows]


def archive_documents(*, conn: Conn, ticket_id: int) -> list[ArchiveDocument]:
    """The ticket's other documents, oldest first."""
    rows = _rows(conn, """
        SELECT 'anomaly' AS kind, a.id, a.created_at AS at,
               jsonb_build_object('component', a.component, 'kind', a.kind, 'impact', a.impact,
                                  'detector', a.detector, 'score', a.score,
                                  'signals', a.signals, 'started_at', a.started_at,
                                  'ended_at', a.ended_at, 'evidence', a.evidence) AS content
          FROM anomalies a WHERE a.ticket_id = %(t)s
        UNION ALL
        {clocks}
        UNION ALL
        SELECT 'communication', n.id, n.created_at,
               jsonb_build_object('event_id', n.event_id, 'channel', n.channel,
                                  'recipient', n.recipient, 'subject', n.subject,
                                  'body', n.body, 'status', n.status,
                                  'delivered_at', n.delivered_at)
          FROM notifications n WHERE n.ticket_id = %(t)s
        ORDER BY at, kind, id""".format(clocks=clock_documents("ticket_id")), {"t": ticket_id})
    return [ArchiveDocument(**r) for r in rows]


def clock_documents(owner: str) -> str:
    """The archive's ``clock`` documents of the record ``%(t)s`` (``owner``: ``ticket_id`` or
    ``feedback_id``): one SELECT for a UNION of documents."""
    return f"""SELECT 'clock', c.id, c.started_at,
               jsonb_build_object('clock', c.clock, 'calendar', c.calendar,
                                  'allowed', c.allowed::text, 'due_at', c.due_at,
                                  'met_at', c.met_at, 'breached_at', c.breached_at,
                                  'closed_at', c.closed_at, 'closed_why', c.closed_why)
          FROM ticket_clocks c WHERE c.{owner} = %(t)s"""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveRead:
    """One logged read of a ticket's archive or of a feedback record's (``feedback_id``)."""

    id: int
    at: datetime
    reader: str
    role: str | None
    ticket_id: int | None
    number: str
    what: str
    via: str
    feedback_id: int | None = None


def log_archive_read(
    *, conn: Conn, reader: str, role: str | None, ticket_id: int | None, number: str,
    what: str, via: str, at: datetime | None = None, feedback_id: int | None = None,
) -> int:
    """Record that ``reader`` read ``what`` of a ticket's archive (or of a feedback record's:
    ``feedback_id``, ``ticket_id`` None); the log row's id. The caller commits it with (or
    before) handing the archive out."""
    r = _one(conn, """INSERT INTO archive_reads (at, reader, role, ticket_id, feedback_id,
                                                 number, what, via)
                      VALUES (COALESCE(%s, now()), %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
             (at, reader, role, ticket_id, feedback_id, number, what, via))
    assert r is not None  # INSERT ... RETURNING always yields the row
    return int(r["id"])


def archive_reads(*, conn: Conn, ticket_id: int | None = None, feedback_id: int | None = None,
                  limit: int = 1000) -> list[ArchiveRead]:
    """Logged archive reads, newest first (of one ticket, or one feedback record, when
    given)."""
    rows = _rows(conn, """SELECT id, at, reader, role, ticket_id, feedback_id, number, what, via
                            FROM archive_reads
                           WHERE (%(t)s::bigint IS NULL OR ticket_id = %(t)s)
                             AND (%(f)s::bigint IS NULL OR feedback_id = %(f)s)
                           ORDER BY at DESC, id DESC LIMIT %(n)s""",
                 {"t": ticket_id, "f": feedback_id, "n": limit})
    return [ArchiveRead(**r) for r in rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionCandidate:
    """A closed ticket with what retention needs to judge it (the rule is the caller's)."""

    ticket_id: int
    number: str
    grade: str
    tier: str
    closed_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    keep_until: date | None


def retention_candidates(*, conn: Conn, closed_before: datetime) -> list[RetentionCandidate]:
    """Closed, not yet purged tickets closed before ``closed_before`` (the shortest retention
    period back from today), with their approval if one is recorded, oldest first."""
    rows = _rows(conn, """
        SELECT t.id AS ticket_id, t.number, t.grade, c.tier, t.closed_at,
               p.approved_by, p.approved_at, p.keep_until
          FROM tickets t JOIN customers c ON c.id = t.customer_id
          LEFT JOIN record_purges p ON p.ticket_id = t.id
         WHERE t.closed_at IS NOT NULL AND t.closed_at < %s AND p.purged_at IS NULL
         ORDER BY t.closed_at, t.id""", (closed_before,))
    return [RetentionCandidate(**r) for r in rows]


def approve_purge(
    *, conn: Conn, ticket_id: int, keep_until: date, approved_by: str, reason: str, at: datetime,
) -> None:
    """Record the approval to destroy a ticket's records, and the same as the ticket's last
    history event (``purge_approved``), both in one transaction. Refused when one exists."""
    approve_record_purge(conn=conn, record="ticket", owner_id=ticket_id, keep_until=keep_until,
                         approved_by=approved_by, reason=reason, at=at)


def approve_record_purge(
    *, conn: Conn, record: str, owner_id: int, keep_until: date, approved_by: str, reason: str,
    at: datetime,
) -> None:
    """:func:`approve_purge` for a ``ticket`` or a ``feedback`` record."""
    spec = _PURGES[record]
    with conn.transaction():
        t = _one(conn, f"SELECT number, state FROM {spec.chain.owners} WHERE id = %s FOR UPDATE",
                 (owner_id,))
        if t is None:
            raise PurgeRefused(f"no {record} {owner_id}")
        done = _one(conn, f"SELECT 1 AS x FROM {spec.table} WHERE {spec.chain.owner} = %s",
                    (owner_id,))
        if done is not None:
            raise PurgeRefused(f"{record} {t['number']}: an approval is already recorded")
        conn.execute(f"""INSERT INTO {spec.table} ({spec.chain.owner}, number, keep_until,
                                                   approved_by, approved_at, reason)
                         VALUES (%s, %s, %s, %s, %s, %s)""",
                     (owner_id, t["number"], keep_until, approved_by, at, reason))
        conn.execute(f"""INSERT INTO {spec.chain.events} ({spec.chain.owner}, at, event, actor,
                                                         from_state, to_state, data)
                         VALUES (%s, %s, 'purge_approved', %s, %s, %s,
                                 jsonb_build_object('keep_until', %s::text,
                                                    'reason', %s::text))""",
                     (owner_id, at, approved_by, t["state"], t["state"], keep_until, reason))


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeRecord:
    """An approval, and once purged its tombstone. ``ticket_id`` is the id of the purged
    ticket, or of the feedback record when the purge was of one."""

    ticket_id: int
    number: str
    keep_until: date
    approved_by: str
    approved_at: datetime
    reason: str
    purged_at: datetime | None
    purged_by: str | None
    events: int | None
    last_hash: str | None


@dataclass(frozen=True, slots=True)
class _Purge:
    """What destroying one kind of record touches (migrations records_audit and
    feedback_records): its approvals table, its chain, the transaction-local setting its
    history's delete guard reads, statements that first detach what outlives it, and its
    tables child first. A table another package adds with a foreign key to the record makes
    the purge fail loudly (and roll back) until it is listed here."""

    chain: _Chain
    table: str
    setting: str
    detach: tuple[str, ...]
    order: tuple[tuple[str, str], ...]


_PURGES = {
    "ticket": _Purge(
        _TICKETS, "record_purges", "robowatch.purging",
        # Customer feedback has its own retention: it stays, no longer pointing at the ticket.
        ("UPDATE feedback SET ticket_id = NULL WHERE ticket_id = %s",),
        (("notifications", "ticket_id"),
         # after sales (0014): the ticket's survey, repeat links, root-cause report, problem
         # membership and quality check go with it
         ("callbacks", "ticket_id"),
         ("ticket_repeats", "ticket_id"),
         ("ticket_repeats", "previous_id"),
         ("rca_reports", "ticket_id"),
         ("common_problem_tickets", "ticket_id"),
         ("qc_checks", "ticket_id"),
         ("ticket_timers", "ticket_id"),
         ("ticket_clocks", "ticket_id"),
         ("anomalies", "ticket_id"),
         ("ticket_event_heads", "ticket_id"),
         ("ticket_events", "ticket_id"),
         ("tickets", "id"))),
    "feedback": _Purge(
        _FEEDBACK, "feedback_purges", "robowatch.purging_feedback",
        # The callback survey whose low score opened the record is the ticket's: it stays.
        ("UPDATE callbacks SET follow_up_id = NULL WHERE follow_up_id = %s",),
        (("notifications", "feedback_id"),
         ("feedback_extensions", "feedback_id"),
         ("ticket_timers", "feedback_id"),
         ("ticket_clocks", "feedback_id"),
         ("feedback_event_heads", "feedback_id"),
         ("feedback_events", "feedback_id"),
         ("feedback", "id"))),
}


def purge_ticket(*, conn: Conn, ticket_id: int, today: date, purged_by: str,
                 at: datetime) -> PurgeRecord:
    """Destroy every record of one ticket whose approval is recorded and whose ``keep_until``
    has passed by ``today``, and mark the approval purged (its tombstone), in one transaction.
    Raises :class:`PurgeRefused` otherwise, having changed nothing."""
    return purge_record(conn=conn, record="ticket", owner_id=ticket_id, today=today,
                        purged_by=purged_by, at=at)


def purge_record(*, conn: Conn, record: str, owner_id: int, today: date, purged_by: str,
                 at: datetime) -> PurgeRecord:
    """:func:`purge_ticket` for a ``ticket`` or a ``feedback`` record."""
    spec = _PURGES[record]
    owner = spec.chain.owner
    with conn.transaction():
        p = _one(conn, f"SELECT * FROM {spec.table} WHERE {owner} = %s FOR UPDATE", (owner_id,))
        if p is None:
            raise PurgeRefused(f"{record} {owner_id}: no approval recorded; nothing purged")
        if p["purged_at"] is not None:
            raise PurgeRefused(f"{record} {p['number']}: already purged at {p['purged_at']}")
        if p["keep_until"] >= today:
            raise PurgeRefused(f"{record} {p['number']}: kept until {p['keep_until']}")
        head = _one(conn, f"SELECT seq, hash FROM {spec.chain.heads} WHERE {owner} = %s",
                    (owner_id,))
        # Read by the history's delete guard: this record, only now.
        conn.execute("SELECT set_config(%s, %s, true)", (spec.setting, str(owner_id)))
        for sql in spec.detach:
            conn.execute(sql, (owner_id,))
        for table, column in spec.order:
            conn.execute(f"DELETE FROM {table} WHERE {column} = %s", (owner_id,))
        conn.execute("SELECT set_config(%s, '', true)", (spec.setting,))
        r = _one(conn, f"""UPDATE {spec.table} SET purged_at = %s, purged_by = %s, events = %s,
                                                  last_hash = %s
                            WHERE {owner} = %s RETURNING {_purge_columns(owner)}""",
                 (at, purged_by, head["seq"] if head else 0, head["hash"] if head else None,
                  owner_id))
    assert r is not None  # the row was locked above
    return PurgeRecord(**r)


def _purge_columns(owner: str) -> str:
    return f"""{owner} AS ticket_id, number, keep_until, approved_by, approved_at, reason,
               purged_at, purged_by, events, encode(last_hash, 'hex') AS last_hash"""


def purge_records(*, conn: Conn, record: str = "ticket") -> list[PurgeRecord]:
    """Every approval and tombstone (of tickets, or of feedback records), newest approval
    first."""
    spec = _PURGES[record]
    rows = _rows(conn, f"""SELECT {_purge_columns(spec.chain.owner)} FROM {spec.table}
                            ORDER BY approved_at DESC, {spec.chain.owner}""")
    return [PurgeRecord(**r) for r in rows]



def ticket_id_of(*, conn: Conn, number: str) -> int | None:
    """The id of the ticket numbered ``number`` (``RW-20261123-0001``)."""
    r = _one(conn, "SELECT id FROM tickets WHERE number = %s", (number,))
    return int(r["id"]) if r else None
