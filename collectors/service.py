"""One collector process: a shared writer and registry, any number of transports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from collectors.metrics import CollectorMetrics
from collectors.mqtt import MqttCollector, MqttConfig
from collectors.opcua import OpcUaCollector, OpcUaConfig
from collectors.registry import Registry
from collectors.writer import BatchWriter, WriterConfig
from storage.connect import connect
from storage.telemetry import ensure_partitions

__all__ = ["run_collectors"]

# On plain PostgreSQL telemetry is partitioned by day and partitions must exist before their
# day starts (rows with no partition fall into the DEFAULT one, which then blocks creating
# that day's partition). The processes that write telemetry keep a week ahead.
PARTITIONS_EVERY_S = 3600.0

log = logging.getLogger(__name__)


async def run_collectors(
    *,
    conninfo: str,
    stop: asyncio.Event,
    mqtt: MqttConfig | None = None,
    opcua: Sequence[OpcUaConfig] = (),
    metrics: CollectorMetrics | None = None,
    writer_config: WriterConfig | None = None,
) -> None:
    """Run until ``stop`` is set, then drain the writer so nothing received is left unwritten."""
    if mqtt is None and not opcua:
        raise ValueError("nothing to collect: give an MQTT config or OPC UA endpoints")
    metrics = metrics or CollectorMetrics()
    registry = Registry(conninfo=conninfo)
    await registry.load()
    writer = BatchWriter(conninfo=conninfo, metrics=metrics, config=writer_config)
    writer_task = asyncio.create_task(writer.run(), name="writer")
    partitions = asyncio.create_task(_keep_partitions_ahead(conninfo, stop), name="partitions")
    sources: list[asyncio.Task[None]] = []
    if mqtt is not None:
        m = MqttCollector(config=mqtt, writer=writer, registry=registry, metrics=metrics)
        sources.append(asyncio.create_task(m.run(stop), name="mqtt"))
    for cfg in opcua:
        o = OpcUaCollector(config=cfg, writer=writer, registry=registry, metrics=metrics,
                           conninfo=conninfo)
        sources.append(asyncio.create_task(o.run(stop), name=f"opcua {cfg.url}"))
    try:
        # A transport that fails for good (e.g. refused credentials) ends the process loudly.
        done, _ = await asyncio.wait([*sources, asyncio.create_task(stop.wait())],
                                     return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t in sources and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
    finally:
        stop.set()
        for t in sources:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(t, 10)
        await writer.close()
        await writer_task
        await partitions  # returns once stop is set
        log.info("collectors stopped; writer drained")


def _ensure_partitions(conninfo: str) -> int:
    with connect(conninfo, autocommit=True) as conn:
        return ensure_partitions(conn=conn)


async def _keep_partitions_ahead(conninfo: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            created = await asyncio.to_thread(_ensure_partitions, conninfo)
            if created:
                log.info("created %d telemetry partitions ahead", created)
        except Exception:  # noqa: BLE001 - retried next hour; the DEFAULT partition catches rows
            log.exception("could not create telemetry partitions ahead")
        try:
            await asyncio.wait_for(stop.wait(), PARTITIONS_EVERY_S)
        except TimeoutError:
            pass
