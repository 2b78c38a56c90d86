"""A fleet and helpers for the after-sales scenarios: two customers, one with three robots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from storage import tickets as store
from storage import timers as tstore
from storage.fleet import (
    CustomerSpec,
    EngineerSpec,
    FleetSpec,
    LineSpec,
    RobotSpec,
    SiteSpec,
    register_fleet,
)
from ticketing.events import apply, create_manual_ticket
from ticketing.feedback.timers import fire_due_feedback
from ticketing.policy import Policy
from ticketing.timers import fire_due

T = TypeVar("T")


def some(value: T | None) -> T:
    """``value``, which the scenario knows is there."""
    assert value is not None
    return value


# Monday 2026-11-23 09:00 in Shanghai: working days follow without a public holiday.
MON = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
H, DAY = timedelta(hours=1), timedelta(days=1)
REPORT = {"process": "remote", "cause": "worn gearbox", "solution": "gearbox replaced",
          "parts_used": ["RV-80E"], "before_after": "vibration 9.1 -> 2.3 mm/s"}


def _customer(code: str, robots: tuple[str, ...]) -> CustomerSpec:
    return CustomerSpec(code=code, name=f"{code} Ltd", tier="core", city="Suzhou", sites=(
        SiteSpec(code="S1", name="Plant 1", city="Suzhou", lines=(
            LineSpec(code="L1", name="Line 1", robots=tuple(
                RobotSpec(code=r, brand="ABB", model="IRB6700") for r in robots)),)),))


FLEET = FleetSpec(
    customers=(_customer("ACME", ("R-A1", "R-A2", "R-A3")), _customer("BETA", ("R-B1",))),
    engineers=(EngineerSpec(code="E-01", name="Field 1", city="Suzhou"),),
)


def setup(conn: store.Conn) -> None:
    register_fleet(conn=conn, fleet=FLEET)


def run_until(conn: store.Conn, until: datetime, policy: Policy) -> None:
    """A punctual timer loop: every ticket and feedback timer fires at its due time."""
    while (due := tstore.next_due(conn=conn)) is not None and due <= until:
        fired = fire_due(conn=conn, now=due, policy=policy)
        fired_fb = fire_due_feedback(conn=conn, now=due, policy=policy)
        assert fired or fired_fb


def ticket(conn: store.Conn, robot: str, at: datetime, policy: Policy, *,
           kind: str = "gearbox_noise", impact: str = "core-module") -> store.TicketRow:
    return create_manual_ticket(conn=conn, robot=robot, channel="phone", reporter="line lead",
                                description="noise from J2", impact=impact, request=None,
                                actor="cs:anna", now=at, policy=policy, component="J2",
                                kind=kind)


def act(conn: store.Conn, ticket_id: int, event: str, at: datetime, policy: Policy,
        **details: Any) -> store.TicketRow:
    seen = store.get_ticket(conn=conn, ticket_id=ticket_id)
    assert seen is not None
    return apply(conn=conn, ticket_id=ticket_id, event=event, actor="eng:E-01",
                 expected_version=seen.version, now=at, policy=policy, **details)


def complete(conn: store.Conn, ticket_id: int, at: datetime, policy: Policy) -> None:
    """Dispatch, accept, work remotely, resolve and sign off, within the hour after ``at``."""
    m = timedelta(minutes=1)
    act(conn, ticket_id, "dispatch", at, policy, assignee="E-01")
    act(conn, ticket_id, "accept", at + m, policy)
    act(conn, ticket_id, "start_remote", at + 2 * m, policy)
    act(conn, ticket_id, "submit_plan", at + 3 * m, policy, plan="replace the gearbox")
    act(conn, ticket_id, "resolve", at + 30 * m, policy, report=REPORT)
    act(conn, ticket_id, "sign_off", at + 40 * m, policy)
