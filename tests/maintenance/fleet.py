"""A small fleet for the maintenance DB tests: two robots at one site, one at another."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg

from maintenance.policy import PartNeed, builtin_policy
from storage.fleet import (
    CustomerSpec,
    EngineerSpec,
    FleetSpec,
    LineSpec,
    RobotSpec,
    SiteSpec,
    register_fleet,
)

# A Monday, 09:00 in Shanghai.
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
INSTALLED = (NOW - timedelta(days=26)).date()


def _site(code: str, city: str, robots: tuple[str, ...], installed: date) -> SiteSpec:
    return SiteSpec(code=code, name=f"Plant {code}", city=city, lines=(
        LineSpec(code="L1", name="Line 1", robots=tuple(
            RobotSpec(code=r, brand="KUKA", model="KR210", install_date=installed)
            for r in robots)),))


FLEET = FleetSpec(
    customers=(CustomerSpec(code="ACME", name="Acme", tier="core", city="Suzhou", sites=(
        _site("S1", "Suzhou", ("R1", "R2"), INSTALLED),
        _site("S2", "Wuxi", ("R3",), INSTALLED - timedelta(days=10)))),),
    engineers=(
        EngineerSpec(code="li", name="Li", city="Suzhou", skills=("mechanical", "KUKA")),
        EngineerSpec(code="wang", name="Wang", city="Wuxi", skills=("mechanical",)),
    ),
)


def seed(conn: psycopg.Connection) -> dict[str, int]:
    ids = register_fleet(conn=conn, fleet=FLEET)
    conn.commit()
    return ids


_BASE = builtin_policy()
# The built-in policy with a tube of grease on the monthly check, so the work orders due in
# the first weeks (the hardware checks) need parts.
KIT_POLICY = _BASE.model_copy(update={"plans": {**_BASE.plans, "hardware": _BASE.plans[
    "hardware"].model_copy(update={"parts": (PartNeed(part="GREASE-400", quantity=1),)})}})
