"""Every error the ticketing package raises on purpose derives from ``TicketingError``.

::

    TicketingError
    ├── PolicyError            a policy file is missing, unreadable or inconsistent
    ├── GradingError           a tier or impact class the policy does not know
    ├── CalendarError          a site time zone or holiday country that cannot be used
    └── LifecycleError         a ticket event that cannot be applied
        ├── EventRefused       the event is not allowed in the ticket's state (wraps
        │                      python-statemachine's ``TransitionNotAllowed``)
        ├── MissingDetail      the event needs a detail (reason, assignee, report) not given
        │                      or unusable (an unknown engineer, robot or channel)
        ├── TicketNotFound     no ticket with that id
        ├── ConcurrentChange   the ticket is no longer at the version the caller saw; carries
        │                      the current state and version (the API answers 409)
        ├── HandoverRefused    a shift handover that cannot be acknowledged (404/403/409)
        └── LinkRefused        a customer's survey link that is unknown, used or expired

The after-sales records (feedback, complaints, callbacks, root-cause reports) raise the same
errors: ``TicketNotFound`` names a missing record of theirs too.
"""

from __future__ import annotations

__all__ = ["TicketingError", "PolicyError", "GradingError", "CalendarError", "LifecycleError",
           "EventRefused", "MissingDetail", "TicketNotFound", "ConcurrentChange", "HandoverRefused",
           "LinkRefused"]


class TicketingError(Exception):
    """Base of the package's errors."""


class PolicyError(TicketingError):
    """A policy file cannot be used; the message names the file and the offending field."""


class GradingError(TicketingError):
    """The policy has no grade for this tier and impact class."""


class CalendarError(TicketingError):
    """A business-time calendar cannot be built (unknown time zone or holiday country)."""


class LifecycleError(TicketingError):
    """A ticket event cannot be applied."""


class EventRefused(LifecycleError):
    def __init__(self, *, event: str, state: str, why: str | None = None) -> None:
        self.event = event
        self.state = state
        self.why = why
        super().__init__(f"event {event!r} is not allowed in state {state!r}"
                         + (f": {why}" if why else ""))


class MissingDetail(LifecycleError):
    """The event needs a detail that was not given, or was given in a form it cannot use."""


class TicketNotFound(LifecycleError):
    """No ticket with that id."""


class ConcurrentChange(LifecycleError):
    """The ticket changed since the caller read it (optimistic concurrency): nothing was
    written. ``state`` and ``version`` are the ticket's current ones, so a client can reload
    and decide again."""

    def __init__(self, *, ticket: str, expected: int | None, state: str, version: int) -> None:
        self.ticket = ticket
        self.expected = expected
        self.state = state
        self.version = version
        super().__init__(f"ticket {ticket} is at version {version} (state {state!r}), "
                         f"not {expected}: it changed meanwhile")


class HandoverRefused(LifecycleError):
    """A shift handover cannot be acknowledged: ``status`` is the HTTP answer it maps to (404
    unknown or not fired, 403 not of the incoming shift, 409 acknowledged already)."""

    def __init__(self, message: str, *, status: int) -> None:
        self.status = status
        super().__init__(message)


class LinkRefused(LifecycleError):
    """A callback survey link that is unknown, already used, or expired: the same answer for
    all three, so a guesser learns nothing."""
