"""MQTT payload v1 (docs/mqtt-payload.md): parse and validate one message.

Validation never raises for a single bad value: finite values are kept, the rest are
reported, so a NaN in one signal does not cost the good points of the same message.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from collectors.errors import RejectedInput

__all__ = ["Limits", "Sample", "parse_topic", "parse_payload", "check_size", "json_number",
           "load_json", "SIGNAL_NAME_RE", "ROBOT_CODE_RE"]

SIGNAL_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")
# Every name of a message at once (joined by NUL): one regex call instead of one per signal.
_ALL_NAMES_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}(?:\x00[A-Za-z][A-Za-z0-9_.]{0,63})*")
# set(map(type, values)): the type check in C, ~2x cheaper than all(... is float).
_FLOATS_ONLY = {float}
_NUMBERS = {float, int}  # not bool: type(True) is bool
ROBOT_CODE_RE = _CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What a message may be. Defaults suit a robot controller publishing at up to 100 Hz."""

    max_bytes: int = 64 * 1024
    max_signals: int = 512
    max_future_s: float = 30.0
    max_past_s: float = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    robot: str
    ts: float
    seq: int | None
    values: dict[str, float | None]
    # (signal, reason) of values dropped from ``values``: kept for the quarantine record.
    dropped: list[tuple[str, str]] = field(default_factory=list)


def parse_topic(topic: str, prefix: str = "robowatch") -> tuple[str, str, str, str]:
    """``<prefix>/<customer>/<site>/<line>/<robot>/telemetry`` -> (customer, site, line, robot)."""
    parts = topic.split("/")
    if len(parts) != 6 or parts[0] != prefix or parts[5] != "telemetry":
        raise RejectedInput(
            "bad_topic",
            f"topic {topic!r} is not {prefix}/<customer>/<site>/<line>/<robot>/telemetry",
        )
    for p in parts[1:5]:
        if not _CODE_RE.match(p):
            raise RejectedInput("bad_topic", f"topic segment {p!r} is not a valid code")
    return parts[1], parts[2], parts[3], parts[4]


def json_number(val: object) -> tuple[float | None, str | None]:
    """A JSON value as a reading: (value, None); (None, None) for null (bad quality reported
    by the source); (None, reason) when it is no reading at all."""
    if val is None:
        return None, None
    if isinstance(val, bool):
        return float(val), None
    if not isinstance(val, int | float):
        return None, "not_a_number"
    try:
        number = float(val)
    except OverflowError:  # an integer beyond float range (json reads any size)
        return None, "non_finite"
    if not math.isfinite(number):
        return None, "non_finite"
    return number, None


def _finite_numbers(signals: dict[str, object]) -> dict[str, float | None] | None:
    """The values as floats when every one is a finite JSON number, else None (the caller
    then checks them one by one). Integers count: the simulator's and many controllers'
    messages carry some (counters, codes), and before they sent every such message down the
    per-value path (a third of the collector's time in the drain profile)."""
    types = set(map(type, signals.values()))
    if types == _FLOATS_ONLY:
        out = cast(dict[str, float | None], signals)
    elif types <= _NUMBERS:
        try:
            out = {k: float(v) for k, v in signals.items()}  # type: ignore[arg-type]
        except OverflowError:
            return None
    else:
        return None
    # A finite sum means no NaN or inf; an overflowing sum only sends a good message down the
    # slow path.
    return out if math.isfinite(sum(out.values())) else None  # type: ignore[arg-type]


def check_size(raw: bytes, limits: Limits) -> None:
    if len(raw) > limits.max_bytes:
        raise RejectedInput("oversized", f"{len(raw)} bytes > limit {limits.max_bytes}")


def load_json(raw: bytes) -> Any:
    """The JSON document in ``raw``; raises ``RejectedInput("malformed_json")``.

    orjson parses a 50-signal message ~8x faster than ``json.loads`` (json.loads was the
    largest single cost of the MQTT collector's event loop, docs/performance.md). It refuses
    what the standard library accepts (NaN and Infinity literals, integers beyond 64 bits):
    such a message is parsed again by ``json``, so its good values are kept and only the bad
    ones are refused, one by one, as before.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RejectedInput("malformed_json", str(exc)) from None


def parse_payload(raw: bytes, *, topic_robot: str | None, now: float, limits: Limits) -> Sample:
    check_size(raw, limits)
    doc = load_json(raw)
    if not isinstance(doc, dict):
        raise RejectedInput("schema", f"payload is a JSON {type(doc).__name__}, not an object")
    v = doc.get("v")
    if v != 1:
        raise RejectedInput("unsupported_version", f"'v' is {v!r}; this collector reads version 1")
    robot = doc.get("robot")
    if not isinstance(robot, str) or not _CODE_RE.match(robot):
        raise RejectedInput("schema", f"'robot' must be a robot code, got {robot!r}")
    if topic_robot is not None and robot != topic_robot:
        raise RejectedInput(
            "topic_mismatch", f"payload robot {robot!r} != topic robot {topic_robot!r}"
        )
    ts = doc.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise RejectedInput("schema", f"'ts' must be Unix seconds, got {ts!r}")
    if ts > now + limits.max_future_s:
        raise RejectedInput("clock_skew", f"ts {ts:.3f} is {ts - now:.1f} s in the future")
    if ts < now - limits.max_past_s:
        raise RejectedInput("clock_skew", f"ts {ts:.3f} is {now - ts:.0f} s in the past")
    seq = doc.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
        raise RejectedInput("schema", f"'seq' must be a non-negative integer, got {seq!r}")
    signals = doc.get("signals")
    if not isinstance(signals, dict) or not signals:
        raise RejectedInput("schema", "'signals' must be a non-empty object")
    if len(signals) > limits.max_signals:
        raise RejectedInput("oversized", f"{len(signals)} signals > limit {limits.max_signals}")
    joined = "\x00".join(signals)
    if (_ALL_NAMES_RE.fullmatch(joined) is not None
            and joined.count("\x00") == len(signals) - 1):
        fast = _finite_numbers(signals)
        if fast is not None:  # the common message: valid names, finite numbers
            return Sample(robot=robot, ts=float(ts), seq=seq, values=fast)
    values: dict[str, float | None] = {}
    dropped: list[tuple[str, str]] = []
    for name, val in signals.items():
        if not SIGNAL_NAME_RE.match(name):
            dropped.append((name, "bad_signal_name"))
            continue
        number, reason = json_number(val)
        if reason is None:
            values[name] = number
        else:
            dropped.append((name, reason))
    if not values:
        reasons = sorted({r for _, r in dropped})
        raise RejectedInput(reasons[0] if len(reasons) == 1 else "schema",
                            f"no usable value: {dropped[:5]}")
    return Sample(robot=robot, ts=float(ts), seq=seq, values=values, dropped=dropped)
