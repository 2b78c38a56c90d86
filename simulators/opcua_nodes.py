"""What both simulated OPC UA servers do the same way: describe a signal, write a tick.

``simulators.opcua`` (our own address space) and ``simulators.robotics`` (OPC 40010) differ only
in where they put a robot's variables; the units they advertise and the way a tick of the model
matrix reaches the address space are one rule, kept here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server
from asyncua.ua.object_ids import ObjectIds

from simulators.scenario import PlacedRobot
from simulators.signals import UNECE_NAMESPACE, SignalSpec, unece_unit_id

__all__ = ["ServedNode", "add_units", "write_tick"]

# Robots written between two yields to the event loop (~3 ms of writes): writes never suspend,
# so without a yield a large fleet's tick would hold the loop and the server could not answer
# its clients until the tick ends.
_YIELD_EVERY = 8


class ServedNode(NamedTuple):
    column: int  # the signal's column in the model matrix
    node: ua.NodeId
    boolean: bool  # served as Boolean (value >= 0.5), else as Double


def _stamp(ts: float) -> ua.DateTime:
    # asyncua annotates timestamps with its datetime subclass but accepts any aware datetime.
    return datetime.fromtimestamp(ts, UTC)  # type: ignore[return-value]


async def add_units(var: Node, spec: SignalSpec) -> None:
    """The ``EngineeringUnits`` property (UN/CEFACT), as a standards-compliant server gives it."""
    await var.add_property(
        0, "EngineeringUnits",
        ua.EUInformation(NamespaceUri=UNECE_NAMESPACE, UnitId=unece_unit_id(spec.unece),
                         DisplayName=ua.LocalizedText(spec.unit),
                         Description=ua.LocalizedText(spec.description)),
        datatype=ObjectIds.EUInformation)


async def write_tick(server: Server, robots: Sequence[tuple[int, PlacedRobot]],
                     nodes: Sequence[Sequence[ServedNode]], ts: float, values: np.ndarray,
                     publishing: np.ndarray) -> int:
    """Write one tick of ``values`` (the full model matrix) to every publishing robot's nodes,
    with the sample time as SourceTimestamp; returns the number of values written. A robot that
    is not publishing (communication loss) is not written, so its values go stale."""
    source, received = _stamp(ts), _stamp(time.time())
    write = server.write_attribute_value
    written = 0
    for k, ((row, _), served) in enumerate(zip(robots, nodes, strict=True)):
        if k and k % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
        if not publishing[row]:
            continue
        data = values[row]
        for column, node, boolean in served:
            x = float(data[column])
            variant = (ua.Variant(x >= 0.5, ua.VariantType.Boolean) if boolean
                       else ua.Variant(x, ua.VariantType.Double))
            await write(node, ua.DataValue(variant, SourceTimestamp=source,
                                           ServerTimestamp=received))
        written += len(served)
    return written
