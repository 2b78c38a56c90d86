"""Service policy: grading matrix, SLA clocks and process clocks, loaded from a TOML file.

Every number of the after-sales rules lives in a policy file a company can edit
(``ticketing/policies/default.toml`` is seed 000, the robot-integration O&M rules). A policy is
validated completely when loaded, so a service never starts with a hole in its matrix or its
clock table. Its ``label`` (name@version) is written on every ticket it graded.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar, get_args

from pydantic import BaseModel, Field, ValidationError, model_validator

from ticketing.errors import PolicyError
from ticketing.feedback.policy import CallbackRules, FeedbackRules, ImprovementRules
from ticketing.units import (
    POSITIVE,
    CalendarKind,
    Duration,
    FrozenModel,
    format_duration,
    parse_duration,
)

M = TypeVar("M", bound=BaseModel)

__all__ = ["parse_toml", "read_toml",
           "TIERS", "IMPACTS", "GRADES", "CHANNELS", "MANUAL_CHANNELS", "CLOCKS", "Tier",
           "Impact", "Grade", "Channel", "ClockName", "CalendarKind", "ClockRow", "MultiCoreRule",
           "ProcessClocks", "Routing", "IncidentRules", "NotificationRoute", "NotificationRules",
           "Timers", "EscalationStep", "Escalation", "Policy", "load_policy", "builtin_policy",
           "builtin_policy_names", "parse_duration", "format_duration"]

# These three vocabularies are schema contracts (CHECK constraints in storage), not policy.
Tier = Literal["core", "important", "ordinary"]
Impact = Literal["stoppage", "core-module", "non-core", "minor"]
Grade = Literal["I", "II", "III", "IV"]
TIERS: tuple[Tier, ...] = ("core", "important", "ordinary")
IMPACTS: tuple[Impact, ...] = ("stoppage", "core-module", "non-core", "minor")
GRADES: tuple[Grade, ...] = ("I", "II", "III", "IV")
# Intake channels (service rules section 4); 'monitoring' is the automatic one.
Channel = Literal["monitoring", "phone", "email", "chat", "wechat", "on_site"]
CHANNELS: tuple[Channel, ...] = ("monitoring", "phone", "email", "chat", "wechat", "on_site")
MANUAL_CHANNELS: tuple[Channel, ...] = CHANNELS[1:]
# The clocks a ticket runs (service rules section 3): the two process clocks, the grade's SLA
# clocks, the progress-update cadence and the one update owed at completion when there is none.
# After sales (ticketing.feedback, ticketing.improvement) adds the callback survey and the
# root-cause report owed on a completed ticket, and the clocks of a feedback record: its
# department's confirmation, plan, solution, progress reports, the result told, the revisit,
# and a complaint's response and answer (confirm, plan, update and respond reused by name).
ClockName = Literal["dispatch", "confirm", "respond", "onsite", "plan", "resolve", "update",
                    "final_update", "callback", "rca", "solve", "tell", "revisit", "answer"]
CLOCKS: tuple[ClockName, ...] = get_args(ClockName)

_POSITIVE = POSITIVE
_Model = FrozenModel


class ClockRow(_Model):
    """SLA clocks of one grade for some tiers, all counted from acceptance, 24x7."""

    grade: Grade
    tiers: tuple[Tier, ...] = TIERS
    respond: Duration
    onsite: Duration | None = None
    plan: Duration | None = None
    resolve: Duration
    resolve_extended: Duration | None = Field(
        default=None, description="longest resolve clock, allowed with a reason told the customer")
    update_every: Duration | None = Field(
        default=None, description="progress-update cadence; None means once, at completion")
    assumed: bool = Field(default=False, description="not stated by the source rules")
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ClockRow:
        for name in ("respond", "onsite", "plan", "resolve", "resolve_extended", "update_every"):
            v = getattr(self, name)
            if v is not None and v <= timedelta(0):
                raise ValueError(f"{name} {_POSITIVE}")
        if self.resolve_extended is not None and self.resolve_extended < self.resolve:
            raise ValueError("resolve_extended is shorter than resolve")
        if self.respond > self.resolve:
            raise ValueError("respond is later than resolve")
        if not self.tiers:
            raise ValueError("tiers is empty")
        return self


class MultiCoreRule(_Model):
    """The same fault kind at several customers of ``tiers`` within ``window`` -> ``grade``."""

    min_customers: int = Field(ge=2)
    window: Duration
    tiers: tuple[Tier, ...] = ("core",)
    grade: Grade = "I"


class ProcessClocks(_Model):
    dispatch: Duration
    confirm: Duration
    # Absent: one dispatch clock. Set: the dispatch clock allows this long instead when nobody
    # the ticket is routed to is on duty in the robot's city (seed 004: 2 h outside the city).
    dispatch_outside_city: Duration | None = None


class Routing(_Model):
    """Who a new ticket goes to: grades for the O&M manager, the rest to an engineer."""

    manager_grades: tuple[Grade, ...] = ("I", "II")
    manager_role: str = "manager"
    engineer_role: str = "engineer"


class HandoverRules(_Model):
    """What a shift handover does with the open tickets of the people going off duty."""

    reassign: bool = Field(
        description="the listed tickets go to the incoming shift, by the dispatch rules")
    reassign_after: Duration = Field(
        description="nobody acknowledged the handover: the timer reassigns this long after")


class Timers(_Model):
    """How clocks count, when they warn, and the windows of the later events."""

    warn_share: float = Field(gt=0, lt=1, description="warn at this share of the allowed time")
    calendar: CalendarKind = "24x7"
    holidays: str | None = Field(
        default="CN", pattern=r"^[A-Z]{2}$",
        description="public holidays of this country (ISO 3166 code) are not working days")
    workdays: tuple[int, ...] = Field(default=(1, 2, 3, 4, 5),
                                      description="ISO weekdays that are working days")
    completion_update: Duration = Field(
        description="grades without a cadence owe one update at completion, within this")
    reopen_window: Duration = Field(
        description="a resolved or signed-off ticket can be reopened this long afterwards")

    @model_validator(mode="after")
    def _sane(self) -> Timers:
        if not self.workdays or any(d < 1 or d > 7 for d in self.workdays):
            raise ValueError("workdays must name ISO weekdays 1 (Monday) to 7 (Sunday)")
        for name in ("completion_update", "reopen_window"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} {_POSITIVE}")
        return self


class EscalationStep(_Model):
    """One rung of the ladder: ``after`` the previous rung (the first: after the breach), the
    ticket goes up to ``to``; ``role`` is whom notifications will address."""

    level: int = Field(ge=2, description="level 1 is the assignee; the ladder starts at 2")
    to: str = Field(min_length=1)
    role: str = Field(min_length=1)
    after: Duration
    calendar: CalendarKind = "24x7"


class Escalation(_Model):
    clocks: tuple[ClockName, ...] = Field(description="clocks whose breach climbs the ladder")
    steps: tuple[EscalationStep, ...]

    @model_validator(mode="after")
    def _ordered(self) -> Escalation:
        levels = [s.level for s in self.steps]
        if levels != sorted(set(levels)):
            raise ValueError(f"steps must climb strictly by level, got {levels}")
        if any(s.after < timedelta(0) for s in self.steps):
            raise ValueError("a step's after cannot be negative")
        if self.clocks and not self.steps:
            raise ValueError("clocks escalate but the ladder has no steps")
        return self


class Grading(_Model):
    matrix: dict[Tier, dict[Impact, Grade]]
    assumed: tuple[str, ...] = Field(
        default=(), description="'tier.impact' cells not stated by the source rules")
    multi_core: MultiCoreRule | None = None

    @model_validator(mode="after")
    def _complete(self) -> Grading:
        have = {(t, i) for t, row in self.matrix.items() for i in row}
        missing = [f"{t}.{i}" for t in TIERS for i in IMPACTS if (t, i) not in have]
        if missing:
            raise ValueError(f"matrix has no grade for {', '.join(missing)}")
        unknown = [c for c in self.assumed if c.partition(".")[::2] not in
                   {(t, i) for t in TIERS for i in IMPACTS}]
        if unknown:
            raise ValueError(f"assumed names unknown cells {unknown}; write 'tier.impact'")
        return self


class PolicyHeader(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    version: str = Field(min_length=1, max_length=32)
    description: str = ""
    source: str = ""


class IncidentRules(_Model):
    """Which anomalies of one robot are one incident, and so one ticket (docs/service-policy.md,
    "One incident, one ticket")."""

    window: Duration = Field(description="how long after a part's last anomaly a system-level "
                                         "anomaly that follows from it still joins its ticket")
    system_components: tuple[str, ...] = Field(
        default=("controller",), description="components that are not a part of the arm: "
                                             "their anomalies follow a part's or join by kind")
    follows: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="system-level anomaly kind -> the part anomaly "
                                          "kinds it is a consequence of")
    axis_keys: tuple[str, ...] = Field(
        default=("joint", "axis"), description="evidence keys that name the joint an alarm "
                                               "concerns (\"J3\" or 3)")


class NotificationRoute(_Model):
    # Whose events: a ticket's, or a feedback record's (feedback and complaints: their clock
    # warnings, breaches and escalations, extension decisions, result told, and
    # ``low_score_follow_up``). Feedback has no grade and no assignee: ``grades`` does not
    # filter it and "assignee" reaches nobody.
    about: Literal["ticket", "feedback"] = "ticket"
    events: tuple[str, ...] = Field(min_length=1)
    grades: tuple[Grade, ...] = GRADES
    # "assignee" (e-mail), "role:<role>" (e-mail to each on-duty person of the role),
    # "webhook:<name>" (a group bot configured in the settings, where its URL is a secret).
    to: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _recipients_known(self) -> NotificationRoute:
        for r in self.to:
            if r != "assignee" and not re.fullmatch(r"(role|webhook):[A-Za-z0-9_.-]+", r):
                raise ValueError(f"recipient {r!r}: use assignee, role:<role> or "
                                 "webhook:<name>")
        return self


class NotificationRules(_Model):
    """Who is told of which ticket event, and how hard the sender tries (docs/notifications.md)."""

    routes: tuple[NotificationRoute, ...] = ()
    retry_first: Duration = Field(description="wait before the second attempt; doubles after")
    retry_cap: Duration = Field(description="longest wait between two attempts")
    max_attempts: int = Field(ge=1, le=100)

    @property
    def events(self) -> tuple[str, ...]:
        """The ticket events any route names."""
        return self.events_of("ticket")

    def events_of(self, about: str) -> tuple[str, ...]:
        return tuple(sorted({e for r in self.routes if r.about == about for e in r.events}))


class Policy(_Model):
    policy: PolicyHeader
    grading: Grading
    clocks: tuple[ClockRow, ...]
    process: ProcessClocks
    routing: Routing = Routing()
    # Absent: anomalies join a ticket only with the same robot, component and kind.
    incidents: IncidentRules | None = None
    # Absent: nobody is notified.
    notifications: NotificationRules | None = None
    timers: Timers
    escalation: Escalation
    # Absent: handed-over tickets keep their assignee (a person reassigns them).
    handover: HandoverRules | None = None
    # After sales (docs/after-sales.md). Absent: the policy runs no feedback records, no
    # callback surveys, no root-cause reports (each section on its own).
    feedback: FeedbackRules | None = None
    callbacks: CallbackRules | None = None
    improvement: ImprovementRules | None = None

    @model_validator(mode="after")
    def _every_grade_and_tier_has_one_clock(self) -> Policy:
        seen: dict[tuple[str, str], int] = {}
        for n, row in enumerate(self.clocks):
            for tier in row.tiers:
                if (row.grade, tier) in seen:
                    raise ValueError(
                        f"clocks[{seen[(row.grade, tier)]}] and clocks[{n}] both set grade "
                        f"{row.grade} for tier {tier}")
                seen[(row.grade, tier)] = n
        missing = [f"{g}/{t}" for g in GRADES for t in TIERS if (g, t) not in seen]
        if missing:
            raise ValueError(f"clocks missing for grade/tier {', '.join(missing)} "
                             "(mark invented rows with assumed = true)")
        return self

    @property
    def label(self) -> str:
        """What a ticket records in its ``policy`` column."""
        return f"{self.policy.name}@{self.policy.version}"

    def clock_for(self, *, grade: str, tier: str) -> ClockRow:
        for row in self.clocks:
            if row.grade == grade and tier in row.tiers:
                return row
        raise PolicyError(f"policy {self.label} has no clocks for grade {grade!r}, tier {tier!r}")


def _explain(exc: ValidationError) -> str:
    return "\n".join(f"  {'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                     for e in exc.errors())


def parse_toml(text: str, origin: str, model: type[M], *, what: str) -> M:
    """``text`` (TOML from ``origin``) as ``model``; ``PolicyError`` names the place and every
    key that is wrong. The one way the ticketing package reads its policy files."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"{origin}: invalid {what}:\n{_explain(exc)}") from exc


def read_toml(path: Path, model: type[M], *, what: str) -> M:
    """The file ``path`` as ``model`` (see :func:`parse_toml`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read {what} file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: {what} file is not UTF-8: {exc}") from exc
    return parse_toml(text, str(path), model, what=what)


# Policy files beside the service policies that are not service policies.
_OTHER_POLICIES = frozenset({"access.toml"})


def builtin_policy_names() -> list[str]:
    return sorted(e.name[:-5] for e in resources.files("ticketing.policies").iterdir()
                  if e.name.endswith(".toml") and e.name not in _OTHER_POLICIES)


def builtin_policy(name: str = "default") -> Policy:
    """One of the policies shipped in ``ticketing/policies`` (``default``, ``seed003``, ...)."""
    if name not in builtin_policy_names():
        raise PolicyError(f"no built-in policy {name!r}; have {builtin_policy_names()}")
    entry = resources.files("ticketing.policies").joinpath(f"{name}.toml")
    return parse_toml(entry.read_text(encoding="utf-8"), f"built-in policy {name!r}", Policy,
                      what="policy")


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path``; the built-in default when ``path`` is None."""
    if path is None:
        return builtin_policy("default")
    return read_toml(path, Policy, what="policy")
