"""The console's tunable numbers (``api/policies/console.toml``), validated at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ticketing.policy import read_toml

__all__ = ["ConsolePolicy", "FleetView", "Charts", "load_console_policy", "DEFAULT_FILE"]

DEFAULT_FILE = Path(__file__).resolve().parent / "policies" / "console.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FleetView(_Strict):
    no_data_after_s: float = Field(gt=0)


class Charts(_Strict):
    max_points: int = Field(ge=10)
    max_points_limit: int = Field(ge=10)
    max_range_days: float = Field(gt=0)
    max_signals: int = Field(ge=1)


class ConsolePolicy(_Strict):
    fleet: FleetView
    charts: Charts


def load_console_policy(path: Path | None = None) -> ConsolePolicy:
    """The console policy file (the built-in one by default); ``PolicyError`` if invalid."""
    return read_toml(path or DEFAULT_FILE, ConsolePolicy, what="console policy")
