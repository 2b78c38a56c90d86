"""OPC UA transport of the simulated fleet: one asyncua server hosting several robots.

Address space (docs/opcua-address-space.md), namespace ``urn:robowatch:simulator``::

    Objects/<site>/<line>/<robot>/Joints/J<n>/<Quantity>
    Objects/<site>/<line>/<robot>/Controller/<Quantity>

Every variable is a Double with ``EngineeringUnits`` (UN/CEFACT EUInformation) and ``EURange``
properties; its string NodeId is ``<robot>/<browse path>`` (``R-0001/Joints/J3/Temperature``).
Each tick writes the new values with the sample time as SourceTimestamp; a robot with
communication loss is simply not written, so its values go stale as a real one's would.

Security: None by default. With ``username``/``password`` set the server refuses anonymous
sessions; with ``certificate_dir`` it also offers Basic256Sha256 SignAndEncrypt, using a
self-signed certificate it creates there on first start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from asyncua import ua
from asyncua.common.node import Node
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager
from asyncua.ua.object_ids import ObjectIds

from simulators.opcua_nodes import ServedNode, add_units, write_tick
from simulators.scenario import PlacedRobot
from simulators.signals import SignalSpec

__all__ = ["NAMESPACE_URI", "OpcUaConfig", "OpcUaFleetServer"]

log = logging.getLogger(__name__)

NAMESPACE_URI = "urn:robowatch:simulator"


@dataclass(frozen=True, slots=True, kw_only=True)
class OpcUaConfig:
    host: str = "127.0.0.1"
    port: int = 4840
    path: str = "robowatch/simulator"
    username: str | None = None
    password: str | None = None
    certificate_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/{self.path}"


class _PasswordUsers(UserManager):
    def __init__(self, username: str, password: str) -> None:
        self._username, self._password = username, password

    def get_user(self, iserver: object, username: str | None = None,
                 password: str | None = None, certificate: object = None) -> User | None:
        if username == self._username and password == self._password:
            return User(role=UserRole.User, name=username)
        return None


def _node_id(text: str, idx: int) -> ua.NodeId:
    return ua.NodeId(ua.String(text), ua.Int16(idx))


class OpcUaFleetServer:
    """Serves ``robots`` (rows of the model matrix with their placement) over OPC UA."""

    def __init__(self, *, config: OpcUaConfig, robots: Sequence[tuple[int, PlacedRobot]],
                 specs: Sequence[SignalSpec]) -> None:
        self.config = config
        self._robots = list(robots)
        self._specs = list(specs)
        users = (_PasswordUsers(config.username, config.password)
                 if config.username and config.password is not None else None)
        self._server = Server(user_manager=users)
        self._nodes: list[list[ServedNode]] = []  # per robot
        self._started = False

    @property
    def url(self) -> str:
        return self.config.url

    async def start(self) -> None:
        s = self._server
        await s.init()
        s.set_endpoint(f"opc.tcp://{self.config.host}:{self.config.port}/{self.config.path}")
        s.set_server_name("robowatch simulated fleet")
        await self._security()
        idx = await s.register_namespace(NAMESPACE_URI)
        await self._build(idx)
        await s.start()
        self._started = True
        log.info("OPC UA: %d robots x %d signals at %s", len(self._robots), len(self._specs),
                 self.url)

    async def _security(self) -> None:
        s, cfg = self._server, self.config
        policies = [ua.SecurityPolicyType.NoSecurity]
        if cfg.certificate_dir is not None:
            from asyncua.crypto.cert_gen import setup_self_signed_certificate
            from cryptography.x509.oid import ExtendedKeyUsageOID

            cfg.certificate_dir.mkdir(parents=True, exist_ok=True)
            cert = cfg.certificate_dir / "simulator-cert.der"
            key = cfg.certificate_dir / "simulator-key.pem"
            await setup_self_signed_certificate(
                key, cert, "urn:robowatch:simulator:server", cfg.host,
                [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "robowatch simulator"})
            await s.load_certificate(str(cert))
            await s.load_private_key(str(key))
            policies = [ua.SecurityPolicyType.NoSecurity,
                        ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
        s.set_security_policy(policies)
        if cfg.username:
            s.set_security_IDs(["Username"])

    async def _build(self, idx: int) -> None:
        objects = self._server.nodes.objects
        folders: dict[tuple[str, ...], Node] = {}

        async def folder(parent: Node, key: tuple[str, ...], name: str) -> Node:
            if key not in folders:
                nid = _node_id("/".join(key), idx)
                folders[key] = await parent.add_folder(nid, ua.QualifiedName(name, idx))
            return folders[key]

        for _, p in self._robots:
            site = await folder(objects, ("site", p.customer.code, p.site.code), p.site.code)
            line = await folder(site, ("line", p.customer.code, p.site.code, p.line.code),
                                p.line.code)
            code = p.robot.code
            robot = await line.add_object(_node_id(code, idx), ua.QualifiedName(code, idx))
            nodes: list[ServedNode] = []
            for column, spec in enumerate(self._specs):
                parent = robot
                for depth in range(len(spec.browse_path) - 1):
                    path = spec.browse_path[: depth + 1]
                    parent = await folder(parent, (code, *path), path[-1])
                nid = _node_id(f"{code}/{'/'.join(spec.browse_path)}", idx)
                var = await parent.add_variable(
                    nid, ua.QualifiedName(spec.browse_path[-1], idx), 0.0, ua.VariantType.Double)
                await add_units(var, spec)
                await var.add_property(0, "EURange", ua.Range(Low=spec.low, High=spec.high),
                                       datatype=ObjectIds.Range)
                nodes.append(ServedNode(column, nid, False))
            self._nodes.append(nodes)

    async def update(self, ts: float, values: np.ndarray, publishing: np.ndarray) -> int:
        """Write one tick (``values``: the full model matrix); returns values written."""
        return await write_tick(self._server, self._robots, self._nodes, ts, values, publishing)

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self._server.stop()
