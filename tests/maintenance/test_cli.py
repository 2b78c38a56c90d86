"""``robowatch maintenance plan``: the demo fleet's plan as CSV, every visit outside
production; and a broken policy file is one error line."""

import csv
import io
from datetime import datetime

from typer.testing import CliRunner

from maintenance.policy import builtin_policy
from maintenance.windows import SiteCalendar
from robowatch.cli.main import app


def test_the_demo_plan_as_csv_keeps_out_of_production():
    out = CliRunner().invoke(app, ["maintenance", "plan", "--horizon", "40d", "--start",
                                   "2026-12-07", "--csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert rows and {r["trigger"] for r in rows} == {"calendar"}
    cal = SiteCalendar(builtin_policy().windows)
    for r in rows:
        start = datetime.strptime(r["window"][:16] + " +0800", "%Y-%m-%d %H:%M %z")
        assert not cal.is_production(start), r
    # Every plan of the demo's package shows up for a robot never inspected.
    assert {r["plan"] for r in rows if r["robot"] == "R-0001"} == {
        "hardware", "software", "performance", "full_service"}


def test_a_broken_policy_is_one_error_line(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text("[condition]\nhealth_below = 2\n")
    out = CliRunner().invoke(app, ["maintenance", "plan", "--policy", str(bad)])
    assert out.exit_code == 2
    assert "error:" in out.output and "health_below" in out.output


def test_the_horizon_is_days_or_weeks_and_a_bad_one_is_refused():
    weeks = CliRunner().invoke(app, ["maintenance", "plan", "--horizon", "2w", "--start",
                                     "2026-12-07"])
    assert weeks.exit_code == 0, weeks.output
    assert "over 14 days from 2026-12-07" in weeks.output
    for bad in ("90x", "0d", "800d"):
        out = CliRunner().invoke(app, ["maintenance", "plan", "--horizon", bad])
        assert out.exit_code == 2 and "horizon" in out.output.lower(), (bad, out.output)
