"""A small world for the parts tests: two customers' robots (one in warranty, one out), two
warehouses, a catalogue of a counted and a serialised part, tickets, and a clock the
scenario moves by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg

from parts.policy import builtin_policy
from storage.fleet import (
    CustomerSpec,
    EngineerSpec,
    FleetSpec,
    LineSpec,
    RobotSpec,
    SiteSpec,
    register_fleet,
)
from storage.parts import add_part, add_warehouse
from storage.tickets import NewTicket, create_ticket

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
POLICY = builtin_policy()


class Clock:
    """The scenario's time: moves only when told."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def _customer(code: str, robot: RobotSpec) -> CustomerSpec:
    return CustomerSpec(code=code, name=f"{code} Ltd", tier="core", city="Suzhou", sites=(
        SiteSpec(code="S1", name="Plant 1", city="Suzhou", lines=(
            LineSpec(code="L1", name="Line 1", robots=(robot,)),)),))


FLEET = FleetSpec(
    customers=(
        # Installed half a year before T0: in warranty by the default 12 months.
        _customer("NEW1", RobotSpec(code="R-NEW", brand="ABB", model="IRB6700",
                                    install_date=date(2026, 5, 20))),
        # Installed two years before T0, no recorded end: out of warranty.
        _customer("OLD1", RobotSpec(code="R-OLD", brand="ABB", model="IRB6700",
                                    install_date=date(2024, 10, 1))),
    ),
    engineers=(EngineerSpec(code="E-01", name="Field 1", city="Suzhou"),),
)

MOTOR_PRICE = Decimal("4800.00")
GREASE_PRICE = Decimal("120.50")


@dataclass(frozen=True)
class World:
    robots: dict[str, int]
    tickets: dict[str, int]


def build(conn: psycopg.Connection) -> World:
    """Fleet, warehouses (CENTRAL, SUZHOU), parts MOTOR-J3 (serialised) and GREASE, and one
    ticket per robot; committed."""
    robots = register_fleet(conn=conn, fleet=FLEET)
    add_warehouse(conn=conn, code="CENTRAL", name="Central store", city="Shanghai")
    add_warehouse(conn=conn, code="SUZHOU", name="Suzhou field store", city="Suzhou")
    add_part(conn=conn, code="MOTOR-J3", name="J3 servo motor", unit_price=MOTOR_PRICE,
             origin="genuine", serialised=True, at=T0)
    add_part(conn=conn, code="GREASE", name="Gear grease 400 g", unit_price=GREASE_PRICE,
             origin="certified", at=T0)
    tickets = {}
    for code, rid in robots.items():
        customer = conn.execute("""SELECT s.customer_id FROM robots r
                                     JOIN lines l ON l.id = r.line_id
                                     JOIN sites s ON s.id = l.site_id WHERE r.id = %s""",
                                (rid,)).fetchone()
        assert customer is not None
        row = create_ticket(conn=conn, actor="test", ticket=NewTicket(
            robot_id=rid, customer_id=customer[0], tier="core", impact="core-module",
            grade="II", component="J3", kind="overheating", title=f"J3 overheating on {code}",
            policy="test", created_at=T0, respond_by=T0 + timedelta(hours=1),
            resolve_by=T0 + timedelta(hours=24)))
        tickets[code] = row.id
    conn.commit()
    return World(robots=robots, tickets=tickets)
