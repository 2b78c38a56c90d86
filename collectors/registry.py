"""Robot and signal ids for incoming codes, cached and refreshed from the database."""

from __future__ import annotations

import asyncio
import logging
import time

from storage.connect import connect
from storage.fleet import ensure_signals, robot_ids, robot_ids_by_serial, signal_ids

__all__ = ["Registry"]

log = logging.getLogger(__name__)


class Registry:
    """Caches ``robots`` and ``signals``; an unknown robot triggers at most one refresh per
    ``refresh_every`` seconds, so a flood of messages from an unregistered robot costs nothing."""

    def __init__(self, *, conninfo: str, refresh_every: float = 10.0) -> None:
        self._conninfo = conninfo
        self._refresh_every = refresh_every
        self.robots: dict[str, int] = {}
        self.serials: dict[str, int] = {}
        self.signals: dict[str, int] = {}
        self._refreshed = 0.0
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        self.robots, self.serials, self.signals = await asyncio.to_thread(self._read)
        self._refreshed = time.monotonic()
        log.info("registry: %d robots, %d signals", len(self.robots), len(self.signals))

    def _read(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        with connect(self._conninfo) as conn:
            return robot_ids(conn=conn), robot_ids_by_serial(conn=conn), signal_ids(conn=conn)

    async def _lookup(self, by_serial: bool, key: str) -> int | None:
        rid = (self.serials if by_serial else self.robots).get(key)
        if rid is None and time.monotonic() - self._refreshed > self._refresh_every:
            async with self._lock:
                if time.monotonic() - self._refreshed > self._refresh_every:
                    await self.load()
            rid = (self.serials if by_serial else self.robots).get(key)
        return rid

    async def robot_id(self, code: str) -> int | None:
        return await self._lookup(False, code)

    async def robot_id_by_serial(self, serial: str) -> int | None:
        return await self._lookup(True, serial)

    async def signal_ids_for(self, names: list[str]) -> dict[str, int]:
        """Ids for ``names``, registering new (already validated) names."""
        missing = [n for n in names if n not in self.signals]
        if missing:
            async with self._lock:
                missing = [n for n in names if n not in self.signals]
                if missing:
                    self.signals = await asyncio.to_thread(self._register, missing)
        return self.signals

    def _register(self, names: list[str]) -> dict[str, int]:
        with connect(self._conninfo) as conn:
            out = ensure_signals(conn=conn, names=names)
            conn.commit()
            return out
