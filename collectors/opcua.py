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
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from collectors.columns import PointBuffer
from collectors.errors import CollectorConfigError, SourceRefused
from collectors.metrics import CollectorMetrics
from collectors.nodemap import NodeEndpoint
from collectors.opcua_browse import Found, discover_robotics, discover_simulator, resolve_nodemap
from collectors.opcua_values import Refusal, convert
from collectors.registry import Registry
from collectors.supervise import LinkState, RetryPolicy, Supervisor, until_first
from collectors.writer import BatchWriter
from storage.connect import first_line
from storage.gaps import record_gap_end, record_gap_start
from storage.quarantine import Rejected

__all__ = ["OpcUaConfig", "OpcUaCollector", "shard_of"]

log = logging.getLogger(__name__)

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
    # This endpoint's part of a node map (collectors/nodemap.py): signals the server's model
    # does not describe, or all of them for a server that follows no model.
    nodemap: NodeEndpoint | None = None

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
    scale: float = 1.0
    offset: float = 0.0
    where: str = ""  # robot and signal, for the one warning an inexact value earns


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
        # Problems already reported (a missing node, an inexact counter): once per process,
        # not at every reconnect or every value.
        self._reported: set[str] = set()
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

    async def _discover(self, client: Client) -> list[Found]:
        """What to collect: the server's own model (OPC 40010 Robotics, or our simulator's
        layout) unless the node map says not to, then the node map, which wins per signal."""
        nodemap = self._cfg.nodemap
        found: list[Found] = []
        if nodemap is None or nodemap.discover:
            found = await discover_robotics(client) or await discover_simulator(
                client, max_depth=self._cfg.max_browse_depth)
        if nodemap is not None:
            mapped, problems = await resolve_nodemap(client, nodemap)
            for problem in problems:
                self._report_once(f"node:{problem}", "node_unavailable",
                                  f"node map entry not collected: {problem}")
            overridden = {(f.robot, f.signal) for f in mapped}
            found = [f for f in found if (f.robot, f.signal) not in overridden] + mapped
        return found

    def _report_once(self, key: str, reason: str, detail: str) -> None:
        if key in self._reported:
            return
        self._reported.add(key)
        log.warning("OPC UA %s: %s", self._cfg.url, detail)
        self._writer.reject(Rejected(source="opcua", origin=self._cfg.url, reason=reason,
                                     detail=detail, payload=None))

    async def _subscribe(self, client: Client,
                         lost: asyncio.Event) -> tuple[int, asyncio.Task[None]]:
        found = await self._discover(client)
        if not found:
            raise ConnectionError("no robot variables found in the address space")
        targets: dict[Any, _Target] = {}
        unknown: set[str] = set()
        ids = await self._registry.signal_ids_for(sorted({f.signal for f in found}))
        for f in found:
            rid = await self._registry.robot_id(f.robot)
            if rid is None and f.serial is not None:
                rid = await self._registry.robot_id_by_serial(f.serial)
            if rid is None:
                unknown.add(f.robot if f.serial is None else f"{f.robot} (serial {f.serial})")
                continue
            targets[f.node.nodeid] = _Target(rid, ids[f.signal], f.scale, f.offset,
                                             f"{f.robot} {f.signal}")
        for robot in sorted(unknown):
            self._report_once(f"robot:{robot}", "unknown_robot",
                              f"robot {robot!r} is not registered; not collected")
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
        failed = [(n, r) for n, r in zip(nodes, results, strict=True) if not isinstance(r, int)]
        if len(failed) == len(nodes):
            raise ConnectionError(f"all {len(nodes)} monitored items failed: {failed[0][1]}")
        for node, result in failed:
            # A node the server will not sample (not readable, gone): the rest are collected.
            target = targets.pop(node.nodeid)
            why = first_line(result) if isinstance(result, BaseException) else str(result)
            self._report_once(f"item:{target.where}", "node_unavailable",
                              f"{target.where} ({node.nodeid.to_string()}) not collected: {why}")
        consumer = asyncio.create_task(self._consume(sub, targets, lost),
                                       name=f"opcua-consume {self._cfg.url}")
        return len(targets), consumer

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

    def _accept(self, batch: PointBuffer, target: _Target, val: Any, dv: Any) -> None:
        reading = convert(val, dv.StatusCode)
        if isinstance(reading, Refusal):
            self._writer.reject(Rejected(source="opcua", origin=self._cfg.url,
                                         reason=reading.reason,
                                         detail=f"{target.where}: {reading.detail}",
                                         payload=repr(val).encode()[:1024]))
            return
        if reading.inexact:
            self._report_once(f"inexact:{target.where}", "inexact_integer",
                              f"{target.where}: integer {val} exceeds 2**53 and is stored "
                              "rounded, with uncertain quality")
        value = reading.value
        if value is not None and (target.scale != 1.0 or target.offset != 0.0):
            value = value * target.scale + target.offset
        when = dv.SourceTimestamp or dv.ServerTimestamp
        if when is None:
            t_us = round(time.time() * 1e6)
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            t_us = (when - _EPOCH) // _US
        batch.add(t_us, target.robot_id, target.signal_id, value, reading.quality)

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
