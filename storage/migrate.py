"""Versioned SQL migrations for both dialects.

A migration is ``migrations/NNNN_name.sql`` (both dialects) or ``NNNN_name.<dialect>.sql``.
Each is applied once, in order, inside its own transaction unless its first line carries
``robowatch:no-transaction``; the ``schema_version`` table records version, name, dialect and
checksum. Applying is idempotent and safe to race: an advisory lock serialises starters.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import psycopg

__all__ = ["Dialect", "Migration", "MigrationError", "applied_versions", "detect_dialect",
           "load_migrations", "render_ddl", "upgrade"]

log = logging.getLogger(__name__)

Dialect = Literal["postgres", "timescale"]
DIALECTS: tuple[Dialect, ...] = ("postgres", "timescale")
_LOCK_KEY = 0x726F626F  # 'robo': one advisory lock id for schema changes
_NO_TX = "robowatch:no-transaction"


class MigrationError(RuntimeError):
    """The database's schema history does not match the migrations shipped with this code."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    @property
    def transactional(self) -> bool:
        return _NO_TX not in self.sql.split("\n", 1)[0]


def load_migrations(dialect: Dialect) -> list[Migration]:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {DIALECTS}")
    found: dict[int, Migration] = {}
    for entry in resources.files("storage.migrations").iterdir():
        fname = entry.name
        if not fname.endswith(".sql"):
            continue
        parts = fname[:-4].split(".")
        if len(parts) == 2 and parts[1] != dialect:
            continue
        head = parts[0]
        version = int(head.split("_", 1)[0])
        if version in found:
            raise MigrationError(f"two migrations claim version {version}: {fname}")
        found[version] = Migration(version, head, entry.read_text(encoding="utf-8"))
    versions = sorted(found)
    # Contiguous: a missing file is caught by its number, and work that lands later takes the
    # next free number when it is merged, so a database never meets a lower pending version.
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions are not contiguous: {versions}")
    return [found[v] for v in versions]


def render_ddl(dialect: Dialect) -> str:
    """The full DDL of a dialect, as it would be applied to an empty database."""
    chunks = [f"-- robowatch schema, dialect: {dialect}\n"]
    for m in load_migrations(dialect):
        chunks.append(f"\n-- ===== migration {m.version}: {m.name} =====\n{m.sql.rstrip()}\n")
    return "".join(chunks)


def detect_dialect(conn: psycopg.Connection) -> Dialect:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return "timescale" if row else "postgres"


def _ensure_version_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_version (
            version     integer PRIMARY KEY,
            name        text NOT NULL,
            dialect     text NOT NULL,
            checksum    text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def applied_versions(conn: psycopg.Connection) -> dict[int, tuple[str, str, str]]:
    """version -> (name, dialect, checksum) of what this database has applied."""
    if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
        return {}
    rows = conn.execute("SELECT version, name, dialect, checksum FROM schema_version").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def upgrade(conninfo: str, dialect: Dialect | None = None) -> list[Migration]:
    """Bring the database at ``conninfo`` to the newest schema; return what was applied."""
    applied: list[Migration] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            _ensure_version_table(conn)
            done = applied_versions(conn)
            dialects = {d for (_, d, _) in done.values()}
            if len(dialects) > 1:
                raise MigrationError(f"schema_version mixes dialects {sorted(dialects)}")
            chosen: Dialect = (
                dialects.pop() if dialects else (dialect or detect_dialect(conn))  # type: ignore[assignment]
            )
            if dialect and chosen != dialect:
                raise MigrationError(f"database was built for {chosen!r}, asked for {dialect!r}")
            for m in load_migrations(chosen):
                if m.version in done:
                    name, _, checksum = done[m.version]
                    if checksum != m.checksum:
                        log.warning("migration %s (%s) changed since it was applied",
                                    m.version, name)
                    continue
                log.info("applying migration %04d %s (%s)", m.version, m.name, chosen)
                record = (
                    "INSERT INTO schema_version (version, name, dialect, checksum) "
                    "VALUES (%s, %s, %s, %s)"
                )
                params = (m.version, m.name, chosen, m.checksum)
                if m.transactional:
                    with conn.transaction():
                        conn.execute(m.sql.encode())
                        conn.execute(record, params)
                else:
                    conn.execute(m.sql.encode())
                    conn.execute(record, params)
                applied.append(m)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied
