"""MQTT collector against a real Mosquitto and a real PostgreSQL."""

import asyncio
import json
import logging
import time
import uuid
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest

from collectors.metrics import CollectorMetrics
from collectors.mqtt import MqttConfig
from collectors.service import run_collectors
from storage.connect import connect
from storage.quarantine import counts_by_reason, list_quarantine
from tests.collectors.fleet_fixture import register_small_fleet

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

TOPIC = "robowatch/C1/S1/L1/{robot}/telemetry"


def publisher(url: str) -> mqtt.Client:
    u = urlsplit(url)
    assert u.hostname is not None and u.port is not None, url
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect(u.hostname, u.port)
    c.loop_start()
    return c


def good(robot: str, seq: int, **signals: float) -> bytes:
    return json.dumps({"v": 1, "robot": robot, "ts": time.time(), "seq": seq,
                       "signals": signals or {"J1.current": 1.0 + seq,
                                              "J1.temperature": 40.0}}).encode()


async def wait_for(pred, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(pred):
            return True
        await asyncio.sleep(0.1)
    return False


def points(db_url: str) -> int:
    with connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM telemetry").fetchone()
    assert row is not None
    return int(row[0])


async def test_bad_input_is_quarantined_and_good_messages_around_it_are_all_stored(
    db_url, mosquitto
):
    register_small_fleet(db_url)
    stop = asyncio.Event()
    metrics = CollectorMetrics()
    cfg = MqttConfig(url=mosquitto, client_id=f"test-{uuid.uuid4().hex[:8]}")
    task = asyncio.create_task(
        run_collectors(conninfo=db_url, stop=stop, mqtt=cfg, metrics=metrics))
    pub = publisher(mosquitto)
    try:
        # Wait until the collector's subscription is live (a probe message gets stored).
        assert await wait_for(lambda: (pub.publish(TOPIC.format(robot="R1"), good("R1", 0), qos=1)
                                       and points(db_url) > 0))
        base = points(db_url)
        sent_good = 0
        bad = [
            (TOPIC.format(robot="R1"), b"{this is not json"),                    # malformed
            (TOPIC.format(robot="R9"), good("R9", 1)),                             # unknown robot
            (TOPIC.format(robot="R1"),
             b'{"v":1,"robot":"R1","ts":%f,"signals":{"J1.current":NaN,"J2.current":2}}'
             % time.time()),
            (TOPIC.format(robot="R1"), json.dumps({"v": 1, "robot": "R1", "ts": time.time() + 86400,
                                                    "signals": {"a": 1}}).encode()),  # clock skew
            (TOPIC.format(robot="R1"), b"{" + b" " * 70_000 + b"}"),              # oversized
        ]
        for i, (topic, payload) in enumerate(bad):
            pub.publish(TOPIC.format(robot="R2"), good("R2", i), qos=1).wait_for_publish(5)
            sent_good += 2
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        pub.publish(TOPIC.format(robot="R1"), good("R1", 99), qos=1).wait_for_publish(5)
        sent_good += 2
        expected = base + sent_good + 1  # + the good J2.current of the NaN message
        assert await wait_for(lambda: points(db_url) >= expected), (points(db_url), expected)

        def reasons():
            with connect(db_url) as conn:
                return counts_by_reason(conn=conn)
        assert await wait_for(lambda: sum(reasons().values()) >= 5)
        got = reasons()
        assert got == {"malformed_json": 1, "unknown_robot": 1, "non_finite": 1,
                       "clock_skew": 1, "oversized": 1}
        with connect(db_url) as conn:
            rows = list_quarantine(conn=conn, reason="unknown_robot")
        assert rows[0].payload is not None and b'"R9"' in rows[0].payload
        assert rows[0].origin == TOPIC.format(robot="R9")
        await asyncio.sleep(0.5)
        assert points(db_url) == expected  # nothing extra, nothing duplicated
    finally:
        pub.loop_stop()
        pub.disconnect()
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_shared_subscription_splits_messages_between_collectors(db_url, mosquitto):
    register_small_fleet(db_url)
    stop = asyncio.Event()
    group = f"g{uuid.uuid4().hex[:6]}"
    metrics = [CollectorMetrics(), CollectorMetrics()]
    tasks = [asyncio.create_task(run_collectors(
        conninfo=db_url, stop=stop, metrics=m,
        mqtt=MqttConfig(url=mosquitto, client_id=f"share-{group}-{i}", share_group=group)))
        for i, m in enumerate(metrics)]
    pub = publisher(mosquitto)
    try:
        def both_subscribed() -> bool:
            return all(m.connected.labels(mosquitto)._value.get() == 1 for m in metrics)
        assert await wait_for(both_subscribed)
        await asyncio.sleep(0.5)
        t0 = time.time()
        for seq in range(200):
            doc = {"v": 1, "robot": "R1", "ts": t0 + seq * 0.001, "seq": seq,
                   "signals": {"J1.current": float(seq)}}
            pub.publish(TOPIC.format(robot="R1"), json.dumps(doc), qos=1)
        assert await wait_for(lambda: points(db_url) >= 200)
        await asyncio.sleep(0.5)
        assert points(db_url) == 200  # each message went to exactly one collector
        got = [m.messages.labels("mqtt")._value.get() for m in metrics]
        assert sum(got) == 200 and min(got) > 0, got  # and both took a share
    finally:
        pub.loop_stop()
        pub.disconnect()
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)


async def test_an_unexpected_error_is_logged_with_its_traceback_and_ends_the_service(
    db_url, mosquitto, caplog
):
    """A bug in a transport (here paho refusing QoS 3 at subscribe) is not retried and not
    swallowed: logged once with its traceback, and run_collectors raises it after draining."""
    caplog.set_level(logging.INFO, logger="collectors")
    register_small_fleet(db_url)
    cfg = MqttConfig(url=mosquitto, client_id=f"bug-{uuid.uuid4().hex[:8]}", qos=3)
    with pytest.raises(ValueError, match="QoS"):
        await asyncio.wait_for(
            run_collectors(conninfo=db_url, stop=asyncio.Event(), mqtt=cfg), 20)
    failed = [r for r in caplog.records if r.message == "mqtt failed"]
    assert len(failed) == 1 and failed[0].exc_info is not None
    assert any(r.message == "collectors stopped; writer drained" for r in caplog.records)


async def test_backlog_beyond_the_read_pause_is_drained_before_the_suback(db_url, mosquitto):
    """A persistent session's queued messages come before the SUBACK. With more of them than
    ``max_queued_messages`` the collector used to pause reading while still waiting for the
    SUBACK, time out, reconnect, and never drain (bench ingest --capacity never finished)."""
    register_small_fleet(db_url)
    cfg = MqttConfig(url=mosquitto, client_id=f"backlog-{uuid.uuid4().hex[:8]}",
                     max_queued_messages=20, ack_timeout_s=3.0)

    async def run_until(pred, timeout: float):
        stop = asyncio.Event()
        metrics = CollectorMetrics()
        task = asyncio.create_task(run_collectors(conninfo=db_url, stop=stop, mqtt=cfg,
                                                  metrics=metrics))
        try:
            return await wait_for(pred, timeout)
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
            assert metrics.registry.get_sample_value(
                "robowatch_source_connected", {"origin": mosquitto}) == 0

    pub = publisher(mosquitto)
    try:
        # First run: the session (and its subscription) exists once a probe is stored.
        assert await run_until(lambda: (pub.publish(TOPIC.format(robot="R1"), good("R1", 0),
                                                    qos=1) and points(db_url) > 0), 15)
        base = points(db_url)
        infos = [pub.publish(TOPIC.format(robot="R2"), good("R2", i), qos=1)
                 for i in range(1, 301)]
        for info in infos:
            info.wait_for_publish(10)
        # Second run: 300 queued messages (2 points each), far above max_queued_messages.
        assert await run_until(lambda: points(db_url) >= base + 600, 60), points(db_url)
        assert points(db_url) == base + 600
    finally:
        pub.loop_stop()
        pub.disconnect()
