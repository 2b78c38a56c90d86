"""The team file: validated, unknown keys refused with the file and key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from robowatch.team import TeamError, load_team


def test_demo_team_loads() -> None:
    team = load_team()
    assert {p.role for p in team} >= {"manager", "engineer"}
    assert all(p.code and p.name for p in team)


def test_unknown_key_is_refused_with_its_place(tmp_path: Path) -> None:
    f = tmp_path / "team.toml"
    f.write_text('[[engineers]]\ncode = "E-1"\nname = "A"\non_dutty = true\n')
    with pytest.raises(TeamError, match=r"team.toml: engineers\.0\.on_dutty: Extra inputs"):
        load_team(f)


def test_missing_name_and_bad_toml_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "team.toml"
    f.write_text('[[engineers]]\ncode = "E-1"\n')
    with pytest.raises(TeamError, match=r"engineers\.0\.name: Field required"):
        load_team(f)
    f.write_text("[[engineers]\n")
    with pytest.raises(TeamError, match="team.toml"):
        load_team(f)
