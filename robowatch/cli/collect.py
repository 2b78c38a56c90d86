"""``robowatch collect``: the collector processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import start_http_server

from collectors.decoding import MessageDecoder
from collectors.errors import CollectorConfigError
from collectors.gateway import GatewayDecoder, load_gateway_mapping
from collectors.mapping import load_sparkplug_mapping
from collectors.metrics import CollectorMetrics
from collectors.mqtt import MqttConfig
from collectors.nodemap import load_nodemap, render_nodemap
from collectors.opcua import OpcUaConfig, shard_of
from collectors.opcua_browse import draft_from_server
from collectors.payload import Limits
from collectors.service import run_collectors
from collectors.sparkplug import SparkplugDecoder
from collectors.writer import WriterConfig
from robowatch.cli.context import settings_of
from robowatch.database import database
from robowatch.runner import run_service
from robowatch.settings import Settings

app = typer.Typer(help="Collect telemetry from robots into the database.", no_args_is_help=True)


SpoolDir = Annotated[Path | None, typer.Option(
    help="Store-and-forward directory (one per process); default: <home>/spool/<name>.")]
SpoolMax = Annotated[int, typer.Option(help="Spool size limit in MiB.", min=1)]


def _writer(
    settings: Settings, spool_dir: Path | None, name: str, spool_max_mb: int
) -> WriterConfig:
    return WriterConfig(spool_dir=spool_dir or settings.home / "spool" / name,
                        spool_max_bytes=spool_max_mb << 20)


def _metrics(port: int | None) -> CollectorMetrics:
    metrics = CollectorMetrics()
    if port is not None:
        start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    return metrics


class PayloadFormat(StrEnum):
    v1 = "v1"
    sparkplug = "sparkplug"
    gateway = "gateway"


def _decoder_factory(
    fmt: PayloadFormat, mapping: Path | None
) -> Callable[[Limits], MessageDecoder] | None:
    """The payload format's decoder (None: payload v1), its mapping file checked now."""
    if fmt is PayloadFormat.v1:
        if mapping is not None:
            raise typer.BadParameter("payload v1 takes no mapping file", param_hint="--mapping")
        return None
    if mapping is None:
        raise typer.BadParameter(f"--format {fmt.value} needs a mapping file",
                                 param_hint="--mapping")
    try:
        if fmt is PayloadFormat.sparkplug:
            spb = load_sparkplug_mapping(mapping)
            return lambda limits: SparkplugDecoder(mapping=spb, limits=limits)
        gw = load_gateway_mapping(mapping)
        return lambda limits: GatewayDecoder(mapping=gw, limits=limits)
    except CollectorConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mapping") from None


@app.command()
def mqtt(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(help="Broker URL (default: settings).")] = None,
    share_group: Annotated[str | None, typer.Option(help="Shared subscription group.")] = None,
    client_id: Annotated[str | None, typer.Option(
        help="MQTT client id (unique per process).")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics on this port.")] = None,
    protocol: Annotated[str, typer.Option(help="auto (5, else 3.1.1), 5 or 3.1.1.")] = "auto",
    ca_file: Annotated[str | None, typer.Option(
        help="CA bundle for TLS (mqtts:// URLs); default: the system's.")] = None,
    session_expiry: Annotated[int, typer.Option(
        help="Seconds the broker keeps our session (and queues QoS 1) while we are away.")] = 3600,
    payload_format: Annotated[PayloadFormat, typer.Option(
        "--format",
        help="v1 (docs/mqtt-payload.md), sparkplug (Sparkplug B, docs/sparkplug.md) or "
             "gateway (any JSON, docs/json-gateways.md).")] = PayloadFormat.v1,
    mapping: Annotated[Path | None, typer.Option(
        help="Mapping file (TOML) for --format sparkplug or gateway.")] = None,
    spool_dir: SpoolDir = None,
    spool_max_mb: SpoolMax = 1024,
) -> None:
    """Subscribe to robot telemetry over MQTT (QoS 1, persistent session).

    User name and password go in the URL (mqtt://user:pass@host:port); mqtts:// turns TLS on.
    """
    decoder_factory = _decoder_factory(payload_format, mapping)
    settings = settings_of(ctx)
    broker = url or settings.mqtt_url
    if not broker:
        raise typer.BadParameter("no broker: give --url or set ROBOWATCH_MQTT_URL",
                                 param_hint="--url")
    cid = client_id or settings.mqtt_client_id
    cfg = MqttConfig(url=broker, client_id=cid,
                     topic_prefix=settings.mqtt_topic_prefix, share_group=share_group,
                     protocol=protocol, ca_file=ca_file, session_expiry_s=session_expiry,
                     decoder_factory=decoder_factory)
    wcfg = _writer(settings, spool_dir, f"mqtt-{cid}", spool_max_mb)
    with database(settings) as db_url:
        metrics = _metrics(metrics_port)
        run_service(lambda stop: run_collectors(conninfo=db_url, stop=stop, mqtt=cfg,
                                                metrics=metrics, writer_config=wcfg))


@app.command()
def opcua(
    ctx: typer.Context,
    endpoint: Annotated[list[str] | None, typer.Option(help="opc.tcp:// URL; repeatable.")] = None,
    shard: Annotated[int, typer.Option(help="This process's shard number.")] = 0,
    shards: Annotated[int, typer.Option(min=1, help="Number of collector processes.")] = 1,
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics on this port.")] = None,
    username: Annotated[str | None, typer.Option(help="OPC UA user (for --endpoint).")] = None,
    password: Annotated[str | None, typer.Option(envvar="ROBOWATCH_OPCUA_PASSWORD",
                                                 help="OPC UA password.")] = None,
    security_mode: Annotated[str, typer.Option(
        help="None, Sign or SignAndEncrypt (Basic256Sha256).")] = "None",
    certificate: Annotated[str | None, typer.Option(help="Client certificate file.")] = None,
    private_key: Annotated[str | None, typer.Option(help="Client private key file (PEM).")] = None,
    server_certificate: Annotated[str | None, typer.Option(
        help="Trusted server certificate; default: the one the endpoint presents.")] = None,
    application_uri: Annotated[str, typer.Option(
        help="Our application URI: the URI in the client certificate.",
    )] = "urn:robowatch:collector",
    publishing_interval_ms: Annotated[int, typer.Option(min=1)] = 100,
    sampling_interval_ms: Annotated[float, typer.Option(min=0)] = 0.0,
    queue_size: Annotated[int, typer.Option(min=1, help="Server-side queue per variable.")] = 10,
    nodemap: Annotated[Path | None, typer.Option(
        help="Node map (TOML, docs/opcua-nodemap.md): which node is which robot signal, per "
             "endpoint; its endpoints are collected too. Draft one with `opcua-browse`.")] = None,
    spool_dir: SpoolDir = None,
    spool_max_mb: SpoolMax = 1024,
) -> None:
    """Subscribe to robot variables on OPC UA servers; endpoints split across shards.

    Robots are found in the OPC 40010 Robotics model (any compliant controller) or our
    simulator's layout; a node map adds what the standard does not define, or everything on a
    server that follows no model.
    """
    settings = settings_of(ctx)
    try:
        nodes = load_nodemap(nodemap) if nodemap is not None else None
    except CollectorConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--nodemap") from None

    def given(url: str) -> OpcUaConfig:
        return OpcUaConfig(url=url, username=username, password=password,
                           security_mode=security_mode, certificate=certificate,
                           private_key=private_key, server_certificate=server_certificate,
                           application_uri=application_uri,
                           publishing_interval_ms=publishing_interval_ms,
                           sampling_interval_ms=sampling_interval_ms, queue_size=queue_size)

    configs = [given(u) for u in (endpoint or [])] or [
        OpcUaConfig(url=e.url, username=e.username, password=e.password,
                    publishing_interval_ms=e.publishing_interval_ms)
        for e in settings.opcua_endpoints
    ]
    if nodes is not None:
        listed = {c.url for c in configs}
        configs += [given(e.url) for e in nodes.endpoints if e.url not in listed]
        configs = [replace(c, nodemap=nodes.endpoint(c.url)) for c in configs]
    if not 0 <= shard < shards:
        raise typer.BadParameter(f"shard must be in [0, {shards})", param_hint="--shard")
    mine = [c for c in configs if shard_of(c.url, shards) == shard]
    if not mine:
        raise typer.BadParameter("no OPC UA endpoint for this shard", param_hint="--endpoint")
    wcfg = _writer(settings, spool_dir, f"opcua-{shard}-of-{shards}", spool_max_mb)
    with database(settings) as db_url:
        metrics = _metrics(metrics_port)
        run_service(lambda stop: run_collectors(conninfo=db_url, stop=stop, opcua=mine,
                                                metrics=metrics, writer_config=wcfg))




@app.command("opcua-browse")
def opcua_browse(
    url: Annotated[str, typer.Argument(help="opc.tcp:// URL of the server to browse.")],
    out: Annotated[Path | None, typer.Option(
        help="Write the draft node map here (default: print it).")] = None,
    username: Annotated[str | None, typer.Option(help="OPC UA user.")] = None,
    password: Annotated[str | None, typer.Option(envvar="ROBOWATCH_OPCUA_PASSWORD",
                                                 help="OPC UA password.")] = None,
    max_depth: Annotated[int, typer.Option(min=1, help="How deep to browse.")] = 8,
) -> None:
    """Draft a node map from a server's address space, for a person to edit.

    Lists every numeric variable the server's model does not already describe, grouped by
    robot (an OPC 40010 motion device, else each object under Objects), as NodeIds with their
    namespace URI, with the data type as a comment. Edit robot codes and signal names, then
    run `robowatch collect opcua --nodemap FILE`.
    """
    try:
        draft, notes = asyncio.run(draft_from_server(url, username=username, password=password,
                                                     max_depth=max_depth))
        text = render_nodemap(draft, notes)
    except (OSError, TimeoutError) as exc:
        raise typer.BadParameter(f"cannot browse {url}: {exc}", param_hint="URL") from None
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, "utf-8")
        n = text.count("[[endpoints.robots.signals]]")
        typer.echo(f"{out}: {n} variables drafted; edit it, then "
                   f"`robowatch collect opcua --nodemap {out}`", err=True)
