"""JSON gateway mappings: decoding rules, every refusal path, and one gateway end to end
through a real Mosquitto into a real PostgreSQL."""

import asyncio
import json
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest

from collectors.errors import CollectorConfigError
from collectors.gateway import GatewayDecoder, GatewayMapping, load_gateway_mapping
from collectors.mqtt import MqttConfig
from collectors.service import run_collectors
from storage.connect import connect
from storage.quarantine import counts_by_reason, list_quarantine
from tests.collectors.fleet_fixture import register_small_fleet
from tests.collectors.waiting import retry_until, wait_for

NOW = time.time()

# A Node-RED flow: robot in the topic, time in ms, a few named values.
NODE_RED = GatewayMapping.model_validate({
    "topic": "plant/+/robots/+/state",
    "robot": {"topic_segment": 3, "codes": {"kuka-7": "R1"}},
    "time": {"path": "ts", "format": "unix_ms"},
    "values": [{"path": "axes.0.current_mA", "signal": "J1.current", "scale": 0.001},
               {"path": "axes.0.temp", "signal": "J1.temperature"}],
})
# A vendor edge box: a batch of records, robot and ISO time in each, an object of values.
EDGE_BOX = GatewayMapping.model_validate({
    "topic": "edgebox/telemetry",
    "records": "items",
    "robot": {"path": "asset.id"},
    "time": {"path": "time", "format": "iso8601"},
    "values_object": {"path": "readings", "prefix": "box."},
})


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "+00:00"


def test_node_red_values_from_paths_and_topic() -> None:
    doc = {"ts": round(NOW * 1000), "axes": [{"current_mA": 1500, "temp": 40.5}]}
    out = GatewayDecoder(mapping=NODE_RED).decode("plant/p1/robots/kuka-7/state",
                                                  json.dumps(doc).encode(), now=NOW)
    assert out.rejects == []
    [s] = out.samples
    assert (s.robot, s.values) == ("R1", {"J1.current": 1.5, "J1.temperature": 40.5})
    assert s.ts == pytest.approx(round(NOW * 1000) / 1000)


def test_missing_value_is_skipped_bad_value_quarantined_null_is_bad_quality() -> None:
    d = GatewayDecoder(mapping=NODE_RED)
    out = d.decode("plant/p1/robots/R2/state",
                   json.dumps({"ts": NOW * 1000, "axes": [{"temp": "hot"}]}).encode(), now=NOW)
    assert out.samples == [] and [r.reason for r in out.rejects] == ["not_a_number"]
    out = d.decode("plant/p1/robots/R2/state",
                   json.dumps({"ts": NOW * 1000, "axes": [{"temp": None,
                                                           "current_mA": 10}]}).encode(), now=NOW)
    assert out.samples[0].values == {"J1.temperature": None, "J1.current": 0.01}
    out = d.decode("plant/p1/robots/R2/state", json.dumps({"ts": NOW * 1000}).encode(), now=NOW)
    assert [r.reason for r in out.rejects] == ["schema"]


def test_batch_records_each_stand_alone() -> None:
    doc = {"items": [
        {"asset": {"id": "R1"}, "time": iso(NOW), "readings": {"spindle": 3, "load": 0.5}},
        {"asset": {"id": "R2"}, "time": "yesterday", "readings": {"spindle": 1}},
        {"asset": {"id": "R2"}, "time": iso(NOW), "readings": {"spindle": 1e400, "load": 1}},
        {"asset": {}, "time": iso(NOW), "readings": {"spindle": 1}},
        {"asset": {"id": "R1"}, "time": iso(NOW + 3600), "readings": {"spindle": 1}},
        {"asset": {"id": "R1"}, "time": iso(NOW), "readings": {"bad name": 1, "ok": 2}},
    ]}
    raw = json.dumps(doc).replace("1e+400", "Infinity").encode()
    out = GatewayDecoder(mapping=EDGE_BOX).decode("edgebox/telemetry", raw, now=NOW)
    assert [(s.robot, s.values) for s in out.samples] == [
        ("R1", {"box.spindle": 3.0, "box.load": 0.5}), ("R2", {"box.load": 1.0}),
        ("R1", {"box.ok": 2.0})]
    assert [r.reason for r in out.rejects] == [
        "schema", "non_finite", "schema", "clock_skew", "bad_signal_name"]
    assert out.rejects[0].detail.startswith("record 1:")


def test_whole_message_refusals() -> None:
    d = GatewayDecoder(mapping=EDGE_BOX)
    assert [r.reason for r in d.decode("t", b"{nope", now=NOW).rejects] == ["malformed_json"]
    assert [r.reason for r in d.decode("t", b'{"items": 3}', now=NOW).rejects] == ["schema"]
    big = b'{"items": []' + b" " * 70_000 + b"}"
    assert [r.reason for r in d.decode("t", big, now=NOW).rejects] == ["oversized"]


def test_mapping_file_is_strict(tmp_path: Path) -> None:
    good = tmp_path / "g.toml"
    good.write_text('topic = "a/+"\n[robot]\ntopic_segment = 1\n'
                    '[[values]]\npath = "x"\nsignal = "J1.current"\n')
    assert load_gateway_mapping(good).robot.topic_segment == 1
    for body in ('topic = "a/+"\n[robot]\ntopic_segment = 1\npath = "r"\n'
                 '[[values]]\npath = "x"\nsignal = "s"\n',
                 'topic = "a/+"\n[robot]\ntopic_segment = 5\n'
                 '[[values]]\npath = "x"\nsignal = "s"\n',
                 'topic = "a/+"\n[robot]\npath = "r"\n',
                 'topic = "a/+"\nextra = 1\n[robot]\npath = "r"\n[[values]]\npath = "x"\n'
                 'signal = "s"\n',
                 'topic = "a/+"\n[robot]\npath = "r"\n[time]\npath = "t"\nformat = "excel"\n'
                 '[[values]]\npath = "x"\nsignal = "s"\n'):
        bad = tmp_path / "b.toml"
        bad.write_text(body)
        with pytest.raises(CollectorConfigError, match="mapping"):
            load_gateway_mapping(bad)



@pytest.mark.mqtt
@pytest.mark.slow
async def test_a_node_red_gateway_through_mosquitto(db_url, mosquitto) -> None:
    register_small_fleet(db_url)
    stop = asyncio.Event()
    cfg = MqttConfig(url=mosquitto, client_id=f"gw-{uuid.uuid4().hex[:8]}",
                     decoder_factory=lambda limits: GatewayDecoder(mapping=NODE_RED,
                                                                   limits=limits))
    task = asyncio.create_task(run_collectors(conninfo=db_url, stop=stop, mqtt=cfg))
    u = urlsplit(mosquitto)
    assert u.hostname is not None and u.port is not None
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect(u.hostname, u.port)
    pub.loop_start()

    def send(robot: str, doc: object) -> None:
        pub.publish(f"plant/p1/robots/{robot}/state", json.dumps(doc), qos=1).wait_for_publish(5)

    def stored() -> list[tuple[str, str, float | None]]:
        with connect(db_url) as conn:
            rows = conn.execute(
                """SELECT r.code, s.name, t.value FROM telemetry t
                   JOIN robots r ON r.id = t.robot_id JOIN signals s ON s.id = t.signal_id
                   ORDER BY t.time, s.name""").fetchall()
        return [(r[0], r[1], r[2]) for r in rows]
    try:
        async def probe() -> bool:
            send("R2", {"ts": time.time() * 1000, "axes": [{"temp": 30.0}]})
            return await wait_for(lambda: bool(stored()), timeout=0.5)
        assert await retry_until(probe)
        send("kuka-7", {"ts": time.time() * 1000, "axes": [{"current_mA": 1200, "temp": "?"}]})
        send("R9", {"ts": time.time() * 1000, "axes": [{"temp": 1.0}]})  # not registered
        send("R2", {"ts": time.time() * 1000, "axes": [{"temp": 31.0}]})
        assert await wait_for(lambda: ("R2", "J1.temperature", 31.0) in stored())
        # The probes were all R2 temperatures; of the kuka-7 message only the good value.
        [(robot, signal, value)] = [row for row in stored() if row[0] != "R2"]
        assert (robot, signal) == ("R1", "J1.current") and value == pytest.approx(1.2)

        def reasons() -> dict[str, int]:
            with connect(db_url) as conn:
                return counts_by_reason(conn=conn)
        assert await wait_for(lambda: reasons() == {"not_a_number": 1, "unknown_robot": 1})
        with connect(db_url) as conn:
            [row] = list_quarantine(conn=conn, reason="unknown_robot")
        assert row.source == "mqtt-gateway" and row.origin == "plant/p1/robots/R9/state"
    finally:
        pub.loop_stop()
        pub.disconnect()
        stop.set()
        await asyncio.wait_for(task, 15)
