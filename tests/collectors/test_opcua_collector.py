"""OPC UA collector against the real simulator server (asyncua) and a real PostgreSQL."""

import asyncio
import contextlib
import logging
import time

import pytest

from collectors.metrics import CollectorMetrics
from collectors.opcua import OpcUaConfig
from collectors.service import run_collectors
from collectors.supervise import RetryPolicy
from simulators.brokers import free_port
from simulators.model import FleetModel
from simulators.opcua import OpcUaConfig as ServerConfig
from simulators.opcua import OpcUaFleetServer
from simulators.registry import fleet_spec
from simulators.runner import split_by_protocol
from simulators.scenario import PlacedRobot
from storage.connect import connect
from storage.fleet import register_fleet
from storage.gaps import list_gaps
from tests.simulators.helpers import scenario

pytestmark = [pytest.mark.opcua, pytest.mark.slow]


def points(db_url: str) -> tuple[int, int]:
    with connect(db_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT signal_id) FROM telemetry").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def eventually(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(pred):
            return True
        await asyncio.sleep(0.2)
    return False


def registered_fleet(db_url: str, n: int) -> tuple[FleetModel, list[tuple[int, PlacedRobot]]]:
    """A fleet of ``n`` OPC UA robots, registered in the database: (model, its robots)."""
    sc = scenario(robots=n, protocol="opcua")
    with connect(db_url) as conn:
        register_fleet(conn=conn, fleet=fleet_spec(sc))
        conn.commit()
    model = FleetModel(sc, seed=1)
    return model, split_by_protocol(model.placed, "both")[0]


async def test_server_restart_reconnects_resubscribes_and_records_the_gap(db_url):
    model, robots = registered_fleet(db_url, 2)
    port = free_port()
    state: dict[str, OpcUaFleetServer | None] = {"server": None}

    async def serve() -> OpcUaFleetServer:
        s = OpcUaFleetServer(config=ServerConfig(port=port), robots=robots, specs=model.specs)
        await s.start()
        state["server"] = s
        return s

    async def tick() -> None:
        while True:
            s = state["server"]
            if s is not None:
                ts = time.time()
                with contextlib.suppress(Exception):  # the server may be stopping under us
                    await s.update(ts, model.step(ts), model.publishing)
            await asyncio.sleep(0.1)

    server = await serve()
    ticker = asyncio.create_task(tick())
    stop = asyncio.Event()
    cfg = OpcUaConfig(url=server.url, publishing_interval_ms=50, retry=RetryPolicy(max_s=1.0))
    task = asyncio.create_task(run_collectors(conninfo=db_url, stop=stop, opcua=[cfg],
                                              metrics=CollectorMetrics()))
    try:
        n_signals = len(model.specs)
        assert await eventually(lambda: points(db_url)[1] == n_signals, 30)
        state["server"] = None
        await server.stop()
        await asyncio.sleep(2.0)  # the outage
        before = points(db_url)[0]
        await serve()

        def resumed() -> bool:
            return points(db_url)[0] > before + 2 * n_signals

        assert await eventually(resumed, 30)  # reconnected and resubscribed

        def gaps():
            with connect(db_url) as conn:
                return list_gaps(conn=conn, origin=cfg.url)
        assert await eventually(lambda: any(g.ended_at is not None for g in gaps()), 10)
        gap = [g for g in gaps() if g.ended_at is not None][0]
        assert gap.source == "opcua"
        assert 1.0 < (gap.ended_at - gap.started_at).total_seconds() < 30
        with connect(db_url) as conn:
            row = conn.execute("SELECT count(*) FROM telemetry WHERE time > %s AND time < %s",
                               (gap.started_at, gap.ended_at)).fetchone()
        assert row is not None
        inside = row[0]
        # Nothing was sampled while the server was down: the gap row says why it is empty.
        assert inside < 2 * n_signals * 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        if state["server"] is not None:
            await state["server"].stop()


async def test_sign_and_encrypt_with_certificate_and_password(db_url, tmp_path):
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    model, robots = registered_fleet(db_url, 1)
    server = OpcUaFleetServer(
        config=ServerConfig(port=free_port(), username="service", password="s3cret",
                            certificate_dir=tmp_path / "server"),
        robots=robots, specs=model.specs)
    await server.start()
    key, cert = tmp_path / "client-key.pem", tmp_path / "client-cert.der"
    await setup_self_signed_certificate(
        key, cert, "urn:robowatch:collector", "localhost",
        [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "robowatch collector"})
    ts = time.time()
    await server.update(ts, model.step(ts), model.publishing)
    stop = asyncio.Event()
    cfg = OpcUaConfig(url=server.url, username="service", password="s3cret",
                      security_mode="SignAndEncrypt", certificate=str(cert), private_key=str(key),
                      server_certificate=str(tmp_path / "server" / "simulator-cert.der"))
    task = asyncio.create_task(run_collectors(conninfo=db_url, stop=stop, opcua=[cfg],
                                              metrics=CollectorMetrics()))
    try:
        assert await eventually(lambda: points(db_url)[1] == len(model.specs), 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await server.stop()


def test_security_needs_a_certificate_and_a_known_mode():
    from collectors.errors import CollectorConfigError

    with pytest.raises(CollectorConfigError):
        OpcUaConfig(url="opc.tcp://h:4840", security_mode="SignAndEncrypt")
    with pytest.raises(CollectorConfigError):
        OpcUaConfig(url="opc.tcp://h:4840", security_mode="Encrypt", certificate="c",
                    private_key="k")


async def test_quiet_start_before_the_server_and_clean_server_shutdown(db_url, caplog):
    """The collector starts first (as in ``make demo``): it waits at INFO. The server then
    stops cleanly: one warning and a gap, no ERROR and no traceback from asyncua."""
    caplog.set_level(logging.INFO)
    model, robots = registered_fleet(db_url, 1)
    server = OpcUaFleetServer(config=ServerConfig(port=free_port()), robots=robots,
                              specs=model.specs)
    stop = asyncio.Event()
    cfg = OpcUaConfig(url=server.url, publishing_interval_ms=50,
                      retry=RetryPolicy(initial_s=0.1, max_s=0.3, jitter_s=0.05))
    task = asyncio.create_task(run_collectors(conninfo=db_url, stop=stop, opcua=[cfg],
                                              metrics=CollectorMetrics()))
    try:
        def waiting():
            return [r for r in caplog.records if "waiting for OPC UA server at" in r.message]
        assert await eventually(lambda: len(waiting()) >= 2, 10)
        assert {r.levelno for r in waiting()} == {logging.INFO}
        await server.start()
        ts = time.time()
        await server.update(ts, model.step(ts), model.publishing)
        assert await eventually(lambda: points(db_url)[0] > 0, 30)
        caplog.clear()
        await server.stop()
        assert await eventually(
            lambda: any("lost" in r.message and r.levelno == logging.WARNING
                        for r in caplog.records), 15)
        await asyncio.sleep(2.0)  # asyncua's publish loop would have logged by now
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await server.stop()
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or
            (r.exc_info and r.levelno > logging.DEBUG)]
    assert not loud, [(r.name, r.levelname, r.message) for r in loud]
    with connect(db_url) as conn:
        assert [g.reason for g in list_gaps(conn=conn, origin=cfg.url)][-1] == "connection lost"
