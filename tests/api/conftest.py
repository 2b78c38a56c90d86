from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api import create_app
from tests.api.seed import NOW
from tests.api.server import serve_in_thread


@pytest.fixture
def base_url(db_url: str) -> Iterator[str]:
    """The app on this test's database under uvicorn, with the clock fixed at ``seed.NOW``."""
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=2)
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as c:
        yield c
