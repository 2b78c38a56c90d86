"""MQTT collector: payload v1 over QoS 1 into the batch writer.

MQTT 5 with a persistent session (clean start off, session expiry) and manual
acknowledgement: a message is acknowledged only after its rows are committed, so a
collector killed mid-stream gets the unacknowledged messages again when it returns.
With ``share_group`` several collector processes split one subscription.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collectors.backoff import Backoff, sleep_or_stop
from collectors.errors import CollectorConfigError, RejectedInput
from collectors.metrics import CollectorMetrics
from collectors.mqtt_loop import AsyncioMqttLoop
from collectors.payload import Limits, parse_payload, parse_topic
from collectors.registry import Registry
from collectors.writer import BatchWriter
from storage.quarantine import Rejected
from storage.telemetry import QUALITY_BAD, QUALITY_GOOD

__all__ = ["MqttConfig", "MqttCollector"]

log = logging.getLogger(__name__)

# CONNACK reason codes after which retrying cannot help (MQTT 5 spec 3.2.2.2).
_FATAL_CONNACK = {0x85, 0x86, 0x87, 0x8C}
_UNSUPPORTED_VERSION = 0x84


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
    backoff_max_s: float = 30.0

    @property
    def topic(self) -> str:
        base = f"{self.topic_prefix}/+/+/+/+/telemetry"
        return f"$share/{self.share_group}/{base}" if self.share_group else base


class MqttCollector:
    def __init__(self, *, config: MqttConfig, writer: BatchWriter, registry: Registry,
                 metrics: CollectorMetrics) -> None:
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
        self._generation = 0
        self._client: mqtt.Client | None = None
        self._driver: AsyncioMqttLoop | None = None
        self.connected = asyncio.Event()
        if config.protocol not in ("auto", "5", "3.1.1"):
            raise CollectorConfigError(
                f"protocol must be auto, 5 or 3.1.1, got {config.protocol!r}"
            )
        self._v5 = config.protocol != "3.1.1"

    # -- connection ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Connect, consume and reconnect until ``stop`` is set."""
        worker = asyncio.create_task(self._consume(), name="mqtt-consume")
        try:
            backoff = Backoff(max_s=self._cfg.backoff_max_s)
            while not stop.is_set():
                lost = asyncio.Event()
                try:
                    await self._connect(lost)
                    backoff.reset()
                except _UnsupportedVersion:
                    await self._teardown()
                    if self._cfg.protocol != "auto" or not self._v5:
                        raise _FatalConnect("broker refuses this MQTT version") from None
                    log.warning("broker refuses MQTT 5; using MQTT 3.1.1 with a persistent session")
                    self._v5 = False
                    continue
                except _FatalConnect as exc:
                    log.error("MQTT broker refused us for good: %s", exc)
                    raise
                except (OSError, ConnectionError, TimeoutError) as exc:
                    delay = backoff.next_delay()
                    log.warning("MQTT connect to %s:%s failed: %s; retry in %.1fs",
                                self._host, self._port, exc, delay)
                    await self._teardown()
                    await sleep_or_stop(stop, delay)
                    continue
                waiter = asyncio.create_task(lost.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                await self._teardown()
        finally:
            await self._teardown()
            worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                pass

    async def _connect(self, lost: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self._generation += 1
        gen = self._generation
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

        def on_connect(
            c: mqtt.Client, ud: object, flags: object, rc: object, props: object
        ) -> None:
            if not connack.done():
                code: Any = getattr(rc, "value", rc)
                connack.set_result(int(code))

        def on_disconnect(
            c: mqtt.Client, ud: object, flags: object, rc: object, props: object
        ) -> None:
            self._metrics.connected.labels(self._cfg.url).set(0)
            self.connected.clear()
            if not connack.done():
                connack.set_exception(ConnectionError(f"disconnected during connect: {rc}"))
            log.warning("MQTT disconnected: %s", rc)
            lost.set()

        def on_message(c: mqtt.Client, ud: object, msg: mqtt.MQTTMessage) -> None:
            self._queue.put_nowait((gen, msg))
            if self._driver is not None:
                self._driver.delivered()
                if self._queue.qsize() >= self._cfg.max_queued_messages:
                    self._driver.pause_reading()

        client.on_connect = on_connect
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
        # Socket connect is a blocking call: keep it off the event loop.
        await asyncio.wait_for(
            asyncio.to_thread(client.connect, self._host, self._port, self._cfg.keepalive_s,
                              **kwargs),
            timeout=15,
        )
        rc = await asyncio.wait_for(connack, timeout=15)
        if rc == _UNSUPPORTED_VERSION:
            raise _UnsupportedVersion()
        if rc in _FATAL_CONNACK:
            raise _FatalConnect(f"CONNACK reason {rc:#x}")
        if rc != 0:
            raise ConnectionError(f"CONNACK reason {rc:#x}")
        # Subscriptions are ours to restore after every connect, whatever the broker kept.
        result, _ = client.subscribe(self._cfg.topic, qos=self._cfg.qos)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"subscribe failed: {result}")
        self._metrics.connected.labels(self._cfg.url).set(1)
        self.connected.set()
        log.info("MQTT connected to %s:%s, subscribed %s", self._host, self._port, self._cfg.topic)

    async def _teardown(self) -> None:
        client, driver = self._client, self._driver
        self._client, self._driver = None, None
        if client is not None:
            try:
                client.disconnect()
            except Exception:  # noqa: BLE001 - already gone
                pass
        if driver is not None:
            await driver.close()
        self.connected.clear()

    # -- messages ------------------------------------------------------------------------
    async def _consume(self) -> None:
        while True:
            gen, msg = await self._queue.get()
            if (self._driver is not None
                    and self._queue.qsize() < self._cfg.max_queued_messages // 2):
                self._driver.resume_reading()
            try:
                await self._handle(gen, msg)
            except Exception:  # noqa: BLE001 - one message must never stop the collector
                log.exception("unexpected error handling a message on %s", msg.topic)

    def _acker(self, gen: int, mid: int, qos: int) -> object:
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
                on_commit=ack,  # type: ignore[arg-type]
            )
            return
        if sample.dropped:
            reasons = sorted({r for _, r in sample.dropped})
            detail = ", ".join(f"{n}: {r}" for n, r in sample.dropped[:20])
            log.warning("MQTT message from %s: dropped values (%s)", sample.robot, detail)
            self._writer.reject(Rejected(source="mqtt", origin=msg.topic, reason=reasons[0],
                                         detail=detail, payload=raw))
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
                               sample_time=sample.ts, on_commit=ack)  # type: ignore[arg-type]


class _FatalConnect(ConnectionError):
    pass


class _UnsupportedVersion(ConnectionError):
    pass
