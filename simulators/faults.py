"""Scheduled faults turned into effects on the fleet model, one scenario instant at a time.

Each fault kind has a documented signature (``docs/signals.md``, "Fault signatures"). The model
asks :meth:`FaultSchedule.effects` what acts at scenario second ``s``; it gets arrays over
robots x joints (multipliers, offsets, spikes) and per-robot flags, and applies them in its own
vectorised physics. The loop here is over *faults*, a handful, never over signals.

Progressive faults grow with ``progress = (s - onset) / (failure - onset)`` clipped to [0, 1]
and end in a protective stop with the fault's alarm code at ``failure_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simulators.scenario import EVENT_KINDS, Fault
from simulators.signals import ALARM_CODES, N_JOINTS

__all__ = ["Effects", "FaultSchedule", "progress"]


def progress(fault: Fault, s: float) -> float:
    """Degradation in [0, 1] at scenario second ``s`` (1 at and after the failure point)."""
    if fault.failure_s is None or s < fault.onset_s:
        return 0.0
    return min(1.0, (s - fault.onset_s) / (fault.failure_s - fault.onset_s))


def _active(fault: Fault, s: float) -> bool:
    end = fault.end_s
    return s >= fault.onset_s and (end is None or s < end)


@dataclass(slots=True)
class Effects:
    """What the active faults do at one instant; neutral values mean a healthy fleet."""

    heat_mult: np.ndarray        # [n, 6] multiplies motor heating (losses / cooling)
    friction_mult: np.ndarray    # [n, 6] multiplies joint friction
    vib_mult: np.ndarray         # [n, 6] multiplies the gearbox vibration baseline
    vib_spike: np.ndarray        # [n, 6] mm/s added (bearing impacts)
    encoder_offset: np.ndarray   # [n, 6] deg added to the position reading
    current_spike: np.ndarray    # [n, 6] fraction of nominal RMS current added, drives on
    torque_spike: np.ndarray     # [n, 6] fraction of rated torque added (collision)
    stopped: np.ndarray          # [n] drives off, program stopped
    protective: np.ndarray       # [n] drives off by a protective stop
    alarm: np.ndarray            # [n] active alarm code
    silent: np.ndarray           # [n] robot does not publish (communication loss)
    stuck: list[tuple[int, int, int]] = field(default_factory=list)  # (fault, robot, column)

    @classmethod
    def neutral(cls, n: int) -> Effects:
        ones, zeros = np.ones((n, N_JOINTS)), np.zeros((n, N_JOINTS))
        return cls(
            heat_mult=ones.copy(), friction_mult=ones.copy(), vib_mult=ones.copy(),
            vib_spike=zeros.copy(), encoder_offset=zeros.copy(), current_spike=zeros.copy(),
            torque_spike=zeros.copy(), stopped=np.zeros(n, bool), protective=np.zeros(n, bool),
            alarm=np.zeros(n, np.int64), silent=np.zeros(n, bool),
        )


class FaultSchedule:
    """The faults of one fleet, resolved to robot rows and signal columns."""

    def __init__(
        self, faults: Sequence[Fault], *, robot_index: dict[str, int],
        signal_index: dict[str, int], seed: int,
    ) -> None:
        self.faults = tuple(faults)
        self._rows = [robot_index[f.robot] for f in self.faults]
        self._cols: list[int | None] = []
        for f in self.faults:
            if f.kind == "sensor_stuck":
                if f.signal not in signal_index:
                    raise ValueError(f"sensor_stuck on unknown signal {f.signal!r}")
                self._cols.append(signal_index[f.signal])
            else:
                self._cols.append(None)
        self._rng = np.random.default_rng([seed, 2])
        self._fired: set[int] = set()  # collisions whose torque spike was already emitted
        self._frozen: dict[int, float] = {}

    def effects(self, s: float, n: int) -> Effects:
        e = Effects.neutral(n)
        for i, f in enumerate(self.faults):
            if not _active(f, s):
                continue
            r, j, sev = self._rows[i], f.joint, f.severity
            p = progress(f, s)
            kind = f.kind
            if kind == "motor_overheating" and j is not None:
                # Failing cooling / shorted turns: losses jump at onset, then keep growing.
                e.heat_mult[r, j] *= 1.0 + sev * (1.0 + 2.0 * p)
            elif kind == "gearbox_wear" and j is not None:
                e.vib_mult[r, j] *= 1.0 + 6.0 * sev * p * p
                e.friction_mult[r, j] *= 1.0 + 0.3 * sev * p
            elif kind == "bearing_damage" and j is not None:
                e.vib_mult[r, j] *= 1.0 + 2.0 * sev * p
                hits = self._rng.random() < 0.1 + 0.6 * p
                e.vib_spike[r, j] += hits * sev * (2.0 + 8.0 * p) * self._rng.random()
                e.heat_mult[r, j] *= 1.0 + 0.4 * sev * p
            elif kind == "lubrication_loss" and j is not None:
                e.friction_mult[r, j] *= 1.0 + 4.0 * sev * p
                e.heat_mult[r, j] *= 1.0 + 0.5 * sev * p
            elif kind == "encoder_drift" and j is not None:
                e.encoder_offset[r, j] += 2.0 * sev * p
            elif kind == "brake_fault" and j is not None:
                # A dragging brake: the motor works against it whenever the drive is on, in
                # both directions of motion, hence current and heat.
                e.friction_mult[r, j] *= 1.0 + 3.0 * sev * p
                e.current_spike[r, j] += 0.4 * sev * p
                e.heat_mult[r, j] *= 1.0 + 0.6 * sev * p
            elif kind == "cable_wear" and j is not None:
                if self._rng.random() < 0.03 + 0.3 * p:
                    e.current_spike[r, j] += sev * (0.5 + self._rng.random())
            elif kind == "collision" and j is not None:
                # The impact shows on the first sample with the drives still on (torque and
                # current spike); the protective stop the controller answers with follows.
                if i not in self._fired:
                    self._fired.add(i)
                    e.torque_spike[r, j] += 2.5 * sev
                else:
                    e.protective[r] = True
                e.alarm[r] = ALARM_CODES["collision"]
            elif kind == "sensor_stuck":
                col = self._cols[i]
                if col is not None:
                    e.stuck.append((i, r, col))
            elif kind == "comm_loss":
                e.silent[r] = True
            elif kind == "stoppage":
                e.stopped[r] = True
                e.alarm[r] = ALARM_CODES["stoppage"]
            if kind not in EVENT_KINDS and p >= 1.0:
                e.protective[r] = True
                e.alarm[r] = ALARM_CODES[kind]
        return e

    def freeze(self, values: np.ndarray, effects: Effects) -> None:
        """Hold stuck sensors at the value they read when the fault began (in place)."""
        for i, r, col in effects.stuck:
            held = self._frozen.setdefault(i, float(values[r, col]))
            values[r, col] = held
