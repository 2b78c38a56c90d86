"""One archive per feedback record (service rules section 10): its history hash-chained with
the ticket history's encoding, every read logged, a tampered row named by `audit verify`;
through storage, the CLI and the API (the records scope), on a real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from api import create_app
from reports.feedback_records import read_feedback_archive
from robowatch.cli.main import app
from storage import audit
from storage import feedback as fstore
from storage.connect import connect
from tests.aftersales.scenario import MON, H, complete, setup, some, ticket
from tests.api.callers import bearer, token_for
from tests.api.server import serve_in_thread
from ticketing.feedback import callbacks
from ticketing.feedback.records import apply, register
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
NOW = MON + 10 * H


def _fb(conn: Any, fid: int, event: str, at: datetime, **details: Any) -> None:
    seen = some(fstore.get_feedback(conn=conn, feedback_id=fid))
    apply(conn=conn, feedback_id=fid, event=event, actor="cs:anna",
          expected_version=seen.version, now=at, policy=POLICY, **details)


@pytest.fixture
def records(db_url: str) -> dict[str, Any]:
    """A low callback score's follow-up worked to completion, and a second record."""
    with connect(db_url, autocommit=True) as conn:
        setup(conn)
        t = ticket(conn, "R-A1", MON, POLICY, impact="minor")
        complete(conn, t.id, MON, POLICY)
        cb = callbacks.record(conn=conn, ticket_id=t.id, score=2, suggestions="too slow",
                              actor="cs:anna", now=MON + H, policy=POLICY)
        fid = some(cb.follow_up_id)
        _fb(conn, fid, "route", MON + 2 * H)
        _fb(conn, fid, "confirm", MON + 3 * H)
        _fb(conn, fid, "complete", MON + 5 * H, result="engineer called the customer")
        _fb(conn, fid, "tell_result", MON + 6 * H, message="told by phone")
        other = register(conn=conn, kind="complaint", customer="BETA", category="other",
                         urgency="general", channel="wechat", reporter="buyer",
                         summary="invoice wrong", received_at=MON, now=MON, actor="cs:anna",
                         policy=POLICY)
        number = some(fstore.get_feedback(conn=conn, feedback_id=fid)).number
    return {"id": fid, "number": number, "ticket": t.id, "other": other.id}


def _tamper(db_url: str, sql: str, params: tuple[object, ...]) -> None:
    """What someone with the table owner's rights could do behind the application."""
    with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
        conn.execute("ALTER TABLE feedback_events DISABLE TRIGGER feedback_events_append_only")
        conn.execute(sql, params)
        conn.execute("ALTER TABLE feedback_events ENABLE TRIGGER feedback_events_append_only")


def test_archive_holds_every_document_and_logs_the_read(db_url, records):
    with connect(db_url, autocommit=True) as conn:
        a = read_feedback_archive(conn=conn, feedback_id=records["id"], reader="lee",
                                  role="om_manager", via="cli", now=NOW)
        assert a.intact and a.record.number == records["number"]
        assert [e.seq for e in a.events] == list(range(1, len(a.events) + 1))
        assert [e.event for e in a.events] == ["registered", "low_score_follow_up", "route",
                                               "confirm", "complete", "tell_result"]
        assert len({e.hash for e in a.events}) == len(a.events)
        kinds = {d.kind for d in a.documents}
        assert {"ticket", "callback", "clock"} <= kinds
        [cb] = [d for d in a.documents if d.kind == "callback"]
        assert cb.content["score"] == 2
        [read] = audit.archive_reads(conn=conn, feedback_id=records["id"])
        assert (read.id, read.reader, read.ticket_id, read.feedback_id, read.number,
                read.via) == (a.read_id, "lee", None, records["id"], records["number"], "cli")
        assert audit.archive_reads(conn=conn, ticket_id=records["ticket"]) == []
        assert audit.verify_feedback_chains(conn=conn) == []
        summary = audit.chain_summary(conn=conn, record="feedback")
        assert summary.tickets == 2 and summary.events >= len(a.events) + 1


def test_an_edited_and_a_deleted_feedback_event_are_named(db_url, records):
    with connect(db_url, autocommit=True) as conn:
        events = fstore.feedback_events(conn=conn, feedback_id=records["id"])
    edited, deleted = events[2].id, events[4].id
    _tamper(db_url, "UPDATE feedback_events SET actor = 'someone-else' WHERE id = %s",
            (edited,))
    _tamper(db_url, "DELETE FROM feedback_events WHERE id = %s", (deleted,))
    with connect(db_url, autocommit=True) as conn:
        breaks = audit.verify_feedback_chains(conn=conn)
        assert [(b.record, b.ticket_id, b.seq, b.what) for b in breaks] == [
            ("feedback", records["id"], 3, "edited"), ("feedback", records["id"], 6, "deleted")]
        assert breaks[0].describe().startswith(f"feedback {records['number']}: event {edited}")
        assert audit.verify_feedback_chains(conn=conn, feedback_id=records["other"]) == []
        assert audit.verify_chains(conn=conn) == []   # the ticket history is not involved
        a = read_feedback_archive(conn=conn, feedback_id=records["id"], reader="lee",
                                  role=None, via="cli", now=NOW)
        assert not a.intact
    r = CliRunner().invoke(app, ["audit", "verify", "--json"],
                           env={"ROBOWATCH_DATABASE_URL": db_url})
    assert r.exit_code == 1
    last = json.loads(r.stdout.splitlines()[-1])
    assert not last["intact"] and last["feedback_records"] == 2
    assert [b["what"] for b in last["breaks"]] == ["edited", "deleted"]
    assert f"feedback {records['number']}: event {edited} (#3) was edited" in r.stdout


def test_cli_reads_a_feedback_archive_by_its_number(db_url, records):
    r = CliRunner().invoke(app, ["audit", "archive", records["number"]],
                           env={"ROBOWATCH_DATABASE_URL": db_url})
    assert r.exit_code == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["record"]["number"] == records["number"] and body["breaks"] == []
    with connect(db_url, autocommit=True) as conn:
        [read] = audit.archive_reads(conn=conn, feedback_id=records["id"])
    assert read.via == "cli"


@pytest.fixture
def base_url(db_url: str, records) -> Iterator[str]:
    app_ = create_app(database_url=db_url, clock=lambda: NOW + timedelta(hours=1),
                      pool_max_size=2)
    with serve_in_thread(app_) as url:
        yield url


def _client(base_url: str, db_url: str, user: str, role: str) -> httpx.Client:
    with psycopg.connect(db_url) as conn:
        token = token_for(conn, user, role, issued_at=NOW)
    return httpx.Client(base_url=base_url, timeout=30, headers=bearer(token))


def test_api_archive_needs_records_and_logs_who_read_it(base_url, db_url, records):
    path = f"/api/v1/feedback/{records['id']}/archive"
    with _client(base_url, db_url, "exp", "expert") as c:   # reads feedback, not records
        assert c.get(f"/api/v1/feedback/{records['id']}").status_code == 200
        assert c.get(path).status_code == 403
    with _client(base_url, db_url, "cs", "dispatcher") as c:
        r = c.get(path)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["intact"] is True and body["feedback"]["number"] == records["number"]
        assert body["events"][0]["event"] == "registered" and body["events"][0]["seq"] == 1
        reads = c.get(f"{path}/reads").json()
        assert reads["count"] == 1
        assert reads["items"][0]["reader"] == "cs" and reads["items"][0]["role"] == "dispatcher"
        assert reads["items"][0]["id"] == body["read_id"]
        assert c.get("/api/v1/feedback/999999/archive").status_code == 404


def _cli(db_url: str, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env={"ROBOWATCH_DATABASE_URL": db_url})
    return r.exit_code, r.stdout, r.stderr


def test_feedback_is_purged_only_after_an_approval_and_its_retention(db_url, records):
    fid, number = records["id"], records["number"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM feedback_events WHERE feedback_id = %s", (fid,))
    code, out, err = _cli(db_url, "audit", "purge", "--approve", number, "--by", "head",
                          "--reason", "retention over")
    assert code != 0 and "is not archived" in str(err) + out
    with connect(db_url, autocommit=True) as conn:
        _fb(conn, fid, "archive", MON + 7 * H)
    # Completed 2026-11-23 for a core customer: kept 5 years (the policy's long_tiers).
    code, out, err = _cli(db_url, "audit", "purge", "--today", "2031-11-25")
    assert code == 0 and f"{number}  feedback core      completed 2026-11-23  kept until " \
        "2031-11-23  NOT approved" in out, err
    code, out, _ = _cli(db_url, "audit", "purge", "--today", "2031-11-25", "--execute",
                        "--by", "clerk")
    assert code == 0 and f"kept {number}: no approval recorded" in out
    code, out, err = _cli(db_url, "audit", "purge", "--approve", number, "--by", "head",
                          "--reason", "retention over")
    assert code == 0 and "may be purged after 2031-11-23" in out, err
    code, out, _ = _cli(db_url, "audit", "purge", "--today", "2031-11-25", "--execute",
                        "--by", "clerk")
    assert code == 0 and f"purged {number}:" in out
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM feedback WHERE id = %s",
                            (fid,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM feedback_events WHERE feedback_id = %s",
                            (fid,)).fetchone() == (0,)
        # The survey stays with its ticket; the tombstone says who approved and purged.
        assert conn.execute("SELECT follow_up_id FROM callbacks WHERE ticket_id = %s",
                            (records["ticket"],)).fetchone() == (None,)
        tomb = conn.execute("SELECT approved_by, purged_by, events FROM feedback_purges "
                            "WHERE feedback_id = %s", (fid,)).fetchone()
        assert tomb is not None and tomb[:2] == ("head", "clerk") and tomb[2] >= 8
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE feedback_purges SET approved_by = 'x' WHERE feedback_id = %s",
                         (fid,))
    code, _, _ = _cli(db_url, "audit", "verify")
    assert code == 0


def test_the_ticket_archive_shows_its_labour_and_charge(db_url, records):
    r = CliRunner().invoke(app, ["audit", "archive", str(records["ticket"])],
                           env={"ROBOWATCH_DATABASE_URL": db_url})
    assert r.exit_code == 0, r.stderr
    lab = json.loads(r.stdout)["labour"]
    # tests/aftersales/scenario.complete: remote from +2 min to the resolve at +30 min; the
    # robot has no install date or warranty end: charged (the policy's safe default).
    assert {k: lab[k] for k in ("travel_min", "on_site_min", "remote_min", "source",
                                "in_warranty", "charged_min", "amount")} == {
        "travel_min": 0, "on_site_min": 0, "remote_min": 28, "source": "events",
        "in_warranty": False, "charged_min": 28, "amount": "350.00"}
