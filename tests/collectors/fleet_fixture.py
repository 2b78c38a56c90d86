"""A one-customer fleet for collector tests."""

from storage.connect import connect
from storage.fleet import CustomerSpec, FleetSpec, LineSpec, RobotSpec, SiteSpec, register_fleet


def register_small_fleet(db_url: str, robots=("R1", "R2")) -> dict[str, int]:
    fleet = FleetSpec(customers=(
        CustomerSpec(code="C1", name="Customer one", tier="core", sites=(
            SiteSpec(code="S1", name="Site", lines=(
                LineSpec(code="L1", name="Line", robots=tuple(RobotSpec(code=r) for r in robots)),
            )),
        )),
    ))
    with connect(db_url) as conn:
        ids = register_fleet(conn=conn, fleet=fleet)
        conn.commit()
    return ids
