"""OPC UA collector: browse robots, subscribe to their variables, write values with quality.

One supervisor task per endpoint owns the connection: connect, browse, subscribe, wait
for loss, record the data gap, back off (exponential, capped, with jitter), and start over
with a fresh session. A failed resubscription is a failed reconnect, never logged and
ignored. Bad-quality values are stored as such (value NULL, quality 2), not as readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from asyncua import Client, Node, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from collectors.backoff import Backoff, sleep_or_stop
from collectors.columns import PointBuffer
from collectors.errors import CollectorConfigError
from collectors.metrics import CollectorMetrics
from collectors.registry import Registry
from collectors.writer import BatchWriter
from storage.connect import connect
from storage.gaps import close_gap, open_gap
from storage.quarantine import Rejected
from storage.telemetry import QUALITY_BAD, QUALITY_GOOD, QUALITY_UNCERTAIN

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
    # "None", "Sign" or "SignAndEncrypt" (policy Basic256Sha256 for the last two).
    security_mode: str = "None"
    certificate: str | None = None         # client certificate (DER or PEM)
    private_key: str | None = None         # its private key (PEM)
    # the trusted server certificate; None: take the endpoint's
    server_certificate: str | None = None
    # Must equal the URI in the client certificate's subjectAltName (servers check it).
    application_uri: str = "urn:robowatch:collector"
    # Notifications waiting for the consumer; past it the session is dropped and re-made
    # (a recorded gap) rather than values silently discarded.
    max_queued_notifications: int = 200_000
    # The consumer hands the writer at most this many values at a time.
    batch_values: int = 2000

    def __post_init__(self) -> None:
        if self.security_mode not in ("None", "Sign", "SignAndEncrypt"):
            raise CollectorConfigError(
                f"security mode must be None, Sign or SignAndEncrypt, got {self.security_mode!r}")
        if self.security_mode != "None" and not (self.certificate and self.private_key):
            raise CollectorConfigError(
                f"security mode {self.security_mode} needs a client certificate and private key")


@dataclass(frozen=True, slots=True)
class _Target:
    robot_id: int
    signal_id: int


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


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

    async def _client(self) -> Client:
        cfg = self._cfg
        client = Client(cfg.url, timeout=cfg.timeout_s)
        if cfg.username:
            client.set_user(cfg.username)
            client.set_password(cfg.password or "")
        if cfg.security_mode != "None":
            client.application_uri = cfg.application_uri
            mode = (ua.MessageSecurityMode.Sign if cfg.security_mode == "Sign"
                    else ua.MessageSecurityMode.SignAndEncrypt)
            await client.set_security(SecurityPolicyBasic256Sha256, cfg.certificate,  # type: ignore[arg-type]
                                      cfg.private_key,  # type: ignore[arg-type]
                                      server_certificate=cfg.server_certificate, mode=mode)
        return client

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(max_s=self._cfg.backoff_max_s)
        gap_id: int | None = None
        while not stop.is_set():
            self.lost.clear()
            try:
                client = await self._client()
            except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
                delay = backoff.next_delay()
                log.warning("OPC UA %s unavailable: %r; retry in %.1fs", self._cfg.url, exc, delay)
                if gap_id is None:
                    gap_id = await self._gap_open(reason=f"connect failed: {exc!r}"[:200])
                await sleep_or_stop(stop, delay)
                continue

            async def on_lost(exc: Exception) -> None:
                log.warning("OPC UA connection to %s lost: %r", self._cfg.url, exc)
                self.lost.set()

            client.connection_lost_callback = on_lost
            consumer: asyncio.Task[None] | None = None
            try:
                await client.connect()
                n, consumer = await self._subscribe(client)
            except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
                delay = backoff.next_delay()
                log.warning("OPC UA %s unavailable: %r; retry in %.1fs", self._cfg.url, exc, delay)
                await _safe_disconnect(client)
                if gap_id is None:
                    gap_id = await self._gap_open(reason=f"connect failed: {exc!r}"[:200])
                await sleep_or_stop(stop, delay)
                continue
            assert consumer is not None
            backoff.reset()
            if gap_id is not None:
                await self._gap_close(gap_id)
                gap_id = None
            self.subscribed_count = n
            self.subscribed.set()
            self._metrics.connected.labels(self._cfg.url).set(1)
            log.info("OPC UA %s: subscribed to %d variables", self._cfg.url, n)
            waiters = {asyncio.create_task(self.lost.wait()), asyncio.create_task(stop.wait()),
                       consumer}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            if not consumer.cancelled() and consumer.exception() is not None:
                log.error("OPC UA %s consumer failed: %r", self._cfg.url, consumer.exception())
            self.subscribed.clear()
            self._metrics.connected.labels(self._cfg.url).set(0)
            if not stop.is_set():
                gap_id = await self._gap_open(reason="connection lost")
            await _safe_disconnect(client)
        if gap_id is not None:
            await self._gap_close(gap_id)

    async def _subscribe(self, client: Client) -> tuple[int, asyncio.Task[None]]:
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
            log.warning("OPC UA %s serves unregistered robot %r; not collected",
                        self._cfg.url, robot)
            self._writer.reject(Rejected(source="opcua", origin=self._cfg.url,
                                         reason="unknown_robot",
                                         detail=f"robot {robot!r} is not registered",
                                         payload=None))
        if not targets:
            raise ConnectionError("none of the robots on this server is registered")
        # Iterator mode: one consumer task takes notifications in bulk. The handler mode costs
        # one asyncio task per value (about 1.5k values/s per process in the demo).
        sub = await client.create_subscription(
            self._cfg.publishing_interval_ms, None,
            queue_maxsize=self._cfg.max_queued_notifications, overflow=OverflowPolicy.DISCONNECT)
        nodes = [client.get_node(nid) for nid in targets]
        results = await sub.subscribe_data_change(  # type: ignore[call-overload]  # list overload
            nodes, queuesize=self._cfg.queue_size, sampling_interval=self._cfg.sampling_interval_ms
        )
        failed = [r for r in results if not isinstance(r, int)]
        if failed:
            raise ConnectionError(
                f"{len(failed)} of {len(nodes)} monitored items failed: {failed[0]}"
            )
        consumer = asyncio.create_task(self._consume(sub, targets),
                                       name=f"opcua-consume {self._cfg.url}")
        return len(nodes), consumer

    async def _consume(self, sub: Any, targets: dict[Any, _Target]) -> None:
        """Turn notifications into writer batches: flushed at ``batch_values`` values, or when
        the notification queue runs dry (one publish response fully read)."""
        batch = PointBuffer()
        flusher = asyncio.create_task(self._flush_every(batch, 0.05))
        try:
            async for ev in sub:
                if isinstance(ev, StatusChangeEvent):
                    log.warning("OPC UA %s subscription status changed: %s", self._cfg.url,
                                ev.notification)
                    self.lost.set()
                    return
                if not isinstance(ev, DataChangeEvent):
                    continue
                target = targets.get(ev.node.nodeid)
                if target is None:
                    continue
                self._accept(batch, target, ev.value, ev.data.monitored_item.Value)
                if len(batch) >= self._cfg.batch_values:
                    await self._put(batch)
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await self._put(batch)

    async def _flush_every(self, batch: PointBuffer, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            await self._put(batch)

    async def _put(self, batch: PointBuffer) -> None:
        if not batch:
            return
        b = batch.swap()
        self._metrics.received.labels("opcua").inc(len(b))
        # The oldest sample of the batch stands for its ingest lag.
        await self._writer.put(time_us=b.t, robot_id=b.r, signal_id=b.s, value=b.v, quality=b.q,
                               sample_time=min(b.t) / 1e6)

    async def _browse(self, node: Node, path: list[str], out: list[tuple[Node, str, str]],
                      depth: int) -> None:
        if depth > self._cfg.max_browse_depth:
            return
        children = await node.get_children(refs=ua.ObjectIds.HierarchicalReferences)
        names = {}
        for child in children:
            if child.nodeid == ua.NodeId(ua.ObjectIds.Server):  # type: ignore[arg-type]  # stubs omit int ids
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

    def _accept(self, batch: PointBuffer, target: _Target, val: Any, dv: Any) -> None:
        when = dv.SourceTimestamp or dv.ServerTimestamp
        status = dv.StatusCode
        quality = QUALITY_GOOD
        if status is not None and not status.is_good():
            quality = QUALITY_UNCERTAIN if status.is_uncertain() else QUALITY_BAD
        value: float | None
        if quality == QUALITY_BAD:
            value = None
        elif isinstance(val, bool | int | float) and math.isfinite(val):
            value = float(val)
        else:
            self._writer.reject(Rejected(source="opcua", origin=self._cfg.url,
                                         reason="not_a_number",
                                         detail=f"value {val!r} is not a finite number",
                                         payload=repr(val).encode()[:1024]))
            return
        if when is None:
            t_us = round(time.time() * 1e6)
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            t_us = (when - _EPOCH) // _US
        batch.add(t_us, target.robot_id, target.signal_id, value, quality)

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
