"""Offline causal scoring of any CSV: a timestamp column and numeric columns in, one
``timestamp,score,is_anomaly`` row per input row out. Label columns are never read."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from detection.errors import InvalidInputError
from detection.library.monitor import MonitorPolicy, feature_columns, run_monitor

__all__ = ["CsvScoreSummary", "score_csv"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvScoreSummary:
    rows: int
    features: list[str]
    anomalies: int
    limit: float


def _sniff_sep(path: Path) -> str:
    with path.open(newline="") as fh:
        head = fh.readline()
    if not head.strip():
        raise InvalidInputError(f"{path}: empty file")
    return ";" if head.count(";") > head.count(",") else ","


def score_csv(path: Path, out: Path, policy: MonitorPolicy,
              *, timestamp_column: str | None = None) -> CsvScoreSummary:
    path = Path(path)
    try:
        df = pd.read_csv(path, sep=_sniff_sep(path))
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot parse as CSV: {exc}") from exc
    ts_col = timestamp_column or df.columns[0]
    if ts_col not in df.columns:
        raise InvalidInputError(f"{path}: no timestamp column {ts_col!r}")
    candidates = [c for c in df.columns if c != ts_col]
    cols = feature_columns(candidates, policy)
    numeric = df[cols].apply(pd.to_numeric, errors="coerce")
    bad = int((numeric.isna() & df[cols].notna()).sum().sum())
    if bad:
        log.warning("%s: %d non-numeric values treated as missing", path, bad)
    cols = [c for c in cols if numeric[c].notna().any()]
    if not cols:
        raise InvalidInputError(f"{path}: no numeric feature column among {candidates}")
    result = run_monitor(numeric[cols].to_numpy(dtype=np.float64), policy)
    with Path(out).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "score", "is_anomaly"])
        for ts, s, a in zip(df[ts_col].astype(str), result.score, result.is_anomaly,
                            strict=True):
            w.writerow([ts, "" if not np.isfinite(s) else f"{s:.6g}", int(a)])
    return CsvScoreSummary(rows=len(df), features=cols, anomalies=int(result.is_anomaly.sum()),
                           limit=result.limit)
