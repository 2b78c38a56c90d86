"""The 7x24 on-call roster: who is on duty is computed from the rota, never a flag.

A company describes each team's rota in a TOML file (``robowatch/demo_roster.toml`` is the
demo's): the team's time zone, its shifts (which tile the day), its crews, and the day the
rota started. Crews take the shifts in turn: shift ``s`` of rota day ``d`` is worked by crew
``(d * len(shifts) + s) mod len(crews)``, a continuous rota (two 12 h shifts and three crews:
each crew works every third shift, alternating days and nights). Absences take a person off,
and may name who covers.

Pure: :meth:`Roster.on_duty`, :meth:`Roster.shift_at` and :meth:`Roster.changes_between`
answer from the rota alone; the service stores what it did with them (handover events).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ticketing.policy import read_toml

__all__ = ["ShiftDef", "TeamRota", "Absence", "Roster", "ShiftInstance", "ShiftChange",
           "load_roster"]

_DAY = timedelta(days=1)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


Zone = Annotated[str, AfterValidator(_zone)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShiftDef(_Model):
    name: str = Field(min_length=1)
    start: time
    end: time  # at or before start: the shift ends the next day

    @property
    def length(self) -> timedelta:
        span = datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)
        return span if span > timedelta(0) else span + _DAY


class TeamRota(_Model):
    name: str = Field(min_length=1)
    role: str = Field(min_length=1, description="the role its members hold (engineer, ...)")
    timezone: Zone = "Asia/Shanghai"
    epoch: date = Field(description="rota day 0: crew 0 works its first shift")
    shifts: tuple[ShiftDef, ...] = Field(min_length=1)
    crews: tuple[tuple[str, ...], ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _shifts_tile_the_day(self) -> TeamRota:
        total = sum((s.length for s in self.shifts), timedelta(0))
        if total != _DAY:
            raise ValueError(f"team {self.name}: shifts cover {total}, not 24 h")
        for a, b in zip(self.shifts, self.shifts[1:] + self.shifts[:1], strict=True):
            if a.end != b.start:
                raise ValueError(f"team {self.name}: shift {a.name} ends {a.end}, "
                                 f"{b.name} starts {b.start}: shifts must follow each other")
        if any(not crew for crew in self.crews):
            raise ValueError(f"team {self.name}: a crew without people")
        return self


class Absence(_Model):
    person: str
    start: datetime
    end: datetime
    cover: str | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Absence:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"absence of {self.person}: give times with their UTC offset")
        if self.end <= self.start:
            raise ValueError(f"absence of {self.person} ends before it starts")
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class ShiftInstance:
    team: str
    role: str
    shift: str
    starts_at: datetime
    ends_at: datetime
    crew: int
    people: tuple[str, ...]  # as rostered, before absences


@dataclass(frozen=True, slots=True, kw_only=True)
class ShiftChange:
    """A shift boundary: ``leaving`` hands its open work to ``incoming`` at ``at``."""

    team: str
    at: datetime
    leaving: ShiftInstance
    incoming: ShiftInstance


class Roster(_Model):
    teams: tuple[TeamRota, ...] = Field(min_length=1)
    absences: tuple[Absence, ...] = ()

    @model_validator(mode="after")
    def _unique_teams(self) -> Roster:
        names = [t.name for t in self.teams]
        if len(set(names)) != len(names):
            raise ValueError("two teams share a name")
        return self

    def _team(self, name: str) -> TeamRota:
        for t in self.teams:
            if t.name == name:
                return t
        raise KeyError(name)

    @staticmethod
    def _instance(team: TeamRota, day: date, slot: int) -> ShiftInstance:
        zone = ZoneInfo(team.timezone)
        shift = team.shifts[slot]
        start = datetime.combine(day, shift.start, zone)
        end_day = day + _DAY if shift.end <= shift.start else day
        end = datetime.combine(end_day, shift.end, zone)
        n = (day - team.epoch).days * len(team.shifts) + slot
        crew = n % len(team.crews)
        return ShiftInstance(team=team.name, role=team.role, shift=shift.name, starts_at=start,
                             ends_at=end, crew=crew, people=team.crews[crew])

    def _instances(self, team: TeamRota, first: date, last: date) -> Iterator[ShiftInstance]:
        day = first
        while day <= last:
            for slot in range(len(team.shifts)):
                yield self._instance(team, day, slot)
            day += _DAY

    def shift_at(self, team: str, at: datetime) -> ShiftInstance:
        """The shift of ``team`` that covers the instant ``at``."""
        if at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")
        rota = self._team(team)
        local = at.astimezone(ZoneInfo(rota.timezone)).date()
        for inst in self._instances(rota, local - _DAY, local + _DAY):
            if inst.starts_at <= at < inst.ends_at:
                return inst
        # Only a daylight-saving gap can leave an instant between two shifts: the clock
        # jumped over the boundary, and the shift that started before it still holds.
        return max((i for i in self._instances(rota, local - _DAY, local)
                    if i.starts_at <= at), key=lambda i: i.starts_at)

    def _present(self, people: set[str], at: datetime) -> set[str]:
        for a in self.absences:
            if a.start <= at < a.end and a.person in people:
                people.discard(a.person)
                if a.cover:
                    people.add(a.cover)
        return people

    def crew_at(self, team: str, at: datetime) -> frozenset[str]:
        """Who of ``team`` is on duty at ``at``: its rostered crew less absences, plus covers."""
        return frozenset(self._present(set(self.shift_at(team, at).people), at))

    def on_duty(self, at: datetime, *, role: str | None = None) -> frozenset[str]:
        """Everyone on duty at ``at`` (of ``role``): rostered crews less absences, plus covers."""
        people: set[str] = set()
        for team in self.teams:
            if role is None or team.role == role:
                people.update(self.shift_at(team.name, at).people)
        return frozenset(self._present(people, at))

    def changes_between(self, after: datetime, until: datetime) -> list[ShiftChange]:
        """Shift boundaries in ``(after, until]``, oldest first: the handovers due."""
        if after.utcoffset() is None or until.utcoffset() is None:
            raise ValueError("after and until must be timezone-aware")
        out: list[ShiftChange] = []
        for team in self.teams:
            zone = ZoneInfo(team.timezone)
            first = after.astimezone(zone).date() - _DAY
            last = until.astimezone(zone).date() + _DAY
            insts = list(self._instances(team, first, last))
            for leaving, incoming in zip(insts, insts[1:], strict=False):
                if after < incoming.starts_at <= until:
                    out.append(ShiftChange(team=team.name, at=incoming.starts_at,
                                           leaving=leaving, incoming=incoming))
        return sorted(out, key=lambda c: (c.at, c.team))


def load_roster(path: Path) -> Roster:
    """The roster in ``path``; ``PolicyError`` names the file, the key and what is wrong."""
    return read_toml(path, Roster, what="roster")
