"""``robowatch collect``: the collector processes."""

from __future__ import annotations

from typing import Annotated

import typer
from prometheus_client import start_http_server

from collectors.metrics import CollectorMetrics
from collectors.mqtt import MqttConfig
from collectors.opcua import OpcUaConfig, shard_of
from collectors.service import run_collectors
from robowatch.cli.context import settings_of
from robowatch.database import database
from robowatch.runner import run_service

app = typer.Typer(help="Collect telemetry from robots into the database.", no_args_is_help=True)


def _metrics(port: int | None) -> CollectorMetrics:
    metrics = CollectorMetrics()
    if port is not None:
        start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    return metrics


@app.command()
def mqtt(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(help="Broker URL (default: settings).")] = None,
    share_group: Annotated[str | None, typer.Option(help="Shared subscription group.")] = None,
    client_id: Annotated[str | None, typer.Option(help="MQTT client id (unique per process).")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics on this port.")] = None,
    protocol: Annotated[str, typer.Option(help="auto (5, else 3.1.1), 5 or 3.1.1.")] = "auto",
) -> None:
    """Subscribe to robot telemetry over MQTT (QoS 1, persistent session)."""
    settings = settings_of(ctx)
    broker = url or settings.mqtt_url
    if not broker:
        raise typer.BadParameter("no broker: give --url or set ROBOWATCH_MQTT_URL", param_hint="--url")
    cfg = MqttConfig(url=broker, client_id=client_id or settings.mqtt_client_id,
                     topic_prefix=settings.mqtt_topic_prefix, share_group=share_group,
                     protocol=protocol)
    with database(settings) as db_url:
        metrics = _metrics(metrics_port)
        run_service(lambda stop: run_collectors(conninfo=db_url, stop=stop, mqtt=cfg, metrics=metrics))


@app.command()
def opcua(
    ctx: typer.Context,
    endpoint: Annotated[list[str] | None, typer.Option(help="opc.tcp:// URL; repeatable.")] = None,
    shard: Annotated[int, typer.Option(help="This process's shard number.")] = 0,
    shards: Annotated[int, typer.Option(min=1, help="Number of collector processes.")] = 1,
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics on this port.")] = None,
) -> None:
    """Subscribe to robot variables on OPC UA servers; endpoints split across shards."""
    settings = settings_of(ctx)
    configs = [OpcUaConfig(url=u) for u in (endpoint or [])] or [
        OpcUaConfig(url=e.url, username=e.username, password=e.password,
                    publishing_interval_ms=e.publishing_interval_ms)
        for e in settings.opcua_endpoints
    ]
    if not 0 <= shard < shards:
        raise typer.BadParameter(f"shard must be in [0, {shards})", param_hint="--shard")
    mine = [c for c in configs if shard_of(c.url, shards) == shard]
    if not mine:
        raise typer.BadParameter("no OPC UA endpoint for this shard", param_hint="--endpoint")
    with database(settings) as db_url:
        metrics = _metrics(metrics_port)
        run_service(lambda stop: run_collectors(conninfo=db_url, stop=stop, opcua=mine, metrics=metrics))


