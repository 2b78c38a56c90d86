"""Who is on duty, and the handover at every shift change, from the roster in the database.

The rota itself is pure (``ticketing.roster``); this module reads the roster in force
(``storage.duty``), answers "who of this role is on duty at this instant" for dispatch and the
notifier, and fires the handovers.

Handovers are timers like the clocks' (``ticketing.timers`` runs both in one pass): each
shift change of each team is a ``shift_handovers`` row, scheduled ahead by the pass, locked
when due ``FOR UPDATE SKIP LOCKED`` and marked fired in the transaction that writes its
history, so a restart loses none and none fires twice. Firing lists the open tickets of the
people going off duty and writes one ``handover`` history row on each (the live stream and
the notification routes read those). When the service was down across several changes of a
team, only the latest is handed over; the earlier ones are recorded as superseded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from storage import duty as dstore
from storage import fleet
from storage import tickets as store
from ticketing.errors import HandoverRefused
from ticketing.policy import Policy
from ticketing.roster import Roster, ShiftChange, ShiftDef, TeamRota, load_roster

__all__ = ["roster_in_force", "on_duty", "put_roster_in_force", "round_the_clock",
           "engineers_on_duty", "routed_role", "same_city", "has_local_candidate", "HandoverFired",
           "fire_handovers", "acknowledge", "HANDOVER", "ACKNOWLEDGED",
           "SYSTEM"]

HANDOVER = "handover"
ACKNOWLEDGED = "acknowledge_handover"
SYSTEM = "system"  # the actor of what the timers do by themselves (as ticketing.events)
# A stored roster is immutable (a reload is a new row): parse each rota once per process.
# Keyed by the document itself, not the row id: ids repeat across databases.
_parsed: dict[str, Roster] = {}
_parsed_lock = threading.Lock()
_INSTANT = timedelta(microseconds=1)


def roster_in_force(*, conn: store.Conn) -> tuple[dstore.StoredRoster, Roster] | None:
    """The roster in force (its row, and the rota parsed); None when none was loaded (nobody
    is on duty)."""
    stored = dstore.current_roster(conn=conn)
    if stored is None:
        return None
    key = json.dumps(stored.document, sort_keys=True)
    with _parsed_lock:
        roster = _parsed.get(key)
        if roster is None:
            roster = _parsed[key] = Roster.model_validate(stored.document)
    return stored, roster


def on_duty(*, conn: store.Conn, at: datetime, role: str | None = None) -> frozenset[str]:
    """The engineer codes on duty at ``at`` (of ``role``) by the roster in force."""
    found = roster_in_force(conn=conn)
    return found[1].on_duty(at, role=role) if found else frozenset()


def routed_role(ticket: store.TicketRow, policy: Policy) -> str:
    """The role the policy sends a ticket of this grade to."""
    to_manager = ticket.grade in policy.routing.manager_grades
    return policy.routing.manager_role if to_manager else policy.routing.engineer_role


def engineers_on_duty(*, conn: store.Conn, role: str, at: datetime) -> list[store.EngineerLoad]:
    """The people of ``role`` on duty at ``at``, with their workload."""
    return store.engineers_for_dispatch(conn=conn, role=role,
                                        codes=sorted(on_duty(conn=conn, at=at, role=role)))


def same_city(e: store.EngineerLoad, city: str | None) -> bool:
    return city is not None and e.city is not None and e.city.lower() == city.lower()


def has_local_candidate(
    *, conn: store.Conn, ticket: store.TicketRow, policy: Policy, at: datetime
) -> bool:
    """Is someone the ticket's grade routes to on duty at ``at`` in the robot's city? Seed
    004's outside-city rule: when not, whoever is sent travels, and dispatch allows longer."""
    robot = fleet.get_robot(conn=conn, code=ticket.robot)
    city = robot.city if robot else None
    return any(same_city(e, city) for e in engineers_on_duty(
        conn=conn, role=routed_role(ticket, policy), at=at))


def put_roster_in_force(*, conn: store.Conn, roster: Roster | Path, source: str = "") -> int:
    """Store ``roster`` (or the roster file at that path, validated) as the one in force; its
    id. The same rota as the one in force is kept as it is (a demo restart changes nothing)."""
    if isinstance(roster, Path):
        source = source or str(roster)
        roster = load_roster(roster)
    document = roster.model_dump(mode="json")
    current = dstore.current_roster(conn=conn)
    if current is not None and current.document == document:
        return current.id
    return dstore.save_roster(conn=conn, document=document, source=source)


def round_the_clock(people: dict[str, tuple[str, ...]], *, tz: str = "UTC") -> Roster:
    """A roster where everyone is on duty all the time: one team per role, one 24 h shift, one
    crew. For fleets without a rota (tests, benchmarks)."""
    day = ShiftDef(name="all-day", start=time(0), end=time(0))
    return Roster(teams=tuple(
        TeamRota(name=f"{role}-24x7", role=role, timezone=tz, epoch=date(2026, 1, 1),
                 shifts=(day,), crews=(codes,))
        for role, codes in people.items() if codes))


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoverFired:
    handover_id: int
    team: str
    at: datetime
    leaving: tuple[str, ...]
    incoming: tuple[str, ...]
    tickets: tuple[str, ...]      # ticket numbers handed over
    superseded: bool = False


def _schedule(conn: store.Conn, roster_id: int, roster: Roster, since: datetime,
              now: datetime) -> None:
    """Make sure each team's next shift change after its last known one is scheduled."""
    last = dstore.last_handover_at(conn=conn, roster_id=roster_id)
    for team in roster.teams:
        after = last.get(team.name, since)
        # Shifts are at most 24 h long, so the next change is within two days of any instant.
        until = max(after, now) + timedelta(days=2)
        for change in roster.changes_between(after, until):
            if change.team == team.name:
                _schedule_change(conn, roster_id, roster, change)
                break


def _schedule_change(conn: store.Conn, roster_id: int, roster: Roster,
                     change: ShiftChange) -> None:
    dstore.schedule_handover(conn=conn, handover=dstore.NewHandover(
        roster_id=roster_id, team=change.team, at=change.at,
        leaving_shift=change.leaving.shift, incoming_shift=change.incoming.shift,
        leaving=tuple(sorted(roster.crew_at(change.team, change.at - _INSTANT))),
        incoming=tuple(sorted(roster.crew_at(change.team, change.at)))))


def _fire(conn: store.Conn, h: dstore.HandoverRow, now: datetime) -> HandoverFired:
    going = sorted(set(h.leaving) - set(h.incoming))
    handed = dstore.open_tickets_of(conn=conn, engineers=going)
    numbers = [number for _, number, _ in handed]
    for ticket_id, _, assignee in handed:
        t = store.get_ticket(conn=conn, ticket_id=ticket_id)
        assert t is not None  # listed in this transaction
        store.add_event(conn=conn, ticket_id=ticket_id, at=now, event=HANDOVER, actor=SYSTEM,
                        state=t.state, data={
                            "handover_id": h.id, "team": h.team,
                            "shift_change": h.at.isoformat(), "from": assignee,
                            "from_shift": h.leaving_shift, "to_shift": h.incoming_shift,
                            "to": h.incoming, "tickets": numbers})
    dstore.mark_handover_fired(conn=conn, handover_id=h.id, at=now,
                               tickets=[i for i, _, _ in handed])
    return HandoverFired(handover_id=h.id, team=h.team, at=h.at, leaving=tuple(h.leaving),
                         incoming=tuple(h.incoming), tickets=tuple(numbers))


def fire_handovers(*, conn: store.Conn, now: datetime) -> list[HandoverFired]:
    """Schedule the coming shift changes and fire those due at ``now``, in one transaction;
    what fired. Handovers another process holds are skipped (it fires them)."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    fired: list[HandoverFired] = []
    with store.atomic(conn=conn):
        found = roster_in_force(conn=conn)
        if found is None:
            return fired
        stored, roster = found
        roster_id = stored.id
        while True:
            # From the load on (a clock behind the load, as in a replay: from now).
            _schedule(conn, roster_id, roster, min(stored.loaded_at, now), now)
            due = dstore.claim_due_handovers(conn=conn, now=now)
            if not due:
                return fired
            for h in due:
                later = [c for c in roster.changes_between(h.at, now) if c.team == h.team]
                if later:
                    # Down across several changes: the last one is the handover that counts.
                    dstore.mark_handover_fired(conn=conn, handover_id=h.id, at=now,
                                               superseded=True)
                    fired.append(HandoverFired(handover_id=h.id, team=h.team, at=h.at,
                                               leaving=tuple(h.leaving),
                                               incoming=tuple(h.incoming), tickets=(),
                                               superseded=True))
                    _schedule_change(conn, roster_id, roster, later[-1])
                    continue
                fired.append(_fire(conn, h, now))


def acknowledge(
    *, conn: store.Conn, handover_id: int, actor: str, engineer: str | None, now: datetime
) -> dstore.HandoverRow:
    """``actor`` takes over a fired handover: one ``acknowledge_handover`` history row on each
    ticket it listed. An engineer (``engineer``: their code) must be of the incoming shift; a
    manager or dispatcher (``engineer`` None) may acknowledge for the shift. Refused
    (``HandoverRefused``) when unknown, not yet fired, superseded or already acknowledged."""
    with store.atomic(conn=conn):
        h = dstore.get_handover(conn=conn, handover_id=handover_id, lock=True)
        if h is None or h.fired_at is None or h.superseded:
            raise HandoverRefused(f"no handover {handover_id} to acknowledge", status=404)
        if h.acknowledged_by is not None:
            raise HandoverRefused(f"handover {handover_id} was acknowledged by "
                                  f"{h.acknowledged_by} at {h.acknowledged_at}", status=409)
        if engineer is not None and engineer not in h.incoming:
            raise HandoverRefused(f"{engineer} is not on the incoming shift "
                                  f"({', '.join(h.incoming)})", status=403)
        for ticket_id in h.tickets:
            t = store.get_ticket(conn=conn, ticket_id=ticket_id)
            if t is None:
                continue
            store.add_event(conn=conn, ticket_id=ticket_id, at=now, event=ACKNOWLEDGED,
                            actor=actor, state=t.state,
                            data={"handover_id": h.id, "team": h.team,
                                  "shift_change": h.at.isoformat()})
        dstore.acknowledge_handover(conn=conn, handover_id=h.id, by=actor, at=now)
        done = dstore.get_handover(conn=conn, handover_id=h.id)
    assert done is not None
    return done
