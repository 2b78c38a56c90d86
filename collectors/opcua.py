"""OPC UA collector: browse robots, subscribe to their variables, write values with quality.

One supervisor per endpoint (:mod:`collectors.supervise`) owns the connection: connect,
browse, subscribe, wait for loss, record the data gap, back off (tenacity: exponential,
capped, with jitter), and start over with a fresh session. A failed resubscription is a failed
reconnect, never logged and ignored. Refused credentials stop the endpoint for good.
Bad-quality values are stored as such (value NULL, quality 2), not as readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from asyncua import Client, Node, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from collectors.columns import PointBuffer
from collectors.errors import CollectorConfigError, SourceRefused
from collectors.metrics import CollectorMetrics
from collectors.registry import Registry
from collectors.supervise import LinkState, RetryPolicy, Supervisor, until_first
from collectors.writer import BatchWriter
from storage.connect import first_line
from storage.gaps import record_gap_end, record_gap_start
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
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Until the first connect, refusals within this many seconds are logged at INFO as
    # "waiting": the demo and docker-compose start the collector with its server, and the
    # simulator takes a few seconds to serve (up to ~15 s for 200 robots, simulators/runner.py).
    startup_grace_s: float = 60.0
    timeout_s: float = 5.0
    # asyncua servers grant at most 10 min; asking for asyncua's default hour only earns a
    # warning at every connect.
    session_timeout_ms: int = 600_000
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
        self.subscribed_count = 0
        self._gap_id: int | None = None
        self._started = time.monotonic()
        self._sup = Supervisor(origin=config.url, policy=config.retry, metrics=metrics,
                               retry_on=(OSError, TimeoutError, ua.UaError),
                               on_retry=self._log_retry)
        _quiet_closed_connection_noise()

    @property
    def state(self) -> LinkState:
        return self._sup.state

    async def _client(self) -> Client:
        cfg = self._cfg
        client = Client(cfg.url, timeout=cfg.timeout_s)
        client.session_timeout = cfg.session_timeout_ms
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
        """Collect until ``stop``; raises :class:`SourceRefused` when our credentials are
        refused, and any unexpected error (the caller ends the process)."""
        self._started = time.monotonic()
        try:
            await self._sup.run(lambda: self._session(stop), stop)
        finally:
            if self._gap_id is not None:
                await self._gap_close(self._gap_id)
                self._gap_id = None

    def _log_retry(self, exc: BaseException, delay: float) -> None:
        waiting = (not self._sup.ever_connected
                   and time.monotonic() - self._started < self._cfg.startup_grace_s)
        if waiting:
            log.info("waiting for OPC UA server at %s (%s); retry in %.1fs", self._cfg.url,
                     first_line(exc), delay)
        else:
            log.warning("OPC UA %s unavailable: %s; retry in %.1fs", self._cfg.url,
                        first_line(exc), delay)

    async def _session(self, stop: asyncio.Event) -> None:
        client = await self._client()
        lost = asyncio.Event()

        async def on_lost(exc: Exception) -> None:
            log.warning("OPC UA connection to %s lost: %s", self._cfg.url, first_line(exc))
            self._sup.disconnected()
            lost.set()

        client.connection_lost_callback = on_lost
        try:
            await client.connect()
        except _AUTH_REFUSED as exc:
            raise SourceRefused(f"OPC UA {self._cfg.url} refused our credentials: "
                                f"{first_line(exc)}") from exc
        except Exception as exc:
            # asyncua has closed what it opened; the gap starts at the first failure.
            await self._gap_start(f"connect failed: {first_line(exc)}")
            raise
        try:
            n, consumer = await self._subscribe(client, lost)
        except Exception as exc:
            await self._gap_start(f"subscribe failed: {first_line(exc)}")
            await _close(client, polite=not lost.is_set())
            raise
        self._sup.connected()
        if self._gap_id is not None:
            await self._gap_close(self._gap_id)
            self._gap_id = None
        self.subscribed_count = n
        log.info("OPC UA %s: subscribed to %d variables", self._cfg.url, n)
        try:
            await until_first(consumer, asyncio.create_task(lost.wait()),
                              asyncio.create_task(stop.wait()))
        finally:
            self._sup.disconnected()
            if not stop.is_set():
                await self._gap_start("connection lost")
            await _close(client, polite=not lost.is_set())
        failure = None if consumer.cancelled() else consumer.exception()
        if failure is not None:
            log.error("OPC UA %s consumer failed; reconnecting", self._cfg.url, exc_info=failure)
            raise ConnectionError(f"consumer failed: {failure!r}") from failure

    async def _subscribe(self, client: Client,
                         lost: asyncio.Event) -> tuple[int, asyncio.Task[None]]:
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
        consumer = asyncio.create_task(self._consume(sub, targets, lost),
                                       name=f"opcua-consume {self._cfg.url}")
        return len(nodes), consumer

    async def _consume(self, sub: Any, targets: dict[Any, _Target],
                       lost: asyncio.Event) -> None:
        """Turn notifications into writer batches: flushed at ``batch_values`` values, or when
        the notification queue runs dry (one publish response fully read)."""
        batch = PointBuffer()
        flusher = asyncio.create_task(self._flush_every(batch, 0.05))
        try:
            async for ev in sub:
                if isinstance(ev, StatusChangeEvent):
                    log.warning("OPC UA %s subscription status changed: %s", self._cfg.url,
                                ev.notification)
                    lost.set()
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

    async def _gap_start(self, reason: str) -> None:
        if self._gap_id is None:
            self._gap_id = await self._gap_open(reason=reason[:200])

    async def _gap_open(self, *, reason: str) -> int:
        try:
            return await asyncio.to_thread(record_gap_start, self._conninfo, source="opcua",
                                           origin=self._cfg.url, started_at=datetime.now(UTC),
                                           reason=reason)
        except Exception:  # noqa: BLE001 - the gap record is best effort when the DB is down too
            log.exception("could not record data gap start for %s", self._cfg.url)
            return -1

    async def _gap_close(self, gap_id: int) -> None:
        if gap_id < 0:
            return

        try:
            await asyncio.to_thread(record_gap_end, self._conninfo, gap_id=gap_id,
                                    ended_at=datetime.now(UTC))
        except Exception:  # noqa: BLE001
            log.exception("could not record data gap end for %s", self._cfg.url)


async def _close(client: Client, *, polite: bool) -> None:
    """Close the session; after a loss only the socket (the server is gone)."""
    if polite:
        try:
            await asyncio.wait_for(client.disconnect(), 5)
            return
        except (OSError, TimeoutError, ua.UaError) as exc:
            log.debug("OPC UA disconnect failed: %s", first_line(exc))
    client.disconnect_socket()


# Credentials refused: retrying cannot help (OPC UA Part 4, ActivateSession results).
_AUTH_REFUSED = (ua.uaerrors.BadUserAccessDenied, ua.uaerrors.BadIdentityTokenRejected,
                 ua.uaerrors.BadIdentityTokenInvalid)

# Messages asyncua logs at ERROR/WARNING (with tracebacks) once a server has closed the
# connection, typically every clean shutdown of the simulator: the supervisor reports the loss
# once (a warning and a data gap), so these go to DEBUG.
_CLOSED_NOISE = ("Publish iteration crashed", "close_session was called but connection is closed",
                 "close_secure_channel was called but connection is closed")


class _ClosedConnectionNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(_CLOSED_NOISE):
            exc = record.exc_info[1] if record.exc_info else None
            if exc is None or isinstance(exc, OSError | TimeoutError):
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def _quiet_closed_connection_noise() -> None:
    # asyncua logs through per-class child loggers; a filter acts only where a record starts.
    for name in ("asyncua.client.ua_session.UaSession", "asyncua.client.ua_client.UaClient"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, _ClosedConnectionNoise) for f in lg.filters):
            lg.addFilter(_ClosedConnectionNoise())
