"""``robowatch demo``: the whole stack in one process tree on embedded defaults.

The demo process owns the database (embedded PostgreSQL unless a URL is configured) and
the broker (an in-process amqtt broker unless ``ROBOWATCH_MQTT_URL`` is set), registers the
scenario's fleet and the service team, then runs each service as a child process
(``robowatch simulate|collect|detect|ticketing|api``), restarting one that crashes. On
Ctrl-C or SIGTERM the children are stopped first (SIGTERM, then SIGKILL after a grace
period), then the broker, then the database: no orphans, data kept for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from robowatch.brokers import free_port
from robowatch.settings import Settings
from robowatch.team import load_team
from simulators.registry import fleet_spec
from simulators.scenario import Scenario, default_scenario_path
from storage.connect import connect
from storage.embedded import EmbeddedPostgres
from storage.fleet import FleetSpec, register_fleet
from storage.migrate import upgrade

__all__ = ["DemoOptions", "run_demo"]

log = logging.getLogger(__name__)

GRACE_S = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOptions:
    scenario: Path | None = None
    # 2 Hz keeps six robots x 56 signals comfortably within one OPC UA collector on a
    # 2-core laptop alongside everything else; bench the collectors for fleet rates.
    rate_hz: float = 2.0
    speedup: float = 1.0
    seed: int = 0
    duration_s: float | None = None


@dataclass
class _Child:
    name: str
    argv: list[str]
    proc: asyncio.subprocess.Process | None = None
    restarts: list[float] = field(default_factory=list)


@contextlib.asynccontextmanager
async def _broker(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """(broker URL, MQTT protocol version the collector should use)."""
    if settings.mqtt_url:
        yield settings.mqtt_url, "auto"
        return
    from amqtt.broker import Broker
    from amqtt.contexts import BrokerConfig, ListenerConfig

    port = free_port()
    broker = Broker(BrokerConfig(
        listeners={"default": ListenerConfig(bind=f"127.0.0.1:{port}")},
        plugins={"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    ))
    await broker.start()
    log.info("in-process MQTT broker (amqtt) on 127.0.0.1:%d", port)
    try:
        # amqtt speaks MQTT 3.1.1 only, and drops a version-5 CONNECT without answering.
        yield f"mqtt://127.0.0.1:{port}", "3.1.1"
    finally:
        await broker.shutdown()


def _prepare_database(url: str, fleet: FleetSpec) -> None:
    for m in upgrade(url):
        log.info("schema migrated to %04d %s", m.version, m.name)
    with connect(url) as conn:
        register_fleet(conn=conn, fleet=fleet)
        conn.commit()


async def _spawn(child: _Child, env: dict[str, str]) -> None:
    # Children share the demo's process group: a terminal's Ctrl-C reaches them too, and
    # each shuts down by itself; the demo then only waits (and kills what lingers).
    child.proc = await asyncio.create_subprocess_exec(*child.argv, env=env)
    log.info("started %s (pid %d)", child.name, child.proc.pid)


async def _supervise(children: list[_Child], env: dict[str, str], stop: asyncio.Event) -> None:
    for c in children:
        await _spawn(c, env)
    while not stop.is_set():
        waits = {asyncio.create_task(c.proc.wait()): c for c in children if c.proc is not None}
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({*waits, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for t in (*waits, stopper):
            if t not in done:
                t.cancel()
        if stop.is_set():
            return
        for t in done:
            exited = waits.get(t)
            if exited is None:
                continue
            c = exited
            log.error("%s exited with code %s", c.name, t.result())
            now = time.monotonic()
            c.restarts = [r for r in c.restarts if now - r < 60] + [now]
            if len(c.restarts) > 5:
                log.error("%s keeps failing (6 exits in a minute); stopping the demo", c.name)
                stop.set()
                return
            await asyncio.sleep(min(2 ** len(c.restarts), 10))
            await _spawn(c, env)


async def _stop_children(children: list[_Child]) -> None:
    running = [c for c in children if c.proc is not None and c.proc.returncode is None]
    for c in running:
        with contextlib.suppress(ProcessLookupError):
            c.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    for c in running:
        try:
            await asyncio.wait_for(c.proc.wait(), GRACE_S)  # type: ignore[union-attr]
        except TimeoutError:
            log.warning("%s did not stop in %.0f s; killing it", c.name, GRACE_S)
            with contextlib.suppress(ProcessLookupError):
                c.proc.kill()  # type: ignore[union-attr]
            await c.proc.wait()  # type: ignore[union-attr]


async def _demo(settings: Settings, options: DemoOptions, db_url: str, stop: asyncio.Event) -> None:
    scenario_path = options.scenario or default_scenario_path()
    scenario = Scenario.load(scenario_path)
    fleet = fleet_spec(scenario)
    fleet = FleetSpec(customers=fleet.customers, engineers=load_team())
    await asyncio.to_thread(_prepare_database, db_url, fleet)
    async with _broker(settings) as (mqtt_url, mqtt_protocol):
        opcua_port = free_port()
        home = settings.home.resolve()
        env = {**os.environ, "ROBOWATCH_DATABASE_URL": db_url, "ROBOWATCH_MQTT_URL": mqtt_url,
               "ROBOWATCH_HOME": str(home)}
        exe = [sys.executable, "-m", "robowatch"]
        sim = [*exe, "simulate", "--scenario", str(scenario_path), "--protocol", "both",
               "--rate", str(options.rate_hz), "--speedup", str(options.speedup),
               "--seed", str(options.seed), "--mqtt-url", mqtt_url,
               "--opcua-port", str(opcua_port), "--labels", str(home / "labels.jsonl")]
        children = [
            _Child("api", [*exe, "api"]),
            _Child("ticketing", [*exe, "ticketing", "run"]),
            _Child("detection", [*exe, "detect", "run"]),
            _Child("collector-mqtt", [*exe, "collect", "mqtt", "--client-id", "robowatch-demo-mqtt",
                                      "--protocol", mqtt_protocol]),
            _Child("collector-opcua", [*exe, "collect", "opcua", "--endpoint",
                                       f"opc.tcp://127.0.0.1:{opcua_port}/robowatch/simulator"]),
            _Child("simulator", sim),
        ]
        url = f"http://{settings.api.host}:{settings.api.port}/"
        print(f"\nrobowatch demo: console at {url}  (API {url}api/v1/tickets)\n"
              f"data in {home}; press Ctrl-C to stop.\n", flush=True)
        if options.duration_s is not None:
            asyncio.get_running_loop().call_later(options.duration_s, stop.set)
        try:
            await _supervise(children, env, stop)
        finally:
            await _stop_children(children)


def run_demo(settings: Settings, options: DemoOptions) -> None:
    """Run until Ctrl-C / SIGTERM (or ``duration_s``); stop everything cleanly."""
    server: EmbeddedPostgres | None = None
    if settings.database_url:
        db_url = settings.database_url
    else:
        settings.home.mkdir(parents=True, exist_ok=True)
        server = EmbeddedPostgres(settings.home / "pgdata")
        db_url = server.start()
        log.info("embedded PostgreSQL at %s", settings.home / "pgdata")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await _demo(settings, options, db_url, stop)

    try:
        asyncio.run(main())
    finally:
        if server is not None:
            server.stop()
        print("robowatch demo stopped.", flush=True)
