"""The parts a checklist needs, reserved in the warehouse serving the site (policy ``[parts]``)
once the visit is ``reserve_ahead_days`` away, and given back when the work order is cancelled
or moved.

Reservation is ``parts.reserve_for_work_order`` (all lines or none) for work order
``INS-<id>``; release is ``parts.release_work_order``. A shortage, an unknown part or
warehouse is a ``parts_shortage`` event of the inspection (on the live stream) and a warning
in the log, never an error of the plan: the reservation is tried again at the next planning
pass, and the event is written again only when the shortage changes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from maintenance.policy import MaintenancePolicy
from parts import Line, release_work_order, reserve_for_work_order
from parts.errors import PartsError
from parts.policy import PartsPolicy
from storage import maintenance as store
from storage.tickets import Conn

__all__ = ["work_order", "reserve_due", "release", "RESERVED", "SHORTAGE", "RELEASED"]

log = logging.getLogger(__name__)

RESERVED, SHORTAGE, RELEASED = "parts_reserved", "parts_shortage", "parts_released"


def work_order(inspection_id: int) -> str:
    """The work order code parts/ keeps the inspection's requisitions under."""
    return f"INS-{inspection_id}"


def _event(conn: Conn, row: store.InspectionRow, event: str, *, actor: str, now: datetime,
           data: dict[str, object]) -> None:
    store.add_inspection_event(conn=conn, inspection_id=row.id, event=event,
                               from_state=row.state, to_state=row.state, actor=actor, at=now,
                               data=data)


def _reserve_one(conn: Conn, row: store.InspectionRow, *, policy: MaintenancePolicy,
                 parts_policy: PartsPolicy, actor: str, now: datetime) -> bool:
    warehouse = policy.parts.warehouse_for(site=row.site, city=row.city)
    lines = [Line(part=str(p["part"]), quantity=int(p["quantity"])) for p in row.parts]
    try:
        if warehouse is None:
            raise PartsError(f"no warehouse serves site {row.site} ([parts] of the policy)")
        # All lines or none, in a savepoint of its own: a refused kit leaves nothing behind.
        reqs = reserve_for_work_order(
            conn=conn, work_order=work_order(row.id), robot=row.robot, warehouse=warehouse,
            lines=lines, purpose=f"{row.plan} inspection of {row.robot}", actor=actor, at=now,
            policy=parts_policy)
    except PartsError as exc:
        why = str(exc)
        if why != row.parts_shortage:
            log.warning("inspection %s of %s: parts not reserved: %s", row.id, row.robot, why)
            store.set_parts_reservation(conn=conn, inspection_id=row.id, warehouse=warehouse,
                                        reserved_at=None, shortage=why)
            _event(conn, row, SHORTAGE, actor=actor, now=now,
                   data={"warehouse": warehouse, "reason": why,
                         "window_start": row.window_start.isoformat()
                         if row.window_start else None})
        return False
    store.set_parts_reservation(conn=conn, inspection_id=row.id, warehouse=warehouse,
                                reserved_at=now, shortage=None)
    _event(conn, row, RESERVED, actor=actor, now=now,
           data={"warehouse": warehouse, "requisitions": [r.id for r in reqs],
                 "parts": [dict(p) for p in row.parts]})
    return True


def reserve_due(*, conn: Conn, policy: MaintenancePolicy, parts_policy: PartsPolicy,
                now: datetime, actor: str) -> tuple[int, int]:
    """Reserve the kits of the open work orders whose window starts within
    ``reserve_ahead_days``; (reserved, short)."""
    ahead = now + timedelta(days=policy.parts.reserve_ahead_days)
    done = short = 0
    for row in store.inspections_to_reserve(conn=conn, window_before=ahead):
        if _reserve_one(conn, row, policy=policy, parts_policy=parts_policy, actor=actor,
                        now=now):
            done += 1
        else:
            short += 1
    return done, short


def release(conn: Conn, row: store.InspectionRow, *, reason: str, actor: str,
            now: datetime) -> None:
    """Give back the kit of ``row`` (not issued yet) and forget its reservation or shortage,
    so the next pass reserves again for the new window."""
    if row.parts_reserved_at is None and row.parts_shortage is None:
        return
    if row.parts_reserved_at is not None:
        freed = release_work_order(conn=conn, work_order=work_order(row.id), reason=reason,
                                   actor=actor, at=now)
        _event(conn, row, RELEASED, actor=actor, now=now,
               data={"warehouse": row.parts_warehouse, "reason": reason,
                     "requisitions": [r.id for r in freed]})
    store.set_parts_reservation(conn=conn, inspection_id=row.id, warehouse=None,
                                reserved_at=None, shortage=None)
