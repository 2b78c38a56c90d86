"""A crowd larger than the worker threads, on a pool of two connections: every request is
answered, none with 503 (``api.admission``). Before the gate, the threads all waited for a
connection while the requests holding the two needed a thread to finish, until the pool's
timeout answered 503 (``bench ticketing``: 91 of 371 answers)."""

from __future__ import annotations

import asyncio

import httpx

from api import create_app
from tests.api.callers import bearer
from tests.api.seed import NOW
from tests.api.server import serve_in_thread

# AnyIO's worker threads per event loop (its default limiter): a crowd twice that size.
_THREADS = 40
_CROWD = 2 * _THREADS


async def _crowd(url: str, token: str, path: str) -> list[int]:
    limits = httpx.Limits(max_connections=_CROWD, max_keepalive_connections=_CROWD)
    async with httpx.AsyncClient(base_url=url, headers=bearer(token), timeout=120,
                                 limits=limits) as http:
        answers = await asyncio.gather(*(http.get(path) for _ in range(_CROWD)))
    return [r.status_code for r in answers]


def test_a_crowd_queues_for_the_pool_instead_of_failing(db_url: str, admin_token: str) -> None:
    # A short pool timeout: a request that waited for a connection in a thread would fail.
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=2, pool_timeout=2.0)
    with serve_in_thread(app) as url:
        statuses = asyncio.run(_crowd(url, admin_token, "/api/v1/tickets?limit=5"))
    assert statuses == [200] * _CROWD


def test_one_place_serves_refusals_health_and_a_crowd(db_url: str, admin_token: str) -> None:
    # One place: a refused caller still gets its 401, /healthz (outside the gate) answers,
    # and the crowd is served one at a time.
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=1, pool_timeout=2.0)
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/api/v1/tickets", timeout=30).status_code == 401
        assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200
        assert asyncio.run(_crowd(url, admin_token, "/api/v1/robots?limit=1")) == [200] * _CROWD
