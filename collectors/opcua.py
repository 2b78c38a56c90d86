"""OPC UA collector: browse robots, subscribe to their variables, write values with quality.

One supervisor task per endpoint owns the connection: connect, browse, subscribe, wait
for loss, record the data gap, back off (exponential, capped, with jitter), and start over
with a fresh session. A failed resubscription is a failed reconnect, never logged and
ignored. Bad-quality values are stored as such (value NULL, quality 2), not as readings.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from asyncua import Client, Node, ua

from collectors.backoff import Backoff, sleep_or_stop
from collectors.errors import CollectorConfigError
from collectors.metrics import CollectorMetrics
from collectors.registry import Registry
from collectors.writer import BatchWriter
from storage.connect import connect
from storage.gaps import close_gap, open_gap
from storage.quarantine import Rejected
from storage.telemetry import QUALITY_BAD, QUALITY_GOOD, QUALITY_UNCERTAIN, TelemetryRow

__all__ = ["OpcUaConfig", "OpcUaCollector", "browse_name_to_signal", "shard_of"]

log = logging.getLogger(__name__)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_JOINT = re.compile(r"^J\d{1,2}$")


def browse_name_to_signal(path: list[str]) -> str | None:
    """``['Joints', 'J3', 'Temperature']`` -> ``'J3.temperature'``;
    ``['Controller', 'CycleCount']`` -> ``'cycle_count'``; anything else -> None."""
    if len(path) == 3 and path[0] == "Joints" and _JOINT.match(path[1]):
        return f"{path[1]}.{_CAMEL.sub('_', path[2]).lower()}"
    if len(path) == 2 and path[0] == "Controller":
        return _CAMEL.sub("_", path[1]).lower()
    return None


def shard_of(endpoint_url: str, shards: int) -> int:
    """Deterministic shard of an endpoint, so N collector processes split endpoints stably."""
    return zlib.crc32(endpoint_url.encode()) % shards


@dataclass(frozen=True, slots=True, kw_only=True)
class OpcUaConfig:
    url: str
    username: str | None = None
    password: str | None = None
    publishing_interval_ms: int = 100
    sampling_interval_ms: float = 0.0
    queue_size: int = 10
    backoff_max_s: float = 30.0
    timeout_s: float = 5.0
    max_browse_depth: int = 6


@dataclass(frozen=True, slots=True)
class _Target:
    robot_id: int
    signal_id: int


class _Handler:
    """Subscription callbacks; values go to the writer in small batches."""

    def __init__(self, collector: OpcUaCollector, targets: dict[Any, _Target]) -> None:
        self._c = collector
        self._targets = targets

    async def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        target = self._targets.get(node.nodeid)
        if target is None:
            return
        dv = data.monitored_item.Value
        await self._c.accept(target, val, dv.SourceTimestamp or dv.ServerTimestamp,
                             dv.StatusCode, str(node.nodeid))

    async def status_change_notification(self, status: Any) -> None:
        log.warning("OPC UA subscription status changed: %s", status)
        self._c.lost.set()


class OpcUaCollector:
    def __init__(self, *, config: OpcUaConfig, writer: BatchWriter, registry: Registry,
                 metrics: CollectorMetrics, conninfo: str) -> None:
        if urlsplit(config.url).scheme != "opc.tcp":
            raise CollectorConfigError(f"bad OPC UA URL {config.url!r}")
        self._cfg = config
        self._writer = writer
        self._registry = registry
        self._metrics = metrics
        self._conninfo = conninfo
        self.lost = asyncio.Event()
        self.subscribed = asyncio.Event()
        self.subscribed_count = 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(max_s=self._cfg.backoff_max_s)
        gap_id: int | None = None
        while not stop.is_set():
            client = Client(self._cfg.url, timeout=self._cfg.timeout_s)
            if self._cfg.username:
                client.set_user(self._cfg.username)
                client.set_password(self._cfg.password or "")
            self.lost.clear()

            async def on_lost(exc: Exception) -> None:
                log.warning("OPC UA connection to %s lost: %r", self._cfg.url, exc)
                self.lost.set()

            client.connection_lost_callback = on_lost
            try:
                await client.connect()
                n = await self._subscribe(client)
            except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
                delay = backoff.next_delay()
                log.warning("OPC UA %s unavailable: %r; retry in %.1fs", self._cfg.url, exc, delay)
                await _safe_disconnect(client)
                if gap_id is None:
                    gap_id = await self._gap_open(reason=f"connect failed: {exc!r}"[:200])
                await sleep_or_stop(stop, delay)
                continue
            backoff.reset()
            if gap_id is not None:
                await self._gap_close(gap_id)
                gap_id = None
            self.subscribed_count = n
            self.subscribed.set()
            self._metrics.connected.labels(self._cfg.url).set(1)
            log.info("OPC UA %s: subscribed to %d variables", self._cfg.url, n)
            waiters = {asyncio.create_task(self.lost.wait()), asyncio.create_task(stop.wait())}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            self.subscribed.clear()
            self._metrics.connected.labels(self._cfg.url).set(0)
            if not stop.is_set():
                gap_id = await self._gap_open(reason="connection lost")
            await _safe_disconnect(client)
        if gap_id is not None:
            await self._gap_close(gap_id)

    async def _subscribe(self, client: Client) -> int:
        objects = client.nodes.objects
        found: list[tuple[Node, str, str]] = []  # node, robot code, signal name
        await self._browse(objects, [], found, depth=0)
        if not found:
            raise ConnectionError("no robot variables found in the address space")
        targets: dict[Any, _Target] = {}
        unknown: set[str] = set()
        ids = await self._registry.signal_ids_for(sorted({s for _, _, s in found}))
        for node, robot, signal in found:
            rid = await self._registry.robot_id(robot)
            if rid is None:
                unknown.add(robot)
                continue
            targets[node.nodeid] = _Target(rid, ids[signal])
        for robot in sorted(unknown):
            log.warning("OPC UA %s serves unregistered robot %r; not collected", self._cfg.url, robot)
            self._writer.reject(Rejected(source="opcua", origin=self._cfg.url, reason="unknown_robot",
                                         detail=f"robot {robot!r} is not registered", payload=None))
        if not targets:
            raise ConnectionError("none of the robots on this server is registered")
        sub = await client.create_subscription(self._cfg.publishing_interval_ms, _Handler(self, targets))
        nodes = [client.get_node(nid) for nid in targets]
        results = await sub.subscribe_data_change(
            nodes, queuesize=self._cfg.queue_size, sampling_interval=self._cfg.sampling_interval_ms
        )
        failed = [r for r in results if not isinstance(r, int)]
        if failed:
            raise ConnectionError(f"{len(failed)} of {len(nodes)} monitored items failed: {failed[0]}")
        return len(nodes)

    async def _browse(self, node: Node, path: list[str], out: list[tuple[Node, str, str]],
                      depth: int) -> None:
        if depth > self._cfg.max_browse_depth:
            return
        children = await node.get_children(refs=ua.ObjectIds.HierarchicalReferences)
        names = {}
        for child in children:
            if child.nodeid == ua.NodeId(ua.ObjectIds.Server):
                continue
            names[child] = (await child.read_browse_name()).Name
        if {"Joints", "Controller"} & set(names.values()):
            robot = path[-1] if path else None
            if robot is not None:
                await self._collect_robot(node, robot, out)
                return
        for child, name in names.items():
            cls = await child.read_node_class()
            if cls == ua.NodeClass.Object:
                await self._browse(child, [*path, name], out, depth + 1)

    async def _collect_robot(self, robot_node: Node, robot: str,
                             out: list[tuple[Node, str, str]]) -> None:
        async def walk(node: Node, rel: list[str]) -> None:
            for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
                name = (await child.read_browse_name()).Name
                cls = await child.read_node_class()
                if cls == ua.NodeClass.Variable:
                    signal = browse_name_to_signal([*rel, name])
                    if signal is not None:
                        out.append((child, robot, signal))
                elif cls == ua.NodeClass.Object and len(rel) < 2:
                    await walk(child, [*rel, name])

        await walk(robot_node, [])

    async def accept(self, target: _Target, val: Any, ts: datetime | None, status: Any,
                     origin: str) -> None:
        now = time.time()
        when = ts if ts is not None else datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        quality = QUALITY_GOOD
        if status is not None and not status.is_good():
            quality = QUALITY_UNCERTAIN if status.is_uncertain() else QUALITY_BAD
        value: float | None
        if quality == QUALITY_BAD:
            value = None
        elif isinstance(val, bool | int | float) and val == val and abs(float(val)) != float("inf"):
            value = float(val)
        else:
            self._writer.reject(Rejected(source="opcua", origin=origin, reason="not_a_number",
                                         detail=f"value {val!r} is not a finite number",
                                         payload=repr(val).encode()[:1024]))
            return
        self._metrics.received.labels("opcua").inc()
        row: TelemetryRow = (when, target.robot_id, target.signal_id, value, quality)
        await self._writer.put([row], sample_time=when.timestamp() if ts else now)

    async def _gap_open(self, *, reason: str) -> int:
        def op() -> int:
            with connect(self._conninfo) as conn:
                gid = open_gap(conn=conn, source="opcua", origin=self._cfg.url,
                               started_at=datetime.now(UTC), reason=reason)
                conn.commit()
                return gid
        try:
            return await asyncio.to_thread(op)
        except Exception:  # noqa: BLE001 - the gap record is best effort when the DB is down too
            log.exception("could not record data gap start for %s", self._cfg.url)
            return -1

    async def _gap_close(self, gap_id: int) -> None:
        if gap_id < 0:
            return

        def op() -> None:
            with connect(self._conninfo) as conn:
                close_gap(conn=conn, gap_id=gap_id, ended_at=datetime.now(UTC))
                conn.commit()
        try:
            await asyncio.to_thread(op)
        except Exception:  # noqa: BLE001
            log.exception("could not record data gap end for %s", self._cfg.url)


async def _safe_disconnect(client: Client) -> None:
    try:
        await asyncio.wait_for(client.disconnect(), 5)
    except Exception:  # noqa: BLE001 - the connection is already broken; nothing to save
        log.debug("disconnect after failure raised", exc_info=True)
