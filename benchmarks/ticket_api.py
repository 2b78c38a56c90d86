"""``bench ticketing``'s concurrency figure: many people working tickets at once through the
real API, and not one update lost.

A scratch database holds ``tickets`` dispatched tickets (one opened through
``ticketing.events``, then cloned). ``robowatch api`` runs as a child process (its own
interpreter, as deployed: uvicorn, the pool, the auth lookups), and ``clients`` asyncio tasks
with an httpx client each send ``send_update`` events to tickets picked at random for
``seconds``, each naming the version it last saw (``If-Match``). A 409 carries the current
version; the client takes it and carries on, as a person reloading would.

Afterwards every 2xx answer is checked against the database: each ticket's stored history
must hold exactly as many of the bench's events as it got 2xx answers, and the versions those
answers announced (``ETag``) must be distinct and contiguous up to the ticket's version.
``lost_updates`` counts the differences; ``server_errors`` the 5xx answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from api.auth.accounts import new_api_key
from benchmarks.ingest import prepared_database
from simulators.brokers import free_port
from storage.connect import connect
from storage.fleet import CustomerSpec, EngineerSpec, FleetSpec, LineSpec, RobotSpec, SiteSpec
from storage.measure import (
    clone_open_ticket,
    events_per_ticket,
    ticket_ids_like,
    ticket_versions,
)
from ticketing.events import apply, create_manual_ticket
from ticketing.policy import builtin_policy

__all__ = ["run_api_bench"]

_KEY_NAME = "bench-dispatch"
_ACTOR = f"key:{_KEY_NAME}"
_TAG = "API"
# The API answers /healthz within a few seconds of start; a cold child on a busy machine
# (imports, pool) may take longer.
_READY_TIMEOUT_S = 60.0


@dataclass(slots=True)
class _Tally:
    latencies: list[float] = field(default_factory=list)
    acked: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    conflicts: int = 0
    server_errors: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    other: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    transport_errors: int = 0


def _fleet() -> FleetSpec:
    return FleetSpec(
        customers=(CustomerSpec(code="CORE1", name="Core Ltd", tier="core", city="Suzhou",
                                sites=(SiteSpec(code="S1", name="Plant", city="Suzhou", lines=(
                                    LineSpec(code="L1", name="Line 1", robots=(
                                        RobotSpec(code="R-API", brand="ABB"),)),)),)),),
        engineers=(EngineerSpec(code="E-01", name="Engineer"),))


def _seed(url: str, tickets: int) -> tuple[list[int], str]:
    """``tickets`` dispatched tickets and a dispatcher's API key."""
    policy = builtin_policy("default")
    now = datetime.now(UTC)
    with connect(url, autocommit=True) as conn:
        t = create_manual_ticket(conn=conn, robot="R-API", channel="phone", reporter="bench",
                                 description="benchmark ticket", impact="minor", request=None,
                                 actor="bench", now=now, policy=policy)
        apply(conn=conn, ticket_id=t.id, event="dispatch", actor="bench",
              expected_version=t.version, now=now, policy=policy, assignee="E-01")
        with conn.transaction():
            clone_open_ticket(conn=conn, ticket_id=t.id, copies=tickets, step_s=1.0, tag=_TAG)
        ids = ticket_ids_like(conn=conn, prefix=f"{_TAG}-")
        key, _ = new_api_key(conn=conn, name=_KEY_NAME, role="dispatcher", at=now)
    return ids, key


@contextlib.contextmanager
def _api(env: dict[str, str], port: int) -> Any:
    """``robowatch api`` on ``port`` until the block ends (SIGTERM: a graceful stop)."""
    proc = subprocess.Popen([sys.executable, "-m", "robowatch", "api", "--port", str(port)],
                            env={**env, "ROBOWATCH_LOG_LEVEL": "WARNING"},
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"robowatch api exited with {proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"robowatch api not ready in {_READY_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _client(n: int, base: str, key: str, ids: list[int], seen: dict[int, int],
                  until: float, tally: _Tally) -> None:
    rng = random.Random(n)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30.0) as http:
        while time.monotonic() < until:
            tid = rng.choice(ids)
            t0 = time.perf_counter()
            try:
                r = await http.post(f"/api/v1/tickets/{tid}/events",
                                    headers={"If-Match": f'"{seen[tid]}"'},
                                    json={"event": "send_update",
                                          "message": f"client {n}: still on it"})
            except httpx.TransportError:
                tally.transport_errors += 1
                continue
            tally.latencies.append(time.perf_counter() - t0)
            if r.is_success:
                version = int(r.headers["ETag"].strip('"'))
                tally.acked[tid].append(version)
                seen[tid] = max(seen[tid], version)
            elif r.status_code == 409:
                tally.conflicts += 1
                seen[tid] = max(seen[tid], int(r.json().get("version", seen[tid])))
            elif r.status_code >= 500:
                tally.server_errors[r.status_code] += 1
            else:
                tally.other[r.status_code] += 1


def _lost(url: str, ids: list[int], start: dict[int, int], tally: _Tally) -> int:
    """2xx answers the database does not bear out exactly once, in version order."""
    with connect(url, autocommit=True) as conn:
        stored = events_per_ticket(conn=conn, event="send_update", actor=_ACTOR)
        final = ticket_versions(conn=conn, ids=ids)
    lost = 0
    for tid in ids:
        acked = tally.acked.get(tid, [])
        lost += len(acked) - len(set(acked))                  # one version answered twice
        lost += abs(len(acked) - stored.get(tid, 0))           # answered, not stored (or v.v.)
        expected = set(range(start[tid] + 1, final[tid] + 1))  # every version since the start
        lost += len(expected ^ set(acked))
    return lost


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if values else 0.0


def run_api_bench(
    *, settings_url: str | None = None, clients: int = 50, tickets: int = 1000,
    seconds: float = 60.0,
) -> dict[str, Any]:
    """Run the concurrency benchmark; its figures."""
    # One INFO line per request would cost the clients more than their requests.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rw-bench-api-")))
        url, _, env = prepared_database(stack, settings_url, tmp, _fleet())
        ids, key = _seed(url, tickets)
        with connect(url, autocommit=True) as conn:
            start = ticket_versions(conn=conn, ids=ids)
        port = free_port()
        stack.enter_context(_api({**env, "ROBOWATCH_HOME": str(tmp / "home")}, port))
        tally = _Tally()
        seen = dict(start)

        async def crowd() -> None:
            until = time.monotonic() + seconds
            await asyncio.gather(*(_client(n, f"http://127.0.0.1:{port}", key, ids, seen,
                                           until, tally) for n in range(clients)))

        t0 = time.perf_counter()
        asyncio.run(crowd())
        elapsed = time.perf_counter() - t0
        ok = sum(len(v) for v in tally.acked.values())
        return {
            "api_clients": clients, "api_tickets": len(ids), "api_seconds": round(elapsed, 1),
            "api_requests": len(tally.latencies), "api_accepted": ok,
            "api_conflicts": tally.conflicts,
            "api_refused": dict(sorted(tally.other.items())),
            "api_transport_errors": tally.transport_errors,
            "api_events_per_s": round(ok / elapsed, 1),
            "api_requests_per_s": round(len(tally.latencies) / elapsed, 1),
            "api_p50_s": round(_pct(tally.latencies, 0.5), 4),
            "api_p99_s": round(_pct(tally.latencies, 0.99), 4),
            "lost_updates": _lost(url, ids, start, tally),
            "server_errors": sum(tally.server_errors.values()),
            "api_server_errors_by_status": dict(sorted(tally.server_errors.items())),
        }
