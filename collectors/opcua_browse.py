"""Finding robots and their signals in an OPC UA server's address space.

Three ways, used together by the collector (:mod:`collectors.opcua`):

- **OPC 40010 Robotics** (:func:`discover_robotics`): any server that implements the companion
  specification. Recognised by namespace URI and type definition (subtypes included, as vendors
  derive their own), never by a vendor's naming: DeviceSet -> MotionDeviceSystem ->
  MotionDevices -> robot -> Axes / PowerTrains (Motor) -> ParameterSet, and Controllers ->
  ParameterSet. Axes are numbered J1..Jn in their natural name order; a power train's motor
  feeds the axis the power train ``Moves`` (its position in the list otherwise).
- **Our simulator's layout** (:func:`discover_simulator`): ``<robot>/Joints/J3/Temperature``.
- **A node map** (:func:`resolve_nodemap`): what the standard does not define (motor current,
  vibration on most controllers) and servers that follow no model at all.

:func:`draft_nodemap` walks any server and writes a node map draft for a person to edit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from asyncua import Client, Node, ua

from collectors.nodemap import NodeEndpoint, NodeMap, NodeRobot, NodeSignal
from collectors.payload import ROBOT_CODE_RE, SIGNAL_NAME_RE

__all__ = ["Found", "discover_robotics", "discover_simulator", "resolve_nodemap",
           "draft_nodemap", "draft_from_server", "browse_name_to_signal", "ROBOTICS_URI", "DI_URI"]

log = logging.getLogger(__name__)

DI_URI = "http://opcfoundation.org/UA/DI/"
ROBOTICS_URI = "http://opcfoundation.org/UA/Robotics/"

# Type definitions of OPC 40010 (numeric ids in the Robotics namespace, Opc.Ua.Robotics.NodeSet2).
_MOTION_DEVICE_SYSTEM, _MOTION_DEVICE, _CONTROLLER = 1002, 1004, 1003
_AXIS, _POWER_TRAIN, _MOTOR = 16601, 16794, 1019
_MOVES, _CONTROLS = 18178, 4002  # reference types: PowerTrain Moves Axis, Controller Controls
_DEVICE_SET = 5001  # DI: the Objects/DeviceSet folder

# Standard variables -> robowatch signal names ("J{n}" is the axis).
_AXIS_SIGNALS = {"ActualPosition": "J{n}.position", "ActualSpeed": "J{n}.velocity",
                 "ActualAcceleration": "J{n}.acceleration"}
_MOTOR_SIGNALS = {"MotorTemperature": "J{n}.temperature", "EffectiveLoadRate": "J{n}.load_rate",
                  "BrakeReleased": "J{n}.brake_released"}
_DEVICE_SIGNALS = {"SpeedOverride": "speed_override", "InControl": "in_control",
                   "OnPath": "on_path"}
_CONTROLLER_SIGNALS = {"Temperature": "cabinet_temperature", "CabinetFanSpeed": "cabinet_fan_speed",
                       "CPUFanSpeed": "cpu_fan_speed", "InputVoltage": "input_voltage",
                       "TotalEnergyConsumption": "energy_consumption"}


def _unece(code: str) -> int:
    uid = 0
    for ch in code:
        uid = (uid << 8) | ord(ch)
    return uid


# The servers' units converted to robowatch's (docs/signals.md): degrees and degrees Celsius.
# value_in_ours = value * scale + offset
_UNIT_CONVERSIONS = {
    _unece("C81"): (57.29577951308232, 0.0),    # radian -> degree
    _unece("2A"): (57.29577951308232, 0.0),     # radian per second -> degree per second
    _unece("KEL"): (1.0, -273.15),              # kelvin -> degree Celsius
    _unece("FAH"): (5 / 9, -160 / 9),           # degree Fahrenheit -> degree Celsius
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_JOINT = re.compile(r"^J\d{1,2}$")
_NUMERIC_TYPES = {ua.ObjectIds.Boolean, ua.ObjectIds.SByte, ua.ObjectIds.Byte, ua.ObjectIds.Int16,
                  ua.ObjectIds.UInt16, ua.ObjectIds.Int32, ua.ObjectIds.UInt32,
                  ua.ObjectIds.Int64, ua.ObjectIds.UInt64, ua.ObjectIds.Float,
                  ua.ObjectIds.Double}


@dataclass(frozen=True, slots=True)
class Found:
    """A variable to collect: whose (robot code as served, serial if known) and which signal."""

    node: Node
    robot: str
    signal: str
    serial: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    source: str = "robotics"


def browse_name_to_signal(path: list[str]) -> str | None:
    """``['Joints', 'J3', 'Temperature']`` -> ``'J3.temperature'``;
    ``['Controller', 'CycleCount']`` -> ``'cycle_count'``; anything else -> None."""
    if len(path) == 3 and path[0] == "Joints" and _JOINT.match(path[1]):
        return f"{path[1]}.{_CAMEL.sub('_', path[2]).lower()}"
    if len(path) == 2 and path[0] == "Controller":
        return _CAMEL.sub("_", path[1]).lower()
    return None


def _nid(identifier: int, ns: int) -> ua.NodeId:
    return ua.NodeId(ua.Int32(identifier), ua.Int16(ns))


def _natural(name: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name))


# --------------------------------------------------------------------------- our simulator


async def discover_simulator(client: Client, *, max_depth: int = 6) -> list[Found]:
    """Robots laid out as the robowatch simulator serves them (docs/opcua-address-space.md)."""
    out: list[Found] = []
    await _browse_simulator(client.nodes.objects, [], out, 0, max_depth)
    return out


async def _browse_simulator(node: Node, path: list[str], out: list[Found], depth: int,
                            max_depth: int) -> None:
    if depth > max_depth:
        return
    server = ua.NodeId(ua.ObjectIds.Server)  # type: ignore[arg-type]  # stubs omit int ids
    children = [c for c in await _described(node) if c[0].nodeid != server]
    if {"Joints", "Controller"} & {name.Name for _, name, _ in children} and path:
        await _simulator_robot(node, path[-1], out)
        return
    for child, name, cls in children:
        if cls == ua.NodeClass.Object:
            await _browse_simulator(child, [*path, name.Name], out, depth + 1, max_depth)


async def _simulator_robot(robot_node: Node, robot: str, out: list[Found]) -> None:
    async def walk(node: Node, rel: list[str]) -> None:
        for child, name, cls in await _described(node):
            if cls == ua.NodeClass.Variable:
                signal = browse_name_to_signal([*rel, name.Name])
                if signal is not None:
                    out.append(Found(child, robot, signal, source="simulator"))
            elif cls == ua.NodeClass.Object and len(rel) < 2:
                await walk(child, [*rel, name.Name])

    await walk(robot_node, [])


# --------------------------------------------------------------------------- OPC 40010


class _Types:
    """Subtype checks against the Robotics types, cached per session."""

    def __init__(self, client: Client, robotics_ns: int) -> None:
        self._client = client
        self.ns = robotics_ns
        self._cache: dict[ua.NodeId, int | None] = {}

    async def kind(self, node: Node) -> int | None:
        """The Robotics type ``node`` is an instance of (a subtype counts), or None."""
        typedef = await node.read_type_definition()
        if typedef is None:
            return None
        return await self._base(typedef)

    async def _base(self, typedef: ua.NodeId) -> int | None:
        if typedef in self._cache:
            return self._cache[typedef]
        chain: list[ua.NodeId] = []
        found: int | None = None
        current: ua.NodeId | None = typedef
        while current is not None and current not in self._cache:
            chain.append(current)
            if current.NamespaceIndex == self.ns and isinstance(current.Identifier, int):
                found = current.Identifier
                break
            if current.NamespaceIndex == 0:  # the base types: no Robotics type above them
                break
            supers = await self._client.get_node(current).get_references(
                refs=ua.ObjectIds.HasSubtype, direction=ua.BrowseDirection.Inverse)
            current = supers[0].NodeId if supers else None
        else:
            if current is not None:
                found = self._cache[current]
        for t in chain:
            self._cache[t] = found
        return found


async def _described(node: Node) -> list[tuple[Node, ua.QualifiedName, ua.NodeClass]]:
    """Children with their browse name and node class, as one Browse call returns them."""
    refs = await node.get_references(refs=ua.ObjectIds.HierarchicalReferences,
                                     direction=ua.BrowseDirection.Forward)
    return [(Node(node.session, r.NodeId), r.BrowseName, r.NodeClass) for r in refs]


async def _children(node: Node) -> list[tuple[Node, ua.QualifiedName]]:
    return [(child, name) for child, name, _ in await _described(node)]


async def _child(node: Node, name: str) -> Node | None:
    for child, bname in await _children(node):
        if bname.Name == name:
            return child
    return None


async def _parameters(component: Node, names: dict[str, str], robot: str, serial: str | None,
                      n: int | None, out: list[Found]) -> None:
    params = await _child(component, "ParameterSet")
    if params is None:
        return
    for var, bname in await _children(params):
        template = names.get(bname.Name)
        if template is None:
            continue
        scale, offset = await _unit_conversion(var)
        signal = template.format(n=n) if n is not None else template
        out.append(Found(var, robot, signal, serial, scale, offset, "robotics"))


async def _unit_conversion(var: Node) -> tuple[float, float]:
    units = await _child(var, "EngineeringUnits")
    if units is None:
        return 1.0, 0.0
    try:
        eu = await units.read_value()
    except ua.UaError:
        return 1.0, 0.0
    unit_id = getattr(eu, "UnitId", None)
    return _UNIT_CONVERSIONS.get(unit_id, (1.0, 0.0)) if isinstance(unit_id, int) else (1.0, 0.0)


async def _serial(device: Node) -> str | None:
    var = await _child(device, "SerialNumber")
    if var is None:
        return None
    try:
        value = await var.read_value()
    except ua.UaError:
        return None
    return str(value) if value else None


async def discover_robotics(client: Client) -> list[Found]:
    """Robots and standard signals of a server implementing OPC 40010; [] if it does not."""
    return (await _robotics(client)).found


@dataclass
class _Scan:
    """What a walk of the Robotics model found: standard signals, every motion device (node ->
    robot name, serial) and the joint number of every axis, power train and motor."""

    found: list[Found] = field(default_factory=list)
    # motion devices and the controllers that control one: node -> (robot name, serial)
    devices: dict[ua.NodeId, tuple[str, str | None]] = field(default_factory=dict)
    joints: dict[ua.NodeId, int] = field(default_factory=dict)


async def _robotics(client: Client) -> _Scan:
    namespaces = await client.get_namespace_array()
    scan = _Scan()
    if ROBOTICS_URI not in namespaces or DI_URI not in namespaces:
        return scan
    types = _Types(client, namespaces.index(ROBOTICS_URI))
    device_set = client.get_node(_nid(_DEVICE_SET, namespaces.index(DI_URI)))
    for system, _ in await _children(device_set):
        if await types.kind(system) == _MOTION_DEVICE_SYSTEM:
            await _system(system, types, scan)
    return scan


async def _system(system: Node, types: _Types, scan: _Scan) -> None:
    devices: dict[ua.NodeId, tuple[str, str | None]] = {}
    folder = await _child(system, "MotionDevices")
    for device, bname in await _children(folder) if folder is not None else []:
        if await types.kind(device) != _MOTION_DEVICE:
            continue
        robot, serial = bname.Name, await _serial(device)
        devices[device.nodeid] = (robot, serial)
        await _device(device, robot, serial, types, scan)
    scan.devices.update(devices)
    folder = await _child(system, "Controllers")
    for controller, bname in await _children(folder) if folder is not None else []:
        if await types.kind(controller) != _CONTROLLER:
            continue
        controlled = [r.NodeId for r in await controller.get_references(
            refs=_nid(_CONTROLS, types.ns), direction=ua.BrowseDirection.Forward)]
        owners = [devices[d] for d in controlled if d in devices] or (
            list(devices.values()) if len(devices) == 1 else [])
        if len(owners) != 1:
            log.info("OPC UA controller %s controls %d motion devices; its signals need a node "
                     "map", bname.Name, len(owners))
            continue
        owner, owner_serial = owners[0]
        scan.devices[controller.nodeid] = owners[0]  # its vendor variables are the robot's too
        await _parameters(controller, _CONTROLLER_SIGNALS, owner, owner_serial, None, scan.found)


async def _device(device: Node, robot: str, serial: str | None, types: _Types,
                  scan: _Scan) -> None:
    await _parameters(device, _DEVICE_SIGNALS, robot, serial, None, scan.found)
    axes_folder = await _child(device, "Axes")
    axes = [(a, b) for a, b in (await _children(axes_folder) if axes_folder else [])
            if await types.kind(a) == _AXIS]
    axes.sort(key=lambda ab: _natural(ab[1].Name))
    number = {a.nodeid: k for k, (a, _) in enumerate(axes, start=1)}
    scan.joints.update(number)
    for axis, _ in axes:
        await _parameters(axis, _AXIS_SIGNALS, robot, serial, number[axis.nodeid], scan.found)
    trains_folder = await _child(device, "PowerTrains")
    trains = [(t, b) for t, b in (await _children(trains_folder) if trains_folder else [])
              if await types.kind(t) == _POWER_TRAIN]
    trains.sort(key=lambda tb: _natural(tb[1].Name))
    for k, (train, _) in enumerate(trains, start=1):
        moved = [r.NodeId for r in await train.get_references(
            refs=_nid(_MOVES, types.ns), direction=ua.BrowseDirection.Forward)]
        n = next((number[m] for m in moved if m in number), k)
        scan.joints[train.nodeid] = n
        for part, _ in await _children(train):
            if await types.kind(part) == _MOTOR:
                scan.joints[part.nodeid] = n
                await _parameters(part, _MOTOR_SIGNALS, robot, serial, n, scan.found)


# --------------------------------------------------------------------------- node map


async def _resolve_nodeid(client: Client, text: str, namespaces: list[str]) -> ua.NodeId:
    parsed = ua.NodeId.from_string(text)
    uri = getattr(parsed, "NamespaceUri", None)
    if uri:
        if uri not in namespaces:
            raise LookupError(f"namespace {uri!r} is not served")
        return ua.NodeId(parsed.Identifier, ua.Int16(namespaces.index(uri)), parsed.NodeIdType)
    return ua.NodeId(parsed.Identifier, parsed.NamespaceIndex, parsed.NodeIdType)


async def _resolve_path(client: Client, path: Iterable[str]) -> Node:
    names = list(path)
    if names and names[0] == "Objects":
        names = names[1:]
    node = client.nodes.objects
    for name in names:
        matches = [c for c, b in await _children(node) if b.Name == name]
        if not matches:
            raise LookupError(f"no child {name!r}")
        if len(matches) > 1:
            raise LookupError(f"{len(matches)} children named {name!r}")
        node = matches[0]
    return node


async def resolve_nodemap(client: Client, endpoint: NodeEndpoint) -> tuple[list[Found], list[str]]:
    """The node map's variables that exist and are readable, and one line per problem."""
    namespaces = await client.get_namespace_array()
    found: list[Found] = []
    problems: list[str] = []
    for robot in endpoint.robots:
        for sig in robot.signals:
            where = f"{robot.robot} {sig.signal} ({sig.address})"
            try:
                if sig.node is not None:
                    node = client.get_node(await _resolve_nodeid(client, sig.node, namespaces))
                else:
                    node = await _resolve_path(client, sig.path or ())
                if await node.read_node_class() != ua.NodeClass.Variable:
                    raise LookupError("not a variable")
                access = await node.read_attribute(ua.AttributeIds.UserAccessLevel)
                level = access.Value.Value if access.Value is not None else 0
                if not level & ua.AccessLevel.CurrentRead.mask:
                    raise LookupError("not readable by our user")
            except (LookupError, ValueError, ua.UaError) as exc:
                problems.append(f"{where}: {exc}")
                continue
            found.append(Found(node, robot.robot, sig.signal, robot.robot, sig.scale, sig.offset,
                               "nodemap"))
    return found, problems


# --------------------------------------------------------------------------- draft


def _snake(name: str) -> str:
    text = _CAMEL.sub("_", re.sub(r"[^A-Za-z0-9]+", "_", name)).strip("_").lower()
    return re.sub(r"_+", "_", text)


def _signal_name(rel: list[str], joint: int | None = None) -> str:
    parts = [_snake(p) for p in rel if p not in ("ParameterSet",)]
    name = ".".join(p for p in parts if p) or "value"
    if joint is not None:
        name = f"J{joint}.{name}"
    if not name[0].isalpha():
        name = "s_" + name
    return name[:64] if SIGNAL_NAME_RE.match(name[:64]) else "signal"


def _robot_code(name: str) -> str:
    code = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "robot"
    return code[:64] if ROBOT_CODE_RE.match(code[:64]) else "robot"


def _nodeid_text(nid: ua.NodeId, namespaces: list[str]) -> str:
    text = nid.to_string()
    if nid.NamespaceIndex == 0:
        return text
    local = text.split(";", 1)[1]
    return f"nsu={namespaces[nid.NamespaceIndex]};{local}"


async def draft_nodemap(client: Client, url: str, *, max_depth: int = 8,
                        max_variables: int = 5000) -> tuple[NodeMap, dict[str, str]]:
    """A node map draft: every numeric scalar variable not already found by discovery, grouped
    by robot (a Robotics motion device, else the top object below ``Objects``); and notes
    (address -> data type and unit) for the person who edits it."""
    namespaces = await client.get_namespace_array()
    scan = await _robotics(client)
    # A motion device's robot is named by its serial number, which the collector matches
    # against the registered robots, when the server tells it.
    devices = {nid: serial or name for nid, (name, serial) in scan.devices.items()}
    known = {f.node.nodeid for f in scan.found}
    known |= {f.node.nodeid for f in await discover_simulator(client)}
    groups: dict[str, list[NodeSignal]] = {}
    notes: dict[str, str] = {}
    seen: set[ua.NodeId] = set()
    # The standard folders below Objects (DI's DeviceSet, NetworkSet, DeviceTopology, ...)
    # are not robots; only DeviceSet is searched, for motion devices.
    standard = [k for k, uri in enumerate(namespaces)
                if k == 0 or uri.startswith("http://opcfoundation.org/UA/")]
    standard_roots = {c.nodeid for c, _, _ in await _described(client.nodes.objects)
                      if c.nodeid.NamespaceIndex in standard}
    device_set = (_nid(_DEVICE_SET, namespaces.index(DI_URI)) if DI_URI in namespaces
                  else None)
    server = ua.NodeId(ua.ObjectIds.Server)  # type: ignore[arg-type]

    async def walk(node: Node, robot: str | None, rel: list[str], depth: int,
                   joint: int | None = None) -> None:
        if depth > max_depth or sum(len(v) for v in groups.values()) >= max_variables:
            return
        variables: list[tuple[Node, str]] = []
        for child, bname, cls in await _described(node):
            if child.nodeid in seen or child.nodeid == server:
                continue
            seen.add(child.nodeid)
            if cls == ua.NodeClass.Object:
                if child.nodeid in devices:  # a Robotics motion device: its own robot
                    await walk(child, devices[child.nodeid], [], depth + 1)
                elif robot is None and child.nodeid in standard_roots:
                    if child.nodeid == device_set:  # look for motion devices inside
                        await walk(child, None, [], depth + 1)
                elif robot is None:  # a top object below Objects stands for a robot
                    await walk(child, bname.Name, [], depth + 1)
                elif child.nodeid in scan.joints:  # an axis, power train or motor: J<n>
                    await walk(child, robot, [], depth + 1, scan.joints[child.nodeid])
                else:
                    await walk(child, robot, [*rel, bname.Name], depth + 1, joint)
            elif cls == ua.NodeClass.Variable and robot is not None and child.nodeid not in known:
                variables.append((child, bname.Name))
        if not variables or robot is None:
            return
        # One Read per object for the data types and value ranks of its variables.
        nodes = [v for v, _ in variables]
        dtypes = await client.read_attributes(nodes, ua.AttributeIds.DataType)
        ranks = await client.read_attributes(nodes, ua.AttributeIds.ValueRank)
        for (child, name), dt, rk in zip(variables, dtypes, ranks, strict=True):
            dtype = dt.Value.Value if dt.Value is not None else None
            rank = rk.Value.Value if rk.Value is not None else -1
            if (not isinstance(dtype, ua.NodeId) or dtype.NamespaceIndex != 0
                    or not isinstance(dtype.Identifier, int)
                    or dtype.Identifier not in _NUMERIC_TYPES or rank >= 0):  # >= 0: arrays
                continue
            address = _nodeid_text(child.nodeid, namespaces)
            groups.setdefault(robot, []).append(
                NodeSignal(signal=_signal_name([*rel, name], joint), node=address))
            type_name = ua.ObjectIdNames.get(dtype.Identifier, str(dtype))
            notes[address] = f"{'/'.join([robot, *rel, name])}: {type_name}"

    await walk(client.nodes.objects, None, [], 0)
    robots = []
    for name, signals in groups.items():
        unique: dict[str, NodeSignal] = {}
        for s in signals:
            key, k = s.signal, 2
            while key in unique:
                key, k = f"{s.signal[:60]}_{k}", k + 1
            unique[key] = s.model_copy(update={"signal": key})
        robots.append(NodeRobot(robot=_robot_code(name), signals=tuple(unique.values())))
    return NodeMap(endpoints=(NodeEndpoint(url=url, robots=tuple(robots)),)), notes


async def draft_from_server(url: str, *, username: str | None = None,
                            password: str | None = None, max_depth: int = 8,
                            timeout_s: float = 10.0) -> tuple[NodeMap, dict[str, str]]:
    """Connect to ``url`` and :func:`draft_nodemap` it (``robowatch collect opcua-browse``)."""
    client = Client(url, timeout=timeout_s)
    if username:
        client.set_user(username)
        client.set_password(password or "")
    async with client:
        return await draft_nodemap(client, url, max_depth=max_depth)
