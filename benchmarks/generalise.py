"""``robowatch bench generalise``: ``detect csv``'s detector on series it was never tuned on.

The suite (:mod:`benchmarks.generalise_series`) is scored by the NAB rules
(:mod:`detection.library.nab`) for two detectors, one configuration each for all series:

- ``before``: the PCA T^2+Q monitor of ``policies/offline.toml`` with the calibrated
  likelihood and hysteresis alarm, which ``detect csv`` used until robowatch issue 14;
- ``after``: the streaming seasonal forecaster of ``policies/stream.toml``
  (:mod:`detection.library.stream`), ``detect csv``'s detector now.

A detection is an alarm's onset (``is_anomaly`` of ``detect csv``). Beside them, SKAB as in
``bench skab`` (its per-row F1 is the outlier monitor's), unless ``skab`` is ``None``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.detection import Report
from benchmarks.generalise_series import Series, suite
from detection.library.nab import NabTotal, score_file

__all__ = ["run_generalise", "detect_before", "detect_after"]

Detector = Callable[[Series], NDArray[np.bool_]]


def _seconds(s: Series) -> NDArray[np.float64]:
    return (s.timestamps.astype("datetime64[ms]").astype(np.int64) / 1e3).astype(np.float64)


def detect_before(policy: Path | None = None) -> Detector:
    """The PCA monitor + calibrated alarm (``detect csv`` before issue 14's detector)."""
    from detection.library.alarm import run_alarm
    from detection.library.monitor import load_policy, run_monitor

    pol = load_policy(policy)

    def detect(s: Series) -> NDArray[np.bool_]:
        m = run_monitor(s.values, pol)
        return run_alarm(m.score, start=pol.train_rows, healthy=m.fitted,
                         policy=pol.alarm).onset

    return detect


def detect_after(policy: Path | None = None) -> Detector:
    """The streaming seasonal forecaster with its calibrated alarm (``detect csv`` now)."""
    from detection.library.stream import load_stream_policy, run_stream

    pol = load_stream_policy(policy)

    def detect(s: Series) -> NDArray[np.bool_]:
        return run_stream(s.values, _seconds(s), pol).alarm.onset

    return detect


def _score(series: list[Series], detect: Detector) -> dict[str, Any]:
    total = NabTotal()
    per: dict[str, Any] = {}
    for s in series:
        onsets = detect(s)
        f = score_file(onsets, list(s.labels))
        total.add(f)
        per[s.name] = {"kind": s.kind, "windows": f.windows, "found": f.detected,
                       "false_positives": f.false_positives,
                       "nab_standard_raw": round(f.raw["standard"], 3)}
    nab = total.normalised()
    return {"nab_standard": round(nab["standard"], 2), "nab_lowfp": round(nab["lowfp"], 2),
            "nab_lowfn": round(nab["lowfn"], 2),
            "windows": sum(f.windows for f in total.files),
            "found": sum(f.detected for f in total.files),
            "false_positives": sum(f.false_positives for f in total.files),
            "silent_series_alarms": sum(v["false_positives"] for v in per.values()
                                        if v["kind"] == "none"),
            "series": per}


def run_generalise(*, seeds: tuple[int, ...], skab: Path | None,
                   policy: Path | None = None) -> Report:
    """The suite for every seed, before and after; SKAB's F1 beside it."""
    t0 = time.perf_counter()
    series = [s for seed in seeds for s in suite(seed)]
    before = _score(series, detect_before())
    after = _score(series, detect_after(policy))
    table = [f"{'detector':12} {'NAB std':>8} {'lowFP':>7} {'lowFN':>7} {'found':>9} "
             f"{'FP':>4} {'FP on silent series':>20}"]
    for name, r in (("before", before), ("after", after)):
        table.append(f"{name:12} {r['nab_standard']:8.2f} {r['nab_lowfp']:7.2f} "
                     f"{r['nab_lowfn']:7.2f} {r['found']:>4}/{r['windows']:<4} "
                     f"{r['false_positives']:4} {r['silent_series_alarms']:20}")
    table.append("per series (after): found/windows, false positives")
    for name, v in after["series"].items():
        table.append(f"  {name:20} {v['kind']:18} {v['found']}/{v['windows']}  "
                     f"{v['false_positives']}")
    out: dict[str, Any] = {"suite_series": len(series), "seeds": list(seeds),
                           "before": {k: v for k, v in before.items() if k != "series"},
                           "after": after}
    if skab is not None:
        from benchmarks.detection import run_skab

        sk = run_skab(skab, policy=None, changepoint_policy=None).json
        out["skab"] = {"f1": sk["f1"], "far": sk["far"], "mar": sk["mar"],
                       "nab_standard": sk["nab_standard"], "detect_csv": sk["detect_csv"]}
        table.append(f"SKAB (bench skab): F1 {sk['f1']:.4f}, FAR {sk['far']:.4f}; detect csv "
                     f"decision F1 {sk['detect_csv']['f1']:.4f}")
    out["seconds"] = round(time.perf_counter() - t0, 1)
    # The last line's headline keys: the suite's NAB (after) and SKAB's F1.
    out["nab_standard"] = after["nab_standard"]
    out["nab_standard_before"] = before["nab_standard"]
    if "skab" in out:
        out["f1"] = out["skab"]["f1"]
    return Report(table, out)
