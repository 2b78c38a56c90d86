"""The lives of a requisition and of a serial-numbered part, as strict python-statemachine
machines (checked at import for unreachable and trap states).

Requisition (one part, one quantity, for a ticket or a work order)::

    requested --approve--> approved --issue--> issued --consume--------> closed
        |                     |                   +----return_unused---> closed
        +--reject--> rejected |
        +------cancel---------+--> cancelled

Approval reserves the quantity at the warehouse (available = on hand - reserved); issuing
takes it off the shelf; ``return_unused`` puts back what was not used and closes.

Serial number (section 7: its whole life)::

    purchased --receive--> in_stock --issue--> issued --install--> installed --replace--> removed
                            ^  |  ^              |                                          |
                            |  |  +---restock----+                                          |
                   transfer-+  +-----------scrap-----> scrapped <-----------scrap-----------+

The machines only know states and the details an event needs; ``parts.service`` stores the
move with its history row in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from parts.errors import BadRequest, NotAllowed

__all__ = ["RequisitionLifecycle", "SerialLifecycle", "REQUISITION_STATES",
           "REQUISITION_EVENTS", "SERIAL_STATES", "SERIAL_EVENTS", "check_requisition",
           "check_serial"]


def _require(name: str, value: Any) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadRequest(f"{name} is required")


class RequisitionLifecycle(StateMachine):
    requested = State(initial=True)
    approved = State()
    issued = State()
    rejected = State(final=True)
    cancelled = State(final=True)
    closed = State(final=True)

    approve = requested.to(approved)
    reject = requested.to(rejected, validators="_needs_reason")
    cancel = requested.to(cancelled, validators="_needs_reason") | approved.to(
        cancelled, validators="_needs_reason")
    issue = approved.to(issued)
    consume = issued.to(closed)
    return_unused = issued.to(closed, validators="_needs_quantity")

    def _needs_reason(self, reason: str | None = None, **_: Any) -> None:
        _require("reason", reason)

    def _needs_quantity(self, quantity: int | None = None, **_: Any) -> None:
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise BadRequest("return_unused needs the quantity returned (1 or more)")


class SerialLifecycle(StateMachine):
    purchased = State(initial=True)
    in_stock = State()
    issued = State()
    installed = State()
    removed = State()
    scrapped = State(final=True)

    receive = purchased.to(in_stock)
    transfer = in_stock.to.itself()  # type: ignore[no-untyped-call]
    issue = in_stock.to(issued)
    restock = issued.to(in_stock)
    install = issued.to(installed)
    replace = installed.to(removed, validators="_needs_reason")
    scrap = in_stock.to(scrapped, validators="_needs_reason") | removed.to(
        scrapped, validators="_needs_reason")

    def _needs_reason(self, reason: str | None = None, **_: Any) -> None:
        _require("reason", reason)


REQUISITION_STATES = tuple(s.value for s in RequisitionLifecycle.states)
REQUISITION_EVENTS = tuple(e.id for e in RequisitionLifecycle.events)  # type: ignore[attr-defined]
SERIAL_STATES = tuple(s.value for s in SerialLifecycle.states)
SERIAL_EVENTS = tuple(e.id for e in SerialLifecycle.events)  # type: ignore[attr-defined]


@dataclass(slots=True)
class _Snapshot:
    state: str


def _check(machine: type[StateMachine], what: str, state: str, event: str,
           details: dict[str, Any]) -> str:
    states = tuple(s.value for s in machine.states)
    if state not in states:
        raise NotAllowed(what=what, event=event, state=state)
    snap = _Snapshot(state=state)
    try:
        machine(model=snap).send(event, **details)
    except TransitionNotAllowed as exc:
        raise NotAllowed(what=what, event=event, state=state) from exc
    return snap.state


def check_requisition(*, state: str, event: str, **details: Any) -> str:
    """The state ``event`` leads a requisition to from ``state``; raises ``NotAllowed`` or
    ``BadRequest``. Pure: nothing is stored."""
    return _check(RequisitionLifecycle, "requisition", state, event, details)


def check_serial(*, state: str, event: str, **details: Any) -> str:
    """The state ``event`` leads a serial to from ``state``; as :func:`check_requisition`."""
    return _check(SerialLifecycle, "serial", state, event, details)
