"""Which database a process uses: the configured URL, or the embedded one under ``home``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from robowatch.settings import Settings
from storage.connect import wait_for_database
from storage.embedded import EmbeddedPostgres
from storage.migrate import upgrade

__all__ = ["database"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def database(settings: Settings, *, migrate: bool = True) -> Iterator[str]:
    """Yield a ready, migrated database URL; an embedded server started here is stopped after.

    An embedded server that was already running (the demo's, used by a second command) is
    reused and left running.
    """
    server: EmbeddedPostgres | None = None
    if settings.database_url:
        url = settings.database_url
        wait_for_database(url, timeout=60)
    else:
        settings.home.mkdir(parents=True, exist_ok=True)
        server = EmbeddedPostgres(settings.home / "pgdata")
        url = server.start()
    try:
        if migrate:
            for m in upgrade(url):
                log.info("schema migrated to %04d %s", m.version, m.name)
        yield url
    finally:
        if server is not None and server.started_here:
            server.stop()
