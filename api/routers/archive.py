"""``GET /api/v1/tickets/{id}/archive``: every document kept about a ticket (service rules
section 10), with its hash-chained history and the chain's verdict. Every read is logged
(who, what, when) before the archive is handed out; ``GET .../archive/reads`` lists them.

Archives are company records: callers need the ``reports`` read scope, and a caller bound to
a customer sees only that customer's (another's answers 404, as if it did not exist).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.auth import require_read
from api.auth.problems import not_found
from api.deps import Caller, ConnDep, CurrentUser, NowDep
from api.params import RowId
from api.schemas import TicketPublic
from reports.errors import ArchiveNotFound
from reports.records import read_archive
from storage.audit import ArchiveDocument, ArchiveEvent, ArchiveRead, archive_reads
from storage.connect import Conn
from storage.tickets import get_ticket

__all__ = ["router"]

router = APIRouter(prefix="/tickets", tags=["archive"], dependencies=[require_read("reports")])


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChainBreakPublic(_Out):
    event_id: int | None
    seq: int | None
    what: str
    detail: str


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


@router.get("/{ticket_id}/archive", responses={404: {"description": "No such ticket"}})
def read(conn: ConnDep, caller: CurrentUser, now: NowDep, ticket_id: RowId) -> ArchivePublic:
    """The ticket's archive; this read is logged first."""
    _visible(conn, caller, ticket_id)
    try:
        a = read_archive(conn=conn, ticket_id=ticket_id, reader=caller.name, role=caller.role,
                         via="api", now=now)
    except ArchiveNotFound as exc:
        raise not_found(str(exc)) from exc
    return ArchivePublic(
        ticket=TicketPublic.of(a.ticket, now=now), intact=a.intact,
        intake=IntakePublic(channel=a.ticket.channel, accepted_at=a.ticket.created_at,
                            reporter=a.ticket.reporter, description=a.ticket.description,
                            request=a.ticket.request),
        breaks=[ChainBreakPublic(event_id=b.event_id, seq=b.seq, what=b.what,
                                 detail=b.describe()) for b in a.breaks],
        events=a.events, documents=a.documents,
        read_id=a.read_id)


@router.get("/{ticket_id}/archive/reads", responses={404: {"description": "No such ticket"}})
def reads(conn: ConnDep, caller: CurrentUser, ticket_id: RowId) -> ArchiveReadsPublic:
    """Who read this ticket's archive, and when, newest first."""
    _visible(conn, caller, ticket_id)
    rows = archive_reads(conn=conn, ticket_id=ticket_id)
    return ArchiveReadsPublic(items=rows, count=len(rows))
