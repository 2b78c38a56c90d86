"""Database fixtures: one real PostgreSQL per test session, one fresh database per test.

``ROBOWATCH_TEST_DSN`` points at an existing server (any database on it; the fixtures create
and drop their own). Otherwise an embedded PostgreSQL is started in a temporary directory.
The schema is migrated once into a template database; each test gets a copy
(``CREATE DATABASE ... TEMPLATE``), so tests are isolated and can commit freely.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo as ci

from storage.migrate import upgrade

_TEMPLATE = "robowatch_test_template"
_counter = itertools.count()


def _with_dbname(url: str, dbname: str) -> str:
    params = ci.conninfo_to_dict(url)
    params["dbname"] = dbname
    return ci.make_conninfo("", **params)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Admin URL of a running PostgreSQL server."""
    dsn = os.environ.get("ROBOWATCH_TEST_DSN")
    if dsn:
        try:
            psycopg.connect(dsn, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            pytest.exit(f"ROBOWATCH_TEST_DSN is set but the database is unreachable: {exc}", 2)
        yield dsn
        return
    from storage.embedded import EmbeddedPostgres

    # A directory this session owns: pytest prunes its numbered temp folders when other
    # sessions start, and PostgreSQL shuts down when its data directory disappears. Short,
    # too: the server's Unix socket lives in the data directory (107-byte limit).
    base = Path(tempfile.mkdtemp(prefix="rwpg-"))
    server = EmbeddedPostgres(base / "data")
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any failure here means no test can run
        pytest.exit(f"could not start embedded PostgreSQL: {exc}", 2)
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> str:
    """Name of a database holding the migrated schema, used as template for each test."""
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{_TEMPLATE}"')
    upgrade(_with_dbname(pg_server, _TEMPLATE))
    return _TEMPLATE


@pytest.fixture
def db_url(pg_server: str, pg_template: str) -> Iterator[str]:
    """URL of a fresh, migrated database for this test alone; dropped afterwards."""
    name = f"rw_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield _with_dbname(pg_server, name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """A connection to this test's own database."""
    with psycopg.connect(db_url) as conn:
        yield conn
