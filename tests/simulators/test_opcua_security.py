"""OPC UA with Basic256Sha256 SignAndEncrypt and a user name / password."""

from __future__ import annotations

from pathlib import Path

import pytest
from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography.x509.oid import ExtendedKeyUsageOID

from simulators.brokers import free_port
from simulators.model import FleetModel
from simulators.opcua import NAMESPACE_URI, OpcUaConfig, OpcUaFleetServer
from simulators.runner import split_by_protocol
from tests.simulators.helpers import scenario

pytestmark = [pytest.mark.opcua, pytest.mark.slow]


async def test_sign_and_encrypt_with_password(tmp_path: Path) -> None:
    model = FleetModel(scenario(robots=1, protocol="opcua"), seed=0)
    opc, _ = split_by_protocol(model.placed, "both")
    cfg = OpcUaConfig(port=free_port(), username="service", password="s3cret",
                      certificate_dir=tmp_path / "server")
    server = OpcUaFleetServer(config=cfg, robots=opc, specs=model.specs)
    await server.start()
    try:
        key, cert = tmp_path / "client-key.pem", tmp_path / "client-cert.der"
        await setup_self_signed_certificate(
            key, cert, "urn:robowatch:test:client", "localhost",
            [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "robowatch test client"})

        client = Client(url=server.url, timeout=5)
        client.set_user("service")
        client.set_password("s3cret")
        client.application_uri = "urn:robowatch:test:client"
        await client.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key),
                                  mode=ua.MessageSecurityMode.SignAndEncrypt)
        async with client:
            idx = await client.get_namespace_index(NAMESPACE_URI)
            node = client.get_node(ua.NodeId(ua.String("R0/Joints/J3/Temperature"),
                                              ua.Int16(idx)))
            assert isinstance(await node.read_value(), float)

        anonymous = Client(url=server.url, timeout=5)
        with pytest.raises(ua.UaError):
            async with anonymous:
                pass

        wrong = Client(url=server.url, timeout=5)
        wrong.set_user("service")
        wrong.set_password("nope")
        with pytest.raises(ua.UaError):
            async with wrong:
                pass
    finally:
        await server.stop()
