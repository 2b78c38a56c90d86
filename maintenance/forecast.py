"""A plan over a long horizon (``robowatch maintenance plan --days 90``): the scheduler run
day by day, each visit assumed done as placed, so later inspections count from it. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from maintenance.planner import Completion, RobotInfo, RobotState, counters_now, due_items
from maintenance.policy import MaintenancePolicy
from maintenance.scheduler import Visit, schedule
from storage.fleet import EngineerSpec
from ticketing.roster import Roster

__all__ = ["forecast"]


def forecast(
    *, policy: MaintenancePolicy, robots: Sequence[RobotInfo],
    completions: Mapping[tuple[str, str], Completion], states: Mapping[str, RobotState],
    start: datetime, days: int, engineers: Sequence[EngineerSpec] = (),
    roster: Roster | None = None,
) -> list[Visit]:
    """Visits starting in ``[start, start + days)``, earliest first."""
    done = dict(completions)
    out: list[Visit] = []
    end = start + timedelta(days=days)
    now = start
    while now < end:
        nxt = min(now + timedelta(days=1), end)
        items = due_items(policy=policy, robots=robots, completions=done, states=states)
        visits, _ = schedule(policy=policy, items=items, robots=robots, now=now,
                             engineers=engineers, roster=roster)
        for v in visits:
            if v.slot.start >= nxt:
                continue
            out.append(v)
            for it in v.items:
                done[(it.robot, it.plan)] = Completion(
                    at=v.slot.end, counters=counters_now(states.get(it.robot, RobotState())))
        now = nxt
    return out
