"""The pure rules of a feedback record (service rules section 5): where it goes, which clocks
it runs, whether it was registered in time, whether an extension may be asked, whether it is
revisited. Nothing here reads or writes the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ticketing.calendar import Calendar
from ticketing.clocks import ClockSpec
from ticketing.errors import EventRefused, MissingDetail, PolicyError
from ticketing.feedback.policy import (
    CATEGORIES,
    FEEDBACK_KINDS,
    URGENCIES,
    Deadline,
    FeedbackRules,
)
from ticketing.policy import ClockName, Policy

__all__ = ["rules_of", "department_for", "opening_clocks", "spec_of", "registered_late",
           "check_extension", "needs_revisit", "check_vocabulary", "target_clock"]


def rules_of(policy: Policy) -> FeedbackRules:
    if policy.feedback is None:
        raise PolicyError(f"policy {policy.label} has no [feedback] section: it runs no "
                          "feedback records")
    return policy.feedback


def check_vocabulary(*, kind: str, category: str, urgency: str) -> None:
    for name, value, known in (("kind", kind, FEEDBACK_KINDS), ("category", category, CATEGORIES),
                               ("urgency", urgency, URGENCIES)):
        if value not in known:
            raise MissingDetail(f"{name} must be one of {known}, got {value!r}")


def department_for(rules: FeedbackRules, category: str) -> str:
    """The department a category is routed to by default (seed 001)."""
    try:
        return rules.routing[category]  # type: ignore[index]
    except KeyError:
        raise MissingDetail(f"no department for category {category!r}") from None


def spec_of(rules: FeedbackRules, name: ClockName, deadline: Deadline) -> ClockSpec:
    return ClockSpec(name=name, allowed=deadline.allowed, calendar=deadline.calendar,
                     escalates=name in rules.escalates)


def opening_clocks(rules: FeedbackRules, *, kind: str, urgency: str) -> list[ClockSpec]:
    """The clocks that start at registration: a complaint's response and answer, or the
    urgency's plan and (when it has one) solution."""
    if kind == "complaint":
        return [spec_of(rules, "respond", rules.complaint.respond),
                spec_of(rules, "answer", rules.complaint.answer)]
    clocks = rules.urgency[urgency]  # type: ignore[index]
    out = [spec_of(rules, "plan", clocks.plan)]
    if clocks.solve is not None:
        out.append(spec_of(rules, "solve", clocks.solve))
    return out


def registered_late(
    rules: FeedbackRules, cal: Callable[[str], Calendar], *, received_at: datetime,
    registered_at: datetime,
) -> bool:
    """Was the record made later than ``register_within`` after the customer's word?"""
    if registered_at < received_at:
        raise MissingDetail("a feedback cannot be received after it was registered")
    d = rules.register_within
    return cal(d.calendar).elapsed(received_at, registered_at) > d.allowed


# The deadline an extension moves when none is named: the furthest the record owes.
_TARGETS: tuple[ClockName, ...] = ("solve", "answer", "plan", "update", "confirm")


def target_clock(open_clocks: list[str]) -> str:
    for name in _TARGETS:
        if name in open_clocks:
            return name
    raise EventRefused(event="request_extension", state="-",
                       why="no running deadline to extend")


def check_extension(
    rules: FeedbackRules, cal: Callable[[str], Calendar], *, now: datetime, due: datetime,
    new_due: datetime,
) -> None:
    """Seed 001: asked at least ``extension_notice`` before the deadline, for a later date."""
    notice = rules.extension_notice
    left = cal(notice.calendar).elapsed(now, due)
    if left < notice.allowed:
        raise EventRefused(event="request_extension", state="-",
                           why=f"asked {left} before the deadline {due.isoformat()}; the "
                               f"policy wants at least {notice.allowed} ({notice.calendar})")
    if new_due <= due:
        raise MissingDetail(f"new_due {new_due.isoformat()} is not after the deadline "
                            f"{due.isoformat()}")


def needs_revisit(rules: FeedbackRules, *, urgency: str, major: bool) -> bool:
    """Seed 001: major and complex items are revisited 1-2 months after completion."""
    return major or urgency in rules.revisit_urgencies
