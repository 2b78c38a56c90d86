"""Configuration of the streaming engine, read from a policy TOML (``policies/engine.toml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detection.policies import load_policy_file

__all__ = ["EngineConfig", "LimitsConfig", "CycleConfig", "ContextConfig", "RulConfig",
           "RulFailure", "EnginePolicy", "load_engine_policy", "quantity_of", "component_of"]

IMPACT_CLASSES = ("stoppage", "core-module", "non-core", "minor")


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    poll_interval_s: float = Field(1.0, gt=0)
    read_lag_s: float = Field(1.0, ge=0)
    max_lateness_s: float = Field(5.0, ge=0)
    reread_s: float = Field(1.0, ge=0)
    late_sweep_s: float = Field(5.0, gt=0)
    baseline_s: float = Field(15.0, gt=0)
    baseline_cycles: float = Field(2.0, ge=0)
    min_baseline_points: int = Field(20, ge=3)
    breach_s: float = Field(2.0, ge=0)
    spike_count: int = Field(0, ge=0)
    spike_window_s: float = Field(60.0, gt=0)
    recovery_s: float = Field(10.0, ge=0)
    recovery_score: float = Field(0.8, gt=0, le=1)
    stale_s: float = Field(15.0, gt=0)
    flat_s: float = Field(0.0, ge=0)
    evidence_points: int = Field(60, ge=1)
    line_alert_limit: int = Field(10, ge=1)
    line_alert_window_s: float = Field(600.0, gt=0)
    reconnect_max_s: float = Field(5.0, gt=0)


class LimitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    k: float = Field(6.0, gt=0)
    rel_min_scale: float = Field(0.01, ge=0)
    min_scale: float = Field(0.01, ge=0)
    monitored: tuple[str, ...] = ()
    flatline: tuple[str, ...] = ()
    high_only: tuple[str, ...] = ()


class CycleConfig(BaseModel):
    """Signals that follow the program's motion get one baseline per phase of the cycle."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    quantities: tuple[str, ...] = ()
    n_phases: int = Field(12, ge=1)
    baseline_s: float = Field(120.0, gt=0)
    min_points: int = Field(10, ge=3)
    quantile: float = Field(0.01, ge=0, lt=0.5)
    margin: float = Field(4.0, gt=0)
    program_change_rel: float = Field(0.1, gt=0)


class ContextConfig(BaseModel):
    """Controller signals that say what the robot is doing (names from docs/signals.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    program_state: str = "program_state"
    running_states: tuple[int, ...] = (1, 2)
    # program_state from -> to that marks the start of a cycle (the arm leaves its wait)
    cycle_start: tuple[int, int] = (2, 1)
    cycle_count: str = "cycle_count"
    cycle_time: str = "cycle_time"
    payload: str = "payload"
    alarm_code: str = "alarm_code"
    alarm_kinds: dict[str, str] = Field(default_factory=dict)


class RulFailure(BaseModel):
    """How one anomaly kind's component degrades to failure.

    The indicator is the mean magnitude of the component's ``quantity`` signals, either over
    their learnt healthy baseline (``scale = "ratio"``: 1 = as new; for wear whose symptom
    multiplies the healthy level, e.g. vibration) or in the signal's own unit
    (``scale = "absolute"``: for failures that happen at a physical value whatever the
    healthy level, e.g. a winding temperature or a position offset). Components of one kind
    fail anywhere between ``low`` and ``high`` (units differ); ``level`` is the expected value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    quantity: str
    scale: Literal["ratio", "absolute"] = "ratio"
    model: Literal["linear", "quadratic", "exponential"] = "linear"
    level: float = Field(gt=0)
    low: float = Field(gt=0)
    high: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RulFailure:
        if not self.low <= self.level <= self.high:
            raise ValueError(f"need low <= level <= high, got {self.low}, {self.level}, "
                             f"{self.high}")
        if self.scale == "ratio" and self.low <= 1.0:
            raise ValueError(f"a ratio failure level must exceed 1 (as new), got {self.low}")
        return self


class RulConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kinds: tuple[str, ...] = ()
    # Kinds without an entry in ``failure`` fall back to the largest score and this level.
    failure_score: float = Field(4.0, gt=0)
    failure: dict[str, RulFailure] = Field(default_factory=dict)
    every_s: float = Field(30.0, gt=0)
    window_s: float = Field(600.0, gt=0)
    min_points: int = Field(10, ge=3)
    n_bootstrap: int = Field(50, ge=1)
    confidence: float = Field(0.8, gt=0, lt=1)


class EnginePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    engine: EngineConfig = Field(default_factory=lambda: EngineConfig.model_validate({}))
    limits: LimitsConfig = Field(default_factory=lambda: LimitsConfig.model_validate({}))
    cycle: CycleConfig = Field(default_factory=lambda: CycleConfig.model_validate({}))
    context: ContextConfig = Field(default_factory=lambda: ContextConfig.model_validate({}))
    rul: RulConfig = Field(default_factory=lambda: RulConfig.model_validate({}))
    impact: dict[str, str] = Field(default_factory=dict)
    # Upper limits from the robot model, by quantity; valid from the first sample.
    static_high: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _impacts_known(self) -> EnginePolicy:
        bad = {k: v for k, v in self.impact.items() if v not in IMPACT_CLASSES}
        if bad:
            raise ValueError(f"unknown impact classes {bad}; expected one of {IMPACT_CLASSES}")
        if "default" not in self.impact:
            raise ValueError("[impact] needs a 'default' entry")
        both = set(self.limits.monitored) & set(self.cycle.quantities)
        if both:
            raise ValueError(
                f"{sorted(both)} are in both [limits] monitored and [cycle] quantities")
        return self

    def impact_of(self, quantity: str) -> str:
        return self.impact.get(quantity, self.impact["default"])


def quantity_of(signal: str) -> str:
    """``'J3.temperature'`` -> ``'temperature'``; ``'cabinet_temperature'`` unchanged."""
    return signal.split(".", 1)[1] if "." in signal else signal


def component_of(signal: str) -> str:
    """``'J3.temperature'`` -> ``'J3'``; controller signals -> ``'controller'``."""
    return signal.split(".", 1)[0] if "." in signal else "controller"


def load_engine_policy(path: Path | None = None) -> EnginePolicy:
    """Load ``path`` or the packaged default; a bad file raises ``InvalidInputError``."""
    return load_policy_file(EnginePolicy, "engine.toml", path)
