"""One collector process: a shared writer and registry, any number of transports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from collectors.errors import CollectorError, SourceRefused
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
# A transport drains in well under a second (its last batch goes to the writer's buffer).
SOURCE_STOP_S = 10.0

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
        m = MqttCollector(config=mqtt, writer=writer, registry=registry, metrics=metrics,
                          conninfo=conninfo)
        sources.append(asyncio.create_task(m.run(stop), name="mqtt"))
    for cfg in opcua:
        o = OpcUaCollector(config=cfg, writer=writer, registry=registry, metrics=metrics,
                           conninfo=conninfo)
        sources.append(asyncio.create_task(o.run(stop), name=f"opcua {cfg.url}"))
    stopper = asyncio.create_task(stop.wait(), name="stop")
    failure: BaseException | None = None
    done: set[asyncio.Task[Any]] = set()
    try:
        # Until stop, nothing may end: a transport that ends has failed (refused credentials,
        # a bug), and so has a writer that ends before close(). Either ends the process loudly.
        done, _ = await asyncio.wait([*sources, writer_task, stopper],
                                     return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not stopper:
                failure = failure or _report(t, stop)
    finally:
        stop.set()
        stopper.cancel()
        for t in sources:
            if not (await asyncio.wait([t], timeout=SOURCE_STOP_S))[0]:
                log.error("%s did not stop within %.0fs; cancelled", t.get_name(), SOURCE_STOP_S)
                t.cancel()
                await asyncio.wait([t])
            if t not in done:
                failure = failure or _report(t, stop)
        await writer.close()
        await asyncio.wait([writer_task])
        if writer_task not in done:
            failure = failure or _report(writer_task, stop)
        await partitions  # returns once stop is set
        log.info("collectors stopped; writer drained")
    if failure is not None:
        raise failure


def _report(task: asyncio.Task[Any], stop: asyncio.Event) -> BaseException | None:
    """Log how a component ended unless it ended as asked; return its error, if any."""
    if task.cancelled():
        return None
    exc = task.exception()
    if exc is None:
        if not stop.is_set():
            log.error("%s ended without being asked to stop", task.get_name())
            return CollectorError(f"{task.get_name()} ended without being asked to stop")
        return None
    if isinstance(exc, SourceRefused):
        log.error("%s stopped: %s", task.get_name(), exc)  # our configuration, not a bug
    else:
        log.error("%s failed", task.get_name(), exc_info=exc)
    return exc


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
