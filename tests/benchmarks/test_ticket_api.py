"""The API concurrency harness of ``bench ticketing`` checks what it claims: clients racing on
few tickets through a real ``robowatch api`` child, every 2xx answer found in the history
exactly once (no figure is asserted: speeds are the benchmark's business)."""

from __future__ import annotations

from benchmarks.ticket_api import run_api_bench


def test_racing_clients_lose_no_update_and_meet_no_server_error(pg_server: str) -> None:
    # 6 clients on 4 tickets: most events race another one on the same ticket.
    report = run_api_bench(settings_url=pg_server, clients=6, tickets=4, seconds=3.0)
    assert report["api_accepted"] > 0 and report["api_conflicts"] > 0
    assert report["lost_updates"] == 0 and report["server_errors"] == 0
    assert report["api_refused"] == {} and report["api_transport_errors"] == 0
    assert report["api_requests"] == report["api_accepted"] + report["api_conflicts"]
