"""Robots a source declared offline (Sparkplug NDEATH/DDEATH), recorded as data gaps.

A gap tells the detectors that a silence is an absence, not a flat line. One open gap per
robot: a second death while offline changes nothing, a birth closes it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from storage.gaps import record_gap_end, record_gap_start

__all__ = ["OfflineBook"]

log = logging.getLogger(__name__)


class OfflineBook:
    def __init__(self, *, conninfo: str, source: str) -> None:
        self._conninfo = conninfo
        self._source = source
        self._open: dict[int, int] = {}  # robot id -> open gap id

    def is_offline(self, robot_id: int) -> bool:
        return robot_id in self._open

    async def offline(self, *, robot_id: int, origin: str, reason: str) -> None:
        if robot_id in self._open:
            return

        try:
            self._open[robot_id] = await asyncio.to_thread(
                record_gap_start, self._conninfo, source=self._source, origin=origin,
                robot_id=robot_id, started_at=datetime.now(UTC), reason=reason[:200])
        except Exception:  # noqa: BLE001 - the gap record is best effort when the DB is down
            log.exception("could not record that robot %d went offline (%s)", robot_id, reason)

    async def online(self, *, robot_id: int) -> None:
        gap_id = self._open.get(robot_id)
        if gap_id is None:
            return

        try:
            await asyncio.to_thread(record_gap_end, self._conninfo, gap_id=gap_id,
                                    ended_at=datetime.now(UTC))
            del self._open[robot_id]
        except Exception:  # noqa: BLE001 - kept open; closed at the next birth
            log.exception("could not record that robot %d is back", robot_id)
