"""JSON from gateways (Node-RED flows, vendor edge boxes), read through a mapping file.

Such a gateway publishes its own JSON on its own topics. The mapping file (TOML,
docs/json-gateways.md) names the topic filter and where in the payload (or topic) the robot,
the time and the values are; a new gateway is a new file, not new code.

A path is dotted keys, with integer segments indexing lists: ``data.axes.0.current``.
A mapped value missing from a message is simply not sent this time (gateways publish only
what changed); a value that is there but is no finite number is quarantined with its reason,
and the other values of the record are stored. A payload can carry several records
(``records`` names the list); each is read on its own, so one bad record costs only itself.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from collectors.decoding import Decoded, dropped_values
from collectors.errors import RejectedInput
from collectors.mapping import STRICT, SignalMap, read_toml_model
from collectors.payload import (
    ROBOT_CODE_RE,
    SIGNAL_NAME_RE,
    Limits,
    Sample,
    check_size,
    json_number,
    load_json,
)

__all__ = ["GatewayMapping", "GatewayDecoder", "load_gateway_mapping"]

_MISSING = object()


class RobotFrom(BaseModel):
    """Where the robot is: a topic segment (0-based) or a payload path; ``codes`` translates
    the gateway's names into robot codes (names it does not list are taken as codes)."""

    model_config = STRICT
    topic_segment: int | None = Field(default=None, ge=0)
    path: str | None = Field(default=None, min_length=1)
    codes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one(self) -> RobotFrom:
        if (self.topic_segment is None) == (self.path is None):
            raise ValueError("robot: give exactly one of topic_segment and path")
        for code in self.codes.values():
            if not ROBOT_CODE_RE.match(code):
                raise ValueError(f"robot code {code!r} is not a valid code")
        return self


class TimeFrom(BaseModel):
    """Where the time is; without ``path`` the time a message is received is used."""

    model_config = STRICT
    path: str | None = Field(default=None, min_length=1)
    format: Literal["unix_s", "unix_ms", "unix_us", "iso8601"] = "unix_s"


class ValueFrom(SignalMap):
    path: str = Field(min_length=1)


class ValuesObject(BaseModel):
    """An object whose every key is a signal (``prefix`` + key) and value its reading."""

    model_config = STRICT
    path: str = Field(min_length=1)
    prefix: str = ""


class GatewayMapping(BaseModel):
    model_config = STRICT
    topic: str = Field(min_length=1)
    records: str | None = Field(default=None, min_length=1)
    robot: RobotFrom
    time: TimeFrom = Field(default_factory=TimeFrom)
    values: tuple[ValueFrom, ...] = ()
    values_object: ValuesObject | None = None

    @model_validator(mode="after")
    def _some_values(self) -> GatewayMapping:
        if not self.values and self.values_object is None:
            raise ValueError("map some values: [[values]] or [values_object]")
        if self.robot.topic_segment is not None:
            n = len(self.topic.split("/"))
            if "#" not in self.topic and self.robot.topic_segment >= n:
                raise ValueError(f"robot.topic_segment {self.robot.topic_segment} is past "
                                 f"the {n} segments of {self.topic!r}")
        return self


def load_gateway_mapping(path: Path) -> GatewayMapping:
    return read_toml_model(GatewayMapping, path)


def _get(doc: object, path: str) -> object:
    for key in path.split("."):
        if isinstance(doc, dict):
            doc = doc.get(key, _MISSING)
        elif isinstance(doc, list) and key.isdigit() and int(key) < len(doc):
            doc = doc[int(key)]
        else:
            return _MISSING
        if doc is _MISSING:
            return _MISSING
    return doc


_TIME_DIV = {"unix_s": 1.0, "unix_ms": 1e3, "unix_us": 1e6}


class GatewayDecoder:
    """Stateless: several collector processes may share its subscription."""

    name = "gateway"
    shareable = True

    def __init__(self, *, mapping: GatewayMapping, limits: Limits | None = None) -> None:
        self._map = mapping
        self._limits = limits or Limits()

    @property
    def topic(self) -> str:
        return self._map.topic

    def decode(self, topic: str, raw: bytes, *, now: float) -> Decoded:
        out = Decoded()
        try:
            check_size(raw, self._limits)
            doc = load_json(raw)
        except RejectedInput as exc:
            out.rejects.append(exc)
            return out
        records: object = doc
        if self._map.records is not None:
            records = _get(doc, self._map.records)
            if not isinstance(records, list):
                out.rejects.append(RejectedInput(
                    "schema", f"{self._map.records!r} is not a list of records"))
                return out
        for i, rec in enumerate(records if isinstance(records, list) else [records]):
            where = f"record {i}: " if self._map.records is not None else ""
            try:
                self._record(topic, rec, now, out)
            except RejectedInput as exc:
                out.rejects.append(RejectedInput(exc.reason, where + exc.detail))
        return out

    def _record(self, topic: str, rec: object, now: float, out: Decoded) -> None:
        m = self._map
        robot = self._robot(topic, rec)
        ts = self._time(rec, now)
        values: dict[str, float | None] = {}
        dropped: list[tuple[str, str]] = []

        def take(signal: str, val: object, scale: float = 1.0, offset: float = 0.0) -> None:
            number, reason = json_number(val)
            if reason is not None:
                dropped.append((signal, reason))
            else:
                values[signal] = None if number is None else number * scale + offset

        for v in m.values:
            val = _get(rec, v.path)
            if val is not _MISSING:
                take(v.signal, val, v.scale, v.offset)
        if m.values_object is not None:
            obj = _get(rec, m.values_object.path)
            if isinstance(obj, dict):
                if len(obj) > self._limits.max_signals:
                    raise RejectedInput("oversized", f"{len(obj)} values > limit "
                                                     f"{self._limits.max_signals}")
                for key, val in obj.items():
                    name = m.values_object.prefix + str(key)
                    if SIGNAL_NAME_RE.match(name):
                        take(name, val)
                    else:
                        dropped.append((name, "bad_signal_name"))
            elif obj is not _MISSING:
                dropped.append((m.values_object.path, "schema"))
        if dropped:
            out.rejects.append(dropped_values(dropped, context=f"robot {robot}: "))
        if values:
            out.samples.append(Sample(robot=robot, ts=ts, seq=None, values=values))
        elif not dropped:
            raise RejectedInput("schema", f"robot {robot}: none of the mapped values is there")

    def _robot(self, topic: str, rec: object) -> str:
        src = self._map.robot
        if src.topic_segment is not None:
            parts = topic.split("/")
            name: object = (parts[src.topic_segment] if src.topic_segment < len(parts)
                            else _MISSING)
        else:
            assert src.path is not None
            name = _get(rec, src.path)
        if not isinstance(name, str | int) or isinstance(name, bool):
            raise RejectedInput("schema", f"no robot at {src.path or src.topic_segment!r}")
        code = src.codes.get(str(name), str(name))
        if not ROBOT_CODE_RE.match(code):
            raise RejectedInput("schema", f"robot {code!r} is not a valid robot code")
        return code

    def _time(self, rec: object, now: float) -> float:
        src = self._map.time
        if src.path is None:
            return now
        val = _get(rec, src.path)
        ts: float | None = None
        if src.format == "iso8601":
            if isinstance(val, str):
                try:
                    when = datetime.fromisoformat(val)
                    ts = when.timestamp() if when.tzinfo is not None else None
                except ValueError:
                    ts = None
        elif isinstance(val, int | float) and not isinstance(val, bool):
            ts = float(val) / _TIME_DIV[src.format]
        if ts is None or not math.isfinite(ts):
            raise RejectedInput("schema", f"{src.path!r} is not a {src.format} time "
                                          "(ISO 8601 needs a UTC offset)")
        if ts > now + self._limits.max_future_s:
            raise RejectedInput("clock_skew", f"ts {ts:.3f} is {ts - now:.1f} s in the future")
        if ts < now - self._limits.max_past_s:
            raise RejectedInput("clock_skew", f"ts {ts:.3f} is {now - ts:.0f} s in the past")
        return ts
