"""One incident, one ticket: the pure matcher over a robot's open tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketing.incidents import OpenIncident, match_incident, named_joint
from ticketing.policy import builtin_policy

RULES = builtin_policy("default").incidents
T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _open(ticket_id, component, *kinds, last=T0, components=None):
    return OpenIncident(ticket_id=ticket_id, component=component,
                        components=frozenset(components or {component}),
                        kinds=frozenset(kinds), last_anomaly_at=last)


def _match(component, kind, incidents, *, at=T0 + 5 * MIN, evidence=None, rules=RULES):
    return match_incident(component=component, kind=kind, started_at=at,
                          evidence=evidence or {}, open_incidents=incidents, rules=rules)


def test_policies_all_carry_incident_rules() -> None:
    for name in ("default", "seed003", "seed004"):
        rules = builtin_policy(name).incidents
        assert rules is not None and rules.window == timedelta(minutes=30)
        assert "temperature_high" in rules.follows["motor_overtemperature"]


def test_same_part_joins_whatever_the_kind() -> None:
    j3 = _open(1, "J3", "temperature_high")
    m = _match("J3", "current_high", [j3])
    assert m is not None and m.ticket_id == 1 and m.reason == "same part J3"


def test_different_parts_stay_separate_incidents() -> None:
    assert _match("J2", "vibration_high", [_open(1, "J3", "temperature_high")]) is None


def test_controller_alarm_follows_the_part_it_results_from() -> None:
    j3 = _open(1, "J3", "temperature_high")
    j2 = _open(2, "J2", "vibration_high")
    hot = _match("controller", "motor_overtemperature", [j3, j2])
    assert hot is not None and hot.ticket_id == 1 and hot.attributed_to == "J3"
    assert "follows temperature_high on J3" in hot.reason
    gear = _match("controller", "gearbox_failure", [j3, j2])
    # Both parts have a kind gearbox_failure follows from; the most recently active one wins.
    assert gear is not None and gear.ticket_id in (1, 2)
    only_j2 = _match("controller", "gearbox_failure", [j2])
    assert only_j2 is not None and only_j2.ticket_id == 2 and only_j2.attributed_to == "J2"


def test_follow_window_is_policy() -> None:
    j3 = _open(1, "J3", "temperature_high", last=T0)
    assert _match("controller", "cabinet_temperature_high", [j3], at=T0 + 29 * MIN) is not None
    assert _match("controller", "cabinet_temperature_high", [j3], at=T0 + 31 * MIN) is None


def test_alarm_naming_a_joint_is_attributed_to_it() -> None:
    j3 = _open(1, "J3", "temperature_high")
    j5 = _open(2, "J5", "vibration_high")
    for evidence in ({"joint": "J5"}, {"axis": 5}, {"axis": "5"}, {"joint": "j5"}):
        # brake_fault does not follow vibration: only the named joint can attribute it.
        m = _match("controller", "brake_fault", [j3, j5], evidence=evidence)
        assert m is not None and (m.ticket_id, m.attributed_to) == (2, "J5"), evidence


def test_unrelated_controller_alarm_is_its_own_incident() -> None:
    j3 = _open(1, "J3", "temperature_high")
    assert _match("controller", "collision", [j3]) is None
    # ... and a repeat of the same controller kind joins that controller ticket.
    ctl = _open(2, "controller", "collision")
    m = _match("controller", "collision", [j3, ctl])
    assert m is not None and m.ticket_id == 2


def test_part_anomaly_explains_an_earlier_alarm() -> None:
    alarm = _open(7, "controller", "gearbox_failure", last=T0)
    m = _match("J2", "vibration_high", [alarm], at=T0 + 2 * MIN)
    assert m is not None and m.ticket_id == 7 and m.attributed_to == "J2"


def test_without_rules_only_same_component_and_kind_join() -> None:
    j3 = _open(1, "J3", "temperature_high")
    assert _match("J3", "current_high", [j3], rules=None) is None
    m = _match("J3", "temperature_high", [j3], rules=None)
    assert m is not None and m.ticket_id == 1


@pytest.mark.parametrize(("evidence", "joint"), [
    ({"joint": "J3"}, "J3"), ({"axis": 2}, "J2"), ({"axis": True}, None), ({"axis": 0}, None),
    ({"joint": "arm"}, None), ({}, None), ({"axis": None, "joint": "4"}, "J4"),
])
def test_named_joint(evidence, joint) -> None:
    assert named_joint(evidence, ("joint", "axis")) == joint
