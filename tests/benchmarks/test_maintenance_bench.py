"""The three-planner benchmark on a small fleet: its JSON shape, and the degradations and
their measurable instants it simulates (the figures are measured by the command, not here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.maintenance import PLANNERS, Degradation, run_maintenance


def test_indicator_follows_the_trend_model_to_the_failure_level() -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    d = Degradation(id=0, robot="R", component="J1", kind="vibration_high", model="quadratic",
                    level=9.0, onset=t0, failure=t0 + timedelta(days=10), measurable=t0)
    assert d.indicator(t0) == 1.0
    assert d.indicator(t0 + timedelta(days=5)) == pytest.approx(1 + 8 * 0.25)
    assert d.indicator(t0 + timedelta(days=20)) == 9.0


@pytest.mark.slow
def test_a_small_run_reports_every_planner() -> None:
    lines: list[str] = []
    out = run_maintenance(robots=10, days=30, per_robot_year=6.0, progress=lines.append)
    assert set(out["planners"]) == set(PLANNERS) and out["degradations"] > 0
    assert lines and lines[-1].startswith("day  30/30")
    for p in out["planners"].values():
        assert 0 <= p["inspected_before_failure"] <= 1 and p["inspections_per_robot_year"] > 0
    # Condition only adds reasons to inspect: it never catches fewer than the calendar alone.
    full, cal = out["planners"]["full"], out["planners"]["calendar"]
    assert full["inspected_before_failure"] >= cal["inspected_before_failure"]
    assert out["health_estimates"] > 0
