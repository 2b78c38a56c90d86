"""Batched, bounded writing of telemetry and quarantine records, with store-and-forward.

Points are buffered as columns and written by one binary COPY per batch in a worker thread
(the event loop never blocks on the database), flushed at ``max_rows`` or after ``max_delay_s``,
whichever comes first. The buffer is bounded: ``put`` waits when it is full, which stops the
transport from reading (and, for MQTT, from acknowledging) until the database catches up.

Callbacks given to ``put`` run once the batch holding those points is durable: committed, or,
while the database is unreachable, written and fsynced to the on-disk spool
(:mod:`collectors.spool`). The MQTT collector acknowledges messages there, so an
unacknowledged message is redelivered after a crash. While the spool holds anything, new
batches go behind it so the database receives batches in order; when the spool is full they
stay in memory and backpressure takes over. Duplicates from redelivery or replay are absorbed
by ``storage.telemetry.write_copy``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from collectors.columns import PointBuffer
from collectors.metrics import CollectorMetrics
from collectors.spool import Spool, SpoolFull
from collectors.supervise import RetryClock, RetryPolicy
from storage.connect import (
    Conn,
    DatabaseError,
    DatabaseUnavailable,
    connect,
    first_line,
    usable,
)
from storage.quarantine import Rejected, quarantine
from storage.telemetry import PointColumns, encode_copy, write_copy

__all__ = ["WriterConfig", "BatchWriter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterConfig:
    # 5,000 rows / 200 ms: the batch size and delay named in issue 4. Encoding and COPY of 5k
    # rows take ~2 ms + ~15 ms here (docs/performance.md), so the delay bounds ingest lag,
    # not throughput.
    max_rows: int = 5000
    max_delay_s: float = 0.2
    # Behind (more than max_rows buffered), one transaction takes up to this many: each commit
    # waits for a WAL flush, so 5k-row commits alone would cap ingest at ~5k x commits/s.
    max_batch_rows: int = 50_000
    max_buffered_rows: int = 200_000
    max_quarantined: int = 10_000
    retry_max_s: float = 5.0
    # None: no store-and-forward; a database outage is pure backpressure.
    spool_dir: Path | None = None
    spool_max_bytes: int = 1 << 30


class BatchWriter:
    def __init__(self, *, conninfo: str, metrics: CollectorMetrics,
                 config: WriterConfig | None = None) -> None:
        self._conninfo = conninfo
        self._metrics = metrics
        self._cfg = config or WriterConfig()
        self._cols = PointBuffer()
        # (points put so far when the message ended, sample time, callback): a message is
        # acknowledged once every one of its points is durable, whatever the batch boundaries.
        self._acks: list[tuple[int, float | None, Callable[[], None] | None]] = []
        self._put_total = 0
        self._written_total = 0
        self._rejects: list[tuple[Rejected, Callable[[], None] | None]] = []
        self._first_at: float | None = None
        self._wake = asyncio.Event()
        self._room = asyncio.Condition()
        self._closing = False
        self._conn: Conn | None = None
        self._spool = (Spool(directory=self._cfg.spool_dir, max_bytes=self._cfg.spool_max_bytes)
                       if self._cfg.spool_dir is not None else None)
        self._db_retry_at = 0.0
        self._db_backoff = RetryClock(RetryPolicy(initial_s=0.2, max_s=self._cfg.retry_max_s,
                                                  jitter_s=0.1))
        self._update_spool_metrics()

    # -- producer side -------------------------------------------------------------------
    async def put(self, *, time_us: Sequence[int], robot_id: Sequence[int],
                  signal_id: Sequence[int], value: Sequence[float | None], quality: Sequence[int],
                  sample_time: float | None = None,
                  on_commit: Callable[[], None] | None = None) -> None:
        """Queue the points of one message (equal-length columns).

        Waits while the buffer is full.
        """
        if len(self._cols) >= self._cfg.max_buffered_rows and not self._closing:
            async with self._room:
                await self._room.wait_for(
                    lambda: len(self._cols) < self._cfg.max_buffered_rows or self._closing)
        c = self._cols
        c.extend(time_us, robot_id, signal_id, value, quality)
        self._put_total = len(c) + self._written_total
        if sample_time is not None or on_commit is not None:
            self._acks.append((self._put_total, sample_time, on_commit))
        if self._first_at is None:
            # The flusher may be sleeping without a deadline: wake it to start the batch clock.
            self._first_at = time.monotonic()
            self._wake.set()
        elif len(c) >= self._cfg.max_rows:
            self._wake.set()

    def reject(self, item: Rejected, *, on_commit: Callable[[], None] | None = None) -> None:
        """Queue one rejected input for the quarantine table (never blocks); ``on_commit``
        runs once the quarantine record is durable."""
        self._metrics.rejected.labels(item.source, item.reason).inc()
        if len(self._rejects) >= self._cfg.max_quarantined:
            # Under a flood of garbage keep the count exact but not every payload.
            log.warning("quarantine buffer full; dropping payload of a %s reject", item.reason)
            if on_commit is not None:
                on_commit()
            return
        self._rejects.append((item, on_commit))
        self._wake.set()

    @property
    def buffered(self) -> int:
        return len(self._cols)

    # -- consumer side -------------------------------------------------------------------
    async def run(self) -> None:
        """Flush until ``close()``; then flush what is left and return. Whatever is still
        spooled at close is replayed by the next run."""
        blocked_until = 0.0
        try:
            while True:
                has_points = len(self._cols) > 0 or bool(self._rejects)
                spooled = self._spool is not None and len(self._spool) > 0
                if self._closing and not has_points:
                    return
                now = time.monotonic()
                if blocked_until > now:
                    timeout: float | None = blocked_until - now  # the database is down
                elif self._closing or len(self._cols) >= self._cfg.max_rows:
                    timeout = 0.0
                elif self._first_at is not None:
                    timeout = max(0.0, self._first_at + self._cfg.max_delay_s - now)
                elif self._rejects:
                    timeout = self._cfg.max_delay_s
                elif spooled:
                    timeout = max(0.0, self._db_retry_at - now)
                else:
                    timeout = None
                if timeout is None or timeout > 0:
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout)
                    except TimeoutError:
                        pass
                self._wake.clear()
                if time.monotonic() < blocked_until and not self._closing:
                    continue  # woken by a put: the database is still not due for a retry
                if has_points or spooled or self._cols or self._rejects:
                    if not await self._flush():
                        blocked_until = max(self._db_retry_at, time.monotonic() + 0.05)
        finally:
            if self._conn is not None:
                await asyncio.to_thread(self._conn.close)
                self._conn = None
            if self._spool is not None:
                self._spool.close()

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        async with self._room:
            self._room.notify_all()

    async def _flush(self) -> bool:
        """Write (or spool) one batch; False when it is still waiting for the database."""
        n = min(len(self._cols), max(self._cfg.max_rows, self._cfg.max_batch_rows))
        cols = self._cols.take(n) if n else None
        rejects = list(self._rejects)
        t0 = time.perf_counter()
        try:
            outcome = await asyncio.to_thread(self._store, cols, [r for r, _ in rejects])
        except Exception:  # noqa: BLE001 - a bug here must not lose the batch: keep it, retry
            log.exception("storing a batch of %d points failed; will retry", n)
            self._db_retry_at = time.monotonic() + self._db_backoff.failed()
            return False
        if outcome is None:
            return False
        self._metrics.write_latency.observe(time.perf_counter() - t0)
        # Producers may have added points while the batch was being written: cut only ours.
        self._cols.drop(n)
        del self._rejects[:len(rejects)]
        self._written_total += n
        n_done = 0
        while n_done < len(self._acks) and self._acks[n_done][0] <= self._written_total:
            n_done += 1
        done, self._acks = self._acks[:n_done], self._acks[n_done:]
        self._first_at = time.monotonic() if self._cols else None
        now = time.time()
        done.extend((0, None, ack) for _, ack in rejects)
        for _, ts, ack in done:
            if ts is not None and outcome == "committed":
                self._metrics.ingest_lag.observe(max(0.0, now - ts))
            if ack is not None:
                try:
                    ack()
                except Exception:  # noqa: BLE001 - a failed ack means redelivery, not loss
                    log.exception("acknowledgement callback failed")
        self._metrics.spool_depth.set(len(self._cols))
        async with self._room:
            self._room.notify_all()
        return True

    # -- worker thread ---------------------------------------------------------------------
    def _store(self, cols: PointColumns | None, rejects: list[Rejected]) -> str | None:
        """'committed', 'spooled', or None (nothing stored: retry later, keep the batch)."""
        data = encode_copy(cols) if cols is not None and len(cols) else None
        rows = len(cols) if cols is not None else 0
        empty = data is None and not rejects
        spool = self._spool
        if spool is not None and len(spool) and not self._replay():
            return None if empty else self._to_spool(data, rows, rejects)
        if empty:
            return "committed"
        if time.monotonic() < self._db_retry_at:
            return self._to_spool(data, rows, rejects)
        try:
            self._commit(data, rows, rejects)
        except DatabaseUnavailable as exc:
            self._db_down(exc)
            return self._to_spool(data, rows, rejects)
        except DatabaseError:
            # Refused by the database itself (not an outage): keep the batch, say so loudly.
            log.exception("database refused a batch of %d points", rows)
            self._db_retry_at = time.monotonic() + self._db_backoff.failed()
            return None
        self._db_backoff.succeeded()
        self._metrics.written.inc(rows)
        return "committed"

    def _to_spool(self, data: bytes | None, rows: int, rejects: list[Rejected]) -> str | None:
        if self._spool is None:
            return None
        try:
            self._spool.append(data=data or b"", rows=rows, rejects=rejects)
        except SpoolFull as exc:
            log.warning("%s; holding %d points in memory (backpressure)", exc, len(self._cols))
            return None
        self._metrics.spooled.inc(rows)
        self._update_spool_metrics()
        return "spooled"

    def _replay(self) -> bool:
        """Replay spooled segments oldest first; True once the spool is empty."""
        spool = self._spool
        assert spool is not None
        if time.monotonic() < self._db_retry_at:
            return False
        while (seg := spool.oldest()) is not None:
            try:
                self._commit(seg.data or None, seg.rows, seg.rejects)
            except DatabaseUnavailable as exc:
                self._db_down(exc)
                return False
            except DatabaseError:
                log.exception("database refused spool segment %s; moved aside as .bad", seg.path)
                spool.quarantine_bad(seg)
                continue
            spool.remove(seg)
            self._metrics.written.inc(seg.rows)
            self._metrics.replayed.inc(seg.rows)
            self._update_spool_metrics()
        self._db_backoff.succeeded()
        log.info("spool replayed; writing directly again")
        return True

    def _commit(self, data: bytes | None, rows: int, rejects: list[Rejected]) -> None:
        conn = self._conn
        if conn is None or not usable(conn):
            conn = self._conn = connect(self._conninfo)
        try:
            with conn.transaction():
                if data:
                    res = write_copy(conn=conn, data=data, rows=rows)
                    if res.deduplicated:
                        self._metrics.duplicates.inc(res.rows - res.inserted)
                        log.info("batch of %d points held %d already stored (redelivery/replay)",
                                 res.rows, res.rows - res.inserted)
                if rejects:
                    quarantine(conn=conn, items=rejects)
        except DatabaseUnavailable:
            conn.close()
            self._conn = None
            raise

    def _db_down(self, exc: Exception) -> None:
        delay = self._db_backoff.failed()
        self._db_retry_at = time.monotonic() + delay
        log.warning("database unreachable (%s); %s, retry in %.1fs", first_line(exc),
                    "spooling to disk" if self._spool is not None else "holding batches in memory",
                    delay)

    def _update_spool_metrics(self) -> None:
        if self._spool is not None:
            self._metrics.spool_bytes.set(self._spool.bytes)
            self._metrics.spool_segments.set(len(self._spool))
