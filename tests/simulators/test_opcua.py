"""The OPC UA server, browsed and read by a real asyncua client."""

from __future__ import annotations

import time

import numpy as np
import pytest
from asyncua import Client, ua

from simulators.brokers import free_port
from simulators.model import FleetModel
from simulators.opcua import NAMESPACE_URI, OpcUaConfig, OpcUaFleetServer
from simulators.runner import split_by_protocol
from tests.simulators.helpers import scenario

pytestmark = [pytest.mark.opcua]


async def test_browse_and_read_a_joint_temperature() -> None:
    sc = scenario(robots=2, protocol="opcua")
    model = FleetModel(sc, seed=2)
    opc, _ = split_by_protocol(model.placed, "both")
    server = OpcUaFleetServer(config=OpcUaConfig(port=free_port()), robots=opc,
                              specs=model.specs)
    await server.start()
    try:
        ts = time.time()
        values = model.step(ts)
        await server.update(ts, values, model.publishing)
        async with Client(url=server.url, timeout=5) as client:
            idx = await client.get_namespace_index(NAMESPACE_URI)
            objects = client.nodes.objects
            robot = await objects.get_child([f"{idx}:S1", f"{idx}:L1", f"{idx}:R1"])
            assert (await robot.read_browse_name()).Name == "R1"
            joints = {(await n.read_browse_name()).Name
                      for n in await (await robot.get_child(f"{idx}:Joints")).get_children()}
            assert joints == {f"J{j}" for j in range(1, 7)}
            temp = await robot.get_child([f"{idx}:Joints", f"{idx}:J3", f"{idx}:Temperature"])
            dv = await temp.read_data_value()
            assert dv.Value is not None and dv.SourceTimestamp is not None
            expected = values[1, model.signal_names.index("J3.temperature")]
            assert dv.Value.Value == pytest.approx(expected)
            assert 20.0 < dv.Value.Value < 100.0
            assert abs(dv.SourceTimestamp.timestamp() - ts) < 1e-3
            eu = await (await temp.get_child("0:EngineeringUnits")).read_value()
            assert eu.DisplayName.Text == "degC" and eu.UnitId == 4408652  # 'CEL'
            rng = await (await temp.get_child("0:EURange")).read_value()
            assert (rng.Low, rng.High) == (-20.0, 180.0)
            count = await robot.get_child([f"{idx}:Controller", f"{idx}:CycleCount"])
            assert await count.read_value() == values[1, model.signal_names.index("cycle_count")]

            # A robot that lost communication is not written: its values go stale.
            silent = np.array([True, False])
            later = model.step(ts + 1.0)
            await server.update(ts + 1.0, later, silent)
            dv2 = await temp.read_data_value()
            assert dv2.SourceTimestamp == dv.SourceTimestamp
            assert dv2.StatusCode == ua.StatusCode(ua.UInt32(ua.StatusCodes.Good))
    finally:
        await server.stop()
