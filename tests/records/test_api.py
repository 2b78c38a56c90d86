"""Reports and archives through the API on a real server: every archive read logged with
who and when, reports as JSON, CSV, Markdown and HTML, the reports scope enforced."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from api import create_app
from tests.api.callers import bearer, token_for
from tests.api.server import serve_in_thread
from tests.records.scenario import build_week
from tests.records.test_reports_db import NOW


@pytest.fixture
def week(db_url: str) -> dict[str, int]:
    return build_week(db_url)


@pytest.fixture
def base_url(db_url: str, week) -> Iterator[str]:
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=2)
    with serve_in_thread(app) as url:
        yield url


def _client(base_url: str, db_url: str, user: str, role: str,
            engineer: str | None = None) -> httpx.Client:
    with psycopg.connect(db_url) as conn:
        token = token_for(conn, user, role, issued_at=NOW, engineer=engineer)
    return httpx.Client(base_url=base_url, timeout=30, headers=bearer(token))


def test_archive_read_is_logged_with_who_and_when(base_url, db_url, week):
    t1 = week["T1"]
    with _client(base_url, db_url, "mgr", "om_manager") as c:
        r = c.get(f"/api/v1/tickets/{t1}/archive")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["intact"] is True and body["breaks"] == []
        assert [e["seq"] for e in body["events"]] == list(range(1, len(body["events"]) + 1))
        assert [e["event"] for e in body["events"]][:3] == ["created", "dispatch", "accept"]
        assert {d["kind"] for d in body["documents"]} >= {"clock"}
        # Remote from accept + 1 min (20 min) to the resolve at 10 h: 579 min, charged (no
        # warranty recorded), 10 started hours at the default 350.00.
        assert {k: body["labour"][k] for k in ("remote_min", "source", "charged_min",
                                               "amount")} == {
            "remote_min": 579, "source": "events", "charged_min": 579, "amount": "3500.00"}
        assert body["intake"]["reporter"] == "Li Wei"
        reads = c.get(f"/api/v1/tickets/{t1}/archive/reads").json()
    assert reads["count"] == 1
    assert reads["items"][0] | {"at": None, "id": None} == {
        "at": None, "id": None, "reader": "mgr", "role": "om_manager", "ticket_id": t1,
        "number": body["ticket"]["number"], "what": "archive", "via": "api",
        "feedback_id": None}
    assert reads["items"][0]["at"].startswith(NOW.isoformat()[:19])
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT read_id FROM (SELECT max(id) AS read_id FROM archive_reads)"
                            " x").fetchone() == (body["read_id"],)


def test_archive_needs_the_records_scope_and_hides_other_customers(base_url, db_url, week):
    with _client(base_url, db_url, "eng", "engineer", engineer="E-01") as c:
        assert c.get(f"/api/v1/tickets/{week['T1']}/archive").status_code == 403
    # Reading figures (reports) is not reading records: an expert and the administrator
    # have the one, not the other.
    for user, role in (("exp", "expert"), ("admin", "admin")):
        with _client(base_url, db_url, user, role) as c:
            assert c.get("/api/v1/reports/weekly/2026-W48").status_code == 200
            assert c.get(f"/api/v1/tickets/{week['T1']}/archive").status_code == 403
    with _client(base_url, db_url, "mgr", "om_manager") as c:
        assert c.get("/api/v1/tickets/999999/archive").status_code == 404
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM archive_reads").fetchone() == (0,)


def test_weekly_report_as_json_csv_markdown_and_html(base_url, db_url):
    with _client(base_url, db_url, "cs", "dispatcher") as c:
        j = c.get("/api/v1/reports/weekly/2026-W48")
        assert j.status_code == 200, j.text
        kpis = {k["name"]: k for k in j.json()["kpis"]}
        assert kpis["completion"]["value"] == pytest.approx(0.6)
        assert kpis["satisfaction"]["value"] is None
        assert kpis["satisfaction"]["shown"] == "no data"
        csv_r = c.get("/api/v1/reports/weekly/2026-W48", params={"format": "csv"})
        assert csv_r.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv_r.headers["content-disposition"]
        rows = [r for r in csv.DictReader(io.StringIO(csv_r.text)) if r["section"] == "kpi"]
        assert len(rows) == len(kpis)
        html = c.get("/api/v1/reports/weekly/2026-W48", params={"format": "html"})
        assert html.headers["content-type"].startswith("text/html") and "<svg" in html.text
        md = c.get("/api/v1/reports/weekly/2026-W48", params={"format": "md",
                                                              "customer": "CORE1"})
        assert "(customer CORE1);" in md.text
        assert c.get("/api/v1/reports/weekly/2026-11").status_code == 422
        assert c.get("/api/v1/reports/monthly/2026-11").status_code == 200
        assert c.get("/api/v1/reports/quarterly/2026-Q4").status_code == 200
    with _client(base_url, db_url, "eng", "engineer", engineer="E-01") as c:
        assert c.get("/api/v1/reports/weekly/2026-W48").status_code == 403
