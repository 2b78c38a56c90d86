"""Sparkplug B mapping file: which edge node / device is which robot, which metric which signal.

A plant's Sparkplug namespace names things its own way (``Plant1/cell-4/robot-1``,
``Axis 1/Motor Current``); the mapping file (TOML, docs/sparkplug.md) says what they are
in robowatch terms, so a new plant is a new file, not new code. Validated by frozen pydantic
models that refuse unknown keys: a typo is an error at start-up, not silently unmapped data.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from collectors.errors import CollectorConfigError
from collectors.payload import ROBOT_CODE_RE, SIGNAL_NAME_RE

__all__ = ["SparkplugRobot", "SparkplugSignal", "SparkplugMapping", "load_sparkplug_mapping",
           "read_toml_model", "STRICT", "SignalMap"]

STRICT = ConfigDict(frozen=True, extra="forbid")


class SparkplugRobot(BaseModel):
    """One robot: a device of an edge node, or the edge node itself (``device`` absent)."""

    model_config = STRICT
    edge_node: str = Field(min_length=1)
    device: str | None = Field(default=None, min_length=1)
    robot: str = Field(pattern=ROBOT_CODE_RE.pattern)


class SignalMap(BaseModel):
    """The signal a source's value feeds, as ``value * scale + offset`` (every mapping kind)."""

    model_config = STRICT
    signal: str
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None

    @model_validator(mode="after")
    def _check_signal(self) -> SignalMap:
        if not SIGNAL_NAME_RE.match(self.signal):
            raise ValueError(f"signal {self.signal!r} is not a valid signal name")
        if (not (math.isfinite(self.scale) and math.isfinite(self.offset))
                or self.scale == 0):
            raise ValueError(f"{self.signal!r}: scale must be finite and non-zero, "
                             "offset finite")
        return self


class SparkplugSignal(SignalMap):
    """A metric name (as in the births) and the signal it feeds."""

    metric: str = Field(min_length=1)


class SparkplugMapping(BaseModel):
    model_config = STRICT
    # The Sparkplug group id we read (the subscription is spBv1.0/<group>/#).
    group: str = Field(min_length=1, pattern=r"^[^/#+]+$")
    robots: tuple[SparkplugRobot, ...] = Field(min_length=1)
    signals: tuple[SparkplugSignal, ...] = Field(min_length=1)
    # A node whose data we cannot read (no birth seen, a sequence gap) is asked to rebirth at
    # most once per this many seconds: an edge node answers in well under a second, and a
    # node that never answers must not be flooded with NCMDs.
    rebirth_every_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _unique(self) -> SparkplugMapping:
        where = [(r.edge_node, r.device) for r in self.robots]
        if len(set(where)) != len(where):
            raise ValueError("an edge node / device is mapped twice")
        metrics = [s.metric for s in self.signals]
        if len(set(metrics)) != len(metrics):
            raise ValueError("a metric is mapped twice")
        return self


M = TypeVar("M", bound=BaseModel)


def read_toml_model(model: type[M], path: Path) -> M:
    """``path`` validated as ``model``; any problem is one :class:`CollectorConfigError`."""
    try:
        return model.model_validate(tomllib.loads(Path(path).read_text("utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise CollectorConfigError(f"mapping {path}: {exc}") from exc


def load_sparkplug_mapping(path: Path) -> SparkplugMapping:
    return read_toml_model(SparkplugMapping, path)
