"""The whole pipeline as separate processes: simulator (OPC UA + MQTT) -> collectors ->
PostgreSQL -> detection -> ticketing -> API. Real embedded PostgreSQL, real Mosquitto, a real
asyncua server; a scheduled fault must come out of the API as a graded ticket with its clocks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.brokers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.mqtt, pytest.mark.opcua]

HERE = Path(__file__).resolve().parent
E2E_PASSWORD = "end-to-end passphrase"


def _signed_in(api: str, deadline: float, stack: Stack) -> httpx.Client:
    """A client with a session from the API's login, once the API answers."""
    while time.monotonic() < deadline:
        stack.alive()
        try:
            resp = httpx.post(f"{api}/auth/login", timeout=5,
                              data={"username": "e2e", "password": E2E_PASSWORD})
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        resp.raise_for_status()
        token = resp.json()["access_token"]
        client = httpx.Client(timeout=5, headers={"Authorization": f"Bearer {token}"})
        stack.clients.append(client)  # closed when the stack stops
        return client
    raise AssertionError("the API did not answer the login in time")


class Stack:
    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[object] = []
        self.clients: list[httpx.Client] = []

    def start(self, name: str, *args: str) -> None:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.logs.append(log)
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "robowatch", *args],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def run(self, *args: str, stdin: str | None = None) -> None:
        subprocess.run([sys.executable, "-m", "robowatch", *args], env=self.env, check=True,
                       capture_output=True, timeout=60, input=stdin and stdin.encode())

    def alive(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise AssertionError(f"{name} exited with {p.returncode}:\n{self.tail(name)}")

    def tail(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> dict[str, int]:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = {}
        for name, p in self.procs.items():
            try:
                codes[name] = p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[name] = p.wait()
        for log in self.logs:
            log.close()  # type: ignore[attr-defined]
        for client in self.clients:
            client.close()
        return codes


@pytest.fixture
def stack(db_url: str, mosquitto: str, tmp_path: Path) -> Iterator[Stack]:
    env = {**os.environ, "ROBOWATCH_DATABASE_URL": db_url, "ROBOWATCH_MQTT_URL": mosquitto,
           "ROBOWATCH_HOME": str(tmp_path / "home")}
    s = Stack(env, tmp_path)
    try:
        yield s
    finally:
        codes = s.stop()
        # Every service stops cleanly on SIGTERM.
        assert all(c == 0 for c in codes.values()), {
            n: (c, s.tail(n)) for n, c in codes.items() if c
        }


def test_a_scheduled_fault_becomes_a_graded_ticket_with_its_deadlines(stack: Stack, tmp_path: Path):
    scenario = str(HERE / "scenario.toml")
    opcua_port, api_port = free_port(), free_port()
    stack.run("fleet", "load", "--scenario", scenario)
    # The API needs a caller: a user made with the real CLI signs in through the real login.
    stack.run("user", "add", "e2e", "--role", "om_manager", "--password-stdin",
              stdin=E2E_PASSWORD + "\n")
    stack.env["ROBOWATCH_API_PORT"] = str(api_port)
    stack.start("api", "api")
    stack.start("ticketing", "ticketing", "run")
    stack.start("detect", "detect", "run")
    stack.start("collect-mqtt", "collect", "mqtt", "--client-id", "e2e-collector")
    stack.start("collect-opcua", "collect", "opcua", "--endpoint",
                f"opc.tcp://127.0.0.1:{opcua_port}/robowatch/simulator")
    stack.start("simulate", "simulate", "--scenario", scenario, "--protocol", "both",
                "--rate", "5", "--speedup", "2", "--opcua-port", str(opcua_port),
                "--labels", str(tmp_path / "labels.jsonl"))

    api = f"http://127.0.0.1:{api_port}/api/v1"
    deadline = time.monotonic() + 120
    client = _signed_in(api, deadline, stack)
    tickets: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        stack.alive()
        try:
            tickets = client.get(f"{api}/tickets", timeout=5).json()["items"]
        except httpx.HTTPError:
            tickets = []
        if tickets:
            break
        time.sleep(1)
    assert tickets, "no ticket within 120 s:\n" + stack.tail("detect")

    anomalies = client.get(f"{api}/anomalies", timeout=5).json()["items"]
    seen = [(a["robot_id"], a["component"], a["kind"], a["evidence"].get("peak_score"),
             a["evidence"].get("median"), a["evidence"].get("upper")) for a in anomalies]
    t = tickets[-1]  # the oldest: the first fault seen
    assert (t["robot_id"], t["customer_id"], t["component"]) == ("R-E1", "CORECO", "J3"), seen
    assert t["kind"] == "temperature_high" and t["impact"] == "core-module"
    # service-rules.md: core customer x core-module fault = grade II; clocks of "II core".
    assert t["grade"] == "II" and t["state"] in ("new", "dispatched")
    created = datetime.fromisoformat(t["created_at"])
    assert datetime.fromisoformat(t["respond_by"]) - created == timedelta(minutes=30)
    assert datetime.fromisoformat(t["onsite_by"]) - created == timedelta(hours=2)
    assert datetime.fromisoformat(t["resolve_by"]) - created == timedelta(hours=48)

    detail = client.get(f"{api}/tickets/{t['id']}", timeout=5).json()
    assert detail["anomaly_ids"]
    anomaly = client.get(f"{api}/anomalies/{detail['anomaly_ids'][0]}", timeout=5).json()
    assert anomaly["evidence"]["signal"] == "J3.temperature" and anomaly["evidence"]["window"]
    # The healthy robot of the ordinary customer raised nothing.
    assert all(a["robot_id"] != "R-E2" for a in
               client.get(f"{api}/anomalies", timeout=5).json()["items"])
    # Both transports delivered: the MQTT robot's data is in the database too.
    robots = {r["code"] for r in client.get(f"{api}/robots", timeout=5).json()["items"]}
    assert robots == {"R-E1", "R-E2"}
