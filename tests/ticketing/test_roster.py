"""The on-call roster: on duty computed from the rota, handovers at every shift change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.errors import PolicyError
from ticketing.roster import Absence, Roster, ShiftDef, TeamRota, load_roster

SH = ZoneInfo("Asia/Shanghai")


def _team(tz: str = "Asia/Shanghai", name: str = "remote") -> TeamRota:
    return TeamRota(
        name=name, role="engineer", timezone=tz, epoch=date(2026, 1, 1),
        shifts=(ShiftDef(name="day", start=time(8), end=time(20)),
                ShiftDef(name="night", start=time(20), end=time(8))),
        crews=(("E-1", "E-2"), ("E-3",), ("E-4", "E-5")),
    )


ROSTER = Roster(teams=(_team(),))


def test_crews_rotate_through_days_and_nights() -> None:
    at = datetime(2026, 1, 1, 9, 0, tzinfo=SH)           # day 0, day shift: crew 0
    assert ROSTER.on_duty(at) == {"E-1", "E-2"}
    night = ROSTER.shift_at("remote", datetime(2026, 1, 2, 3, 0, tzinfo=SH))
    assert (night.shift, night.crew, night.starts_at) == (
        "night", 1, datetime(2026, 1, 1, 20, 0, tzinfo=SH))
    assert ROSTER.on_duty(datetime(2026, 1, 2, 9, 0, tzinfo=SH)) == {"E-4", "E-5"}   # crew 2
    assert ROSTER.on_duty(datetime(2026, 1, 2, 21, 0, tzinfo=SH)) == {"E-1", "E-2"}  # crew 0


def test_absence_takes_a_person_off_and_names_the_cover() -> None:
    ill = Absence(person="E-1", start=datetime(2026, 1, 1, 0, 0, tzinfo=SH),
                  end=datetime(2026, 1, 1, 12, 0, tzinfo=SH), cover="E-9", reason="sick")
    roster = Roster(teams=(_team(),), absences=(ill,))
    assert roster.on_duty(datetime(2026, 1, 1, 9, 0, tzinfo=SH)) == {"E-2", "E-9"}
    assert roster.on_duty(datetime(2026, 1, 1, 13, 0, tzinfo=SH)) == {"E-1", "E-2"}


def test_handovers_between_two_instants() -> None:
    changes = ROSTER.changes_between(datetime(2026, 1, 1, 7, 0, tzinfo=SH),
                                     datetime(2026, 1, 2, 8, 0, tzinfo=SH))
    assert [(c.at.astimezone(SH).hour, c.leaving.crew, c.incoming.crew) for c in changes] == [
        (8, 2, 0), (20, 0, 1), (8, 1, 2)]


def test_shifts_must_tile_the_day() -> None:
    with pytest.raises(ValueError, match="not 24 h"):
        TeamRota(name="x", role="engineer", epoch=date(2026, 1, 1), crews=(("a",),),
                 shifts=(ShiftDef(name="day", start=time(8), end=time(20)),))
    with pytest.raises(ValueError, match="must follow each other"):
        TeamRota(name="x", role="engineer", epoch=date(2026, 1, 1), crews=(("a",),),
                 shifts=(ShiftDef(name="a", start=time(8), end=time(20)),
                         ShiftDef(name="b", start=time(21), end=time(9))))


def test_roster_file_errors_name_the_key(tmp_path: Path) -> None:
    f = tmp_path / "roster.toml"
    f.write_text('[[teams]]\nname = "t"\nrole = "engineer"\nepoch = 2026-01-01\n'
                 'timezone = "Mars/Olympus"\ncrews = [["a"]]\n'
                 '[[teams.shifts]]\nname = "all"\nstart = 08:00:00\nend = 08:00:00\n')
    with pytest.raises(PolicyError, match="teams.0.timezone: .*unknown time zone"):
        load_roster(f)


def test_demo_roster_loads() -> None:
    path = Path(__file__).resolve().parents[2] / "robowatch" / "demo_roster.toml"
    roster = load_roster(path)
    at = datetime(2026, 12, 2, 10, 0, tzinfo=SH)
    assert roster.on_duty(at, role="engineer") and roster.on_duty(at, role="manager")


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31),
                        timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(at=instants, tz=st.sampled_from(["Asia/Shanghai", "Europe/Berlin"]))
def test_every_instant_has_exactly_its_shift(at: datetime, tz: str) -> None:
    roster = Roster(teams=(_team(tz),))
    inst = roster.shift_at("remote", at)
    # A daylight-saving jump may leave the shift that started before it in charge.
    assert inst.starts_at <= at
    assert at < inst.ends_at or inst.ends_at.utcoffset() != inst.starts_at.utcoffset()
    assert roster.on_duty(at) == set(inst.people)


@settings(max_examples=150, deadline=None)
@given(a=instants, gaps=st.tuples(st.integers(0, 72 * 60), st.integers(0, 72 * 60)),
       tz=st.sampled_from(["Asia/Shanghai", "Europe/Berlin"]))
def test_handovers_are_neither_lost_nor_repeated(a: datetime, gaps: tuple[int, int],
                                                 tz: str) -> None:
    roster = Roster(teams=(_team(tz),))
    b = a + timedelta(minutes=gaps[0])
    c = b + timedelta(minutes=gaps[1])
    whole = roster.changes_between(a, c)
    assert whole == roster.changes_between(a, b) + roster.changes_between(b, c)
    for ch in whole:
        assert ch.leaving.ends_at == ch.incoming.starts_at == ch.at
        assert ch.incoming.crew == (ch.leaving.crew + 1) % 3
