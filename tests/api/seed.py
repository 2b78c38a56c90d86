"""Seed data for the API tests: a small fleet, tickets through storage, anomalies through SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from storage.anomalies import NewAnomaly, open_anomaly
from storage.fleet import CustomerSpec, FleetSpec, LineSpec, RobotSpec, SiteSpec, register_fleet
from storage.tickets import NewTicket, TicketRow, create_ticket

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

FLEET = FleetSpec(customers=(
    CustomerSpec(code="ACME", name="Acme Cars", tier="core", city="Wuhan", sites=(
        SiteSpec(code="P1", name="Plant 1", city="Wuhan", lines=(
            LineSpec(code="L1", name="Body shop", robots=(
                RobotSpec(code="R-0001", brand="Kuka", model="KR 210"),
                RobotSpec(code="R-0002", brand="Kuka", model="KR 210"),
            )),
        )),
    )),
    CustomerSpec(code="BETA", name="Beta Parts", tier="ordinary", sites=(
        SiteSpec(code="S1", name="Main", lines=(
            LineSpec(code="L1", name="Welding", robots=(RobotSpec(code="R-0003"),)),
        )),
    )),
))


def seed_fleet(conn: psycopg.Connection) -> dict[str, int]:
    ids = register_fleet(conn=conn, fleet=FLEET)
    conn.commit()
    return ids


def customer_id(conn: psycopg.Connection, code: str) -> int:
    row = conn.execute("SELECT id FROM customers WHERE code = %s", (code,)).fetchone()
    assert row is not None, f"no customer {code!r}"
    return int(row[0])


def add_ticket(
    conn: psycopg.Connection,
    robots: dict[str, int],
    *,
    robot: str = "R-0001",
    customer: str = "ACME",
    grade: str = "II",
    kind: str = "overheating",
    created_at: datetime = NOW - timedelta(hours=1),
    respond_in: timedelta = timedelta(hours=2),
    resolve_in: timedelta = timedelta(hours=24),
) -> TicketRow:
    row = create_ticket(conn=conn, actor="test", ticket=NewTicket(
        robot_id=robots[robot], customer_id=customer_id(conn, customer), tier="core",
        impact="core-module", grade=grade, component="J3", kind=kind,
        title=f"{kind} on {robot}", policy="test-policy v1", created_at=created_at,
        respond_by=created_at + respond_in, resolve_by=created_at + resolve_in,
        update_every=timedelta(hours=4),
    ))
    conn.commit()
    return row


def add_anomaly(
    conn: psycopg.Connection, robots: dict[str, int], *, robot: str = "R-0001",
    kind: str = "overheating", started_at: datetime = NOW - timedelta(minutes=30),
) -> int:
    anomaly_id = open_anomaly(conn=conn, anomaly=NewAnomaly(
        robot_id=robots[robot], component="J3", kind=kind, detector="limits",
        impact="core-module", started_at=started_at, score=3.5, signals=("J3.temperature",),
        evidence={"max": 92.5},
    ))
    conn.commit()
    assert anomaly_id is not None
    return anomaly_id
