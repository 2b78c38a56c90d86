"""Visits: plan items placed in the customers' maintenance windows, bundled per site and
given an engineer. Pure: run it again when a window or an engineer disappears and it answers
the rescheduled plan (:func:`moves` says what changed and why).

* Only items due within ``create_ahead_days`` become work orders.
* Items of one site due within ``bundle_within_days`` of the first share one visit, as long as
  the visit fits ``max_visit_h``; the visit goes in the first window at or after
  ``place_before_days`` ahead of its earliest due date (or now, when that has passed).
* The engineer is chosen like a ticket's (``ticketing.dispatch.choose_assignee``: skills, then
  same city, then lightest load), among people the roster has on duty at the visit's start and
  not already booked then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from maintenance.errors import NoWindow
from maintenance.planner import PlanItem, RobotInfo
from maintenance.policy import MaintenancePolicy, PartNeed
from maintenance.windows import SiteCalendar, Slot
from storage.fleet import EngineerSpec
from storage.tickets import EngineerLoad
from ticketing.dispatch import choose_assignee
from ticketing.roster import Roster

__all__ = ["Visit", "Move", "schedule", "moves", "parts_request"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    site: str
    customer: str
    city: str | None
    slot: Slot
    engineer: str | None  # None: nobody fits; a person must assign it
    items: tuple[PlanItem, ...]

    @property
    def due_at(self) -> datetime:
        return min(i.due.at for i in self.items)


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    """One inspection whose window or engineer changed between two plans."""

    robot: str
    plan: str
    before: Slot | None
    after: Slot | None
    engineer_before: str | None
    engineer_after: str | None
    reason: str


def parts_request(policy: MaintenancePolicy, items: Sequence[PlanItem]) -> tuple[PartNeed, ...]:
    """Parts the checklists of ``items`` need, summed per part: the request ``parts/`` reserves
    for a visit."""
    total: dict[str, int] = defaultdict(int)
    for item in items:
        for need in policy.plans[item.plan].parts:
            total[need.part] += need.quantity
    return tuple(PartNeed(part=p, quantity=q) for p, q in sorted(total.items()))


def _bundles(policy: MaintenancePolicy, items: list[PlanItem]) -> list[list[PlanItem]]:
    sch = policy.scheduling
    within = timedelta(days=sch.bundle_within_days)
    cap = timedelta(hours=sch.max_visit_h)
    out: list[list[PlanItem]] = []
    rest = sorted(items, key=lambda i: (i.due.at, i.robot, i.plan))
    while rest:
        head, bundle, left = rest[0], [rest[0]], []
        length = timedelta(hours=policy.plans[head.plan].duration_h)
        for it in rest[1:]:
            d = timedelta(hours=policy.plans[it.plan].duration_h)
            if it.due.at - head.due.at <= within and length + d <= cap:
                bundle.append(it)
                length += d
            else:
                left.append(it)
        out.append(bundle)
        rest = left
    return out


def _assign(
    *, engineers: Sequence[EngineerSpec], roster: Roster | None, slot: Slot, skills: set[str],
    city: str | None, booked: Mapping[str, list[Slot]],
) -> str | None:
    on_duty = roster.on_duty(slot.start, role="engineer") if roster is not None else None
    candidates = [
        EngineerLoad(id=n, code=e.code, role=e.role, city=e.city, skills=list(e.skills),
                     on_duty=on_duty is None or e.code in on_duty,
                     open_tickets=len(booked.get(e.code, ())))
        for n, e in enumerate(engineers)
        if e.role == "engineer" and not any(b.start < slot.end and slot.start < b.end
                                            for b in booked.get(e.code, ()))]
    chosen = choose_assignee(candidates=candidates, wanted_skills=sorted(skills), city=city)
    return chosen.code if chosen is not None else None


# When nobody is free in the first window, try this many later ones before leaving the visit
# unassigned for a person: a week of nights.
_ENGINEER_TRIES = 7


def _place(
    cal: SiteCalendar, *, after: datetime, length: timedelta, policy: MaintenancePolicy,
    engineers: Sequence[EngineerSpec], roster: Roster | None, skills: set[str],
    city: str | None, booked: Mapping[str, list[Slot]],
) -> tuple[Slot, str | None]:
    """The first window with an engineer free in it; the first window and nobody when none of
    the next ``_ENGINEER_TRIES`` has one (or there are no engineers to ask)."""
    search = timedelta(days=policy.scheduling.search_days)
    first = slot = cal.slot(after=after, duration=length, search=search)
    for _ in range(_ENGINEER_TRIES if engineers else 0):
        who = _assign(engineers=engineers, roster=roster, slot=slot, skills=skills, city=city,
                      booked=booked)
        if who is not None:
            return slot, who
        try:
            slot = cal.slot(after=slot.end, duration=length, search=search)
        except NoWindow:
            break
    return first, None


def schedule(
    *,
    policy: MaintenancePolicy,
    items: Sequence[PlanItem],
    robots: Sequence[RobotInfo],
    now: datetime,
    engineers: Sequence[EngineerSpec] = (),
    roster: Roster | None = None,
    calendars: Mapping[str, SiteCalendar] | None = None,
) -> tuple[list[Visit], list[PlanItem]]:
    """Visits for the items due within ``create_ahead_days``, earliest first; and the items
    no window could take (``NoWindow``), for a person to place."""
    sch = policy.scheduling
    by_code = {r.code: r for r in robots}
    horizon = now + timedelta(days=sch.create_ahead_days)
    per_site: dict[str, list[PlanItem]] = defaultdict(list)
    for it in items:
        if it.due.at <= horizon and it.robot in by_code:
            per_site[by_code[it.robot].site].append(it)
    cals = dict(calendars or {})
    booked: dict[str, list[Slot]] = defaultdict(list)
    visits: list[Visit] = []
    unplaced: list[PlanItem] = []
    for site, site_items in sorted(per_site.items()):
        cal = cals.get(site) or cals.setdefault(site, SiteCalendar(policy.windows_of(site)))
        for bundle in _bundles(policy, site_items):
            length = timedelta(hours=sum(policy.plans[i.plan].duration_h for i in bundle))
            after = max(now, bundle[0].due.at - timedelta(days=sch.place_before_days))
            robot = by_code[bundle[0].robot]
            skills = {s for i in bundle for s in policy.plans[i.plan].skills}
            skills |= {x for i in bundle for x in (by_code[i.robot].brand, by_code[i.robot].model)
                       if x}
            try:
                slot, who = _place(cal, after=after, length=length, policy=policy,
                                   engineers=engineers, roster=roster, skills=skills,
                                   city=robot.city, booked=booked)
            except NoWindow:
                unplaced.extend(bundle)
                continue
            if who is not None:
                booked[who].append(slot)
            visits.append(Visit(site=site, customer=robot.customer, city=robot.city, slot=slot,
                                engineer=who, items=tuple(bundle)))
    return sorted(visits, key=lambda v: (v.slot.start, v.site)), unplaced


def moves(before: Sequence[Visit], after: Sequence[Visit]) -> list[Move]:
    """Inspections whose slot or engineer differ between two plans, with the reason: the
    condition that moved the due date, or the window / engineer that changed."""
    def index(vs: Sequence[Visit]) -> dict[tuple[str, str], tuple[Visit, PlanItem]]:
        return {(i.robot, i.plan): (v, i) for v in vs for i in v.items}

    old, new = index(before), index(after)
    out: list[Move] = []
    for key in sorted(set(old) | set(new)):
        ov, oi = old.get(key, (None, None))
        nv, ni = new.get(key, (None, None))
        if ov is not None and nv is not None and ov.slot == nv.slot and ov.engineer == nv.engineer:
            continue
        if ni is not None and ni.due.trigger == "condition" and (
                oi is None or ni.due.at < oi.due.at):
            reason = ni.due.reason
        elif ov is not None and nv is not None and ov.engineer != nv.engineer:
            reason = (f"engineer {ov.engineer or 'none'} -> {nv.engineer or 'none'}"
                      + ("" if ov.slot == nv.slot else ", and the window moved"))
        elif nv is None:
            reason = "no longer planned in this horizon (done, or no window)"
        elif ov is None:
            reason = f"newly due: {ni.due.reason}" if ni else "newly due"
        else:
            reason = "the maintenance window moved"
        out.append(Move(robot=key[0], plan=key[1], before=ov.slot if ov else None,
                        after=nv.slot if nv else None,
                        engineer_before=ov.engineer if ov else None,
                        engineer_after=nv.engineer if nv else None, reason=reason))
    return out
