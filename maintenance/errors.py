"""Errors of the maintenance planner: one base, so the CLI turns any of them into one line.

::

    MaintenanceError
     +-- PolicyError          a maintenance policy file is unreadable or invalid
     +-- NoWindow             no customer maintenance window fits an inspection in the horizon
     +-- InspectionRefused    an event is not allowed in the inspection's state
     +-- MissingDetail        an event lacks a detail it needs (checklist results, reason)
     +-- UnknownInspection    no inspection with that id
"""

from __future__ import annotations

__all__ = ["MaintenanceError", "PolicyError", "NoWindow", "InspectionRefused", "MissingDetail",
           "UnknownInspection"]


class MaintenanceError(Exception):
    """Base of every error the maintenance package raises on purpose."""


class PolicyError(MaintenanceError):
    """A maintenance policy file cannot be read or is not valid."""


class NoWindow(MaintenanceError):
    """No maintenance window of the site fits the inspection before the search limit."""


class InspectionRefused(MaintenanceError):
    """The event is not allowed in the inspection's current state."""

    def __init__(self, *, event: str, state: str) -> None:
        super().__init__(f"event {event!r} is not allowed in state {state!r}")
        self.event = event
        self.state = state


class MissingDetail(MaintenanceError):
    """The event needs a detail that was not given."""


class UnknownInspection(MaintenanceError):
    """No inspection with that id."""
