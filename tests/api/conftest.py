from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest

from api import create_app
from tests.api.callers import bearer, token_for
from tests.api.seed import NOW
from tests.api.server import serve_in_thread


@pytest.fixture
def base_url(db_url: str) -> Iterator[str]:
    """The app on this test's database under uvicorn, with the clock fixed at ``seed.NOW``."""
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=2)
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def admin_token(db_url: str) -> str:
    """A session of an administrator, who may read everything."""
    with psycopg.connect(db_url) as conn:
        return token_for(conn, "admin", "admin")


@pytest.fixture
def client(base_url: str, admin_token: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in as an administrator."""
    with httpx.Client(base_url=base_url, timeout=10, headers=bearer(admin_token)) as c:
        yield c


@pytest.fixture
def anonymous(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client with no credentials."""
    with httpx.Client(base_url=base_url, timeout=10) as c:
        yield c
