"""Every error the ticketing package raises on purpose derives from ``TicketingError``.

::

    TicketingError
    ├── PolicyError            a policy file is missing, unreadable or inconsistent
    ├── GradingError           a tier or impact class the policy does not know
    └── LifecycleError         a ticket event that cannot be applied
        ├── EventRefused       the event is not allowed in the ticket's state (wraps
        │                      python-statemachine's ``TransitionNotAllowed``)
        ├── MissingDetail      the event needs a detail (reason, assignee, report) not given
        ├── TicketNotFound     no ticket with that id
        └── ConcurrentChange   someone else moved the ticket between our read and our write
"""

from __future__ import annotations

__all__ = ["TicketingError", "PolicyError", "GradingError", "LifecycleError", "EventRefused",
           "MissingDetail", "TicketNotFound", "ConcurrentChange"]


class TicketingError(Exception):
    """Base of the package's errors."""


class PolicyError(TicketingError):
    """A policy file cannot be used; the message names the file and the offending field."""


class GradingError(TicketingError):
    """The policy has no grade for this tier and impact class."""


class LifecycleError(TicketingError):
    """A ticket event cannot be applied."""


class EventRefused(LifecycleError):
    def __init__(self, *, event: str, state: str) -> None:
        self.event = event
        self.state = state
        super().__init__(f"event {event!r} is not allowed in state {state!r}")


class MissingDetail(LifecycleError):
    """The event needs a detail that was not given."""


class TicketNotFound(LifecycleError):
    """No ticket with that id."""


class ConcurrentChange(LifecycleError):
    """The ticket's state changed between reading it and writing the transition."""
