"""Scenario files: the packaged ones load, scaling clones robots, bad files say what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulators.registry import fleet_spec
from simulators.scenario import (
    Scenario,
    ScenarioError,
    default_scenario_path,
    packaged_scenario_path,
)
from storage.connect import Conn
from storage.fleet import list_robots, register_fleet


def test_demo_scenario_has_the_fleet_the_demo_needs() -> None:
    sc = Scenario.load(default_scenario_path())
    tiers = {c.tier for c in sc.customers}
    assert {"core", "ordinary"} <= tiers and len(sc.customers) >= 2
    placed = sc.robots()
    assert 5 <= len(placed) <= 8
    assert {p.robot.protocol for p in placed} == {"opcua", "mqtt"}
    by_code = {p.robot.code: p for p in placed}
    overheat = [f for f in sc.faults if f.kind == "motor_overheating"]
    assert overheat and overheat[0].component == "J3" and overheat[0].onset_s == 20.0
    assert by_code[overheat[0].robot].customer.tier == "core"
    other = [f for f in sc.faults if by_code[f.robot].robot.protocol == "mqtt"]
    customer_of = {code: p.customer.code for code, p in by_code.items()}
    assert other and customer_of[other[0].robot] != customer_of[overheat[0].robot]


def test_bench_scenario_scales_to_200_robots_with_unique_codes() -> None:
    sc = Scenario.load(packaged_scenario_path("bench")).scaled(200)
    codes = [p.robot.code for p in sc.robots()]
    assert len(codes) == 200 == len(set(codes))
    assert all(p.robot.protocol == "mqtt" for p in sc.robots())


def test_scaling_down_drops_the_faults_of_dropped_robots() -> None:
    sc = Scenario.load(default_scenario_path())
    small = sc.scaled(2)
    assert [p.robot.code for p in small.robots()] == ["R-0001", "R-0002"]
    assert {f.robot for f in small.faults} == {"R-0001"}


@pytest.mark.parametrize("text, message", [
    ("name = 'x'\n[[programs]]\nname='p'\ncycle_time_s=1\n", "no robots"),
    ("[[programs]]\nname='p'\ncycle_time_s=-1\n", "cycle_time_s"),
    ("this is not toml", "x.toml"),
    ("[[programs]]\nname='p'\ncycle_time_s=1\n[[customers]]\ncode='bad code'\n",
     "does not match"),
    ("[[programs]]\nname='p'\ncycle_time_s=1\n[[customers]]\ncode='C'\ntier='vip'\n", "tier"),
])
def test_bad_scenarios_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "x.toml"
    p.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        Scenario.load(p)


def test_fleet_registers_in_the_database(db: Conn) -> None:
    sc = Scenario.load(default_scenario_path())
    ids = register_fleet(conn=db, fleet=fleet_spec(sc))
    assert set(ids) == {p.robot.code for p in sc.robots()}
    rows, total = list_robots(conn=db, customer="ACME")
    assert total == 3 and {r.tier for r in rows} == {"core"}


def test_docs_list_every_signal_and_browse_name() -> None:
    from simulators.signals import CONTROLLER_QUANTITIES, JOINT_QUANTITIES, camel

    root = Path(__file__).resolve().parents[2] / "docs"
    signals_md = (root / "signals.md").read_text()
    opcua_md = (root / "opcua-address-space.md").read_text()
    for q in JOINT_QUANTITIES:
        assert f"`J<n>.{q.key}`" in signals_md and camel(q.key) in opcua_md
    for q in CONTROLLER_QUANTITIES:
        assert f"`{q.key}`" in signals_md and camel(q.key) in opcua_md


@pytest.mark.parametrize("fault, message", [
    ({"duraton_s": 5}, r"faults\[0\]\.duraton_s: fault 'comm_loss' on 'R0': unknown key"),
    ({"kind": "sensor_stuck", "signal": "J9.temperature"}, "unknown signal"),
    ({"severity": 0}, "severity"),
])
def test_fault_typos_are_refused_not_ignored(fault: dict[str, Any], message: str) -> None:
    from tests.simulators.helpers import scenario

    base = {"robot": "R0", "component": "J1", "kind": "comm_loss", "onset_s": 1}
    with pytest.raises(ScenarioError, match=message):
        scenario([base | fault])


def test_unknown_robot_key_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.toml"
    p.write_text("[[programs]]\nname='p'\ncycle_time_s=1\n[[customers]]\ncode='C'\n"
                 "[[customers.sites]]\ncode='S'\n[[customers.sites.lines]]\ncode='L'\n"
                 "[[customers.sites.lines.robots]]\ncode='R'\nprogram='p'\nwarranty='2030-01-01'\n")
    with pytest.raises(ScenarioError, match="robots\\[0\\].warranty: robot 'R': unknown key"):
        Scenario.load(p)
