"""``robowatch demo``: the whole stack with simulated robots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from robowatch.cli.context import settings_of
from robowatch.demo import DemoOptions, run_demo


def demo(
    ctx: typer.Context,
    scenario: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="Scenario TOML (default: the packaged demo).")] = None,
    rate: Annotated[float, typer.Option(min=0.1, help="Samples per second per robot.")] = 2.0,
    speedup: Annotated[float, typer.Option(min=0.01, help="Scenario time per wall second.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 0,
    duration: Annotated[float | None, typer.Option(
        min=1, help="Stop after this many seconds.")] = None,
) -> None:
    """Start database, broker, simulated robots, collectors, detection, ticketing and the API."""
    run_demo(settings_of(ctx), DemoOptions(scenario=scenario, rate_hz=rate, speedup=speedup,
                                           seed=seed, duration_s=duration))
