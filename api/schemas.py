"""Pydantic models at the edge of the API: what clients see, built from storage rows.

Entities are addressed by their external identifier: a robot by its code, a customer by its
code, tickets and anomalies by their id. So ``robot_id`` and ``customer_id`` in JSON carry
codes (``"R-0001"``), never the internal integer keys.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.parts_schemas import WarningPublic
from api.sla import sla_of
from storage.anomalies import AnomalyRow
from storage.directory import CustomerRow, EngineerRow, LineRow, SiteRow
from storage.fleet import RobotRow
from storage.maintenance import InspectionEventRow
from storage.tickets import TicketEventRow, TicketRow
from ticketing.lifecycle import EVENTS, STATES

__all__ = [
    "CODE_PATTERN", "STATE_PATTERN", "Grade", "TicketState", "Impact", "Tier", "UtcDatetime",
    "Problem",
    "RobotPublic", "RobotsPublic", "AnomalyPublic", "AnomaliesPublic",
    "ClockPublic", "TicketPublic", "TicketsPublic", "TicketEventPublic", "TicketDetail",
    "StreamMessage", "Health", "HandlingReport", "TicketEventCreate",
    "ManualTicketCreate", "ValidationIssue", "CustomerPublic", "CustomersPublic",
    "SitePublic", "SitesPublic", "LinePublic", "LinesPublic", "EngineerPublic",
    "EngineersPublic", "OnCallPublic",
]

# Same rule as the CHECK constraints in storage/migrations/0001_fleet.sql.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# A lifecycle state name of another package (maintenance's inspections); the ticket list
# takes TicketState, an enum.
STATE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
Grade = Literal["I", "II", "III", "IV"]
# Ticket states are ticketing's vocabulary (ticketing.lifecycle.STATES), spelled out so that
# /openapi.json lists them as an enum; the check below keeps the two from drifting apart.
TicketState = Literal["new", "dispatched", "accepted", "travelling", "in_progress",
                      "waiting_customer", "resolved", "signed_off", "archived", "cancelled",
                      "merged"]
if set(get_args(TicketState)) != set(STATES):
    raise RuntimeError(f"api.schemas.TicketState {get_args(TicketState)} != lifecycle {STATES}")
Impact = Literal["stoppage", "core-module", "non-core", "minor"]
Tier = Literal["core", "important", "ordinary"]


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
    # False once warranty_end has passed (the console flags it); None without a warranty end.
    under_warranty: bool | None

    @classmethod
    def of(cls, row: RobotRow, *, today: date) -> RobotPublic:
        covered = None if row.warranty_end is None else row.warranty_end >= today
        return cls(code=row.code, brand=row.brand, model=row.model, serial=row.serial,
                   install_date=row.install_date, warranty_end=row.warranty_end,
                   line=row.line, site=row.site, city=row.city, customer=row.customer,
                   customer_name=row.customer_name, tier=row.tier, under_warranty=covered)


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
    # The alert wall's shared acknowledgement (POST /anomalies/{id}/acknowledge).
    acknowledged_at: UtcDatetime | None = None
    acknowledged_by: str | None = None

    @classmethod
    def of(cls, row: AnomalyRow) -> AnomalyPublic:
        return cls(
            id=row.id, robot_id=row.robot, customer_id=row.customer, component=row.component,
            kind=row.kind, signals=row.signals, detector=row.detector, score=row.score,
            impact=row.impact, started_at=row.started_at, ended_at=row.ended_at,
            open=row.ended_at is None, evidence=row.evidence, ticket_id=row.ticket_id,
            created_at=row.created_at, acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
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
        sla = sla_of(row, now=now)
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


class InspectionEventPublic(_Public):
    """One entry of an inspection work order's history (``/api/v1/maintenance``, and the
    ``inspection_event`` of the live stream: a warning, a breach, an escalation, parts
    reserved, short or released, any lifecycle event)."""

    id: int
    inspection_id: int
    event: str
    from_state: str | None
    to_state: str
    actor: str
    at: UtcDatetime
    data: dict[str, Any]

    @classmethod
    def of(cls, e: InspectionEventRow) -> InspectionEventPublic:
        return cls(id=e.id, inspection_id=e.inspection_id, event=e.event,
                   from_state=e.from_state, to_state=e.to_state, actor=e.actor, at=e.at,
                   data=e.data)


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
    impact: Impact
    request: str | None = Field(default=None, description="what the customer asks for")


class StreamMessage(_Public):
    """One message on ``/api/v1/stream``; ``resync`` (no data) asks clients to re-read lists.
    ``ticket_event`` carries one new entry of a ticket's history (a warning, a breach, an
    escalation, a reassignment, a handover, any lifecycle event); ``part_warning`` a low-stock
    warning raised (insert) or cleared (update); ``inspection_event`` one new entry of an
    inspection work order's history. ``id`` is the event's position in the stream log:
    reconnect with it to get exactly what came after."""

    id: int | None = None
    type: Literal["anomaly", "ticket", "ticket_event", "part_warning", "inspection_event",
                  "resync"]
    op: Literal["insert", "update"] | None = None
    data: (TicketPublic | AnomalyPublic | TicketEventPublic | WarningPublic
           | InspectionEventPublic | None) = None


class Health(_Public):
    status: Literal["ok", "unavailable"]
    database: str
    stream: str
    stream_clients: int


class ValidationIssue(_Public):
    loc: list[str | int]
    msg: str
    type: str


class Problem(_Public):
    """An RFC 9457 problem document (``application/problem+json``); ``errors`` lists each bad
    parameter of a 422."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ValidationIssue] | None = None


class CustomerPublic(_Public):
    code: str
    name: str
    tier: str
    city: str | None
    sites: int
    robots: int

    @classmethod
    def of(cls, row: CustomerRow) -> CustomerPublic:
        return cls.model_validate(row, from_attributes=True)


class CustomersPublic(_Public):
    items: list[CustomerPublic]
    count: int


class SitePublic(_Public):
    code: str
    name: str
    city: str | None
    timezone: str
    customer: str
    customer_name: str
    lines: int
    robots: int

    @classmethod
    def of(cls, row: SiteRow) -> SitePublic:
        return cls.model_validate(row, from_attributes=True)


class SitesPublic(_Public):
    items: list[SitePublic]
    count: int


class LinePublic(_Public):
    code: str
    name: str
    site: str
    site_name: str
    customer: str
    robots: int

    @classmethod
    def of(cls, row: LineRow) -> LinePublic:
        return cls.model_validate(row, from_attributes=True)


class LinesPublic(_Public):
    items: list[LinePublic]
    count: int


class EngineerPublic(_Public):
    code: str
    name: str
    role: str
    city: str | None
    skills: list[str]
    on_duty: bool
    open_tickets: int

    @classmethod
    def of(cls, row: EngineerRow) -> EngineerPublic:
        return cls.model_validate(row, from_attributes=True)


class EngineersPublic(_Public):
    items: list[EngineerPublic]
    count: int


class OnCallPublic(_Public):
    """Who is on duty at ``at`` according to the roster (``roster``: its file name; None when
    the API was started without one, and then ``items`` is empty)."""

    at: UtcDatetime
    roster: str | None
    items: list[EngineerPublic]
    count: int
