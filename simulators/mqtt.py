"""MQTT transport of the simulated fleet: one paho-mqtt client per production line.

Each line stands for the edge gateway of a cell: it holds one MQTT connection for its robots,
publishes one payload v1 message per robot per tick on
``<prefix>/<customer>/<site>/<line>/<robot>/telemetry``, announces every robot with a retained
``.../<robot>/status`` = ``online`` (birth, again after each reconnect) and ``offline`` on a
clean stop. MQTT allows one last will per connection, so the will (``offline``, retained) sits
on the gateway's ``<prefix>/<customer>/<site>/<line>/status``: a collector that sees it knows
the line's robots went silent without a goodbye.

Publishing runs on paho's own network thread (``loop_start``); the caller only queues. QoS 1
messages beyond ``window`` in flight wait in paho's queue, itself capped at ``max_queue``:
past it a message is dropped and counted, so a slow broker costs data, never memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from simulators.payload import PayloadEncoder
from simulators.scenario import PlacedRobot

__all__ = ["MqttTarget", "MqttPublisher", "PublishStats", "telemetry_topic", "status_topic"]

log = logging.getLogger(__name__)


def _robot_base(prefix: str, p: PlacedRobot) -> str:
    return f"{prefix}/{p.customer.code}/{p.site.code}/{p.line.code}/{p.robot.code}"


def telemetry_topic(prefix: str, p: PlacedRobot) -> str:
    return f"{_robot_base(prefix, p)}/telemetry"


def status_topic(prefix: str, p: PlacedRobot) -> str:
    return f"{_robot_base(prefix, p)}/status"


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttTarget:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> MqttTarget:
        u = urlsplit(url)
        if u.scheme not in ("mqtt", "mqtts", "tcp"):
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
        tls = u.scheme == "mqtts"
        return cls(host=u.hostname or "127.0.0.1", port=u.port or (8883 if tls else 1883),
                   username=unquote(u.username) if u.username else None,
                   password=unquote(u.password) if u.password else None, tls=tls)


@dataclass(frozen=True, slots=True)
class PublishStats:
    messages_queued: int
    messages_acked: int
    messages_dropped: int
    points_queued: int
    points_acked: int


class _Gateway:
    """One connection: the robots of one line."""

    def __init__(self, *, client_id: str, target: MqttTarget, qos: int, window: int,
                 max_queue: int, robots: list[tuple[int, PlacedRobot]], prefix: str,
                 line_status: str) -> None:
        self.rows = [i for i, _ in robots]
        self.topics = [telemetry_topic(prefix, p) for _, p in robots]
        self.status = [status_topic(prefix, p) for _, p in robots]
        self.qos = qos
        self.connected = threading.Event()
        self.refused: str | None = None
        # Counters shared with paho's thread. Never hold _lock while calling into paho: its
        # network thread holds paho's message mutex while it runs on_publish, which takes _lock.
        self._lock = threading.Lock()
        self._sent = 0
        self._done = 0
        self._control: list[mqtt.MQTTMessageInfo] = []
        self.line_status = line_status
        c = self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                      clean_session=True)
        if target.username:
            c.username_pw_set(target.username, target.password)
        if target.tls:
            c.tls_set()
        c.max_inflight_messages_set(window)
        c.max_queued_messages_set(max_queue)
        c.will_set(line_status, b"offline", qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_publish = self._on_publish
        c.on_disconnect = self._on_disconnect

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: object,
                    _p: object = None) -> None:
        if getattr(rc, "is_failure", False):
            self.refused = str(rc)
            log.error("broker refused gateway %s: %s", self.line_status, rc)
            return
        # Birth, also after a reconnect: retained, so late subscribers see it too.
        self.control(self.line_status, b"online")
        for topic in self.status:
            self.control(topic, b"online")
        self.connected.set()

    def control(self, topic: str, payload: bytes) -> None:
        """A retained status message (birth or goodbye)."""
        info = self.client.publish(topic, payload, qos=1, retain=True)
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            with self._lock:
                self._control.append(info)
                self._sent += 1

    def telemetry(self, topic: str, payload: bytes) -> bool:
        ok = self.client.publish(topic, payload, qos=self.qos).rc == MQTTErrorCode.MQTT_ERR_SUCCESS
        if ok:
            with self._lock:
                self._sent += 1
        return ok

    def pending(self) -> int:
        with self._lock:
            return max(0, self._sent - self._done)

    def telemetry_acked(self) -> int:
        """Telemetry messages acknowledged (QoS 0: written to the socket)."""
        with self._lock:
            control = list(self._control)
            done = self._done
        return done - sum(1 for i in control if i.is_published())

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: object,
                       _p: object = None) -> None:
        self.connected.clear()
        if getattr(rc, "is_failure", False):
            log.warning("MQTT connection lost (%s); paho reconnects", rc)

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, _rc: object,
                    _p: object = None) -> None:
        with self._lock:
            self._done += 1


class MqttPublisher:
    """Publishes ticks of the fleet model for the robots it is given.

    ``robots``: (row in the model matrix, placed robot) pairs. ``columns``: the signal columns
    to send (all by default; the benchmark sends fewer).
    """

    def __init__(
        self, *, url: str, robots: Sequence[tuple[int, PlacedRobot]], signal_names: Sequence[str],
        columns: Sequence[int] | None = None, qos: int = 1, prefix: str = "robowatch",
        client_id: str = "robowatch-sim", window: int = 1000, max_queue: int = 100_000,
    ) -> None:
        if qos not in (0, 1, 2):
            raise ValueError(f"QoS must be 0, 1 or 2, got {qos}")
        self.target = MqttTarget.from_url(url)
        self.columns = list(range(len(signal_names))) if columns is None else list(columns)
        names = [signal_names[c] for c in self.columns]
        self._robots = list(robots)
        self._encoder = PayloadEncoder([p.robot.code for _, p in self._robots], names)
        self._seq = [0] * len(self._robots)
        self._queued = self._dropped = self._points = 0
        by_line: dict[tuple[str, str, str], list[tuple[int, PlacedRobot]]] = {}
        self._local: dict[int, int] = {}
        for k, (row, p) in enumerate(self._robots):
            by_line.setdefault((p.customer.code, p.site.code, p.line.code), []).append((k, p))
            self._local[row] = k
        self._gateways = [
            _Gateway(client_id=f"{client_id}-{'-'.join(key)}"[:200], target=self.target, qos=qos,
                     window=window, max_queue=max_queue, robots=members, prefix=prefix,
                     line_status=f"{prefix}/{'/'.join(key)}/status")
            for key, members in by_line.items()
        ]
        self._rows = np.array([row for row, _ in self._robots], dtype=np.intp)

    async def start(self, *, timeout: float = 10.0) -> None:
        """Connect every gateway and wait for the brokers' CONNACKs."""
        for g in self._gateways:
            await asyncio.to_thread(g.client.connect, self.target.host, self.target.port, 30)
            g.client.loop_start()
        for g in self._gateways:
            ok = await asyncio.to_thread(g.connected.wait, timeout)
            if g.refused:
                raise ConnectionError(f"MQTT broker refused the connection: {g.refused}")
            if not ok:
                raise TimeoutError(f"no CONNACK from {self.target.host}:{self.target.port}")
        log.info("MQTT: %d robots on %d gateway connections to %s:%d", len(self._robots),
                 len(self._gateways), self.target.host, self.target.port)

    def publish_tick(self, ts: float, values: np.ndarray, publishing: np.ndarray) -> int:
        """Queue one message per publishing robot; ``values`` is the full model matrix.

        Thread-safe towards paho (its publish takes its own locks): the runner calls this in
        a worker thread so encoding never holds up the event loop. Returns messages queued.
        """
        sub = values[self._rows][:, self.columns]
        local = list(range(len(self._robots)))
        rows = [k for k in local if publishing[self._robots[k][0]]]
        payloads = self._encoder.encode_rows(ts, self._seq, sub, rows)
        for k in local:
            self._seq[k] += 1  # a silent robot's gap in seq is how loss shows downstream
        sent = 0
        npts = len(self.columns)
        by_row = dict(zip(rows, payloads, strict=True))
        for g in self._gateways:
            for k, topic in zip(g.rows, g.topics, strict=True):
                payload = by_row.get(k)
                if payload is None:
                    continue
                if g.telemetry(topic, payload):
                    sent += 1
                else:
                    self._dropped += 1
        self._queued += sent
        self._points += sent * npts
        return sent

    def stats(self) -> PublishStats:
        acked = sum(g.telemetry_acked() for g in self._gateways)
        per = len(self.columns)
        return PublishStats(self._queued, acked, self._dropped, self._points, acked * per)

    def pending(self) -> int:
        """Messages queued but not yet acknowledged (births and goodbyes included)."""
        return sum(g.pending() for g in self._gateways)

    async def stop(self, *, drain_timeout: float = 5.0) -> None:
        """Say goodbye (retained ``offline`` per robot and gateway), drain, disconnect."""
        for g in self._gateways:
            if g.connected.is_set():
                for topic in g.status:
                    g.control(topic, b"offline")
                g.control(g.line_status, b"offline")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        while self.pending() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.pending():
            log.warning("MQTT: %d messages unacknowledged at shutdown", self.pending())
        for g in self._gateways:
            g.client.disconnect()
            await asyncio.to_thread(g.client.loop_stop)
