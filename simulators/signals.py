"""The signal catalogue of a simulated arm: names, units, normal ranges, OPC UA names.

One place for what ``docs/signals.md`` documents: the model fills columns in this order, the
MQTT payload uses ``name``, the OPC UA server uses ``browse_path`` and the unit fields.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SignalSpec", "JOINT_QUANTITIES", "CONTROLLER_QUANTITIES", "N_JOINTS", "catalogue",
           "camel", "unece_unit_id", "PROGRAM_STATES", "ALARM_CODES"]

N_JOINTS = 6
UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"


@dataclass(frozen=True, slots=True)
class _Quantity:
    key: str
    unit: str          # display symbol
    unece: str         # UN/CEFACT common code, for OPC UA EUInformation
    low: float         # EURange: the instrument range, not the normal band
    high: float
    decimals: int      # sensor resolution: values are rounded to this many decimals
    description: str


# Joint quantities; their column order inside one joint.
JOINT_QUANTITIES: tuple[_Quantity, ...] = (
    _Quantity("position", "deg", "DD", -360.0, 360.0, 3, "actual joint position (encoder)"),
    _Quantity("position_command", "deg", "DD", -360.0, 360.0, 3, "commanded joint position"),
    _Quantity("velocity", "deg/s", "E96", -400.0, 400.0, 2, "actual joint velocity"),
    _Quantity("current", "A", "AMP", 0.0, 60.0, 3, "motor current, RMS"),
    _Quantity("torque", "N.m", "NU", -3000.0, 3000.0, 1, "joint torque (output side)"),
    _Quantity("temperature", "degC", "CEL", -20.0, 180.0, 2, "motor winding temperature"),
    _Quantity("vibration", "mm/s", "C16", 0.0, 50.0, 3, "gearbox vibration velocity, RMS"),
    _Quantity("following_error", "deg", "DD", -10.0, 10.0, 4, "commanded minus actual position"),
)

CONTROLLER_QUANTITIES: tuple[_Quantity, ...] = (
    _Quantity("cycle_count", "1", "C62", 0.0, 1e9, 0, "completed program cycles"),
    _Quantity("program_state", "1", "C62", 0.0, 3.0, 0,
              "0 stopped, 1 moving, 2 waiting (dwell), 3 protective stop"),
    _Quantity("cycle_time", "s", "SEC", 0.0, 600.0, 3, "duration of the last program cycle"),
    _Quantity("operating_hours", "h", "HUR", 0.0, 1e6, 4, "servo-on hours since installation"),
    _Quantity("cabinet_temperature", "degC", "CEL", -20.0, 90.0, 2,
              "controller cabinet temperature"),
    _Quantity("servo_on", "1", "C62", 0.0, 1.0, 0, "1 when the drives are powered"),
    _Quantity("alarm_code", "1", "C62", 0.0, 99999.0, 0, "active alarm, 0 when none"),
    _Quantity("payload", "kg", "KGM", 0.0, 500.0, 2, "payload of the running program"),
)

PROGRAM_STATES = {0: "stopped", 1: "moving", 2: "waiting", 3: "protective stop"}

# Alarm codes raised by faults (documented in docs/signals.md).
ALARM_CODES = {
    "motor_overheating": 1021,
    "lubrication_loss": 1201,
    "gearbox_wear": 1202,
    "bearing_damage": 1203,
    "brake_fault": 1102,
    "encoder_drift": 1301,
    "cable_wear": 1401,
    "collision": 2001,
    "stoppage": 9001,
}


@dataclass(frozen=True, slots=True)
class SignalSpec:
    name: str                      # payload / database name, e.g. "J3.temperature"
    browse_path: tuple[str, ...]   # under the robot object, e.g. ("Joints", "J3", "Temperature")
    unit: str
    unece: str
    low: float
    high: float
    decimals: int
    description: str
    joint: int | None              # 0-based joint index, None for a controller signal


def camel(key: str) -> str:
    """``following_error`` -> ``FollowingError`` (the collector maps it back)."""
    return "".join(part.capitalize() for part in key.split("_"))


def unece_unit_id(code: str) -> int:
    """The OPC UA UnitId of a UN/CEFACT common code (OPC 10000-8, EUInformation)."""
    uid = 0
    for ch in code.upper():
        uid = (uid << 8) | ord(ch)
    return uid


def catalogue() -> list[SignalSpec]:
    """Every signal, in model column order: joints 1..6 (quantities in order), then controller."""
    out = [
        SignalSpec(f"J{j + 1}.{q.key}", ("Joints", f"J{j + 1}", camel(q.key)), q.unit, q.unece,
                   q.low, q.high, q.decimals, q.description, j)
        for j in range(N_JOINTS) for q in JOINT_QUANTITIES
    ]
    out += [
        SignalSpec(q.key, ("Controller", camel(q.key)), q.unit, q.unece, q.low, q.high,
                   q.decimals, q.description, None)
        for q in CONTROLLER_QUANTITIES
    ]
    return out
