"""Sparkplug B through a real Mosquitto into a real PostgreSQL.

The edge node is played by ``sparkplug_b_packets`` (Tahu's helper functions: births,
bdSeq, seq numbering), not by the collector's decoding; paho publishes its payloads.
Birth, alias-only data, a NaN among good values, data before any birth, a sequence gap
and the rebirth it asks for, DDEATH and NDEATH as data gaps, and a birth closing a gap.
"""

import asyncio
import math
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from sparkplub_b_packets.core import sparkplug_b as spb

from collectors.mapping import SparkplugMapping
from collectors.mqtt import MqttConfig
from collectors.payload import Limits
from collectors.service import run_collectors
from collectors.sparkplug import SparkplugDecoder
from collectors.sparkplug_schema import Payload
from storage.connect import connect
from storage.gaps import list_gaps
from storage.quarantine import counts_by_reason
from tests.collectors.fleet_fixture import register_small_fleet
from tests.collectors.waiting import retry_until, wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

GROUP = "Plant1"
NODE = "cell-4"
T = spb.MetricDataType
CURRENT, TEMP, POS = 1, 2, 3  # the edge node's aliases

MAPPING = SparkplugMapping.model_validate({
    "group": GROUP,
    "rebirth_every_s": 0.2,
    "robots": [{"edge_node": NODE, "device": "robot-1", "robot": "R1"},
               {"edge_node": NODE, "device": "robot-2", "robot": "R2"}],
    "signals": [
        {"metric": "Axis 1/Motor Current", "signal": "J1.current", "scale": 0.001, "unit": "A"},
        {"metric": "Axis 1/Temperature", "signal": "J1.temperature", "unit": "degC"},
        {"metric": "Axis 2/Position", "signal": "J2.position", "unit": "count"},
    ],
})


def topic(kind: str, device: str | None = None) -> str:
    return f"spBv1.0/{GROUP}/{kind}/{NODE}" + (f"/{device}" if device else "")


_last_ms = 0


def now_ms() -> int:
    """Strictly increasing: telemetry is unique per (robot, signal, time), and two messages a
    test sends back to back can fall in the same millisecond."""
    global _last_ms
    _last_ms = max(_last_ms + 1, round(time.time() * 1000))
    return _last_ms


class EdgeNode:
    """A Sparkplug edge node with two robots, on its own MQTT connection whose will is its
    NDEATH (as the specification has it: the broker announces a node that vanishes)."""

    def __init__(self, url: str) -> None:
        u = urlsplit(url)
        assert u.hostname is not None and u.port is not None
        self.host, self.port = u.hostname, u.port
        self.ncmd: list[bytes] = []
        self.client = self._connect()

    def _connect(self) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.on_message = lambda c, ud, msg: self.ncmd.append(bytes(msg.payload))
        death = spb.getNodeDeathPayload()  # bdSeq first: the births repeat it
        client.will_set(topic("NDEATH"), death.SerializeToString(), qos=1)
        client.connect(self.host, self.port)
        client.loop_start()
        client.subscribe(topic("NCMD"), qos=0)
        return client

    def vanish_and_return(self) -> None:
        """The node's connection drops without a DISCONNECT (the broker publishes its will),
        then it connects again (a new bdSeq)."""
        self.client.loop_stop()
        sock = self.client.socket()
        assert sock is not None
        sock.close()
        self.client = self._connect()

    def send(self, t: str, payload: Any) -> None:
        self.client.publish(t, payload.SerializeToString(), qos=1).wait_for_publish(5)

    def births(self) -> None:
        nb = spb.getNodeBirthPayload()
        spb.addMetric(nb, "Node Control/Rebirth", None, T.Boolean, False, timestamp=now_ms())
        self.send(topic("NBIRTH"), nb)
        for device, (cur, temp, pos) in (("robot-1", (1500, 40.0, 7)),
                                         ("robot-2", (2500, 41.0, -12))):
            db = spb.getDeviceBirthPayload()
            ts = now_ms()
            spb.addMetric(db, "Axis 1/Motor Current", CURRENT, T.Double, float(cur), timestamp=ts)
            spb.addMetric(db, "Axis 1/Temperature", TEMP, T.Float, temp, timestamp=ts)
            spb.addMetric(db, "Axis 2/Position", POS, T.Int32, pos, timestamp=ts)
            spb.addMetric(db, "Firmware", 9, T.String, "v1.2", timestamp=ts)  # not mapped
            self.send(topic("DBIRTH", device), db)

    def data(self, device: str, current: float, temp: float, pos: int | None = None) -> None:
        p = spb.getDdataPayload()
        ts = now_ms()
        spb.addMetric(p, None, CURRENT, T.Double, current, timestamp=ts)
        spb.addMetric(p, None, TEMP, T.Float, temp, timestamp=ts)
        if pos is not None:
            spb.addMetric(p, None, POS, T.Int32, pos, timestamp=ts)
        self.send(topic("DDATA", device), p)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()



def series(db_url: str, robot: str, signal: str) -> list[float | None]:
    with connect(db_url) as conn:
        rows = conn.execute(
            """SELECT t.value FROM telemetry t JOIN robots r ON r.id = t.robot_id
               JOIN signals s ON s.id = t.signal_id WHERE r.code = %s AND s.name = %s
               ORDER BY t.time""", (robot, signal)).fetchall()
    return [r[0] for r in rows]


def reasons(db_url: str) -> dict[str, int]:
    with connect(db_url) as conn:
        return counts_by_reason(conn=conn)


def gaps(db_url: str) -> dict[int, list[bool]]:
    """robot id -> [is the gap still open?] per gap."""
    with connect(db_url) as conn:
        out: dict[int, list[bool]] = {}
        for g in list_gaps(conn=conn):
            assert g.robot_id is not None and g.source == "mqtt"
            out.setdefault(g.robot_id, []).append(g.ended_at is None)
        return out


async def test_birth_data_gap_rebirth_and_death_through_mosquitto(db_url, mosquitto):
    ids = register_small_fleet(db_url)
    stop = asyncio.Event()
    cfg = MqttConfig(url=mosquitto, client_id=f"spb-{uuid.uuid4().hex[:8]}",
                     decoder_factory=lambda limits: SparkplugDecoder(mapping=MAPPING,
                                                                     limits=limits))
    task = asyncio.create_task(run_collectors(conninfo=db_url, stop=stop, mqtt=cfg))
    node = EdgeNode(mosquitto)
    try:
        # Data before any birth (the collector came up after the node) cannot be read by
        # alias: quarantined, and the node asked to rebirth. This also tells us when the
        # collector's subscription is live.
        async def probe() -> bool:
            node.data("robot-1", 1.0, 1.0)
            return await wait_for(lambda: bool(node.ncmd), timeout=0.5)
        assert await retry_until(probe)
        # The rebirth request goes out before the quarantine writer's batch is flushed.
        assert await wait_for(lambda: reasons(db_url).get("no_birth", 0) >= 1)

        node.births()
        assert await wait_for(lambda: len(series(db_url, "R2", "J2.position")) == 1)
        assert series(db_url, "R1", "J1.current") == [pytest.approx(1.5)]  # mA * 0.001
        assert series(db_url, "R2", "J2.position") == [-12.0]  # Int32 two's complement
        assert series(db_url, "R1", "J1.temperature") == [40.0]

        # Alias-only data; a NaN costs only itself.
        node.data("robot-1", 1600.0, 40.5, 8)
        node.data("robot-1", 1700.0, math.nan, 9)
        assert await wait_for(lambda: len(series(db_url, "R1", "J2.position")) == 3)
        assert series(db_url, "R1", "J1.current") == pytest.approx([1.5, 1.6, 1.7])
        assert series(db_url, "R1", "J1.temperature") == [40.0, 40.5]
        assert await wait_for(lambda: reasons(db_url).get("non_finite") == 1)

        # A lost message (seq skipped): the data is still stored, a rebirth is requested,
        # and the node's answer (new births, seq from 0) is read like the first.
        before = len(node.ncmd)

        async def gap() -> bool:
            # Repeated until answered: a request within rebirth_every_s of the previous one
            # is held back by design, and a loaded machine can bunch them up.
            spb.getSeqNum()
            node.data("robot-1", 1800.0, 41.0)
            return await wait_for(lambda: len(node.ncmd) > before, timeout=3.0)
        assert await retry_until(gap)
        req = Payload.FromString(node.ncmd[-1])
        assert [(m.name, m.boolean_value) for m in req.metrics] == [("Node Control/Rebirth", True)]
        assert await wait_for(lambda: len(series(db_url, "R1", "J1.current")) >= 4)
        node.births()
        node.data("robot-2", 2600.0, 42.0, 5)
        assert await wait_for(lambda: len(series(db_url, "R2", "J2.position")) == 3)
        assert series(db_url, "R2", "J2.position") == [-12.0, -12.0, 5.0]
        n_cmd = len(node.ncmd)

        # DDEATH: R2 offline (an open gap); NDEATH (the will of the node's connection): R1
        # too.
        dd = spb.getDdataPayload()
        node.send(topic("DDEATH", "robot-2"), dd)
        assert await wait_for(lambda: gaps(db_url).get(ids["R2"]) == [True])
        await asyncio.to_thread(node.vanish_and_return)
        assert await wait_for(lambda: gaps(db_url).get(ids["R1"]) == [True])
        # The births of the new session bring R1 back: its gap is closed; R2's closes with
        # its DBIRTH too.
        node.births()
        assert await wait_for(lambda: gaps(db_url) == {ids["R1"]: [False], ids["R2"]: [False]})
        await asyncio.sleep(0.5)
        assert len(node.ncmd) == n_cmd  # no rebirth asked for a clean sequence
        assert reasons(db_url) == {"no_birth": reasons(db_url)["no_birth"], "non_finite": 1}
    finally:
        node.close()
        stop.set()
        await asyncio.wait_for(task, 15)



def test_limits_reach_the_decoder() -> None:
    limits = Limits(max_bytes=10)
    d = SparkplugDecoder(mapping=MAPPING, limits=limits)
    out = d.decode(topic("NBIRTH"), b"x" * 11, now=time.time())
    assert [r.reason for r in out.rejects] == ["oversized"]
