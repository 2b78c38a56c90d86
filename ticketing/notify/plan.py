"""Who is told of a ticket event, and what they read. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from storage.notifications import EventToNotify, PlannedDelivery, Recipient
from ticketing.policy import NotificationRules

__all__ = ["deliveries_for", "message"]

_TITLES = {
    "clock_warning": "SLA warning", "clock_breached": "SLA breached", "escalation": "escalated",
    "reassign": "reassigned", "handover": "handed over", "regrade": "regraded",
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


def deliveries_for(
    event: EventToNotify,
    *,
    rules: NotificationRules,
    assignee: Recipient | None,
    people_with_role: Callable[[str], Sequence[Recipient]],
) -> list[PlannedDelivery]:
    """One delivery per distinct recipient the routes name for ``event``; a person reached
    twice (assignee and manager) gets one message. People without an e-mail address are
    skipped: they have nowhere to be told."""
    subject, body = message(event)
    seen: set[tuple[str, str]] = set()
    out: list[PlannedDelivery] = []

    def add(channel: str, recipient: str) -> None:
        if (channel, recipient) not in seen:
            seen.add((channel, recipient))
            out.append(PlannedDelivery(channel=channel, recipient=recipient, subject=subject,
                                       body=body))

    for route in rules.routes:
        if event.event not in route.events or event.grade not in route.grades:
            continue
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
