"""``robowatch report`` and ``robowatch audit`` on a real database: the report files, verify's
exit code and named findings, archive reads logged, purges listed, approved and refused."""

from __future__ import annotations

import json

import psycopg
import pytest
from typer.testing import CliRunner

from robowatch.cli.main import app
from tests.records.scenario import build_week


@pytest.fixture
def env(db_url: str, tmp_path, monkeypatch) -> dict[str, int]:
    monkeypatch.setenv("ROBOWATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("ROBOWATCH_HOME", str(tmp_path))
    return build_week(db_url)


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_weekly_report_files(env, tmp_path):
    out = tmp_path / "w48.html"
    code, _, err = _run("report", "weekly", "--week", "2026-W48", "--format", "html",
                        "--out", str(out))
    assert code == 0, err
    assert out.read_text(encoding="utf-8").count("<svg") == 2
    code, md, _ = _run("report", "weekly", "--week", "2026-W48", "--customer", "IMP1")
    assert code == 0 and "(customer IMP1)" in md and "| Completion rate | 100.0 % |" in md
    code, _, err = _run("report", "weekly", "--week", "2026-48")
    assert code == 2 and "is not a weekly period (like 2026-W48)" in err
    code, _, err = _run("report", "monthly", "--month", "2026-11", "--format", "pdf")
    assert code == 2 and "unknown format 'pdf'" in err


def test_verify_exits_1_naming_an_edited_row(env, db_url):
    code, out, _ = _run("audit", "verify", "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["intact"] is True
    with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
        conn.execute("ALTER TABLE ticket_events DISABLE TRIGGER ticket_events_append_only")
        row = conn.execute("SELECT id FROM ticket_events WHERE ticket_id = %s AND seq = 3",
                           (env["T2"],)).fetchone()
        assert row is not None
        victim = row[0]
        conn.execute("UPDATE ticket_events SET at = at - interval '30 minutes' WHERE id = %s",
                     (victim,))
        conn.execute("ALTER TABLE ticket_events ENABLE TRIGGER ticket_events_append_only")
    code, out, _ = _run("audit", "verify")
    assert code == 1
    assert f"event {victim} (#3) was edited" in out and "1 break(s)" in out


def test_archive_read_is_logged_and_listed(env):
    code, out, _ = _run("audit", "archive", str(env["T1"]))
    assert code == 0
    archive = json.loads(out)
    assert archive["ticket"]["id"] == env["T1"] and archive["breaks"] == []
    code, out, _ = _run("audit", "reads", "--ticket", str(env["T1"]))
    assert code == 0 and "archive via cli" in out


def test_purge_lists_due_refuses_unapproved_and_purges_approved(env, db_url):
    # Closed in the week: T1, T2 (signed off) and T6 (merged); all core or grade II, so kept
    # 5 years: nothing is due after 3.
    code, out, err = _run("audit", "purge", "--today", "2030-06-01")
    assert code == 0 and out == "" and "0 due" in err
    with psycopg.connect(db_url) as conn:
        rows: dict[int, str] = dict(conn.execute("SELECT id, number FROM tickets").fetchall())
    numbers = {name: rows[env[name]] for name in ("T1", "T2", "T6")}
    code, out, _ = _run("audit", "purge", "--today", "2032-01-01")
    assert code == 0 and out.count("NOT approved") == 3
    code, out, _ = _run("audit", "purge", "--today", "2032-01-01", "--execute", "--by", "clerk")
    assert code == 0 and out.count("no approval recorded") == 3 and "purged" not in out
    code, out, err = _run("audit", "purge", "--approve", str(env["T6"]), "--by", "head",
                          "--reason", "retention over")
    assert code == 0 and "may be purged after 2031-11-28" in out, err
    code, out, _ = _run("audit", "purge", "--today", "2032-01-01", "--execute", "--by", "clerk")
    assert code == 0 and f"purged {numbers['T6']}" in out
    assert f"kept {numbers['T1']}: no approval recorded" in out
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM tickets WHERE id = %s",
                            (env["T6"],)).fetchone() == (0,)
    code, out, _ = _run("audit", "verify")
    assert code == 0
