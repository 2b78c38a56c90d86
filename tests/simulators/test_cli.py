"""``robowatch simulate`` as the demo runs it: a child process, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asyncua import Client

from simulators.brokers import free_port
from simulators.opcua import NAMESPACE_URI
from tests.simulators.test_mqtt import Recorder

pytestmark = [pytest.mark.slow, pytest.mark.mqtt, pytest.mark.opcua]


async def test_simulate_serves_both_protocols_until_sigterm(mosquitto: str,
                                                            tmp_path: Path) -> None:
    port = free_port()
    labels = tmp_path / "labels.jsonl"
    rec = Recorder(mosquitto, "robowatch/#")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBOWATCH_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "robowatch", "simulate", "--protocol", "both",
         "--mqtt-url", mosquitto, "--opcua-port", str(port), "--rate", "5",
         "--labels", str(labels)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the servers are up
        assert line.strip() == f"OPC UA endpoint: opc.tcp://127.0.0.1:{port}/robowatch/simulator"
        async with Client(url=line.split(": ", 1)[1].strip(), timeout=5) as client:
            idx = await client.get_namespace_index(NAMESPACE_URI)
            temp = await client.nodes.objects.get_child(
                [f"{idx}:STR1", f"{idx}:WELD-A", f"{idx}:R-0001", f"{idx}:Joints", f"{idx}:J3",
                 f"{idx}:Temperature"])
            assert 20.0 < await temp.read_value() < 150.0
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    time.sleep(0.2)
    msgs = rec.stop()
    assert proc.returncode == 0, err
    assert "stopped by signal" in err
    robots = {json.loads(p)["robot"] for t, p, _ in msgs if t.endswith("/telemetry")}
    assert robots == {"R-0003", "R-0101", "R-0102"}  # the demo's MQTT robots
    last_status = {t: p.decode() for t, p, _ in msgs if t.endswith("/status")}
    assert last_status["robowatch/ACME/STR1/PAL-1/R-0003/status"] == "offline"
    assert [json.loads(x)["robot"] for x in labels.read_text().splitlines()] == [
        "R-0001", "R-0101"]


def test_bench_simulate_prints_a_json_report_last(mosquitto: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBOWATCH_")}
    env["ROBOWATCH_MQTT_URL"] = mosquitto
    out = subprocess.run(
        [sys.executable, "-m", "robowatch", "bench", "simulate", "--robots", "4",
         "--signals", "20", "--rate", "5", "--seconds", "1", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["requested_points_per_second"] == 4 * 20 * 5
    assert report["messages_acked"] == report["ticks"] * 4
    assert report["achieved_points_per_second"] > 0 and report["broker"] == "external"
