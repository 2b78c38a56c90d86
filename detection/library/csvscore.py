"""Offline causal scoring of any CSV: a timestamp column and numeric columns in, one
``timestamp,score,is_anomaly`` row per input row out. Label columns are never read.

The model is the streaming seasonal forecaster of :mod:`detection.library.stream`
(``policies/stream.toml``): timestamps give the daily and weekly rhythms and the sampling
interval. ``score`` is the calibrated likelihood of :mod:`detection.library.alarm` (in
[0, 1], the same rarity on every series; empty for the warm-up rows, which are not scored)
and ``is_anomaly`` is 1 on the first row of each incident only.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from detection.errors import InvalidInputError
from detection.library.stream import StreamPolicy, elapsed_seconds, run_stream

__all__ = ["CsvScoreSummary", "score_csv", "with_overrides"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvScoreSummary:
    rows: int
    features: list[str]
    train_rows: int  # warm-up rows: learnt, not scored
    timestamps_used: bool  # False: rows taken as evenly spaced, no rhythms
    incidents: int
    rows_in_alarm: int
    relearned: int
    threshold: float


def with_overrides(policy: StreamPolicy, *, train_rows: int | None = None,
                   threshold: float | None = None) -> StreamPolicy:
    """``policy`` with command-line overrides, validated like the file itself."""
    data = policy.model_dump()
    if train_rows is not None:
        data["warmup_rows"] = train_rows
    if threshold is not None:
        data["alarm"]["threshold"] = threshold
    try:
        return StreamPolicy.model_validate(data)
    except ValidationError as exc:
        # One line per the CLI's error convention: "where: why" for each problem.
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(f"invalid option: {why}") from exc


def _read(path: Path) -> pd.DataFrame:
    with path.open(newline="") as fh:
        head = fh.readline()
        more = fh.readline()
    if not head.strip():
        raise InvalidInputError(f"{path} is empty")
    if not more.strip():
        raise InvalidInputError(f"{path} has a header but no rows")
    sep = ";" if head.count(";") > head.count(",") else ","
    try:
        return pd.read_csv(path, sep=sep)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot parse as CSV: {exc}") from exc


def score_csv(path: Path, out: Path, policy: StreamPolicy,
              *, timestamp_column: str | None = None) -> CsvScoreSummary:
    path = Path(path)
    df = _read(path)
    if df.empty:
        raise InvalidInputError(f"{path} has a header but no rows")
    ts_col = timestamp_column or df.columns[0]
    if ts_col not in df.columns:
        raise InvalidInputError(f"{path}: no timestamp column {ts_col!r}")
    candidates = [c for c in df.columns if c != ts_col]
    numeric = df[candidates].apply(pd.to_numeric, errors="coerce")
    cols = [c for c in candidates if c.lower() not in policy.label_columns
            and numeric[c].notna().any()]
    if not cols:
        raise InvalidInputError(f"{path}: no numeric feature column among {candidates}")
    bad = int((numeric[cols].isna() & df[cols].notna()).sum().sum())
    if bad:
        log.warning("%s: %d non-numeric values treated as missing", path, bad)
    if len(df) <= policy.warmup_rows:
        raise InvalidInputError(
            f"{path} has {len(df)} rows; need more than the {policy.warmup_rows} warm-up rows "
            "(see --train-rows)")
    seconds = elapsed_seconds(df[ts_col], len(df))
    if seconds is None:
        log.warning("%s: column %r is not increasing date-times; rows taken as evenly "
                    "spaced, daily and weekly rhythms not learnt", path, ts_col)
    result = run_stream(numeric[cols].to_numpy(dtype=np.float64), seconds, policy)
    alarm = result.alarm
    with Path(out).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "score", "is_anomaly"])
        for ts, s, a in zip(df[ts_col].astype(str), alarm.likelihood, alarm.onset,
                            strict=True):
            w.writerow([ts, "" if not np.isfinite(s) else f"{s:.6f}", int(a)])
    return CsvScoreSummary(rows=len(df), features=cols, train_rows=policy.warmup_rows,
                           timestamps_used=seconds is not None,
                           incidents=alarm.incidents, rows_in_alarm=int(alarm.in_alarm.sum()),
                           relearned=alarm.relearned, threshold=policy.alarm.threshold)
