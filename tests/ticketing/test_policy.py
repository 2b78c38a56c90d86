"""Policy files: the shipped ones load, bad ones fail with a message naming the problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ticketing.errors import PolicyError
from ticketing.policy import (
    GRADES,
    TIERS,
    builtin_policy,
    builtin_policy_names,
    format_duration,
    load_policy,
    parse_duration,
)

DEFAULT = Path(__file__).parents[2] / "ticketing" / "policies" / "default.toml"


def test_builtin_policies_load_with_complete_clocks():
    assert builtin_policy_names() == ["default", "demo", "seed003", "seed004"]
    labels = set()
    for name in builtin_policy_names():
        p = builtin_policy(name)
        labels.add(p.label)
        for g in GRADES:
            for t in TIERS:
                assert p.clock_for(grade=g, tier=t).grade == g
    assert len(labels) == 4  # every policy names itself apart


def test_load_policy_without_path_is_the_default():
    assert load_policy(None) == builtin_policy("default") == load_policy(DEFAULT)
    assert load_policy(None).label == "seed000-om@2026.1"


def test_seed_alternatives_differ_where_the_seeds_differ():
    s3, s4 = builtin_policy("seed003"), builtin_policy("seed004")
    assert (s3.process.dispatch, s3.process.confirm) == (timedelta(hours=1), timedelta(minutes=15))
    assert s3.clock_for(grade="I", tier="core").respond == timedelta(minutes=30)
    assert s3.clock_for(grade="I", tier="core").onsite == timedelta(hours=2)
    assert s4.clock_for(grade="IV", tier="ordinary").resolve == timedelta(days=7)
    assert s4.clock_for(grade="II", tier="core").respond == timedelta(hours=8)
    assert s4.process.dispatch == timedelta(minutes=30)


@pytest.mark.parametrize(("text", "value"), [
    ("15m", timedelta(minutes=15)), ("2h", timedelta(hours=2)), ("1h30m", timedelta(minutes=90)),
    ("7d", timedelta(days=7)), ("PT45M", "PT45M"),
])
def test_parse_duration(text, value):
    assert parse_duration(text) == value


def test_parse_duration_refuses_prose():
    with pytest.raises(ValueError, match="'soon'"):
        parse_duration("soon")


def test_format_duration():
    assert [format_duration(timedelta(minutes=m)) for m in (15, 60, 90, 1440, 10080)] == [
        "15m", "1h", "1h30m", "24h", "7d"]
    assert format_duration(None) == "-"


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "p.toml"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


@pytest.mark.parametrize(("old", "new", "message"), [
    ('core-module = "II",  non-core = "III"', 'core-module = "II"', "core.non-core"),
    ('stoppage = "I",', 'stoppage = "0",', "matrix.core.stoppage"),
    ('respond = "15m"', 'respond = "quick"', "clocks.0.respond"),
    ('resolve_extended = "8h"', 'resolve_extended = "2h"', "shorter than resolve"),
    ('tiers = ["core"]\nrespond = "30m"', 'tiers = ["core"]\nrespond = "30m"\nspeed = 1',
     "speed"),
    ('grade = "II"\ntiers = ["important"]', 'grade = "II"\ntiers = ["core"]', "both set grade II"),
    ('grade = "IV"\ntiers = ["core", "important", "ordinary"]',
     'grade = "IV"\ntiers = ["core", "important"]', "IV/ordinary"),
    ('min_customers = 2', 'min_customers = 1', "min_customers"),
    ('name = "seed000-om"', 'name = "bad name!"', "policy.name"),
])
def test_bad_policy_names_the_problem(tmp_path, old, new, message):
    with pytest.raises(PolicyError, match="invalid policy") as err:
        load_policy(_edited(tmp_path, old, new))
    assert message in str(err.value)
    assert str(tmp_path / "p.toml") in str(err.value)


def test_unreadable_or_broken_files(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[policy\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(broken)
    with pytest.raises(PolicyError, match="no built-in policy"):
        builtin_policy("nope")
