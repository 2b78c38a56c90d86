"""Records (service rules section 10): one archive per ticket, every read of it logged, and
retention: what is due for destruction, approving it, and purging only what was approved.

The hash chains themselves are the database's (``storage.audit``); this module decides who
reads, what is due and what a purge may touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from reports.errors import ArchiveNotFound, PurgeRefused
from reports.policy import Retention
from storage import audit
from storage.connect import Conn
from storage.tickets import TicketRow, get_ticket

__all__ = ["Archive", "DuePurge", "PurgeOutcome", "read_archive", "due_purges", "approve",
           "execute_purges", "purge_approved"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Archive:
    """Everything kept about one ticket: intake (the ticket row: channel, reporter,
    description, request), its hash-chained history (dispatch, work, handling report,
    sign-off, every update), the monitoring evidence, the SLA clocks and every notification
    to the customer or staff, with the chain's verdict at the time of reading."""

    ticket: TicketRow
    events: list[audit.ArchiveEvent]
    documents: list[audit.ArchiveDocument]
    breaks: list[audit.ChainBreak]
    read_id: int

    @property
    def intact(self) -> bool:
        return not self.breaks


def read_archive(
    *, conn: Conn, ticket_id: int, reader: str, role: str | None,
    via: Literal["api", "cli"], now: datetime,
) -> Archive:
    """The archive of a ticket, after logging the read in the same transaction: no archive
    leaves without its log row."""
    with conn.transaction():
        ticket = get_ticket(conn=conn, ticket_id=ticket_id)
        if ticket is None:
            raise ArchiveNotFound(f"no ticket {ticket_id}")
        read_id = audit.log_archive_read(conn=conn, reader=reader, role=role,
                                         ticket_id=ticket_id, number=ticket.number,
                                         what="archive", via=via, at=now)
        return Archive(ticket=ticket, events=audit.archive_events(conn=conn, ticket_id=ticket_id),
                       documents=audit.archive_documents(conn=conn, ticket_id=ticket_id),
                       breaks=audit.verify_chains(conn=conn, ticket_id=ticket_id),
                       read_id=read_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class DuePurge:
    """A closed ticket whose retention has run out by ``today``."""

    ticket_id: int
    number: str
    grade: str
    tier: str
    closed_at: datetime
    keep_until: date
    approved_by: str | None
    approved_at: datetime | None

    @property
    def approved(self) -> bool:
        return self.approved_by is not None


def due_purges(*, conn: Conn, retention: Retention, today: date) -> list[DuePurge]:
    """Tickets whose records may be destroyed after ``today`` (their keep-until day has
    passed), approved or not, oldest first."""
    # 365 days a year reaches back no further than the calendar years do: a superset, which
    # keep_until then judges exactly.
    cutoff = datetime.combine(today, time(), UTC) - timedelta(days=365 * retention.years)
    out = []
    for c in audit.retention_candidates(conn=conn, closed_before=cutoff):
        keep = retention.keep_until(grade=c.grade, tier=c.tier, closed_at=c.closed_at)
        if keep < today:
            out.append(DuePurge(ticket_id=c.ticket_id, number=c.number, grade=c.grade,
                                tier=c.tier, closed_at=c.closed_at, keep_until=keep,
                                approved_by=c.approved_by, approved_at=c.approved_at))
    return out


def approve(
    *, conn: Conn, ticket_id: int, retention: Retention, approved_by: str, reason: str,
    now: datetime,
) -> date:
    """Record the approval to destroy a closed ticket's records once retention ends; the day
    they are kept until. Refused for an open ticket, without a reason, or twice."""
    ticket = get_ticket(conn=conn, ticket_id=ticket_id)
    if ticket is None:
        raise ArchiveNotFound(f"no ticket {ticket_id}")
    if ticket.closed_at is None:
        raise PurgeRefused(f"ticket {ticket.number} is not closed")
    if not reason.strip() or not approved_by.strip():
        raise PurgeRefused("an approval names who approves and why")
    keep = retention.keep_until(grade=ticket.grade, tier=ticket.tier,
                                closed_at=ticket.closed_at)
    try:
        audit.approve_purge(conn=conn, ticket_id=ticket_id, keep_until=keep,
                            approved_by=approved_by, reason=reason, at=now)
    except audit.PurgeRefused as exc:
        raise PurgeRefused(str(exc)) from exc
    return keep


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeOutcome:
    purged: list[audit.PurgeRecord]
    refused: list[tuple[str, str]]       # (ticket number, why)


def execute_purges(
    *, conn: Conn, retention: Retention, today: date, purged_by: str, now: datetime,
) -> PurgeOutcome:
    """Purge every due ticket that has an approval; list the due ones that have none (they
    are kept). Each ticket is purged in its own transaction."""
    due = due_purges(conn=conn, retention=retention, today=today)
    return purge_approved(conn=conn, record="ticket",
                          due=[(d.ticket_id, d.number, d.approved) for d in due],
                          today=today, purged_by=purged_by, now=now)


def purge_approved(
    *, conn: Conn, record: str, due: list[tuple[int, str, bool]], today: date, purged_by: str,
    now: datetime,
) -> PurgeOutcome:
    """Purge each due (id, number, approved) ``record`` (``ticket`` or ``feedback``) that is
    approved, each in its own transaction; the others are kept, with why."""
    purged, refused = [], []
    for owner_id, number, approved in due:
        if not approved:
            refused.append((number, "no approval recorded"))
            continue
        try:
            purged.append(audit.purge_record(conn=conn, record=record, owner_id=owner_id,
                                             today=today, purged_by=purged_by, at=now))
        except audit.PurgeRefused as exc:
            refused.append((number, str(exc)))
    return PurgeOutcome(purged=purged, refused=refused)
