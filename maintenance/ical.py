"""The maintenance calendar as iCalendar (RFC 5545), per engineer or per customer site.

One VEVENT per visit (or stored inspection): the window it was placed in, the robots and
checklists in the description, and why it was moved earlier when condition moved it. UIDs
are stable across exports, so a calendar client updates an event instead of duplicating it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event

from maintenance.policy import MaintenancePolicy
from maintenance.scheduler import Visit, parts_request
from storage.maintenance import InspectionRow

__all__ = ["Entry", "feed", "entries_of_visits", "entries_of_inspections", "PRODID"]

PRODID = "-//robowatch//maintenance//EN"


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str
    location: str
    engineer: str | None


def entries_of_visits(policy: MaintenancePolicy, visits: Sequence[Visit]) -> list[Entry]:
    out = []
    for v in visits:
        lines = [f"{i.robot}: {policy.plans[i.plan].title} (due {i.due.at:%Y-%m-%d}; "
                 f"{i.due.reason})" for i in v.items]
        parts = parts_request(policy, v.items)
        if parts:
            lines.append("parts: " + ", ".join(f"{p.quantity} x {p.part}" for p in parts))
        first = v.items[0]
        out.append(Entry(
            uid=f"{first.robot}.{first.plan}.{first.due.at:%Y%m%d}@robowatch",
            start=v.slot.start, end=v.slot.end,
            summary=f"Inspection at {v.site}: {len(v.items)} item(s)",
            description="\n".join(lines), location=f"{v.customer}/{v.site}"
            + (f", {v.city}" if v.city else ""), engineer=v.engineer))
    return out


def _parts(parts: Sequence[dict[str, object]]) -> str:
    return ", ".join(f"{p.get('quantity')} x {p.get('part')}" for p in parts)


def entries_of_inspections(rows: Sequence[InspectionRow]) -> list[Entry]:
    """Stored work orders that have a window (unplaced ones have no time to show)."""
    out = []
    for r in rows:
        if r.window_start is None or r.window_end is None:
            continue
        text = f"due {r.due_at:%Y-%m-%d}; {r.trigger}: {r.reason}"
        out.append(Entry(uid=f"inspection-{r.id}@robowatch", start=r.window_start,
                         end=r.window_end, summary=f"{r.plan} inspection of {r.robot}",
                         description=text + (f"\nparts: {_parts(r.parts)}" if r.parts else ""),
                         location=f"{r.customer}/{r.site}" + (f", {r.city}" if r.city else ""),
                         engineer=r.engineer))
    return out


def feed(entries: Iterable[Entry], *, name: str, stamp: datetime) -> bytes:
    """The iCalendar document of ``entries``; ``stamp`` is DTSTAMP (the export time)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for e in entries:
        ev = Event()
        ev.add("uid", e.uid)
        ev.add("dtstamp", stamp)
        ev.add("dtstart", e.start)
        ev.add("dtend", e.end)
        ev.add("summary", e.summary)
        ev.add("description", e.description)
        ev.add("location", e.location)
        if e.engineer:
            ev.add("attendee", f"urn:robowatch:engineer:{e.engineer}")
        cal.add_component(ev)
    return bytes(cal.to_ical())
