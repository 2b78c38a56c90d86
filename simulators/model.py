"""Vectorised model of a fleet of 6-axis arms: numpy over robots x joints, one call per tick.

Time: ``t`` is wall-clock Unix time. Motion runs in wall time (a 12 s cycle looks like 12 s on
a chart at any speed-up); ageing, heat and faults run in *scenario time*
``s = (t - start_time) * speedup``, so a speed-up compresses days of wear into minutes.

Physics, per joint: a smooth periodic motion profile per program (move for ``duty`` of the
cycle, then dwell); torque = inertia x acceleration + gravity + friction; current = |torque| /
torque constant + holding current; winding temperature is a first-order lag towards
ambient + rise proportional to current squared; gearbox vibration is a baseline growing with
speed. Noise is coloured (an AR(1)/Ornstein-Uhlenbeck process per signal), and every value is
rounded to its sensor's resolution. Same seed and same sequence of ``t``: same values.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import numpy as np

from simulators.faults import Effects, FaultSchedule
from simulators.scenario import Scenario
from simulators.signals import CONTROLLER_QUANTITIES, JOINT_QUANTITIES, N_JOINTS, catalogue

__all__ = ["FleetModel"]

_NQ = len(JOINT_QUANTITIES)
_Q = {q.key: i for i, q in enumerate(JOINT_QUANTITIES)}
_C = {q.key: N_JOINTS * _NQ + i for i, q in enumerate(CONTROLLER_QUANTITIES)}

# Nominal per-joint parameters of a 200 kg-class arm (J1..J6); each robot draws +-10 % around
# them so that no two arms are identical.
_INERTIA = np.array([60.0, 80.0, 30.0, 3.0, 2.0, 0.5])          # kg m^2 seen at the joint
_GRAVITY = np.array([0.0, 900.0, 400.0, 0.0, 30.0, 0.0])        # N m, link horizontal
_COULOMB = np.array([40.0, 50.0, 30.0, 8.0, 6.0, 3.0])          # N m
_VISCOUS = np.array([0.4, 0.5, 0.3, 0.05, 0.04, 0.02])          # N m per deg/s
_KT = np.array([60.0, 80.0, 45.0, 12.0, 9.0, 4.0])              # N m per A (gear included)
_HOLD_A = np.array([0.6, 0.8, 0.6, 0.3, 0.2, 0.1])              # A with drives on, at rest
_RATED_NM = np.array([1500.0, 2000.0, 1000.0, 200.0, 150.0, 60.0])
_RISE_C = np.array([28.0, 32.0, 30.0, 20.0, 18.0, 15.0])        # winding rise at nominal load
_VIB_MM_S = np.array([0.8, 1.0, 0.9, 0.5, 0.4, 0.3])            # gearbox vibration baseline
_VMAX = np.array([120.0, 110.0, 130.0, 250.0, 250.0, 350.0])    # deg/s, scales vibration
_SERVO_LAG_S = 0.008

# Coloured noise: standard deviation per joint quantity and controller signal.
_JOINT_NOISE = {"position": 0.002, "velocity": 0.15, "current": 0.04, "torque": 3.0,
                "temperature": 0.12, "vibration": 0.06, "following_error": 0.0004}
_CTRL_NOISE = {"cabinet_temperature": 0.08}
_CYCLE_JITTER_S = 0.02  # spread of a measured cycle time (waits for parts, sensor timing)
_NOISE_TAU_S = 1.5


class FleetModel:
    """Values of every signal of every robot of ``scenario`` at successive wall times.

    Parameters
    ----------
    scenario : the fleet, programs and faults.
    seed : makes the fleet's parameters and noise reproducible.
    speedup : scenario seconds per wall second (ageing, heat and faults).
    start_time : wall time of scenario second 0; default: now.
    """

    def __init__(
        self, scenario: Scenario, *, seed: int = 0, speedup: float = 1.0,
        start_time: float | None = None,
    ) -> None:
        if speedup <= 0:
            raise ValueError(f"speedup must be > 0, got {speedup}")
        self.scenario = scenario
        self.speedup = float(speedup)
        self.start_time = time.time() if start_time is None else float(start_time)
        self.placed = scenario.robots()
        self.robot_codes = [p.robot.code for p in self.placed]
        self.specs = catalogue()
        self.signal_names = [s.name for s in self.specs]
        n = self.n_robots = len(self.placed)
        rng = np.random.default_rng([seed, 0])

        progs = [scenario.program(p.robot.program) for p in self.placed]
        self.cycle_s = np.array([p.cycle_time_s for p in progs])
        self.duty = np.array([p.duty for p in progs])
        self.payload_kg = np.array([p.payload_kg for p in progs])
        amp = np.array([p.amplitude_deg for p in progs])

        def jitter(base: np.ndarray) -> np.ndarray:
            return base * rng.uniform(0.9, 1.1, size=(n, N_JOINTS))

        load = 1.0 + self.payload_kg[:, None] / 50.0
        self._inertia = jitter(_INERTIA) * load
        self._gravity = jitter(_GRAVITY) * load
        self._coulomb = jitter(_COULOMB)
        self._viscous = jitter(_VISCOUS)
        self._kt = jitter(_KT)
        self._hold = jitter(_HOLD_A)
        self._rise = jitter(_RISE_C)
        self._vib = jitter(_VIB_MM_S)
        self._home = rng.uniform(-30.0, 30.0, size=(n, N_JOINTS))
        self._amp = amp * rng.choice([-1.0, 1.0], size=(n, N_JOINTS)) * rng.uniform(
            0.8, 1.0, size=(n, N_JOINTS))
        self._w2 = rng.uniform(0.0, 0.3, size=(n, N_JOINTS))  # second harmonic of the path
        self._ambient = scenario.ambient_c + rng.uniform(-2.0, 2.0, size=n)
        self._motion = rng.uniform(0.0, 1.0, size=n) * self.cycle_s  # phase of each robot

        install = np.array([
            (datetime.fromtimestamp(self.start_time, UTC).date() - p.robot.install_date).days
            for p in self.placed], dtype=float)
        self._hours0 = np.maximum(install, 0.0) * 16.0 * rng.uniform(0.7, 0.9, size=n)
        self._cycles0 = np.floor(self._hours0 * 3600.0 / self.cycle_s)
        # Servo-on scenario seconds since start: the usage meters (operating hours, cycle
        # count) run on it, so at any speed-up hours / cycles stays the cycle time.
        self._usage_s = self._motion.copy()
        self._irms = self._nominal_rms_current()

        heat0 = np.ones((n, N_JOINTS))
        self._temp = self._ambient[:, None] + self._rise * heat0
        self._cabinet = self._ambient + 12.0
        self._cycle_time = self.cycle_s.copy()
        self._cycle_index = np.floor(self._motion / self.cycle_s)
        self._low = np.array([sp.low for sp in self.specs])
        self._high = np.array([sp.high for sp in self.specs])

        nsig = len(self.specs)
        self._noise_sd = np.zeros(nsig)
        for key, sd in _JOINT_NOISE.items():
            self._noise_sd[[j * _NQ + _Q[key] for j in range(N_JOINTS)]] = sd
        for key, sd in _CTRL_NOISE.items():
            self._noise_sd[_C[key]] = sd
        # Magnitudes that noise must not push below zero.
        self._nonneg = np.array([j * _NQ + _Q[k] for j in range(N_JOINTS)
                                 for k in ("current", "vibration")])
        self._scale = 10.0 ** np.array([s.decimals for s in self.specs], dtype=float)
        self._noise_rng = np.random.default_rng([seed, 1])
        self._cycle_rng = np.random.default_rng([seed, 3])
        self._noise = self._noise_rng.standard_normal((n, nsig))
        robot_index = {c: i for i, c in enumerate(self.robot_codes)}
        self.faults = FaultSchedule(
            scenario.faults, robot_index=robot_index,
            signal_index={s: i for i, s in enumerate(self.signal_names)}, seed=seed)
        self._last_t: float | None = None
        self.publishing = np.ones(n, bool)
        self.effects = Effects.neutral(n)

    # -- kinematics ------------------------------------------------------------------------
    def _profile(self, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Commanded position (deg), velocity (deg/s), acceleration (deg/s^2), [..., n, 6].

        ``motion`` is each robot's running clock in seconds, shape [..., n]. While moving
        (the first ``duty`` of the cycle) the path is a sum of two raised cosines, so it
        starts and ends at rest; during the dwell the arm waits at home.
        """
        cyc, duty = self.cycle_s, self.duty
        u = np.mod(motion, cyc) / cyc
        moving = u < duty
        v = np.where(moving, u / duty, 0.0)[..., None]
        k = (1.0 / (duty * cyc))[:, None]  # dv/dt while moving
        w1, w2 = 1.0 - self._w2, self._w2
        two_pi = 2.0 * math.pi
        shape = w1 * 0.5 * (1 - np.cos(two_pi * v)) + w2 * 0.5 * (1 - np.cos(2 * two_pi * v))
        d1 = w1 * 0.5 * two_pi * np.sin(two_pi * v) + w2 * two_pi * np.sin(2 * two_pi * v)
        d2 = (w1 * 0.5 * two_pi**2 * np.cos(two_pi * v)
              + w2 * 2 * two_pi**2 * np.cos(2 * two_pi * v))
        m = moving[..., None]
        pos = self._home + self._amp * shape
        vel = np.where(m, self._amp * d1 * k, 0.0)
        acc = np.where(m, self._amp * d2 * k * k, 0.0)
        return pos, vel, acc

    def _torque(self, pos: np.ndarray, vel: np.ndarray, acc: np.ndarray,
                friction_mult: np.ndarray | float = 1.0) -> np.ndarray:
        friction = self._coulomb * np.tanh(vel / 2.0) + self._viscous * vel
        gravity = self._gravity * np.sin(np.radians(pos))  # 0 deg: link upright
        return np.asarray(self._inertia * np.radians(acc) + gravity + friction_mult * friction)

    def _nominal_rms_current(self) -> np.ndarray:
        """RMS current of each joint over one healthy cycle: the reference of 'nominal load'."""
        grid = np.linspace(0.0, 1.0, 240, endpoint=False)[:, None] * self.cycle_s[None, :]
        pos, vel, acc = self._profile(grid)
        cur = np.abs(self._torque(pos, vel, acc)) / self._kt + self._hold
        return np.asarray(np.sqrt(np.mean(cur**2, axis=0)))

    # -- stepping ----------------------------------------------------------------------------
    def scenario_time(self, t: float) -> float:
        return (t - self.start_time) * self.speedup

    def step(self, t: float) -> np.ndarray:
        """All signals at wall time ``t``: array [n_robots, n_signals], columns as
        ``signal_names``. Calls must come with non-decreasing ``t``."""
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        ds = dt * self.speedup
        s = self.scenario_time(t)
        n = self.n_robots
        fx = self.effects = self.faults.effects(s, n)
        halted = fx.stopped | fx.protective
        servo = ~halted
        self.publishing = ~fx.silent

        self._motion = self._motion + np.where(servo, dt, 0.0)
        pos, vel, acc = self._profile(self._motion)
        vel = np.where(servo[:, None], vel, 0.0)
        acc = np.where(servo[:, None], acc, 0.0)
        torque = self._torque(pos, vel, acc, fx.friction_mult)
        torque = np.where(servo[:, None], torque, 0.0) + fx.torque_spike * _RATED_NM
        current = (np.abs(torque) / self._kt + self._hold) * servo[:, None]
        current = current + fx.current_spike * self._irms * servo[:, None]

        heat = (current / self._irms) ** 2 * fx.heat_mult
        target = self._ambient[:, None] + self._rise * heat
        alpha = math.exp(-ds / self.scenario.thermal_tau_s)
        self._temp = target + (self._temp - target) * alpha
        cab_target = self._ambient + 4.0 + 8.0 * heat.mean(axis=1)
        self._cabinet = cab_target + (self._cabinet - cab_target) * alpha ** 0.2
        self._usage_s = self._usage_s + np.where(servo, ds, 0.0)

        speed = np.abs(vel) / _VMAX
        vib = self._vib * (0.5 + 0.5 * speed) * fx.vib_mult * np.where(servo, 1.0, 0.1)[:, None]
        vib = vib + fx.vib_spike

        actual = pos - vel * _SERVO_LAG_S
        reading = actual + fx.encoder_offset
        joints = np.empty((n, N_JOINTS, _NQ))
        joints[:, :, _Q["position"]] = reading
        joints[:, :, _Q["position_command"]] = pos
        joints[:, :, _Q["velocity"]] = vel
        joints[:, :, _Q["current"]] = current
        joints[:, :, _Q["torque"]] = torque
        joints[:, :, _Q["temperature"]] = self._temp
        joints[:, :, _Q["vibration"]] = vib
        joints[:, :, _Q["following_error"]] = pos - reading

        out = np.empty((n, len(self.specs)))
        out[:, : N_JOINTS * _NQ] = joints.reshape(n, N_JOINTS * _NQ)
        u = np.mod(self._motion, self.cycle_s) / self.cycle_s
        state = np.where(fx.protective, 3, np.where(fx.stopped, 0, np.where(u < self.duty, 1, 2)))
        # cycle_time is the duration of the last completed cycle: it changes once per cycle,
        # longer when friction slows the moves.
        friction_excess = (fx.friction_mult - 1.0).mean(axis=1)
        index = np.floor(self._motion / self.cycle_s)
        jitter = self._cycle_rng.standard_normal(n) * _CYCLE_JITTER_S
        done = index > self._cycle_index
        self._cycle_time = np.where(
            done, self.cycle_s * (1.0 + 0.05 * friction_excess) + jitter, self._cycle_time)
        self._cycle_index = index
        out[:, _C["cycle_count"]] = self._cycles0 + np.floor(self._usage_s / self.cycle_s)
        out[:, _C["program_state"]] = state
        out[:, _C["cycle_time"]] = self._cycle_time
        out[:, _C["operating_hours"]] = self._hours0 + self._usage_s / 3600.0
        out[:, _C["cabinet_temperature"]] = self._cabinet
        out[:, _C["servo_on"]] = servo
        out[:, _C["alarm_code"]] = fx.alarm
        out[:, _C["payload"]] = self.payload_kg

        a = math.exp(-dt / _NOISE_TAU_S)
        self._noise = a * self._noise + math.sqrt(1.0 - a * a) * self._noise_rng.standard_normal(
            self._noise.shape)
        out += self._noise * self._noise_sd
        out[:, self._nonneg] = np.maximum(out[:, self._nonneg], 0.0)
        # A sensor saturates at its instrument range (EURange) instead of reporting beyond it.
        np.clip(out, self._low, self._high, out=out)
        self.faults.freeze(out, fx)
        np.multiply(out, self._scale, out=out)
        np.rint(out, out=out)
        np.divide(out, self._scale, out=out)
        return out
