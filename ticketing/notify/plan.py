"""Who is told of a ticket or feedback event, and what they read. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from storage.notifications import (
    EventToNotify,
    FeedbackEventToNotify,
    PlannedDelivery,
    Recipient,
)
from ticketing.policy import NotificationRoute, NotificationRules

__all__ = ["deliveries_for", "message", "feedback_deliveries_for", "feedback_message"]

_TITLES = {
    "clock_warning": "SLA warning", "clock_breached": "SLA breached", "escalation": "escalated",
    "reassign": "reassigned", "handover": "handed over", "regrade": "regraded",
    "approve_extension": "extension approved", "reject_extension": "extension refused",
    "tell_result": "result told to the customer",
    "low_score_follow_up": "low callback score: follow-up opened",
}


def message(event: EventToNotify) -> tuple[str, str]:
    """(subject, body) of the notice of ``event``: plain text, readable in a mail client and in
    a chat bubble alike."""
    what = _TITLES.get(event.event, event.event.replace("_", " "))
    subject = f"[robowatch] {event.number} grade {event.grade}: {what}"
    lines = [
        f"{event.number} ({event.title})",
        f"robot {event.robot}, customer {event.customer}, grade {event.grade}, "
        f"state {event.state}, assignee {event.assignee or 'none'}",
        f"{what} at {event.at.isoformat(timespec='seconds')} by {event.actor}",
    ]
    lines += [f"{k}: {v}" for k, v in sorted(event.data.items()) if v not in (None, "", [], {})]
    return subject, "\n".join(lines)


def feedback_message(event: FeedbackEventToNotify) -> tuple[str, str]:
    """(subject, body) of the notice of a feedback or complaint event."""
    what = _TITLES.get(event.event, event.event.replace("_", " "))
    subject = f"[robowatch] {event.kind} {event.number} ({event.urgency}): {what}"
    lines = [
        f"{event.number}: {event.summary}",
        f"customer {event.customer}, {event.category.replace('_', ' ')}, urgency "
        f"{event.urgency}, state {event.state}, department {event.department or 'not routed'}",
        f"{what} at {event.at.isoformat(timespec='seconds')} by {event.actor}",
    ]
    lines += [f"{k}: {v}" for k, v in sorted(event.data.items()) if v not in (None, "", [], {})]
    return subject, "\n".join(lines)


def _deliveries(
    routes: Sequence[NotificationRoute], *, subject: str, body: str, assignee: Recipient | None,
    people_with_role: Callable[[str], Sequence[Recipient]],
) -> list[PlannedDelivery]:
    """One delivery per distinct recipient ``routes`` name; a person reached twice (assignee
    and manager) gets one message. People without an e-mail address are skipped: they have
    nowhere to be told."""
    seen: set[tuple[str, str]] = set()
    out: list[PlannedDelivery] = []

    def add(channel: str, recipient: str) -> None:
        if (channel, recipient) not in seen:
            seen.add((channel, recipient))
            out.append(PlannedDelivery(channel=channel, recipient=recipient, subject=subject,
                                       body=body))

    for route in routes:
        for to in route.to:
            if to == "assignee":
                if assignee is not None and assignee.email:
                    add("email", assignee.email)
            elif to.startswith("role:"):
                for person in people_with_role(to.removeprefix("role:")):
                    if person.email:
                        add("email", person.email)
            else:
                add("webhook", to.removeprefix("webhook:"))
    return out


def deliveries_for(
    event: EventToNotify,
    *,
    rules: NotificationRules,
    assignee: Recipient | None,
    people_with_role: Callable[[str], Sequence[Recipient]],
) -> list[PlannedDelivery]:
    """The deliveries of a ticket event: the ticket routes naming its event and grade."""
    subject, body = message(event)
    routes = [r for r in rules.routes if r.about == "ticket" and event.event in r.events
              and event.grade in r.grades]
    return _deliveries(routes, subject=subject, body=body, assignee=assignee,
                       people_with_role=people_with_role)


def feedback_deliveries_for(
    event: FeedbackEventToNotify,
    *,
    rules: NotificationRules,
    people_with_role: Callable[[str], Sequence[Recipient]],
) -> list[PlannedDelivery]:
    """The deliveries of a feedback event: the feedback routes naming it."""
    subject, body = feedback_message(event)
    routes = [r for r in rules.routes if r.about == "feedback" and event.event in r.events]
    return _deliveries(routes, subject=subject, body=body, assignee=None,
                       people_with_role=people_with_role)
