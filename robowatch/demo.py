"""``robowatch demo``: the whole stack in one process tree on embedded defaults.

The demo process owns the database (embedded PostgreSQL unless a URL is configured) and
the broker (an in-process amqtt broker unless ``ROBOWATCH_MQTT_URL`` is set), registers the
scenario's fleet and the service team, then runs each service as a child process
(``robowatch simulate|collect|detect|ticketing|api``) in dependency order (the simulator's
OPC UA port must be open before the collectors start), restarting one that crashes with
backoff. On Ctrl-C or SIGTERM the children are stopped in reverse order (SIGTERM, then
SIGKILL after a grace period), then the broker, then the database: no orphans, data kept for
the next run.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from api.auth import demo_password, ensure_demo_users
from parts.policy import builtin_policy as builtin_parts_policy
from parts.seed import load_parts, read_parts_file
from robowatch.demo_history import seed_sample_history
from robowatch.settings import Settings
from robowatch.team import DEMO_ROSTER, load_team
from simulators.brokers import free_port
from simulators.registry import fleet_spec
from simulators.scenario import Scenario, default_scenario_path
from storage.anomalies import close_open_anomalies
from storage.connect import Conn, connect
from storage.embedded import EmbeddedPostgres
from storage.fleet import FleetSpec, register_fleet
from storage.migrate import upgrade
from storage.tickets import list_tickets
from ticketing.duty import put_roster_in_force
from ticketing.errors import TicketingError
from ticketing.events import apply
from ticketing.policy import Policy, load_policy

__all__ = ["DemoOptions", "run_demo"]

log = logging.getLogger(__name__)

GRACE_S = 10.0
# The demo's clocks are the default policy's with the process clocks shortened, so a ticket
# nobody accepts is reassigned within minutes; ROBOWATCH_POLICY_FILE overrides it.
DEMO_POLICY = Path(str(resources.files("ticketing.policies").joinpath("demo.toml")))
DEMO_ACTOR = "demo"
DEMO_PARTS = Path(__file__).with_name("demo_parts.toml")
# A child that ran this long before exiting was healthy: its restart backoff starts afresh.
HEALTHY_RUN_S = 60.0
# Quick exits in a row (each sooner than HEALTHY_RUN_S after its start) before the demo gives
# up: a child that cannot start is broken, not unlucky.
MAX_QUICK_EXITS = 6
# The simulator opens its OPC UA port within a second or two; allow a slow first start.
READY_TIMEOUT_S = 30.0


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


def _fresh_story(conn: Conn, policy: Policy) -> int:
    """Close what a previous demo run left open, so this run's faults open tickets of their
    own instead of joining old ones; the history stays, with the reason."""
    now = datetime.now(UTC)
    ended = close_open_anomalies(conn=conn, ended_at=now)
    open_tickets, _ = list_tickets(conn=conn, open_only=True, limit=10_000)
    for t in open_tickets:
        try:
            apply(conn=conn, ticket_id=t.id, event="cancel", actor=DEMO_ACTOR,
                  expected_version=t.version, now=now, policy=policy,
                  reason="demo restarted: the story starts afresh")
        except TicketingError as exc:
            log.warning("left ticket %s of the last demo open: %s", t.number, exc)
    if ended or open_tickets:
        log.info("last demo run: %d open tickets cancelled, %d open anomalies ended",
                 len(open_tickets), ended)
    return len(open_tickets)


def _prepare_database(url: str, fleet: FleetSpec, policy: Policy) -> list[str]:
    """Migrate, register the fleet and team, start the story afresh, create the demo's users
    (one per role); their usernames."""
    for m in upgrade(url):
        log.info("schema migrated to %04d %s", m.version, m.name)
    with connect(url) as conn:
        register_fleet(conn=conn, fleet=fleet)
        put_roster_in_force(conn=conn, roster=DEMO_ROSTER)
        conn.commit()
        # Warehouses, catalogue and opening stock (docs/parts.md): idempotent, so a second
        # demo keeps the stock the first one moved.
        added = load_parts(conn=conn, spec=read_parts_file(DEMO_PARTS), actor=DEMO_ACTOR,
                           at=datetime.now(UTC))
        if any(added.values()):
            log.info("demo parts loaded: %s", added)
    with connect(url, autocommit=True) as conn:
        _fresh_story(conn, policy)
        # A fresh data directory gets three weeks of marked sample work, so the reports
        # have figures (robowatch/demo_history.py); a used one is left as it is.
        seed_sample_history(conn=conn, fleet=fleet, policy=policy,
                            parts_policy=builtin_parts_policy(), now=datetime.now(UTC))
        managers = [e.code for e in fleet.engineers if e.role == "manager"]
        engineers = [e.code for e in fleet.engineers if e.role == "engineer"]
        return ensure_demo_users(conn, at=datetime.now(UTC), customer=fleet.customers[0].code,
                                 engineer=engineers[0] if engineers else None,
                                 manager=managers[0] if managers else None)


class _Exited(Exception):
    """A supervised child ended by itself."""


class _ExitedAfterHealthyRun(Exception):
    """A child ended after running long enough to count as healthy: restart its backoff."""


async def _spawn(child: _Child, env: dict[str, str]) -> None:
    # Each child in its own session: a terminal's Ctrl-C reaches only the demo, which then
    # stops the children in reverse dependency order (consumers before their sources).
    child.proc = await asyncio.create_subprocess_exec(*child.argv, env=env,
                                                      start_new_session=True)
    log.info("started %s (pid %d)", child.name, child.proc.pid)


async def _run_once(child: _Child, env: dict[str, str]) -> None:
    await _spawn(child, env)
    started = time.monotonic()
    code = await child.proc.wait()  # type: ignore[union-attr]
    log.error("%s exited with code %s", child.name, code)
    if time.monotonic() - started > HEALTHY_RUN_S:
        raise _ExitedAfterHealthyRun(child.name)
    raise _Exited(child.name)


async def _keep_running(child: _Child, env: dict[str, str], stop: asyncio.Event) -> None:
    """Restart ``child`` whenever it exits, backing off; after ``MAX_QUICK_EXITS`` exits in a
    row that each came soon after a start, stop the demo."""
    while True:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_Exited),
                wait=wait_exponential_jitter(multiplier=1.0, jitter=1.0, max=10.0),
                stop=stop_after_attempt(MAX_QUICK_EXITS), reraise=True,
            ):
                with attempt:
                    await _run_once(child, env)
        except _ExitedAfterHealthyRun:
            continue
        except _Exited:
            log.error("%s keeps failing (%d quick exits in a row); stopping the demo",
                      child.name, MAX_QUICK_EXITS)
            stop.set()
            return


async def _port_open(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False


async def _supervise(
    children: list[_Child], env: dict[str, str], stop: asyncio.Event, *,
    ready: dict[str, tuple[str, int]],
) -> None:
    """Start ``children`` in order; a child named in ``ready`` must open its port before the
    next one starts, so no consumer starts before its source and logs refusals."""
    tasks = []
    try:
        for c in children:
            tasks.append(asyncio.create_task(_keep_running(c, env, stop), name=f"keep-{c.name}"))
            if c.name in ready:
                host, port = ready[c.name]
                if not await _port_open(host, port, READY_TIMEOUT_S):
                    log.warning("%s did not open %s:%d within %.0f s; starting the rest anyway",
                                c.name, host, port, READY_TIMEOUT_S)
        await stop.wait()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _stop_children(children: list[_Child]) -> None:
    """Stop in reverse start order: consumers (API, ticketing, detection, collectors) before
    the sources they read, so a clean stop logs no lost connection."""
    for c in reversed(children):
        if c.proc is None or c.proc.returncode is not None:
            continue
        with contextlib.suppress(ProcessLookupError):
            c.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(c.proc.wait(), GRACE_S)
        except TimeoutError:
            log.warning("%s did not stop in %.0f s; killing it", c.name, GRACE_S)
            with contextlib.suppress(ProcessLookupError):
                c.proc.kill()
            await c.proc.wait()


async def _demo(settings: Settings, options: DemoOptions, db_url: str, stop: asyncio.Event) -> None:
    scenario_path = options.scenario or default_scenario_path()
    scenario = Scenario.load(scenario_path)
    fleet = fleet_spec(scenario)
    fleet = FleetSpec(customers=fleet.customers, engineers=load_team())
    policy_file = settings.policy_file or DEMO_POLICY
    users = await asyncio.to_thread(_prepare_database, db_url, fleet, load_policy(policy_file))
    async with _broker(settings) as (mqtt_url, mqtt_protocol):
        opcua_port = free_port()
        home = settings.home.resolve()
        env = {**os.environ, "ROBOWATCH_DATABASE_URL": db_url, "ROBOWATCH_MQTT_URL": mqtt_url,
               "ROBOWATCH_HOME": str(home), "ROBOWATCH_POLICY_FILE": str(policy_file)}
        exe = [sys.executable, "-m", "robowatch"]
        sim = [*exe, "simulate", "--scenario", str(scenario_path), "--protocol", "both",
               "--rate", str(options.rate_hz), "--speedup", str(options.speedup),
               "--seed", str(options.seed), "--mqtt-url", mqtt_url,
               "--opcua-port", str(opcua_port), "--labels", str(home / "labels.jsonl")]
        # Dependency order: the simulated robots first, then what reads them.
        children = [
            _Child("simulator", sim),
            _Child("collector-mqtt", [*exe, "collect", "mqtt", "--client-id", "robowatch-demo-mqtt",
                                      "--protocol", mqtt_protocol]),
            _Child("collector-opcua", [*exe, "collect", "opcua", "--endpoint",
                                       f"opc.tcp://127.0.0.1:{opcua_port}/robowatch/simulator"]),
            _Child("detection", [*exe, "detect", "run"]),
            _Child("ticketing", [*exe, "ticketing", "run"]),
            _Child("api", [*exe, "api"]),
        ]
        url = f"http://{settings.api.host}:{settings.api.port}/"
        logins = "\n".join(f"  {u:<16} password {demo_password(u)}" for u in users)
        print(f"\nrobowatch demo: console at {url}  (API {url}api/v1/tickets, docs {url}docs)\n"
              f"sign in as one of (a user per role):\n{logins}\n"
              f"policy {policy_file} (clocks shortened for the demo unless you set one)\n"
              f"data in {home}; press Ctrl-C to stop.\n", flush=True)
        if options.duration_s is not None:
            asyncio.get_running_loop().call_later(options.duration_s, stop.set)
        try:
            await _supervise(children, env, stop,
                             ready={"simulator": ("127.0.0.1", opcua_port)})
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
