"""``robowatch detect``: anomaly detection commands."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from detection.errors import DetectionError
from detection.library.csvscore import score_csv, with_overrides
from detection.library.stream import load_stream_policy
from robowatch.cli.context import writable_file

app = typer.Typer(help="Anomaly detection: offline scoring (csv) and the streaming engine.",
                  no_args_is_help=True)
log = logging.getLogger(__name__)


@app.command("csv")
def csv_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Input CSV (, or ;).")],
    out: Annotated[Path, typer.Option("--out", help="Output CSV timestamp,score,is_anomaly.",
                                      callback=writable_file)],
    policy: Annotated[Path | None, typer.Option(help="Policy TOML (default: packaged).")] = None,
    timestamp_column: Annotated[str | None, typer.Option(help="Default: first column.")] = None,
    train_rows: Annotated[int | None, typer.Option(
        min=20, help="Warm-up: rows at the start that train the model and are not scored "
                     "(default: the policy's, 300). Learning then goes on, without the "
                     "rows inside an alarm.")] = None,
    threshold: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="Likelihood above which an incident opens (default: the "
                               "policy's, 0.99999, tuned for few false alarms).")] = None,
) -> None:
    """Score FILE causally (row t uses rows <= t), one row at a time.

    The first column (or --timestamp-column) gives the time: daily and weekly rhythms and
    the sampling interval are learnt from it. score is a likelihood in [0, 1], calibrated
    on the series' own history, so one threshold serves every file; is_anomaly is 1 on the
    first row of each incident only. The summary counts incidents and the rows they span.
    """
    pol = with_overrides(load_stream_policy(policy), train_rows=train_rows, threshold=threshold)
    summary = score_csv(file, out, pol, timestamp_column=timestamp_column)
    typer.echo(json.dumps({"rows": summary.rows, "features": summary.features,
                           "train_rows": summary.train_rows,
                           "timestamps_used": summary.timestamps_used,
                           "incidents": summary.incidents,
                           "rows_in_alarm": summary.rows_in_alarm,
                           "relearned": summary.relearned,
                           "threshold": summary.threshold, "out": str(out)}))


@app.command("run")
def run_command(
    ctx: typer.Context,
    policy: Annotated[Path | None, typer.Option(
        help="Engine policy TOML (default: packaged).")] = None,
    worker: Annotated[int, typer.Option(min=0, help="This worker's number.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes; robots split by id.")] = 1,
) -> None:
    """Run the streaming engine: score new telemetry continuously, write anomalies."""
    from detection.engine.config import load_engine_policy
    from detection.service import Shard, run_detection
    from robowatch.cli.context import settings_of
    from robowatch.database import database
    from robowatch.runner import run_service

    if worker >= workers:
        raise typer.BadParameter(f"worker must be < workers ({workers})", param_hint="--worker")
    engine_policy = load_engine_policy(policy)
    with database(settings_of(ctx)) as url:
        run_service(lambda stop: run_detection(conninfo=url, policy=engine_policy, stop=stop,
                                               shard=Shard(worker=worker, workers=workers)))


@app.command("retrain")
def retrain_command(
    ctx: typer.Context,
    robot: Annotated[list[str] | None, typer.Option(
        "--robot", help="Robot code (repeatable); default: every robot.")] = None,
    last: Annotated[float, typer.Option(
        min=1, help="Learn from the last N s of stored telemetry (a healthy period).")] = 600.0,
    until: Annotated[str | None, typer.Option(
        help="End of the period, ISO 8601 (default: now).")] = None,
    policy: Annotated[Path | None, typer.Option(
        help="Engine policy TOML (default: packaged).")] = None,
) -> None:
    """Learn new baseline versions from stored telemetry; running engines adopt them within
    their catalogue refresh (30 s). Run it from cron for a retraining schedule."""
    from datetime import UTC, datetime, timedelta

    from detection.engine.config import load_engine_policy
    from detection.service import retrain_robot
    from robowatch.cli.context import settings_of
    from robowatch.database import database
    from storage.connect import connect
    from storage.fleet import robot_lines

    engine_policy = load_engine_policy(policy)
    try:
        end = datetime.fromisoformat(until) if until else datetime.now(UTC)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--until") from exc
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    failed = 0
    with database(settings_of(ctx)) as url, connect(url, autocommit=True) as conn:
        ids = {code: rid for rid, (code, _) in robot_lines(conn=conn).items()}
        unknown = sorted(set(robot or ()) - set(ids))
        if unknown:
            raise typer.BadParameter(f"unknown robots {unknown}", param_hint="--robot")
        for code in robot or sorted(ids):
            try:
                v = retrain_robot(conn=conn, policy=engine_policy, robot_id=ids[code],
                                  after=end - timedelta(seconds=last), until=end)
            except DetectionError as exc:
                failed += 1
                typer.echo(json.dumps({"robot": code, "error": str(exc)}))
                continue
            typer.echo(json.dumps({"robot": code, "version": v}))
    if failed:
        raise typer.Exit(1)
