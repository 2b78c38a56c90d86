"""What one OPC UA value becomes in telemetry: a reading with its quality, or a refusal.

Real controllers serve every built-in type where we expect a number: Boolean flags, integers
of every width, Float and Double, strings, arrays, null, and status codes that say the value
cannot be trusted. Each case is decided here, in one pure function, so the collector's loop
only counts and forwards:

- status Bad: stored as a bad-quality point with no value, whatever the value field holds
  (OPC 10000-4 7.39: a Bad value is not to be used);
- status Uncertain: stored with its value and uncertain quality;
- Boolean: 1.0 / 0.0; integers: as float, and an integer beyond 2**53 (an Int64/UInt64 counter)
  is stored with uncertain quality because a float cannot hold it exactly;
- NaN and infinities, null with a Good status, arrays where a scalar is expected, and anything
  that is not a number (String, DateTime, ByteString, structures): refused with a reason, kept
  in the quarantine by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from storage.telemetry import QUALITY_BAD, QUALITY_GOOD, QUALITY_UNCERTAIN

__all__ = ["Reading", "Refusal", "convert", "EXACT_INT_LIMIT"]

# Integers up to 2**53 convert to float64 exactly; beyond, the nearest float is stored.
EXACT_INT_LIMIT = 2**53


@dataclass(frozen=True, slots=True)
class Reading:
    value: float | None
    quality: int
    inexact: bool = False  # an integer too large for a float: the caller warns once per node


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # quarantine reason code, the same vocabulary as the MQTT collectors
    detail: str


def _status_quality(status: Any) -> int:
    if status is None or status.is_good():
        return QUALITY_GOOD
    return QUALITY_UNCERTAIN if status.is_uncertain() else QUALITY_BAD


def convert(value: Any, status: Any) -> Reading | Refusal:
    """``value`` (a Variant's Python value) with ``status`` (a ``ua.StatusCode`` or None)."""
    quality = _status_quality(status)
    if quality == QUALITY_BAD:
        return Reading(None, QUALITY_BAD)
    if value is None:
        return Refusal("null_value", "the server sent no value with a good status")
    if isinstance(value, bool):
        return Reading(1.0 if value else 0.0, quality)
    if isinstance(value, int):
        if abs(value) > EXACT_INT_LIMIT:
            return Reading(float(value), QUALITY_UNCERTAIN, inexact=True)
        return Reading(float(value), quality)
    if isinstance(value, float):
        if not math.isfinite(value):
            return Refusal("non_finite", f"value {value!r} is not finite")
        return Reading(value, quality)
    if isinstance(value, list | tuple) or hasattr(value, "shape"):
        n = len(value) if hasattr(value, "__len__") else "?"
        return Refusal("not_a_scalar", f"an array of {n} values where one number was expected")
    return Refusal("not_a_number",
                   f"a {type(value).__name__} ({_short(value)}) where a number was expected")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
