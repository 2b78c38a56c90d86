"""Detector accuracy on public data sets: SKAB (outliers, changepoints) and C-MAPSS (RUL).

Each ``run_*`` returns the lines of its comparison table and the JSON report; the data sets
are read from ``../shared/data`` by default (``FileNotFoundError`` when absent).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Report", "run_skab", "run_cmapss"]


@dataclass(frozen=True, slots=True)
class Report:
    table: list[str]
    json: dict[str, Any]


def _nab_only(j: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in j.items() if k.startswith("nab_")}


def _incident_counts(files: list[Any], onsets: dict[str, Any]) -> dict[str, int]:
    """Labelled incidents (runs of ``anomaly``) after the training rows that contain an
    onset of ``detect csv``, and the onsets that fall outside every incident."""
    import numpy as np

    found = total = outside = 0
    for f in files:
        on = onsets[f.name]
        outside += int((on & ~f.anomaly).sum())
        edges = np.diff(np.concatenate([[0], f.anomaly.astype(np.int8), [0]]))
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1),
                              strict=True):
            if start >= 400:
                total += 1
                found += int(on[start:end].any())
    return {"incidents": total, "incidents_found": found, "onsets_outside_incidents": outside}


def _csv_pipeline(files: list[Any]) -> tuple[Any, dict[str, int]]:
    """``detect csv``'s decision on SKAB: rows inside an incident (the streaming forecaster's
    hysteresis alarm on the calibrated likelihood, ``policies/stream.toml``) as the outlier
    flags, and its onsets against the incidents."""
    from detection.benchmarks import skab as sk
    from detection.library.stream import load_stream_policy, run_stream

    pol = load_stream_policy()
    onsets = {}

    def predict(f: Any) -> Any:
        cols = [i for i, c in enumerate(f.columns) if c.lower() not in pol.label_columns]
        a = run_stream(f.X[:, cols], f.seconds, pol).alarm
        onsets[f.name] = a.onset
        return a.in_alarm

    result = sk.evaluate(files, predict)
    return result, _incident_counts(files, onsets)


def run_skab(data: Path, *, policy: Path | None, changepoint_policy: Path | None) -> Report:
    """Ours: outliers from the PCA T^2+Q monitor, changepoints from the mean-shift detector
    (two detectors, as the published tables score each algorithm on both problems); beside
    it, ``detect csv``'s streaming forecaster and its decision (calibrated likelihood,
    hysteresis)."""
    from detection.benchmarks import skab as sk
    from detection.library.monitor import load_changepoint_policy, load_policy, policy_as_dict

    t0 = time.perf_counter()
    files = sk.load_skab(data)
    pol = load_policy(policy)
    cp_pol = load_changepoint_policy(changepoint_policy)
    outliers = sk.monitor_predictor(pol)
    ours = sk.evaluate(files, outliers, changepoints=sk.changepoint_predictor(cp_pol))
    alarm_cps = sk.evaluate(files, outliers)
    csv_rows, csv_incidents = _csv_pipeline(files)
    iforest = sk.evaluate(files, sk.iforest_predictor)
    table = [f"{'algorithm':34} {'F1':>5} {'FAR%':>6} {'MAR%':>6}   NAB std/lowfp/lowfn"]
    rows = (("robowatch (ours)", ours),
            ("  PCA alarm as changepoints", alarm_cps),
            ("detect csv (likelihood+hysteresis)", csv_rows),
            ("Isolation forest (rerun)", iforest))
    for name, r in rows:
        j = r.as_json()
        table.append(f"{name:34} {j['f1']:5.2f} {100 * j['far']:6.2f} {100 * j['mar']:6.2f}   "
                     f"{j['nab_standard']:.2f} / {j['nab_lowfp']:.2f} / {j['nab_lowfn']:.2f}")
    for name, (f1, far, mar) in sk.PUBLISHED_OUTLIER.items():
        nab = sk.PUBLISHED_NAB.get(name)
        nab_s = " / ".join(f"{v:.2f}" for v in nab) if nab else "-"
        table.append(f"{name + ' (published)':34} {f1:5.2f} {far:6.2f} {mar:6.2f}   {nab_s}")
    table.append("detect csv incidents: {incidents_found} of {incidents} found, "
                 "{onsets_outside_incidents} onsets outside them".format(**csv_incidents))

    def plain(p: Any) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in policy_as_dict(p).items()}

    out = ours.as_json() | {"nab_from_outlier_alarm": _nab_only(alarm_cps.as_json()),
                            "iforest_rerun": iforest.as_json(),
                            "detect_csv": csv_rows.as_json() | csv_incidents,
                            "policy": plain(pol), "changepoint_policy": plain(cp_pol),
                            "seconds": round(time.perf_counter() - t0, 1)}
    return Report(table, out)


def run_cmapss(data: Path, *, out: Path) -> Report:
    """C-MAPSS FD001: grouped cross-validation on the training engines, cut where the test
    engines are cut (and, for comparison, by the old uniform cuts), then predictions for the
    test engines written to ``out`` as ``unit,rul``."""
    from detection.benchmarks import cmapss as cm

    t0 = time.perf_counter()
    train = cm.load_cmapss(data / "train_FD001.txt")
    test = cm.load_cmapss(data / "test_FD001.txt")
    lengths = test.groupby("unit")["cycle"].max().to_numpy()
    cv = cm.cross_validate(train, test_lengths=lengths)
    uniform = cm.cross_validate(train, test_lengths=lengths, uniform_cuts=True)
    truncation = cm.truncation_report(train, test)
    pred = cm.fit_predict_test(train, test)
    pred.to_csv(out, index=False)
    table = [f"{'model':36} {'RMSE':>7} {'uncapped':>8} {'NASA score':>10}",
             f"{'robowatch HGB (CV, test-matched cuts)':36} {cv.cv_rmse:7.2f} "
             f"{cv.cv_rmse_uncapped:8.2f} {cv.cv_nasa_score:10.1f}",
             f"{'robowatch HGB (CV, uniform cuts)':36} {uniform.cv_rmse:7.2f} "
             f"{uniform.cv_rmse_uncapped:8.2f} {uniform.cv_nasa_score:10.1f}"]
    for name, (r, s) in cm.PUBLISHED.items():
        table.append(f"{name + ' (published, test)':36} {r:7.2f} {'':8} {s:10.1f}")
    q = truncation["quantiles"]
    table.append(f"observed cycles, quantiles {q}: test {truncation['test_observed']}, "
                 f"CV test-matched {truncation['cv_test_matched_observed']}, "
                 f"CV uniform {truncation['cv_uniform_observed']}")
    table.append(f"remaining life of the CV cuts: test-matched {truncation['cv_test_matched_rul']}"
                 f", uniform {truncation['cv_uniform_rul']} (test: not provided)")
    table.append(f"wrote {len(pred)} predictions to {out}")
    return Report(table, cv.as_json() | {"cv_uniform": uniform.as_json(),
                                         "truncation": truncation, "out": str(out),
                                         "test_units": len(pred),
                                         "seconds": round(time.perf_counter() - t0, 1)})
