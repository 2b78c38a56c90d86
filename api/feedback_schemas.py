"""Pydantic models at the edge of the after-sales API (docs/after-sales.md): feedback records
and complaints, their events, callback surveys, root-cause reports, common problems and
quality-control draws. Customers are named by code, never by internal key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

# The same bases as api.schemas: frozen answers, frozen inputs refusing unknown keys.
from api.schemas import CODE_PATTERN, UtcDatetime, _Input, _Public
from storage.callbacks import CallbackRow
from storage.feedback import ExtensionRow, FeedbackEventRow, FeedbackRow
from storage.improvement import CommonProblemRow, QcCheckRow, QcDrawRow, RcaRow
from storage.timers import ClockRun
from ticketing.feedback.lifecycle import FEEDBACK_EVENTS
from ticketing.feedback.policy import CATEGORIES, RCA_CATEGORIES, URGENCIES

__all__ = ["FeedbackCreate", "FeedbackEventCreate", "FeedbackPublic", "FeedbackList",
           "FeedbackDetail", "CallbackAnswer", "CallbackPublic", "SurveyLink", "RcaCreate",
           "RcaPublic", "ProblemEventCreate", "ProblemPublic", "ProblemList", "QcDrawCreate",
           "QcCheckCreate", "QcDrawPublic", "DECIDE_EXTENSION"]

# Events only the customer-service head may perform (access action feedback_decide_extension).
DECIDE_EXTENSION = ("approve_extension", "reject_extension")


def _known(value: str) -> str:
    if value not in FEEDBACK_EVENTS:
        raise ValueError(f"unknown event {value!r}; known: {', '.join(FEEDBACK_EVENTS)}")
    return value


class FeedbackCreate(_Input):
    kind: Literal["feedback", "complaint"] = "feedback"
    customer: str = Field(pattern=CODE_PATTERN, description="customer code")
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    urgency: Literal[URGENCIES] = "general"  # type: ignore[valid-type]
    channel: Literal["phone", "email", "chat", "wechat", "on_site", "callback", "letter",
                     "meeting"]
    reporter: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    received_at: UtcDatetime | None = Field(
        default=None, description="when the customer said it; default: now")
    major: bool = False
    ticket: int | None = Field(default=None, ge=1, description="the ticket it is about")


class FeedbackEventCreate(_Input):
    event: Annotated[str, AfterValidator(_known),
                     Field(json_schema_extra={"enum": list(FEEDBACK_EVENTS)})]
    expected_version: int | None = Field(default=None, ge=1)
    department: str | None = None
    reason: str | None = None
    plan: str | None = None
    message: str | None = None
    result: str | None = None
    notice: str | None = Field(default=None, description="what the customer is told of an "
                                                         "extension decision")
    new_due: UtcDatetime | None = None
    clock: str | None = Field(default=None, description="the deadline an extension moves")

    def details(self) -> dict[str, Any]:
        return self.model_dump(exclude={"event", "expected_version"}, exclude_none=True)


class FeedbackPublic(_Public):
    id: int
    number: str
    kind: str
    customer: str
    ticket_id: int | None
    category: str
    urgency: str
    major: bool
    department: str | None
    channel: str
    reporter: str
    summary: str
    state: str
    received_at: UtcDatetime
    registered_at: UtcDatetime
    registered_late: bool
    completed_at: UtcDatetime | None
    result: str | None
    told_at: UtcDatetime | None
    revisit_due: bool
    revisited_at: UtcDatetime | None
    responded_at: UtcDatetime | None
    escalation: int
    version: int

    @classmethod
    def of(cls, r: FeedbackRow) -> FeedbackPublic:
        return cls(**{k: getattr(r, k) for k in cls.model_fields})


class FeedbackList(_Public):
    data: list[FeedbackPublic]
    count: int


class _Clock(_Public):
    clock: str
    calendar: str
    due_at: UtcDatetime | None
    warned_at: UtcDatetime | None
    breached_at: UtcDatetime | None


class _Event(_Public):
    at: UtcDatetime
    event: str
    actor: str
    from_state: str | None
    to_state: str | None
    data: dict[str, Any]


class _Extension(_Public):
    id: int
    clock: str
    asked_at: UtcDatetime
    asked_by: str
    reason: str
    old_due: UtcDatetime
    new_due: UtcDatetime
    decided_at: UtcDatetime | None
    decided_by: str | None
    approved: bool | None
    notice: str | None


class FeedbackDetail(FeedbackPublic):
    clocks: list[_Clock]
    history: list[_Event]
    extensions: list[_Extension]

    @classmethod
    def full(cls, r: FeedbackRow, *, clocks: list[ClockRun], history: list[FeedbackEventRow],
             extensions: list[ExtensionRow]) -> FeedbackDetail:
        base = FeedbackPublic.of(r).model_dump()
        return cls(
            **base,
            clocks=[_Clock(**{k: getattr(c, k) for k in _Clock.model_fields}) for c in clocks],
            history=[_Event(**{k: getattr(e, k) for k in _Event.model_fields})
                     for e in history],
            extensions=[_Extension(**{k: getattr(x, k) for k in _Extension.model_fields})
                        for x in extensions])


class CallbackAnswer(_Input):
    score: int = Field(ge=1, le=5, description="satisfaction, 1 (poor) to 5 (excellent)")
    suggestions: str | None = Field(default=None, max_length=4000)


class CallbackPublic(_Public):
    ticket: str
    customer: str
    opened_at: UtcDatetime
    due_at: UtcDatetime
    score: int | None
    suggestions: str | None
    recorded_at: UtcDatetime | None
    via: str | None
    follow_up_id: int | None

    @classmethod
    def of(cls, r: CallbackRow) -> CallbackPublic:
        return cls(**{k: getattr(r, k) for k in cls.model_fields})


class SurveyLink(_Public):
    url: str = Field(description="send it to the customer; shown once, works once")
    expires_at: UtcDatetime


class RcaCreate(_Input):
    category: Literal[RCA_CATEGORIES]  # type: ignore[valid-type]
    cause: str = Field(min_length=1)
    lessons: str = Field(min_length=1)
    gaps: str = Field(min_length=1)
    actions: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)


class RcaPublic(_Public):
    ticket: str
    required_for: list[str]
    due_at: UtcDatetime | None
    category: str | None
    cause: str | None
    lessons: str | None
    gaps: str | None
    actions: list[str] | None
    submitted_at: UtcDatetime | None
    submitted_by: str | None

    @classmethod
    def of(cls, r: RcaRow) -> RcaPublic:
        return cls(**{k: getattr(r, k) for k in cls.model_fields})


class ProblemEventCreate(_Input):
    event: Literal["record_capa", "verify", "reject"]
    corrective: str | None = None
    preventive: str | None = None
    verification: str | None = None

    def details(self) -> dict[str, Any]:
        return self.model_dump(exclude={"event"}, exclude_none=True)


class ProblemPublic(_Public):
    id: int
    number: str
    kind: str
    opened_at: UtcDatetime
    robots: int
    customers: int
    owner: str
    state: str
    capa_due: UtcDatetime
    corrective: str | None
    preventive: str | None
    capa_at: UtcDatetime | None
    verify_due: UtcDatetime | None
    verification: str | None
    verified_at: UtcDatetime | None
    tickets: list[str] = []

    @classmethod
    def of(cls, r: CommonProblemRow, tickets: list[str]) -> ProblemPublic:
        return cls(**{k: getattr(r, k) for k in cls.model_fields if k != "tickets"},
                   tickets=tickets)


class ProblemList(_Public):
    data: list[ProblemPublic]
    count: int


class QcDrawCreate(_Input):
    since: UtcDatetime
    until: UtcDatetime
    seed: int = Field(ge=0, le=2**63 - 1, description="the same seed redraws the same tickets")


class QcCheckCreate(_Input):
    result: Literal["pass", "fail"]
    note: str | None = None


class _Check(_Public):
    ticket_id: int
    ticket: str
    result: str | None
    note: str | None
    checked_at: UtcDatetime | None
    checked_by: str | None


class QcDrawPublic(_Public):
    id: int
    period_from: UtcDatetime
    period_to: UtcDatetime
    seed: int
    share: float
    population: int
    drawn_at: UtcDatetime
    drawn_by: str
    checks: list[_Check]

    @classmethod
    def of(cls, d: QcDrawRow, checks: list[QcCheckRow]) -> QcDrawPublic:
        return cls(**{k: getattr(d, k) for k in cls.model_fields if k != "checks"},
                   checks=[_Check(**{k: getattr(c, k) for k in _Check.model_fields})
                           for c in checks])


