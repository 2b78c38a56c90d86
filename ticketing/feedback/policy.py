"""The after-sales sections of the service policy (service rules sections 5 and 6):
``[feedback]``, ``[callbacks]`` and ``[improvement]``, fields of ``ticketing.policy.Policy``.

Every number of the after-sales loop is here, validated when the policy loads: deadlines with
the calendar they count in, routing of categories to departments, the callback's threshold,
the recurrence and common-problem windows, the quality-control share.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, get_args

from pydantic import Field, model_validator

from ticketing.units import POSITIVE, CalendarKind, Duration, FrozenModel

__all__ = ["Deadline", "Urgency", "URGENCIES", "Category", "CATEGORIES", "FeedbackKind",
           "FEEDBACK_KINDS", "RcaCategory", "RCA_CATEGORIES", "UrgencyClocks", "ComplaintClocks",
           "FeedbackRules", "CallbackRules", "ImprovementRules", "FEEDBACK_CLOCKS"]

# Vocabularies the schema checks (CHECK constraints in storage), not policy.
Urgency = Literal["urgent", "general", "complex"]
URGENCIES: tuple[Urgency, ...] = get_args(Urgency)
Category = Literal["product_quality", "service_process", "technical_support", "other",
                   "cross_department"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
FeedbackKind = Literal["feedback", "complaint"]
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = get_args(FeedbackKind)
# Service rules section 6: where a repeated or major fault's root cause lies.
RcaCategory = Literal["design", "manufacturing", "installation", "operation", "maintenance"]
RCA_CATEGORIES: tuple[RcaCategory, ...] = get_args(RcaCategory)
# The clocks a feedback record runs (names shared with ticketing.policy.ClockName).
FeedbackClock = Literal["confirm", "plan", "solve", "update", "tell", "revisit", "respond",
                        "answer"]
FEEDBACK_CLOCKS: tuple[FeedbackClock, ...] = get_args(FeedbackClock)


class Deadline(FrozenModel):
    """An allowed time and the calendar it counts in: ``{ allowed = "3d", calendar =
    "working" }`` is 3 working days (a working day counts whole, ``ticketing.calendar``)."""

    allowed: Duration
    calendar: CalendarKind

    @model_validator(mode="after")
    def _positive(self) -> Deadline:
        if self.allowed <= timedelta(0):
            raise ValueError(f"allowed {POSITIVE}")
        return self


class UrgencyClocks(FrozenModel):
    """What an urgency owes, counted from registration."""

    plan: Deadline = Field(description="a plan (urgent, general) or an outline with milestones "
                                       "(complex)")
    solve: Deadline | None = Field(default=None, description="the core problem solved; None: "
                                                             "progress reports instead")
    update_every: Deadline | None = Field(default=None,
                                          description="progress-report cadence after the plan")


class ComplaintClocks(FrozenModel):
    respond: Deadline = Field(description="first response to the customer")
    answer: Deadline = Field(description="investigated and answered")


class FeedbackRules(FrozenModel):
    register_within: Deadline = Field(description="from the customer's word to the record")
    confirm_within: Deadline = Field(description="the receiving department confirms")
    routing: dict[Category, str] = Field(description="category -> the department it goes to")
    urgency: dict[Urgency, UrgencyClocks]
    complaint: ComplaintClocks
    extension_notice: Deadline = Field(description="an extension is asked at least this long "
                                                   "before the deadline it moves")
    tell_within: Deadline = Field(description="the result told to the customer after completion")
    revisit_after: Duration = Field(description="major and complex items are revisited no "
                                                "earlier than this after completion")
    revisit_within: Deadline = Field(description="... and no later than this")
    revisit_urgencies: tuple[Urgency, ...] = Field(
        default=("complex",), description="urgencies always revisited (besides major items)")
    escalates: tuple[FeedbackClock, ...] = Field(
        default=(), description="clocks whose breach climbs the policy's escalation ladder")

    @model_validator(mode="after")
    def _complete(self) -> FeedbackRules:
        missing = [c for c in CATEGORIES if c not in self.routing]
        if missing:
            raise ValueError(f"routing has no department for {', '.join(missing)}")
        if any(not d.strip() for d in self.routing.values()):
            raise ValueError("routing names an empty department")
        unclocked = [u for u in URGENCIES if u not in self.urgency]
        if unclocked:
            raise ValueError(f"urgency has no clocks for {', '.join(unclocked)}")
        if self.revisit_after < timedelta(0):
            raise ValueError("revisit_after cannot be negative")
        return self


class CallbackRules(FrozenModel):
    within: Deadline = Field(description="the survey is done this long after completion")
    low_score: int = Field(ge=2, le=5, description="a score below this opens a follow-up")
    link_valid: Duration = Field(description="how long the customer's survey link works")
    follow_up_category: Category = "service_process"
    follow_up_urgency: Urgency = "general"

    @model_validator(mode="after")
    def _positive(self) -> CallbackRules:
        if self.link_valid <= timedelta(0):
            raise ValueError(f"link_valid {POSITIVE}")
        return self


class ImprovementRules(FrozenModel):
    rca_grades: tuple[Literal["I", "II", "III", "IV"], ...] = Field(
        description="grades whose completion owes a root-cause report")
    rca_within: Deadline = Field(description="the report is due this long after completion")
    repeat_window: Duration = Field(description="the same robot and fault kind within this of a "
                                                "closed ticket is a repeat")
    common_window: Duration = Field(description="window of the common-problem rule")
    common_min_robots: int = Field(ge=2, description="same fault kind on this many robots ...")
    common_min_customers: int = Field(ge=2, description="... or at this many customers")
    common_ignore_kinds: tuple[str, ...] = Field(
        default=(), description="kinds too generic to say two faults are one problem")
    common_owner: str = Field(min_length=1, description="who owns a new common problem's CAPA")
    capa_within: Deadline = Field(description="corrective and preventive actions due")
    verify_after: Duration = Field(description="the effect is verified this long after the CAPA")
    qc_share: float = Field(gt=0, le=1, description="share of resolved tickets drawn for QC")

    @model_validator(mode="after")
    def _positive(self) -> ImprovementRules:
        for name in ("repeat_window", "common_window", "verify_after"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} {POSITIVE}")
        return self
