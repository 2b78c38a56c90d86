"""Records of customer feedback and complaints (service rules section 10): one archive per
feedback record, every read of it logged like a ticket archive's (``reports.records``), and
the same retention: what is due for destruction, approving it, purging only what was approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from reports.errors import ArchiveNotFound, PurgeRefused
from reports.policy import Retention
from reports.records import PurgeOutcome, purge_approved
from storage import audit
from storage import feedback_records as store
from storage.connect import Conn
from storage.feedback import FeedbackRow, get_feedback
from storage.feedback_records import (
    FeedbackArchiveEvent,
    feedback_archive_documents,
    feedback_archive_events,
)

__all__ = ["FeedbackArchive", "read_feedback_archive", "DueFeedbackPurge",
           "due_feedback_purges", "approve_feedback", "execute_feedback_purges"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackArchive:
    """Everything kept about one feedback or complaint: the intake (the record: channel,
    reporter, summary, when received and registered), its hash-chained history (routing,
    confirmation, response, plans, progress, extensions, completion, result told, revisit,
    archive, every clock warning and breach), the ticket it is about, the callback that opened
    it, every deadline with its verdict, every extension with what the customer was told and
    every notification, with the chain's verdict at the time of reading."""

    record: FeedbackRow
    events: list[FeedbackArchiveEvent]
    documents: list[audit.ArchiveDocument]
    breaks: list[audit.ChainBreak]
    read_id: int

    @property
    def intact(self) -> bool:
        return not self.breaks


def read_feedback_archive(
    *, conn: Conn, feedback_id: int, reader: str, role: str | None,
    via: Literal["api", "cli"], now: datetime,
) -> FeedbackArchive:
    """The archive of a feedback record, after logging the read in the same transaction."""
    with conn.transaction():
        rec = get_feedback(conn=conn, feedback_id=feedback_id)
        if rec is None:
            raise ArchiveNotFound(f"no feedback record {feedback_id}")
        read_id = audit.log_archive_read(conn=conn, reader=reader, role=role, ticket_id=None,
                                         feedback_id=feedback_id, number=rec.number,
                                         what="archive", via=via, at=now)
        return FeedbackArchive(
            record=rec, events=feedback_archive_events(conn=conn, feedback_id=feedback_id),
            documents=feedback_archive_documents(conn=conn, feedback_id=feedback_id),
            breaks=audit.verify_feedback_chains(conn=conn, feedback_id=feedback_id),
            read_id=read_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class DueFeedbackPurge:
    """An archived feedback record whose retention has run out by ``today``."""

    feedback_id: int
    number: str
    major: bool
    tier: str
    closed_at: datetime
    keep_until: date
    approved_by: str | None
    approved_at: datetime | None

    @property
    def approved(self) -> bool:
        return self.approved_by is not None


def due_feedback_purges(*, conn: Conn, retention: Retention,
                        today: date) -> list[DueFeedbackPurge]:
    """Archived records whose documents may be destroyed after ``today``, approved or not,
    oldest first."""
    # As for tickets: 365-day years reach back no further than calendar years (a superset).
    cutoff = datetime.combine(today, time(), UTC) - timedelta(days=365 * retention.years)
    out = []
    for c in store.feedback_retention_candidates(conn=conn, closed_before=cutoff):
        keep = retention.feedback_keep_until(major=c.major, tier=c.tier, closed_at=c.closed_at)
        if keep < today:
            out.append(DueFeedbackPurge(feedback_id=c.feedback_id, number=c.number,
                                        major=c.major, tier=c.tier, closed_at=c.closed_at,
                                        keep_until=keep, approved_by=c.approved_by,
                                        approved_at=c.approved_at))
    return out


def approve_feedback(
    *, conn: Conn, feedback_id: int, retention: Retention, approved_by: str, reason: str,
    now: datetime,
) -> date:
    """Record the approval to destroy an archived record's documents once retention ends;
    the day they are kept until. Refused for a record not archived, without a reason, or
    twice."""
    rec = get_feedback(conn=conn, feedback_id=feedback_id)
    if rec is None:
        raise ArchiveNotFound(f"no feedback record {feedback_id}")
    if rec.state != "archived" or rec.completed_at is None:
        raise PurgeRefused(f"{rec.number} is not archived")
    if not reason.strip() or not approved_by.strip():
        raise PurgeRefused("an approval names who approves and why")
    tier = store.customer_tier(conn=conn, customer_id=rec.customer_id)
    keep = retention.feedback_keep_until(major=rec.major, tier=tier,
                                         closed_at=rec.completed_at)
    try:
        audit.approve_record_purge(conn=conn, record="feedback", owner_id=feedback_id,
                                   keep_until=keep, approved_by=approved_by, reason=reason,
                                   at=now)
    except audit.PurgeRefused as exc:
        raise PurgeRefused(str(exc)) from exc
    return keep


def execute_feedback_purges(
    *, conn: Conn, retention: Retention, today: date, purged_by: str, now: datetime,
) -> PurgeOutcome:
    """Purge every due record that has an approval; list the due ones that have none (they
    are kept). Each record is purged in its own transaction; a tombstone's ``ticket_id`` is
    then the feedback record's id."""
    due = due_feedback_purges(conn=conn, retention=retention, today=today)
    return purge_approved(conn=conn, record="feedback",
                          due=[(d.feedback_id, d.number, d.approved) for d in due],
                          today=today, purged_by=purged_by, now=now)
