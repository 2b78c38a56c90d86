"""``robowatch simulate``: run the simulated fleet over OPC UA and/or MQTT until stopped."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from robowatch.cli.context import settings_of
from simulators.model import FleetModel
from simulators.nodesets import fetch
from simulators.opcua import OpcUaConfig
from simulators.robotics import missing_nodesets
from simulators.runner import FleetServer, RunConfig, RunResult, run
from simulators.scenario import Scenario, ScenarioError, default_scenario_path

log = logging.getLogger(__name__)


def simulate(
    ctx: typer.Context,
    scenario: Annotated[Path | None, typer.Option(
        help="Scenario TOML; default: the packaged demo fleet.")] = None,
    robots: Annotated[int | None, typer.Option(
        help="Scale the fleet to N robots (clones of the scenario's robots).", min=1)] = None,
    rate: Annotated[float, typer.Option(help="Samples per second per robot.", min=0.01)] = 10.0,
    protocol: Annotated[str, typer.Option(
        help="opcua, mqtt, or both (= as each robot's protocol says).")] = "both",
    speedup: Annotated[float, typer.Option(
        help="Scenario seconds per wall second (ageing, heat, faults).", min=0.001)] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the fleet's parameters and noise.")] = 0,
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds; default: run until killed.", min=0.0)] = None,
    mqtt_url: Annotated[str | None, typer.Option(
        help="Broker URL; default: settings.mqtt_url.")] = None,
    qos: Annotated[int, typer.Option(help="MQTT QoS of telemetry.", min=0, max=2)] = 1,
    opcua_host: Annotated[str, typer.Option(help="OPC UA listening host.")] = "127.0.0.1",
    opcua_port: Annotated[int, typer.Option(help="OPC UA port.", min=1, max=65535)] = 4840,
    opcua_user: Annotated[str | None, typer.Option(
        help="Require this OPC UA user name (password from --opcua-password).")] = None,
    opcua_password: Annotated[str | None, typer.Option(envvar="ROBOWATCH_SIM_OPCUA_PASSWORD",
                                                       help="OPC UA password.")] = None,
    opcua_cert_dir: Annotated[Path | None, typer.Option(
        help="Also offer Basic256Sha256 SignAndEncrypt with a certificate kept here.")] = None,
    opcua_model: Annotated[str, typer.Option(
        help="OPC UA address space: robowatch (docs/opcua-address-space.md) or robotics "
             "(the OPC 40010 Robotics companion specification, docs/opcua-robotics.md).",
    )] = "robowatch",
    nodesets: Annotated[Path, typer.Option(
        help="Where the Robotics NodeSet2 files are (fetched there if missing).",
    )] = Path("build/nodesets"),
    labels: Annotated[Path | None, typer.Option(
        help="Write the ground-truth fault labels (JSON Lines) here.")] = None,
    db_labels: Annotated[bool, typer.Option(
        help="Also record the labels in settings.database_url (when set).")] = True,
) -> None:
    """Simulate a robot fleet with scheduled faults; prints the OPC UA endpoint URL."""
    settings = settings_of(ctx)
    if protocol not in ("opcua", "mqtt", "both"):
        raise typer.BadParameter("must be opcua, mqtt or both", param_hint="--protocol")
    if opcua_model not in ("robowatch", "robotics"):
        raise typer.BadParameter("must be robowatch or robotics", param_hint="--opcua-model")
    if opcua_model == "robotics" and missing_nodesets(nodesets):
        typer.echo(f"fetching the OPC UA Robotics NodeSet2 files into {nodesets}", err=True)
        try:
            fetch(nodesets)
        except (OSError, RuntimeError) as exc:
            raise typer.BadParameter(f"cannot fetch the NodeSet2 files: {exc}",
                                     param_hint="--nodesets") from None
    try:
        sc = Scenario.load(scenario or default_scenario_path())
        if robots is not None:
            sc = sc.scaled(robots)
    except ScenarioError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenario") from exc
    config = RunConfig(
        rate_hz=rate, speedup=speedup, seed=seed, duration_s=duration,
        protocol=protocol,  # type: ignore[arg-type]
        mqtt_url=mqtt_url or settings.mqtt_url, mqtt_qos=qos,
        mqtt_prefix=settings.mqtt_topic_prefix,
        opcua=OpcUaConfig(host=opcua_host, port=opcua_port, username=opcua_user,
                          password=opcua_password, certificate_dir=opcua_cert_dir),
        robotics_nodesets=nodesets if opcua_model == "robotics" else None,
        labels_path=labels, database_url=settings.database_url if db_labels else None,
    )

    def ready(model: FleetModel, server: FleetServer | None) -> None:
        if server is not None:
            typer.echo(f"OPC UA endpoint: {server.url}")
        typer.echo(f"simulating {model.n_robots} robots x {len(model.signal_names)} signals "
                   f"at {rate:g} Hz (speed-up {speedup:g}, seed {seed})")

    try:
        result = asyncio.run(_main(sc, config, ready))
    except (ValueError, ConnectionError, TimeoutError, OSError) as exc:
        typer.echo(f"error: simulator failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    if result is not None:
        typer.echo(f"stopped after {result.ticks} ticks ({result.skipped_ticks} skipped)")


async def _main(
    sc: Scenario, config: RunConfig, ready: Callable[[FleetModel, FleetServer | None], None]
) -> RunResult | None:
    task = asyncio.create_task(run(sc, config, on_ready=ready))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        log.info("simulator stopped by signal")
        return None
