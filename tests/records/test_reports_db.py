"""The weekly report of a scripted week checked against figures worked out by hand
(tests/records/scenario.py says what happened to each ticket)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from reports.kpis import compute_kpis
from reports.periods import parse_period
from reports.policy import builtin_reports_policy
from reports.render import to_csv, to_html, to_markdown
from storage.callbacks import get_callback, open_callback, record_callback
from storage.connect import connect
from storage.reports import ReportScope
from tests.records.scenario import build_week

POLICY = builtin_reports_policy()
NOW = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.fixture
def week(db_url: str):
    build_week(db_url)
    with connect(db_url, autocommit=True) as conn:
        period = parse_period("weekly", "2026-W48", zone=POLICY.reports.zone)
        yield compute_kpis(conn=conn, period=period, scope=ReportScope(), policy=POLICY,
                           now=NOW)


def test_week_boundaries_are_local_midnights():
    p = parse_period("weekly", "2026-W48", zone=POLICY.reports.zone)
    assert (p.first_day, p.last_day) == (date(2026, 11, 23), date(2026, 11, 29))
    assert (p.start, p.end) == (datetime(2026, 11, 22, 16, tzinfo=UTC),
                                datetime(2026, 11, 29, 16, tzinfo=UTC))


def test_weekly_kpis_match_the_hand_computed_figures(week):
    v = {k.name: k.value for k in week.kpis}
    basis = {k.name: k.basis for k in week.kpis}
    # Five tickets count (T1-T5); T6 is a duplicate, T0 and T7 fall outside the week.
    assert basis["completion"] == 5
    # Responded on time: T1 (20 of 30 min), T3 (50 of 60 min after the regrade), T4 (10 of
    # 15 min); late: T2 (45 of 30 min), T5 (never, its 2 h ran out).
    assert v["response_on_time"] == pytest.approx(3 / 5)
    # Resolved on time: T1 (10 of 48 h), T4 (6 of 24 h); late: T2 (82 of 72 h), T3 and T5
    # (unresolved past 48 h and 4 h).
    assert v["resolution_on_time"] == pytest.approx(2 / 5)
    assert v["completion"] == pytest.approx(3 / 5)
    assert v["first_response_min"] == pytest.approx((20 + 45 + 50 + 10) / 4)
    assert v["mttr_h"] == pytest.approx((10 + 82 + 6) / 3)
    assert v["first_time_fix"] == pytest.approx(2 / 3)          # T2 was disputed
    assert v["recurrence"] == pytest.approx(2 / 5)              # T1 after T0, T5 after T1
    assert v["work_order_accuracy"] == pytest.approx(4 / 6)     # T3 regraded, T6 duplicate
    assert v["archive_completeness"] == pytest.approx(1.0)      # T1 and T2 closed, complete
    assert basis["archive_completeness"] == 2
    # No survey recorded in the week: explicitly no data, not zero. No complaint among the
    # week's 5 tickets: a complaint rate of 0.
    for name in ("satisfaction", "satisfied_share"):
        assert v[name] is None
        assert week.kpi(name).shown() == "no data"
    assert v["complaint_rate"] == 0.0 and basis["complaint_rate"] == 5
    assert week.kpi("first_time_fix").met is False             # 66.7 % < 85 %
    assert week.kpi("archive_completeness").met is True


def test_weekly_grades_mtbf_and_days(week):
    by_grade = {g.grade: g for g in week.grades}
    assert {g: (x.tickets, x.response_on_time, x.resolution_on_time, x.completion)
            for g, x in by_grade.items()} == {
        "I": (1, 1.0, 1.0, 1.0), "II": (2, 0.5, 0.5, 1.0), "III": (1, 1.0, 0.0, 0.0),
        "IV": (1, 0.0, 0.0, 0.0)}
    assert by_grade["II"].first_response_min == pytest.approx(32.5)
    assert by_grade["IV"].first_response_min is None
    # Stoppages: T4 (by phone, 6 h to resolution) on R-C1b, 2 h on R-C2; 5 robots, 168 h.
    assert (week.fleet_robots, week.fleet_failures) == (5, 2)
    assert week.fleet_mtbf_h == pytest.approx((5 * 168 - 8) / 2)
    assert [(m.robot, m.failures, m.mtbf_h) for m in week.robots] == [
        ("R-C1b", 1, pytest.approx(162.0)), ("R-C2", 1, pytest.approx(166.0))]
    assert [(d.opened, d.resolved, d.breached) for d in week.days] == [
        (1, 1, 0), (1, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 2), (1, 0, 1), (0, 0, 0)]


def test_scope_narrows_to_one_customer(db_url):
    build_week(db_url)
    with connect(db_url, autocommit=True) as conn:
        period = parse_period("weekly", "2026-W48", zone=POLICY.reports.zone)
        r = compute_kpis(conn=conn, period=period, scope=ReportScope(customer="CORE1"),
                         policy=POLICY, now=NOW)
    assert r.kpi("completion").basis == 3                       # T1, T4, T5
    assert r.fleet_robots == 2 and r.fleet_failures == 1


def test_renderings_carry_the_same_figures(week):
    md = to_markdown(week)
    assert "# Weekly service report 2026-W48" in md
    assert "| Response on time | 60.0 % | >= 95.0 % | missed | 5 |" in md
    assert "| Customer satisfaction (mean of 5) | no data |" in md
    rows = list(csv.DictReader(io.StringIO(to_csv(week))))
    kpi = {r["name"]: r for r in rows if r["section"] == "kpi"}
    assert float(kpi["resolution_on_time"]["value"]) == pytest.approx(0.4)
    assert kpi["satisfaction"]["value"] == "" and kpi["satisfaction"]["verdict"] == "no data"
    assert float(kpi["complaint_rate"]["value"]) == 0.0
    html = to_html(week)
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 2
    # Self-contained: nothing fetched (the SVG namespace is a name, not a request).
    assert "no data" in html
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_a_running_week_counts_up_time_until_now(db_url):
    build_week(db_url)
    with connect(db_url, autocommit=True) as conn:
        period = parse_period("weekly", "2026-W48", zone=POLICY.reports.zone)
        # Four days in (96 h): only T4's stoppage (6 h) has happened; T5 is not accepted yet.
        r = compute_kpis(conn=conn, period=period, scope=ReportScope(), policy=POLICY,
                         now=datetime(2026, 11, 26, 16, tzinfo=UTC))
    assert r.as_of == datetime(2026, 11, 26, 16, tzinfo=UTC)
    assert r.fleet_failures == 1
    assert r.fleet_mtbf_h == pytest.approx(5 * 96 - 6)
    assert r.kpi("completion").basis == 4


def test_satisfaction_from_the_callback_surveys_of_the_period(db_url):
    ids = build_week(db_url)
    period = parse_period("weekly", "2026-W48", zone=POLICY.reports.zone)
    with connect(db_url, autocommit=True) as conn:
        for name, score in (("T1", 5), ("T2", 3), ("T3", 4)):
            at = period.start + timedelta(days=3)
            # A signed-off ticket has its survey opened already; the others get one here.
            open_callback(conn=conn, ticket_id=ids[name], opened_at=at, due_at=at,
                          link_expires_at=at)
            cb = get_callback(conn=conn, ticket_id=ids[name])
            assert cb is not None
            assert record_callback(conn=conn, callback_id=cb.id, score=score, suggestions=None,
                                   at=at, by="cs", via="staff")
        r = compute_kpis(conn=conn, period=period, scope=ReportScope(), policy=POLICY, now=NOW)
    assert r.kpi("satisfaction").value == pytest.approx(4.0)      # (5 + 3 + 4) / 3
    assert r.kpi("satisfaction").basis == 3 and r.kpi("satisfaction").met is True
    assert r.kpi("satisfied_share").value == pytest.approx(2 / 3)  # 5 and 4 are >= 4
    assert r.kpi("satisfied_share").met is False                   # < 90 %
