"""The MQTT transport against a real Mosquitto: payload v1, topics, birth and goodbye, labels."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from simulators.labels import read_labels_file
from simulators.mqtt import MqttTarget
from simulators.runner import RunConfig, run
from storage.ground_truth import list_fault_labels
from tests.simulators.helpers import scenario

pytestmark = [pytest.mark.mqtt]


class Recorder:
    def __init__(self, url: str, topic: str) -> None:
        t = MqttTarget.from_url(url)
        self.messages: list[tuple[str, bytes, bool]] = []
        self.ready = threading.Event()
        self.lock = threading.Lock()
        c = self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rec-{time.time()}")

        def on_connect(cl: mqtt.Client, *_: object) -> None:
            cl.subscribe(topic, qos=1)
            self.ready.set()

        c.on_connect = on_connect
        c.on_message = self._on_message
        c.connect(t.host, t.port)
        c.loop_start()
        assert self.ready.wait(5)
        time.sleep(0.2)  # let the SUBACK land before the publisher starts

    def _on_message(self, _c, _u, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def stop(self) -> list[tuple[str, bytes, bool]]:
        self.client.disconnect()
        self.client.loop_stop()
        with self.lock:
            return list(self.messages)


async def test_publishes_valid_v1_payloads_and_status(mosquitto: str, tmp_path: Path,
                                                      db_url: str) -> None:
    faults = [{"robot": "R1", "component": "J2", "kind": "gearbox_wear", "onset_s": 30,
               "failure_s": 90},
              {"robot": "R0", "component": "controller", "kind": "comm_loss", "onset_s": 0.5,
               "duration_s": 0.5}]
    sc = scenario(faults, robots=3)
    rec = Recorder(mosquitto, "robowatch/#")
    labels_file = tmp_path / "labels.jsonl"
    result = await run(sc, RunConfig(rate_hz=10, duration_s=1.5, protocol="mqtt",
                                     mqtt_url=mosquitto, seed=1, speedup=2.0,
                                     labels_path=labels_file, database_url=db_url,
                                     client_id_suffix="t1"))
    time.sleep(0.3)
    msgs = rec.stop()

    tele = [(t, json.loads(p)) for t, p, _ in msgs if t.endswith("/telemetry")]
    assert result.ticks >= 13
    by_robot: dict[str, list[dict[str, Any]]] = {}
    for topic, p in tele:
        assert set(p) == {"v", "robot", "ts", "seq", "signals"}
        assert p["v"] == 1 and isinstance(p["seq"], int) and p["seq"] >= 0
        assert topic == f"robowatch/C1/S1/L1/{p['robot']}/telemetry"
        assert abs(p["ts"] - time.time()) < 30
        assert len(p["signals"]) == 56
        assert all(isinstance(v, int | float) for v in p["signals"].values())
        by_robot.setdefault(p["robot"], []).append(p)
    assert set(by_robot) == {"R0", "R1", "R2"}
    seqs = [p["seq"] for p in by_robot["R1"]]
    assert seqs == list(range(len(seqs))) and len(seqs) == result.ticks
    # R0 went silent for 0.25 s of wall time (0.5 scenario s at speed-up 2): a gap in seq.
    r0 = [p["seq"] for p in by_robot["R0"]]
    assert len(r0) < len(seqs) and max(r0) == max(seqs)
    assert result.mqtt is not None and result.mqtt.messages_acked == len(tele)

    status = [(t, p.decode()) for t, p, _ in msgs if t.endswith("/status")]
    assert ("robowatch/C1/S1/L1/R2/status", "online") in status
    assert status[-1][1] == "offline"
    assert ("robowatch/C1/S1/L1/R2/status", "offline") in status

    labels = read_labels_file(labels_file)
    assert [(lb.robot, lb.component, lb.kind) for lb in labels] == [
        ("R1", "J2", "gearbox_wear"), ("R0", "controller", "comm_loss")]
    gw = labels[0]
    assert gw.onset == pytest.approx(result.start_time + 15.0, abs=0.01)
    assert gw.failure == pytest.approx(result.start_time + 45.0, abs=0.01)
    assert labels[1].end == pytest.approx(result.start_time + 0.5, abs=0.01)

    from storage.connect import connect

    with connect(db_url) as conn:
        rows = list_fault_labels(conn=conn, run_id=result.run_id)
    assert [(r.robot, r.kind) for r in rows] == [("R0", "comm_loss"), ("R1", "gearbox_wear")]
    assert rows[1].failure_at is not None
    assert rows[1].failure_at.timestamp() == pytest.approx(gw.failure, abs=0.01)


async def test_refuses_mqtt_robots_without_a_broker() -> None:
    with pytest.raises(ValueError, match="no MQTT URL"):
        await run(scenario(), RunConfig(duration_s=0.1, protocol="mqtt"))
