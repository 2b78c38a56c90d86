"""MQTT collector: payload v1 (or a pluggable format) over QoS 1 into the batch writer.

MQTT 5 with a persistent session (clean start off, session expiry) and manual
acknowledgement: a message is acknowledged only after its rows are committed, so a
collector killed mid-stream gets the unacknowledged messages again when it returns.
With ``share_group`` several collector processes split one subscription. With a
``decoder_factory`` (collectors.decoding: Sparkplug B, JSON gateways) the topic and payload
are that format's; connection, acknowledgement, writer and quarantine stay the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from collectors.decoding import Decoded, MessageDecoder
from collectors.errors import (
    CollectorConfigError,
    RejectedInput,
    SourceRefused,
    SubscriptionRefused,
)
from collectors.metrics import CollectorMetrics
from collectors.mqtt_loop import AsyncioMqttLoop
from collectors.offline import OfflineBook
from collectors.payload import Limits, Sample, parse_payload, parse_topic
from collectors.registry import Registry
from collectors.supervise import LinkState, RetryPolicy, Supervisor, until_first
from collectors.writer import BatchWriter
from storage.connect import DatabaseUnavailable, first_line
from storage.quarantine import Rejected
from storage.telemetry import QUALITY_BAD, QUALITY_GOOD

__all__ = ["MqttConfig", "MqttCollector"]

log = logging.getLogger(__name__)

# CONNACK reason codes after which retrying cannot help (MQTT 5 spec 3.2.2.2): client id not
# valid, bad user name or password, not authorized, bad authentication method.
_FATAL_CONNACK = {0x85, 0x86, 0x87, 0x8C}
_UNSUPPORTED_VERSION = 0x84
_SUBACK_REASONS_311 = {0x80: "failure (MQTT 3.1.1 gives no reason; usually the broker's ACL)"}


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttConfig:
    url: str
    client_id: str = "robowatch-collector"
    topic_prefix: str = "robowatch"
    share_group: str | None = None
    qos: int = 1
    session_expiry_s: int = 3600
    keepalive_s: int = 30
    tls: bool = False
    ca_file: str | None = None
    limits: Limits = field(default_factory=Limits)
    # "auto": MQTT 5, falling back to 3.1.1 (persistent session via clean_session=False) when
    # the broker refuses version 5 (amqtt, older brokers).
    protocol: str = "auto"
    # Stop reading the socket above this many queued messages (TCP backpressure).
    max_queued_messages: int = 20_000
    # TCP connect, CONNACK and SUBACK each: a broker that answers none of them in this time
    # is treated as down (a local Mosquitto answers in milliseconds).
    ack_timeout_s: float = 15.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # A payload format other than v1 (Sparkplug B, a JSON gateway mapping): called once per
    # collector with ``limits``.
    decoder_factory: Callable[[Limits], MessageDecoder] | None = None

    @property
    def topic(self) -> str:
        base = f"{self.topic_prefix}/+/+/+/+/telemetry"
        return f"$share/{self.share_group}/{base}" if self.share_group else base


class MqttCollector:
    def __init__(self, *, config: MqttConfig, writer: BatchWriter, registry: Registry,
                 metrics: CollectorMetrics, conninfo: str | None = None) -> None:
        parts = urlsplit(config.url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp") or not parts.hostname:
            raise CollectorConfigError(f"bad MQTT URL {config.url!r}")
        self._cfg = config
        self._host = parts.hostname
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._tls = config.tls or parts.scheme == "mqtts"
        self._writer = writer
        self._registry = registry
        self._metrics = metrics
        self._queue: asyncio.Queue[tuple[int, mqtt.MQTTMessage]] = asyncio.Queue()
        # signal names of a message (in order) -> their ids: robots repeat the same set
        self._sids: dict[tuple[str, ...], list[int]] = {}
        self._n_messages = metrics.messages.labels("mqtt")
        self._n_points = metrics.received.labels("mqtt")
        self._n_refused = metrics.subscribe_refused.labels(config.url)
        self._generation = 0
        self._client: mqtt.Client | None = None
        self._driver: AsyncioMqttLoop | None = None
        if config.protocol not in ("auto", "5", "3.1.1"):
            raise CollectorConfigError(
                f"protocol must be auto, 5 or 3.1.1, got {config.protocol!r}"
            )
        self._v5 = config.protocol != "3.1.1"
        self._decoder: MessageDecoder | None = None
        self._offline: OfflineBook | None = None
        self._topic = config.topic
        if config.decoder_factory is not None:
            self._decoder = config.decoder_factory(config.limits)
            if config.share_group and not self._decoder.shareable:
                raise CollectorConfigError(
                    f"{self._decoder.name} cannot be read through a shared subscription: "
                    "decoding needs every message of a source in one process")
            self._topic = (f"$share/{config.share_group}/{self._decoder.topic}"
                           if config.share_group else self._decoder.topic)
            if conninfo is not None:
                self._offline = OfflineBook(conninfo=conninfo, source="mqtt")
        self._sup = Supervisor(origin=config.url, policy=config.retry, metrics=metrics,
                               retry_on=(OSError, TimeoutError), on_retry=self._log_retry)

    @property
    def state(self) -> LinkState:
        return self._sup.state

    # -- connection ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Connect, consume and reconnect until ``stop`` is set.

        Raises :class:`SourceRefused` when the broker refuses our credentials or protocol,
        and any unexpected error (after logging it): the caller ends the process.
        """
        try:
            await self._sup.run(lambda: self._session(stop), stop)
        finally:
            await self._teardown()

    def _log_retry(self, exc: BaseException, delay: float) -> None:
        where = f"{self._host}:{self._port}"
        if isinstance(exc, SubscriptionRefused):
            log.error("MQTT broker %s refused the subscription to %s: %s; retry in %.1fs",
                      where, exc.topic, exc.reason, delay)
        else:
            log.warning("MQTT %s: %s; retry in %.1fs", where, first_line(exc), delay)

    async def _session(self, stop: asyncio.Event) -> None:
        """One connection: connect, subscribe, consume until it is lost or ``stop``."""
        lost = asyncio.Event()
        worker: asyncio.Task[None] | None = None
        try:
            try:
                suback = await self._connect(lost)
            except _UnsupportedVersion:
                if self._cfg.protocol != "auto" or not self._v5:
                    raise SourceRefused("broker refuses this MQTT version") from None
                log.warning("broker refuses MQTT 5; using MQTT 3.1.1 with a persistent session")
                await self._teardown()
                self._v5 = False
                lost = asyncio.Event()
                suback = await self._connect(lost)
            # The messages a persistent session queued follow the CONNACK at once, and the
            # broker sends the SUBACK behind them: consume from now on. Waiting for the SUBACK
            # first, a backlog above max_queued_messages paused reading before the SUBACK
            # could arrive, and no backlog of that size was ever drained (bench --capacity).
            worker = asyncio.create_task(self._consume(), name="mqtt-consume")
            if not await self._subscribed(suback, worker, stop):
                return
            self._sup.connected()
            await until_first(worker, asyncio.create_task(lost.wait()),
                              asyncio.create_task(stop.wait()))
            _raise_if_failed(worker)
        finally:
            if worker is not None and not worker.done():
                worker.cancel()
                await asyncio.wait({worker})
            await self._teardown()

    async def _connect(self, lost: asyncio.Event) -> asyncio.Future[list[ReasonCode]]:
        """Connect (until the CONNACK) and send the SUBSCRIBE; the SUBACK's future."""
        loop = asyncio.get_running_loop()
        self._generation += 1
        # Messages still queued from an earlier connection cannot be acknowledged any more;
        # the broker redelivers them on this one.
        self._queue = asyncio.Queue()
        queue = self._queue
        if self._v5:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=self._cfg.client_id,
                protocol=mqtt.MQTTv5, manual_ack=True, reconnect_on_failure=False,
            )
        else:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=self._cfg.client_id,
                protocol=mqtt.MQTTv311, clean_session=False, manual_ack=True,
                reconnect_on_failure=False,
            )
        if self._user:
            client.username_pw_set(self._user, self._password)
        if self._tls:
            client.tls_set(ca_certs=self._cfg.ca_file)
        connack: asyncio.Future[int] = loop.create_future()
        subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        gen = self._generation

        def on_connect(
            c: mqtt.Client, ud: object, flags: object, rc: object, props: object
        ) -> None:
            if not connack.done():
                code: Any = getattr(rc, "value", rc)
                connack.set_result(int(code))

        def on_subscribe(c: mqtt.Client, ud: object, mid: int, codes: list[ReasonCode],
                         props: object) -> None:
            fut = subacks.pop(mid, None)
            if fut is not None and not fut.done():
                fut.set_result(codes)

        def on_disconnect(
            c: mqtt.Client, ud: object, flags: object, rc: object, props: object
        ) -> None:
            was_up = self._sup.state is LinkState.CONNECTED
            self._sup.disconnected()
            error = ConnectionError(f"disconnected by the broker: {rc}")
            pending: list[asyncio.Future[Any]] = [connack, *subacks.values()]
            for fut in pending:
                if not fut.done():
                    fut.set_exception(error)
            lost.set()
            if was_up:  # a refused connect or subscribe is reported by the supervisor
                log.warning("MQTT disconnected: %s", rc)

        def on_message(c: mqtt.Client, ud: object, msg: mqtt.MQTTMessage) -> None:
            queue.put_nowait((gen, msg))
            if self._driver is not None:
                self._driver.delivered()
                if queue.qsize() >= self._cfg.max_queued_messages:
                    self._driver.pause_reading()

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        self._client = client
        self._driver = AsyncioMqttLoop(client, loop)
        if self._v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._cfg.session_expiry_s
            kwargs: dict[str, Any] = {"clean_start": False, "properties": props}
        else:
            kwargs = {}
        timeout = self._cfg.ack_timeout_s
        # Socket connect is a blocking call: keep it off the event loop.
        await asyncio.wait_for(
            asyncio.to_thread(client.connect, self._host, self._port, self._cfg.keepalive_s,
                              **kwargs),
            timeout=timeout,
        )
        try:
            rc = await asyncio.wait_for(connack, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(f"no CONNACK within {timeout:g}s") from None
        if rc == _UNSUPPORTED_VERSION:
            raise _UnsupportedVersion()
        if rc in _FATAL_CONNACK:
            raise SourceRefused(f"MQTT broker {self._host}:{self._port} refused us for good: "
                                f"CONNACK {_reason(rc)}")
        if rc != 0:
            raise ConnectionError(f"CONNACK {_reason(rc)}")
        # Subscriptions are ours to restore after every connect, whatever the broker kept, and
        # a subscription counts only once its SUBACK grants it: until then we are not
        # connected, whatever the TCP socket says.
        topic = self._topic
        result, mid = client.subscribe(topic, qos=self._cfg.qos)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionError(f"subscribe to {topic} not sent: {mqtt.error_string(result)}")
        suback: asyncio.Future[list[ReasonCode]] = loop.create_future()
        subacks[mid] = suback
        return suback

    async def _subscribed(self, suback: asyncio.Future[list[ReasonCode]],
                          worker: asyncio.Task[None], stop: asyncio.Event) -> bool:
        """Wait for the SUBACK while ``worker`` consumes what the session had queued; False
        when ``stop`` came first. The timeout restarts while messages keep arriving: a broker
        delivering is answering, and a backlog of minutes comes before the SUBACK."""
        topic, timeout = self._topic, self._cfg.ack_timeout_s
        seen = self._driver.delivered_count if self._driver is not None else 0
        stopping = asyncio.create_task(stop.wait())
        awaited: set[asyncio.Future[Any]] = {suback, worker, stopping}
        try:
            while not suback.done() and not stop.is_set():
                await asyncio.wait(awaited, timeout=timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    break
                self._no_suback_yet(suback, worker, seen)
                seen = self._driver.delivered_count if self._driver is not None else 0
        finally:
            stopping.cancel()
            await asyncio.wait({stopping})
        if not suback.done():
            return False
        for code in suback.result():
            if code.is_failure:
                self._n_refused.inc()
                raise SubscriptionRefused(topic, _suback_reason(code, v5=self._v5))
            if code.value < self._cfg.qos:
                log.warning("MQTT broker granted QoS %d, not %d, for %s: messages can be lost "
                            "while we are away", code.value, self._cfg.qos, topic)
        log.info("MQTT connected to %s:%s (MQTT %s), subscribed %s", self._host, self._port,
                 "5" if self._v5 else "3.1.1", topic)
        return True

    def _no_suback_yet(self, suback: asyncio.Future[list[ReasonCode]],
                       worker: asyncio.Task[None], seen: int) -> None:
        """After one wait for the SUBACK: raise when waiting longer cannot help."""
        if suback.done():
            return
        if worker.done():
            _raise_if_failed(worker)
            raise ConnectionError("MQTT consumer stopped before the SUBACK")
        delivered = self._driver.delivered_count if self._driver is not None else 0
        if delivered == seen:
            raise TimeoutError(f"no SUBACK for {self._topic} within "
                               f"{self._cfg.ack_timeout_s:g}s")

    async def _teardown(self) -> None:
        client, driver = self._client, self._driver
        self._client, self._driver = None, None
        if client is not None:
            self._sup.disconnected()  # ours, not a loss: on_disconnect stays quiet
            # Returns an error code, never raises, when the socket is already gone.
            client.disconnect()
        if driver is not None:
            await driver.close()

    # -- messages ------------------------------------------------------------------------
    async def _consume(self) -> None:
        """Handle messages until cancelled. Bad input is quarantined in ``_handle``; anything
        else raised there (database down, a bug) ends the session, see ``_raise_if_failed``."""
        queue = self._queue
        while True:
            gen, msg = await queue.get()
            if (self._driver is not None
                    and queue.qsize() < self._cfg.max_queued_messages // 2):
                self._driver.resume_reading()
            await self._handle(gen, msg)

    def _acker(self, gen: int, mid: int, qos: int) -> Callable[[], None]:
        def ack() -> None:
            # An ack for a message of an earlier connection would name a stale packet id;
            # that message is redelivered on the new session instead.
            if qos > 0 and gen == self._generation and self._client is not None:
                self._client.ack(mid, qos)
        return ack

    async def _handle(self, gen: int, msg: mqtt.MQTTMessage) -> None:
        self._n_messages.inc()
        ack = self._acker(gen, msg.mid, msg.qos)
        raw = bytes(msg.payload)
        if self._decoder is not None:
            await self._handle_decoded(self._decoder.decode(msg.topic, raw, now=time.time()),
                                       msg.topic, raw, ack)
            return
        try:
            _, _, _, topic_robot = parse_topic(msg.topic, self._cfg.topic_prefix)
            sample = parse_payload(raw, topic_robot=topic_robot, now=time.time(),
                                   limits=self._cfg.limits)
            robot_id = await self._registry.robot_id(sample.robot)
            if robot_id is None:
                raise RejectedInput("unknown_robot", f"robot {sample.robot!r} is not registered")
        except RejectedInput as exc:
            log.warning("rejected MQTT message on %s: %s", msg.topic, exc)
            self._writer.reject(
                Rejected(source="mqtt", origin=msg.topic, reason=exc.reason, detail=exc.detail,
                         payload=raw),
                on_commit=ack,
            )
            return
        if sample.dropped:
            reasons = sorted({r for _, r in sample.dropped})
            detail = ", ".join(f"{n}: {r}" for n, r in sample.dropped[:20])
            log.warning("MQTT message from %s: dropped values (%s)", sample.robot, detail)
            self._writer.reject(Rejected(source="mqtt", origin=msg.topic, reason=reasons[0],
                                         detail=detail, payload=raw))
        await self._put(sample, robot_id, ack)

    async def _put(self, sample: Sample, robot_id: int, ack: Callable[[], None] | None) -> None:
        names = tuple(sample.values)
        sids = self._sids.get(names)
        if sids is None:
            ids = await self._registry.signal_ids_for(list(names))
            sids = [ids[n] for n in names]
            if len(self._sids) > 10_000:  # robots sending ever-new signal sets: stay bounded
                self._sids.clear()
            self._sids[names] = sids
        values = list(sample.values.values())
        n = len(values)
        quality = ([QUALITY_BAD if v is None else QUALITY_GOOD for v in values]
                   if None in values else [QUALITY_GOOD] * n)
        self._n_points.inc(n)
        await self._writer.put(time_us=[round(sample.ts * 1e6)] * n, robot_id=[robot_id] * n,
                               signal_id=sids, value=values, quality=quality,
                               sample_time=sample.ts, on_commit=ack)

    async def _handle_decoded(self, out: Decoded, topic: str, raw: bytes,
                              ack: Callable[[], None]) -> None:
        """Store what a pluggable decoder made of one message; acknowledge it once stored."""
        assert self._decoder is not None
        name = self._decoder.name
        for cmd_topic, cmd in out.commands:
            if self._client is not None:
                self._client.publish(cmd_topic, cmd, qos=0)
                log.info("%s: published %s", name, cmd_topic)
        for robot, reason in out.offline:
            rid = await self._registry.robot_id(robot)
            log.warning("%s: robot %s is offline: %s", name, robot, reason)
            if rid is not None and self._offline is not None:
                await self._offline.offline(robot_id=rid, origin=topic, reason=reason)
        for robot in out.online:
            rid = await self._registry.robot_id(robot)
            if rid is not None and self._offline is not None and self._offline.is_offline(rid):
                log.info("%s: robot %s is back", name, robot)
                await self._offline.online(robot_id=rid)
        rejects = list(out.rejects)
        stored: list[tuple[Sample, int]] = []
        for sample in out.samples:
            rid = await self._registry.robot_id(sample.robot)
            if rid is None:
                rejects.append(RejectedInput("unknown_robot",
                                             f"robot {sample.robot!r} is not registered"))
            else:
                stored.append((sample, rid))
        for i, exc in enumerate(rejects):
            log.warning("rejected %s message on %s: %s", name, topic, exc)
            # With nothing to store, the last refusal's commit acknowledges the message.
            last = not stored and i == len(rejects) - 1
            self._writer.reject(
                Rejected(source=f"mqtt-{name}", origin=topic, reason=exc.reason,
                         detail=exc.detail, payload=raw),
                on_commit=ack if last else None,
            )
        for i, (sample, rid) in enumerate(stored):
            # Batches commit in order: the last put's commit covers the message.
            await self._put(sample, rid, ack if i == len(stored) - 1 else None)
        if not stored and not rejects:
            ack()  # nothing to store (a death, a command)


def _raise_if_failed(worker: asyncio.Task[None]) -> None:
    """Turn the consumer's failure into the reconnect it asks for."""
    if worker.cancelled() or not worker.done():
        return
    exc = worker.exception()
    if isinstance(exc, DatabaseUnavailable):
        # Unacknowledged, the message comes back on the next session.
        raise _ConsumerStopped(f"database unavailable: {first_line(exc)}") from exc
    if exc is not None:
        log.error("MQTT consumer failed; dropping the session (unacknowledged messages "
                  "are redelivered)", exc_info=exc)
        raise _ConsumerStopped(f"consumer failed: {exc!r}") from exc


class _UnsupportedVersion(ConnectionError):
    pass


class _ConsumerStopped(ConnectionError):
    """The consumer could not go on (database down, a bug already logged): reconnect."""


def _reason(code: int) -> str:
    return f"{ReasonCode(PacketTypes.CONNACK, identifier=code)} ({code:#04x})"


def _suback_reason(code: ReasonCode, *, v5: bool) -> str:
    if not v5 and code.value in _SUBACK_REASONS_311:
        return f"{_SUBACK_REASONS_311[code.value]} ({code.value:#04x})"
    return f"{code} ({code.value:#04x})"

