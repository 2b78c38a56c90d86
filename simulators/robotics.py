"""The simulated fleet served in the OPC 40010 Robotics information model.

What a FANUC, ABB, KUKA or Yaskawa controller implementing the companion specification serves,
so the collector is tested against the standard rather than against our own naming
(docs/opcua-robotics.md)::

    Objects/DeviceSet/<robot code> (MotionDeviceSystemType)
        MotionDevices/<brand model> (MotionDeviceType; SerialNumber = the robot's serial)
            ParameterSet/SpeedOverride
            Axes/A1..A6 (AxisType)               ParameterSet/ActualPosition, ActualSpeed
            PowerTrains/PT1..PT6 (PowerTrainType, Moves -> its axis)
                M1 (MotorType)                   ParameterSet/MotorTemperature, BrakeReleased
                <vendor> MotorCurrent, Torque, Vibration, ...   (not in the standard)
        Controllers/<brand> controller (ControllerType, Controls -> the motion device)
            ParameterSet/Temperature             (the cabinet temperature)
            <vendor> CycleCount, ProgramState, ...

The DI, IA and Robotics NodeSet2 files (OPC Foundation, MIT) are not in the repository: the
build step (``make nodesets``) takes them from the pinned npm package ``node-opcua-nodesets``.
Nodes marked ``DesignToolOnly`` in the DI file have no parent and are skipped, as a server does.
Instances are built node by node rather than with asyncua's ``instantiate``, which would also
create the types' ``<Identifier>`` placeholders as if they were real axes and robots.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server
from asyncua.ua.object_ids import ObjectIds

from simulators.opcua_nodes import ServedNode, add_units, write_tick
from simulators.scenario import PlacedRobot
from simulators.signals import SignalSpec, camel

__all__ = ["RoboticsConfig", "RoboticsFleetServer", "NODESET_FILES", "VENDOR_URI",
           "missing_nodesets"]

log = logging.getLogger(__name__)

NODESET_FILES = ("Opc.Ua.Di.NodeSet2.xml", "Opc.Ua.IA.NodeSet2.xml",
                 "Opc.Ua.Robotics.NodeSet2.xml")
DI_URI = "http://opcfoundation.org/UA/DI/"
ROBOTICS_URI = "http://opcfoundation.org/UA/Robotics/"
VENDOR_URI = "urn:robowatch:simulator:robotics-vendor"

# Robotics types and reference types (Opc.Ua.Robotics.NodeSet2.xml).
_MDS, _MD, _CONTROLLER, _AXIS, _POWER_TRAIN, _MOTOR = 1002, 1004, 1003, 16601, 16794, 1019
_MOVES, _CONTROLS = 18178, 4002
_DEVICE_SET = 5001  # DI


@dataclass(frozen=True, slots=True, kw_only=True)
class RoboticsConfig:
    nodeset_dir: Path
    host: str = "127.0.0.1"
    port: int = 4840
    path: str = "robowatch/robotics"

    @property
    def url(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/{self.path}"


def missing_nodesets(nodeset_dir: Path) -> list[str]:
    return [f for f in NODESET_FILES if not (nodeset_dir / f).is_file()]


def _without_design_tool_nodes(path: Path) -> str:
    root = ET.parse(path).getroot()
    for el in [el for el in root if el.get("DesignToolOnly") == "true"]:
        root.remove(el)
    return ET.tostring(root, encoding="unicode")


def _nid(identifier: int | str, ns: int) -> ua.NodeId:
    ident = ua.String(identifier) if isinstance(identifier, str) else ua.Int32(identifier)
    return ua.NodeId(ident, ua.Int16(ns))


class RoboticsFleetServer:
    """Serves ``robots`` (rows of the model matrix with their placement) as OPC 40010 motion
    device systems; ``update`` has the contract of :class:`simulators.opcua.OpcUaFleetServer`."""

    def __init__(self, *, config: RoboticsConfig, robots: Sequence[tuple[int, PlacedRobot]],
                 specs: Sequence[SignalSpec]) -> None:
        missing = missing_nodesets(config.nodeset_dir)
        if missing:
            raise FileNotFoundError(
                f"{', '.join(missing)} not in {config.nodeset_dir}; run `make nodesets`")
        self.config = config
        self._robots = list(robots)
        self._specs = list(specs)
        self._server = Server()
        # per robot: (column, node, is boolean) for every served signal
        self._nodes: list[list[ServedNode]] = []
        self._started = False

    @property
    def url(self) -> str:
        return self.config.url

    async def start(self) -> None:
        s = self._server
        await s.init()
        s.set_endpoint(self.url)
        s.set_server_name("robowatch simulated fleet (OPC 40010 Robotics)")
        t0 = time.monotonic()
        for name in NODESET_FILES:
            await s.import_xml(xmlstring=_without_design_tool_nodes(self.config.nodeset_dir / name))
        self._di = await s.get_namespace_index(DI_URI)
        self._rb = await s.get_namespace_index(ROBOTICS_URI)
        self._v = await s.register_namespace(VENDOR_URI)
        log.info("OPC UA Robotics: information models loaded in %.1f s", time.monotonic() - t0)
        for _, placed in self._robots:
            self._nodes.append(await self._robot(placed))
        await s.start()
        self._started = True
        log.info("OPC UA Robotics: %d robots at %s", len(self._robots), self.url)

    async def _object(self, parent: Node, nid: str, name: str, ns: int,
                      typedef: int | None = None) -> Node:
        obj = await parent.add_object(_nid(nid, self._v), ua.QualifiedName(name, ns))
        if typedef is not None:
            base = ua.NodeId(ObjectIds.BaseObjectType)  # type: ignore[arg-type]
            await obj.delete_reference(base, ObjectIds.HasTypeDefinition)
            await obj.add_reference(_nid(typedef, self._rb), ObjectIds.HasTypeDefinition)
        return obj

    async def _variable(self, parent: Node, nid: str, name: str, ns: int,
                        spec: SignalSpec | None, boolean: bool = False) -> ua.NodeId:
        vtype = ua.VariantType.Boolean if boolean else ua.VariantType.Double
        var = await parent.add_variable(_nid(nid, self._v), ua.QualifiedName(name, ns),
                                        False if boolean else 0.0, vtype)
        if spec is not None and not boolean:
            await add_units(var, spec)
        return var.nodeid

    async def _robot(self, placed: PlacedRobot) -> list[ServedNode]:
        r, rb, di, v = placed.robot, self._rb, self._di, self._v
        code = r.code
        column = {s.name: k for k, s in enumerate(self._specs)}
        served: list[ServedNode] = []
        device_set = self._server.get_node(_nid(_DEVICE_SET, di))
        system = await self._object(device_set, code, code, v, _MDS)
        devices = await self._object(system, f"{code}/MotionDevices", "MotionDevices", rb)
        controllers = await self._object(system, f"{code}/Controllers", "Controllers", rb)
        device = await self._object(devices, f"{code}/md", f"{r.brand} {r.model}", v, _MD)
        await device.add_property(_nid(f"{code}/md/SerialNumber", v),
                                  ua.QualifiedName("SerialNumber", di), r.serial)
        await self._object(device, f"{code}/md/ParameterSet", "ParameterSet", di)
        axes = await self._object(device, f"{code}/md/Axes", "Axes", rb)
        trains = await self._object(device, f"{code}/md/PowerTrains", "PowerTrains", rb)
        joints = sorted({s.joint for s in self._specs if s.joint is not None})
        for j in joints:
            n = j + 1
            spec = {s.name.split(".", 1)[1]: s for s in self._specs if s.joint == j}
            axis = await self._object(axes, f"{code}/A{n}", f"A{n}", v, _AXIS)
            params = await self._object(axis, f"{code}/A{n}/ParameterSet", "ParameterSet", di)
            for key, name in (("position", "ActualPosition"), ("velocity", "ActualSpeed")):
                if key in spec:
                    nid = await self._variable(params, f"{code}/A{n}/{name}", name, rb, spec[key])
                    served.append(ServedNode(column[spec[key].name], nid, False))
            train = await self._object(trains, f"{code}/PT{n}", f"PT{n}", v, _POWER_TRAIN)
            await train.add_reference(axis.nodeid, _nid(_MOVES, rb))
            motor = await self._object(train, f"{code}/M{n}", f"M{n}", v, _MOTOR)
            mparams = await self._object(motor, f"{code}/M{n}/ParameterSet", "ParameterSet", di)
            if "temperature" in spec:
                nid = await self._variable(mparams, f"{code}/M{n}/MotorTemperature",
                                           "MotorTemperature", rb, spec["temperature"])
                served.append(ServedNode(column[spec["temperature"].name], nid, False))
            if "servo_on" in column:  # the brake is released while the drives are powered
                nid = await self._variable(mparams, f"{code}/M{n}/BrakeReleased",
                                           "BrakeReleased", rb, None, boolean=True)
                served.append(ServedNode(column["servo_on"], nid, True))
            # What the standard does not define: in the vendor's namespace, on the motor.
            for key, s in spec.items():
                if key in ("position", "velocity", "temperature"):
                    continue
                nid = await self._variable(motor, f"{code}/M{n}/{camel(key)}", camel(key), v, s)
                served.append(ServedNode(column[s.name], nid, False))
        controller = await self._object(controllers, f"{code}/ctl", f"{r.brand} controller", v,
                                        _CONTROLLER)
        await controller.add_reference(device.nodeid, _nid(_CONTROLS, rb))
        cparams = await self._object(controller, f"{code}/ctl/ParameterSet", "ParameterSet", di)
        for s in self._specs:
            if s.joint is not None:
                continue
            if s.name == "cabinet_temperature":
                nid = await self._variable(cparams, f"{code}/ctl/Temperature", "Temperature",
                                           rb, s)
            else:
                nid = await self._variable(controller, f"{code}/ctl/{camel(s.name)}",
                                           camel(s.name), v, s)
            served.append(ServedNode(column[s.name], nid, False))
        return served

    async def update(self, ts: float, values: np.ndarray, publishing: np.ndarray) -> int:
        """Write one tick (``values``: the full model matrix); returns values written."""
        return await write_tick(self._server, self._robots, self._nodes, ts, values, publishing)

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self._server.stop()
