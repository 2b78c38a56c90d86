"""The KPI dashboard's data (``GET /api/v1/console/kpis``): the last periods of a kind, oldest
first, each with the report's own figures, targets and per-grade rates; the reports scope
and the customer binding enforced (real PostgreSQL, real uvicorn, the records scenario)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import psycopg
import pytest

from api import create_app
from api.routers.console_kpis import recent_periods
from tests.api.callers import bearer, token_for
from tests.api.server import serve_in_thread
from tests.records.scenario import build_week
from tests.records.test_reports_db import NOW


@pytest.mark.parametrize(("kind", "today", "labels"), [
    ("weekly", date(2027, 1, 2), ["2026-W52", "2026-W53"]),   # ISO year 2026 has 53 weeks
    ("weekly", date(2027, 1, 4), ["2026-W53", "2027-W01"]),
    ("monthly", date(2027, 2, 28), ["2026-11", "2026-12", "2027-01", "2027-02"]),
    ("quarterly", date(2027, 1, 1), ["2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"]),
])
def test_recent_periods_end_with_the_one_holding_today(kind, today, labels) -> None:
    assert recent_periods(kind, today, len(labels)) == labels


@pytest.fixture
def base_url(db_url: str) -> Iterator[str]:
    build_week(db_url)
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=2)
    with serve_in_thread(app) as url:
        yield url


def _get(base_url: str, db_url: str, role: str, **params: str) -> httpx.Response:
    with psycopg.connect(db_url) as conn:
        token = token_for(conn, f"kpi-{role}", role, issued_at=NOW,
                          customer="CORE1" if role == "customer_viewer" else None)
    return httpx.get(f"{base_url}/api/v1/console/kpis", params=params, headers=bearer(token),
                     timeout=60)


def test_trend_carries_the_reports_figures_targets_and_grades(base_url, db_url) -> None:
    resp = _get(base_url, db_url, "dispatcher", kind="weekly", count="2")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [p["period"] for p in body["periods"]] == ["2026-W48", "2026-W49"]
    week = body["periods"][0]
    kpis = {k["name"]: k for k in week["kpis"]}
    # The figures of GET /reports/weekly/2026-W48 (tests/records/test_api.py).
    assert kpis["completion"]["value"] == pytest.approx(0.6)
    assert (kpis["completion"]["target"], kpis["completion"]["direction"]) == (0.95, "min")
    assert kpis["completion"]["met"] is False
    assert kpis["satisfaction"]["value"] is None and kpis["satisfaction"]["met"] is None
    assert (kpis["mttr_h"]["direction"], kpis["mttr_h"]["target"]) == ("max", 24.0)
    grades = {g["grade"]: g for g in week["grades"]}
    assert sum(g["tickets"] for g in grades.values()) == kpis["completion"]["basis"]
    assert set(grades) <= {"I", "II", "III", "IV"} and grades
    # The running week is counted up to now, the closed one up to its end.
    assert body["periods"][1]["as_of"].startswith("2026-12-02T00:00:00")
    assert week["as_of"] == week["end"]


def test_trend_needs_the_reports_scope_and_keeps_customers_apart(base_url, db_url) -> None:
    assert _get(base_url, db_url, "engineer").status_code == 403
    assert _get(base_url, db_url, "customer_viewer").status_code == 403
    narrowed = _get(base_url, db_url, "om_manager", kind="monthly", count="1",
                    customer="CORE1").json()
    assert narrowed["scope"] == "customer CORE1" and len(narrowed["periods"]) == 1
    assert _get(base_url, db_url, "om_manager", count="13").status_code == 422
