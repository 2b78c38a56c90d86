"""``robowatch bench``: benchmark commands; each prints a JSON object as its last line."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks: speeds, sizes and detector accuracy, measured here.",
                  no_args_is_help=True)

# Each benchmark lives in its own module and registers itself on ``app`` here.

from robowatch.cli import bench_detection  # noqa: E402,F401  (registers skab, cmapss)
from robowatch.cli.bench_simulate import bench_opcua_server, bench_simulate  # noqa: E402

app.command("simulate")(bench_simulate)
app.command("opcua-server")(bench_opcua_server)

from robowatch.cli.bench_ingest import bench_ingest  # noqa: E402

app.command("ingest")(bench_ingest)

from robowatch.cli.bench_fleet import bench_fleet  # noqa: E402

app.command("fleet")(bench_fleet)

from robowatch.cli.bench_latency import bench_latency  # noqa: E402

app.command("latency")(bench_latency)
