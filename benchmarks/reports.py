"""``bench reports``: what a month's KPIs and a full ``audit verify`` cost on a large history.

A scratch database gets ``robots`` robots and a year (2026) of closed tickets, ten history
rows each, until ``events`` rows are stored, written through the real chain trigger in
batches (progress on stderr), plus stoppage anomalies. Then, ``repeat`` times each: the KPI
set of one month (``reports.kpis.compute_kpis``: grade table, fleet and per-robot MTBF, daily
series) and a verification of every chain (``storage.audit.verify_chains`` plus the heads
digest). Medians are reported; the last line printed is one JSON object.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.ingest import prepared_database
from reports.kpis import compute_kpis
from reports.periods import parse_period
from reports.policy import builtin_reports_policy
from storage.audit import chain_summary, verify_chains
from storage.connect import connect
from storage.fleet import FleetSpec
from storage.measure_records import (
    EVENTS_PER_TICKET,
    analyze,
    synthetic_fleet,
    synthetic_history,
    synthetic_stoppages,
    synthetic_tickets,
)
from storage.reports import ReportScope

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_S = 365 * 86_400
# Tickets per batch: 10,000 tickets are 100,000 history rows, one transaction of a few
# seconds, so progress shows often and a failed batch costs little.
BATCH_TICKETS = 10_000


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _load(url: str, *, events: int, robots: int) -> dict[str, float]:
    tickets = max(1, events // EVENTS_PER_TICKET)
    spacing = YEAR_S / tickets
    t0 = time.perf_counter()
    with connect(url, autocommit=True) as conn:
        synthetic_fleet(conn=conn, customers=max(1, robots // 100), robots=robots,
                        engineers=200)
        written = 0
        history_s = 0.0
        for first in range(0, tickets, BATCH_TICKETS):
            last = min(tickets, first + BATCH_TICKETS) - 1
            with conn.transaction():
                lo, hi = synthetic_tickets(conn=conn, first=first, last=last, start=YEAR_START,
                                           spacing_s=spacing)
                h0 = time.perf_counter()
                written += synthetic_history(conn=conn, first_id=lo, last_id=hi)
                history_s += time.perf_counter() - h0
            _progress(f"  history {written:,}/{tickets * EVENTS_PER_TICKET:,} events "
                      f"({written / history_s:,.0f} chained inserts/s)")
        # About two stoppages per robot a year.
        stops = 2 * robots
        synthetic_stoppages(conn=conn, count=stops, start=YEAR_START, spacing_s=YEAR_S / stops)
        analyze(conn=conn)
    return {"events": written, "tickets": tickets, "load_s": time.perf_counter() - t0,
            "chained_inserts_per_s": written / history_s if history_s else 0.0}


def _median_s(fn: Any, repeat: int) -> tuple[float, list[float], Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, out


def run_reports_bench(*, events: int, robots: int, repeat: int, month: str,
                      settings_url: str | None) -> dict[str, Any]:
    policy = builtin_reports_policy()
    period = parse_period("monthly", month, zone=policy.reports.zone)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rw-bench-rep-")))
        url, _, _ = prepared_database(stack, settings_url, tmp, FleetSpec())
        _progress(f"loading {events:,} history rows for {robots:,} robots ...")
        load = _load(url, events=events, robots=robots)
        with connect(url, autocommit=True) as conn:
            kpi_s, kpi_runs, report = _median_s(
                lambda: compute_kpis(conn=conn, period=period, scope=ReportScope(),
                                     policy=policy, now=datetime.now(UTC)), repeat)
            _progress(f"  KPIs of {month}: median {kpi_s:.3f} s of {repeat}")

            def verify() -> tuple[int, int]:
                breaks = verify_chains(conn=conn)
                return len(breaks), chain_summary(conn=conn).events

            verify_s, verify_runs, (breaks, checked) = _median_s(verify, repeat)
            _progress(f"  audit verify: median {verify_s:.3f} s of {repeat}")
    return {
        "events": load["events"], "tickets": load["tickets"], "robots": robots,
        "month": month, "month_tickets": report.kpi("completion").basis,
        "kpi_month_s": round(kpi_s, 3), "kpi_month_runs_s": [round(t, 3) for t in kpi_runs],
        "audit_verify_s": round(verify_s, 3),
        "audit_verify_runs_s": [round(t, 3) for t in verify_runs],
        "audit_events_checked": checked, "audit_breaks": breaks,
        "chained_inserts_per_s": round(load["chained_inserts_per_s"]),
        "load_s": round(load["load_s"], 1),
    }
