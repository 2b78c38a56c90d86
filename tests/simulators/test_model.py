"""The fleet model: realistic healthy behaviour, determinism, and each fault's signature.

Each fault test runs the same two-robot fleet with and without the fault (same seed, so same
parameters and noise) and compares the faulted robot R0 with its healthy twin run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simulators.model import FleetModel
from simulators.scenario import Scenario, default_scenario_path
from simulators.signals import ALARM_CODES
from tests.simulators.helpers import scenario, trace


def col(m: FleetModel, name: str) -> int:
    return m.signal_names.index(name)


def test_signal_names_follow_the_contract() -> None:
    m = FleetModel(scenario(), seed=0, start_time=0.0)
    names = m.signal_names
    for j in range(1, 7):
        for q in ("position", "position_command", "velocity", "current", "torque",
                  "temperature", "vibration", "following_error"):
            assert f"J{j}.{q}" in names
    for c in ("cycle_count", "program_state", "cycle_time", "operating_hours",
              "cabinet_temperature", "servo_on", "alarm_code", "payload"):
        assert c in names
    assert m.step(0.0).shape == (2, len(names))


def test_same_seed_same_values_other_seed_other_values() -> None:
    sc = Scenario.load(default_scenario_path())
    a = trace(sc, seconds=3, seed=7)[2]
    b = trace(sc, seconds=3, seed=7)[2]
    c = trace(sc, seconds=3, seed=8)[2]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_healthy_arm_follows_its_cycle() -> None:
    m, s, v, _ = trace(scenario(), seconds=16, rate=20)
    cur = v[:, 0, col(m, "J2.current")]
    state = v[:, 0, col(m, "program_state")]
    # Moving and waiting alternate with the 4 s program; current is higher while moving.
    assert set(np.unique(state)) == {1.0, 2.0}
    assert cur[state == 1].mean() > cur[state == 2].mean()
    # Current is periodic with the cycle: a 4 s lag correlates, a 1 s lag much less.
    lag = 80  # 4 s at 20 Hz
    assert np.corrcoef(cur[:-lag], cur[lag:])[0, 1] > 0.9
    counts = v[:, 0, col(m, "cycle_count")]
    assert counts[-1] - counts[0] in (3, 4)
    # Temperatures sit in a plausible band above ambient.
    temp = v[:, 0, [col(m, f"J{j}.temperature") for j in range(1, 7)]]
    assert ((temp > 25) & (temp < 80)).all()


def test_noise_is_coloured_not_white() -> None:
    m, _, v, _ = trace(scenario(), seconds=30, rate=10)
    temp = v[:, 0, col(m, "J6.temperature")]
    resid = temp - np.convolve(temp, np.ones(5) / 5, mode="same")
    x = temp[50:] - temp[50:].mean()
    # Lag-1 autocorrelation of white noise would be ~0.
    assert np.corrcoef(x[:-1], x[1:])[0, 1] > 0.5
    assert resid.std() > 0


def _pair(fault: dict[str, Any], *, seconds: float, speedup: float = 10.0, rate: float = 10.0):
    sc_f, sc_h = scenario([fault]), scenario([])
    m, s, vf, pf = trace(sc_f, seconds=seconds, speedup=speedup, rate=rate)
    _, _, vh, ph = trace(sc_h, seconds=seconds, speedup=speedup, rate=rate)
    return m, s, vf[:, 0], vh[:, 0], pf[:, 0]


def test_motor_overheating_heats_that_motor_then_trips() -> None:
    fault = {"robot": "R0", "component": "J3", "kind": "motor_overheating", "onset_s": 100,
             "failure_s": 300}
    m, s, f, h, _ = _pair(fault, seconds=35)
    t3 = col(m, "J3.temperature")
    before = s < 100
    np.testing.assert_array_equal(f[before], h[before])
    window = (s > 150) & (s < 290)
    assert f[window, t3].mean() > h[window, t3].mean() + 20
    assert abs(f[window, col(m, "J1.temperature")].mean()
               - h[window, col(m, "J1.temperature")].mean()) < 1.0
    after = s >= 300
    assert (f[after, col(m, "servo_on")] == 0).all()
    assert (f[after, col(m, "alarm_code")] == ALARM_CODES["motor_overheating"]).all()
    assert (f[after, col(m, "program_state")] == 3).all()


def test_demo_overheating_leaves_its_band_within_15_seconds() -> None:
    sc = Scenario.load(default_scenario_path())
    (fault,) = [f for f in sc.faults if f.robot == "R-0001"]
    onset = fault.onset_s
    m, s, v, _ = trace(sc, seconds=onset + 20, rate=2)
    r = m.robot_codes.index("R-0001")
    t3 = v[:, r, col(m, "J3.temperature")]
    normal = t3[(s > 5) & (s < onset)]
    band_top = normal.mean() + 4 * normal.std() + 3
    assert t3[(s >= onset + 15) & (s < onset + 20)].min() > band_top


def test_gearbox_wear_raises_vibration_progressively() -> None:
    fault = {"robot": "R0", "component": "J2", "kind": "gearbox_wear", "onset_s": 50,
             "failure_s": 350}
    m, s, f, h, _ = _pair(fault, seconds=37)
    vib = col(m, "J2.vibration")
    early, late = (s > 60) & (s < 120), (s > 280) & (s < 340)
    ratio_early = f[early, vib].mean() / h[early, vib].mean()
    ratio_late = f[late, vib].mean() / h[late, vib].mean()
    assert ratio_late > 2.5 and ratio_late > ratio_early + 1
    assert f[s > 350, col(m, "alarm_code")].max() == ALARM_CODES["gearbox_wear"]


def test_bearing_damage_adds_vibration_impacts() -> None:
    fault = {"robot": "R0", "component": "J4", "kind": "bearing_damage", "onset_s": 0,
             "failure_s": 500}
    m, s, f, h, _ = _pair(fault, seconds=40)
    vib = col(m, "J4.vibration")
    w = (s > 200) & (s < 490)
    assert f[w, vib].max() > 3 * h[w, vib].max()
    assert f[w, vib].mean() > 1.5 * h[w, vib].mean()
    assert f[w, col(m, "J4.temperature")].mean() > h[w, col(m, "J4.temperature")].mean()


def test_lubrication_loss_raises_torque_and_temperature() -> None:
    fault = {"robot": "R0", "component": "J1", "kind": "lubrication_loss", "onset_s": 0,
             "failure_s": 500}
    m, s, f, h, _ = _pair(fault, seconds=40)
    w = (s > 300) & (s < 490)
    tq, tp = col(m, "J1.torque"), col(m, "J1.temperature")
    assert np.abs(f[w, tq]).mean() > 1.2 * np.abs(h[w, tq]).mean()
    assert f[w, tp].mean() > h[w, tp].mean() + 3


def test_encoder_drift_grows_following_error() -> None:
    fault = {"robot": "R0", "component": "J5", "kind": "encoder_drift", "onset_s": 0,
             "failure_s": 400}
    m, s, f, h, _ = _pair(fault, seconds=40)
    fe = col(m, "J5.following_error")
    late = (s > 300) & (s < 390)
    assert np.abs(f[late, fe]).mean() > 1.0 > np.abs(h[late, fe]).mean()
    early = (s > 10) & (s < 60)
    assert np.abs(f[early, fe]).mean() < np.abs(f[late, fe]).mean()


def test_brake_fault_drags_current_and_heat() -> None:
    fault = {"robot": "R0", "component": "J2", "kind": "brake_fault", "onset_s": 0,
             "failure_s": 400}
    m, s, f, h, _ = _pair(fault, seconds=42)
    w = (s > 250) & (s < 390)
    assert f[w, col(m, "J2.current")].mean() > 1.05 * h[w, col(m, "J2.current")].mean()
    assert f[w, col(m, "J2.temperature")].mean() > h[w, col(m, "J2.temperature")].mean() + 2
    assert f[s > 400, col(m, "alarm_code")].max() == ALARM_CODES["brake_fault"]


def test_collision_spikes_torque_then_protective_stop() -> None:
    fault = {"robot": "R0", "component": "J1", "kind": "collision", "onset_s": 5,
             "duration_s": 5}
    m, s, f, h, _ = _pair(fault, seconds=15, speedup=1.0)
    tq = col(m, "J1.torque")
    first = np.argmax(s >= 5)
    assert abs(f[first, tq]) > 2 * np.abs(h[:, tq]).max()
    stop = (s > 5.5) & (s < 10)
    assert (f[stop, col(m, "servo_on")] == 0).all()
    assert (f[stop, col(m, "program_state")] == 3).all()
    assert (f[stop, col(m, "alarm_code")] == ALARM_CODES["collision"]).all()
    assert (f[s > 10.5, col(m, "servo_on")] == 1).all()


def test_cable_wear_gives_intermittent_current_spikes() -> None:
    fault = {"robot": "R0", "component": "J6", "kind": "cable_wear", "onset_s": 0,
             "failure_s": 1000}
    m, s, f, h, _ = _pair(fault, seconds=60)
    cur = col(m, "J6.current")
    excess = f[:, cur] - h[:, cur]
    spikes = excess > 0.3 * h[:, cur].mean()
    assert 5 < spikes.sum() < 0.6 * len(s)  # intermittent: some samples, not all
    assert spikes[len(s) // 2:].sum() > spikes[: len(s) // 2].sum()  # more as it wears


def test_sensor_stuck_flat_lines_one_signal() -> None:
    fault = {"robot": "R0", "component": "J3", "kind": "sensor_stuck", "onset_s": 5,
             "signal": "J3.temperature"}
    m, s, f, h, _ = _pair(fault, seconds=20, speedup=1.0)
    t3 = col(m, "J3.temperature")
    after = s >= 5
    assert np.ptp(f[after, t3]) == 0
    assert np.ptp(h[after, t3]) > 0
    np.testing.assert_array_equal(f[:, col(m, "J3.current")], h[:, col(m, "J3.current")])


def test_comm_loss_silences_the_robot_for_its_duration() -> None:
    fault = {"robot": "R0", "component": "controller", "kind": "comm_loss", "onset_s": 3,
             "duration_s": 4}
    m, s, f, h, pub = _pair(fault, seconds=10, speedup=1.0)
    assert pub[s < 3].all() and not pub[(s >= 3) & (s < 7)].any() and pub[s >= 7].all()


def test_stoppage_halts_everything() -> None:
    fault = {"robot": "R0", "component": "controller", "kind": "stoppage", "onset_s": 3}
    m, s, f, h, _ = _pair(fault, seconds=12, speedup=1.0)
    after = s >= 3
    assert (f[after, col(m, "servo_on")] == 0).all()
    assert (f[after, col(m, "program_state")] == 0).all()
    assert np.ptp(f[after, col(m, "cycle_count")]) == 0
    assert np.abs(f[after, col(m, "J1.velocity")]).max() < 1.0
    assert f[after, col(m, "J2.current")].max() < 0.3


@pytest.mark.parametrize("bad, message", [
    ({"kind": "gremlins"}, "kind must be one of"),
    ({"kind": "gearbox_wear", "failure_s": None}, "failure_s"),
    ({"kind": "gearbox_wear", "component": "J9"}, "component"),
    ({"robot": "nobody"}, "unknown robot"),
])
def test_bad_faults_are_refused_with_a_clear_message(bad: dict[str, Any], message: str) -> None:
    from simulators.scenario import ScenarioError

    fault = {"robot": "R0", "component": "J1", "kind": "gearbox_wear", "onset_s": 1,
             "failure_s": 10, **bad}
    fault = {k: v for k, v in fault.items() if v is not None}
    with pytest.raises(ScenarioError, match=message):
        scenario([fault])


def test_collision_impact_shows_in_current_before_the_stop() -> None:
    fault = {"robot": "R0", "component": "J2", "kind": "collision", "onset_s": 2,
             "duration_s": 3}
    m, s, f, h, _ = _pair(fault, seconds=6, speedup=1.0)
    first = int(np.argmax(s >= 2))
    cur = col(m, "J2.current")
    assert f[first, col(m, "servo_on")] == 1
    assert f[first, cur] > 3 * h[:, cur].max()
    assert f[first + 1, col(m, "servo_on")] == 0 and f[first + 1, cur] < 0.2  # sensor noise


def test_values_stay_inside_their_instrument_range() -> None:
    fault = {"robot": "R0", "component": "J1", "kind": "collision", "onset_s": 1,
             "severity": 3.0}
    m, _, v, _ = trace(scenario([fault]), seconds=3, speedup=1.0)
    low = np.array([sp.low for sp in m.specs])
    high = np.array([sp.high for sp in m.specs])
    assert (v >= low).all() and (v <= high).all()
    assert v[:, 0, col(m, "J1.torque")].max() == 3000.0  # saturated, not beyond


def test_usage_meters_agree_at_any_speedup() -> None:
    m, s, v, _ = trace(scenario(), seconds=20, rate=5, speedup=50.0)
    hours = v[:, 0, col(m, "operating_hours")]
    cycles = v[:, 0, col(m, "cycle_count")]
    # ~1000 scenario seconds of a 4 s program: ~250 cycles and ~0.28 h, in the ratio of the
    # cycle time, although the arm visibly moved through only 5 cycles of wall time.
    assert cycles[-1] - cycles[0] == pytest.approx((s[-1] - s[0]) / 4.0, abs=1.5)
    assert (hours[-1] - hours[0]) * 3600 / (cycles[-1] - cycles[0]) == pytest.approx(4.0, rel=0.02)


def test_cycle_time_changes_once_per_cycle() -> None:
    m, s, v, _ = trace(scenario(), seconds=20, rate=10)
    ct = v[:, 0, col(m, "cycle_time")]
    changes = int((np.diff(ct) != 0).sum())
    assert 3 <= changes <= 5  # 20 s of a 4 s program
    assert np.abs(ct - 4.0).max() < 0.1


def test_same_seed_same_values_whatever_the_start_time() -> None:
    sc = scenario()
    a = FleetModel(sc, seed=5, start_time=1_000.0)
    b = FleetModel(sc, seed=5, start_time=1_500.0)
    va = [a.step(1_000.0 + k * 0.1) for k in range(30)]
    vb = [b.step(1_500.0 + k * 0.1) for k in range(30)]
    np.testing.assert_array_equal(np.array(va), np.array(vb))
