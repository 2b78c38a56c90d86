"""The OPC UA collector on servers it was not written for.

- The simulator serving the OPC 40010 Robotics model (the DI, IA and Robotics NodeSet2 files):
  robots and standard signals found with no node map, robots recognised by serial number.
- The same server with a node map for what the standard does not define.
- A vendor-like server built here (numeric NodeIds, its own folder names, every value type):
  ``opcua-browse`` drafts a node map, a person's edits are applied, the collector reads it;
  a missing node is reported once and the rest collected; each bad value is quarantined with its
  reason while the good values around it are stored.
"""

from __future__ import annotations

import asyncio
import math
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asyncua import Server, ua

from collectors.metrics import CollectorMetrics
from collectors.nodemap import NodeEndpoint, NodeMap, load_nodemap, render_nodemap
from collectors.opcua import OpcUaConfig
from collectors.opcua_browse import draft_from_server
from collectors.service import run_collectors
from collectors.supervise import RetryPolicy
from simulators.brokers import free_port
from simulators.nodesets import fetch
from simulators.robotics import VENDOR_URI, RoboticsConfig, RoboticsFleetServer
from storage.connect import connect
from storage.quarantine import counts_by_reason, list_quarantine
from tests.collectors.test_opcua_collector import registered_fleet
from tests.collectors.waiting import wait_for

pytestmark = [pytest.mark.opcua, pytest.mark.slow]

NODESETS = Path(__file__).resolve().parents[2] / "build" / "nodesets"


@pytest.fixture(scope="module")
def nodeset_dir() -> Path:
    fetch(NODESETS)  # `make test` has run `make nodesets`; a no-op then
    return NODESETS


def stored(db_url: str) -> dict[tuple[str, str], list[tuple[float | None, int]]]:
    """(robot code, signal) -> [(value, quality)] in time order."""
    with connect(db_url) as conn:
        rows = conn.execute(
            "SELECT r.code, s.name, t.value, t.quality FROM telemetry t"
            " JOIN robots r ON r.id = t.robot_id JOIN signals s ON s.id = t.signal_id"
            " ORDER BY t.time").fetchall()
    out: dict[tuple[str, str], list[tuple[float | None, int]]] = {}
    for code, name, value, quality in rows:
        out.setdefault((code, name), []).append((value, quality))
    return out


def reasons(db_url: str) -> dict[str, int]:
    with connect(db_url) as conn:
        return counts_by_reason(conn=conn)


async def collect(db_url: str, cfg: OpcUaConfig) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_collectors(conninfo=db_url, stop=stop, opcua=[cfg],
                                              metrics=CollectorMetrics()))
    return stop, task


async def test_robotics_model_is_read_without_a_node_map_and_extended_by_one(db_url, nodeset_dir):
    model, robots = registered_fleet(db_url, 2)
    server = RoboticsFleetServer(config=RoboticsConfig(nodeset_dir=nodeset_dir, port=free_port()),
                                 robots=robots, specs=model.specs)
    await server.start()
    codes = [p.robot.code for _, p in robots]
    assert all(p.robot.serial != f"{p.robot.brand} {p.robot.model}" for _, p in robots)

    async def tick() -> None:
        while True:
            ts = time.time()
            await server.update(ts, model.step(ts), model.publishing)
            await asyncio.sleep(0.1)

    ticker = asyncio.create_task(tick())
    try:
        # 1. No node map: the standard's signals, each robot found by its serial number (the
        # motion devices are named "<brand> <model>", not by our codes).
        cfg = OpcUaConfig(url=server.url, publishing_interval_ms=50, retry=RetryPolicy(max_s=1.0))
        stop, task = await collect(db_url, cfg)
        standard = {f"J{n}.{q}" for n in range(1, 7)
                    for q in ("position", "velocity", "temperature", "brake_released")}
        standard.add("cabinet_temperature")
        try:
            assert await wait_for(
                lambda: {(c, s) for c, s in stored(db_url)} >= {(c, s) for c in codes
                                                                for s in standard}, 60)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
        data = stored(db_url)
        assert {s for _, s in data} == standard  # nothing the standard does not define
        for code in codes:
            temps = [v for v, _ in data[(code, "J3.temperature")]]
            assert all(v is not None and 0 < v < 120 for v in temps)
            assert {v for v, _ in data[(code, "J1.brake_released")]} <= {0.0, 1.0}

        # 2. A node map adds the vendor's motor current (by NodeId with its namespace URI) and
        # vibration (by browse path); an entry for a node that does not exist is reported once.
        first = codes[0]
        device_name = f"{robots[0][1].robot.brand} {robots[0][1].robot.model}"
        # The draft of this server: the vendor's variables, per robot (named by serial), with
        # joint numbers from the model (power train -> axis).
        draft, _ = await draft_from_server(server.url)
        drafted = {r.robot: {s.signal for s in r.signals} for r in draft.endpoints[0].robots}
        assert set(drafted) == {p.robot.serial for _, p in robots}
        assert {"J1.current", "J6.vibration", "cycle_count"} <= drafted[robots[0][1].robot.serial]
        # A node map naming the robot by its serial number, as a controller knows it.
        nodemap = NodeEndpoint.model_validate({"url": server.url, "robots": [{
            "robot": robots[0][1].robot.serial, "signals": [
                {"signal": "J1.current", "node": f"nsu={VENDOR_URI};s={first}/M1/Current"},
                {"signal": "J2.vibration", "path": ["Objects", "DeviceSet", first,
                                                     "MotionDevices", device_name, "PowerTrains",
                                                     "PT2", "M2", "Vibration"], "unit": "mm/s"},
                {"signal": "J6.vibration", "node": f"nsu={VENDOR_URI};s={first}/M6/Vibration",
                 "scale": 1000.0, "unit": "um/s"},
                {"signal": "J3.current", "node": f"nsu={VENDOR_URI};s={first}/M3/NoSuchThing"},
            ]}]})
        cfg = OpcUaConfig(url=server.url, publishing_interval_ms=50,
                          retry=RetryPolicy(max_s=1.0), nodemap=nodemap)
        stop, task = await collect(db_url, cfg)
        try:
            assert await wait_for(lambda: len(stored(db_url).get((first, "J6.vibration"), []))
                                  >= 3, 60)
            def enough(signal: str) -> bool:
                return len(stored(db_url).get((first, signal), [])) >= 3

            assert await wait_for(lambda: enough("J1.current") and enough("J2.vibration"), 10)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
        data = stored(db_url)
        assert all(v is not None and 0 <= v <= 60 for v, _ in data[(first, "J1.current")])
        # scaled: mm/s * 1000
        assert all(v is not None and v >= 0 for v, _ in data[(first, "J6.vibration")])
        assert max(v for v, _ in data[(first, "J6.vibration")] if v is not None) > 1.0
        assert (codes[1], "J1.current") not in data  # only the mapped robot
        with connect(db_url) as conn:
            missing = list_quarantine(conn=conn, reason="node_unavailable")
        # the missing node, reported once although the collector connected once per part
        assert len(missing) == 1 and "J3.current" in (missing[0].detail or "")
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        await server.stop()


def nid(identifier: int, ns: int) -> ua.NodeId:
    return ua.NodeId(ua.Int32(identifier), ua.Int16(ns))


class VendorServer:
    """A controller's own OPC UA server: numeric NodeIds, its own names, every value type."""

    def __init__(self, port: int) -> None:
        self.url = f"opc.tcp://127.0.0.1:{port}/vendor"
        self.server = Server()
        self.vars: dict[str, ua.NodeId] = {}

    async def start(self) -> None:
        s = self.server
        await s.init()
        s.set_endpoint(self.url)
        ns = await s.register_namespace("urn:vendor:krc")
        krc = await s.nodes.objects.add_object(nid(1000, ns), ua.QualifiedName("KRC4", ns))
        axis = await krc.add_object(nid(1100, ns), ua.QualifiedName("Axis_A1", ns))
        spec = [  # name, parent, node id, variant type, initial value
            ("MotorCurrent", axis, 1101, ua.VariantType.Double, 3.5),
            ("MotorTempK", axis, 1102, ua.VariantType.Float, 313.15),
            ("BrakeOpen", axis, 1103, ua.VariantType.Boolean, True),
            ("EncoderTicks", axis, 1104, ua.VariantType.Int64, 12),
            ("Cycles", krc, 1201, ua.VariantType.UInt64, 7),
            ("LoadRate", krc, 1202, ua.VariantType.UInt16, 40),
        ]
        for name, parent, i, vtype, value in spec:
            var = await parent.add_variable(nid(i, ns), ua.QualifiedName(name, ns),
                                            ua.Variant(value, vtype))
            self.vars[name] = var.nodeid
        # Declared Double but never written: a Good null, as some controllers serve a value
        # they have not initialised.
        await axis.add_variable(nid(1105, ns), ua.QualifiedName("Spare", ns),
                                ua.Variant(None, ua.VariantType.Null),
                                datatype=ua.NodeId(ua.ObjectIds.Double))  # type: ignore[arg-type]
        # Not numbers: left out of the draft.
        await krc.add_variable(nid(1300, ns), ua.QualifiedName("ProgramName", ns),
                               "WELD_7")
        loads = await krc.add_variable(nid(1301, ns), ua.QualifiedName("AxisLoads", ns),
                                       ua.Variant([1.0, 2.0], ua.VariantType.Double))
        await loads.write_value_rank(1)  # declared an array, as a real server does
        await s.start()

    async def write(self, name: str, value: object, vtype: ua.VariantType,
                    status: int = ua.StatusCodes.Good) -> None:
        dv = ua.DataValue(ua.Variant(value, vtype), StatusCode=ua.StatusCode(ua.UInt32(status)),
                          SourceTimestamp=datetime.now(UTC))  # type: ignore[arg-type]
        await self.server.write_attribute_value(self.vars[name], dv)

    async def stop(self) -> None:
        await self.server.stop()


async def test_vendor_server_drafted_edited_and_collected_with_every_value_type(db_url, tmp_path):
    model, robots = registered_fleet(db_url, 1)
    code = robots[0][1].robot.code
    vendor = VendorServer(free_port())
    await vendor.start()
    try:
        draft, notes = await draft_from_server(vendor.url)
        text = render_nodemap(draft, notes)
        parsed = tomllib.loads(text)  # the draft is valid TOML and a valid node map
        assert NodeMap.model_validate(parsed) == draft
        [robot] = draft.endpoints[0].robots
        assert robot.robot == "KRC4"
        signals = {s.signal: s for s in robot.signals}
        # ProgramName (a String) and AxisLoads (an array) are left out.
        assert set(signals) == {"axis_a1.motor_current", "axis_a1.motor_temp_k",
                                "axis_a1.brake_open", "axis_a1.encoder_ticks", "axis_a1.spare",
                                "cycles", "load_rate"}
        assert all(s.node and s.node.startswith("nsu=urn:vendor:krc;i=") for s in robot.signals)
        assert "UInt64" in text and "KRC4/Axis_A1/MotorCurrent" in text  # notes for the editor

        # What a person does with the draft: our robot code, our signal names, kelvin -> degC,
        # and (by mistake) a node that is not there.
        names = {"axis_a1.motor_current": ("J1.current", 1.0, 0.0),
                 "axis_a1.motor_temp_k": ("J1.temperature", 1.0, -273.15),
                 "axis_a1.brake_open": ("J1.brake_released", 1.0, 0.0),
                 "axis_a1.encoder_ticks": ("J1.encoder_ticks", 1.0, 0.0),
                 "axis_a1.spare": ("J1.spare", 1.0, 0.0),
                 "cycles": ("cycle_count", 1.0, 0.0), "load_rate": ("J1.load_rate", 1.0, 0.0)}
        edited = [{"signal": names[s.signal][0], "node": s.node, "scale": names[s.signal][1],
                   "offset": names[s.signal][2]} for s in robot.signals]
        edited.append({"signal": "J2.current", "node": "nsu=urn:vendor:krc;i=9999"})
        path = tmp_path / "nodemap.toml"
        path.write_text(render_nodemap(NodeMap.model_validate(
            {"endpoints": [{"url": vendor.url, "discover": False,
                            "robots": [{"robot": code, "signals": edited}]}]})))
        endpoint = load_nodemap(path).endpoint(vendor.url)
        assert endpoint is not None

        cfg = OpcUaConfig(url=vendor.url, publishing_interval_ms=50, queue_size=50,
                          retry=RetryPolicy(max_s=1.0), nodemap=endpoint)
        stop, task = await collect(db_url, cfg)
        try:
            assert await wait_for(lambda: (code, "J1.load_rate") in stored(db_url), 30)
            V = ua.VariantType
            # Bad values among good ones, each on a variable that is being collected.
            steps = [("MotorCurrent", 4.0, V.Double, ua.StatusCodes.Good),
                     ("MotorCurrent", math.nan, V.Double, ua.StatusCodes.Good),
                     ("MotorCurrent", 4.5, V.Double, ua.StatusCodes.Good),
                     ("MotorCurrent", 0.0, V.Double, ua.StatusCodes.BadSensorFailure),
                     ("MotorCurrent", 5.0, V.Double, ua.StatusCodes.UncertainLastUsableValue),
                     ("MotorCurrent", [1.0, 2.0], V.Double, ua.StatusCodes.Good),
                     ("MotorCurrent", 5.5, V.Double, ua.StatusCodes.Good),
                     ("MotorCurrent", 6.0, V.Double, ua.StatusCodes.Good),
                     ("EncoderTicks", 2**60 + 1, V.Int64, ua.StatusCodes.Good),
                     ("EncoderTicks", 2**60 + 3, V.Int64, ua.StatusCodes.Good),
                     ("Cycles", 2**64 - 1, V.UInt64, ua.StatusCodes.Good),
                     ("BrakeOpen", False, V.Boolean, ua.StatusCodes.Good)]
            for name, value, vtype, status in steps:
                await vendor.write(name, value, vtype, status)
                await asyncio.sleep(0.12)  # one publishing interval and more per value
            assert await wait_for(
                lambda: [v for v, _ in stored(db_url).get((code, "J1.current"), [])][-1:] == [6.0],
                20)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
        data = stored(db_url)
        current = data[(code, "J1.current")]
        assert [v for v, q in current if q == 0] == [3.5, 4.0, 4.5, 5.5, 6.0]  # no good one lost
        assert (None, 2) in current      # Bad: stored without a value
        assert (5.0, 1) in current       # Uncertain: stored with its quality
        [(celsius, quality)] = data[(code, "J1.temperature")]
        assert celsius == pytest.approx(40.0) and quality == 0
        assert [v for v, _ in data[(code, "J1.brake_released")]] == [1.0, 0.0]
        ticks = data[(code, "J1.encoder_ticks")]
        assert ticks[0] == (12.0, 0) and all(q == 1 for _, q in ticks[1:])  # inexact: uncertain
        assert data[(code, "cycle_count")][-1] == (float(2**64 - 1), 1)
        assert data[(code, "J1.load_rate")] == [(40.0, 0)]
        got = reasons(db_url)
        assert got["non_finite"] == 1 and got["not_a_scalar"] == 1 and got["null_value"] == 1
        assert got["node_unavailable"] == 1   # the i=9999 entry, reported once
        assert got["inexact_integer"] == 2    # once per node, not once per value
    finally:
        await vendor.stop()
