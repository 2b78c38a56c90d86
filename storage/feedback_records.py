"""Records of customer feedback and complaints (service rules section 10): the archive of one
feedback record, next to the ticket archive of ``storage.audit``.

The history is hash-chained by the database on insert (migration ``feedback_records``: the
``feedback_events_chain`` trigger over the same ``robowatch_event_hash`` as tickets); reads are
logged through ``storage.audit.log_archive_read`` and verified by
``storage.audit.verify_feedback_chains``; approvals and purges are
``storage.audit.approve_record_purge`` and ``purge_record`` (``record="feedback"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.audit import ArchiveDocument, clock_documents
from storage.connect import Conn
from storage.feedback import FeedbackEventRow
from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one

__all__ = ["FeedbackArchiveEvent", "FeedbackRetentionCandidate", "feedback_archive_events",
           "feedback_archive_documents", "feedback_id_of", "feedback_retention_candidates",
           "customer_tier"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackArchiveEvent(FeedbackEventRow):
    """A feedback history row with its place in the chain and its hash (hex)."""

    seq: int
    hash: str


def feedback_archive_events(*, conn: Conn, feedback_id: int) -> list[FeedbackArchiveEvent]:
    """The record's history in chain order (intake, routing, plans, progress, extensions,
    result, revisit, every clock warning and breach), with each event's hash."""
    rows = _rows(conn, """SELECT id, feedback_id, seq, at, event, actor, from_state, to_state,
                                 data, encode(hash, 'hex') AS hash
                            FROM feedback_events WHERE feedback_id = %s ORDER BY seq""",
                 (feedback_id,))
    return [FeedbackArchiveEvent(**r) for r in rows]


def feedback_archive_documents(*, conn: Conn, feedback_id: int) -> list[ArchiveDocument]:
    """The record's other documents, oldest first: ``ticket`` (the ticket it is about),
    ``callback`` (the survey whose low score opened it), ``clock`` (each deadline's run and
    verdict), ``extension`` (each request, its decision and what the customer was told) and
    ``communication`` (each notification planned or sent)."""
    rows = _rows(conn, """
        SELECT 'ticket' AS kind, t.id, t.created_at AS at,
               jsonb_build_object('number', t.number, 'title', t.title, 'grade', t.grade,
                                  'state', t.state) AS content
          FROM feedback f JOIN tickets t ON t.id = f.ticket_id WHERE f.id = %(t)s
        UNION ALL
        SELECT 'callback', c.id, c.recorded_at,
               jsonb_build_object('score', c.score, 'suggestions', c.suggestions,
                                  'via', c.via, 'recorded_by', c.recorded_by)
          FROM callbacks c WHERE c.follow_up_id = %(t)s
        UNION ALL
        {clocks}
        UNION ALL
        SELECT 'extension', x.id, x.asked_at,
               jsonb_build_object('clock', x.clock, 'asked_by', x.asked_by,
                                  'reason', x.reason, 'old_due', x.old_due,
                                  'new_due', x.new_due, 'decided_at', x.decided_at,
                                  'decided_by', x.decided_by, 'approved', x.approved,
                                  'notice', x.notice)
          FROM feedback_extensions x WHERE x.feedback_id = %(t)s
        UNION ALL
        SELECT 'communication', n.id, n.created_at,
               jsonb_build_object('feedback_event_id', n.feedback_event_id,
                                  'channel', n.channel, 'recipient', n.recipient,
                                  'subject', n.subject, 'body', n.body, 'status', n.status,
                                  'delivered_at', n.delivered_at)
          FROM notifications n WHERE n.feedback_id = %(t)s
        ORDER BY at, kind, id""".format(clocks=clock_documents("feedback_id")),
                 {"t": feedback_id})
    return [ArchiveDocument(**r) for r in rows]


def feedback_id_of(*, conn: Conn, number: str) -> int | None:
    """The id of the feedback record or complaint numbered ``number`` (``FB-20261123-0001``,
    ``CP-...``)."""
    r = _one(conn, "SELECT id FROM feedback WHERE number = %s", (number,))
    return int(r["id"]) if r else None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRetentionCandidate:
    """An archived record with what retention needs to judge it (the rule is the caller's):
    ``closed_at`` is its completion, ``major`` and the customer's ``tier`` pick the period."""

    feedback_id: int
    number: str
    major: bool
    tier: str
    closed_at: datetime
    approved_by: str | None
    approved_at: datetime | None


def feedback_retention_candidates(
    *, conn: Conn, closed_before: datetime
) -> list[FeedbackRetentionCandidate]:
    """Archived, not yet purged records completed before ``closed_before``, oldest first."""
    rows = _rows(conn, """
        SELECT f.id AS feedback_id, f.number, f.major, c.tier, f.completed_at AS closed_at,
               p.approved_by, p.approved_at
          FROM feedback f JOIN customers c ON c.id = f.customer_id
          LEFT JOIN feedback_purges p ON p.feedback_id = f.id
         WHERE f.state = 'archived' AND f.completed_at < %s AND p.purged_at IS NULL
         ORDER BY f.completed_at, f.id""", (closed_before,))
    return [FeedbackRetentionCandidate(**r) for r in rows]


def customer_tier(*, conn: Conn, customer_id: int) -> str:
    """The tier of a customer (core, important, ordinary): retention is longer for some."""
    r = _one(conn, "SELECT tier FROM customers WHERE id = %s", (customer_id,))
    if r is None:
        raise LookupError(f"no customer {customer_id}")
    return str(r["tier"])
