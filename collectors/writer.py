"""Batched, bounded writing of telemetry and quarantine records.

Rows are buffered and written by binary COPY in a worker thread (the event loop never
blocks on the database), flushed at ``max_rows`` or after ``max_delay`` seconds, whichever
comes first. The buffer is bounded: ``put`` waits when it is full, which stops the transport
from reading (and, for MQTT, from acknowledging) until the database catches up. Callbacks
given to ``put`` run after the batch holding those rows is committed: the MQTT collector
acknowledges messages there, so an unacknowledged message is redelivered after a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg

from collectors.metrics import CollectorMetrics
from storage.quarantine import Rejected, quarantine
from storage.telemetry import TelemetryRow, copy_rows

__all__ = ["WriterConfig", "BatchWriter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterConfig:
    # 5,000 rows / 200 ms: the batch size and delay named in issue 4; a COPY of 5k narrow rows
    # takes a few ms here, so the delay bounds ingest lag, not throughput.
    max_rows: int = 5000
    max_delay_s: float = 0.2
    max_buffered_rows: int = 200_000
    max_quarantined: int = 10_000
    retry_max_s: float = 5.0


class BatchWriter:
    def __init__(self, *, conninfo: str, metrics: CollectorMetrics,
                 config: WriterConfig | None = None) -> None:
        self._conninfo = conninfo
        self._metrics = metrics
        self._cfg = config or WriterConfig()
        self._rows: list[TelemetryRow] = []
        # (rows put so far when the message ended, callback): a message is acknowledged once
        # every one of its rows is committed, whatever the batch boundaries.
        self._acks: list[tuple[int, float | None, Callable[[], None] | None]] = []
        self._put_total = 0
        self._written_total = 0
        self._rejects: list[tuple[Rejected, Callable[[], None] | None]] = []
        self._first_at: float | None = None
        self._wake = asyncio.Event()
        self._room = asyncio.Condition()
        self._closing = False
        self._conn: psycopg.Connection | None = None
        self._error: BaseException | None = None

    # -- producer side -------------------------------------------------------------------
    async def put(self, rows: Sequence[TelemetryRow], *, sample_time: float | None = None,
                  on_commit: Callable[[], None] | None = None) -> None:
        if self._error is not None:
            raise RuntimeError("writer failed") from self._error
        async with self._room:
            await self._room.wait_for(
                lambda: len(self._rows) < self._cfg.max_buffered_rows or self._closing
            )
        self._rows.extend(rows)
        self._put_total += len(rows)
        if sample_time is not None or on_commit is not None:
            self._acks.append((self._put_total, sample_time, on_commit))
        self._metrics.spool_depth.set(len(self._rows))
        if self._first_at is None:
            # The flusher may be sleeping without a deadline: wake it to start the batch clock.
            self._first_at = time.monotonic()
            self._wake.set()
        elif len(self._rows) >= self._cfg.max_rows:
            self._wake.set()

    def reject(self, item: Rejected, *, on_commit: Callable[[], None] | None = None) -> None:
        """Queue one rejected input for the quarantine table (never blocks); ``on_commit``
        runs once the quarantine record is committed."""
        self._metrics.rejected.labels(item.source, item.reason).inc()
        if len(self._rejects) >= self._cfg.max_quarantined:
            # Under a flood of garbage keep the count exact but not every payload.
            log.warning("quarantine buffer full; dropping payload of a %s reject", item.reason)
            if on_commit is not None:
                on_commit()
            return
        self._rejects.append((item, on_commit))
        self._wake.set()

    # -- consumer side -------------------------------------------------------------------
    async def run(self) -> None:
        """Flush until ``close()``; then flush what is left and return."""
        try:
            while True:
                if self._closing:
                    if not (self._rows or self._rejects):
                        return
                    timeout: float | None = 0.0  # drain without waiting for the batch clock
                elif len(self._rows) >= self._cfg.max_rows:
                    timeout = 0.0  # a full batch is waiting already
                elif self._first_at is not None:
                    timeout = max(0.0, self._first_at + self._cfg.max_delay_s - time.monotonic())
                elif self._rejects:
                    timeout = self._cfg.max_delay_s
                else:
                    timeout = None
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
                self._wake.clear()
                if self._rows or self._rejects:
                    await self._flush()
        finally:
            if self._conn is not None:
                await asyncio.to_thread(self._conn.close)
                self._conn = None

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        async with self._room:
            self._room.notify_all()

    async def _flush(self) -> None:
        rows = self._rows[: self._cfg.max_rows] if self._rows else []
        rejects, self._rejects = self._rejects, []
        delay = 0.1
        while True:
            try:
                t0 = time.perf_counter()
                await asyncio.to_thread(self._write, rows, [r for r, _ in rejects])
                self._metrics.write_latency.observe(time.perf_counter() - t0)
                break
            except psycopg.Error as exc:
                log.warning("write of %d rows failed (%s); retrying in %.1fs",
                            len(rows), str(exc).strip().splitlines()[0] if str(exc) else exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._cfg.retry_max_s)
        # Producers may have added rows while the batch was being written: cut only ours.
        del self._rows[: len(rows)]
        self._written_total += len(rows)
        n_done = 0
        while n_done < len(self._acks) and self._acks[n_done][0] <= self._written_total:
            n_done += 1
        done, self._acks = self._acks[:n_done], self._acks[n_done:]
        self._first_at = time.monotonic() if self._rows else None
        self._metrics.written.inc(len(rows))
        self._metrics.spool_depth.set(len(self._rows))
        now = time.time()
        done.extend((0, None, ack) for _, ack in rejects)
        for _, ts, ack in done:
            if ts is not None:
                self._metrics.ingest_lag.observe(max(0.0, now - ts))
            if ack is not None:
                try:
                    ack()
                except Exception:  # noqa: BLE001 - a failed ack means redelivery, not loss
                    log.exception("acknowledgement callback failed")
        async with self._room:
            self._room.notify_all()

    def _write(self, rows: list[TelemetryRow], rejects: list[Rejected]) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo)
        conn = self._conn
        try:
            with conn.transaction():
                if rows:
                    copy_rows(conn=conn, rows=rows)
                if rejects:
                    quarantine(conn=conn, items=rejects)
        except psycopg.OperationalError:
            conn.close()
            self._conn = None
            raise
