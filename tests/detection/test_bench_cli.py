"""``robowatch bench skab|cmapss`` through the CLI: JSON keys on a small SKAB-format data set,
the documented skip when the data is absent, and SKAB's changepoint convention."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from detection.library.metrics import alarm_changepoints
from robowatch.cli.bench import app

COLUMNS = ["Accelerometer1RMS", "Accelerometer2RMS", "Current", "Pressure", "Temperature",
           "Thermocouple", "Voltage", "Volume Flow RateRMS"]


def _skab_file(path: Path, seed: int, fault: tuple[int, int]) -> None:
    """A SKAB-format run: 1 s rows, a step in current and pressure during ``fault``."""
    rng = np.random.default_rng(seed)
    n = 700
    X = rng.normal([0.03, 0.04, 1.0, 0.3, 70.0, 25.0, 220.0, 32.0],
                   [0.001, 0.001, 0.05, 0.05, 0.1, 0.05, 2.0, 0.3], size=(n, len(COLUMNS)))
    lo, hi = fault
    X[lo:hi, 2] += 1.0
    X[lo:hi, 3] -= 0.5
    df = pd.DataFrame(X, columns=COLUMNS)
    df.insert(0, "datetime", pd.date_range("2020-03-09 12:00:00", periods=n, freq="s")
              .strftime("%Y-%m-%d %H:%M:%S"))
    df["anomaly"] = 0.0
    df.loc[lo:hi - 1, "anomaly"] = 1.0
    df["changepoint"] = 0.0
    df.loc[[lo, hi], "changepoint"] = 1.0
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, sep=";", index=False)


@pytest.fixture
def mini_skab(tmp_path: Path) -> Path:
    _skab_file(tmp_path / "valve1" / "0.csv", 0, (500, 580))
    _skab_file(tmp_path / "other" / "1.csv", 1, (450, 600))
    return tmp_path


def test_bench_skab_json_on_a_small_data_set(mini_skab):
    result = CliRunner().invoke(app, ["skab", "--data", str(mini_skab), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert {"f1", "far", "mar", "nab_standard", "nab_lowfp", "nab_lowfn", "tp", "fp", "fn",
            "tn", "files", "nab_from_outlier_alarm", "iforest_rerun", "policy",
            "changepoint_policy", "seconds"} <= out.keys()
    assert out["files"] == 2 and out["tp"] + out["fn"] == 80 + 150
    assert set(out["nab_from_outlier_alarm"]) == {"nab_standard", "nab_lowfp", "nab_lowfn"}
    assert out["changepoint_policy"]["long_window"] == 60
    # clean steps of 20 noise sigmas: both detectors find them
    assert out["f1"] > 0.9 and out["nab_standard"] > 50
    assert "Isolation forest (published)" in result.output
    # detect csv's decision on the same files: both faults opened once, nothing else
    csv = out["detect_csv"]
    assert (csv["incidents"], csv["incidents_found"], csv["onsets_outside_incidents"]) == (2, 2, 0)


@pytest.mark.parametrize("command", ["skab", "cmapss"])
def test_benches_skip_with_exit_3_when_data_is_absent(tmp_path, command):
    result = CliRunner().invoke(app, [command, "--data", str(tmp_path / "nowhere"), "--json",
                                      *(["--out", str(tmp_path / "r.csv")]
                                        if command == "cmapss" else [])])
    assert result.exit_code == 3
    assert result.output.startswith("skipped: ")
    assert "data not found" in result.output


def test_alarm_changepoints_follow_skab_rolling_max_rule():
    rng = np.random.default_rng(0)
    for _ in range(50):
        pred = (rng.random(200) < 0.05).astype(float)
        held = pd.Series(pred).rolling(30).max().fillna(0)
        expected = held.diff().abs().to_numpy().copy()
        expected[0] = pred[0]
        np.testing.assert_array_equal(alarm_changepoints(pred, hold=30), expected == 1)
