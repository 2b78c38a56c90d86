"""kill -9 the MQTT collector mid-stream and restart it: every published point stored once."""

import json
import signal
import threading
import time
import uuid
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest

from storage.connect import connect
from tests.collectors.fleet_fixture import register_small_fleet
from tests.collectors.proc import start_collector

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

ROBOTS = ("R1", "R2", "R3", "R4")
MESSAGES = 600          # per robot
SIGNALS = [f"J{j}.{q}" for j in range(1, 7) for q in ("current", "temperature")]


def count(db_url: str) -> tuple[int, int]:
    with connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (robot_id, signal_id, time)) FROM telemetry"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def publish_all(url: str, done: threading.Event) -> None:
    u = urlsplit(url)
    assert u.hostname is not None and u.port is not None, url
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect(u.hostname, u.port)
    c.loop_start()
    t0 = time.time() - 10
    infos = []
    for seq in range(MESSAGES):
        for r in ROBOTS:
            doc = {"v": 1, "robot": r, "ts": t0 + seq * 0.01, "seq": seq,
                   "signals": {s: seq + k / 100 for k, s in enumerate(SIGNALS)}}
            infos.append(c.publish(f"robowatch/C1/S1/L1/{r}/telemetry", json.dumps(doc), qos=1))
        time.sleep(0.005)  # ~3 s of steady traffic
    for i in infos:
        i.wait_for_publish(10)
    c.loop_stop()
    c.disconnect()
    done.set()


def test_kill_9_mid_stream_then_restart_stores_every_point_exactly_once(
    db_url, mosquitto, tmp_path
):
    register_small_fleet(db_url, robots=ROBOTS)
    client_id = f"crash-{uuid.uuid4().hex[:8]}"
    args = ["mqtt", "--url", mosquitto, "--client-id", client_id,
            "--spool-dir", str(tmp_path / "spool")]
    log = tmp_path / "collector.log"
    first = start_collector(args, db_url=db_url, log=log)
    try:
        # The persistent session must exist before publishing starts: wait for its first point.
        probe_t = time.time()
        u = urlsplit(mosquitto)
        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        probe.connect(u.hostname, u.port)
        probe.loop_start()

        def probed() -> bool:
            probe.publish("robowatch/C1/S1/L1/R1/telemetry", json.dumps(
                {"v": 1, "robot": "R1", "ts": probe_t, "seq": 0,
                 "signals": {"cycle_count": 1}}), qos=1)
            return count(db_url)[0] > 0
        assert wait_until(probed, 60), log.read_text()
        probe.loop_stop()
        probe.disconnect()
        base = count(db_url)[0]
        assert base == 1  # one probe point, however often it was sent (same ts: same point)

        done = threading.Event()
        pub = threading.Thread(target=publish_all, args=(mosquitto, done), daemon=True)
        pub.start()
        expected = base + MESSAGES * len(ROBOTS) * len(SIGNALS)
        assert wait_until(lambda: count(db_url)[0] > (expected - base) // 4, 30)
        first.send_signal(signal.SIGKILL)  # mid-stream: no drain, no acks for the last batch
        first.wait(10)
        killed_at = count(db_url)[0]
        assert killed_at < expected
        time.sleep(1.0)
        second = start_collector(args, db_url=db_url, log=log)
        try:
            assert done.wait(60)
            assert wait_until(lambda: count(db_url)[0] >= expected, 60), (count(db_url), expected)
            time.sleep(1.0)  # anything redelivered late would show up now
            total, distinct = count(db_url)
            assert (total, distinct) == (expected, expected)
            with connect(db_url) as conn:
                per_robot: dict[str, int] = dict(conn.execute(
                    "SELECT r.code, count(*) FROM telemetry t JOIN robots r ON r.id = t.robot_id "
                    "WHERE t.time > to_timestamp(%s) GROUP BY r.code", (probe_t - 20,)).fetchall())
            assert per_robot["R2"] == MESSAGES * len(SIGNALS)
        finally:
            second.terminate()
            assert second.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()
