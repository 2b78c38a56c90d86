"""The planner against the database: read the fleet, completions, counters and health from
storage, plan, store the work orders with their history, arm their overdue clocks
(:mod:`maintenance.timers`) and reserve their parts (:mod:`maintenance.reserve`). The acts on
one work order (start, complete, cancel) are :mod:`maintenance.orders`.

Every change goes through :func:`maintenance.lifecycle.check_event` and appends an
``inspection_events`` row in the same transaction as the state change.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from maintenance import reserve, timers
from maintenance.lifecycle import check_event
from maintenance.planner import Completion, PlanItem, RobotInfo, RobotState, due_items
from maintenance.policy import COUNTERS, MaintenancePolicy
from maintenance.scheduler import Visit, parts_request, schedule
from maintenance.triggers import CounterReading, HealthReading
from parts.policy import PartsPolicy
from parts.policy import builtin_policy as builtin_parts_policy
from storage import maintenance as store
from storage.fleet import EngineerSpec, list_robots, robot_ids
from storage.tickets import Conn, atomic, engineers_for_dispatch
from ticketing.roster import Roster

__all__ = ["PlanInputs", "SyncResult", "read_inputs", "sync"]

log = logging.getLogger(__name__)

# Counter readings this far back give the counter's rate (a week covers the weekly rhythm of
# shifts and weekends).
_COUNTER_SPAN = timedelta(days=7)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanInputs:
    robots: list[RobotInfo]
    completions: dict[tuple[str, str], Completion]
    states: dict[str, RobotState]
    engineers: list[EngineerSpec]


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResult:
    created: int
    rescheduled: int
    unplaced: int
    visits: list[Visit]
    reserved: int = 0
    short: int = 0


def read_inputs(*, conn: Conn, policy: MaintenancePolicy, now: datetime) -> PlanInputs:
    rows, _ = list_robots(conn=conn, limit=100_000)
    robots = [RobotInfo(code=r.code, customer=r.customer, site=r.site, city=r.city,
                        brand=r.brand, model=r.model,
                        in_service_since=(datetime.combine(r.install_date, time(), UTC)
                                          if r.install_date else now))
              for r in rows]
    completions = {k: Completion(at=at, counters=c)
                   for k, (at, c) in store.last_completions(conn=conn).items()}
    counters: dict[str, dict[str, list[CounterReading]]] = defaultdict(lambda: defaultdict(list))
    for c in store.counter_readings(conn=conn, counters=COUNTERS, since=now - _COUNTER_SPAN,
                                    until=now):
        counters[c.robot][c.counter].append(CounterReading(at=c.at, value=c.value))
    health: dict[str, dict[str, list[HealthReading]]] = defaultdict(lambda: defaultdict(list))
    since = now - timedelta(days=2 * policy.condition.trend_days)
    # The history detection may append, then the latest estimate it keeps in each open
    # anomaly's evidence (the only place it writes today).
    for h in [*store.health_since(conn=conn, since=since),
              *store.open_anomaly_health(conn=conn)]:
        health[h.robot][f"{h.component}/{h.kind}"].append(HealthReading(
            at=h.at, component=h.component, kind=h.kind, health=h.health, rul_s=h.rul_s,
            rul_low_s=h.rul_low_s, rul_high_s=h.rul_high_s))
    states = {r.code: RobotState(
        counters=dict(counters.get(r.code, {})),
        # Oldest first, one reading per instant (the two sources may hold the same one).
        health={k: sorted({h.at: h for h in v}.values(), key=lambda h: h.at)
                for k, v in health.get(r.code, {}).items()}) for r in robots}
    # Everyone of the role: the scheduler judges who is on duty per slot, by the roster.
    engineers = [EngineerSpec(code=e.code, name=e.code, role=e.role, city=e.city,
                              skills=tuple(e.skills))
                 for e in engineers_for_dispatch(conn=conn, role="engineer", codes=None)]
    return PlanInputs(robots=robots, completions=completions, states=states,
                      engineers=engineers)


def _new(policy: MaintenancePolicy, robot_id: int, item: PlanItem,
         visit: Visit | None) -> store.NewInspection:
    return store.NewInspection(
        robot_id=robot_id, plan=item.plan, due_at=item.due.at, trigger=item.due.trigger,
        reason=item.due.reason, condition=dict(item.due.detail) if item.due.detail else None,
        moved_from=item.moved_from, window_start=visit.slot.start if visit else None,
        window_end=visit.slot.end if visit else None,
        engineer=visit.engineer if visit else None,
        parts=tuple(p.model_dump() for p in parts_request(policy, [item])))


def _upsert(conn: Conn, policy: MaintenancePolicy, new: store.NewInspection, *, actor: str,
            now: datetime) -> str:
    """'created', 'rescheduled' or 'unchanged'."""
    old = store.open_inspection(conn=conn, robot_id=new.robot_id, plan=new.plan)
    if old is None:
        iid = store.insert_inspection(conn=conn, new=new, state="planned")
        store.add_inspection_event(conn=conn, inspection_id=iid, event="create", from_state=None,
                                   to_state="planned", actor=actor, at=now,
                                   data={"due_at": new.due_at.isoformat(), "reason": new.reason})
        timers.arm(conn, policy=policy, inspection_id=iid, due_at=new.due_at, now=now)
        if new.window_start is not None:
            to = check_event(state="planned", event="schedule", window_start=new.window_start)
            store.update_inspection(conn=conn, inspection_id=iid, expected_version=1, state=to)
            store.add_inspection_event(
                conn=conn, inspection_id=iid, event="schedule", from_state="planned", to_state=to,
                actor=actor, at=now, data={"window_start": new.window_start.isoformat(),
                                           "engineer": new.engineer})
        return "created"
    same = (old.window_start == new.window_start and old.engineer == new.engineer
            and old.due_at == new.due_at)
    if same or old.state == "in_progress":
        return "unchanged"
    moved = new.trigger == "condition" and new.due_at < old.due_at
    why = (new.reason if moved else
           f"window {old.window_start} -> {new.window_start}, engineer {old.engineer} -> "
           f"{new.engineer}, due {old.due_at:%Y-%m-%d %H:%M} -> {new.due_at:%Y-%m-%d %H:%M}")
    event = "schedule" if old.state == "planned" and new.window_start else "reschedule"
    to = check_event(state=old.state, event=event, reason=why, window_start=new.window_start)
    store.update_inspection(
        conn=conn, inspection_id=old.id, expected_version=old.version, state=to,
        due_at=new.due_at, trigger=new.trigger, reason=new.reason, condition=new.condition,
        moved_from=new.moved_from if moved else old.moved_from, window_start=new.window_start,
        window_end=new.window_end, engineer=new.engineer, parts=list(new.parts))
    store.add_inspection_event(conn=conn, inspection_id=old.id, event=event,
                               from_state=old.state, to_state=to, actor=actor, at=now,
                               data={"reason": why, "condition": new.condition})
    if old.due_at != new.due_at:
        timers.arm(conn, policy=policy, inspection_id=old.id, due_at=new.due_at, now=now)
    if old.window_start != new.window_start:
        # The kit waits for the new window: reserved again when it comes close.
        reserve.release(conn, old, reason=f"rescheduled: {why}", actor=actor, now=now)
    return "rescheduled"


def sync(*, conn: Conn, policy: MaintenancePolicy, now: datetime, actor: str,
         roster: Roster | None = None, inputs: PlanInputs | None = None,
         parts_policy: PartsPolicy | None = None) -> SyncResult:
    """Plan from what storage holds and store the work orders due within
    ``create_ahead_days``: new ones created (their overdue clock armed), moved ones
    rescheduled with their reason; then reserve the kits of the visits ``[parts]
    reserve_ahead_days`` away (a shortage is an event, not an error)."""
    got = inputs or read_inputs(conn=conn, policy=policy, now=now)
    items = due_items(policy=policy, robots=got.robots, completions=got.completions,
                      states=got.states)
    visits, unplaced = schedule(policy=policy, items=items, robots=got.robots, now=now,
                                engineers=got.engineers, roster=roster)
    ids = robot_ids(conn=conn)
    counts: dict[str, int] = defaultdict(int)
    with atomic(conn=conn):
        for v in visits:
            for it in v.items:
                counts[_upsert(conn, policy, _new(policy, ids[it.robot], it, v), actor=actor,
                               now=now)] += 1
        for it in unplaced:
            log.warning("no maintenance window for %s %s due %s", it.robot, it.plan, it.due.at)
            counts[_upsert(conn, policy, _new(policy, ids[it.robot], it, None), actor=actor,
                           now=now)] += 1
        reserved, short = reserve.reserve_due(
            conn=conn, policy=policy, parts_policy=parts_policy or builtin_parts_policy(),
            now=now, actor=actor)
    return SyncResult(created=counts["created"], rescheduled=counts["rescheduled"],
                      unplaced=len(unplaced), visits=visits, reserved=reserved, short=short)
