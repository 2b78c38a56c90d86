"""Pydantic models at the edge of the API: what clients see, built from storage rows.

Entities are addressed by their external identifier: a robot by its code, a customer by its
code, tickets and anomalies by their id. So ``robot_id`` and ``customer_id`` in JSON carry
codes (``"R-0001"``), never the internal integer keys.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.parts_schemas import WarningPublic
from storage.anomalies import AnomalyRow
from storage.fleet import RobotRow
from storage.tickets import TicketEventRow, TicketRow
from ticketing.clocks import MILESTONES, Deadlines
from ticketing.lifecycle import EVENTS
from ticketing.sla import sla_state

__all__ = [
    "CODE_PATTERN", "STATE_PATTERN", "Grade", "UtcDatetime",
    "RobotPublic", "RobotsPublic", "AnomalyPublic", "AnomaliesPublic",
    "ClockPublic", "TicketPublic", "TicketsPublic", "TicketEventPublic", "TicketDetail",
    "StreamMessage", "Health", "HandlingReport", "TicketEventCreate",
    "ManualTicketCreate",
]

# Same rule as the CHECK constraints in storage/migrations/0001_fleet.sql.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Ticket states are ticketing's vocabulary; the API only refuses what cannot be a state name.
STATE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
Grade = Literal["I", "II", "III", "IV"]


def _to_utc(v: datetime) -> datetime:
    # The session time zone is the server's; clients get one unambiguous form: ...Z.
    return v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class RobotPublic(_Public):
    code: str
    brand: str | None
    model: str | None
    serial: str | None
    install_date: date | None
    warranty_end: date | None
    line: str
    site: str
    city: str | None
    customer: str
    customer_name: str
    tier: str

    @classmethod
    def of(cls, row: RobotRow) -> RobotPublic:
        return cls.model_validate(row, from_attributes=True)


class RobotsPublic(_Public):
    items: list[RobotPublic]
    count: int


class AnomalyPublic(_Public):
    id: int
    robot_id: str
    customer_id: str
    component: str
    kind: str
    signals: list[str]
    detector: str
    score: float | None
    impact: str
    started_at: UtcDatetime
    ended_at: UtcDatetime | None
    open: bool
    evidence: dict[str, Any]
    ticket_id: int | None
    created_at: UtcDatetime

    @classmethod
    def of(cls, row: AnomalyRow) -> AnomalyPublic:
        return cls(
            id=row.id, robot_id=row.robot, customer_id=row.customer, component=row.component,
            kind=row.kind, signals=row.signals, detector=row.detector, score=row.score,
            impact=row.impact, started_at=row.started_at, ended_at=row.ended_at,
            open=row.ended_at is None, evidence=row.evidence, ticket_id=row.ticket_id,
            created_at=row.created_at,
        )


class AnomaliesPublic(_Public):
    items: list[AnomalyPublic]
    count: int


class ClockPublic(_Public):
    name: str
    due: UtcDatetime
    met_at: UtcDatetime | None
    overdue: bool
    remaining_s: float | None


class TicketPublic(_Public):
    id: int
    number: str
    robot_id: str
    customer_id: str
    tier: str
    impact: str
    grade: Grade
    component: str
    kind: str
    title: str
    channel: str
    state: str
    assignee: str | None
    policy: str
    created_at: UtcDatetime
    respond_by: UtcDatetime
    onsite_by: UtcDatetime | None
    plan_by: UtcDatetime | None
    resolve_by: UtcDatetime
    update_every: timedelta | None
    responded_at: UtcDatetime | None
    resolved_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    updated_at: UtcDatetime
    anomaly_ids: list[int]
    open: bool
    respond_overdue: bool
    resolve_overdue: bool
    respond_remaining_s: float | None
    resolve_remaining_s: float | None
    # Every clock the ticket has (respond, on site, plan, resolve), from ticketing.sla.
    clocks: list[ClockPublic]
    paused: bool
    # Name it as expected_version (or If-Match) when you post an event: a change made
    # meanwhile is refused with 409 instead of being overwritten.
    version: int

    @classmethod
    def of(cls, row: TicketRow, *, now: datetime) -> TicketPublic:
        sla = sla_state(
            deadlines=Deadlines(respond_by=row.respond_by, onsite_by=row.onsite_by,
                                plan_by=row.plan_by, resolve_by=row.resolve_by,
                                update_every=row.update_every),
            met=_milestones(row), now=now, paused_since=row.paused_since,
        )
        respond, resolve = sla.clock("respond_by"), sla.clock("resolve_by")
        return cls(
            id=row.id, number=row.number, robot_id=row.robot, customer_id=row.customer,
            tier=row.tier, impact=row.impact, grade=row.grade,  # type: ignore[arg-type]
            component=row.component, kind=row.kind, title=row.title, channel=row.channel,
            state=row.state, assignee=row.assignee, policy=row.policy,
            created_at=row.created_at, respond_by=row.respond_by, onsite_by=row.onsite_by,
            plan_by=row.plan_by, resolve_by=row.resolve_by, update_every=row.update_every,
            responded_at=row.responded_at, resolved_at=row.resolved_at,
            closed_at=row.closed_at, updated_at=row.updated_at,
            anomaly_ids=list(row.anomaly_ids), open=row.closed_at is None,
            respond_overdue=bool(respond and respond.overdue),
            resolve_overdue=bool(resolve and resolve.overdue),
            respond_remaining_s=respond.remaining_s if respond else None,
            resolve_remaining_s=resolve.remaining_s if resolve else None,
            clocks=[ClockPublic(name=c.name, due=c.due, met_at=c.met_at, overdue=c.overdue,
                                remaining_s=c.remaining_s) for c in sla.clocks],
            paused=sla.paused, version=row.version,
        )


def _milestones(row: TicketRow) -> dict[str, datetime | None]:
    # A ticket closed without a resolution (cancelled, merged) has stopped its resolve clock.
    return {m: getattr(row, m, None) for m in MILESTONES.values()} | {
        "resolved_at": row.resolved_at or row.closed_at}


class TicketsPublic(_Public):
    items: list[TicketPublic]
    count: int


class TicketEventPublic(_Public):
    id: int
    ticket_id: int
    at: UtcDatetime
    event: str
    actor: str
    from_state: str | None
    to_state: str | None
    data: dict[str, Any]

    @classmethod
    def of(cls, row: TicketEventRow) -> TicketEventPublic:
        return cls(
            id=row.id, ticket_id=row.ticket_id, at=row.at, event=row.event, actor=row.actor,
            from_state=row.from_state, to_state=row.to_state, data=row.data,
        )


class TicketDetail(TicketPublic):
    events: list[TicketEventPublic]

    @classmethod
    def of_history(cls, row: TicketRow, history: list[TicketEventRow], *,
                   now: datetime) -> TicketDetail:
        return cls(**TicketPublic.of(row, now=now).model_dump(),
                   events=[TicketEventPublic.of(e) for e in history])


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_event(value: str) -> str:
    if value not in EVENTS:
        raise ValueError(f"unknown event {value!r}; known: {', '.join(EVENTS)}")
    return value


class HandlingReport(_Input):
    """What a resolution must say before the customer is asked to sign off (rules section 4)."""

    process: str = Field(min_length=1)
    cause: str = Field(min_length=1)
    solution: str = Field(min_length=1)
    parts_used: list[str] | str
    before_after: str = Field(min_length=1)


class TicketEventCreate(_Input):
    """One step of a ticket's life; which details an event needs is the lifecycle's rule
    (a missing one answers 422 saying which)."""

    event: Annotated[str, AfterValidator(_known_event),
                     Field(json_schema_extra={"enum": list(EVENTS)})]
    expected_version: int | None = Field(
        default=None, ge=1, description="the ticket version you saw; or send If-Match")
    reason: str | None = None
    assignee: str | None = Field(default=None, description="engineer code (dispatch, "
                                                           "reassign)")
    report: HandlingReport | None = None
    plan: str | None = None
    message: str | None = None
    grade: Grade | None = None
    into: int | None = Field(default=None, ge=1, description="merge: the ticket kept")

    def details(self) -> dict[str, Any]:
        out = self.model_dump(exclude={"event", "expected_version"}, exclude_none=True)
        return out


class ManualTicketCreate(_Input):
    """A customer's report taken by phone, e-mail, chat, WeChat or on site."""

    robot: str = Field(pattern=CODE_PATTERN, description="robot code")
    channel: Literal["phone", "email", "chat", "wechat", "on_site"]
    reporter: str = Field(min_length=1, description="who reported it")
    description: str = Field(min_length=1)
    impact: Literal["stoppage", "core-module", "non-core", "minor"]
    request: str | None = Field(default=None, description="what the customer asks for")


class StreamMessage(_Public):
    """One message on ``/api/v1/stream``; ``resync`` (no data) asks clients to re-read lists.
    ``ticket_event`` carries one new entry of a ticket's history (a warning, a breach, an
    escalation, a reassignment, a handover, any lifecycle event); ``part_warning`` a low-stock
    warning raised (insert) or cleared (update)."""

    type: Literal["anomaly", "ticket", "ticket_event", "part_warning", "resync"]
    op: Literal["insert", "update"] | None = None
    data: TicketPublic | AnomalyPublic | TicketEventPublic | WarningPublic | None = None


class Health(_Public):
    status: Literal["ok", "unavailable"]
    database: str
    stream: str
    stream_clients: int
