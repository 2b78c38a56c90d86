"""The demo's sample history: written once into an empty database through the real
lifecycle, it gives last week's report figures instead of "no data"."""

from __future__ import annotations

from datetime import UTC, datetime

from parts.policy import builtin_policy as builtin_parts_policy
from parts.seed import load_parts, read_parts_file
from reports.kpis import compute_kpis
from reports.periods import parse_period
from reports.policy import builtin_reports_policy
from robowatch.demo import DEMO_PARTS, DEMO_POLICY
from robowatch.demo_history import seed_sample_history
from robowatch.team import DEMO_ROSTER, load_team
from simulators.registry import fleet_spec
from simulators.scenario import Scenario, default_scenario_path
from storage.connect import connect
from storage.fleet import FleetSpec, register_fleet
from storage.reports import ReportScope
from storage.tickets import list_tickets
from ticketing.duty import put_roster_in_force
from ticketing.policy import load_policy

# A Wednesday: the sample covers the three whole weeks before its week (W46-W48).
NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)


def test_sample_history_fills_last_weeks_report_once(db_url: str) -> None:
    fleet = fleet_spec(Scenario.load(default_scenario_path()))
    fleet = FleetSpec(customers=fleet.customers, engineers=load_team())
    with connect(db_url) as conn:
        register_fleet(conn=conn, fleet=fleet)
        put_roster_in_force(conn=conn, roster=DEMO_ROSTER)
        load_parts(conn=conn, spec=read_parts_file(DEMO_PARTS), actor="demo", at=NOW)
        conn.commit()
    with connect(db_url, autocommit=True) as conn:
        first = seed_sample_history(conn=conn, fleet=fleet, policy=load_policy(DEMO_POLICY),
                                    parts_policy=builtin_parts_policy(), now=NOW)
        assert first is not None
        assert (first.tickets, first.complaints) == (18, 1)
        assert first.callbacks >= 12 and first.requisitions >= 1
        assert first.first_day == datetime(2026, 11, 9, tzinfo=UTC)
        # Not twice: the database now holds tickets.
        assert seed_sample_history(conn=conn, fleet=fleet, policy=load_policy(DEMO_POLICY),
                                   parts_policy=builtin_parts_policy(), now=NOW) is None
        rows, total = list_tickets(conn=conn, limit=100)
        assert total == 18
        assert all(t.reporter == "sample history (demo)" for t in rows)
        assert all((t.description or "").startswith("[sample]") for t in rows)
        assert {t.state for t in rows} == {"archived"}
        policy = builtin_reports_policy()
        period = parse_period("weekly", "2026-W48", zone=policy.reports.zone)
        report = compute_kpis(conn=conn, period=period, scope=ReportScope(), policy=policy,
                              now=NOW)
    shown = {k.name: k.value for k in report.kpis}
    for name in ("response_on_time", "resolution_on_time", "completion", "first_response_min",
                 "mttr_h", "first_time_fix", "satisfaction", "satisfied_share",
                 "complaint_rate", "archive_completeness"):
        assert shown[name] is not None, name
    assert shown["completion"] == 1.0

