"""``GET /api/v1/tickets/{id}/archive`` and ``GET /api/v1/feedback/{id}/archive``: every
document kept about a ticket, or about a customer's feedback or complaint (service rules
section 10), with its hash-chained history and the chain's verdict. Every read is logged
(who, what, when) before the archive is handed out; ``GET .../archive/reads`` lists them.

Archives are company records: callers need the ``records`` read scope, and a caller bound to
a customer sees only that customer's (another's answers 404, as if it did not exist).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.auth import require_read
from api.auth.problems import not_found
from api.deps import Caller, ConnDep, CurrentUser, NowDep
from api.feedback_schemas import FeedbackPublic
from api.params import RowId
from api.routers.parts import PartsPolicyDep
from api.schemas import TicketPublic
from parts.labour import TicketLabour, ticket_labour
from reports.errors import ArchiveNotFound
from reports.feedback_records import read_feedback_archive
from reports.records import read_archive
from storage.audit import ArchiveDocument, ArchiveEvent, ArchiveRead, ChainBreak, archive_reads
from storage.connect import Conn
from storage.feedback import get_feedback
from storage.feedback_records import FeedbackArchiveEvent
from storage.tickets import get_ticket

__all__ = ["router"]

router = APIRouter(tags=["archive"], dependencies=[require_read("records")])


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChainBreakPublic(_Out):
    event_id: int | None
    seq: int | None
    what: str
    detail: str

    @classmethod
    def of(cls, b: ChainBreak) -> ChainBreakPublic:
        return cls(event_id=b.event_id, seq=b.seq, what=b.what, detail=b.describe())


class IntakePublic(_Out):
    """What was taken in: how, from whom, what happens and what the customer asks for."""

    channel: str
    accepted_at: datetime
    reporter: str | None
    description: str | None
    request: str | None


class ArchivePublic(_Out):
    ticket: TicketPublic
    intake: IntakePublic
    # The engineers' working time and its charge (docs/parts.md, "Labour").
    labour: TicketLabour
    intact: bool
    breaks: list[ChainBreakPublic]
    events: list[ArchiveEvent]
    documents: list[ArchiveDocument]
    read_id: int


class ArchiveReadsPublic(_Out):
    items: list[ArchiveRead]
    count: int


def _visible(conn: Conn, caller: Caller, ticket_id: int) -> None:
    row = get_ticket(conn=conn, ticket_id=ticket_id)
    if row is None or not caller.sees(row.customer):
        raise not_found(f"ticket {ticket_id} not found")


@router.get("/tickets/{ticket_id}/archive", responses={404: {"description": "No such ticket"}})
def read(conn: ConnDep, caller: CurrentUser, now: NowDep, policy: PartsPolicyDep,
         ticket_id: RowId) -> ArchivePublic:
    """The ticket's archive; this read is logged first."""
    _visible(conn, caller, ticket_id)
    try:
        a = read_archive(conn=conn, ticket_id=ticket_id, reader=caller.name, role=caller.role,
                         via="api", now=now)
    except ArchiveNotFound as exc:
        raise not_found(str(exc)) from exc
    return ArchivePublic(
        ticket=TicketPublic.of(a.ticket, now=now), intact=a.intact,
        labour=ticket_labour(conn=conn, ticket=a.ticket, policy=policy, now=now),
        intake=IntakePublic(channel=a.ticket.channel, accepted_at=a.ticket.created_at,
                            reporter=a.ticket.reporter, description=a.ticket.description,
                            request=a.ticket.request),
        breaks=[ChainBreakPublic.of(b) for b in a.breaks],
        events=a.events, documents=a.documents,
        read_id=a.read_id)


@router.get("/tickets/{ticket_id}/archive/reads",
            responses={404: {"description": "No such ticket"}})
def reads(conn: ConnDep, caller: CurrentUser, ticket_id: RowId) -> ArchiveReadsPublic:
    """Who read this ticket's archive, and when, newest first."""
    _visible(conn, caller, ticket_id)
    rows = archive_reads(conn=conn, ticket_id=ticket_id)
    return ArchiveReadsPublic(items=rows, count=len(rows))


class FeedbackArchivePublic(_Out):
    """The record itself is the intake (channel, reporter, summary, received and registered
    at); ``events`` its chained history; ``documents`` the rest (docs/records.md)."""

    feedback: FeedbackPublic
    intact: bool
    breaks: list[ChainBreakPublic]
    events: list[FeedbackArchiveEvent]
    documents: list[ArchiveDocument]
    read_id: int


def _feedback_visible(conn: Conn, caller: Caller, feedback_id: int) -> None:
    row = get_feedback(conn=conn, feedback_id=feedback_id)
    if row is None or not caller.sees(row.customer):
        raise not_found(f"feedback {feedback_id} not found")


@router.get("/feedback/{feedback_id}/archive",
            responses={404: {"description": "No such feedback record"}})
def read_feedback(conn: ConnDep, caller: CurrentUser, now: NowDep,
                  feedback_id: RowId) -> FeedbackArchivePublic:
    """The archive of a feedback or complaint; this read is logged first."""
    _feedback_visible(conn, caller, feedback_id)
    try:
        a = read_feedback_archive(conn=conn, feedback_id=feedback_id, reader=caller.name,
                                  role=caller.role, via="api", now=now)
    except ArchiveNotFound as exc:
        raise not_found(str(exc)) from exc
    return FeedbackArchivePublic(feedback=FeedbackPublic.of(a.record), intact=a.intact,
                                 breaks=[ChainBreakPublic.of(b) for b in a.breaks],
                                 events=a.events, documents=a.documents, read_id=a.read_id)


@router.get("/feedback/{feedback_id}/archive/reads",
            responses={404: {"description": "No such feedback record"}})
def feedback_reads(conn: ConnDep, caller: CurrentUser, feedback_id: RowId) -> ArchiveReadsPublic:
    """Who read this feedback record's archive, and when, newest first."""
    _feedback_visible(conn, caller, feedback_id)
    rows = archive_reads(conn=conn, feedback_id=feedback_id)
    return ArchiveReadsPublic(items=rows, count=len(rows))
