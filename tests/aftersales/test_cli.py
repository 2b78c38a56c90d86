"""``robowatch aftersales`` through the real entry point, on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from robowatch.cli.main import app
from storage.connect import connect
from tests.aftersales.scenario import MON, complete, setup, ticket
from ticketing.feedback.records import register
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")


def test_a_person_lists_feedback_issues_a_link_and_draws_the_qc_sample(db_url: str,
                                                                         tmp_path: Path):
    with connect(db_url, autocommit=True) as conn:
        setup(conn)
        t = ticket(conn, "R-A1", MON, POLICY, impact="minor")
        complete(conn, t.id, MON, POLICY)
        register(conn=conn, kind="complaint", customer="ACME", category="service_process",
                 urgency="general", channel="phone", reporter="plant manager",
                 summary="nobody called back", received_at=MON, now=MON, actor="cs:anna",
                 policy=POLICY)
    env = {"ROBOWATCH_DATABASE_URL": db_url, "ROBOWATCH_HOME": str(tmp_path)}
    run = CliRunner(env=env)
    listed = run.invoke(app, ["aftersales", "feedback", "--kind", "complaint"])
    assert listed.exit_code == 0, listed.output
    assert "1 record(s)" in listed.output and "CP-20261123-0001" in listed.output
    link = run.invoke(app, ["aftersales", "link", str(t.id)])
    assert link.exit_code == 0, link.output
    assert link.output.startswith("/api/v1/survey/")
    drawn = run.invoke(app, ["aftersales", "qc-draw", "--since", "2026-11-23", "--until",
                             "2026-11-24", "--seed", "7"])
    assert drawn.exit_code == 0, drawn.output
    assert "1 of 1 resolved tickets (10%, seed 7)" in drawn.output and t.number in drawn.output
    missing = run.invoke(app, ["aftersales", "link", "999999"])
    assert missing.exit_code != 0 and "no callback survey" in missing.output


def test_the_policy_view_shows_the_after_sales_deadlines():
    out = CliRunner().invoke(app, ["ticketing", "policy"]).output
    assert "general: plan 3 working days, solve 7 working days" in out
    assert "complaint: respond 15m, answer 3 working days" in out
    assert "Callback within 3 working days; a score below 3 opens a follow-up" in out
