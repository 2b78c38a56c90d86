"""Every error the parts package raises on purpose derives from ``PartsError``.

::

    PartsError
    ├── PolicyError           the parts policy file is missing, unreadable or inconsistent
    ├── UnknownItem           no such part, warehouse, robot, ticket, requisition or serial
    ├── NotAllowed            a lifecycle event the requisition's or serial's state forbids
    │                         (wraps python-statemachine's ``TransitionNotAllowed``)
    ├── BadRequest            a detail is missing or unusable (reason, quantity, serials)
    └── OutOfStock            not enough available stock; carries what was there
"""

from __future__ import annotations

__all__ = ["PartsError", "PolicyError", "UnknownItem", "NotAllowed", "BadRequest", "OutOfStock"]


class PartsError(Exception):
    """Base of the package's errors."""


class PolicyError(PartsError):
    """The parts policy cannot be used; the message names the file and the field."""


class UnknownItem(PartsError):
    """A code or id that names nothing."""


class NotAllowed(PartsError):
    def __init__(self, *, what: str, event: str, state: str) -> None:
        self.what = what
        self.event = event
        self.state = state
        super().__init__(f"{what}: {event!r} is not allowed in state {state!r}")


class BadRequest(PartsError):
    """A detail the act needs was not given, or was given in a form it cannot use."""


class OutOfStock(PartsError):
    """Not enough stock that is not already reserved."""

    @classmethod
    def of(cls, *, part: str, warehouse: str, wanted: int, available: int) -> OutOfStock:
        return cls(f"{part} at {warehouse}: {wanted} wanted, {available} available")
